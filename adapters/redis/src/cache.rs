//! The shared cache: every instance reads and bumps the same namespaces'
//! versions, so a write acknowledged by one is seen by all.
//!
//! A lookup is one Lua script: it reads the deployment's epoch and the
//! namespaces' versions (making any that are missing), then the value under
//! them. Versions are made from Redis' clock and a counter, so one is never
//! given twice, even after Redis lost its keys.
//!
//! An outage may have eaten a bump: a write committed and answered while
//! its namespace kept the old version. So an instance that saw Redis fail
//! answers every lookup with [`Lookup::Unavailable`] until it has given the
//! whole deployment a new epoch, which orphans every value stored before;
//! a background task does so within [`crate::PROBE_EVERY`] of Redis
//! answering again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use domain::ports::{Cache, CacheKey, CacheLifetimes, CacheSlot, CacheTier, Lookup};
use redis::Script;

use crate::{PROBE_EVERY, Redis};

/// `KEYS[1]`: the counter of fresh versions; `KEYS[2]`: the epoch;
/// `KEYS[3..]`: the namespaces' versions. `ARGV`: the value key's start and
/// end around the versions, and a new namespace version's lifetime (s).
/// Answers the value's key, and the value when there is one.
const LOOKUP: &str = r"
local function fresh()
  local now = redis.call('TIME')
  return now[1] .. '.' .. now[2] .. '.' .. redis.call('INCR', KEYS[1])
end
local stamp = {}
for i = 2, #KEYS do
  local version = redis.call('GET', KEYS[i])
  if not version then
    version = fresh()
    if i == 2 then
      redis.call('SET', KEYS[i], version)
    else
      redis.call('SET', KEYS[i], version, 'EX', ARGV[3])
    end
  end
  stamp[#stamp + 1] = version
end
local key = ARGV[1] .. table.concat(stamp, '/') .. ARGV[2]
local value = redis.call('GET', key)
if value then
  return {key, value}
end
return {key}
";

/// `KEYS[1]`: the counter; `KEYS[2]`: the version to renew; `ARGV[1]`: its
/// lifetime (s), 0 for none (the epoch).
const BUMP: &str = r"
local now = redis.call('TIME')
local version = now[1] .. '.' .. now[2] .. '.' .. redis.call('INCR', KEYS[1])
if ARGV[1] == '0' then
  redis.call('SET', KEYS[2], version)
else
  redis.call('SET', KEYS[2], version, 'EX', ARGV[1])
end
return 1
";

/// The cache in Redis, shared by every instance with the same prefix.
pub struct RedisCache {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Redis,
    lookup: Script,
    bump: Script,
    lifetimes: CacheLifetimes,
    /// The number of outages of [`Redis`] this instance has made safe by a
    /// new epoch.
    settled: AtomicU64,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("redis", &self.inner.redis)
            .field("lifetimes", &self.inner.lifetimes)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache over `redis`. Within a Tokio runtime, also starts the task
    /// that renews the epoch after an outage (it ends with the cache).
    pub fn new(redis: Redis, lifetimes: CacheLifetimes) -> Self {
        let inner = Arc::new(Inner {
            settled: AtomicU64::new(redis.outages()),
            redis,
            lookup: Script::new(LOOKUP),
            bump: Script::new(BUMP),
            lifetimes,
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(settle_after_outages(Arc::downgrade(&inner)));
        }
        Self { inner }
    }
}

async fn settle_after_outages(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        if !inner.settle().await && !inner.redis.healthy() {
            // Lets a probe through, so the end of the outage is seen even
            // when no request asks for Redis.
            let _ = inner.redis.ping().await;
        }
    }
}

impl Inner {
    fn counter(&self) -> String {
        self.redis.key("cache:versions")
    }

    fn version_key(&self, namespace: &str) -> String {
        self.redis.key(&format!("cache:version:{namespace}"))
    }

    /// A namespace's version outlives every value stored under it.
    fn version_lifetime(&self) -> u64 {
        (self.lifetimes.longest() * 2).as_secs().max(1)
    }

    /// Whether every outage this instance saw has been followed by a new
    /// epoch; renews it when one is owed and Redis answers.
    async fn settle(&self) -> bool {
        let seen = self.redis.outages();
        if self.settled.load(Ordering::Acquire) == seen {
            return true;
        }
        if !self.redis.healthy() {
            return false;
        }
        if self.renew(&self.redis.key("cache:epoch"), 0).await {
            self.settled.fetch_max(seen, Ordering::AcqRel);
            tracing::info!("cache: new epoch after a Redis outage; older values are orphaned");
            return self.redis.outages() == seen;
        }
        false
    }

    async fn renew(&self, key: &str, lifetime_secs: u64) -> bool {
        let (counter, script) = (self.counter(), &self.bump);
        self.redis
            .run(|mut connection| async move {
                script
                    .key(counter)
                    .key(key)
                    .arg(lifetime_secs)
                    .invoke_async::<i64>(&mut connection)
                    .await
            })
            .await
            .is_ok()
    }
}

fn count(tier: CacheTier, result: &'static str) {
    metrics::counter!("roster_cache_requests_total", "tier" => tier.as_str(), "result" => result)
        .increment(1);
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Lookup {
        let inner = &self.inner;
        if !inner.settle().await {
            count(key.tier, "unavailable");
            return Lookup::Unavailable;
        }
        let owner = key.namespaces.first().map_or("", String::as_str);
        let start = inner.redis.key(&format!("cache:{owner}:v"));
        let end = format!(":{}", key.name);
        let mut keys = vec![inner.counter(), inner.redis.key("cache:epoch")];
        keys.extend(key.namespaces.iter().map(|n| inner.version_key(n)));
        let script = &inner.lookup;
        let lifetime = inner.version_lifetime();
        let answer: Result<Vec<Vec<u8>>, _> = inner
            .redis
            .run(|mut connection| async move {
                let mut invocation = script.prepare_invoke();
                for key in keys {
                    invocation.key(key);
                }
                invocation
                    .arg(start)
                    .arg(end)
                    .arg(lifetime)
                    .invoke_async(&mut connection)
                    .await
            })
            .await;
        let mut answer = match answer {
            Ok(answer) if !answer.is_empty() => answer,
            _ => {
                count(key.tier, "unavailable");
                return Lookup::Unavailable;
            }
        };
        if answer.len() == 2 {
            count(key.tier, "hit");
            return Lookup::Hit(answer.pop().unwrap_or_default());
        }
        count(key.tier, "miss");
        match String::from_utf8(answer.pop().unwrap_or_default()) {
            Ok(slot) => Lookup::Miss(CacheSlot(slot)),
            Err(_) => Lookup::Unavailable,
        }
    }

    async fn put(&self, tier: CacheTier, slot: &CacheSlot, value: Vec<u8>) {
        let lifetime = self.inner.lifetimes.of(tier);
        let millis = u64::try_from(lifetime.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let key = slot.0.as_str();
        let _ = self
            .inner
            .redis
            .run(|mut connection| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(millis)
                    .query_async::<()>(&mut connection)
                    .await
            })
            .await;
    }

    async fn bump(&self, namespace: &str) {
        let inner = &self.inner;
        // A failure opens an outage in `Redis`, which the next lookup (or
        // the background task) settles with a new epoch.
        let key = inner.version_key(namespace);
        if !inner.renew(&key, inner.version_lifetime()).await {
            tracing::debug!(namespace, "cache: bump not made; the epoch will be renewed");
        }
    }
}
