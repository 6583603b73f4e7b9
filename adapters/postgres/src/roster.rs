//! What the roster's repositories share: name order, paging and counts.
//!
//! Every roster statement is scoped by its owner in its own WHERE
//! (`owner_id = $n`), and by `deleted_at IS NULL` where rows are soft
//! deleted: nothing is filtered after the fact.

use domain::{PageRequest, RepoError};
use sea_query::{Expr, IntoColumnRef, SelectStatement};

use crate::Repos;
use crate::exec::Exec;

/// `lower(column) COLLATE "C"`: the ports' name order (lower-cased, byte by
/// byte), written exactly as the migration's indexes are, so the planner
/// can read a page in order from one of them.
pub(crate) fn name_key(column: impl IntoColumnRef) -> Expr {
    Expr::cust_with_expr(r#"lower($1) COLLATE "C""#, Expr::col(column))
}

/// Narrows `query` to the rows of `page`.
pub(crate) fn paginate(query: &mut SelectStatement, page: PageRequest) {
    query
        .limit(u64::from(page.per_page()))
        .offset(page.offset());
}

pub(crate) fn corrupt(table: &str, what: &str) -> RepoError {
    RepoError::unknown(format!("corrupt {table} row: {what}"))
}

/// A `COUNT` as the domain counts: never negative.
pub(crate) fn to_count(count: i64) -> Result<u64, RepoError> {
    u64::try_from(count).map_err(|_| RepoError::unknown("COUNT returned a negative number"))
}

impl<E: Exec> Repos<E> {
    /// Runs a query whose one row holds one `COUNT` in its first column.
    pub(crate) async fn count(&self, query: &SelectStatement) -> Result<u64, RepoError> {
        let counts = self
            .select(query, |row| {
                row.try_get::<_, i64>(0)
                    .map_err(|_| RepoError::unknown("COUNT returned no number"))
            })
            .await?;
        to_count(counts.first().copied().unwrap_or(0))
    }
}
