//! `AuditRepository` on PostgreSQL.
//!
//! The changes of an entry are one `jsonb` array of
//! `{"field", "from", "to"}` objects, each value JSON null, a boolean, an
//! integer or a string, as [`AuditValue`] has them. Reading back accepts
//! exactly that shape; anything else is a corrupt row.

use async_trait::async_trait;
use domain::ports::AuditRepository;
use domain::{AuditEntry, AuditFilter, AuditId, AuditValue, Change, RepoError, UserId};
use sea_query::{Expr, ExprTrait, InsertStatement, Order, Query};
use serde_json::{Map, Value as Json};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::Repos;
use crate::exec::{Exec, pg_limit};
use crate::schema::AuditEntries;

const COLUMNS: [AuditEntries; 9] = [
    AuditEntries::Id,
    AuditEntries::ActorId,
    AuditEntries::Action,
    AuditEntries::ResourceType,
    AuditEntries::ResourceId,
    AuditEntries::Changes,
    AuditEntries::Ip,
    AuditEntries::RequestId,
    AuditEntries::At,
];

fn value_to_json(value: &AuditValue) -> Json {
    match value {
        AuditValue::Null => Json::Null,
        AuditValue::Bool(b) => Json::Bool(*b),
        AuditValue::Int(i) => Json::from(*i),
        AuditValue::Text(t) => Json::String(t.clone()),
    }
}

fn changes_to_json(changes: &[Change]) -> Json {
    Json::Array(
        changes
            .iter()
            .map(|change| {
                let mut object = Map::with_capacity(3);
                object.insert("field".into(), Json::String(change.field.clone()));
                object.insert("from".into(), value_to_json(&change.from));
                object.insert("to".into(), value_to_json(&change.to));
                Json::Object(object)
            })
            .collect(),
    )
}

/// `None` for a JSON value the audit trail never writes (a fraction, an
/// array, an object).
fn value_from_json(json: &Json) -> Option<AuditValue> {
    match json {
        Json::Null => Some(AuditValue::Null),
        Json::Bool(b) => Some(AuditValue::Bool(*b)),
        Json::Number(n) => n.as_i64().map(AuditValue::Int),
        Json::String(s) => Some(AuditValue::Text(s.clone())),
        Json::Array(_) | Json::Object(_) => None,
    }
}

fn changes_from_json(json: &Json) -> Option<Vec<Change>> {
    json.as_array()?
        .iter()
        .map(|change| {
            let object = change.as_object()?;
            if object.len() != 3 {
                return None;
            }
            Some(Change {
                field: object.get("field")?.as_str()?.to_owned(),
                from: value_from_json(object.get("from")?)?,
                to: value_from_json(object.get("to")?)?,
            })
        })
        .collect()
}

fn from_row(row: &Row) -> Result<AuditEntry, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt audit_entries row: {what}"));
    let actor_id: Option<Uuid> = row.try_get("actor_id").map_err(|_| corrupt("actor_id"))?;
    let changes: Json = row.try_get("changes").map_err(|_| corrupt("changes"))?;
    Ok(AuditEntry {
        id: AuditId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        actor_id: actor_id.map(UserId::from_uuid),
        action: row.try_get("action").map_err(|_| corrupt("action"))?,
        resource_type: row
            .try_get("resource_type")
            .map_err(|_| corrupt("resource_type"))?,
        resource_id: row
            .try_get("resource_id")
            .map_err(|_| corrupt("resource_id"))?,
        changes: changes_from_json(&changes).ok_or_else(|| corrupt("changes"))?,
        ip: row.try_get("ip").map_err(|_| corrupt("ip"))?,
        request_id: row
            .try_get("request_id")
            .map_err(|_| corrupt("request_id"))?,
        at: row.try_get("at").map_err(|_| corrupt("at"))?,
    })
}

/// The statement that appends `entry`.
pub(crate) fn insert(entry: &AuditEntry) -> InsertStatement {
    Query::insert()
        .into_table(AuditEntries::Table)
        .columns(COLUMNS)
        .values_panic([
            entry.id.as_uuid().into(),
            entry.actor_id.map(|id| id.as_uuid()).into(),
            entry.action.as_str().into(),
            entry.resource_type.as_str().into(),
            entry.resource_id.as_str().into(),
            changes_to_json(&entry.changes).into(),
            entry.ip.clone().into(),
            entry.request_id.clone().into(),
            entry.at.into(),
        ])
        .to_owned()
}

#[async_trait]
impl<E: Exec> AuditRepository for Repos<E> {
    async fn append(&self, entry: &AuditEntry) -> Result<(), RepoError> {
        self.write(&insert(entry)).await.map(|_| ())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, RepoError> {
        let mut query = Query::select();
        query
            .columns(COLUMNS)
            .from(AuditEntries::Table)
            .order_by(AuditEntries::Id, Order::Desc)
            .limit(pg_limit(limit));
        if let Some(actor) = filter.actor_id {
            query.and_where(Expr::col(AuditEntries::ActorId).eq(actor.as_uuid()));
        }
        if let Some(resource_type) = &filter.resource_type {
            query.and_where(Expr::col(AuditEntries::ResourceType).eq(resource_type.as_str()));
        }
        if let Some(resource_id) = &filter.resource_id {
            query.and_where(Expr::col(AuditEntries::ResourceId).eq(resource_id.as_str()));
        }
        if let Some(before) = before {
            query.and_where(Expr::col(AuditEntries::Id).lt(before.as_uuid()));
        }
        let query = query.to_owned();
        self.select(&query, from_row).await
    }
}
