//! Characters: who a user plays, on which account, server and class.
//!
//! A character's `version` is its `ETag`: every change moves it on, and an
//! update is a compare-and-set on it, so of two concurrent edits of the same
//! version exactly one wins. The other gets `PreconditionFailed` when its
//! client sent `If-Match`, and is retried on the new version otherwise.

use domain::ports::Transaction;
use domain::{
    AccountId, Character, CharacterFilter, CharacterId, CharacterSort, CharacterView, ClassId,
    FieldError, Level, PageRequest, Paged, RosterName, ServerId, UserId, ValidationErrors,
};

use crate::audit::Resource;
use crate::context::ClientInfo;
use crate::query_text::search;
use crate::roster::{Changes, Roster, RosterError, duplicate_name};

/// How many times an update without `If-Match` is tried again when a
/// concurrent edit moved the version on between its read and its write.
const UPDATE_ATTEMPTS: usize = 3;

/// Most ids one list filter or one bulk delete takes.
pub const MAX_IDS: usize = 100;

/// A new character as the client sends it.
#[derive(Debug, Clone)]
pub struct NewCharacter {
    pub name: String,
    pub level: i64,
    pub class_id: i32,
    pub server_id: i32,
    pub account_id: AccountId,
}

/// An edit: each `Some` field is replaced.
#[derive(Debug, Clone, Default)]
pub struct CharacterPatch {
    pub name: Option<String>,
    pub level: Option<i64>,
    pub class_id: Option<i32>,
    pub server_id: Option<i32>,
    pub account_id: Option<AccountId>,
}

/// The query of a character list, as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct CharacterQuery {
    pub search: Option<String>,
    pub class_ids: Vec<i32>,
    pub server_ids: Vec<i32>,
    pub account_ids: Vec<AccountId>,
    pub level_min: Option<i64>,
    pub level_max: Option<i64>,
    /// `name` (default), `-name`, `level`, `-level`, `createdAt`, `-createdAt`.
    pub sort: Option<String>,
}

/// What `If-Match` asks of an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match` (or `*`): any version will do.
    #[default]
    None,
    /// The current version must be one of these.
    VersionIn(Vec<i64>),
}

impl Precondition {
    fn allows(&self, version: i64) -> bool {
        match self {
            Self::None => true,
            Self::VersionIn(versions) => versions.contains(&version),
        }
    }
}

impl CharacterQuery {
    fn parse(self) -> Result<(CharacterFilter, CharacterSort), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let search = errors.collect(search(self.search.as_deref())).flatten();
        let level_min = self
            .level_min
            .and_then(|v| errors.collect(Level::new("levelMin", v)));
        let level_max = self
            .level_max
            .and_then(|v| errors.collect(Level::new("levelMax", v)));
        if let (Some(min), Some(max)) = (level_min, level_max)
            && min > max
        {
            errors
                .0
                .push(FieldError::new("levelMin", "must not exceed levelMax"));
        }
        for (field, count) in [
            ("classIds", self.class_ids.len()),
            ("serverIds", self.server_ids.len()),
            ("accountIds", self.account_ids.len()),
        ] {
            if count > MAX_IDS {
                errors
                    .0
                    .push(FieldError::new(field, "must hold at most 100 ids"));
            }
        }
        let sort = match self.sort.as_deref() {
            None => Some(CharacterSort::default()),
            Some(raw) => errors.collect(CharacterSort::parse(raw).ok_or_else(|| {
                FieldError::new(
                    "sort",
                    "must be one of name, -name, level, -level, createdAt, -createdAt",
                )
            })),
        };
        errors.into_result()?;
        let filter = CharacterFilter {
            search,
            class_ids: self.class_ids.into_iter().map(ClassId).collect(),
            server_ids: self.server_ids.into_iter().map(ServerId).collect(),
            account_ids: self.account_ids,
            level_min,
            level_max,
        };
        Ok((filter, sort.unwrap_or_default()))
    }
}

impl Roster {
    pub async fn list_characters(
        &self,
        owner: UserId,
        query: CharacterQuery,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RosterError> {
        let (filter, sort) = query.parse()?;
        Ok(self
            .storage
            .characters()
            .list(owner, &filter, sort, page)
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
        let mut errors = ValidationErrors::default();
        let name = errors.collect(RosterName::parse("name", &input.name));
        let level = errors.collect(Level::new("level", input.level));
        let (class_id, server_id) = (ClassId(input.class_id), ServerId(input.server_id));
        self.check_catalog(Some(class_id), Some(server_id), &mut errors)
            .await?;
        let (Some(name), Some(level)) = (name, level) else {
            return Err(errors.into());
        };
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
        self.record(
            tx.as_ref(),
            now,
            client,
            owner,
            "character.created",
            Resource::new("character", character.id),
            changes.into_vec(),
        )
        .await?;
        let view = find(tx.as_ref(), owner, character.id).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Applies `patch` if the character's version meets `precondition`.
    pub async fn update_character(
        &self,
        owner: UserId,
        id: CharacterId,
        patch: CharacterPatch,
        precondition: Precondition,
        client: &ClientInfo,
    ) -> Result<CharacterView, RosterError> {
        let mut errors = ValidationErrors::default();
        let name = patch
            .name
            .as_deref()
            .and_then(|raw| errors.collect(RosterName::parse("name", raw)));
        let level = patch
            .level
            .and_then(|raw| errors.collect(Level::new("level", raw)));
        let (class_id, server_id) = (patch.class_id.map(ClassId), patch.server_id.map(ServerId));
        self.check_catalog(class_id, server_id, &mut errors).await?;
        errors.into_result()?;

        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = self.storage.begin().await?;
            let current = find(tx.as_ref(), owner, id).await?;
            let before = current.character.clone();
            if !precondition.allows(before.version) {
                return Err(RosterError::PreconditionFailed {
                    current: before.version,
                });
            }
            let mut character = before.clone();
            if let Some(name) = &name {
                character.name = name.clone();
            }
            character.level = level.unwrap_or(before.level);
            character.class_id = class_id.unwrap_or(before.class_id);
            character.server_id = server_id.unwrap_or(before.server_id);
            character.account_id = patch.account_id.unwrap_or(before.account_id);

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
            if changes.is_empty() {
                return Ok(current);
            }
            if character.account_id != before.account_id
                && !tx.accounts().lock(owner, character.account_id).await?
            {
                return Err(RosterError::NotFound("account"));
            }
            let now = self.now();
            character.version = before.version + 1;
            character.updated_at = now;
            let written = tx
                .characters()
                .update(&character, before.version)
                .await
                .map_err(|e| duplicate_name(e, "name", "a character on this server"))?;
            if !written {
                // A concurrent edit won the race for this version.
                drop(tx);
                if precondition != Precondition::None || attempt >= UPDATE_ATTEMPTS {
                    let current = self.character(owner, id).await?;
                    return Err(RosterError::PreconditionFailed {
                        current: current.character.version,
                    });
                }
                continue;
            }
            // Checked after the write, which holds the character until the
            // unit ends: a team being given this character meanwhile either
            // committed already (and is seen here) or reads the new server.
            if character.server_id != before.server_id {
                check_teams_allow_move(tx.as_ref(), owner, &character).await?;
            }
            self.record(
                tx.as_ref(),
                now,
                client,
                owner,
                "character.updated",
                Resource::new("character", id),
                changes.into_vec(),
            )
            .await?;
            let view = find(tx.as_ref(), owner, id).await?;
            tx.commit().await?;
            return Ok(view);
        }
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
        for id in &deleted {
            self.record(
                tx.as_ref(),
                now,
                client,
                owner,
                "character.deleted",
                Resource::new("character", id),
                Vec::new(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(deleted.len() as u64)
    }

    /// Records a 400 for each of `class` and `server` the catalog lacks.
    async fn check_catalog(
        &self,
        class: Option<ClassId>,
        server: Option<ServerId>,
        errors: &mut ValidationErrors,
    ) -> Result<(), RosterError> {
        let catalog = self.storage.catalog();
        if let Some(class) = class
            && catalog.find_class(class).await?.is_none()
        {
            errors
                .0
                .push(FieldError::new("classId", "is not a class of the catalog"));
        }
        if let Some(server) = server
            && catalog.find_server(server).await?.is_none()
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
