//! `UserRepository` on PostgreSQL.

use async_trait::async_trait;
use domain::ports::UserRepository;
use domain::{DisplayName, Email, PasswordHash, RepoError, Role, User, UserId};
use sea_query::extension::postgres::PgExpr;
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement};
use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::Repos;
use crate::catalog::contains_pattern;
use crate::exec::{Exec, pg_limit};
use crate::schema::Users;

const COLUMNS: [Users; 9] = [
    Users::Id,
    Users::Email,
    Users::DisplayName,
    Users::Role,
    Users::PasswordHash,
    Users::Disabled,
    Users::CreatedAt,
    Users::UpdatedAt,
    Users::LastLoginAt,
];

fn select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .to_owned()
}

/// A stored row back into the domain. Values are trusted as stored (only
/// parsed ones are ever written); a column that does not read as its type,
/// or an unknown enum value, is a corrupt row, reported as such.
fn from_row(row: &Row) -> Result<User, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt users row: {what}"));
    let email: String = row.try_get("email").map_err(|_| corrupt("email"))?;
    let display_name: String = row
        .try_get("display_name")
        .map_err(|_| corrupt("display_name"))?;
    let role: String = row.try_get("role").map_err(|_| corrupt("role"))?;
    Ok(User {
        id: UserId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        // Only parsed addresses and names are ever written.
        email: Email::from_stored(email),
        display_name: DisplayName::from_stored(display_name),
        role: Role::parse(&role).ok_or_else(|| corrupt("role"))?,
        password_hash: PasswordHash::new(
            row.try_get("password_hash")
                .map_err(|_| corrupt("password_hash"))?,
        ),
        disabled: row.try_get("disabled").map_err(|_| corrupt("disabled"))?,
        created_at: row
            .try_get("created_at")
            .map_err(|_| corrupt("created_at"))?,
        updated_at: row
            .try_get("updated_at")
            .map_err(|_| corrupt("updated_at"))?,
        last_login_at: row
            .try_get("last_login_at")
            .map_err(|_| corrupt("last_login_at"))?,
    })
}

#[async_trait]
impl<E: Exec> UserRepository for Repos<E> {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        let statement = Query::insert()
            .into_table(Users::Table)
            .columns(COLUMNS)
            .values_panic([
                user.id.as_uuid().into(),
                user.email.as_str().into(),
                user.display_name.as_str().into(),
                user.role.as_str().into(),
                user.password_hash.as_str().into(),
                user.disabled.into(),
                user.created_at.into(),
                user.updated_at.into(),
                user.last_login_at.into(),
            ])
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let query = select()
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        self.lookup(&query, from_row).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let query = select()
            .and_where(Expr::col(Users::Email).eq(email.as_str()))
            .to_owned();
        Ok(self.select(&query, from_row).await?.into_iter().next())
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let statement = Query::update()
            .table(Users::Table)
            .value(Users::PasswordHash, new.as_str())
            .value(Users::UpdatedAt, at)
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .and_where(Expr::col(Users::PasswordHash).eq(current.as_str()))
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn set_role(
        &self,
        id: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        // `updated_at` moves only when the role really changes.
        let statement = Query::update()
            .table(Users::Table)
            .value(Users::Role, role.as_str())
            .value(
                Users::UpdatedAt,
                Expr::case(
                    Expr::col(Users::Role).eq(role.as_str()),
                    Expr::col(Users::UpdatedAt),
                )
                .finally(at),
            )
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn record_login(&self, id: UserId, at: OffsetDateTime) -> Result<(), RepoError> {
        let statement = Query::update()
            .table(Users::Table)
            .value(Users::LastLoginAt, at)
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        // `updated_at` moves only when the flag really changes.
        let statement = Query::update()
            .table(Users::Table)
            .value(Users::Disabled, disabled)
            .value(
                Users::UpdatedAt,
                Expr::case(
                    Expr::col(Users::Disabled).eq(disabled),
                    Expr::col(Users::UpdatedAt),
                )
                .finally(at),
            )
            .and_where(Expr::col(Users::Id).eq(id.as_uuid()))
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn list(
        &self,
        search: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, RepoError> {
        // By primary key: the keyset walk is an index range scan. A search
        // is a substring match, which no b-tree serves; it filters that scan.
        let mut filter = Cond::all();
        if let Some(search) = search {
            let pattern = contains_pattern(search);
            filter = filter.add(
                Cond::any()
                    .add(Expr::col(Users::Email).ilike(pattern.clone()))
                    .add(Expr::col(Users::DisplayName).ilike(pattern)),
            );
        }
        if let Some(after) = after {
            filter = filter.add(Expr::col(Users::Id).gt(after.as_uuid()));
        }
        let query = select()
            .cond_where(filter)
            .order_by(Users::Id, Order::Asc)
            .limit(pg_limit(limit))
            .to_owned();
        self.select(&query, from_row).await
    }
}
