//! Redis for everything several Roster instances share: the rate limiter,
//! the cache, and the event fan-out as it comes.
//!
//! Redis is never a source of truth. Every call goes through [`Redis::run`],
//! which gives up after [`COMMAND_TIMEOUT`]; the first failure opens an
//! outage (logged once), during which calls are not even tried — the
//! caller uses its fallback at once instead of waiting on a dead server —
//! but for one probe every [`PROBE_EVERY`]. The first probe that succeeds
//! ends the outage (logged once too).

mod cache;
mod rate_limit;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError};

pub use cache::RedisCache;
pub use rate_limit::RedisRateLimiter;

/// The longest a command may take before its caller falls back.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// How often a call is let through to Redis during an outage.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Where Redis is, and the prefix of every key Roster writes there, so
/// deployments (and parallel tests) can share one server.
#[derive(Clone)]
pub struct RedisConfig {
    pub url: String,
    pub prefix: String,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Why a call did not get an answer from Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisDown {
    #[error("Redis is in an outage; not tried")]
    Skipped,
    #[error("Redis did not answer within {COMMAND_TIMEOUT:?}")]
    Timeout,
    #[error("Redis: {0}")]
    Failed(#[from] RedisError),
}

/// A handle on one Redis server: a multiplexed connection, made when first
/// needed (Roster starts while Redis is down) and remade after a loss.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    prefix: String,
    connection: RwLock<Option<ConnectionManager>>,
    outage: Mutex<Outage>,
    /// How many outages have begun since the handle was made.
    outages: AtomicU64,
    /// `roster_redis_up`: 1 while Redis answers, 0 during an outage.
    up: metrics::Gauge,
}

#[derive(Default)]
struct Outage {
    /// Since when Redis has failed, while it does.
    since: Option<Instant>,
    /// When a call may next be let through during the outage.
    next_probe: Option<Instant>,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.inner.prefix)
            .field("healthy", &self.healthy())
            .finish()
    }
}

impl Redis {
    /// A handle for `config`; connects on first use. Fails only on a URL
    /// that is not a Redis URL.
    pub fn new(config: &RedisConfig) -> Result<Self, RedisError> {
        Ok(Self {
            inner: Arc::new(Inner {
                client: Client::open(config.url.as_str())?,
                prefix: config.prefix.clone(),
                connection: RwLock::new(None),
                outage: Mutex::new(Outage::default()),
                outages: AtomicU64::new(0),
                up: metrics::gauge!("roster_redis_up"),
            }),
        })
    }

    /// `key` under this deployment's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Whether Redis answered the last call made to it.
    pub fn healthy(&self) -> bool {
        self.outage().since.is_none()
    }

    /// How many outages have begun since the handle was made: a caller
    /// that must act after each one (the cache renews its epoch) compares it
    /// with the count it has acted on.
    pub fn outages(&self) -> u64 {
        self.inner.outages.load(Ordering::Acquire)
    }

    /// Runs `call` on the shared connection, unless an outage is open and
    /// no probe is due; records the outcome.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, RedisDown>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if !self.may_try() {
            return Err(RedisDown::Skipped);
        }
        let outcome = tokio::time::timeout(COMMAND_TIMEOUT, async {
            let connection = self.connection().await?;
            call(connection).await
        })
        .await;
        match outcome {
            Ok(Ok(value)) => {
                self.answered();
                Ok(value)
            }
            Ok(Err(error)) => {
                let down = RedisDown::Failed(error);
                self.failed(&down);
                Err(down)
            }
            Err(_) => {
                self.failed(&RedisDown::Timeout);
                Err(RedisDown::Timeout)
            }
        }
    }

    /// Whether Redis answers `PING` now (for readiness and start-up).
    pub async fn ping(&self) -> Result<(), RedisDown> {
        self.run(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
        })
        .await
    }

    fn outage(&self) -> std::sync::MutexGuard<'_, Outage> {
        self.inner
            .outage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn may_try(&self) -> bool {
        let mut outage = self.outage();
        if outage.since.is_none() {
            return true;
        }
        let now = Instant::now();
        match outage.next_probe {
            Some(at) if at > now => false,
            _ => {
                outage.next_probe = Some(now + PROBE_EVERY);
                true
            }
        }
    }

    fn answered(&self) {
        self.inner.up.set(1.0);
        let mut outage = self.outage();
        if let Some(since) = outage.since.take() {
            outage.next_probe = None;
            tracing::info!(
                outage_secs = since.elapsed().as_secs_f64(),
                "Redis answers again; shared cache and limits are back"
            );
        }
    }

    fn failed(&self, why: &RedisDown) {
        self.inner.up.set(0.0);
        let mut outage = self.outage();
        let now = Instant::now();
        if outage.since.is_none() {
            outage.since = Some(now);
            self.inner.outages.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(
                error = %why,
                "Redis is unreachable; serving from in-process limits and without the shared cache until it answers"
            );
        }
        outage.next_probe = Some(now + PROBE_EVERY);
        // A connection that failed may be half-open; the next try makes a
        // new one.
        *self
            .inner
            .connection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    async fn connection(&self) -> Result<ConnectionManager, RedisError> {
        if let Some(connection) = self
            .inner
            .connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
        {
            return Ok(connection);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let connection =
            ConnectionManager::new_with_config(self.inner.client.clone(), config).await?;
        *self
            .inner
            .connection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(connection.clone());
        Ok(connection)
    }
}
