//! `AccountRepository` on PostgreSQL.
//!
//! An account is shown with its count of live characters (`AccountView`),
//! counted in the same query by a subquery per account, which the
//! `characters_account_id` index answers.

use async_trait::async_trait;
use domain::ports::AccountRepository;
use domain::{
    AccountId, AccountView, GameAccount, Notes, PageRequest, Paged, RepoError, RosterName, UserId,
};
use sea_query::extension::postgres::PgExpr;
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement};
use time::OffsetDateTime;
use tokio_postgres::Row;

use crate::Repos;
use crate::catalog::contains_pattern;
use crate::exec::Exec;
use crate::roster::{corrupt, name_key, paginate, to_count};
use crate::schema::{Characters, GameAccounts};

const COLUMNS: [GameAccounts; 7] = [
    GameAccounts::Id,
    GameAccounts::OwnerId,
    GameAccounts::Name,
    GameAccounts::Notes,
    GameAccounts::CreatedAt,
    GameAccounts::UpdatedAt,
    GameAccounts::DeletedAt,
];

/// The owner's live accounts.
fn live_of(owner: UserId) -> Cond {
    Cond::all()
        .add(Expr::col((GameAccounts::Table, GameAccounts::OwnerId)).eq(owner.as_uuid()))
        .add(Expr::col((GameAccounts::Table, GameAccounts::DeletedAt)).is_null())
}

/// `SELECT` of account views: the account's columns and its count of live
/// characters.
fn view_select() -> SelectStatement {
    let characters = Query::select()
        .expr(Expr::col((Characters::Table, Characters::Id)).count())
        .from(Characters::Table)
        .and_where(
            Expr::col((Characters::Table, Characters::AccountId))
                .equals((GameAccounts::Table, GameAccounts::Id)),
        )
        .and_where(Expr::col((Characters::Table, Characters::DeletedAt)).is_null())
        .to_owned();
    Query::select()
        .columns(COLUMNS.map(|c| (GameAccounts::Table, c)))
        .expr_as(characters, "character_count")
        .from(GameAccounts::Table)
        .to_owned()
}

fn account_from_row(row: &Row) -> Result<GameAccount, RepoError> {
    let corrupt = |what: &str| corrupt("game_accounts", what);
    let name: String = row.try_get("name").map_err(|_| corrupt("name"))?;
    let notes: Option<String> = row.try_get("notes").map_err(|_| corrupt("notes"))?;
    // Only parsed names and notes are ever written.
    let notes = notes.map(Notes::from_stored);
    Ok(GameAccount {
        id: AccountId::from_uuid(row.try_get("id").map_err(|_| corrupt("id"))?),
        owner: UserId::from_uuid(row.try_get("owner_id").map_err(|_| corrupt("owner_id"))?),
        name: RosterName::from_stored(name),
        notes,
        created_at: row
            .try_get("created_at")
            .map_err(|_| corrupt("created_at"))?,
        updated_at: row
            .try_get("updated_at")
            .map_err(|_| corrupt("updated_at"))?,
    })
}

fn view_from_row(row: &Row) -> Result<AccountView, RepoError> {
    let count: i64 = row
        .try_get("character_count")
        .map_err(|_| corrupt("game_accounts", "character_count"))?;
    Ok(AccountView {
        account: account_from_row(row)?,
        character_count: to_count(count)?,
    })
}

#[async_trait]
impl<E: Exec> AccountRepository for Repos<E> {
    async fn insert(&self, account: &GameAccount) -> Result<(), RepoError> {
        let statement = Query::insert()
            .into_table(GameAccounts::Table)
            .columns(COLUMNS)
            .values_panic([
                account.id.as_uuid().into(),
                account.owner.as_uuid().into(),
                account.name.as_str().into(),
                account.notes.as_ref().map(|n| n.as_str().to_owned()).into(),
                account.created_at.into(),
                account.updated_at.into(),
                Option::<OffsetDateTime>::None.into(),
            ])
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn find(&self, owner: UserId, id: AccountId) -> Result<Option<AccountView>, RepoError> {
        let query = view_select()
            .cond_where(live_of(owner))
            .and_where(Expr::col((GameAccounts::Table, GameAccounts::Id)).eq(id.as_uuid()))
            .to_owned();
        Ok(self.select(&query, view_from_row).await?.pop())
    }

    async fn lock(&self, owner: UserId, id: AccountId) -> Result<bool, RepoError> {
        // FOR UPDATE: a concurrent delete or update of the account waits for
        // this unit to end, so characters are never added to an account
        // that is being deleted.
        let query = Query::select()
            .column((GameAccounts::Table, GameAccounts::Id))
            .from(GameAccounts::Table)
            .cond_where(live_of(owner))
            .and_where(Expr::col((GameAccounts::Table, GameAccounts::Id)).eq(id.as_uuid()))
            .lock_exclusive()
            .to_owned();
        Ok(!self.select(&query, |_| Ok(())).await?.is_empty())
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<AccountView>, RepoError> {
        let mut cond = live_of(owner);
        if let Some(search) = search {
            cond = cond.add(
                Expr::col((GameAccounts::Table, GameAccounts::Name))
                    .ilike(contains_pattern(search)),
            );
        }
        let mut items = view_select()
            .cond_where(cond.clone())
            .order_by_expr(
                name_key((GameAccounts::Table, GameAccounts::Name)),
                Order::Asc,
            )
            .order_by((GameAccounts::Table, GameAccounts::Id), Order::Asc)
            .to_owned();
        paginate(&mut items, page);
        let count = Query::select()
            .expr(Expr::col((GameAccounts::Table, GameAccounts::Id)).count())
            .from(GameAccounts::Table)
            .cond_where(cond)
            .to_owned();
        let items = self.select(&items, view_from_row).await?;
        let total = self.count(&count).await?;
        Ok(Paged { items, total })
    }

    async fn update(&self, account: &GameAccount) -> Result<bool, RepoError> {
        let statement = Query::update()
            .table(GameAccounts::Table)
            .value(GameAccounts::Name, account.name.as_str())
            .value(
                GameAccounts::Notes,
                account.notes.as_ref().map(|n| n.as_str().to_owned()),
            )
            .value(GameAccounts::UpdatedAt, account.updated_at)
            .and_where(Expr::col(GameAccounts::Id).eq(account.id.as_uuid()))
            .and_where(Expr::col(GameAccounts::OwnerId).eq(account.owner.as_uuid()))
            .and_where(Expr::col(GameAccounts::DeletedAt).is_null())
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn delete(
        &self,
        owner: UserId,
        id: AccountId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let statement = Query::update()
            .table(GameAccounts::Table)
            .value(GameAccounts::DeletedAt, at)
            .value(GameAccounts::UpdatedAt, at)
            .and_where(Expr::col(GameAccounts::Id).eq(id.as_uuid()))
            .and_where(Expr::col(GameAccounts::OwnerId).eq(owner.as_uuid()))
            .and_where(Expr::col(GameAccounts::DeletedAt).is_null())
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }
}
