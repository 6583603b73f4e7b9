//! PostgreSQL storage: every storage port over a deadpool-postgres pool,
//! with SQL built by sea-query and every value bound as a parameter.
//!
//! Errors mean something: a unique violation becomes the domain's
//! `Duplicate` naming the `UniqueRule` its constraint enforces (the
//! constraint names stay in `error.rs`), a lost connection or a pool that
//! cannot hand out a connection in time becomes `Unavailable`, and
//! serialization failures and deadlocks of single statements are retried.
//! A transaction is one PostgreSQL transaction on one pooled connection.
//! Lookups (a session, a user, an API key, a character by id, the catalog's
//! version, classes and servers) run on two shared, pipelined connections
//! instead (`exec.rs`, the lanes).

mod accounts;
mod api_keys;
mod audit;
mod cache;
mod catalog;
mod catalog_names;
mod characters;
mod error;
mod exec;
mod jobs;
mod migrate;
mod progressions;
mod roster;
mod schema;
mod sessions;
mod teams;
mod users;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Pool, PoolConfig, Runtime, Timeouts};
use domain::ports::{CacheLifetimes, Repositories, RepositorySet, Storage, Transaction};
use domain::{AuditEntry, RepoError};
use sea_query::{PostgresQueryBuilder, SelectStatement};
use sea_query_postgres::PostgresBinder;
use tokio_postgres::{NoTls, Row};

pub use cache::{CACHE_POOL_SIZE, PgCache};
pub use migrate::{MIGRATIONS, MigrationError, Migrator};

#[doc(hidden)]
pub use characters::{StatementSql, character_list_sql};

use catalog_names::CatalogNames;
use exec::{Exec, PoolExec, TxExec};

/// How long a request waits for a pooled connection before the database
/// counts as unavailable (503), rather than hanging.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of at most `size` connections made with `config`, that waits at
/// most `timeout` for one.
fn pool(
    config: &tokio_postgres::Config,
    size: usize,
    timeout: Duration,
) -> Result<Pool, ConnectError> {
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .config(PoolConfig {
            max_size: size,
            timeouts: Timeouts {
                wait: Some(timeout),
                create: Some(timeout),
                recycle: Some(timeout),
            },
            ..PoolConfig::default()
        })
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| ConnectError::Pool(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid DATABASE_URL: {0}")]
    Url(String),
    #[error("cannot create the connection pool: {0}")]
    Pool(String),
}

/// Repositories over one way of reaching the database, and the catalog
/// names the storage holds (shared by its transactions).
pub(crate) struct Repos<E>(pub(crate) E, pub(crate) std::sync::Arc<CatalogNames>);

impl<E: Exec> Repos<E> {
    /// Runs `query` and maps each row with `from_row`, which reports a row
    /// that breaks a domain rule as corrupt.
    pub(crate) async fn select<T>(
        &self,
        query: &SelectStatement,
        from_row: fn(&Row) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        let (sql, values) = query.build_postgres(PostgresQueryBuilder);
        let rows = self.0.query(&sql, &values.as_params()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Every row of a lookup (see [`Exec::lookup`]): a small bounded read.
    pub(crate) async fn lookup_all<T>(
        &self,
        query: &SelectStatement,
        from_row: fn(&Row) -> Result<T, RepoError>,
    ) -> Result<Vec<T>, RepoError> {
        let (sql, values) = query.build_postgres(PostgresQueryBuilder);
        let rows = self.0.lookup(&sql, &values.as_params()).await?;
        rows.iter().map(from_row).collect()
    }

    /// The row of a lookup of one row by key, if there is one.
    pub(crate) async fn lookup<T>(
        &self,
        query: &SelectStatement,
        from_row: fn(&Row) -> Result<T, RepoError>,
    ) -> Result<Option<T>, RepoError> {
        Ok(self.lookup_all(query, from_row).await?.into_iter().next())
    }

    /// Runs an insert, update or delete; returns how many rows it touched.
    pub(crate) async fn write(
        &self,
        statement: &(impl PostgresBinder + Sync),
    ) -> Result<u64, RepoError> {
        let (sql, values) = statement.build_postgres(PostgresQueryBuilder);
        self.0.execute(&sql, &values.as_params()).await
    }
}

/// The connections of the pool at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most the pool opens (`ROSTER_DATABASE_POOL`).
    pub max: usize,
    /// Open now: idle or lent out.
    pub open: usize,
    /// Open and waiting in the pool.
    pub idle: usize,
}

impl PoolStatus {
    /// Open and lent out to a request or a worker.
    pub fn in_use(&self) -> usize {
        self.open.saturating_sub(self.idle)
    }
}

/// The PostgreSQL backend.
#[derive(Clone)]
pub struct PgStorage {
    pool: Pool,
    repos: std::sync::Arc<Repos<PoolExec>>,
    config: tokio_postgres::Config,
}

impl fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStorage")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl PgStorage {
    /// A pool of at most `pool_size` connections to `url`. Connections are
    /// made lazily: a database that is down now does not stop the start.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, ConnectError> {
        let mut pg_config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| ConnectError::Url(e.to_string()))?;
        // Notice dead connections (a server gone without a FIN) in seconds,
        // not the kernel's default quarter of an hour.
        pg_config
            .connect_timeout(ACQUIRE_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(Duration::from_secs(10));
        let pool = pool(&pg_config, pool_size, ACQUIRE_TIMEOUT)?;
        Ok(Self {
            repos: std::sync::Arc::new(Repos(
                PoolExec::new(pool.clone(), pg_config.clone()),
                std::sync::Arc::new(CatalogNames::default()),
            )),
            pool,
            config: pg_config,
        })
    }

    /// The cache kept in this database (`cache.rs`), on a pool of its own
    /// of [`CACHE_POOL_SIZE`] connections. Needs a Tokio runtime.
    pub fn cache(&self, lifetimes: CacheLifetimes) -> Result<PgCache, ConnectError> {
        let pool = pool(&self.config, CACHE_POOL_SIZE, cache::OPERATION_TIMEOUT)?;
        Ok(PgCache::new(pool, lifetimes))
    }

    /// The migrations of this build, against this database.
    pub fn migrator(&self) -> Migrator {
        Migrator::new(self.pool.clone())
    }

    /// The job queue's bell: a connection of its own that `LISTEN`s for
    /// enqueues (made in the background; remade after a loss). Not counted
    /// in the pool. Needs a Tokio runtime.
    pub fn job_signal(&self) -> std::sync::Arc<dyn domain::ports::JobSignal> {
        std::sync::Arc::new(jobs::PgSignal::start(self.config.clone()))
    }

    /// The token signing key this database keeps for deployments that set
    /// none: `candidate` when this is the first instance to ask, else the
    /// key the first one stored (so every instance gets the same).
    pub async fn generated_token_key(&self, candidate: &str) -> Result<String, RepoError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| RepoError::Unavailable(e.to_string()))?;
        client
            .execute(
                "INSERT INTO generated_token_key (paserk) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&candidate],
            )
            .await
            .map_err(|e| RepoError::unknown(e.to_string()))?;
        let row = client
            .query_one("SELECT paserk FROM generated_token_key", &[])
            .await
            .map_err(|e| RepoError::unknown(e.to_string()))?;
        Ok(row.get(0))
    }

    /// The pool's connections now, for metrics.
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max: status.max_size,
            open: status.size,
            idle: status.available,
        }
    }
}

impl Repositories for PgStorage {
    fn repositories(&self) -> &dyn RepositorySet {
        self.repos.as_ref()
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        let exec = TxExec::begin(&self.pool).await?;
        Ok(Box::new(PgTransaction(Repos(
            exec,
            std::sync::Arc::clone(&self.repos.1),
        ))))
    }

    async fn ping(&self) -> Result<(), RepoError> {
        self.repos.0.query("SELECT 1", &[]).await.map(|_| ())
    }
}

struct PgTransaction(Repos<TxExec>);

impl Repositories for PgTransaction {
    fn repositories(&self) -> &dyn RepositorySet {
        &self.0
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.0.0.commit().await
    }

    /// The entries and `COMMIT` go out in one round trip.
    async fn commit_with_audit(self: Box<Self>, entries: &[AuditEntry]) -> Result<(), RepoError> {
        let statements: Vec<_> = entries
            .iter()
            .map(|entry| audit::insert(entry).build_postgres(PostgresQueryBuilder))
            .collect();
        self.0.0.commit_with(&statements).await
    }
}
