//! The machine's clock and entropy, behind the domain's `Clock` and `Random`
//! ports, plus a clock that tests move by hand.

use std::sync::Mutex;

use domain::ports::{Clock, Random};
use time::{Duration, OffsetDateTime};

/// The operating system's wall clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The operating system's cryptographically secure random source.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        // Without entropy no token is safe to hand out: stopping is the only
        // correct answer, and on Linux `getrandom` does not fail once booted.
        #[allow(clippy::expect_used)]
        getrandom::fill(dest).expect("the operating system's random source failed");
    }
}

/// A clock that stands still until a test moves it, so expiry and grace
/// windows are tested without sleeping.
#[derive(Debug)]
pub struct ManualClock {
    // A std mutex: the critical section is a copy, never held across await.
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Starts at the current wall-clock time, truncated to whole seconds so
    /// times survive round trips through formats with second precision.
    pub fn starting_now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::new(now.replace_nanosecond(0).unwrap_or(now))
    }

    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A poisoned lock still holds a valid time: a panic elsewhere cannot
        // leave an OffsetDateTime half-written.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_now();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(11));
        assert_eq!(clock.now(), start + Duration::seconds(11));
    }

    #[test]
    fn os_random_fills_the_whole_buffer() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut a);
        OsRandom.fill(&mut b);
        assert_ne!(a, b);
    }
}
