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
///
/// Every request draws a few bytes (its id is a UUIDv7), and a system call
/// for ten bytes costs more than the bytes: small draws are served from a
/// per-thread buffer refilled from the operating system a block at a time.
/// Each byte is handed out once and erased as it goes; large draws (keys)
/// go to the operating system directly.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

/// Draws up to this size are served from the buffer.
const BUFFERED_DRAW: usize = 64;

/// The size of a refill: one system call per this many bytes drawn.
const BLOCK: usize = 512;

/// Bytes fetched from the operating system and not handed out yet: the
/// unused tail of `bytes`, from `next` on.
struct Buffered {
    bytes: [u8; BLOCK],
    next: usize,
}

thread_local! {
    static BUFFER: std::cell::RefCell<Buffered> = const {
        std::cell::RefCell::new(Buffered { bytes: [0; BLOCK], next: BLOCK })
    };
}

fn os_fill(dest: &mut [u8]) {
    // Without entropy no token is safe to hand out: stopping is the only
    // correct answer, and on Linux `getrandom` does not fail once booted.
    #[allow(clippy::expect_used)]
    getrandom::fill(dest).expect("the operating system's random source failed");
}

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        if dest.len() > BUFFERED_DRAW {
            return os_fill(dest);
        }
        BUFFER.with_borrow_mut(|buffer| {
            if BLOCK - buffer.next < dest.len() {
                os_fill(&mut buffer.bytes);
                buffer.next = 0;
            }
            let taken = &mut buffer.bytes[buffer.next..buffer.next + dest.len()];
            dest.copy_from_slice(taken);
            taken.fill(0);
            buffer.next += dest.len();
        });
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
    fn small_draws_never_repeat_bytes_across_refills() {
        // 16-byte draws over several refills: any reuse of the buffer would
        // show as two equal draws.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * BLOCK / 16 + 5) {
            let mut draw = [0u8; 16];
            OsRandom.fill(&mut draw);
            assert!(seen.insert(draw), "a draw came out twice");
        }
    }

    #[test]
    fn draws_of_every_size_are_filled() {
        for size in [8, 33, BUFFERED_DRAW, BUFFERED_DRAW + 1, BLOCK, 4 * BLOCK] {
            let (mut a, mut b) = (vec![0u8; size], vec![0u8; size]);
            OsRandom.fill(&mut a);
            OsRandom.fill(&mut b);
            assert_ne!(a, b, "{size} bytes");
        }
    }

    #[test]
    fn os_random_fills_the_whole_buffer() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut a);
        OsRandom.fill(&mut b);
        assert_ne!(a, b);
    }
}
