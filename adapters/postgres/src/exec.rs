//! Where statements run: on any pooled connection, or on the one
//! connection of an open transaction.

use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use domain::RepoError;
use sea_query_postgres::PostgresValues;
use tokio::sync::Mutex;
use tokio::time::timeout;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{from_pg, from_pool, is_retryable};

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// `limit` as a `LIMIT` PostgreSQL accepts (a signed bigint): a limit
/// beyond it is no limit anyway.
pub(crate) fn pg_limit(limit: usize) -> u64 {
    u64::try_from(limit).map_or(i64::MAX as u64, |l| l.min(i64::MAX as u64))
}

/// One statement as sea-query builds it: SQL with placeholders, and the
/// values bound to them.
pub(crate) type Statement = (String, PostgresValues);

/// Runs statements: one at a time, or a batch as a whole.
pub(crate) trait Exec: Send + Sync {
    fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, RepoError>> + Send;
    fn execute(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;
    /// Runs `statements` in order, all or none: inside the open transaction,
    /// or else in a transaction of their own on one connection. They are
    /// not prepared for reuse: they are meant for one-off bulk writes.
    fn execute_all(
        &self,
        statements: &[Statement],
    ) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// Each statement on its own pooled connection, in its own implicit
/// transaction.
pub(crate) struct PoolExec(pub(crate) Pool);

/// Single statements that lose a serialization race are run again, a few
/// times: each is a whole transaction of its own, so that is safe.
const ATTEMPTS: usize = 3;

/// How long one statement may take. A database that stops answering without
/// closing the connection (a network partition) must turn into a prompt 503,
/// not a request that hangs until TCP gives up.
pub(crate) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a statement's rows or its row count are wanted.
#[derive(Clone, Copy)]
enum Want {
    Rows,
    Count,
}

enum Output {
    Rows(Vec<Row>),
    Count(u64),
}

impl Want {
    async fn run(
        self,
        client: &Object,
        statement: &tokio_postgres::Statement,
        params: &Params<'_>,
    ) -> Result<Output, tokio_postgres::Error> {
        Ok(match self {
            Want::Rows => Output::Rows(client.query(statement, params).await?),
            Want::Count => Output::Count(client.execute(statement, params).await?),
        })
    }
}

impl Output {
    fn rows(self) -> Vec<Row> {
        match self {
            Output::Rows(rows) => rows,
            Output::Count(_) => Vec::new(),
        }
    }

    fn count(self) -> u64 {
        match self {
            Output::Count(count) => count,
            Output::Rows(rows) => rows.len() as u64,
        }
    }
}

fn timed_out() -> RepoError {
    RepoError::Unavailable("the database did not answer in time".into())
}

impl PoolExec {
    /// Runs `statement` (prepared, retried on serialization failures) on a
    /// pooled connection, within `STATEMENT_TIMEOUT`. A connection that
    /// timed out is in an unknown state: it is closed, not pooled again.
    async fn run(&self, sql: &str, params: &Params<'_>, want: Want) -> Result<Output, RepoError> {
        let client = self.0.get().await.map_err(from_pool)?;
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            let prepared = client.prepare_cached(sql).await?;
            let mut attempt = 1;
            loop {
                match want.run(&client, &prepared, params).await {
                    Err(e) if is_retryable(&e) && attempt < ATTEMPTS => attempt += 1,
                    result => return result,
                }
            }
        })
        .await;
        match outcome {
            Ok(result) => result.map_err(from_pg),
            Err(_) => {
                drop(Object::take(client));
                Err(timed_out())
            }
        }
    }
}

impl Exec for PoolExec {
    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        self.run(sql, params, Want::Rows).await.map(Output::rows)
    }

    async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, RepoError> {
        self.run(sql, params, Want::Count).await.map(Output::count)
    }
    async fn execute_all(&self, statements: &[Statement]) -> Result<(), RepoError> {
        let mut client = self.0.get().await.map_err(from_pool)?;
        // The whole transaction is run again, not a statement: a lost race
        // aborts the transaction, and the retry starts from a clean one.
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            let mut attempt = 1;
            loop {
                match run_all(&mut client, statements).await {
                    Err(e) if is_retryable(&e) && attempt < ATTEMPTS => attempt += 1,
                    result => return result,
                }
            }
        })
        .await;
        match outcome {
            Ok(result) => result.map_err(from_pg),
            Err(_) => {
                drop(Object::take(client));
                Err(timed_out())
            }
        }
    }
}

/// `statements` in one transaction on `client`; rolled back on the first
/// error (dropping the transaction rolls it back).
async fn run_all(
    client: &mut Object,
    statements: &[Statement],
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    for (sql, values) in statements {
        tx.execute(sql.as_str(), &values.as_params()).await?;
    }
    tx.commit().await
}

/// One connection with an open transaction. If it is dropped without
/// commit, the transaction is rolled back before the connection goes back
/// to the pool.
pub(crate) struct TxExec {
    // A tokio mutex: statements await while holding the connection.
    client: Mutex<Option<Object>>,
}

impl TxExec {
    pub(crate) async fn begin(pool: &Pool) -> Result<Self, RepoError> {
        let client = pool.get().await.map_err(from_pool)?;
        match timeout(STATEMENT_TIMEOUT, client.batch_execute("BEGIN")).await {
            Ok(result) => result.map_err(from_pg)?,
            Err(_) => {
                drop(Object::take(client));
                return Err(timed_out());
            }
        }
        Ok(Self {
            client: Mutex::new(Some(client)),
        })
    }

    pub(crate) async fn commit(&self) -> Result<(), RepoError> {
        let mut guard = self.client.lock().await;
        let client = guard
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))?;
        let result = match timeout(STATEMENT_TIMEOUT, client.batch_execute("COMMIT")).await {
            Ok(result) => result.map_err(from_pg),
            Err(_) => {
                // Whether it committed is unknown; the connection is closed.
                if let Some(client) = guard.take() {
                    drop(Object::take(client));
                }
                return Err(timed_out());
            }
        };
        if result.is_ok() {
            // Committed: the connection is clean and may go back as it is.
            guard.take();
        }
        result
    }
}

impl TxExec {
    /// Runs one statement on the transaction's connection within
    /// `STATEMENT_TIMEOUT`. On a timeout the connection is closed — which
    /// aborts the transaction on the server — and later calls fail.
    async fn run(&self, sql: &str, params: &Params<'_>, want: Want) -> Result<Output, RepoError> {
        let mut guard = self.client.lock().await;
        let client = guard
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))?;
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            let prepared = client.prepare_cached(sql).await?;
            want.run(client, &prepared, params).await
        })
        .await;
        match outcome {
            Ok(result) => result.map_err(from_pg),
            Err(_) => {
                if let Some(client) = guard.take() {
                    drop(Object::take(client));
                }
                Err(timed_out())
            }
        }
    }
}

impl Exec for TxExec {
    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        self.run(sql, params, Want::Rows).await.map(Output::rows)
    }

    async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, RepoError> {
        self.run(sql, params, Want::Count).await.map(Output::count)
    }

    async fn execute_all(&self, statements: &[Statement]) -> Result<(), RepoError> {
        for (sql, values) in statements {
            self.run(sql, &values.as_params(), Want::Count).await?;
        }
        Ok(())
    }
}

impl Drop for TxExec {
    fn drop(&mut self) {
        let Some(client) = self.client.get_mut().take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // Roll back off the caller's path; the connection returns to
            // the pool only once it is clean.
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // Never reuse a connection in an unknown state.
                        let _ = Object::take(client);
                    }
                });
            }
            // No runtime to roll back on: closing the connection aborts the
            // transaction on the server.
            Err(_) => drop(Object::take(client)),
        }
    }
}
