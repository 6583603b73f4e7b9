//! The shared rate limiter: one Lua script per decision, atomic in Redis and
//! on Redis' clock, so every instance reads and moves the same buckets
//! whatever their own clocks say.

use std::sync::Arc;

use async_trait::async_trait;
use domain::ports::RateLimiter;
use domain::rate_limit::{self, Decision, Quota};
use redis::Script;

use crate::Redis;

/// Reads the bucket's theoretical arrival time (microseconds) and Redis'
/// time, and when asked to take and the GCRA step allows it, stores the
/// new arrival time with an expiry at the instant the bucket is full again
/// (an idle bucket costs Redis nothing). Answers the stored time (-1 for
/// none) and the time now; `rate_limit::decide` makes the same decision
/// from them on the caller's side.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local stored = tonumber(redis.call('GET', KEYS[1]) or '-1')
local tat = math.max(stored, now)
local next = tat + interval
if ARGV[3] == '1' and next - now <= window then
  redis.call('SET', KEYS[1], string.format('%d', next),
             'PX', math.max(1, math.ceil((next - now) / 1000)))
end
return {stored, now}
";

/// Buckets in Redis, with the in-process `fallback` answering while Redis
/// does not.
pub struct RedisRateLimiter {
    redis: Redis,
    script: Script,
    fallback: Arc<dyn RateLimiter>,
    /// `roster_rate_limit_fallbacks_total`: decisions made in-process
    /// because Redis did not answer.
    fallbacks: metrics::Counter,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    pub fn new(redis: Redis, fallback: Arc<dyn RateLimiter>) -> Self {
        Self {
            redis,
            script: Script::new(GCRA),
            fallback,
            fallbacks: metrics::counter!("roster_rate_limit_fallbacks_total"),
        }
    }

    /// Redis' decision, or the fallback's while Redis does not answer.
    async fn decide(&self, key: &str, quota: Quota, take: bool) -> Decision {
        if let Some(decision) = self.step(key, quota, take).await {
            return decision;
        }
        self.fallbacks.increment(1);
        if take {
            self.fallback.take(key, quota).await
        } else {
            self.fallback.peek(key, quota).await
        }
    }

    async fn step(&self, key: &str, quota: Quota, take: bool) -> Option<Decision> {
        let key = self.redis.key(&format!("rl:{key}"));
        let script = &self.script;
        let answer: Result<(i64, i64), _> = self
            .redis
            .run(|mut connection| async move {
                script
                    .key(key)
                    .arg(quota.interval_micros())
                    .arg(quota.window_micros())
                    .arg(u8::from(take))
                    .invoke_async(&mut connection)
                    .await
            })
            .await;
        let (stored, now) = answer.ok()?;
        let stored = u64::try_from(stored).ok();
        let now = u64::try_from(now).ok()?;
        Some(rate_limit::decide(quota, stored, now).decision)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn take(&self, key: &str, quota: Quota) -> Decision {
        self.decide(key, quota, true).await
    }

    async fn peek(&self, key: &str, quota: Quota) -> Decision {
        self.decide(key, quota, false).await
    }

    async fn reachable(&self) -> bool {
        self.redis.ping().await.is_ok()
    }
}
