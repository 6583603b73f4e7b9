//! The audit trail: who changed what, when, from where.
//!
//! Every state change writes one entry in the same unit of work as the
//! change itself. Entries never hold a secret: a password change records
//! that it happened, not the hashes.

use time::OffsetDateTime;

use crate::ids::{AuditId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// A UUIDv7: entries sort by id in the order they were written.
    pub id: AuditId,
    /// Who acted; `None` for the system itself (jobs, start-up).
    pub actor_id: Option<UserId>,
    /// What happened, `resource.verb` (`auth.login`, `character.created`).
    pub action: String,
    /// The kind of thing it happened to (`user`, `session`, `api_key`…).
    pub resource_type: String,
    pub resource_id: String,
    /// For updates, each field's old and new value.
    pub changes: Vec<Change>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub at: OffsetDateTime,
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub from: AuditValue,
    pub to: AuditValue,
}

/// A value as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditValue {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

impl From<&str> for AuditValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<bool> for AuditValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for AuditValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl<T: Into<AuditValue>> From<Option<T>> for AuditValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// Which entries a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}
