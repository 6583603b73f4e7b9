//! The rate limiter's conformance suite on Redis (a fresh key prefix per
//! test; time moves by waiting, since the buckets run on Redis' clock), and
//! what only it does: falling back to in-process buckets while Redis is
//! unreachable.

use std::sync::Arc;
use std::time::Duration;

use adapter_memory::InProcessRateLimiter;
use adapter_redis::{Redis, RedisConfig, RedisRateLimiter};
use adapter_system::SystemClock;
use domain::ports::RateLimiter;
use domain::rate_limit::Quota;
use tests::rate_limit_conformance::FreshLimiter;
use tests::redis::TestRedis;

fn limiter(redis: Redis) -> Arc<dyn RateLimiter> {
    Arc::new(RedisRateLimiter::new(
        redis,
        Arc::new(InProcessRateLimiter::new(Arc::new(SystemClock))),
    ))
}

async fn fresh() -> Option<FreshLimiter> {
    let test = TestRedis::create().await?;
    let fresh = FreshLimiter {
        limiter: limiter(test.handle()),
        other: limiter(test.handle()),
        advance: Box::new(move |by| {
            // Holds the prefix (and its clean-up) as long as the test runs.
            let _owner = &test;
            Box::pin(tokio::time::sleep(by))
        }),
    };
    Some(fresh)
}

tests::rate_limiter_conformance!(redis, fresh());

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_in_process_buckets_at_once() {
    // Nothing listens on port 1.
    let redis = Redis::new(&RedisConfig {
        url: "redis://127.0.0.1:1".to_owned(),
        prefix: "unreachable:".to_owned(),
    })
    .unwrap();
    let limiter = limiter(redis.clone());
    let quota = Quota::new(2, Duration::from_secs(60)).unwrap();
    let started = std::time::Instant::now();
    assert!(limiter.take("a", quota).await.allowed);
    assert!(!redis.healthy());
    assert!(limiter.take("a", quota).await.allowed);
    assert!(!limiter.take("a", quota).await.allowed);
    // The outage is open: no call waits on the dead server.
    for _ in 0..100 {
        limiter.peek("a", quota).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_limiter_returns_to_redis_by_itself_once_it_answers_again() {
    let Some(mut server) = tests::redis::OwnRedis::start().await else {
        return;
    };
    let config = RedisConfig {
        url: server.url(),
        prefix: "own:".to_owned(),
    };
    let (first, second) = (
        limiter(Redis::new(&config).unwrap()),
        limiter(Redis::new(&config).unwrap()),
    );
    let quota = Quota::new(3, Duration::from_secs(60)).unwrap();
    assert!(first.take("a", quota).await.allowed);
    assert_eq!(second.take("a", quota).await.remaining, 1);

    server.kill();
    // Each instance falls back to buckets of its own: never a refusal
    // because the limiter is down.
    let during = first.take("a", quota).await;
    assert!(during.allowed);
    assert!(!first.reachable().await);

    server.restart().await.unwrap();
    // The next probe is let through within a second of the failure.
    tokio::time::sleep(adapter_redis::PROBE_EVERY + Duration::from_millis(200)).await;
    for limiter in [&first, &second] {
        // The other instance's connection died with the server too: its
        // next call fails over, and the probe after it comes back.
        let mut back = false;
        for _ in 0..30 {
            if limiter.reachable().await {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(back, "a limiter never went back to Redis");
    }
    // Shared again: what one instance takes, the other sees.
    assert!(first.take("b", quota).await.allowed);
    assert_eq!(second.take("b", quota).await.remaining, 1);
}
