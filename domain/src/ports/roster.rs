//! The roster's repositories. Every method takes the owner — or reads it
//! from the entity it writes — and sees nothing of another user's data:
//! another user's id behaves exactly like an unknown one.
//!
//! "Live" means not soft-deleted. Deleted characters and accounts are
//! invisible to every method here except where a doc says otherwise.
//!
//! Name uniqueness and name order ignore case: names compare by
//! [`crate::roster::name_key`] (lower-cased), and orders compare those keys
//! byte by byte (PostgreSQL: `lower(name) COLLATE "C"`). `search` is a
//! case-insensitive substring in which `%`, `_` and `\` are plain characters.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::catalog::{ItemId, ItemKind};
use crate::error::RepoError;
use crate::ids::{AccountId, CharacterId, TeamId, UserId};
use crate::roster::{
    AccountView, Character, CharacterChanges, CharacterEdit, CharacterFilter, CharacterSort,
    CharacterView, GameAccount, PageRequest, Paged, ProgressCount, ProgressStatus, Progression,
    ProgressionView, Team, TeamView,
};

/// Game accounts.
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// Stores a new account. MUST return
    /// `Duplicate(AccountId)` for a taken id and
    /// `Duplicate(AccountName)` when the owner
    /// has a live account of the same name ignoring case.
    async fn insert(&self, account: &GameAccount) -> Result<(), RepoError>;

    /// The owner's live account, with its count of live characters.
    async fn find(&self, owner: UserId, id: AccountId) -> Result<Option<AccountView>, RepoError>;

    /// Like [`find`](Self::find) without the count; inside a transaction it
    /// also keeps the account from being changed or deleted by another unit
    /// until this one ends (PostgreSQL: `FOR UPDATE`). Returns whether the
    /// owner has this live account.
    async fn lock(&self, owner: UserId, id: AccountId) -> Result<bool, RepoError>;

    /// The owner's live accounts whose name contains `search`, sorted by
    /// name then id, one page of them, and how many match in all.
    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<AccountView>, RepoError>;

    /// Writes `name`, `notes` and `updated_at` of the live account
    /// `account.id` of `account.owner`. Returns whether there is one.
    /// `Duplicate(AccountName)` as for insert.
    async fn update(&self, account: &GameAccount) -> Result<bool, RepoError>;

    /// Soft-deletes the owner's live account. Returns whether there was one.
    /// Its characters are the caller's business.
    async fn delete(
        &self,
        owner: UserId,
        id: AccountId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;
}

/// Characters.
#[async_trait]
pub trait CharacterRepository: Send + Sync {
    /// Stores a new character (its account was checked by the caller). MUST
    /// return `Duplicate(CharacterId)` for a taken id
    /// and `Duplicate(CharacterName)` when
    /// the owner has a live character of the same name ignoring case on the
    /// same server.
    async fn insert(&self, character: &Character) -> Result<(), RepoError>;

    /// The owner's live character with its names.
    async fn find(
        &self,
        owner: UserId,
        id: CharacterId,
    ) -> Result<Option<CharacterView>, RepoError>;

    /// The owner's live characters among `ids`, in no particular order;
    /// unknown, deleted and other users' ids are left out. Inside a
    /// transaction, the characters found cannot be changed by another unit
    /// until this one ends (PostgreSQL: `FOR SHARE`), so a rule checked on
    /// them (a team's one server) still holds when the unit commits.
    async fn find_many(
        &self,
        owner: UserId,
        ids: &[CharacterId],
    ) -> Result<Vec<CharacterView>, RepoError>;

    /// The owner's live characters matching `filter`, in `sort` order, one
    /// page of them, and how many match in all. Filtering, ordering and
    /// paging happen in the store.
    async fn list(
        &self,
        owner: UserId,
        filter: &CharacterFilter,
        sort: CharacterSort,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RepoError>;

    /// Compare-and-set: writes `account_id`, `name`, `level`, `class_id`,
    /// `server_id`, `version` and `updated_at` of the live character
    /// `character.id` of `character.owner` if, and only if, its stored
    /// version is `expected_version` (of concurrent callers with the same
    /// expectation at most one gets `true`). `false` when the version moved
    /// on or there is no such character. `Duplicate` as for insert.
    async fn update(&self, character: &Character, expected_version: i64)
    -> Result<bool, RepoError>;

    /// Edits the owner's live character `id` in one step, holding it until
    /// the unit ends (PostgreSQL: `FOR UPDATE`), so no other edit can come
    /// between what it read and what it wrote. If its version is one of
    /// `expected` (any version when `None`) and `changes` change at least
    /// one field, writes them with `version + 1` and `updated_at = at`.
    /// Returns what it found and did (see [`CharacterEdit`]); the views are
    /// read after the write, with the names of the new account, class and
    /// server. The account in `changes` is not checked: the caller locked
    /// it. `Duplicate` as for insert.
    async fn edit(
        &self,
        owner: UserId,
        id: CharacterId,
        changes: &CharacterChanges,
        expected: Option<&[i64]>,
        at: OffsetDateTime,
    ) -> Result<CharacterEdit, RepoError>;

    /// Soft-deletes the owner's live characters among `ids` (`deleted_at`
    /// and `updated_at` become `at`). Returns the ids it deleted.
    async fn delete(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError>;

    /// Soft-deletes every live character of the owner's account `account`.
    /// Returns the ids it deleted.
    async fn delete_by_account(
        &self,
        owner: UserId,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError>;
}

/// Teams.
#[async_trait]
pub trait TeamRepository: Send + Sync {
    /// Stores a new team and its members in order. MUST return
    /// `Duplicate(TeamId)` for a taken id and
    /// `Duplicate(TeamName)` when the owner has a
    /// team of the same name ignoring case.
    async fn insert(&self, team: &Team) -> Result<(), RepoError>;

    /// The owner's team, its members limited to live characters.
    async fn find(&self, owner: UserId, id: TeamId) -> Result<Option<TeamView>, RepoError>;

    /// The owner's teams whose name contains `search`, sorted by name then
    /// id, one page of them, and how many match in all.
    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<TeamView>, RepoError>;

    /// Writes `name`, `description`, the members (replacing them all, in
    /// order) and `updated_at` of the team `team.id` of `team.owner`.
    /// Returns whether there is one. `Duplicate` as for insert.
    async fn update(&self, team: &Team) -> Result<bool, RepoError>;

    /// Deletes the owner's team. Returns whether there was one.
    async fn delete(&self, owner: UserId, id: TeamId) -> Result<bool, RepoError>;

    /// The owner's teams that have `character` among their members, by
    /// name then id, as [`find`](Self::find) shows them.
    async fn with_member(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<TeamView>, RepoError>;
}

/// Progressions: one row per character and item.
#[async_trait]
pub trait ProgressionRepository: Send + Sync {
    /// The progression of the owner's live character on `item`.
    async fn find(
        &self,
        owner: UserId,
        character: CharacterId,
        item: ItemId,
    ) -> Result<Option<Progression>, RepoError>;

    /// Inserts the progression, or replaces `status`, `completed_at` and
    /// `updated_at` of the stored one, if `progression.character_id` is a
    /// live character of the owner. Returns whether it is.
    async fn upsert(&self, owner: UserId, progression: &Progression) -> Result<bool, RepoError>;

    /// The progressions of the owner's live character whose item is in the
    /// catalog (current or retired: a retired item still names the progress
    /// made on it), of `kind` and `status` when given, by item id, one page
    /// of them, and how many match in all.
    async fn list(
        &self,
        owner: UserId,
        character: CharacterId,
        kind: Option<ItemKind>,
        status: Option<ProgressStatus>,
        page: PageRequest,
    ) -> Result<Paged<ProgressionView>, RepoError>;

    /// How many progressions of the owner's live character, whose item is
    /// a current item of the catalog (not retired: these counts are set
    /// against the catalog's counts), have each kind and status; pairs with
    /// none are left out.
    async fn counts(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<ProgressCount>, RepoError>;

    /// The progressions on `item` of the owner's live characters among
    /// `characters`, in no particular order.
    async fn for_item(
        &self,
        owner: UserId,
        characters: &[CharacterId],
        item: ItemId,
    ) -> Result<Vec<Progression>, RepoError>;
}
