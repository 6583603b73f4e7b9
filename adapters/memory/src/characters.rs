//! `CharacterRepository` in memory.

use std::cmp::Ordering;
use std::collections::HashSet;

use async_trait::async_trait;
use domain::ports::CharacterRepository;
use domain::roster::name_key;
use domain::{
    AccountId, Character, CharacterChanges, CharacterEdit, CharacterFilter, CharacterId,
    CharacterSort, CharacterView, PageRequest, Paged, RepoError, UniqueRule, UserId,
};
use time::OffsetDateTime;

use crate::roster::{name_matches, page_of};
use crate::tables::{State, UndoLog};
use crate::transaction::{Access, Repos};

const DUPLICATE_NAME: RepoError = RepoError::Duplicate(UniqueRule::CharacterName);

/// Whether `character` meets every criterion of `filter`; `search` is the
/// filter's, lower-cased once.
fn matches(character: &Character, filter: &CharacterFilter, search: Option<&str>) -> bool {
    (filter.class_ids.is_empty() || filter.class_ids.contains(&character.class_id))
        && (filter.server_ids.is_empty() || filter.server_ids.contains(&character.server_id))
        && (filter.account_ids.is_empty() || filter.account_ids.contains(&character.account_id))
        && filter.level_min.is_none_or(|min| character.level >= min)
        && filter.level_max.is_none_or(|max| character.level <= max)
        && name_matches(character.name.as_str(), search)
}

/// `sort` over characters paired with their name keys: total, since every
/// order ends on the id.
fn compare(
    sort: CharacterSort,
    (ka, a): &(String, &Character),
    (kb, b): &(String, &Character),
) -> Ordering {
    match sort {
        CharacterSort::NameAsc => ka.cmp(kb).then(a.id.cmp(&b.id)),
        CharacterSort::NameDesc => kb.cmp(ka).then(b.id.cmp(&a.id)),
        CharacterSort::LevelAsc => a.level.cmp(&b.level).then(ka.cmp(kb)).then(a.id.cmp(&b.id)),
        CharacterSort::LevelDesc => b.level.cmp(&a.level).then(ka.cmp(kb)).then(b.id.cmp(&a.id)),
        CharacterSort::CreatedAtAsc => a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)),
        CharacterSort::CreatedAtDesc => b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)),
    }
}

impl State {
    /// Soft-deletes the live characters of `owner` among `targets` (each
    /// once) and returns their ids.
    fn delete_characters(
        &mut self,
        owner: UserId,
        targets: Vec<CharacterId>,
        at: OffsetDateTime,
        undo: &mut UndoLog,
    ) -> Vec<CharacterId> {
        let mut deleted = Vec::new();
        for id in targets {
            let Some(character) = self.live_character(owner, id) else {
                continue;
            };
            let mut character = character.clone();
            character.deleted_at = Some(at);
            character.updated_at = at;
            self.put_character(character, undo);
            deleted.push(id);
        }
        deleted
    }
}

/// `ids` without repeats, in their first order.
fn distinct<T: Copy + Eq + std::hash::Hash>(ids: &[T]) -> Vec<T> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

#[async_trait]
impl<A: Access> CharacterRepository for Repos<A> {
    async fn insert(&self, character: &Character) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                if s.roster.characters.contains_key(&character.id) {
                    return Err(RepoError::Duplicate(UniqueRule::CharacterId));
                }
                if character.deleted_at.is_none() && s.character_name_taken(character) {
                    return Err(DUPLICATE_NAME);
                }
                s.put_character(character.clone(), undo);
                Ok(())
            })
            .await
    }

    async fn find(
        &self,
        owner: UserId,
        id: CharacterId,
    ) -> Result<Option<CharacterView>, RepoError> {
        Ok(self
            .0
            .read(|s| s.live_character(owner, id).map(|c| s.character_view(c)))
            .await)
    }

    async fn find_many(
        &self,
        owner: UserId,
        ids: &[CharacterId],
    ) -> Result<Vec<CharacterView>, RepoError> {
        let ids = distinct(ids);
        Ok(self
            .0
            .read(|s| {
                ids.iter()
                    .filter_map(|id| s.live_character(owner, *id))
                    .map(|c| s.character_view(c))
                    .collect()
            })
            .await)
    }

    async fn list(
        &self,
        owner: UserId,
        filter: &CharacterFilter,
        sort: CharacterSort,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RepoError> {
        let search = filter.search.as_deref().map(str::to_lowercase);
        Ok(self
            .0
            .read(|s| {
                let mut found: Vec<(String, &Character)> = s
                    .characters_of(owner)
                    .filter(|c| matches(c, filter, search.as_deref()))
                    .map(|c| (name_key(c.name.as_str()), c))
                    .collect();
                found.sort_by(|a, b| compare(sort, a, b));
                page_of(found, page, |(_, c)| s.character_view(c))
            })
            .await)
    }

    async fn update(
        &self,
        character: &Character,
        expected_version: i64,
    ) -> Result<bool, RepoError> {
        self.0
            .with_state(|s, undo| {
                let Some(stored) = s.live_character(character.owner, character.id) else {
                    return Ok(false);
                };
                if stored.version != expected_version {
                    return Ok(false);
                }
                if s.character_name_taken(character) {
                    return Err(DUPLICATE_NAME);
                }
                let updated = Character {
                    account_id: character.account_id,
                    name: character.name.clone(),
                    level: character.level,
                    class_id: character.class_id,
                    server_id: character.server_id,
                    version: character.version,
                    updated_at: character.updated_at,
                    ..stored.clone()
                };
                s.put_character(updated, undo);
                Ok(true)
            })
            .await
    }

    async fn edit(
        &self,
        owner: UserId,
        id: CharacterId,
        changes: &CharacterChanges,
        expected: Option<&[i64]>,
        at: OffsetDateTime,
    ) -> Result<CharacterEdit, RepoError> {
        self.0
            .with_state(|s, undo| {
                let Some(stored) = s.live_character(owner, id) else {
                    return Ok(CharacterEdit::NotFound);
                };
                if expected.is_some_and(|versions| !versions.contains(&stored.version)) {
                    return Ok(CharacterEdit::VersionMismatch {
                        current: stored.version,
                    });
                }
                if !changes.change(stored) {
                    return Ok(CharacterEdit::Unchanged(s.character_view(stored)));
                }
                let before = stored.clone();
                let mut after = changes.applied_to(&before);
                after.version = before.version + 1;
                after.updated_at = at;
                if s.character_name_taken(&after) {
                    return Err(DUPLICATE_NAME);
                }
                s.put_character(after.clone(), undo);
                Ok(CharacterEdit::Written {
                    before: Box::new(before),
                    after: Box::new(s.character_view(&after)),
                })
            })
            .await
    }

    async fn delete(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        let ids = distinct(ids);
        Ok(self
            .0
            .with_state(|s, undo| s.delete_characters(owner, ids, at, undo))
            .await)
    }

    async fn delete_by_account(
        &self,
        owner: UserId,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let targets = s
                    .characters_of(owner)
                    .filter(|c| c.account_id == account)
                    .map(|c| c.id)
                    .collect();
                s.delete_characters(owner, targets, at, undo)
            })
            .await)
    }
}
