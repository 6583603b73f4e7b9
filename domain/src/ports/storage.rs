use async_trait::async_trait;
use time::OffsetDateTime;

use crate::api_key::ApiKey;
use crate::audit::{AuditEntry, AuditFilter};
use crate::catalog::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, ServerId,
};
use crate::error::RepoError;
use crate::ids::{ApiKeyId, AuditId, FamilyId, SessionId, UserId};
use crate::ports::jobs::JobRepository;
use crate::ports::roster::{
    AccountRepository, CharacterRepository, ProgressionRepository, TeamRepository,
};
use crate::session::{RevokeReason, Session};
use crate::token::TokenHash;
use crate::user::{Email, PasswordHash, Role, User};

/// The repositories, as a storage and a transaction both hand them out.
///
/// A backend serves every repository from one object, [`RepositorySet`], so
/// it implements only [`Repositories::repositories`]; the accessors below
/// are written once, here. A test double that serves one repository from
/// elsewhere overrides that accessor.
pub trait Repositories: Send + Sync {
    /// The object that serves every repository.
    fn repositories(&self) -> &dyn RepositorySet;

    fn users(&self) -> &dyn UserRepository {
        self.repositories()
    }
    fn sessions(&self) -> &dyn SessionRepository {
        self.repositories()
    }
    fn audit(&self) -> &dyn AuditRepository {
        self.repositories()
    }
    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self.repositories()
    }
    fn catalog(&self) -> &dyn CatalogRepository {
        self.repositories()
    }
    fn accounts(&self) -> &dyn AccountRepository {
        self.repositories()
    }
    fn characters(&self) -> &dyn CharacterRepository {
        self.repositories()
    }
    fn teams(&self) -> &dyn TeamRepository {
        self.repositories()
    }
    fn progressions(&self) -> &dyn ProgressionRepository {
        self.repositories()
    }
    fn jobs(&self) -> &dyn JobRepository {
        self.repositories()
    }
}

/// One object that is every repository: what a backend implements over
/// each way it reaches its data (directly, or inside a transaction).
pub trait RepositorySet:
    UserRepository
    + SessionRepository
    + AuditRepository
    + ApiKeyRepository
    + CatalogRepository
    + AccountRepository
    + CharacterRepository
    + TeamRepository
    + ProgressionRepository
    + JobRepository
{
}

impl<T> RepositorySet for T where
    T: UserRepository
        + SessionRepository
        + AuditRepository
        + ApiKeyRepository
        + CatalogRepository
        + AccountRepository
        + CharacterRepository
        + TeamRepository
        + ProgressionRepository
        + JobRepository
{
}

/// Every storage backend: the repositories, and transactions over them.
///
/// Calls made directly on the repositories are each atomic on their own.
/// Changes that must land together go through [`Storage::begin`].
#[async_trait]
pub trait Storage: Repositories {
    /// Starts a unit of work. Its changes are visible to others only after
    /// [`Transaction::commit`]; dropping it without commit discards them all.
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError>;

    /// Whether the backend answers now. `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), RepoError>;
}

/// One unit of work: the same repositories, all inside it.
#[async_trait]
pub trait Transaction: Repositories {
    /// Makes every change of this unit visible at once, or none of them.
    async fn commit(self: Box<Self>) -> Result<(), RepoError>;

    /// Appends `entries` to the audit trail and commits: the entries land
    /// with every other change of the unit, or nothing does. It fails as
    /// [`AuditRepository::append`] would for each entry, and then the whole
    /// unit is discarded. An adapter may send the entries with its commit in
    /// one round trip; this default appends them one by one, then commits.
    async fn commit_with_audit(self: Box<Self>, entries: &[AuditEntry]) -> Result<(), RepoError> {
        for entry in entries {
            self.audit().append(entry).await?;
        }
        self.commit().await
    }
}

/// Users, found by id or by e-mail.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user. MUST return `Duplicate(UserEmail)`
    /// when another user has the same e-mail, and
    /// `Duplicate(UserId)` when the id is taken.
    async fn insert(&self, user: &User) -> Result<(), RepoError>;

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError>;

    /// E-mails are stored lower-cased, so this is an exact match.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;

    /// Replaces the password hash only if it is still `current`
    /// (compare-and-set), so a rehash at login can never undo a concurrent
    /// password change. On success `updated_at` becomes `at`. Returns whether
    /// it replaced it; `false` also when the user does not exist.
    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Gives the user `role`; on a change `updated_at` becomes `at`. Returns
    /// whether a user has this id.
    async fn set_role(&self, id: UserId, role: Role, at: OffsetDateTime)
    -> Result<bool, RepoError>;

    /// Records a successful login in `last_login_at` (`updated_at` is left
    /// alone: a login is not an edit). No-op for an unknown id.
    async fn record_login(&self, id: UserId, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Disables (`true`) or re-enables (`false`) the user; on a change
    /// `updated_at` becomes `at`. Returns whether a user has this id. Ending
    /// the user's sessions and API keys is the caller's business (in the same
    /// transaction), not this method's.
    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Users whose e-mail or display name contains `search` ignoring case
    /// (every user when `None`; `%`, `_` and `\` are plain characters), with
    /// an id above `after` when given, by id ascending — ids being UUIDv7,
    /// that is creation order — at most `limit`. Keyset paging: users who
    /// register meanwhile never shift the pages after the current one.
    async fn list(
        &self,
        search: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, RepoError>;
}

/// Login sessions. Every method that acts on a user's sessions takes the
/// owner, and touches nothing of another user's.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session. MUST return `Duplicate(SessionId)`
    /// for a taken id and `Duplicate(SessionTokenHash)`
    /// for a refresh-token hash already stored.
    async fn insert(&self, session: &Session) -> Result<(), RepoError>;

    /// The session with this id, in any state.
    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError>;

    /// The session whose refresh token hashes to `hash`, in any state.
    async fn find_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, RepoError>;

    /// The owner's sessions that are neither revoked nor expired at `now`,
    /// newest first.
    async fn list_active(
        &self,
        owner: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepoError>;

    /// Revokes one of the owner's sessions if, and only if, it is not revoked
    /// yet (compare-and-set: of concurrent callers exactly one gets `true`).
    /// `replaced_by` records the successor of a rotation. Returns `false`
    /// when the session is already revoked, unknown, or not the owner's.
    async fn revoke(
        &self,
        owner: UserId,
        id: SessionId,
        at: OffsetDateTime,
        reason: RevokeReason,
        replaced_by: Option<SessionId>,
    ) -> Result<bool, RepoError>;

    /// Revokes every unrevoked session of the owner's family. Returns how
    /// many it revoked.
    async fn revoke_family(
        &self,
        owner: UserId,
        family: FamilyId,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError>;

    /// Revokes every unrevoked session of the owner except `keep`. Returns
    /// how many it revoked.
    async fn revoke_all(
        &self,
        owner: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError>;

    /// Sets `last_used_at` to `at` if it is older than `at - min_interval`,
    /// so that busy sessions are not written on every request. The session's
    /// state does not matter. No-op for an unknown id.
    async fn touch(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<(), RepoError>;

    /// Erases the sealed refresh-token copies of sessions created before
    /// `created_before`. Returns how many it erased.
    async fn purge_sealed_tokens(&self, created_before: OffsetDateTime) -> Result<u64, RepoError>;

    /// Deletes every session, of any owner and in any state, whose absolute
    /// expiry is before `expired_before`: its refresh token can never work
    /// again. Returns how many it deleted.
    async fn delete_expired(&self, expired_before: OffsetDateTime) -> Result<u64, RepoError>;
}

/// The audit trail: append-only.
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends an entry. MUST return `Duplicate(AuditEntryId)`
    /// for a taken id. `changes` and every field round-trip unchanged.
    async fn append(&self, entry: &AuditEntry) -> Result<(), RepoError>;

    /// The entries that match `filter` (every given field must match), newest
    /// first — by id, descending, ids being UUIDv7 — and only those with an id
    /// below `before` when it is given, at most `limit`. Keyset paging: new
    /// entries never shift the pages after the first.
    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, RepoError>;
}

/// API keys, found by the hash of their secret. Every method acting on a
/// user's keys takes the owner and touches nothing of another user's.
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// MUST return `Duplicate(ApiKeyId)` for a taken id
    /// and `Duplicate(ApiKeyHash)` for a stored hash.
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError>;

    /// The key whose secret hashes to `hash`, in any state.
    async fn find_by_hash(
        &self,
        hash: &crate::token::TokenHash,
    ) -> Result<Option<ApiKey>, RepoError>;

    /// The owner's keys that are not revoked (expired ones included, so the
    /// owner sees them), newest first.
    async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, RepoError>;

    /// Revokes one of the owner's keys if it is not revoked yet
    /// (compare-and-set). `false` when unknown, another user's, or revoked.
    async fn revoke(
        &self,
        owner: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Revokes every unrevoked key of the owner; returns how many.
    async fn revoke_all(&self, owner: UserId, at: OffsetDateTime) -> Result<u64, RepoError>;

    /// Sets `last_used_at` to `at` when it is unset or older than
    /// `at - min_interval`. No-op for an unknown id.
    async fn touch(
        &self,
        id: ApiKeyId,
        at: OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<(), RepoError>;
}

/// The reference catalog. Its entries are current or retired (gone from
/// the source at the last sync): the lists and the counts show only the
/// current ones, while the `find_*` lookups find both, with their
/// `retired` flag, so that what characters and progressions point at
/// always resolves.
#[async_trait]
pub trait CatalogRepository: Send + Sync {
    /// Replaces the whole catalog by `snapshot` (already validated), every
    /// field of every entry stored as given (retired flags and item source
    /// ids included); an entry `snapshot` lacks is gone. Inside a
    /// transaction, readers see the old catalog or the new one, never a mix.
    async fn replace(&self, snapshot: &CatalogSnapshot) -> Result<(), RepoError>;

    /// The whole stored catalog, retired entries included, every list by
    /// id; `None` while the catalog is empty. Inside a transaction it also
    /// keeps every other replacement out until the transaction ends, so a
    /// unit that reads, merges and replaces replaces what it read.
    async fn snapshot(&self) -> Result<Option<CatalogSnapshot>, RepoError>;

    /// The version of the stored snapshot; `None` while the catalog is empty.
    async fn version(&self) -> Result<Option<String>, RepoError>;

    /// Every current class, by id.
    async fn classes(&self) -> Result<Vec<CharacterClass>, RepoError>;

    /// Every current server, by id.
    async fn servers(&self) -> Result<Vec<GameServer>, RepoError>;

    /// Current items of `kind` (every kind when `None`) whose name contains
    /// `search` ignoring case (every item when `None`), with an id above
    /// `after` when given, by id ascending, at most `limit`.
    async fn items(
        &self,
        kind: Option<ItemKind>,
        search: Option<&str>,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<CatalogItem>, RepoError>;

    /// How many current items of `kind` the catalog holds.
    async fn count_items(&self, kind: ItemKind) -> Result<u64, RepoError>;

    /// The class with this id, current or retired, if the catalog has it.
    async fn find_class(&self, id: ClassId) -> Result<Option<CharacterClass>, RepoError>;

    /// The server with this id, current or retired, if the catalog has it.
    async fn find_server(&self, id: ServerId) -> Result<Option<GameServer>, RepoError>;

    /// The item with this id, of any kind, current or retired, if the
    /// catalog has it.
    async fn find_item(&self, id: ItemId) -> Result<Option<CatalogItem>, RepoError>;
}
