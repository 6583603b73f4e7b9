//! The cache's conformance suite on Redis (a fresh key prefix per test),
//! and what only it does: answering `Unavailable` at once while Redis is
//! down, and orphaning every older value once it is back, since a bump may
//! have been lost in the outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_redis::{Redis, RedisCache, RedisConfig};
use domain::ports::{Cache, CacheKey, CacheTier, Lookup};
use tests::cache_conformance::{FreshCache, LIFETIMES};
use tests::redis::{OwnRedis, TestRedis};

async fn fresh() -> Option<FreshCache> {
    let test = TestRedis::create().await?;
    let fresh = FreshCache {
        cache: Arc::new(RedisCache::new(test.handle(), LIFETIMES)),
        other: Arc::new(RedisCache::new(test.handle(), LIFETIMES)),
        guard: Some(Box::new(test)),
    };
    Some(fresh)
}

tests::cache_conformance!(redis, fresh());

/// A value under a user's namespace that lives long beside a test (the
/// suite's user tier expires in 400 ms).
fn summary() -> CacheKey {
    CacheKey {
        tier: CacheTier::Reference,
        namespaces: vec!["user:a".to_owned(), "catalog".to_owned()],
        name: "summary".to_owned(),
    }
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_at_once_and_a_bump_does_not_wait() {
    // Nothing listens on port 1.
    let redis = Redis::new(&RedisConfig {
        url: "redis://127.0.0.1:1".to_owned(),
        prefix: "unreachable:".to_owned(),
    })
    .unwrap();
    let cache = RedisCache::new(redis, LIFETIMES);
    let started = Instant::now();
    assert_eq!(cache.get(&summary()).await, Lookup::Unavailable);
    for _ in 0..100 {
        cache.bump("user:a").await;
        assert_eq!(cache.get(&summary()).await, Lookup::Unavailable);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bump_lost_in_an_outage_never_leaves_an_old_value_behind() {
    // A server that keeps its keys through a crash: the value stored before
    // the outage is still there when it comes back.
    let Some(mut server) = OwnRedis::start_persistent().await else {
        return;
    };
    let config = RedisConfig {
        url: server.url(),
        prefix: "own:".to_owned(),
    };
    let writer = RedisCache::new(Redis::new(&config).unwrap(), LIFETIMES);
    let reader = RedisCache::new(Redis::new(&config).unwrap(), LIFETIMES);
    let Lookup::Miss(slot) = writer.get(&summary()).await else {
        panic!("a fresh server holds nothing");
    };
    writer
        .put(CacheTier::Reference, &slot, b"before".to_vec())
        .await;
    assert_eq!(
        reader.get(&summary()).await,
        Lookup::Hit(b"before".to_vec())
    );

    // The write commits while Redis is down: its bump is lost.
    server.kill();
    writer.bump("user:a").await;
    assert_eq!(writer.get(&summary()).await, Lookup::Unavailable);

    server.restart().await.unwrap();
    // The writer renews the epoch by itself once Redis answers (within a
    // probe or two); from then on no client finds the old value. The
    // reader saw no outage, and knows nothing of the lost bump.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match reader.get(&summary()).await {
            Lookup::Miss(_) => break,
            Lookup::Hit(value) => {
                assert_eq!(value, b"before");
                assert!(
                    Instant::now() < deadline,
                    "the old value was still served 5 s after Redis came back"
                );
            }
            // The reader's own connection died with the server.
            Lookup::Unavailable => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(writer.get(&summary()).await, Lookup::Miss(_)));
}
