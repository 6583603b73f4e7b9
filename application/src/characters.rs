//! Characters: who a user plays, on which account, server and class.
//!
//! A character's `version` is its `ETag`: every change moves it on. An
//! update reads and writes the character under its row lock, so concurrent
//! edits take turns: of two made against the same version with `If-Match`
//! exactly one wins and the other gets `PreconditionFailed`; without
//! `If-Match` each applies to the version the one before it left.
//!
//! Commands arrive parsed (names, levels, filters are domain types built by
//! the driving adapter); what is checked here is what needs storage: that
//! the class and server are in the catalog, that the account is the
//! caller's, that the name is free.

use domain::ports::Transaction;
use domain::{
    AccountId, Character, CharacterEdit, CharacterFilter, CharacterId, CharacterSort,
    CharacterView, ClassId, FieldError, Level, PageRequest, Paged, RosterName, ServerId, UserId,
    ValidationErrors,
};

use crate::audit::Resource;
use crate::context::ClientInfo;
use crate::roster::{Changes, Roster, RosterError, duplicate_name};

/// Most ids one list filter or one bulk delete takes.
pub const MAX_IDS: usize = 100;

/// A new character. `class_id` and `server_id` are checked against the
/// catalog here; `account_id` must be the owner's.
#[derive(Debug, Clone)]
pub struct NewCharacter {
    pub name: RosterName,
    pub level: Level,
    pub class_id: ClassId,
    pub server_id: ServerId,
    pub account_id: AccountId,
}

/// An edit: each `Some` field is replaced. The command is the domain's
/// [`CharacterChanges`], which the edit hands to storage as it is.
pub use domain::CharacterChanges as CharacterPatch;

/// What `If-Match` asks of an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match` (or `*`): any version will do.
    #[default]
    None,
    /// The current version must be one of these.
    VersionIn(Vec<i64>),
}

impl Roster {
    pub async fn list_characters(
        &self,
        owner: UserId,
        filter: &CharacterFilter,
        sort: CharacterSort,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RosterError> {
        Ok(self
            .storage
            .characters()
            .list(owner, filter, sort, page)
            .await?)
    }

    pub async fn character(
        &self,
        owner: UserId,
        id: CharacterId,
    ) -> Result<CharacterView, RosterError> {
        self.storage
            .characters()
            .find(owner, id)
            .await?
            .ok_or(RosterError::NotFound("character"))
    }

    pub async fn create_character(
        &self,
        owner: UserId,
        input: NewCharacter,
        client: &ClientInfo,
    ) -> Result<CharacterView, RosterError> {
        let NewCharacter {
            name,
            level,
            class_id,
            server_id,
            ..
        } = input;
        let mut errors = ValidationErrors::default();
        self.check_catalog(Some(class_id), Some(server_id), &mut errors)
            .await?;
        errors.into_result()?;

        let now = self.now();
        let character = Character {
            id: CharacterId::generate(now, self.random.as_ref()),
            owner,
            account_id: input.account_id,
            name,
            level,
            class_id,
            server_id,
            version: 1,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        let tx = self.storage.begin().await?;
        if !tx.accounts().lock(owner, input.account_id).await? {
            return Err(RosterError::NotFound("account"));
        }
        tx.characters()
            .insert(&character)
            .await
            .map_err(|e| duplicate_name(e, "name", "a character on this server"))?;
        let mut changes = Changes::default();
        changes
            .field("name", None::<&str>, character.name.as_str())
            .field("level", None::<i64>, i64::from(level.get()))
            .field("classId", None::<i64>, i64::from(class_id.0))
            .field("serverId", None::<i64>, i64::from(server_id.0))
            .field(
                "accountId",
                None::<&str>,
                character.account_id.to_string().as_str(),
            );
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "character.created",
            Resource::new("character", character.id),
            changes.into_vec(),
        );
        let view = find(tx.as_ref(), owner, character.id).await?;
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(view)
    }

    /// Applies `patch` if the character's version meets `precondition`.
    ///
    /// One unit: the edit locks the character and reads it in the same
    /// statement as the write, so no concurrent edit can slip between the
    /// version checked and the version written; the audit entry goes with
    /// the commit. A name-only edit is two round trips to PostgreSQL (three
    /// with the request's session check).
    pub async fn update_character(
        &self,
        owner: UserId,
        id: CharacterId,
        patch: CharacterPatch,
        precondition: Precondition,
        client: &ClientInfo,
    ) -> Result<CharacterView, RosterError> {
        let mut errors = ValidationErrors::default();
        // A character keeps a class or server that a sync retired, so a
        // patch that sends it back unchanged (a client echoing the whole
        // character) is no error; choosing it anew is.
        let current = if self.any_retired(patch.class_id, patch.server_id).await? {
            self.storage
                .characters()
                .find(owner, id)
                .await?
                .map(|view| view.character)
        } else {
            None
        };
        let kept = |c: &Character| (c.class_id, c.server_id);
        let kept = current.as_ref().map(kept);
        self.check_catalog(
            patch.class_id.filter(|c| kept.is_none_or(|(k, _)| k != *c)),
            patch
                .server_id
                .filter(|s| kept.is_none_or(|(_, k)| k != *s)),
            &mut errors,
        )
        .await?;
        errors.into_result()?;
        let changes = patch;

        let tx = self.storage.begin().await?;
        if let Some(account) = changes.account_id {
            // A move to another account locks that account first, as a
            // create does, so it cannot be deleted under the move.
            let current = find(tx.as_ref(), owner, id).await?;
            if account != current.character.account_id
                && !tx.accounts().lock(owner, account).await?
            {
                return Err(RosterError::NotFound("account"));
            }
        }
        let expected = match &precondition {
            Precondition::None => None,
            Precondition::VersionIn(versions) => Some(versions.as_slice()),
        };
        let edit = tx
            .characters()
            .edit(owner, id, &changes, expected, self.now())
            .await
            .map_err(|e| duplicate_name(e, "name", "a character on this server"))?;
        let (before, after) = match edit {
            CharacterEdit::NotFound => return Err(RosterError::NotFound("character")),
            CharacterEdit::VersionMismatch { current } => {
                return Err(RosterError::PreconditionFailed { current });
            }
            CharacterEdit::Unchanged(view) => return Ok(view),
            CharacterEdit::Written { before, after } => (before, after),
        };
        let character = &after.character;
        // Checked after the write, which holds the character until the
        // unit ends: a team being given this character meanwhile either
        // committed already (and is seen here) or reads the new server.
        if character.server_id != before.server_id {
            check_teams_allow_move(tx.as_ref(), owner, character).await?;
        }
        let mut changes = Changes::default();
        changes
            .field("name", before.name.as_str(), character.name.as_str())
            .field(
                "level",
                i64::from(before.level.get()),
                i64::from(character.level.get()),
            )
            .field(
                "classId",
                i64::from(before.class_id.0),
                i64::from(character.class_id.0),
            )
            .field(
                "serverId",
                i64::from(before.server_id.0),
                i64::from(character.server_id.0),
            )
            .field(
                "accountId",
                before.account_id.to_string().as_str(),
                character.account_id.to_string().as_str(),
            );
        let entry = self.audit_entry(
            character.updated_at,
            client,
            owner,
            "character.updated",
            Resource::new("character", id),
            changes.into_vec(),
        );
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(*after)
    }

    /// Soft-deletes the character: it leaves every list and team.
    pub async fn delete_character(
        &self,
        owner: UserId,
        id: CharacterId,
        client: &ClientInfo,
    ) -> Result<(), RosterError> {
        if self.delete_characters(owner, &[id], client).await? == 0 {
            return Err(RosterError::NotFound("character"));
        }
        Ok(())
    }

    /// Soft-deletes those of `ids` (1–100) that are the caller's live
    /// characters; returns how many. Other ids are ignored, not reported.
    pub async fn bulk_delete_characters(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        client: &ClientInfo,
    ) -> Result<u64, RosterError> {
        if ids.is_empty() || ids.len() > MAX_IDS {
            return Err(FieldError::new("ids", "must hold 1 to 100 ids").into());
        }
        self.delete_characters(owner, ids, client).await
    }

    async fn delete_characters(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        client: &ClientInfo,
    ) -> Result<u64, RosterError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let now = self.now();
        let tx = self.storage.begin().await?;
        let deleted = tx.characters().delete(owner, &ids, now).await?;
        let entries: Vec<_> = deleted
            .iter()
            .map(|id| {
                self.audit_entry(
                    now,
                    client,
                    owner,
                    "character.deleted",
                    Resource::new("character", id),
                    Vec::new(),
                )
            })
            .collect();
        tx.commit_with_audit(&entries).await?;
        self.cache.user_changed(owner).await;
        Ok(deleted.len() as u64)
    }

    /// Whether `class` or `server` is a retired entry of the catalog.
    async fn any_retired(
        &self,
        class: Option<ClassId>,
        server: Option<ServerId>,
    ) -> Result<bool, RosterError> {
        let catalog = self.storage.catalog();
        if let Some(class) = class
            && catalog.find_class(class).await?.is_some_and(|c| c.retired)
        {
            return Ok(true);
        }
        if let Some(server) = server
            && catalog
                .find_server(server)
                .await?
                .is_some_and(|s| s.retired)
        {
            return Ok(true);
        }
        Ok(false)
    }

    /// Records a 400 for each of `class` and `server` the catalog lacks, or
    /// holds only as retired: a character is given current entries only
    /// (one that has a retired entry keeps it, see `update_character`).
    ///
    /// Public so that a driving adapter whose own parse of a request failed
    /// can still name these fields in the same answer, as one 400 lists
    /// every field at fault.
    pub async fn check_catalog(
        &self,
        class: Option<ClassId>,
        server: Option<ServerId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), RosterError> {
        let catalog = self.storage.catalog();
        if let Some(class) = class
            && catalog.find_class(class).await?.is_none_or(|c| c.retired)
        {
            errors
                .0
                .push(FieldError::new("classId", "is not a class of the catalog"));
        }
        if let Some(server) = server
            && catalog.find_server(server).await?.is_none_or(|s| s.retired)
        {
            errors.0.push(FieldError::new(
                "serverId",
                "is not a server of the catalog",
            ));
        }
        Ok(())
    }
}

async fn find(
    tx: &dyn Transaction,
    owner: UserId,
    id: CharacterId,
) -> Result<CharacterView, RosterError> {
    tx.characters()
        .find(owner, id)
        .await?
        .ok_or(RosterError::NotFound("character"))
}

/// A team's members all play on one server: a character that shares a team
/// with others cannot move to another server.
async fn check_teams_allow_move(
    tx: &dyn Transaction,
    owner: UserId,
    character: &Character,
) -> Result<(), RosterError> {
    let teams = tx.teams().with_member(owner, character.id).await?;
    let blocking = teams.iter().find(|team| {
        team.members
            .iter()
            .any(|m| m.character.id != character.id && m.character.server_id != character.server_id)
    });
    match blocking {
        Some(team) => Err(RosterError::CharacterInTeamOnAnotherServer {
            team: team.team.name.to_string(),
        }),
        None => Ok(()),
    }
}
