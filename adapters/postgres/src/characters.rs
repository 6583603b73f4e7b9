//! `CharacterRepository` on PostgreSQL.
//!
//! A character is shown with its names (`CharacterView`), read in the same
//! query: its account's (even a deleted account's), and its class's and
//! server's from the catalog, empty when the catalog no longer holds the id.

use async_trait::async_trait;
use domain::ports::CharacterRepository;
use domain::{
    AccountId, Character, CharacterChanges, CharacterEdit, CharacterFilter, CharacterId,
    CharacterSort, CharacterView, ClassId, Level, PageRequest, Paged, RepoError, RosterName,
    ServerId, UserId,
};
use sea_query::extension::postgres::PgExpr;
use sea_query::{
    Cond, Expr, ExprTrait, Func, LockType, Order, PostgresQueryBuilder, Query, QueryBuilder,
    SelectStatement, UpdateStatement,
};
use sea_query_postgres::PostgresBinder;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::Repos;
use crate::catalog::contains_pattern;
use crate::exec::Exec;
use crate::roster::{corrupt, name_key, paginate};
use crate::schema::{CatalogClasses, CatalogServers, Characters, GameAccounts};

const COLUMNS: [Characters; 11] = [
    Characters::Id,
    Characters::OwnerId,
    Characters::AccountId,
    Characters::Name,
    Characters::Level,
    Characters::ClassId,
    Characters::ServerId,
    Characters::Version,
    Characters::CreatedAt,
    Characters::UpdatedAt,
    Characters::DeletedAt,
];

/// `SELECT` of character views: the character's columns, its account's
/// name, and its class's and server's names (`''` when the catalog lacks
/// them). Every other roster query that shows characters starts here.
pub(crate) fn view_select() -> SelectStatement {
    Query::select()
        .columns(COLUMNS.map(|c| (Characters::Table, c)))
        .expr_as(
            Expr::col((GameAccounts::Table, GameAccounts::Name)),
            "account_name",
        )
        .expr_as(
            Func::coalesce([
                Expr::col((CatalogClasses::Table, CatalogClasses::Name)),
                Expr::val(""),
            ]),
            "class_name",
        )
        .expr_as(
            Func::coalesce([
                Expr::col((CatalogServers::Table, CatalogServers::Name)),
                Expr::val(""),
            ]),
            "server_name",
        )
        .from(Characters::Table)
        .inner_join(
            GameAccounts::Table,
            Expr::col((GameAccounts::Table, GameAccounts::Id))
                .equals((Characters::Table, Characters::AccountId)),
        )
        .left_join(
            CatalogClasses::Table,
            Expr::col((CatalogClasses::Table, CatalogClasses::Id))
                .equals((Characters::Table, Characters::ClassId)),
        )
        .left_join(
            CatalogServers::Table,
            Expr::col((CatalogServers::Table, CatalogServers::Id))
                .equals((Characters::Table, Characters::ServerId)),
        )
        .to_owned()
}

/// The owner's live characters.
pub(crate) fn live_of(owner: UserId) -> Cond {
    Cond::all()
        .add(Expr::col((Characters::Table, Characters::OwnerId)).eq(owner.as_uuid()))
        .add(Expr::col((Characters::Table, Characters::DeletedAt)).is_null())
}

/// The names a row gives a character's columns, in [`COLUMNS`] order.
type ColumnNames = [&'static str; 11];

const PLAIN: ColumnNames = [
    "id",
    "owner_id",
    "account_id",
    "name",
    "level",
    "class_id",
    "server_id",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
];

fn character_from_row(row: &Row) -> Result<Character, RepoError> {
    character_from_columns(row, &PLAIN)
}

fn character_from_columns(row: &Row, names: &ColumnNames) -> Result<Character, RepoError> {
    let [
        id,
        owner_id,
        account_id,
        name,
        level,
        class_id,
        server_id,
        version,
        created_at,
        updated_at,
        deleted_at,
    ] = *names;
    let corrupt = |what: &str| corrupt("characters", what);
    let name_text: String = row.try_get(name).map_err(|_| corrupt("name"))?;
    let level_value: i16 = row.try_get(level).map_err(|_| corrupt("level"))?;
    Ok(Character {
        id: CharacterId::from_uuid(row.try_get(id).map_err(|_| corrupt("id"))?),
        owner: UserId::from_uuid(row.try_get(owner_id).map_err(|_| corrupt("owner_id"))?),
        account_id: AccountId::from_uuid(
            row.try_get(account_id).map_err(|_| corrupt("account_id"))?,
        ),
        // Only parsed names and checked levels are ever written.
        name: RosterName::from_stored(name_text),
        level: Level::from_stored(level_value),
        class_id: ClassId(row.try_get(class_id).map_err(|_| corrupt("class_id"))?),
        server_id: ServerId(row.try_get(server_id).map_err(|_| corrupt("server_id"))?),
        version: row.try_get(version).map_err(|_| corrupt("version"))?,
        created_at: row.try_get(created_at).map_err(|_| corrupt("created_at"))?,
        updated_at: row.try_get(updated_at).map_err(|_| corrupt("updated_at"))?,
        deleted_at: row.try_get(deleted_at).map_err(|_| corrupt("deleted_at"))?,
    })
}

/// [`CharacterRepository::find`]: the hottest read, so its text is fixed,
/// and the class's and server's names come from the names the storage
/// holds ([`crate::catalog_names`]) rather than two more joins. The
/// character is found by its primary key first (the `MATERIALIZED` step),
/// then checked to be the owner's and live: planned from the owner's
/// indexes instead, it would read every character of the owner to find
/// one, which a planner without statistics on a young table picks.
const FIND_SQL: &str = r#"
WITH c AS MATERIALIZED (SELECT * FROM characters WHERE id = $1)
SELECT
    c.id, c.owner_id, c.account_id, c.name, c.level, c.class_id, c.server_id, c.version,
    c.created_at, c.updated_at, c.deleted_at,
    a.name AS account_name
FROM c
JOIN game_accounts AS a ON a.id = c.account_id
WHERE c.owner_id = $2 AND c.deleted_at IS NULL
"#;

/// [`CharacterRepository::edit`] in one statement: the character locked and
/// read as it is (`current`), written if its version is expected and a
/// field changes (`written`), and both returned with the names of what it
/// is now. Parameters: id, owner, then the new name, level, class, server
/// and account (`NULL`: keep), the expected versions (`NULL`: any), the
/// time of the edit.
const EDIT_SQL: &str = r#"
WITH current AS (
    SELECT * FROM characters
    WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL
    FOR UPDATE
), written AS (
    UPDATE characters AS c SET
        name = COALESCE($3, cur.name),
        level = COALESCE($4, cur.level),
        class_id = COALESCE($5, cur.class_id),
        server_id = COALESCE($6, cur.server_id),
        account_id = COALESCE($7, cur.account_id),
        version = cur.version + 1,
        updated_at = $9
    FROM current AS cur
    WHERE c.id = cur.id
      AND ($8::int8[] IS NULL OR cur.version = ANY($8::int8[]))
      AND (COALESCE($3, cur.name), COALESCE($4, cur.level), COALESCE($5, cur.class_id),
           COALESCE($6, cur.server_id), COALESCE($7, cur.account_id))
          IS DISTINCT FROM (cur.name, cur.level, cur.class_id, cur.server_id, cur.account_id)
    RETURNING c.*
)
SELECT
    cur.id AS before_id, cur.owner_id AS before_owner_id, cur.account_id AS before_account_id,
    cur.name AS before_name, cur.level AS before_level, cur.class_id AS before_class_id,
    cur.server_id AS before_server_id, cur.version AS before_version,
    cur.created_at AS before_created_at, cur.updated_at AS before_updated_at,
    cur.deleted_at AS before_deleted_at,
    w.id, w.owner_id, w.account_id, w.name, w.level, w.class_id, w.server_id, w.version,
    w.created_at, w.updated_at, w.deleted_at,
    a.name AS account_name,
    COALESCE(cc.name, '') AS class_name,
    COALESCE(cs.name, '') AS server_name
FROM current AS cur
LEFT JOIN written AS w ON TRUE
JOIN game_accounts AS a ON a.id = COALESCE(w.account_id, cur.account_id)
LEFT JOIN catalog_classes AS cc ON cc.id = COALESCE(w.class_id, cur.class_id)
LEFT JOIN catalog_servers AS cs ON cs.id = COALESCE(w.server_id, cur.server_id)
"#;

const BEFORE: ColumnNames = [
    "before_id",
    "before_owner_id",
    "before_account_id",
    "before_name",
    "before_level",
    "before_class_id",
    "before_server_id",
    "before_version",
    "before_created_at",
    "before_updated_at",
    "before_deleted_at",
];

/// A row of [`EDIT_SQL`] back into the domain.
fn edit_from_row(row: &Row, expected: Option<&[i64]>) -> Result<CharacterEdit, RepoError> {
    let corrupt = |what: &str| corrupt("characters", what);
    let before = character_from_columns(row, &BEFORE)?;
    let names = |character| -> Result<CharacterView, RepoError> {
        Ok(CharacterView {
            character,
            account_name: row
                .try_get("account_name")
                .map_err(|_| corrupt("account_name"))?,
            class_name: row
                .try_get("class_name")
                .map_err(|_| corrupt("class_name"))?,
            server_name: row
                .try_get("server_name")
                .map_err(|_| corrupt("server_name"))?,
        })
    };
    let written: Option<uuid::Uuid> = row.try_get("id").map_err(|_| corrupt("id"))?;
    if written.is_some() {
        let after = names(character_from_row(row)?)?;
        return Ok(CharacterEdit::Written {
            before: Box::new(before),
            after: Box::new(after),
        });
    }
    if expected.is_some_and(|versions| !versions.contains(&before.version)) {
        return Ok(CharacterEdit::VersionMismatch {
            current: before.version,
        });
    }
    Ok(CharacterEdit::Unchanged(names(before)?))
}

/// A row of [`view_select`] back into the domain.
pub(crate) fn view_from_row(row: &Row) -> Result<CharacterView, RepoError> {
    let corrupt = |what: &str| corrupt("characters", what);
    Ok(CharacterView {
        character: character_from_row(row)?,
        account_name: row
            .try_get("account_name")
            .map_err(|_| corrupt("account_name"))?,
        class_name: row
            .try_get("class_name")
            .map_err(|_| corrupt("class_name"))?,
        server_name: row
            .try_get("server_name")
            .map_err(|_| corrupt("server_name"))?,
    })
}

/// The `WHERE` of a list: the owner's live characters matching `filter`.
fn list_where(owner: UserId, filter: &CharacterFilter) -> Cond {
    let column = |c: Characters| Expr::col((Characters::Table, c));
    let mut cond = live_of(owner);
    if let Some(search) = &filter.search {
        cond = cond.add(column(Characters::Name).ilike(contains_pattern(search)));
    }
    if !filter.class_ids.is_empty() {
        cond = cond.add(column(Characters::ClassId).is_in(filter.class_ids.iter().map(|c| c.0)));
    }
    if !filter.server_ids.is_empty() {
        cond = cond.add(column(Characters::ServerId).is_in(filter.server_ids.iter().map(|s| s.0)));
    }
    if !filter.account_ids.is_empty() {
        cond = cond.add(
            column(Characters::AccountId).is_in(filter.account_ids.iter().map(|a| a.as_uuid())),
        );
    }
    if let Some(min) = filter.level_min {
        cond = cond.add(column(Characters::Level).gte(min.get()));
    }
    if let Some(max) = filter.level_max {
        cond = cond.add(column(Characters::Level).lte(max.get()));
    }
    cond
}

/// `query` in `sort` order, as `CharacterSort` defines it: every order is
/// total (it ends on the id), and each matches one index of the migration.
fn order(query: &mut SelectStatement, sort: CharacterSort) {
    let name = || name_key((Characters::Table, Characters::Name));
    let (first, direction) = match sort {
        CharacterSort::NameAsc => (None, Order::Asc),
        CharacterSort::NameDesc => (None, Order::Desc),
        CharacterSort::LevelAsc => (Some(Characters::Level), Order::Asc),
        CharacterSort::LevelDesc => (Some(Characters::Level), Order::Desc),
        CharacterSort::CreatedAtAsc => (Some(Characters::CreatedAt), Order::Asc),
        CharacterSort::CreatedAtDesc => (Some(Characters::CreatedAt), Order::Desc),
    };
    match first {
        None => {
            query.order_by_expr(name(), direction.clone());
        }
        Some(Characters::Level) => {
            // Equal levels: by name ascending whatever the direction.
            query
                .order_by((Characters::Table, Characters::Level), direction.clone())
                .order_by_expr(name(), Order::Asc);
        }
        Some(column) => {
            query.order_by((Characters::Table, column), direction.clone());
        }
    }
    query.order_by((Characters::Table, Characters::Id), direction);
}

/// The two statements of one list: the page, and the count of every match.
fn list_statements(
    owner: UserId,
    filter: &CharacterFilter,
    sort: CharacterSort,
    page: PageRequest,
) -> (SelectStatement, SelectStatement) {
    let cond = list_where(owner, filter);
    let mut items = view_select().cond_where(cond.clone()).to_owned();
    order(&mut items, sort);
    paginate(&mut items, page);
    let count = Query::select()
        .expr(Expr::col((Characters::Table, Characters::Id)).count())
        .from(Characters::Table)
        .cond_where(cond)
        .to_owned();
    (items, count)
}

/// One statement as the adapter sends it, for a test that asks PostgreSQL
/// how it plans it: the SQL with `$n` placeholders, and each bound value
/// as an SQL literal (for `EXECUTE name(arguments)`).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct StatementSql {
    pub sql: String,
    pub arguments: Vec<String>,
}

impl StatementSql {
    fn of(statement: &SelectStatement) -> Self {
        let (sql, values) = statement.build(PostgresQueryBuilder);
        let arguments = values
            .iter()
            .map(|v| PostgresQueryBuilder.value_to_string(v))
            .collect();
        Self { sql, arguments }
    }
}

/// The page and count statements `CharacterRepository::list` runs for
/// these arguments. Not part of the storage API: it exists so a test can
/// check the plans of the very SQL the adapter issues.
#[doc(hidden)]
pub fn character_list_sql(
    owner: UserId,
    filter: &CharacterFilter,
    sort: CharacterSort,
    page: PageRequest,
) -> (StatementSql, StatementSql) {
    let (items, count) = list_statements(owner, filter, sort, page);
    (StatementSql::of(&items), StatementSql::of(&count))
}

/// `UPDATE characters` of the owner's live characters, marking them
/// deleted at `at`; the caller narrows it and reads the ids it returns.
fn soft_delete(owner: UserId, at: OffsetDateTime) -> UpdateStatement {
    Query::update()
        .table(Characters::Table)
        .value(Characters::DeletedAt, at)
        .value(Characters::UpdatedAt, at)
        .and_where(Expr::col(Characters::OwnerId).eq(owner.as_uuid()))
        .and_where(Expr::col(Characters::DeletedAt).is_null())
        .returning_col(Characters::Id)
        .to_owned()
}

impl<E: Exec> Repos<E> {
    async fn deleted_ids(&self, update: &UpdateStatement) -> Result<Vec<CharacterId>, RepoError> {
        let (sql, values) = update.build_postgres(PostgresQueryBuilder);
        let rows = self.0.query(&sql, &values.as_params()).await?;
        rows.iter()
            .map(|row| {
                row.try_get("id")
                    .map(CharacterId::from_uuid)
                    .map_err(|_| corrupt("characters", "id"))
            })
            .collect()
    }
}

#[async_trait]
impl<E: Exec> CharacterRepository for Repos<E> {
    async fn insert(&self, character: &Character) -> Result<(), RepoError> {
        let statement = Query::insert()
            .into_table(Characters::Table)
            .columns(COLUMNS)
            .values_panic([
                character.id.as_uuid().into(),
                character.owner.as_uuid().into(),
                character.account_id.as_uuid().into(),
                character.name.as_str().into(),
                character.level.get().into(),
                character.class_id.0.into(),
                character.server_id.0.into(),
                character.version.into(),
                character.created_at.into(),
                character.updated_at.into(),
                character.deleted_at.into(),
            ])
            .to_owned();
        self.write(&statement).await.map(|_| ())
    }

    async fn find(
        &self,
        owner: UserId,
        id: CharacterId,
    ) -> Result<Option<CharacterView>, RepoError> {
        let (id, owner) = (id.as_uuid(), owner.as_uuid());
        let params: [&(dyn ToSql + Sync); 2] = [&id, &owner];
        let (rows, names) = futures::try_join!(self.0.lookup(FIND_SQL, &params), self.1.get(self))?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let character = character_from_row(row)?;
        Ok(Some(CharacterView {
            account_name: row
                .try_get("account_name")
                .map_err(|_| corrupt("characters", "account_name"))?,
            class_name: names.class(character.class_id.0),
            server_name: names.server(character.server_id.0),
            character,
        }))
    }

    async fn find_many(
        &self,
        owner: UserId,
        ids: &[CharacterId],
    ) -> Result<Vec<CharacterView>, RepoError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = view_select()
            .cond_where(live_of(owner))
            .and_where(
                Expr::col((Characters::Table, Characters::Id))
                    .is_in(ids.iter().map(|id| id.as_uuid())),
            )
            // Inside a transaction: no other unit changes them (a server move)
            // until this one ends. Only the characters' rows: the catalog
            // tables sit on the nullable side of outer joins.
            .lock_with_tables(LockType::Share, [Characters::Table])
            .to_owned();
        self.select(&query, view_from_row).await
    }

    async fn list(
        &self,
        owner: UserId,
        filter: &CharacterFilter,
        sort: CharacterSort,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RepoError> {
        let (items, count) = list_statements(owner, filter, sort, page);
        let items = self.select(&items, view_from_row).await?;
        let total = self.count(&count).await?;
        Ok(Paged { items, total })
    }

    async fn update(
        &self,
        character: &Character,
        expected_version: i64,
    ) -> Result<bool, RepoError> {
        // The version in the WHERE makes this a compare-and-set: a
        // concurrent update waits for the row lock, then finds the version
        // moved on and touches nothing.
        let statement = Query::update()
            .table(Characters::Table)
            .value(Characters::AccountId, character.account_id.as_uuid())
            .value(Characters::Name, character.name.as_str())
            .value(Characters::Level, character.level.get())
            .value(Characters::ClassId, character.class_id.0)
            .value(Characters::ServerId, character.server_id.0)
            .value(Characters::Version, character.version)
            .value(Characters::UpdatedAt, character.updated_at)
            .and_where(Expr::col(Characters::Id).eq(character.id.as_uuid()))
            .and_where(Expr::col(Characters::OwnerId).eq(character.owner.as_uuid()))
            .and_where(Expr::col(Characters::DeletedAt).is_null())
            .and_where(Expr::col(Characters::Version).eq(expected_version))
            .to_owned();
        Ok(self.write(&statement).await? == 1)
    }

    async fn edit(
        &self,
        owner: UserId,
        id: CharacterId,
        changes: &CharacterChanges,
        expected: Option<&[i64]>,
        at: OffsetDateTime,
    ) -> Result<CharacterEdit, RepoError> {
        let rows = self
            .0
            .query(
                EDIT_SQL,
                &[
                    &id.as_uuid(),
                    &owner.as_uuid(),
                    &changes.name.as_ref().map(RosterName::as_str),
                    &changes.level.map(Level::get),
                    &changes.class_id.map(|class| class.0),
                    &changes.server_id.map(|server| server.0),
                    &changes.account_id.map(|account| account.as_uuid()),
                    &expected,
                    &at,
                ],
            )
            .await?;
        match rows.first() {
            Some(row) => edit_from_row(row, expected),
            None => Ok(CharacterEdit::NotFound),
        }
    }

    async fn delete(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let update = soft_delete(owner, at)
            .and_where(Expr::col(Characters::Id).is_in(ids.iter().map(|id| id.as_uuid())))
            .to_owned();
        self.deleted_ids(&update).await
    }

    async fn delete_by_account(
        &self,
        owner: UserId,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        let update = soft_delete(owner, at)
            .and_where(Expr::col(Characters::AccountId).eq(account.as_uuid()))
            .to_owned();
        self.deleted_ids(&update).await
    }
}
