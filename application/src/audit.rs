//! The audit trail: how use cases record their changes, and how users and
//! administrators read them ([`AuditLog`] serves a user their own entries).
//!
//! An entry is appended in the same unit of work as the change it records;
//! this module only builds entries and pages through them.

use std::sync::Arc;

use crate::context::ClientInfo;
use crate::cursor;
use crate::query_text;
use domain::ports::{Random, Storage};
use domain::{AuditEntry, AuditFilter, AuditId, Change, RepoError, UserId, ValidationErrors};
use time::OffsetDateTime;

/// What a change was done to.
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: &'static str,
    pub id: String,
}

impl Resource {
    pub fn new(kind: &'static str, id: impl ToString) -> Self {
        Self {
            kind,
            id: id.to_string(),
        }
    }
}

/// A new entry: `actor` did `action` to `resource` at `now`.
pub fn entry(
    now: OffsetDateTime,
    random: &dyn Random,
    client: &ClientInfo,
    actor: Option<UserId>,
    action: &str,
    resource: Resource,
    changes: Vec<Change>,
) -> AuditEntry {
    AuditEntry {
        id: AuditId::generate(now, random),
        actor_id: actor,
        action: action.to_owned(),
        resource_type: resource.kind.to_owned(),
        resource_id: resource.id,
        changes,
        ip: client.ip.clone(),
        request_id: client.request_id.clone(),
        at: now,
    }
}

/// One page of the trail, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// A user's own trail.
pub struct AuditLog {
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    /// A page of the entries `actor` wrote, narrowed by resource, newest
    /// first. Whatever `filter` says of the actor, only `actor`'s own
    /// entries are read.
    pub async fn own(
        &self,
        actor: UserId,
        filter: AuditFilter,
        cursor: Option<&str>,
        per_page: usize,
    ) -> Result<AuditPage, AuditError> {
        let filter = AuditFilter {
            actor_id: Some(actor),
            ..filter
        };
        list(self.storage.as_ref(), &filter, cursor, per_page).await
    }
}

/// A page of the entries matching `filter`, after `cursor` (as handed out
/// in a previous page). Keyset paging: entries written meanwhile do not
/// shift later pages.
pub(crate) async fn list(
    storage: &dyn Storage,
    filter: &AuditFilter,
    cursor: Option<&str>,
    per_page: usize,
) -> Result<AuditPage, AuditError> {
    let mut errors = ValidationErrors::default();
    errors.collect(query_text::exact(
        "resourceType",
        filter.resource_type.as_deref(),
    ));
    errors.collect(query_text::exact(
        "resourceId",
        filter.resource_id.as_deref(),
    ));
    errors.into_result().map_err(AuditError::Validation)?;
    let before = cursor.map(decode_cursor).transpose()?;
    // One more than asked, to know whether another page follows.
    let mut entries = storage.audit().list(filter, before, per_page + 1).await?;
    let next_cursor = if entries.len() > per_page {
        entries.truncate(per_page);
        entries.last().map(|last| encode_cursor(last.id))
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}

fn encode_cursor(id: AuditId) -> String {
    cursor::encode(id.as_uuid())
}

fn decode_cursor(text: &str) -> Result<AuditId, AuditError> {
    cursor::decode(text).map(AuditId::from_uuid).ok_or_else(|| {
        AuditError::Validation(ValidationErrors::single(
            "cursor",
            "is not a cursor this API gave out",
        ))
    })
}
