use std::fmt::Debug;

use time::OffsetDateTime;

/// The current time. Everything that depends on "now" asks this port, so
/// tests can move time instead of sleeping.
pub trait Clock: Send + Sync + Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// Unpredictable bytes, for tokens, keys, nonces and the random part of ids.
pub trait Random: Send + Sync {
    /// Fills `dest` with cryptographically secure random bytes. Infallible:
    /// an implementation that cannot reach its entropy source MUST panic
    /// rather than return predictable bytes.
    fn fill(&self, dest: &mut [u8]);
}
