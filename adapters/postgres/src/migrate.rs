//! Versioned SQL migrations from the `migrations/` folder, compiled into
//! the binary.
//!
//! Each pending migration runs in its own transaction, under an advisory
//! lock, so several instances starting at once apply each file exactly
//! once. The SHA-256 of every applied file is recorded; a file changed after
//! it was applied is refused, because the database no longer matches it.

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::error::from_pool;

/// One migration: its version (the file's number), name and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration of this build, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_users_and_sessions.sql",
        sql: include_str!("../../../migrations/0001_users_and_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "0002_audit_api_keys_catalog.sql",
        sql: include_str!("../../../migrations/0002_audit_api_keys_catalog.sql"),
    },
    Migration {
        version: 3,
        name: "0003_roster.sql",
        sql: include_str!("../../../migrations/0003_roster.sql"),
    },
    Migration {
        version: 4,
        name: "0004_jobs.sql",
        sql: include_str!("../../../migrations/0004_jobs.sql"),
    },
    Migration {
        version: 5,
        name: "0005_catalog_sources.sql",
        sql: include_str!("../../../migrations/0005_catalog_sources.sql"),
    },
    Migration {
        version: 6,
        name: "0006_generated_token_key.sql",
        sql: include_str!("../../../migrations/0006_generated_token_key.sql"),
    },
    Migration {
        version: 7,
        name: "0007_cache.sql",
        sql: include_str!("../../../migrations/0007_cache.sql"),
    },
];

/// Any number that is ours alone: the key of the advisory lock.
const LOCK_KEY: i64 = 0x526f_7374_6572; // "Roster"

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "migration {name} was changed after it was applied (recorded sha256 {recorded}, file sha256 {file}); restore the file, or write a new migration"
    )]
    Changed {
        name: String,
        recorded: String,
        file: String,
    },
    #[error(
        "{count} migration(s) are pending, and automatic migration is off: run `roster migrate`"
    )]
    Pending { count: usize },
    #[error("migration {name} failed: {message}")]
    Failed { name: String, message: String },
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct Migrator {
    pool: Pool,
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn failed(name: &str) -> impl Fn(tokio_postgres::Error) -> MigrationError + '_ {
    move |e| MigrationError::Failed {
        name: name.to_owned(),
        message: e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.message().to_owned()),
    }
}

impl Migrator {
    pub(crate) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The migrations not applied yet; refuses a changed applied file.
    pub async fn pending(&self) -> Result<Vec<Migration>, MigrationError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(failed("schema_migrations"))?;
        let applied = Self::applied(&tx).await?;
        tx.commit().await.map_err(failed("schema_migrations"))?;
        Self::check(&applied)
    }

    /// Applies every pending migration; returns the names it applied.
    pub async fn run(&self) -> Result<Vec<&'static str>, MigrationError> {
        let mut client = self.client().await?;
        let mut done = Vec::new();
        loop {
            let tx = client
                .transaction()
                .await
                .map_err(failed("schema_migrations"))?;
            let applied = Self::applied(&tx).await?;
            let Some(next) = Self::check(&applied)?.into_iter().next() else {
                tx.commit().await.map_err(failed("schema_migrations"))?;
                return Ok(done);
            };
            tx.batch_execute(next.sql)
                .await
                .map_err(failed(next.name))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&next.version, &next.name, &checksum(next.sql)],
            )
            .await
            .map_err(failed(next.name))?;
            tx.commit().await.map_err(failed(next.name))?;
            tracing::info!(migration = next.name, "migration applied");
            done.push(next.name);
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, MigrationError> {
        self.pool
            .get()
            .await
            .map_err(|e| MigrationError::Unavailable(from_pool(e).to_string()))
    }

    /// Takes the migration lock for the rest of `tx`, then reads what is
    /// applied.
    async fn applied(
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> Result<Vec<(i64, String)>, MigrationError> {
        // Held until `tx` ends: one migrator at a time, even for the
        // `CREATE TABLE IF NOT EXISTS`, which is not safe against itself.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(failed("advisory lock"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    bigint      PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(failed("schema_migrations"))?;
        let rows = tx
            .query(
                "SELECT version, checksum FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(failed("schema_migrations"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn check(applied: &[(i64, String)]) -> Result<Vec<Migration>, MigrationError> {
        let mut pending = Vec::new();
        for migration in MIGRATIONS {
            match applied
                .iter()
                .find(|(version, _)| *version == migration.version)
            {
                Some((_, recorded)) if *recorded != checksum(migration.sql) => {
                    return Err(MigrationError::Changed {
                        name: migration.name.to_owned(),
                        recorded: recorded.clone(),
                        file: checksum(migration.sql),
                    });
                }
                Some(_) => {}
                None => pending.push(*migration),
            }
        }
        Ok(pending)
    }

    /// Applies pending migrations when `auto` is on; otherwise refuses to
    /// start on an out-of-date schema.
    pub async fn prepare(&self, auto: bool) -> Result<(), MigrationError> {
        if auto {
            self.run().await.map(|_| ())
        } else {
            match self.pending().await?.len() {
                0 => Ok(()),
                count => Err(MigrationError::Pending { count }),
            }
        }
    }
}
