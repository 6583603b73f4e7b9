//! The cache of a deployment without Redis: values and namespaces' versions
//! in two UNLOGGED tables (`migrations/0007_cache.sql`), shared by every
//! instance on the database, read and written through a small pool of the
//! cache's own — so a cached answer never waits for the storage pool that
//! slow requests may hold. Rails' Solid Cache keeps its cache in the
//! database the same way.
//!
//! A lookup is one call of `cache_lookup`: the versions (made from a
//! sequence for namespaces that have none), the slot they name, and the
//! live value in it.
//!
//! A bump that fails (the cache's connection lost after the write's commit)
//! is kept and retried every [`RETRY_EVERY`]; until every kept bump has
//! landed, this instance answers each lookup with [`Lookup::Unavailable`].
//! Other instances cannot know of the failed bump: they may find the old
//! value until it lands, as they would with a Redis that lost one.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use domain::ports::{Cache, CacheKey, CacheLifetimes, CacheSlot, CacheTier, Lookup};

/// How many connections the cache has of its own.
pub const CACHE_POOL_SIZE: usize = 2;
/// How long a cache operation may take before it counts as unavailable: a
/// cache that is slow is skipped, never waited for.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);
/// How often bumps that failed are retried, and expired values deleted.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How many retries pass between two deletions of expired values.
const SWEEP_EVERY_RETRIES: u32 = 60;

const LOOKUP: &str = "SELECT slot, value FROM cache_lookup($1, $2)";
const PUT: &str = "INSERT INTO cache_values (slot, value, expires_at) \
     VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8)) \
     ON CONFLICT (slot) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
const BUMP: &str = "INSERT INTO cache_versions (namespace, version) \
     VALUES ($1, nextval('cache_version_seq')) \
     ON CONFLICT (namespace) DO UPDATE SET version = excluded.version";
const SWEEP: &str = "DELETE FROM cache_values WHERE expires_at < clock_timestamp()";

/// The cache in PostgreSQL, shared by every instance on the same database.
pub struct PgCache {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    lifetimes: CacheLifetimes,
    /// Namespaces whose bump failed and must land before this instance
    /// answers a lookup again.
    owed: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for PgCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCache")
            .field("lifetimes", &self.inner.lifetimes)
            .finish_non_exhaustive()
    }
}

impl PgCache {
    /// A cache over `pool` (its own, not the storage's). Within a Tokio
    /// runtime, also starts the task that retries failed bumps and deletes
    /// expired values (it ends with the cache).
    pub(crate) fn new(pool: Pool, lifetimes: CacheLifetimes) -> Self {
        let inner = Arc::new(Inner {
            pool,
            lifetimes,
            owed: Mutex::default(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(maintain(Arc::downgrade(&inner)));
        }
        Self { inner }
    }
}

async fn maintain(inner: Weak<Inner>) {
    let mut retries = 0_u32;
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.settle().await;
        retries += 1;
        if retries == SWEEP_EVERY_RETRIES {
            retries = 0;
            let _ = inner.execute(SWEEP, &[]).await;
        }
    }
}

impl Inner {
    fn owed(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.owed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lands every bump owed; whether none is left.
    async fn settle(&self) -> bool {
        let owed: Vec<String> = self.owed().iter().cloned().collect();
        for namespace in owed {
            if self.execute(BUMP, &[&namespace]).await.is_err() {
                return false;
            }
            self.owed().remove(&namespace);
            tracing::info!(namespace, "cache: a bump that had failed has landed");
        }
        true
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, ()> {
        let work = async {
            let client = self.pool.get().await.map_err(drop)?;
            let statement = client.prepare_cached(sql).await.map_err(drop)?;
            client.execute(&statement, params).await.map_err(drop)
        };
        tokio::time::timeout(OPERATION_TIMEOUT, work)
            .await
            .unwrap_or(Err(()))
    }

    async fn lookup(&self, key: &CacheKey) -> Result<(String, Option<Vec<u8>>), ()> {
        let work = async {
            let client = self.pool.get().await.map_err(drop)?;
            let statement = client.prepare_cached(LOOKUP).await.map_err(drop)?;
            let row = client
                .query_one(&statement, &[&key.namespaces, &key.name])
                .await
                .map_err(drop)?;
            let slot: Option<String> = row.try_get(0).map_err(drop)?;
            let value: Option<Vec<u8>> = row.try_get(1).map_err(drop)?;
            slot.map(|slot| (slot, value)).ok_or(())
        };
        tokio::time::timeout(OPERATION_TIMEOUT, work)
            .await
            .unwrap_or(Err(()))
    }
}

fn count(tier: CacheTier, result: &'static str) {
    metrics::counter!("roster_cache_requests_total", "tier" => tier.as_str(), "result" => result)
        .increment(1);
}

#[async_trait]
impl Cache for PgCache {
    async fn get(&self, key: &CacheKey) -> Lookup {
        let inner = &self.inner;
        if key.namespaces.is_empty() || !inner.settle().await {
            count(key.tier, "unavailable");
            return Lookup::Unavailable;
        }
        match inner.lookup(key).await {
            Ok((_, Some(value))) => {
                count(key.tier, "hit");
                Lookup::Hit(value)
            }
            Ok((slot, None)) => {
                count(key.tier, "miss");
                Lookup::Miss(CacheSlot(slot))
            }
            Err(()) => {
                count(key.tier, "unavailable");
                Lookup::Unavailable
            }
        }
    }

    async fn put(&self, tier: CacheTier, slot: &CacheSlot, value: Vec<u8>) {
        let seconds = self.inner.lifetimes.of(tier).as_secs_f64();
        // A value that could not be kept is a miss next time: nothing to do.
        let _ = self.inner.execute(PUT, &[&slot.0, &value, &seconds]).await;
    }

    async fn bump(&self, namespace: &str) {
        let inner = &self.inner;
        if inner.execute(BUMP, &[&namespace]).await.is_err() {
            tracing::warn!(
                namespace,
                "cache: a bump failed; this instance skips the cache until it lands"
            );
            inner.owed().insert(namespace.to_owned());
        }
    }
}
