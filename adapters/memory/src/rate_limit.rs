//! The in-process rate limiter: GCRA buckets in a sharded map, on the
//! `Clock` port (so tests move time by hand).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::ports::{Clock, RateLimiter};
use domain::rate_limit::{self, Decision, Quota};

/// Shards, so that requests of different clients rarely wait on one lock.
const SHARDS: usize = 16;
/// A shard is swept of full buckets when it grows past this many keys, and
/// afterwards past twice what the sweep left.
const FIRST_SWEEP: usize = 1024;

/// Buckets in this process's memory: the embedded default, and the
/// fallback of a shared limiter. An idle bucket is dropped by the next
/// sweep of its shard once it is full again, so memory follows the number
/// of clients active in the last window, not of every client ever seen.
pub struct InProcessRateLimiter {
    clock: Arc<dyn Clock>,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    /// Each key's theoretical arrival time, in microseconds since the epoch.
    buckets: HashMap<Box<str>, u64>,
    sweep_at: usize,
}

impl std::fmt::Debug for InProcessRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessRateLimiter")
    }
}

impl InProcessRateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        sweep_at: FIRST_SWEEP,
                    })
                })
                .collect(),
        }
    }

    /// How many buckets are held now (for tests of the sweep).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).buckets.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now_micros(&self) -> u64 {
        let nanos = self.clock.now().unix_timestamp_nanos();
        u64::try_from(nanos / 1_000).unwrap_or(0)
    }

    fn step(&self, key: &str, quota: Quota, take: bool) -> Decision {
        let now = self.now_micros();
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A panic while holding a shard cannot leave a bucket half-written
        // (it is one integer), so a poisoned lock is still good.
        let mut shard = self.shards[index].lock().unwrap_or_else(|p| p.into_inner());
        let step = rate_limit::decide(quota, shard.buckets.get(key).copied(), now);
        if take && let Some(tat) = step.store {
            match shard.buckets.get_mut(key) {
                Some(stored) => *stored = tat,
                None => {
                    shard.buckets.insert(key.into(), tat);
                    if shard.buckets.len() > shard.sweep_at {
                        shard.buckets.retain(|_, tat| *tat > now);
                        shard.sweep_at = (shard.buckets.len() * 2).max(FIRST_SWEEP);
                    }
                }
            }
        }
        step.decision
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn take(&self, key: &str, quota: Quota) -> Decision {
        self.step(key, quota, true)
    }

    async fn peek(&self, key: &str, quota: Quota) -> Decision {
        self.step(key, quota, false)
    }
}
