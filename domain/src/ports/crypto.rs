use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::token::AccessClaims;
use crate::user::{Password, PasswordHash};

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password matches. `needs_rehash` is true when the hash was made
    /// with other parameters than the current ones, so the caller should
    /// store a fresh hash.
    Match {
        needs_rehash: bool,
    },
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot stayed busy for longer than the adapter waits.
    /// The request should be retried later (503).
    #[error("password hashing is saturated")]
    Busy,
    /// The stored hash cannot be read, or hashing itself failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Slow, salted password hashing.
///
/// Implementations MUST run the hash off the async workers and cap how many
/// run at once; MUST return [`HashError::Busy`] rather than queue without
/// bound.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password that passed the rules, with a fresh salt.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Checks a candidate. MUST answer `Mismatch` (not an error) for a wrong
    /// password, and `Internal` for an unreadable stored hash.
    async fn verify(
        &self,
        candidate: &SecretString,
        hash: &PasswordHash,
    ) -> Result<Verification, HashError>;

    /// Spends the time of one verification without a stored hash, so that a
    /// login for an unknown account takes as long as a real one.
    async fn verify_dummy(&self, candidate: &SecretString) -> Result<(), HashError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed, badly signed, signed by an unknown key, or for another
    /// issuer or audience.
    #[error("invalid token")]
    Invalid,
    /// Past its expiry.
    #[error("expired token")]
    Expired,
    /// Its `nbf` is still in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// The signer itself failed (key material unusable).
    #[error("token signing failed: {0}")]
    Signing(String),
}

/// Signs and verifies access tokens.
pub trait TokenSigner: Send + Sync {
    /// Signs `claims` with the current signing key, naming it in the token so
    /// verification can pick the key.
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError>;

    /// Verifies a token at `now`. MUST return `Invalid` for any tampering, an
    /// unknown key id (fail closed), or a wrong issuer or audience;
    /// `Expired` when `now` is at or past `exp`; `NotYetValid` when `nbf` is
    /// after `now`. Never panics on hostile input.
    fn verify(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, TokenError>;
}
