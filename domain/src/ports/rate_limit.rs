use async_trait::async_trait;

use crate::rate_limit::{Decision, Quota};

/// Buckets of requests, one per key, each held to a [`Quota`] by GCRA
/// (see [`crate::rate_limit`]).
///
/// Infallible by contract: a limiter whose backing service is down answers
/// from a fallback (the in-process buckets) rather than refusing or
/// failing a request. Keys are chosen by the caller (`"auth:203.0.113.9"`)
/// and never hold a secret; an adapter may prefix them.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request from `key`'s bucket when `quota` allows it; a
    /// refusal takes nothing.
    async fn take(&self, key: &str, quota: Quota) -> Decision;

    /// Whether one request would pass now, without taking it.
    async fn peek(&self, key: &str, quota: Quota) -> Decision;

    /// Whether the limiter's shared store answers now (a limiter with none
    /// always does). `false` while a shared limiter serves from its
    /// in-process fallback: degraded, not down.
    async fn reachable(&self) -> bool {
        true
    }
}
