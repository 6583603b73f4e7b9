//! Errors shared by the whole domain.

use std::fmt;

/// One rule broken by one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the client names it (`email`, `displayName`…).
    pub field: &'static str,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Every rule an input broke, so a client can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// Keeps the value of `result` and records its error, so several fields
    /// can be parsed before the errors are reported together.
    pub fn collect<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// A uniqueness rule of the stored data. A write that would break one
/// fails with [`RepoError::Duplicate`] naming it, so a use case can tell
/// the client which input collides without knowing how a backend enforces
/// the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueRule {
    /// One user per id.
    UserId,
    /// One user per e-mail (stored lower-cased).
    UserEmail,
    /// One session per id.
    SessionId,
    /// One session per refresh-token hash.
    SessionTokenHash,
    /// One audit entry per id.
    AuditEntryId,
    /// One API key per id.
    ApiKeyId,
    /// One API key per secret hash.
    ApiKeyHash,
    /// One game account per id.
    AccountId,
    /// An owner's live game accounts have distinct names.
    AccountName,
    /// One character per id.
    CharacterId,
    /// An owner's live characters on one server have distinct names.
    CharacterName,
    /// One team per id.
    TeamId,
    /// An owner's teams have distinct names.
    TeamName,
}

impl fmt::Display for UniqueRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match self {
            Self::UserId => "user id",
            Self::UserEmail => "user e-mail",
            Self::SessionId => "session id",
            Self::SessionTokenHash => "session refresh-token hash",
            Self::AuditEntryId => "audit entry id",
            Self::ApiKeyId => "API key id",
            Self::ApiKeyHash => "API key hash",
            Self::AccountId => "game account id",
            Self::AccountName => "game account name",
            Self::CharacterId => "character id",
            Self::CharacterName => "character name",
            Self::TeamId => "team id",
            Self::TeamName => "team name",
        };
        f.write_str(rule)
    }
}

/// The error contract of every repository port.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A uniqueness rule was broken; the rule says which one.
    #[error("duplicate {0}")]
    Duplicate(UniqueRule),
    /// The backing store cannot be reached now (connection lost, pool
    /// exhausted). Worth retrying later; maps to 503.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a broken invariant in the store.
    #[error(transparent)]
    Unknown(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl RepoError {
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::Unknown(message.into().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_reads_field_then_message() {
        assert_eq!(
            FieldError::new("email", "must be a valid e-mail address").to_string(),
            "email must be a valid e-mail address"
        );
    }

    #[test]
    fn validation_errors_read_every_field_and_message_in_order() {
        let mut errors = ValidationErrors::default();
        assert_eq!(errors.to_string(), "");
        assert_eq!(
            errors.collect(Err::<(), _>(FieldError::new("email", "must not be empty"))),
            None
        );
        assert_eq!(errors.collect(Ok::<_, FieldError>(7)), Some(7));
        errors.collect(Err::<(), _>(FieldError::new(
            "displayName",
            "must be 2 to 50 characters",
        )));
        assert_eq!(
            errors.to_string(),
            "email: must not be empty; displayName: must be 2 to 50 characters"
        );
        assert_eq!(
            ValidationErrors::single("name", "must not be empty").to_string(),
            "name: must not be empty"
        );
    }

    #[test]
    fn a_unique_rule_reads_as_what_collided() {
        let cases = [
            (UniqueRule::UserId, "user id"),
            (UniqueRule::UserEmail, "user e-mail"),
            (UniqueRule::SessionId, "session id"),
            (UniqueRule::SessionTokenHash, "session refresh-token hash"),
            (UniqueRule::AuditEntryId, "audit entry id"),
            (UniqueRule::ApiKeyId, "API key id"),
            (UniqueRule::ApiKeyHash, "API key hash"),
            (UniqueRule::AccountId, "game account id"),
            (UniqueRule::AccountName, "game account name"),
            (UniqueRule::CharacterId, "character id"),
            (UniqueRule::CharacterName, "character name"),
            (UniqueRule::TeamId, "team id"),
            (UniqueRule::TeamName, "team name"),
        ];
        for (rule, text) in cases {
            assert_eq!(rule.to_string(), text);
        }
        assert_eq!(
            RepoError::Duplicate(UniqueRule::UserEmail).to_string(),
            "duplicate user e-mail"
        );
    }
}
