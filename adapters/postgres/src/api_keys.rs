//! `ApiKeyRepository` on PostgreSQL.

use async_trait::async_trait;
use domain::ports::ApiKeyRepository;
use domain::{ApiKey, ApiKeyId, ApiKeyName, RepoError, TokenHash, UserId};
use sea_query::{Expr, ExprTrait, Order, Query, SelectStatement, UpdateStatement};
use time::{Duration, OffsetDateTime};
use tokio_postgres::Row;

use crate::Repos;
use crate::exec::Exec;
use crate::schema::ApiKeys;

const COLUMNS: [ApiKeys; 9] = [
    ApiKeys::Id,
    ApiKeys::OwnerId,
    ApiKeys::Name,
    ApiKeys::Prefix,
    ApiKeys::KeyHash,
    ApiKeys::CreatedAt,
    ApiKeys::LastUsedAt,
    ApiKeys::ExpiresAt,
    ApiKeys::RevokedAt,
];

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(ApiKeys::Table)
        .to_owned()
}

/// A stored row back into the domain. Values are trusted as stored (only
/// parsed ones are ever written); a column that does not read as its type,
/// or an unknown enum value, is a corrupt row, reported as such.
fn from_row(row: &Row) -> Result<ApiKey, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt api_keys row: {what}"));
    let name: String = row.try_get("name").map_err(|_| corrupt("name"))?;
    let hash: Vec<u8> = row.try_get("key_hash").map_err(|_| corrupt("key_hash"))?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("key_hash"))?;
    Ok(ApiKey {
        id: ApiKeyId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        owner: UserId::from_uuid(row.try_get("owner_id").map_err(|_| corrupt("owner_id"))?),
        // Only parsed names are ever written.
        name: ApiKeyName::from_stored(name),
        prefix: row.try_get("prefix").map_err(|_| corrupt("prefix"))?,
        key_hash: TokenHash(hash),
        created_at: row
            .try_get("created_at")
            .map_err(|_| corrupt("created_at"))?,
        last_used_at: row
            .try_get("last_used_at")
            .map_err(|_| corrupt("last_used_at"))?,
        expires_at: row
            .try_get("expires_at")
            .map_err(|_| corrupt("expires_at"))?,
        revoked_at: row
            .try_get("revoked_at")
            .map_err(|_| corrupt("revoked_at"))?,
    })
}

/// `UPDATE api_keys SET revoked_at` for the owner's keys that are still
/// unrevoked; the caller narrows it further.
fn revoke_where(owner: UserId, at: OffsetDateTime) -> UpdateStatement {
    Query::update()
        .table(ApiKeys::Table)
        .value(ApiKeys::RevokedAt, at)
        .and_where(Expr::col(ApiKeys::OwnerId).eq(owner.as_uuid()))
        .and_where(Expr::col(ApiKeys::RevokedAt).is_null())
        .to_owned()
}

#[async_trait]
impl<E: Exec> ApiKeyRepository for Repos<E> {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError> {
        let statement = Query::insert()
            .into_table(ApiKeys::Table)
            .columns(COLUMNS)
            .values_panic([
                key.id.as_uuid().into(),
                key.owner.as_uuid().into(),
                key.name.as_str().into(),
                key.prefix.as_str().into(),
                key.key_hash.as_bytes().to_vec().into(),
                key.created_at.into(),
                key.last_used_at.into(),
                key.expires_at.into(),
                key.revoked_at.into(),
            ])
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn find_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, RepoError> {
        let query = select()
            .and_where(Expr::col(ApiKeys::KeyHash).eq(hash.as_bytes().to_vec()))
            .to_owned();
        self.lookup(&query, from_row).await
    }

    async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, RepoError> {
        let query = select()
            .and_where(Expr::col(ApiKeys::OwnerId).eq(owner.as_uuid()))
            .and_where(Expr::col(ApiKeys::RevokedAt).is_null())
            .order_by(ApiKeys::CreatedAt, Order::Desc)
            .order_by(ApiKeys::Id, Order::Desc)
            .to_owned();
        self.select(&query, from_row).await
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        // `revoked_at IS NULL` in the WHERE makes this a compare-and-set: a
        // concurrent revoke waits for the row lock, then finds it revoked.
        let update = revoke_where(owner, at)
            .and_where(Expr::col(ApiKeys::Id).eq(id.as_uuid()))
            .to_owned();
        Ok(self.write(&update).await? == 1)
    }

    async fn revoke_all(&self, owner: UserId, at: OffsetDateTime) -> Result<u64, RepoError> {
        self.write(&revoke_where(owner, at)).await
    }

    async fn touch(
        &self,
        id: ApiKeyId,
        at: OffsetDateTime,
        min_interval: Duration,
    ) -> Result<(), RepoError> {
        let update = Query::update()
            .table(ApiKeys::Table)
            .value(ApiKeys::LastUsedAt, at)
            .and_where(Expr::col(ApiKeys::Id).eq(id.as_uuid()))
            .and_where(
                Expr::col(ApiKeys::LastUsedAt)
                    .is_null()
                    .or(Expr::col(ApiKeys::LastUsedAt).lt(at - min_interval)),
            )
            .to_owned();
        self.write(&update).await.map(|_| ())
    }
}
