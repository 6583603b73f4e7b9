//! `SessionRepository` on PostgreSQL.

use async_trait::async_trait;
use domain::ports::SessionRepository;
use domain::{FamilyId, RepoError, RevokeReason, Session, SessionId, TokenHash, UserId};
use std::sync::LazyLock;

use sea_query::{
    Expr, ExprTrait, Order, PostgresQueryBuilder, Query, SelectStatement, UpdateStatement,
};
use time::{Duration, OffsetDateTime};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::Repos;
use crate::exec::Exec;
use crate::schema::Sessions;

const COLUMNS: [Sessions; 14] = [
    Sessions::Id,
    Sessions::UserId,
    Sessions::FamilyId,
    Sessions::RefreshTokenHash,
    Sessions::CreatedAt,
    Sessions::LastUsedAt,
    Sessions::ExpiresAt,
    Sessions::FamilyExpiresAt,
    Sessions::RevokedAt,
    Sessions::RevokeReason,
    Sessions::ReplacedBy,
    Sessions::SealedRefreshToken,
    Sessions::UserAgent,
    Sessions::Ip,
];

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Sessions::Table)
        .to_owned()
}

fn from_row(row: &Row) -> Result<Session, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt sessions row: {what}"));
    let hash: Vec<u8> = row
        .try_get("refresh_token_hash")
        .map_err(|_| corrupt("refresh_token_hash"))?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("refresh_token_hash"))?;
    let reason: Option<String> = row
        .try_get("revoke_reason")
        .map_err(|_| corrupt("revoke_reason"))?;
    let revoke_reason = match reason {
        Some(reason) => Some(RevokeReason::parse(&reason).ok_or_else(|| corrupt("revoke_reason"))?),
        None => None,
    };
    let replaced_by: Option<Uuid> = row
        .try_get("replaced_by")
        .map_err(|_| corrupt("replaced_by"))?;
    Ok(Session {
        id: SessionId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        user_id: UserId::from_uuid(row.try_get("user_id").map_err(|_| corrupt("user_id"))?),
        family_id: FamilyId::from_uuid(row.try_get("family_id").map_err(|_| corrupt("family_id"))?),
        refresh_token_hash: TokenHash(hash),
        created_at: row
            .try_get("created_at")
            .map_err(|_| corrupt("created_at"))?,
        last_used_at: row
            .try_get("last_used_at")
            .map_err(|_| corrupt("last_used_at"))?,
        expires_at: row
            .try_get("expires_at")
            .map_err(|_| corrupt("expires_at"))?,
        family_expires_at: row
            .try_get("family_expires_at")
            .map_err(|_| corrupt("family_expires_at"))?,
        revoked_at: row
            .try_get("revoked_at")
            .map_err(|_| corrupt("revoked_at"))?,
        revoke_reason,
        replaced_by: replaced_by.map(SessionId::from_uuid),
        sealed_refresh_token: row
            .try_get("sealed_refresh_token")
            .map_err(|_| corrupt("sealed_refresh_token"))?,
        user_agent: row
            .try_get("user_agent")
            .map_err(|_| corrupt("user_agent"))?,
        ip: row.try_get("ip").map_err(|_| corrupt("ip"))?,
    })
}

/// `UPDATE sessions SET revoked_at, revoke_reason` for the owner's
/// sessions that are still unrevoked; the caller narrows it further.
fn revoke_where(owner: UserId, at: OffsetDateTime, reason: RevokeReason) -> UpdateStatement {
    Query::update()
        .table(Sessions::Table)
        .value(Sessions::RevokedAt, at)
        .value(Sessions::RevokeReason, reason.as_str())
        .and_where(Expr::col(Sessions::UserId).eq(owner.as_uuid()))
        .and_where(Expr::col(Sessions::RevokedAt).is_null())
        .to_owned()
}

#[async_trait]
impl<E: Exec> SessionRepository for Repos<E> {
    async fn insert(&self, s: &Session) -> Result<(), RepoError> {
        let statement = Query::insert()
            .into_table(Sessions::Table)
            .columns(COLUMNS)
            .values_panic([
                s.id.as_uuid().into(),
                s.user_id.as_uuid().into(),
                s.family_id.as_uuid().into(),
                s.refresh_token_hash.as_bytes().to_vec().into(),
                s.created_at.into(),
                s.last_used_at.into(),
                s.expires_at.into(),
                s.family_expires_at.into(),
                s.revoked_at.into(),
                s.revoke_reason.map(RevokeReason::as_str).into(),
                s.replaced_by.map(|id| id.as_uuid()).into(),
                s.sealed_refresh_token.clone().into(),
                s.user_agent.clone().into(),
                s.ip.clone().into(),
            ])
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        // Every authenticated request runs this: its text is built once.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            select()
                .and_where(Expr::col(Sessions::Id).eq(Uuid::nil()))
                .build(PostgresQueryBuilder)
                .0
        });
        let rows = self.0.lookup(&SQL, &[&id.as_uuid()]).await?;
        rows.first().map(from_row).transpose()
    }

    async fn find_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, RepoError> {
        let query = select()
            .and_where(Expr::col(Sessions::RefreshTokenHash).eq(hash.as_bytes().to_vec()))
            .to_owned();
        Ok(self.select(&query, from_row).await?.into_iter().next())
    }

    async fn list_active(
        &self,
        owner: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepoError> {
        let query = select()
            .and_where(Expr::col(Sessions::UserId).eq(owner.as_uuid()))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .and_where(Expr::col(Sessions::ExpiresAt).gt(now))
            .order_by(Sessions::CreatedAt, Order::Desc)
            .order_by(Sessions::Id, Order::Desc)
            .to_owned();
        self.select(&query, from_row).await
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: SessionId,
        at: OffsetDateTime,
        reason: RevokeReason,
        replaced_by: Option<SessionId>,
    ) -> Result<bool, RepoError> {
        // `revoked_at IS NULL` in the WHERE makes this a compare-and-set: a
        // concurrent revoke waits for the row lock, then finds it revoked.
        let update = revoke_where(owner, at, reason)
            .value(Sessions::ReplacedBy, replaced_by.map(|s| s.as_uuid()))
            .and_where(Expr::col(Sessions::Id).eq(id.as_uuid()))
            .to_owned();
        Ok(self.write(&update).await? == 1)
    }

    async fn revoke_family(
        &self,
        owner: UserId,
        family: FamilyId,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError> {
        let update = revoke_where(owner, at, reason)
            .and_where(Expr::col(Sessions::FamilyId).eq(family.as_uuid()))
            .to_owned();
        self.write(&update).await
    }

    async fn revoke_all(
        &self,
        owner: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError> {
        let mut update = revoke_where(owner, at, reason);
        if let Some(keep) = keep {
            update.and_where(Expr::col(Sessions::Id).ne(keep.as_uuid()));
        }
        self.write(&update).await
    }

    async fn touch(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        min_interval: Duration,
    ) -> Result<(), RepoError> {
        let update = Query::update()
            .table(Sessions::Table)
            .value(Sessions::LastUsedAt, at)
            .and_where(Expr::col(Sessions::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Sessions::LastUsedAt).lt(at - min_interval))
            .to_owned();
        self.write(&update).await.map(|_| ())
    }

    async fn purge_sealed_tokens(&self, created_before: OffsetDateTime) -> Result<u64, RepoError> {
        let update = Query::update()
            .table(Sessions::Table)
            .value(Sessions::SealedRefreshToken, Option::<Vec<u8>>::None)
            .and_where(Expr::col(Sessions::SealedRefreshToken).is_not_null())
            .and_where(Expr::col(Sessions::CreatedAt).lt(created_before))
            .to_owned();
        self.write(&update).await
    }

    async fn delete_expired(&self, expired_before: OffsetDateTime) -> Result<u64, RepoError> {
        let delete = Query::delete()
            .from_table(Sessions::Table)
            .and_where(Expr::col(Sessions::ExpiresAt).lt(expired_before))
            .to_owned();
        self.write(&delete).await
    }
}
