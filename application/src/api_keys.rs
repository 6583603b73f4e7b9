//! API keys: creating, listing and revoking them. Checking one on a request
//! is part of authentication (`auth::AuthService::authenticate_caller`).

use std::sync::Arc;

use domain::ports::{Clock, Random, Storage};
use domain::{ApiKey, ApiKeyId, ApiKeyName, ApiKeySecret, RepoError, UserId, ValidationErrors};
use time::OffsetDateTime;

use crate::audit::{self, Resource};
use crate::context::ClientInfo;
use crate::stored_time;

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// A new key, with its secret: shown to its owner this once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: ApiKeySecret,
}

pub struct ApiKeyService {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for ApiKeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeyService")
    }
}

impl ApiKeyService {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            storage,
            clock,
            random,
        }
    }

    /// Records a 400 when `expires_at` is not in the future: the one rule
    /// of a new key that needs the clock. Public so that a driving adapter
    /// whose own parse of the request failed can still name `expiresAt` in
    /// the same answer.
    pub fn check_expiry(&self, expires_at: Option<OffsetDateTime>, errors: &mut ValidationErrors) {
        let now = self.clock.now();
        if expires_at.is_some_and(|at| stored_time::as_stored(at) <= now) {
            errors.0.push(domain::FieldError::new(
                "expiresAt",
                "must be in the future",
            ));
        }
    }

    /// Creates a key named `name` (parsed by the driving adapter).
    pub async fn create(
        &self,
        owner: UserId,
        name: ApiKeyName,
        expires_at: Option<OffsetDateTime>,
        client: &ClientInfo,
    ) -> Result<CreatedKey, ApiKeyError> {
        let mut errors = ValidationErrors::default();
        self.check_expiry(expires_at, &mut errors);
        errors.into_result().map_err(ApiKeyError::Validation)?;
        let now = self.clock.now();
        // Stored and answered the same on every backend.
        let expires_at = expires_at.map(stored_time::as_stored);
        let secret = ApiKeySecret::generate(self.random.as_ref());
        let key = ApiKey {
            id: ApiKeyId::generate(now, self.random.as_ref()),
            owner,
            name,
            prefix: secret.prefix(),
            key_hash: secret.hash(),
            created_at: now,
            last_used_at: None,
            expires_at,
            revoked_at: None,
        };
        let tx = self.storage.begin().await?;
        tx.api_keys().insert(&key).await?;
        let entry = audit::entry(
            now,
            self.random.as_ref(),
            client,
            Some(owner),
            "api_key.created",
            Resource::new("api_key", key.id),
            Vec::new(),
        );
        tx.audit().append(&entry).await?;
        tx.commit().await?;
        Ok(CreatedKey { key, secret })
    }

    /// The owner's keys that are not revoked, newest first.
    pub async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, ApiKeyError> {
        Ok(self.storage.api_keys().list(owner).await?)
    }

    /// Revokes one of the owner's keys; it stops working at once. Another
    /// user's key, or one already revoked, is `NotFound`.
    pub async fn revoke(
        &self,
        owner: UserId,
        id: ApiKeyId,
        client: &ClientInfo,
    ) -> Result<(), ApiKeyError> {
        let now = self.clock.now();
        let tx = self.storage.begin().await?;
        if !tx.api_keys().revoke(owner, id, now).await? {
            return Err(ApiKeyError::NotFound);
        }
        let entry = audit::entry(
            now,
            self.random.as_ref(),
            client,
            Some(owner),
            "api_key.revoked",
            Resource::new("api_key", id),
            Vec::new(),
        );
        tx.audit().append(&entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
