//! The `RateLimiter` port's conformance suite: one body per behaviour, run
//! on the in-process limiter (on a manual clock) and on Redis (on Redis'
//! own clock, so time there is moved by waiting).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use domain::ports::RateLimiter;
use domain::rate_limit::Quota;

/// Lets time pass for the limiter under test: a manual clock moved, or a
/// real wait.
pub type Advance = Box<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A limiter with no bucket yet, a second client of the same buckets
/// (another instance, for a shared limiter), and a way to let time pass.
pub struct FreshLimiter {
    pub limiter: Arc<dyn RateLimiter>,
    pub other: Arc<dyn RateLimiter>,
    pub advance: Advance,
}

impl std::fmt::Debug for FreshLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreshLimiter")
    }
}

/// Expands to one `#[tokio::test]` per behaviour, in a module named after
/// the adapter. The second argument is evaluated once per test and yields
/// `Option<FreshLimiter>` (`None`: the backend is unreachable and the test
/// skips, after saying so).
#[macro_export]
macro_rules! rate_limiter_conformance {
    ($backend:ident, $fresh:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $crate::rate_limiter_conformance!(@tests $fresh, [
                a_quiet_key_passes_a_burst_of_its_quota_then_is_refused,
                a_refused_request_says_when_to_come_back,
                the_bucket_refills_one_request_per_interval,
                keys_are_independent,
                a_peek_takes_nothing,
                concurrent_takes_never_pass_more_than_the_quota,
                two_clients_share_the_buckets,
            ]);
        }
    };
    (@tests $fresh:expr, [$($behaviour:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                let Some(fresh): Option<$crate::rate_limit_conformance::FreshLimiter> = $fresh.await else {
                    return;
                };
                $crate::rate_limit_conformance::$behaviour(fresh).await;
            }
        )*
    };
}

/// A quota whose interval (a second) is long beside the time a few calls
/// take, even on a busy machine, and short enough to wait for.
fn per_second(limit: u32) -> Quota {
    Quota::new(limit, Duration::from_secs(u64::from(limit))).unwrap()
}

fn key(name: &str) -> String {
    format!("test:{name}")
}

pub async fn a_quiet_key_passes_a_burst_of_its_quota_then_is_refused(fresh: FreshLimiter) {
    let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let decision = fresh.limiter.take(&key("a"), quota).await;
        assert!(decision.allowed, "{decision:?}");
        remaining.push(decision.remaining);
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    for _ in 0..3 {
        let refused = fresh.limiter.take(&key("a"), quota).await;
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
    }
}

pub async fn a_refused_request_says_when_to_come_back(fresh: FreshLimiter) {
    // One request per 12 s.
    let quota = Quota::new(5, Duration::from_secs(60)).unwrap();
    for _ in 0..5 {
        fresh.limiter.take(&key("a"), quota).await;
    }
    let refused = fresh.limiter.take(&key("a"), quota).await;
    assert!(!refused.allowed);
    // Within the interval, and never less than what is left of it (time
    // runs on between the calls on a real clock, so not exactly 12 s).
    assert!(
        refused.retry_after > Duration::from_secs(11)
            && refused.retry_after <= Duration::from_secs(12),
        "{refused:?}"
    );
    assert_eq!(refused.retry_after_secs(), 12);
    // Full again a whole window after the burst.
    assert!(
        refused.reset > Duration::from_secs(59) && refused.reset <= Duration::from_secs(60),
        "{refused:?}"
    );
}

pub async fn the_bucket_refills_one_request_per_interval(fresh: FreshLimiter) {
    let quota = per_second(3);
    for _ in 0..3 {
        assert!(fresh.limiter.take(&key("a"), quota).await.allowed);
    }
    assert!(!fresh.limiter.take(&key("a"), quota).await.allowed);
    (fresh.advance)(Duration::from_millis(1_200)).await;
    let refilled = fresh.limiter.take(&key("a"), quota).await;
    assert!(refilled.allowed, "{refilled:?}");
    assert_eq!(refilled.remaining, 0);
    assert!(!fresh.limiter.take(&key("a"), quota).await.allowed);
    // A whole window later the burst is there again.
    (fresh.advance)(Duration::from_millis(3_100)).await;
    for _ in 0..3 {
        assert!(fresh.limiter.take(&key("a"), quota).await.allowed);
    }
}

pub async fn keys_are_independent(fresh: FreshLimiter) {
    let quota = Quota::new(2, Duration::from_secs(60)).unwrap();
    for _ in 0..2 {
        assert!(fresh.limiter.take(&key("a"), quota).await.allowed);
    }
    assert!(!fresh.limiter.take(&key("a"), quota).await.allowed);
    let other = fresh.limiter.take(&key("b"), quota).await;
    assert!(other.allowed);
    assert_eq!(other.remaining, 1);
}

pub async fn a_peek_takes_nothing(fresh: FreshLimiter) {
    let quota = Quota::new(3, Duration::from_secs(60)).unwrap();
    for _ in 0..5 {
        let peeked = fresh.limiter.peek(&key("a"), quota).await;
        assert!(peeked.allowed);
        assert_eq!(peeked.remaining, 2);
    }
    for _ in 0..3 {
        assert!(fresh.limiter.take(&key("a"), quota).await.allowed);
    }
    let refused = fresh.limiter.peek(&key("a"), quota).await;
    assert!(!refused.allowed);
    assert!(refused.retry_after > Duration::from_secs(19), "{refused:?}");
}

pub async fn concurrent_takes_never_pass_more_than_the_quota(fresh: FreshLimiter) {
    let quota = Quota::new(10, Duration::from_secs(60)).unwrap();
    let takes = (0..64).map(|i| {
        let limiter = if i % 2 == 0 {
            Arc::clone(&fresh.limiter)
        } else {
            Arc::clone(&fresh.other)
        };
        tokio::spawn(async move { limiter.take(&key("a"), quota).await })
    });
    let decisions = futures::future::join_all(takes).await;
    let passed = decisions
        .into_iter()
        .map(|d| d.expect("the task"))
        .filter(|d| d.allowed)
        .count();
    assert_eq!(passed, 10);
}

pub async fn two_clients_share_the_buckets(fresh: FreshLimiter) {
    let quota = Quota::new(4, Duration::from_secs(60)).unwrap();
    for _ in 0..2 {
        assert!(fresh.limiter.take(&key("a"), quota).await.allowed);
    }
    let seen = fresh.other.take(&key("a"), quota).await;
    assert!(seen.allowed);
    assert_eq!(seen.remaining, 1);
    assert!(fresh.other.take(&key("a"), quota).await.allowed);
    assert!(!fresh.limiter.take(&key("a"), quota).await.allowed);
}
