//! The rate limiter's conformance suite on the in-process buckets, on a
//! manual clock; and what only they do: dropping idle buckets.

use std::sync::Arc;
use std::time::Duration;

use adapter_memory::InProcessRateLimiter;
use adapter_system::ManualClock;
use domain::ports::RateLimiter;
use domain::rate_limit::Quota;
use tests::rate_limit_conformance::FreshLimiter;

fn fresh() -> (Arc<ManualClock>, FreshLimiter) {
    let clock = Arc::new(ManualClock::starting_now());
    let limiter: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::new(clock.clone()));
    let moved = Arc::clone(&clock);
    let fresh = FreshLimiter {
        other: Arc::clone(&limiter),
        limiter,
        advance: Box::new(move |by| {
            moved.advance(time::Duration::try_from(by).expect("a short wait"));
            Box::pin(async {})
        }),
    };
    (clock, fresh)
}

tests::rate_limiter_conformance!(in_process, async { Some(fresh().1) });

#[tokio::test]
async fn buckets_full_again_are_swept_once_a_shard_grows() {
    let clock = Arc::new(ManualClock::starting_now());
    let limiter = InProcessRateLimiter::new(clock.clone());
    let quota = Quota::new(10, Duration::from_secs(10)).unwrap();
    for client in 0..20_000 {
        limiter.take(&format!("ip:{client}"), quota).await;
    }
    assert_eq!(limiter.len(), 20_000);
    // A second later every bucket is full again: new clients trigger the
    // sweeps, and the old ones go.
    clock.advance(time::Duration::seconds(2));
    for client in 0..20_000 {
        limiter.take(&format!("new:{client}"), quota).await;
    }
    assert!(limiter.len() < 30_000, "{} buckets", limiter.len());
    // Sweeping never forgets a bucket that still holds requests.
    let busy = Quota::new(1, Duration::from_secs(3_600)).unwrap();
    assert!(limiter.take("busy", busy).await.allowed);
    for client in 0..40_000 {
        limiter.take(&format!("more:{client}"), quota).await;
    }
    assert!(!limiter.take("busy", busy).await.allowed);
}
