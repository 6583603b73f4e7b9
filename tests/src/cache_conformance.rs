//! The `Cache` port's conformance suite: one body per behaviour, run on the
//! in-process cache and on Redis. Lifetimes are real time (both adapters
//! expire on their own clocks), so the suite's are short:
//! [`LIFETIMES`].

use std::sync::Arc;
use std::time::Duration;

use domain::ports::{Cache, CacheKey, CacheLifetimes, CacheSlot, CacheTier, Lookup};

/// What the suite's caches are built with: a user tier short enough to
/// wait out, a reference tier long beside the tests.
pub const LIFETIMES: CacheLifetimes = CacheLifetimes {
    reference: Duration::from_secs(30),
    user: Duration::from_millis(400),
};

/// A cache holding nothing yet under the suite's namespaces, built with
/// [`LIFETIMES`], and a second client of the same values (another instance,
/// for a shared cache; the same cache for an in-process one).
pub struct FreshCache {
    pub cache: Arc<dyn Cache>,
    pub other: Arc<dyn Cache>,
    /// Whatever must live as long as the test (a Redis prefix, cleaned up
    /// when dropped).
    pub guard: Option<Box<dyn std::any::Any + Send>>,
}

impl std::fmt::Debug for FreshCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreshCache")
    }
}

/// Expands to one `#[tokio::test]` per behaviour, in a module named after
/// the adapter. The second argument is evaluated once per test and yields
/// `Option<FreshCache>` (`None`: the backend is unreachable and the test
/// skips, after saying so).
#[macro_export]
macro_rules! cache_conformance {
    ($backend:ident, $fresh:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $crate::cache_conformance!(@tests $fresh, [
                a_miss_then_a_value_put_in_its_slot_is_a_hit,
                names_and_namespaces_are_independent,
                a_bump_makes_every_value_of_the_namespace_unreachable,
                a_value_under_two_namespaces_goes_with_a_bump_of_either,
                a_value_loaded_before_a_bump_is_never_found_after_it,
                values_expire_after_their_tiers_lifetime,
                two_clients_share_values_and_bumps,
                concurrent_bumps_and_reads_never_find_an_old_value,
            ]);
        }
    };
    (@tests $fresh:expr, [$($behaviour:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                let Some(fresh): Option<$crate::cache_conformance::FreshCache> = $fresh.await else {
                    return;
                };
                $crate::cache_conformance::$behaviour(fresh).await;
            }
        )*
    };
}

fn key(tier: CacheTier, namespaces: &[&str], name: &str) -> CacheKey {
    CacheKey {
        tier,
        namespaces: namespaces.iter().map(|&n| n.to_owned()).collect(),
        name: name.to_owned(),
    }
}

fn user(name: &str) -> CacheKey {
    key(CacheTier::User, &["user:a"], name)
}

async fn miss(cache: &dyn Cache, key: &CacheKey) -> CacheSlot {
    match cache.get(key).await {
        Lookup::Miss(slot) => slot,
        other => panic!("expected a miss for {key:?}, got {other:?}"),
    }
}

async fn fill(cache: &dyn Cache, key: &CacheKey, value: &[u8]) {
    let slot = miss(cache, key).await;
    cache.put(key.tier, &slot, value.to_vec()).await;
}

async fn hit(cache: &dyn Cache, key: &CacheKey) -> Vec<u8> {
    match cache.get(key).await {
        Lookup::Hit(value) => value,
        other => panic!("expected a hit for {key:?}, got {other:?}"),
    }
}

pub async fn a_miss_then_a_value_put_in_its_slot_is_a_hit(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    let key = user("summary");
    let slot = miss(cache, &key).await;
    // A lookup that stores nothing changes nothing: the same slot again.
    assert_eq!(miss(cache, &key).await, slot);
    cache
        .put(CacheTier::User, &slot, b"{\"done\":3}".to_vec())
        .await;
    assert_eq!(hit(cache, &key).await, b"{\"done\":3}");
    // Put again, replaced.
    cache.put(CacheTier::User, &slot, b"[]".to_vec()).await;
    assert_eq!(hit(cache, &key).await, b"[]");
}

pub async fn names_and_namespaces_are_independent(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    fill(cache, &user("one"), b"1").await;
    miss(cache, &user("two")).await;
    miss(cache, &key(CacheTier::User, &["user:b"], "one")).await;
    fill(cache, &key(CacheTier::User, &["user:b"], "one"), b"b1").await;
    assert_eq!(hit(cache, &user("one")).await, b"1");
    assert_eq!(
        hit(cache, &key(CacheTier::User, &["user:b"], "one")).await,
        b"b1"
    );
}

pub async fn a_bump_makes_every_value_of_the_namespace_unreachable(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    fill(cache, &user("one"), b"1").await;
    fill(cache, &user("two"), b"2").await;
    let elsewhere = key(CacheTier::User, &["user:b"], "one");
    fill(cache, &elsewhere, b"b1").await;
    cache.bump("user:a").await;
    miss(cache, &user("one")).await;
    miss(cache, &user("two")).await;
    assert_eq!(hit(cache, &elsewhere).await, b"b1");
    // The namespace works as before under its new version.
    fill(cache, &user("one"), b"1 again").await;
    assert_eq!(hit(cache, &user("one")).await, b"1 again");
}

pub async fn a_value_under_two_namespaces_goes_with_a_bump_of_either(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    let both = key(CacheTier::User, &["user:a", "catalog"], "summary");
    let catalog = key(CacheTier::Reference, &["catalog"], "classes");
    fill(cache, &both, b"s").await;
    fill(cache, &catalog, b"c").await;
    cache.bump("catalog").await;
    miss(cache, &both).await;
    miss(cache, &catalog).await;

    fill(cache, &both, b"s2").await;
    fill(cache, &catalog, b"c2").await;
    cache.bump("user:a").await;
    miss(cache, &both).await;
    // The catalog's own values are not the user's.
    assert_eq!(hit(cache, &catalog).await, b"c2");
}

pub async fn a_value_loaded_before_a_bump_is_never_found_after_it(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    let key = user("accounts");
    // A read misses and goes to storage; a write commits and bumps; the
    // read's value, loaded before the write, arrives after the bump.
    let slot = miss(cache, &key).await;
    cache.bump("user:a").await;
    cache.put(CacheTier::User, &slot, b"old".to_vec()).await;
    let fresh_slot = miss(cache, &key).await;
    assert_ne!(fresh_slot, slot);
}

pub async fn values_expire_after_their_tiers_lifetime(fresh: FreshCache) {
    let cache = fresh.cache.as_ref();
    let short = user("short");
    let long = key(CacheTier::Reference, &["catalog"], "classes");
    fill(cache, &short, b"s").await;
    fill(cache, &long, b"l").await;
    assert_eq!(hit(cache, &short).await, b"s");
    tokio::time::sleep(LIFETIMES.user + Duration::from_millis(300)).await;
    miss(cache, &short).await;
    assert_eq!(hit(cache, &long).await, b"l");
}

pub async fn two_clients_share_values_and_bumps(fresh: FreshCache) {
    let (first, second) = (fresh.cache.as_ref(), fresh.other.as_ref());
    fill(first, &user("one"), b"1").await;
    assert_eq!(hit(second, &user("one")).await, b"1");
    // A write acknowledged through one client: the other sees no old value.
    second.bump("user:a").await;
    miss(first, &user("one")).await;
    fill(second, &user("one"), b"2").await;
    assert_eq!(hit(first, &user("one")).await, b"2");
}

pub async fn concurrent_bumps_and_reads_never_find_an_old_value(fresh: FreshCache) {
    // Each task writes its own value and bumps, as a write does; every
    // read after its own bump must miss (a value stored before the bump is
    // gone), whatever the others do meanwhile.
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let cache = if task % 2 == 0 {
                Arc::clone(&fresh.cache)
            } else {
                Arc::clone(&fresh.other)
            };
            tokio::spawn(async move {
                let key = user("shared");
                for round in 0..10 {
                    let value = format!("{task}/{round}").into_bytes();
                    if let Lookup::Miss(slot) = cache.get(&key).await {
                        cache.put(CacheTier::User, &slot, value.clone()).await;
                    }
                    cache.bump("user:a").await;
                    if let Lookup::Hit(found) = cache.get(&key).await {
                        // Only a value stored after this bump, by another
                        // task, may be found.
                        assert_ne!(
                            found, value,
                            "task {task} read its own value after its bump"
                        );
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
