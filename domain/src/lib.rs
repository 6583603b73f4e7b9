//! The heart of Roster: entities, value objects, domain errors and the ports
//! through which the application reaches the outside world.
//!
//! This crate must stay pure: no async runtime, no HTTP, no database driver.
//! Anything that needs I/O is a trait in [`ports`], implemented by an
//! adapter crate.

pub mod api_key;
pub mod audit;
pub mod catalog;
pub mod catalog_sync;
pub mod error;
pub mod ids;
pub mod job;
pub mod ports;
pub mod query;
pub mod rate_limit;
pub mod roster;
pub mod session;
pub mod text;
pub mod token;
pub mod user;

pub use api_key::{ApiKey, ApiKeyName, ApiKeySecret};
pub use audit::{AuditEntry, AuditFilter, AuditValue, Change};
pub use catalog::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, ServerId,
};
pub use catalog_sync::{Merge, SourceCatalog, SyncCounts};
pub use error::{FieldError, RepoError, UniqueRule, ValidationErrors};
pub use ids::{
    AccountId, ApiKeyId, AuditId, CharacterId, FamilyId, JobId, LeaseId, SessionId, TeamId, UserId,
};
pub use job::{
    Claim, Enqueued, Job, JobCount, JobFilter, JobProgress, JobStatus, JobStep, Lease, NewJob,
};
pub use query::SearchText;
pub use roster::{
    AccountView, Character, CharacterChanges, CharacterEdit, CharacterFilter, CharacterSort,
    CharacterView, GameAccount, Level, Notes, PageRequest, Paged, ProgressCount, ProgressStatus,
    Progression, ProgressionView, RosterName, Team, TeamMembers, TeamView,
};
pub use session::{RevokeReason, Session, SessionLifetimes};
pub use token::{AccessClaims, AccessToken, RefreshToken, TokenHash};
pub use user::{DisplayName, Email, Password, PasswordHash, Role, User};
