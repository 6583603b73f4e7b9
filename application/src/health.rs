//! Readiness: whether the services a request needs answer now.

use std::sync::Arc;

use domain::RepoError;
use domain::ports::Storage;

/// Asks each backing service whether it answers.
pub struct Health {
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

impl Health {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    /// `Ok` when the storage answers now.
    pub async fn storage(&self) -> Result<(), RepoError> {
        self.storage.ping().await
    }
}
