use std::time::Duration;

use async_trait::async_trait;

/// Which of `API.md`'s two tiers a value belongs to: it sets the value's
/// lifetime ([`CacheLifetimes`]) and labels the cache's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheTier {
    /// The catalog's answers, kept an hour; a catalog change bumps them.
    Reference,
    /// One user's reads that join several tables, kept five minutes; every
    /// write by or for the user bumps them.
    User,
}

impl CacheTier {
    /// The tier's name in `roster_cache_requests_total{tier}`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::User => "user",
        }
    }
}

/// How long each tier's values are kept at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLifetimes {
    pub reference: Duration,
    pub user: Duration,
}

impl Default for CacheLifetimes {
    /// `API.md`'s: an hour for the catalog, five minutes for a user's reads.
    fn default() -> Self {
        Self {
            reference: Duration::from_secs(60 * 60),
            user: Duration::from_secs(5 * 60),
        }
    }
}

impl CacheLifetimes {
    pub const fn of(self, tier: CacheTier) -> Duration {
        match tier {
            CacheTier::Reference => self.reference,
            CacheTier::User => self.user,
        }
    }

    /// The longest of the two: how long a namespace's version must outlive
    /// its newest value.
    pub fn longest(self) -> Duration {
        self.reference.max(self.user)
    }
}

/// Where a value is kept: `name` (the read and its arguments) under the
/// current versions of one or more namespaces (`"catalog"`,
/// `"user:{id}"`). Bumping any of them makes the value unreachable; the
/// first namespace names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub tier: CacheTier,
    pub namespaces: Vec<String>,
    pub name: String,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The value stored under the namespaces' current versions.
    Hit(Vec<u8>),
    /// Nothing there: a value loaded now belongs in `slot`.
    Miss(CacheSlot),
    /// The cache could not answer (its server is down): load, store nothing.
    Unavailable,
}

/// A key under the versions a lookup read. A value stored there after the
/// namespaces were bumped is never found again: a load that raced a write
/// cannot leave a stale answer behind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheSlot(pub String);

/// Values that are cheap to read again, kept under versioned namespaces
/// (`API.md`, Caching). A bump never hunts for keys: it changes the
/// namespace's version, and what was stored under the old one is left to
/// expire.
///
/// Infallible by contract, like the rate limiter: a cache whose server is
/// down answers [`Lookup::Unavailable`] and drops what it is given, and
/// never returns an error. A namespace that is dropped (evicted, lost with
/// a restart) comes back under a version it never had before, so old values
/// cannot reappear.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The value under `key`, or the slot for one.
    async fn get(&self, key: &CacheKey) -> Lookup;

    /// Keeps `value` in `slot` for at most `tier`'s lifetime.
    async fn put(&self, tier: CacheTier, slot: &CacheSlot, value: Vec<u8>);

    /// Gives `namespace` a new version. Returns once every later
    /// [`Cache::get`] (by any client of the same cache) sees it — or once
    /// the cache has given up, in which case it stops answering until it
    /// has made sure no value stored before the failed bump can be found.
    async fn bump(&self, namespace: &str);
}
