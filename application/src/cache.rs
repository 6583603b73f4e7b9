//! Reads kept in the [`Cache`] port (`API.md`, Caching), and the bumps that
//! keep them true.
//!
//! The rule: an answer given after a write was acknowledged reflects it, on
//! every instance. A read looks its value up under the current versions of
//! its namespaces and, on a miss, loads it from storage and stores it in the
//! slot the lookup named; a write commits, then bumps the namespaces it
//! changed before it answers. A load that raced the write stored its value
//! under the old version, where no later lookup looks.
//!
//! Values are JSON (`serde_json`) under names that carry [`FORMAT`], so a
//! build that changes a value's shape never reads the old one. A value that
//! does not decode is a miss. Loads are collapsed per instance: while one
//! caller loads a slot, the others wait for it and read what it stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use domain::UserId;
use domain::ports::{Cache, CacheKey, CacheSlot, CacheTier, Lookup};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The version of the values' format, in every name: raise it when a cached
/// type changes shape.
pub const FORMAT: u32 = 1;

/// The catalog's namespace.
pub const CATALOG: &str = "catalog";

/// An optional text as the last part of a value's name: `-` for none,
/// `=` and the text otherwise (it may hold anything, `:` included, so it
/// goes last).
pub(crate) fn last_part(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_owned(), |text| format!("={text}"))
}

/// `user`'s namespace.
pub fn user_namespace(user: UserId) -> String {
    format!("user:{user}")
}

/// The application's side of the cache: off, or over one [`Cache`].
#[derive(Clone, Default)]
pub struct ReadCache {
    cache: Option<Arc<dyn Cache>>,
    flights: Arc<Mutex<HashMap<CacheSlot, Arc<tokio::sync::Mutex<()>>>>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("on", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    /// Reads through `cache`.
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self {
            cache: Some(cache),
            flights: Arc::default(),
        }
    }

    /// No caching: every read loads, every bump is nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// The value of `name` under `namespaces`, from the cache or `load`.
    /// Only a loaded `Ok` is stored; an error is returned as it came.
    pub(crate) async fn read<T, E, F, Fut>(
        &self,
        tier: CacheTier,
        namespaces: &[&str],
        name: &str,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(cache) = &self.cache else {
            return load().await;
        };
        let key = CacheKey {
            tier,
            namespaces: namespaces.iter().map(|&n| n.to_owned()).collect(),
            name: format!("f{FORMAT}:{name}"),
        };
        let slot = match cache.get(&key).await {
            Lookup::Hit(bytes) => match decode(&key, &bytes) {
                Some(value) => return Ok(value),
                None => return load().await,
            },
            Lookup::Unavailable => return load().await,
            Lookup::Miss(slot) => slot,
        };
        let gated = slot.clone();
        let gate = self.gate(&gated);
        let (held, slot) = match Arc::clone(&gate).try_lock_owned() {
            Ok(held) => (held, slot),
            Err(_) => {
                // Another caller loads this slot: wait for it, then read
                // what it stored (or whatever is current by then).
                let held = Arc::clone(&gate).lock_owned().await;
                match cache.get(&key).await {
                    Lookup::Hit(bytes) => {
                        if let Some(value) = decode(&key, &bytes) {
                            drop(held);
                            self.release(&gated, gate);
                            return Ok(value);
                        }
                        (held, slot)
                    }
                    Lookup::Miss(current) => (held, current),
                    Lookup::Unavailable => (held, slot),
                }
            }
        };
        let loaded = load().await;
        if let Ok(value) = &loaded {
            match serde_json::to_vec(value) {
                Ok(bytes) => cache.put(tier, &slot, bytes).await,
                Err(error) => tracing::warn!(%error, name = %key.name, "cache: value not encoded"),
            }
        }
        drop(held);
        self.release(&gated, gate);
        loaded
    }

    /// After a write by or for `user` committed, before it answers.
    pub(crate) async fn user_changed(&self, user: UserId) {
        if let Some(cache) = &self.cache {
            cache.bump(&user_namespace(user)).await;
        }
    }

    /// After the catalog changed.
    pub async fn catalog_changed(&self) {
        if let Some(cache) = &self.cache {
            cache.bump(CATALOG).await;
        }
    }

    fn gate(&self, slot: &CacheSlot) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(flights.entry(slot.clone()).or_default())
    }

    /// Forgets `slot`'s gate once no one else holds it.
    fn release(&self, slot: &CacheSlot, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        // Gates are cloned under this lock: ours and the map's are the only
        // ones left when nobody else waits on it.
        let current = flights.get(slot).is_some_and(|g| Arc::ptr_eq(g, &gate));
        if current && Arc::strong_count(&gate) <= 2 {
            flights.remove(slot);
        }
    }
}

fn decode<T: DeserializeOwned>(key: &CacheKey, bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes)
        .inspect_err(|error| tracing::warn!(%error, name = %key.name, "cache: value not decoded"))
        .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use adapter_memory::InProcessCache;
    use domain::RepoError;

    use super::*;

    fn user() -> UserId {
        UserId::from_uuid(uuid::Uuid::from_u128(7))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_of_one_value_load_it_once() {
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let loads = Arc::new(AtomicUsize::new(0));
        let namespace = user_namespace(user());
        let readers: Vec<_> = (0..32)
            .map(|_| {
                let (cache, loads, namespace) =
                    (cache.clone(), Arc::clone(&loads), namespace.clone());
                tokio::spawn(async move {
                    cache
                        .read(CacheTier::User, &[&namespace], "summary", || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, RepoError>(vec![1_u64, 2, 3])
                        })
                        .await
                })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap(), [1, 2, 3]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // Nobody waits any more: the gates are gone.
        assert!(cache.flights.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_load_is_not_kept_and_a_bump_forces_a_new_load() {
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let namespace = user_namespace(user());
        let read = |value: Result<u64, String>| {
            let (cache, namespace) = (cache.clone(), namespace.clone());
            async move {
                cache
                    .read(CacheTier::User, &[&namespace], "n", || async { value })
                    .await
            }
        };
        assert_eq!(read(Err("down".to_owned())).await, Err("down".to_owned()));
        assert_eq!(read(Ok(1)).await, Ok(1));
        // Kept: the loader is not asked again.
        assert_eq!(read(Ok(2)).await, Ok(1));
        cache.user_changed(user()).await;
        assert_eq!(read(Ok(3)).await, Ok(3));
    }

    #[tokio::test]
    async fn one_read_alone_leaves_no_gate_behind() {
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let read = cache
            .read(CacheTier::Reference, &[CATALOG], "n", || async {
                Ok::<_, String>(1_u64)
            })
            .await;
        assert_eq!(read, Ok(1));
        assert!(cache.flights.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn two_users_values_of_one_name_are_apart_and_a_bump_of_one_leaves_the_other() {
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let other = UserId::from_uuid(uuid::Uuid::from_u128(8));
        let read = |user: UserId, value: u64| {
            let cache = cache.clone();
            async move {
                let namespace = user_namespace(user);
                cache
                    .read(CacheTier::User, &[&namespace], "summary", || async {
                        Ok::<_, String>(value)
                    })
                    .await
            }
        };
        assert_eq!(read(user(), 1).await, Ok(1));
        assert_eq!(read(other, 2).await, Ok(2));
        cache.user_changed(user()).await;
        assert_eq!(read(user(), 3).await, Ok(3));
        assert_eq!(read(other, 4).await, Ok(2));
    }

    #[test]
    fn a_users_namespace_names_the_user() {
        assert_eq!(
            user_namespace(user()),
            "user:00000000-0000-0000-0000-000000000007"
        );
        assert_eq!(last_part(None), "-");
        assert_eq!(last_part(Some("a:b")), "=a:b");
    }

    #[tokio::test]
    async fn a_catalog_change_forces_a_new_load_of_catalog_values() {
        let cache = ReadCache::new(Arc::new(InProcessCache::default()));
        let read = |value: u64| {
            let cache = cache.clone();
            async move {
                cache
                    .read(CacheTier::Reference, &[CATALOG], "classes", || async {
                        Ok::<_, String>(value)
                    })
                    .await
            }
        };
        assert_eq!(read(1).await, Ok(1));
        assert_eq!(read(2).await, Ok(1));
        cache.catalog_changed().await;
        assert_eq!(read(3).await, Ok(3));
    }

    #[tokio::test]
    async fn off_every_read_loads() {
        let cache = ReadCache::off();
        for n in 0..3_u64 {
            let read = cache
                .read(CacheTier::Reference, &[CATALOG], "n", || async {
                    Ok::<_, RepoError>(n)
                })
                .await;
            assert_eq!(read.unwrap(), n);
        }
    }
}
