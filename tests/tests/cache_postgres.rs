//! The cache's conformance suite on PostgreSQL (a fresh schema per test,
//! two caches with pools of their own standing for two instances), and
//! what only it does: answering `Unavailable` at once when the database
//! cannot be reached, and landing a bump that failed once it can.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_postgres::PgStorage;
use domain::ports::{Cache, CacheKey, CacheTier, Lookup};
use tests::cache_conformance::{FreshCache, LIFETIMES};
use tests::pg::TestDatabase;
use tests::proxy::Proxy;

async fn fresh() -> Option<FreshCache> {
    let database = TestDatabase::create().await?;
    let storage = database.storage().await;
    let fresh = FreshCache {
        cache: Arc::new(storage.cache(LIFETIMES).expect("a cache pool")),
        other: Arc::new(storage.cache(LIFETIMES).expect("a cache pool")),
        guard: Some(Box::new(database)),
    };
    Some(fresh)
}

tests::cache_conformance!(postgres, fresh());

/// The catalog's classes, which live long beside a test.
fn classes() -> CacheKey {
    CacheKey {
        tier: CacheTier::Reference,
        namespaces: vec!["catalog".to_owned()],
        name: "classes".to_owned(),
    }
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_at_once_and_a_bump_does_not_wait() {
    // Nothing listens on port 1.
    let storage = PgStorage::connect("postgres://postgres@127.0.0.1:1/postgres", 4).unwrap();
    let cache = storage.cache(LIFETIMES).unwrap();
    let started = Instant::now();
    assert_eq!(cache.get(&classes()).await, Lookup::Unavailable);
    for _ in 0..20 {
        cache.bump("catalog").await;
        assert_eq!(cache.get(&classes()).await, Lookup::Unavailable);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bump_that_failed_lands_once_the_database_answers_again() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let direct = database.storage().await;
    let mut proxy = Proxy::start(database.server_address()).await;
    let writer = PgStorage::connect(&database.url_via(&proxy.address.to_string()), 4)
        .unwrap()
        .cache(LIFETIMES)
        .unwrap();
    let reader = direct.cache(LIFETIMES).unwrap();
    let Lookup::Miss(slot) = reader.get(&classes()).await else {
        panic!("a fresh schema holds nothing");
    };
    reader
        .put(CacheTier::Reference, &slot, b"before".to_vec())
        .await;
    assert_eq!(
        writer.get(&classes()).await,
        Lookup::Hit(b"before".to_vec())
    );

    // The write committed, then the writer's cache connection went away
    // before its bump: the writer skips the cache until the bump lands.
    proxy.cut().await;
    let started = Instant::now();
    writer.bump("catalog").await;
    assert_eq!(writer.get(&classes()).await, Lookup::Unavailable);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a bump and a lookup took {:?} with the database away",
        started.elapsed()
    );
    proxy.open().await;

    // The bump lands by itself (within a retry or two): then no instance
    // finds the old value.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match reader.get(&classes()).await {
            Lookup::Miss(_) => break,
            Lookup::Hit(value) => {
                assert_eq!(value, b"before");
                assert!(
                    Instant::now() < deadline,
                    "the old value was still served 5 s after the database came back"
                );
            }
            Lookup::Unavailable => panic!("the reader's database never went away"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(writer.get(&classes()).await, Lookup::Miss(_)));
}
