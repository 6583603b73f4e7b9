//! `GET /api/v1/audit`: the caller's own audit trail.

use std::sync::Arc;

use application::audit::AuditLog;
use domain::{AuditEntry, AuditFilter, AuditValue};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::envelope::CursorEnvelope;
use crate::error::ApiError;
use crate::security::CallerAuth;

#[derive(Tags)]
enum AuditTag {
    /// Who changed what, when.
    Audit,
}

pub struct AuditApi {
    pub audit: Arc<AuditLog>,
}

/// One recorded change.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditEntryDto {
    id: Uuid,
    #[oai(nullable)]
    actor_id: Option<Uuid>,
    /// `resource.verb`, e.g. `auth.login`, `api_key.created`.
    action: String,
    resource_type: String,
    resource_id: String,
    /// `{field: {from, to}}` for updates; never a secret.
    changes: Value,
    #[oai(nullable)]
    ip: Option<String>,
    #[oai(nullable)]
    request_id: Option<String>,
    at: OffsetDateTime,
}

fn json(value: AuditValue) -> Value {
    match value {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(b),
        AuditValue::Int(i) => Value::from(i),
        AuditValue::Text(t) => Value::String(t),
    }
}

impl From<AuditEntry> for AuditEntryDto {
    fn from(entry: AuditEntry) -> Self {
        let changes: Map<String, Value> = entry
            .changes
            .into_iter()
            .map(|c| {
                let mut change = Map::new();
                change.insert("from".into(), json(c.from));
                change.insert("to".into(), json(c.to));
                (c.field, Value::Object(change))
            })
            .collect();
        Self {
            id: entry.id.as_uuid(),
            actor_id: entry.actor_id.map(|id| id.as_uuid()),
            action: entry.action,
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            changes: Value::Object(changes),
            ip: entry.ip,
            request_id: entry.request_id,
            at: entry.at,
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "AuditTag::Audit")]
impl AuditApi {
    /// The caller's audit trail
    ///
    /// The caller's own entries, newest first, cursor-paged: entries written
    /// meanwhile never shift the following pages.
    #[oai(path = "/audit", method = "get", operation_id = "audit.list")]
    async fn list(
        &self,
        auth: CallerAuth,
        #[oai(name = "resourceType", validator(max_length = 50))] resource_type: Query<
            Option<String>,
        >,
        #[oai(name = "resourceId", validator(max_length = 100))] resource_id: Query<Option<String>>,
        #[oai(validator(max_length = 100))] cursor: Query<Option<String>>,
        #[oai(
            name = "perPage",
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u32>,
    ) -> Result<Json<CursorEnvelope<AuditEntryDto>>, ApiError> {
        let filter = AuditFilter {
            actor_id: None,
            resource_type: resource_type.0,
            resource_id: resource_id.0,
        };
        let page = self
            .audit
            .own(
                auth.0.user_id,
                filter,
                cursor.0.as_deref(),
                per_page.0 as usize,
            )
            .await?;
        let entries = page.entries.into_iter().map(Into::into).collect();
        Ok(Json(CursorEnvelope::new(
            entries,
            per_page.0,
            page.next_cursor,
        )))
    }
}

fn default_per_page() -> u32 {
    50
}
