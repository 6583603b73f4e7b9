//! Where statements run: on any pooled connection, on a connection shared
//! by many callers at once (lookups), or on the one connection of an open
//! transaction.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object, Pool};
use domain::RepoError;
use futures::future::{join_all, try_join_all};
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
    /// A lookup: one read of a few rows by key (a session, a character by
    /// id), cheap and bounded, so it may share a connection with other
    /// callers' lookups. Inside a transaction it is an ordinary query.
    fn lookup(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, RepoError>> + Send {
        self.query(sql, params)
    }
    /// Runs `statements` in order, all or none: inside the open transaction,
    /// or else in a transaction of their own on one connection. They are
    /// not prepared for reuse: they are meant for one-off bulk writes.
    fn execute_all(
        &self,
        statements: &[Statement],
    ) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// Each statement in its own implicit transaction: on a pooled connection
/// of its own, or, for a lookup, on one of the shared lanes.
pub(crate) struct PoolExec {
    pool: Pool,
    lanes: Lanes,
}

impl PoolExec {
    /// `config` is the one the pool's connections are made with.
    pub(crate) fn new(pool: Pool, config: tokio_postgres::Config) -> Self {
        Self {
            lanes: Lanes::new(config),
            pool,
        }
    }
}

/// How many connections the lookups share. Two, so PostgreSQL can answer
/// on two cores; more would only make the batches smaller.
const LANES: usize = 2;

/// Connections shared by every caller at once, for lookups.
///
/// A tokio-postgres connection pipelines the requests of all its callers:
/// what was queued while it was writing goes out in one write, and
/// PostgreSQL answers the batch in one wake-up. Under load that turns a
/// system call and a server wake-up per statement into one per batch, and
/// those are most of what a lookup costs (measured on the authenticated
/// read: see the README). The price is that a lookup waits behind the ones
/// queued before it, which is why only bounded reads by key come here.
///
/// Never a transaction on a lane: a `BEGIN` there would take in every other
/// caller's statements. The lanes' connections have the pool's settings
/// but are not counted in `ROSTER_DATABASE_POOL`. A lane whose connection
/// closed, or that timed out, is replaced on its next use.
struct Lanes {
    config: tokio_postgres::Config,
    lanes: [Lane; LANES],
    next: AtomicUsize,
}

#[derive(Default)]
struct Lane {
    /// The connection, while it lives.
    current: StdMutex<Option<Arc<ClientWrapper>>>,
    /// Held by the one caller that (re)connects the lane, so that the
    /// others wait for its connection instead of each making one.
    connecting: Mutex<()>,
}

impl Lane {
    fn live(&self) -> Option<Arc<ClientWrapper>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|client| !client.is_closed())
            .map(Arc::clone)
    }
}

impl Lanes {
    fn new(config: tokio_postgres::Config) -> Self {
        Self {
            config,
            lanes: Default::default(),
            next: AtomicUsize::new(0),
        }
    }

    /// The next lane in turn, with its connection (made if it has none or
    /// the one it had closed).
    async fn take_turn(&self) -> Result<(&Lane, Arc<ClientWrapper>), RepoError> {
        let lane = &self.lanes[self.next.fetch_add(1, Ordering::Relaxed) % LANES];
        if let Some(client) = lane.live() {
            return Ok((lane, client));
        }
        let _connecting = lane.connecting.lock().await;
        // Whoever held the lock before may have connected it already.
        if let Some(client) = lane.live() {
            return Ok((lane, client));
        }
        let client = timeout(super::ACQUIRE_TIMEOUT, self.connect())
            .await
            .map_err(|_| timed_out())?
            .map_err(from_pg)?;
        let client = Arc::new(client);
        *lane.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&client));
        Ok((lane, client))
    }

    async fn connect(&self) -> Result<ClientWrapper, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
        // The wrapper aborts this task when it is dropped, which closes
        // the connection.
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "a lookup connection to PostgreSQL ended");
            }
        });
        Ok(ClientWrapper::new(client, task))
    }

    /// Empties `lane` if it still holds `client`: the connection is closed
    /// once its last caller lets go of it.
    fn retire(lane: &Lane, client: &Arc<ClientWrapper>) {
        let mut current = lane.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|held| Arc::ptr_eq(held, client))
        {
            *current = None;
        }
    }

    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        let (lane, client) = self.take_turn().await?;
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            let prepared = client.prepare_cached(sql).await?;
            client.query(&prepared, params).await
        })
        .await;
        match outcome {
            // A connection that closed is replaced on the lane's next turn
            // (`Lane::live` skips it).
            Ok(result) => result.map_err(from_pg),
            Err(_) => {
                Self::retire(lane, &client);
                Err(timed_out())
            }
        }
    }
}

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
        client: &ClientWrapper,
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
        let client = self.pool.get().await.map_err(from_pool)?;
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

    async fn lookup(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, RepoError> {
        self.lanes.query(sql, params).await
    }

    async fn execute_all(&self, statements: &[Statement]) -> Result<(), RepoError> {
        let mut client = self.pool.get().await.map_err(from_pool)?;
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

/// One connection with a unit of work on it. If it is dropped without
/// commit, the transaction is rolled back before the connection goes back
/// to the pool.
///
/// Round trips are the cost of a unit, so it spends none it can save:
/// - `BEGIN` is not sent on its own: it travels with the unit's first
///   statement, in one flight (tokio-postgres pipelines requests sent
///   before their answers are read). A unit that runs no statement sends
///   neither `BEGIN` nor `COMMIT`.
/// - [`TxExec::commit_with`] sends the unit's last writes (its audit
///   entries) and `COMMIT` in one flight.
///
/// `BEGIN` sent ahead of a statement: on a live connection it cannot fail
/// (it names no option and takes no lock), so the only way for it to fail
/// is the connection or the server failing, which the statement behind it
/// on the same connection cannot survive either. Should it ever report an
/// error, the unit is failed and its connection closed, never reused.
pub(crate) struct TxExec {
    // A tokio mutex: statements await while holding the connection.
    unit: Mutex<Unit>,
}

struct Unit {
    client: Option<Object>,
    /// Whether `BEGIN` has been sent (with the first statement).
    begun: bool,
}

impl Unit {
    fn client(&self) -> Result<&Object, RepoError> {
        self.client
            .as_ref()
            .ok_or_else(|| RepoError::unknown("transaction already finished"))
    }

    /// Closes the connection: the server aborts its transaction, and a
    /// connection in an unknown state never goes back to the pool.
    fn close(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

impl TxExec {
    /// Takes a connection for a unit of work; `BEGIN` is sent with its
    /// first statement.
    pub(crate) async fn begin(pool: &Pool) -> Result<Self, RepoError> {
        let client = pool.get().await.map_err(from_pool)?;
        Ok(Self {
            unit: Mutex::new(Unit {
                client: Some(client),
                begun: false,
            }),
        })
    }

    pub(crate) async fn commit(&self) -> Result<(), RepoError> {
        self.commit_with(&[]).await
    }

    /// Runs `statements` (writes whose only outcome is success or failure)
    /// and commits, in one flight. If one fails, the server rolls the whole
    /// unit back and that failure is returned.
    pub(crate) async fn commit_with(&self, statements: &[Statement]) -> Result<(), RepoError> {
        let mut unit = self.unit.lock().await;
        let client = unit.client()?;
        if !unit.begun && statements.is_empty() {
            // Nothing ran: nothing to commit, and the connection is clean.
            unit.client.take();
            return Ok(());
        }
        let begin = !unit.begun;
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            let prepared =
                try_join_all(statements.iter().map(|(sql, _)| client.prepare_cached(sql))).await?;
            let params: Vec<_> = statements
                .iter()
                .map(|(_, values)| values.as_params())
                .collect();
            // Sent in this order before any answer is read; answered in the
            // same order.
            let (begun, written, committed) = futures::join!(
                async {
                    if begin {
                        client.batch_execute("BEGIN").await
                    } else {
                        Ok(())
                    }
                },
                join_all(
                    prepared
                        .iter()
                        .zip(&params)
                        .map(|(statement, params)| client.execute(statement, params))
                ),
                client.batch_execute("COMMIT"),
            );
            begun?;
            // After a failed write the server answers `COMMIT` with a
            // rollback: the write's error is the one that matters.
            for result in written {
                result?;
            }
            committed
        })
        .await;
        match outcome {
            Ok(Ok(())) => {
                // Committed: the connection is clean and may go back as it is.
                unit.client.take();
                Ok(())
            }
            Ok(Err(error)) => {
                let error = from_pg(error);
                // The unit is over either way (rolled back by the server, or
                // never begun); a connection that failed is not reused.
                if matches!(error, RepoError::Unavailable(_)) {
                    unit.close();
                }
                Err(error)
            }
            Err(_) => {
                // Whether it committed is unknown; the connection is closed.
                unit.close();
                Err(timed_out())
            }
        }
    }

    /// Runs one statement of the unit within `STATEMENT_TIMEOUT`, with
    /// `BEGIN` ahead of it in the same flight if it is the first. On a
    /// timeout the connection is closed — which aborts the transaction on
    /// the server — and later calls fail.
    async fn run(&self, sql: &str, params: &Params<'_>, want: Want) -> Result<Output, RepoError> {
        let mut unit = self.unit.lock().await;
        let client = unit.client()?;
        let begin = !unit.begun;
        let outcome = timeout(STATEMENT_TIMEOUT, async {
            // Outside the transaction if it is not begun yet, which is fine:
            // preparing changes no data.
            let prepared = client.prepare_cached(sql).await.map_err(Failure::Prepare)?;
            if !begin {
                return want
                    .run(client, &prepared, params)
                    .await
                    .map_err(Failure::Statement);
            }
            let (begun, result) = futures::join!(
                client.batch_execute("BEGIN"),
                want.run(client, &prepared, params)
            );
            begun.map_err(Failure::Begin)?;
            result.map_err(Failure::Statement)
        })
        .await;
        match outcome {
            Ok(Ok(output)) => {
                unit.begun = true;
                Ok(output)
            }
            Ok(Err(Failure::Prepare(error))) => Err(from_pg(error)),
            Ok(Err(Failure::Statement(error))) => {
                unit.begun = true;
                Err(from_pg(error))
            }
            Ok(Err(Failure::Begin(error))) => {
                unit.close();
                Err(from_pg(error))
            }
            Err(_) => {
                unit.close();
                Err(timed_out())
            }
        }
    }
}

/// Where a statement of a unit failed.
enum Failure {
    /// Before anything was sent to run: the unit is as it was.
    Prepare(tokio_postgres::Error),
    /// `BEGIN` itself: the unit cannot go on.
    Begin(tokio_postgres::Error),
    /// The statement, inside the unit.
    Statement(tokio_postgres::Error),
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
        let unit = self.unit.get_mut();
        let Some(client) = unit.client.take() else {
            return;
        };
        if !unit.begun {
            // Nothing was sent: the connection is clean as it is.
            return;
        }
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
