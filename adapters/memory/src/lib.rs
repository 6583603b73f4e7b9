//! In-memory storage: the embedded default and the fast test double.
//!
//! It is real code held to the same conformance suite as PostgreSQL. All
//! state sits behind one async reader-writer lock: single reads share it,
//! and a transaction holds it exclusively for its whole life — transactions are serializable, and readers never see a
//! half-applied unit — and keeps an undo log that restores every change if
//! it is dropped without commit.
//!
//! `tables` holds the plain data and the undo log (a leaf), `transaction`
//! the two ways of reaching it, and one module per repository its writes
//! and its port (`users`, `sessions`, `accounts`, …; `roster` what the four
//! roster repositories share).

mod accounts;
mod api_keys;
mod audit;
mod cache;
mod catalog;
mod characters;
mod jobs;
mod progressions;
mod rate_limit;
mod roster;
mod sessions;
mod tables;
mod teams;
mod transaction;
mod users;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use domain::RepoError;
use domain::ports::{Repositories, RepositorySet, Storage, Transaction};
use tokio::sync::RwLock;

pub use cache::InProcessCache;
pub use rate_limit::InProcessRateLimiter;
use tables::State;
use transaction::{Direct, Repos};

/// The memory backend.
#[derive(Clone)]
pub struct MemoryStorage {
    repos: Arc<Repos<Direct>>,
    signal: Arc<tokio::sync::Notify>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        let state = State::default();
        let signal = Arc::clone(&state.jobs.signal);
        Self {
            repos: Arc::new(Repos(Direct(Arc::new(RwLock::new(state))))),
            signal,
        }
    }

    /// The bell the job queue rings on enqueue, for this storage's workers.
    pub fn job_signal(&self) -> Arc<dyn domain::ports::JobSignal> {
        Arc::new(jobs::MemorySignal(Arc::clone(&self.signal)))
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStorage")
    }
}

impl Repositories for MemoryStorage {
    fn repositories(&self) -> &dyn RepositorySet {
        self.repos.as_ref()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        Ok(Box::new(self.repos.0.begin().await))
    }

    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}
