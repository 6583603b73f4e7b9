//! Where statements run: on any pooled connection, or on the one
//! connection of an open transaction.

use deadpool_postgres::{Object, Pool};
use domain::RepoError;
use tokio::sync::Mutex;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::{from_pg, from_pool, is_retryable};

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs one statement.
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
}

/// Each statement on its own pooled connection, in its own implicit
/// transaction.
pub(crate) struct PoolExec(pub(crate) Pool);

/// Single statements that lose a serialization race are run again, a few
/// times: each is a whole transaction of its own, so that is safe.
const ATTEMPTS: usize = 3;

impl Exec for PoolExec {
    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        let client = self.0.get().await.map_err(from_pool)?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        let mut attempt = 1;
        loop {
            match client.query(&statement, params).await {
                Err(e) if is_retryable(&e) && attempt < ATTEMPTS => attempt += 1,
                result => return result.map_err(from_pg),
            }
        }
    }

    async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, RepoError> {
        let client = self.0.get().await.map_err(from_pool)?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        let mut attempt = 1;
        loop {
            match client.execute(&statement, params).await {
                Err(e) if is_retryable(&e) && attempt < ATTEMPTS => attempt += 1,
                result => return result.map_err(from_pg),
            }
        }
    }
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
        client.batch_execute("BEGIN").await.map_err(from_pg)?;
        Ok(Self {
            client: Mutex::new(Some(client)),
        })
    }

    pub(crate) async fn commit(&self) -> Result<(), RepoError> {
        let mut guard = self.client.lock().await;
        let client = guard
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))?;
        let result = client.batch_execute("COMMIT").await.map_err(from_pg);
        if result.is_ok() {
            // Committed: the connection is clean and may go back as it is.
            guard.take();
        }
        result
    }
}

impl Exec for TxExec {
    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        let guard = self.client.lock().await;
        let client = guard
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.query(&statement, params).await.map_err(from_pg)
    }

    async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, RepoError> {
        let guard = self.client.lock().await;
        let client = guard
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))?;
        let statement = client.prepare_cached(sql).await.map_err(from_pg)?;
        client.execute(&statement, params).await.map_err(from_pg)
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
