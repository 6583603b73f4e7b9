//! The in-process cache: values in a `moka` cache bounded by size, each kept
//! for its tier's lifetime; namespaces' versions in another, numbered from
//! one counter so a version is never given twice — a namespace evicted and
//! read again gets a new one, under which nothing old can be found.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::ports::{Cache, CacheKey, CacheLifetimes, CacheSlot, CacheTier, Lookup};
use moka::Expiry;

/// How many bytes of values (and their keys) one process keeps at most.
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// How many namespaces' versions one process keeps at most.
const MAX_NAMESPACES: u64 = 1_000_000;

#[derive(Clone)]
struct Value {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

struct ByTier;

impl Expiry<String, Value> for ByTier {
    fn expire_after_create(&self, _: &String, value: &Value, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// One process's cache: for memory storage, where one process holds every
/// write.
pub struct InProcessCache {
    values: moka::sync::Cache<String, Value>,
    versions: moka::sync::Cache<String, u64>,
    next_version: AtomicU64,
    lifetimes: CacheLifetimes,
}

impl std::fmt::Debug for InProcessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessCache")
            .field("values", &self.values.entry_count())
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::new(CacheLifetimes::default(), DEFAULT_CAPACITY_BYTES)
    }
}

impl InProcessCache {
    pub fn new(lifetimes: CacheLifetimes, capacity_bytes: u64) -> Self {
        Self {
            values: moka::sync::Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &String, value: &Value| {
                    u32::try_from(key.len() + value.bytes.len()).unwrap_or(u32::MAX)
                })
                .expire_after(ByTier)
                .build(),
            // A version must outlive the values stored under it; one that
            // is dropped earlier only makes them unreachable.
            versions: moka::sync::Cache::builder()
                .max_capacity(MAX_NAMESPACES)
                .time_to_idle(lifetimes.longest() * 2)
                .build(),
            next_version: AtomicU64::new(1),
            lifetimes,
        }
    }

    /// The bytes of values (and their keys) held now, once pending
    /// evictions are done.
    pub fn weighted_size(&self) -> u64 {
        self.values.run_pending_tasks();
        self.values.weighted_size()
    }

    fn fresh_version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::Relaxed)
    }

    fn slot(&self, key: &CacheKey) -> CacheSlot {
        let stamp: Vec<String> = key
            .namespaces
            .iter()
            .map(|namespace| {
                self.versions
                    .get_with_by_ref(namespace, || self.fresh_version())
                    .to_string()
            })
            .collect();
        let owner = key.namespaces.first().map_or("", String::as_str);
        CacheSlot(format!("{owner}:v{}:{}", stamp.join("/"), key.name))
    }
}

fn count(tier: CacheTier, result: &'static str) {
    metrics::counter!("roster_cache_requests_total", "tier" => tier.as_str(), "result" => result)
        .increment(1);
}

#[async_trait]
impl Cache for InProcessCache {
    async fn get(&self, key: &CacheKey) -> Lookup {
        let slot = self.slot(key);
        match self.values.get(&slot.0) {
            Some(value) => {
                count(key.tier, "hit");
                Lookup::Hit(value.bytes.to_vec())
            }
            None => {
                count(key.tier, "miss");
                Lookup::Miss(slot)
            }
        }
    }

    async fn put(&self, tier: CacheTier, slot: &CacheSlot, value: Vec<u8>) {
        self.values.insert(
            slot.0.clone(),
            Value {
                bytes: value.into(),
                ttl: self.lifetimes.of(tier),
            },
        );
    }

    async fn bump(&self, namespace: &str) {
        self.versions
            .insert(namespace.to_owned(), self.fresh_version());
    }
}
