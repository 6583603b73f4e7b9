use domain::ports::HashError;
use domain::rate_limit::Applied;
use domain::{RepoError, ValidationErrors};

/// Everything an authentication use case can answer besides success. The
/// HTTP adapter maps each case to one status and one stable code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Input broke a rule (400).
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// Registration with an e-mail that has an account (409).
    #[error("an account with this e-mail already exists")]
    EmailTaken,
    /// A concurrent password change won (409).
    #[error("the password was changed by another request")]
    PasswordChangedConcurrently,
    /// Wrong e-mail or password: one message for both (401).
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// Missing, invalid, expired or revoked credentials (401).
    #[error("authentication required")]
    Unauthenticated,
    /// An API key on a route that manages the account's own security (403).
    #[error("API keys cannot be used on this route; use an access token")]
    KeyNotAllowed,
    /// The account is disabled (403).
    #[error("this account is disabled")]
    Disabled,
    /// Too many failed logins for this account lately (429): refused
    /// whatever the password, and alike whether the account exists.
    #[error("too many failed logins for this account; try again later")]
    LoginLimited(Applied),
    /// No such object for this caller (404).
    #[error("not found")]
    NotFound,
    /// A backing service is saturated or down; retry later (503).
    #[error("service temporarily unavailable")]
    Unavailable,
    /// A bug or a broken invariant (500); the detail is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationErrors> for AuthError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<RepoError> for AuthError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Unavailable,
            HashError::Internal(detail) => Self::Internal(detail),
        }
    }
}
