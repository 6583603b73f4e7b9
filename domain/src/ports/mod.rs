//! The ports: what the application needs from the outside world, stated as
//! traits. Each trait's documentation is its contract; every adapter is
//! held to it by the conformance suites in the `tests` crate.

mod cache;
mod clock;
mod crypto;
mod jobs;
mod rate_limit;
mod roster;
mod source;
mod storage;

pub use cache::{Cache, CacheKey, CacheLifetimes, CacheSlot, CacheTier, Lookup};
pub use clock::{Clock, Random};
pub use crypto::{HashError, PasswordHasher, TokenError, TokenSigner, Verification};
pub use jobs::{JobRepository, JobSignal};
pub use rate_limit::RateLimiter;
pub use roster::{AccountRepository, CharacterRepository, ProgressionRepository, TeamRepository};
pub use source::{
    BundledSnapshot, CatalogSource, SourceEntry, SourceError, SourcePage, SourceResource,
};
pub use storage::{
    ApiKeyRepository, AuditRepository, CatalogRepository, Repositories, RepositorySet,
    SessionRepository, Storage, Transaction, UserRepository,
};
