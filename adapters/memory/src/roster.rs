//! The roster's data in memory — accounts, characters, teams, progressions —
//! and what the four repositories (`accounts.rs`, `characters.rs`,
//! `teams.rs`, `progressions.rs`) share: per-owner indexes, the views, the
//! writes that record their inverse, and paging.
//!
//! Every read goes through an owner's index, so a list touches only that
//! owner's rows and another user's id is never found, not merely filtered.

use domain::roster::name_key;
use domain::{
    AccountId, Character, CharacterId, CharacterView, GameAccount, PageRequest, Paged, Progression,
    Team, TeamId, TeamView, UserId,
};

use crate::tables::{State, StoredAccount, UndoLog};

/// Whether `name` contains `search`, which is already lower-cased; a plain
/// substring, so `%`, `_` and `\` mean only themselves.
pub(crate) fn name_matches(name: &str, search: Option<&str>) -> bool {
    search.is_none_or(|s| name.to_lowercase().contains(s))
}

/// One page of `matches` (already in order) turned into views, with the
/// count of all of them.
pub(crate) fn page_of<T, V>(
    matches: Vec<T>,
    page: PageRequest,
    view: impl FnMut(T) -> V,
) -> Paged<V> {
    let total = matches.len() as u64;
    let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let items = matches
        .into_iter()
        .skip(skip)
        .take(page.per_page() as usize)
        .map(view)
        .collect();
    Paged { items, total }
}

impl State {
    /// Every account of `owner`, deleted ones included.
    pub(crate) fn accounts_of(&self, owner: UserId) -> impl Iterator<Item = &StoredAccount> {
        self.roster
            .accounts_by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.roster.accounts.get(id))
    }

    pub(crate) fn live_account(&self, owner: UserId, id: AccountId) -> Option<&GameAccount> {
        self.roster
            .accounts
            .get(&id)
            .filter(|a| a.is_live_of(owner))
            .map(|a| &a.account)
    }

    /// The live characters of `owner`.
    pub(crate) fn characters_of(&self, owner: UserId) -> impl Iterator<Item = &Character> {
        self.roster
            .characters_by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.roster.characters.get(id))
            .filter(|c| c.deleted_at.is_none())
    }

    pub(crate) fn live_character(&self, owner: UserId, id: CharacterId) -> Option<&Character> {
        self.roster
            .characters
            .get(&id)
            .filter(|c| c.owner == owner && c.deleted_at.is_none())
    }

    /// The teams of `owner`.
    pub(crate) fn teams_of(&self, owner: UserId) -> impl Iterator<Item = &Team> {
        self.roster
            .teams_by_owner
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.roster.teams.get(id))
    }

    /// Whether `name` is taken, ignoring case, by a live account of `owner`
    /// other than `except`.
    pub(crate) fn account_name_taken(&self, owner: UserId, name: &str, except: AccountId) -> bool {
        let key = name_key(name);
        self.accounts_of(owner).any(|a| {
            a.deleted_at.is_none()
                && a.account.id != except
                && name_key(a.account.name.as_str()) == key
        })
    }

    /// Whether `character`'s name is taken, ignoring case, by another live
    /// character of its owner on its server.
    pub(crate) fn character_name_taken(&self, character: &Character) -> bool {
        let key = name_key(character.name.as_str());
        self.characters_of(character.owner).any(|c| {
            c.id != character.id
                && c.server_id == character.server_id
                && name_key(c.name.as_str()) == key
        })
    }

    /// Whether `team`'s name is taken, ignoring case, by another team of
    /// its owner.
    pub(crate) fn team_name_taken(&self, team: &Team) -> bool {
        let key = name_key(team.name.as_str());
        self.teams_of(team.owner)
            .any(|t| t.id != team.id && name_key(t.name.as_str()) == key)
    }

    /// `character` with its account's name (kept even once the account is
    /// deleted) and its class's and server's from the catalog.
    pub(crate) fn character_view(&self, character: &Character) -> CharacterView {
        CharacterView {
            character: character.clone(),
            account_name: self
                .roster
                .accounts
                .get(&character.account_id)
                .map(|a| a.account.name.as_str().to_owned())
                .unwrap_or_default(),
            class_name: self.catalog.class_name(character.class_id).to_owned(),
            server_name: self.catalog.server_name(character.server_id).to_owned(),
        }
    }

    /// `team` with only its live members, in its order.
    pub(crate) fn team_view(&self, team: &Team) -> TeamView {
        let members: Vec<CharacterView> = team
            .member_ids
            .iter()
            .filter_map(|id| self.live_character(team.owner, *id))
            .map(|c| self.character_view(c))
            .collect();
        TeamView {
            team: Team {
                member_ids: domain::TeamMembers::from_stored(
                    members.iter().map(|m| m.character.id).collect(),
                ),
                ..team.clone()
            },
            members,
        }
    }

    /// Stores `stored` under its id, new or replacing; the owner of an
    /// account never changes.
    pub(crate) fn put_account(&mut self, stored: StoredAccount, undo: &mut UndoLog) {
        let (id, owner) = (stored.account.id, stored.account.owner);
        let before = self.roster.accounts.insert(id, stored);
        if before.is_none() {
            self.roster
                .accounts_by_owner
                .entry(owner)
                .or_default()
                .insert(id);
        }
        undo.push(move |s| match before {
            Some(before) => {
                s.roster.accounts.insert(id, before);
            }
            None => {
                s.roster.accounts.remove(&id);
                if let Some(ids) = s.roster.accounts_by_owner.get_mut(&owner) {
                    ids.remove(&id);
                }
            }
        });
    }

    /// Stores `character` under its id, new or replacing; the owner of a
    /// character never changes.
    pub(crate) fn put_character(&mut self, character: Character, undo: &mut UndoLog) {
        let (id, owner) = (character.id, character.owner);
        let before = self.roster.characters.insert(id, character);
        if before.is_none() {
            self.roster
                .characters_by_owner
                .entry(owner)
                .or_default()
                .insert(id);
        }
        undo.push(move |s| match before {
            Some(before) => {
                s.roster.characters.insert(id, before);
            }
            None => {
                s.roster.characters.remove(&id);
                if let Some(ids) = s.roster.characters_by_owner.get_mut(&owner) {
                    ids.remove(&id);
                }
            }
        });
    }

    /// Stores `team` under its id, new or replacing; the owner of a team
    /// never changes.
    pub(crate) fn put_team(&mut self, team: Team, undo: &mut UndoLog) {
        let (id, owner) = (team.id, team.owner);
        let before = self.roster.teams.insert(id, team);
        if before.is_none() {
            self.roster
                .teams_by_owner
                .entry(owner)
                .or_default()
                .insert(id);
        }
        undo.push(move |s| match before {
            Some(before) => {
                s.roster.teams.insert(id, before);
            }
            None => {
                s.roster.teams.remove(&id);
                if let Some(ids) = s.roster.teams_by_owner.get_mut(&owner) {
                    ids.remove(&id);
                }
            }
        });
    }

    pub(crate) fn remove_team(&mut self, id: TeamId, undo: &mut UndoLog) -> Option<()> {
        let team = self.roster.teams.remove(&id)?;
        let owner = team.owner;
        if let Some(ids) = self.roster.teams_by_owner.get_mut(&owner) {
            ids.remove(&id);
        }
        undo.push(move |s| {
            s.roster.teams.insert(id, team);
            s.roster.teams_by_owner.entry(owner).or_default().insert(id);
        });
        Some(())
    }

    /// Stores `progression` for its character and item, new or replacing.
    pub(crate) fn put_progression(&mut self, progression: Progression, undo: &mut UndoLog) {
        let (character, item) = (progression.character_id, progression.item_id);
        let before = self
            .roster
            .progressions
            .entry(character)
            .or_default()
            .insert(item, progression);
        undo.push(move |s| {
            let items = s.roster.progressions.entry(character).or_default();
            match before {
                Some(before) => {
                    items.insert(item, before);
                }
                None => {
                    items.remove(&item);
                }
            }
        });
    }
}
