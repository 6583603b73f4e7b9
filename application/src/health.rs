//! Readiness: whether the services a request needs answer now.

use std::sync::Arc;

use domain::RepoError;
use domain::ports::{RateLimiter, Storage};

/// Asks each backing service whether it answers.
pub struct Health {
    storage: Arc<dyn Storage>,
    limiter: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

impl Health {
    pub fn new(storage: Arc<dyn Storage>, limiter: Arc<dyn RateLimiter>) -> Self {
        Self { storage, limiter }
    }

    /// `Ok` when the storage answers now.
    pub async fn storage(&self) -> Result<(), RepoError> {
        self.storage.ping().await
    }
}

impl Health {
    /// Whether the shared services (Redis) answer; `false` while Roster
    /// serves from in-process fallbacks, which is degraded, not down.
    pub async fn shared(&self) -> bool {
        self.limiter.reachable().await
    }
}
