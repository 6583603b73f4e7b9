//! A fresh PostgreSQL schema per test, so tests run in parallel against the
//! machine's database without seeing each other, dropped when the test ends.
//!
//! The server is found through `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the
//! tests fail, saying how to start it — unless a developer opted out for a
//! local run with `TEST_SKIP_UNREACHABLE=1` (never set by `.ci/run`, and
//! ignored when `CI=true`), in which case they say so loudly and skip.

use std::sync::Arc;

use adapter_postgres::PgStorage;
use adapter_system::{OsRandom, SystemClock};
use async_trait::async_trait;
use domain::RepoError;
use domain::ports::{Clock, Repositories, RepositorySet, Storage, Transaction};
use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One schema, owned by one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection string whose sessions use only this schema.
    pub url: String,
    schema: String,
    admin_url: String,
}

impl TestDatabase {
    /// A new empty schema, or `None` (after a loud notice) when PostgreSQL
    /// cannot be reached outside CI.
    pub async fn create() -> Option<Self> {
        let admin_url =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let schema = format!(
            "test_{}",
            domain::ids::new_v7(SystemClock.now(), &OsRandom).simple()
        );
        let client = match connect(&admin_url).await {
            Ok(client) => client,
            Err(error) => {
                if !crate::skip::allowed() {
                    panic!(
                        "PostgreSQL at {admin_url} is unreachable: {error}. Start it (see the README) \
                         or set TEST_DATABASE_URL; to skip these tests on purpose in a local run, \
                         set TEST_SKIP_UNREACHABLE=1"
                    );
                }
                crate::skip::record(&format!(
                    "PostgreSQL at {admin_url} is unreachable ({error})"
                ));
                return None;
            }
        };
        client
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .expect("create the test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
        Some(Self {
            url,
            schema,
            admin_url,
        })
    }

    /// The `host:port` of the PostgreSQL server this schema lives on, for a
    /// test that puts something (a proxy) in front of it.
    pub fn server_address(&self) -> String {
        let config: tokio_postgres::Config = self.admin_url.parse().expect("a valid database URL");
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => panic!("the test database must be reached over TCP"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// This schema's connection string, but reaching the server at
    /// `address` (`host:port`) instead: through a proxy the test controls.
    /// Needs a URL-form `TEST_DATABASE_URL`.
    pub fn url_via(&self, address: &str) -> String {
        let (scheme, rest) = self
            .url
            .split_once("://")
            .expect("a URL-form database connection string");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let user_info = authority.rfind('@').map_or("", |at| &authority[..=at]);
        format!("{scheme}://{user_info}{address}{path}")
    }

    /// A storage on this schema, with every migration applied.
    pub async fn storage(&self) -> PgStorage {
        let storage = PgStorage::connect(&self.url, 8).expect("a pool");
        storage.migrator().run().await.expect("migrations apply");
        storage
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which may be shutting down:
        // clean up on a thread of our own with a runtime of its own.
        let (url, schema) = (self.admin_url.clone(), self.schema.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(client) = connect(&url).await {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// PostgreSQL storage that owns its test schema, for the conformance suite.
#[derive(Debug)]
pub struct PgTestStorage {
    storage: PgStorage,
    _database: TestDatabase,
}

impl PgTestStorage {
    pub async fn fresh() -> Option<Arc<dyn Storage>> {
        let database = TestDatabase::create().await?;
        let storage = database.storage().await;
        Some(Arc::new(Self {
            storage,
            _database: database,
        }))
    }
}

impl PgTestStorage {
    /// A fresh job queue: a storage on a new schema and its `LISTEN` bell.
    pub async fn fresh_queue() -> Option<crate::jobs_conformance::FreshQueue> {
        let database = TestDatabase::create().await?;
        let storage = database.storage().await;
        let signal = storage.job_signal();
        Some(crate::jobs_conformance::FreshQueue {
            storage: Arc::new(Self {
                storage,
                _database: database,
            }),
            signal,
        })
    }
}

impl Repositories for PgTestStorage {
    fn repositories(&self) -> &dyn RepositorySet {
        self.storage.repositories()
    }
}

#[async_trait]
impl Storage for PgTestStorage {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        self.storage.begin().await
    }

    async fn ping(&self) -> Result<(), RepoError> {
        self.storage.ping().await
    }
}
