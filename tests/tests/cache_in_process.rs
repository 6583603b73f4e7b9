//! The cache's conformance suite on the in-process cache (memory storage's),
//! and what only it does: staying within its size.

use std::sync::Arc;

use adapter_memory::InProcessCache;
use domain::ports::{Cache, CacheKey, CacheTier, Lookup};
use tests::cache_conformance::{FreshCache, LIFETIMES};

fn fresh() -> FreshCache {
    let cache: Arc<dyn Cache> = Arc::new(InProcessCache::new(LIFETIMES, 1024 * 1024));
    FreshCache {
        other: Arc::clone(&cache),
        cache,
        guard: None,
    }
}

tests::cache_conformance!(in_process, async { Some(fresh()) });

#[tokio::test]
async fn the_values_stay_within_the_capacity() {
    let cache = InProcessCache::new(LIFETIMES, 1024 * 1024);
    // 4 MiB of 4 KiB values into a 1 MiB cache.
    for n in 0..1024 {
        let key = CacheKey {
            tier: CacheTier::Reference,
            namespaces: vec!["catalog".to_owned()],
            name: format!("items:{n}"),
        };
        if let Lookup::Miss(slot) = cache.get(&key).await {
            cache.put(CacheTier::Reference, &slot, vec![7; 4096]).await;
        }
    }
    let held = cache.weighted_size();
    assert!(held <= 1024 * 1024, "{held} bytes held");
    assert!(held > 0);
}
