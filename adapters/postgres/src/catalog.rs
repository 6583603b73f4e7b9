//! `CatalogRepository` on PostgreSQL.
//!
//! A replacement deletes the whole catalog and inserts the new one in one
//! transaction (the caller's, or one of its own), so every single read sees
//! the old catalog or the new one. Readers are never blocked: the lock a
//! replacement takes only keeps out other replacements.
//!
//! Retired entries stay in their tables with `retired = true`: the lists and
//! counts read `NOT retired` rows, the lookups by id read every row.

use async_trait::async_trait;
use domain::ports::CatalogRepository;
use domain::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, RepoError,
    ServerId,
};
use sea_query::extension::postgres::PgExpr;
use sea_query::{Expr, ExprTrait, IntoIden, Order, PostgresQueryBuilder, Query, SimpleExpr};
use sea_query_postgres::{PostgresBinder, PostgresValues};
use tokio_postgres::Row;

use crate::Repos;
use crate::exec::{Exec, Statement, pg_limit};
use crate::schema::{CatalogClasses, CatalogItems, CatalogMeta, CatalogServers};

/// Rows per `INSERT`: 4 000 parameters for items, far below PostgreSQL's
/// 65 535, and few enough round trips for the catalog's thousands of items.
const CHUNK: usize = 1000;

/// Taken first by every replacement, for the rest of its transaction. It
/// conflicts with itself and with writes, not with reads: two replacements
/// run one after the other (otherwise the second would not see, and so not
/// delete, the rows the first inserts, and would collide with them), and
/// readers go on reading the old catalog meanwhile.
const LOCK: &str = "LOCK TABLE catalog_meta IN SHARE ROW EXCLUSIVE MODE";

/// `text` with the characters `LIKE` gives a meaning to escaped, inside
/// `%…%`: a substring match of exactly `text`. Backslash is the escape
/// character `LIKE` uses when none is given.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Multi-row `INSERT`s of `rows` into `table`, `CHUNK` rows each.
fn inserts<T, const N: usize>(
    table: impl IntoIden + Copy,
    columns: [impl IntoIden + Copy; N],
    rows: &[T],
    values: impl Fn(&T) -> [SimpleExpr; N],
) -> impl Iterator<Item = Statement> {
    rows.chunks(CHUNK).map(move |chunk| {
        let mut insert = Query::insert();
        insert.into_table(table).columns(columns);
        for row in chunk {
            insert.values_panic(values(row));
        }
        insert.build_postgres(PostgresQueryBuilder)
    })
}

fn corrupt(table: &str, what: &str) -> RepoError {
    RepoError::unknown(format!("corrupt {table} row: {what}"))
}

/// A name as the domain allows it: not blank.
fn name(row: &Row, table: &str) -> Result<String, RepoError> {
    let name: String = row.try_get("name").map_err(|_| corrupt(table, "name"))?;
    if name.trim().is_empty() {
        return Err(corrupt(table, "name"));
    }
    Ok(name)
}

fn retired(row: &Row, table: &str) -> Result<bool, RepoError> {
    row.try_get("retired")
        .map_err(|_| corrupt(table, "retired"))
}

const CLASS_COLUMNS: [CatalogClasses; 3] = [
    CatalogClasses::Id,
    CatalogClasses::Name,
    CatalogClasses::Retired,
];
const SERVER_COLUMNS: [CatalogServers; 3] = [
    CatalogServers::Id,
    CatalogServers::Name,
    CatalogServers::Retired,
];
const ITEM_COLUMNS: [CatalogItems; 6] = [
    CatalogItems::Id,
    CatalogItems::Kind,
    CatalogItems::Name,
    CatalogItems::Level,
    CatalogItems::SourceId,
    CatalogItems::Retired,
];

fn class_from_row(row: &Row) -> Result<CharacterClass, RepoError> {
    let table = "catalog_classes";
    Ok(CharacterClass {
        id: ClassId(row.try_get("id").map_err(|_| corrupt(table, "id"))?),
        name: name(row, table)?,
        retired: retired(row, table)?,
    })
}

fn server_from_row(row: &Row) -> Result<GameServer, RepoError> {
    let table = "catalog_servers";
    Ok(GameServer {
        id: ServerId(row.try_get("id").map_err(|_| corrupt(table, "id"))?),
        name: name(row, table)?,
        retired: retired(row, table)?,
    })
}

fn item_from_row(row: &Row) -> Result<CatalogItem, RepoError> {
    let table = "catalog_items";
    let kind: String = row.try_get("kind").map_err(|_| corrupt(table, "kind"))?;
    let level: i16 = row.try_get("level").map_err(|_| corrupt(table, "level"))?;
    if !(1..=200).contains(&level) {
        return Err(corrupt(table, "level"));
    }
    Ok(CatalogItem {
        id: ItemId(row.try_get("id").map_err(|_| corrupt(table, "id"))?),
        kind: ItemKind::parse(&kind).ok_or_else(|| corrupt(table, "kind"))?,
        name: name(row, table)?,
        level,
        source_id: row
            .try_get("source_id")
            .map_err(|_| corrupt(table, "source_id"))?,
        retired: retired(row, table)?,
    })
}

impl<E: Exec> Repos<E> {
    /// The classes by id: every one when `retired` is true (the names the
    /// characters are shown with), else the current ones.
    pub(crate) async fn every_class(
        &self,
        retired: bool,
    ) -> Result<Vec<CharacterClass>, RepoError> {
        let mut query = Query::select();
        query
            .columns(CLASS_COLUMNS)
            .from(CatalogClasses::Table)
            .order_by(CatalogClasses::Id, Order::Asc);
        if !retired {
            query.and_where(Expr::col(CatalogClasses::Retired).not());
        }
        self.lookup_all(&query, class_from_row).await
    }

    /// The servers by id, as [`Repos::every_class`].
    pub(crate) async fn every_server(&self, retired: bool) -> Result<Vec<GameServer>, RepoError> {
        let mut query = Query::select();
        query
            .columns(SERVER_COLUMNS)
            .from(CatalogServers::Table)
            .order_by(CatalogServers::Id, Order::Asc);
        if !retired {
            query.and_where(Expr::col(CatalogServers::Retired).not());
        }
        self.lookup_all(&query, server_from_row).await
    }
}

#[async_trait]
impl<E: Exec> CatalogRepository for Repos<E> {
    async fn replace(&self, snapshot: &CatalogSnapshot) -> Result<(), RepoError> {
        let mut statements: Vec<Statement> = vec![(LOCK.to_owned(), PostgresValues(Vec::new()))];
        statements.extend(
            [
                Query::delete().from_table(CatalogItems::Table).to_owned(),
                Query::delete().from_table(CatalogClasses::Table).to_owned(),
                Query::delete().from_table(CatalogServers::Table).to_owned(),
                Query::delete().from_table(CatalogMeta::Table).to_owned(),
            ]
            .iter()
            .map(|delete| delete.build_postgres(PostgresQueryBuilder)),
        );
        statements.push(
            Query::insert()
                .into_table(CatalogMeta::Table)
                .columns([CatalogMeta::Version])
                .values_panic([snapshot.version.as_str().into()])
                .build_postgres(PostgresQueryBuilder),
        );
        statements.extend(inserts(
            CatalogClasses::Table,
            CLASS_COLUMNS,
            &snapshot.classes,
            |c| [c.id.0.into(), c.name.as_str().into(), c.retired.into()],
        ));
        statements.extend(inserts(
            CatalogServers::Table,
            SERVER_COLUMNS,
            &snapshot.servers,
            |s| [s.id.0.into(), s.name.as_str().into(), s.retired.into()],
        ));
        statements.extend(inserts(
            CatalogItems::Table,
            ITEM_COLUMNS,
            &snapshot.items,
            |i| {
                [
                    i.id.0.into(),
                    i.kind.as_str().into(),
                    i.name.as_str().into(),
                    i.level.into(),
                    i.source_id.into(),
                    i.retired.into(),
                ]
            },
        ));
        let replaced = self.0.execute_all(&statements).await;
        self.1.forget();
        replaced
    }

    async fn snapshot(&self) -> Result<Option<CatalogSnapshot>, RepoError> {
        // Inside a unit, the lock keeps other replacements out until it
        // ends, and makes the four reads below one catalog (READ COMMITTED
        // would otherwise let a replacement commit between them). Outside a
        // unit it is taken and released at once.
        self.0
            .execute_all(&[(LOCK.to_owned(), PostgresValues(Vec::new()))])
            .await?;
        let (sql, values) = Query::select()
            .column(CatalogMeta::Version)
            .from(CatalogMeta::Table)
            .build_postgres(PostgresQueryBuilder);
        let rows = self.0.query(&sql, &values.as_params()).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let version = row
            .try_get("version")
            .map_err(|_| corrupt("catalog_meta", "version"))?;
        let classes = Query::select()
            .columns(CLASS_COLUMNS)
            .from(CatalogClasses::Table)
            .order_by(CatalogClasses::Id, Order::Asc)
            .to_owned();
        let servers = Query::select()
            .columns(SERVER_COLUMNS)
            .from(CatalogServers::Table)
            .order_by(CatalogServers::Id, Order::Asc)
            .to_owned();
        let items = Query::select()
            .columns(ITEM_COLUMNS)
            .from(CatalogItems::Table)
            .order_by(CatalogItems::Id, Order::Asc)
            .to_owned();
        Ok(Some(CatalogSnapshot {
            version,
            classes: self.select(&classes, class_from_row).await?,
            servers: self.select(&servers, server_from_row).await?,
            items: self.select(&items, item_from_row).await?,
        }))
    }

    // The version, the classes and the servers are small bounded reads
    // (one row; tens of rows): lookups, so the public catalog and the
    // names of a character never wait for a pool that slow requests hold.
    async fn version(&self) -> Result<Option<String>, RepoError> {
        let (sql, values) = Query::select()
            .column(CatalogMeta::Version)
            .from(CatalogMeta::Table)
            .build_postgres(PostgresQueryBuilder);
        let rows = self.0.lookup(&sql, &values.as_params()).await?;
        rows.first()
            .map(|row| {
                row.try_get("version")
                    .map_err(|_| corrupt("catalog_meta", "version"))
            })
            .transpose()
    }

    async fn classes(&self) -> Result<Vec<CharacterClass>, RepoError> {
        self.every_class(false).await
    }

    async fn servers(&self) -> Result<Vec<GameServer>, RepoError> {
        self.every_server(false).await
    }

    async fn items(
        &self,
        kind: Option<ItemKind>,
        search: Option<&str>,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<CatalogItem>, RepoError> {
        let mut query = Query::select();
        query
            .columns(ITEM_COLUMNS)
            .from(CatalogItems::Table)
            .and_where(Expr::col(CatalogItems::Retired).not())
            .order_by(CatalogItems::Id, Order::Asc)
            .limit(pg_limit(limit));
        if let Some(kind) = kind {
            query.and_where(Expr::col(CatalogItems::Kind).eq(kind.as_str()));
        }
        if let Some(search) = search {
            query.and_where(Expr::col(CatalogItems::Name).ilike(contains_pattern(search)));
        }
        if let Some(after) = after {
            query.and_where(Expr::col(CatalogItems::Id).gt(after.0));
        }
        self.select(&query, item_from_row).await
    }

    async fn count_items(&self, kind: ItemKind) -> Result<u64, RepoError> {
        let (sql, values) = Query::select()
            .expr(Expr::col(CatalogItems::Id).count())
            .from(CatalogItems::Table)
            .and_where(Expr::col(CatalogItems::Kind).eq(kind.as_str()))
            .and_where(Expr::col(CatalogItems::Retired).not())
            .build_postgres(PostgresQueryBuilder);
        let rows = self.0.query(&sql, &values.as_params()).await?;
        let count: i64 = rows
            .first()
            .and_then(|row| row.try_get(0).ok())
            .ok_or_else(|| RepoError::unknown("COUNT returned no row"))?;
        u64::try_from(count).map_err(|_| RepoError::unknown("COUNT returned a negative number"))
    }

    async fn find_class(&self, id: ClassId) -> Result<Option<CharacterClass>, RepoError> {
        let query = Query::select()
            .columns(CLASS_COLUMNS)
            .from(CatalogClasses::Table)
            .and_where(Expr::col(CatalogClasses::Id).eq(id.0))
            .to_owned();
        Ok(self.select(&query, class_from_row).await?.pop())
    }

    async fn find_server(&self, id: ServerId) -> Result<Option<GameServer>, RepoError> {
        let query = Query::select()
            .columns(SERVER_COLUMNS)
            .from(CatalogServers::Table)
            .and_where(Expr::col(CatalogServers::Id).eq(id.0))
            .to_owned();
        Ok(self.select(&query, server_from_row).await?.pop())
    }

    async fn find_item(&self, id: ItemId) -> Result<Option<CatalogItem>, RepoError> {
        let query = Query::select()
            .columns(ITEM_COLUMNS)
            .from(CatalogItems::Table)
            .and_where(Expr::col(CatalogItems::Id).eq(id.0))
            .to_owned();
        Ok(self.select(&query, item_from_row).await?.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
