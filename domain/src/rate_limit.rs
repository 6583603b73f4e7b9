//! Rate limits: quotas and the generic cell rate algorithm (GCRA) that
//! enforces them.
//!
//! GCRA is a token bucket without a timer: a bucket is one number, its
//! *theoretical arrival time* (TAT), the instant at which it would be full
//! again. Each request moves the TAT one *emission interval*
//! (`window / limit`) later; a request passes when the TAT it would leave
//! is at most one window ahead of now. So a quiet client may send `limit`
//! requests at once, and then one per interval. Every adapter (in-process
//! or Redis) stores the TAT and leaves the arithmetic to [`decide`], so
//! they agree to the microsecond.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `limit` requests per `window`: a burst of up to `limit`, then one per
/// `window / limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    window: Duration,
}

impl Quota {
    /// The largest window a quota may have: a day.
    pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

    /// A quota of `limit` per `window`; `None` unless `limit` is at least 1
    /// and the window is between one millisecond and [`Self::MAX_WINDOW`].
    /// Buckets count in microseconds, so a limit above one request per
    /// microsecond of the window (a million a second: no limit in
    /// practice) is held at that, and [`Self::limit`] says so.
    pub fn new(limit: u32, window: Duration) -> Option<Self> {
        let valid = limit >= 1 && window >= Duration::from_millis(1) && window <= Self::MAX_WINDOW;
        let most = u32::try_from(micros(window)).unwrap_or(u32::MAX);
        valid.then_some(Self {
            limit: limit.min(most),
            window,
        })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// The time one request takes back from the bucket, in microseconds.
    pub fn interval_micros(&self) -> u64 {
        micros(self.window) / u64::from(self.limit)
    }

    pub fn window_micros(&self) -> u64 {
        micros(self.window)
    }
}

/// `requests/seconds`, as the settings spell it: `10/60`.
impl FromStr for Quota {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || format!("{text:?} is not requests/seconds, both positive (e.g. 10/60)");
        let (limit, window) = text.split_once('/').ok_or_else(refuse)?;
        let limit: u32 = limit.trim().parse().map_err(|_| refuse())?;
        let seconds: u64 = window.trim().parse().map_err(|_| refuse())?;
        Self::new(limit, Duration::from_secs(seconds)).ok_or_else(refuse)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.window.subsec_nanos() == 0 {
            write!(f, "{}/{}", self.limit, self.window.as_secs())
        } else {
            write!(f, "{}/{}ms", self.limit, self.window.as_millis())
        }
    }
}

/// What a limiter answered for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests that would still pass at once after this one.
    pub remaining: u32,
    /// Until the bucket is full again (the draft's "reset").
    pub reset: Duration,
    /// Until a refused request would pass; zero when allowed.
    pub retry_after: Duration,
}

impl Decision {
    /// `reset` in whole seconds, rounded up: a client told to come back
    /// after it is never early.
    pub fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset)
    }

    /// `retry_after` in whole seconds, rounded up, at least 1 when refused.
    pub fn retry_after_secs(&self) -> u64 {
        if self.allowed {
            0
        } else {
            ceil_secs(self.retry_after).max(1)
        }
    }
}

/// A preset's decision on one request: which preset, its quota, and what
/// the limiter answered (for the answer's `RateLimit` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub preset: &'static str,
    pub quota: Quota,
    pub decision: Decision,
}

/// The outcome of one GCRA step: the decision, and the TAT to store when
/// the request passed (`None` when the bucket is left as it was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub decision: Decision,
    pub store: Option<u64>,
}

/// One GCRA step at `now` (microseconds since any fixed origin) for a
/// bucket whose stored TAT is `tat` (`None`: never used, or expired): the
/// request passes when the TAT it leaves is at most one window ahead.
pub fn decide(quota: Quota, tat: Option<u64>, now: u64) -> Step {
    let interval = quota.interval_micros();
    let window = quota.window_micros();
    let tat = tat.map_or(now, |tat| tat.max(now));
    let next = tat + interval;
    let remaining_after = |tat: u64| {
        let used = tat - now;
        u32::try_from(window.saturating_sub(used) / interval).unwrap_or(u32::MAX)
    };
    if next - now <= window {
        Step {
            decision: Decision {
                allowed: true,
                remaining: remaining_after(next),
                reset: Duration::from_micros(next - now),
                retry_after: Duration::ZERO,
            },
            store: Some(next),
        }
    } else {
        Step {
            decision: Decision {
                allowed: false,
                remaining: remaining_after(tat),
                reset: Duration::from_micros(tat - now),
                retry_after: Duration::from_micros(next - window - now),
            },
            store: None,
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    fn quota(limit: u32, secs: u64) -> Quota {
        Quota::new(limit, Duration::from_secs(secs)).unwrap()
    }

    /// Runs `n` requests at `now` on a bucket, returning the decisions and
    /// the bucket after.
    fn burst(
        quota: Quota,
        mut tat: Option<u64>,
        now: u64,
        n: usize,
    ) -> (Vec<Decision>, Option<u64>) {
        let mut decisions = Vec::new();
        for _ in 0..n {
            let step = decide(quota, tat, now);
            tat = step.store.or(tat);
            decisions.push(step.decision);
        }
        (decisions, tat)
    }

    #[test]
    fn a_quiet_bucket_allows_a_burst_of_its_limit_then_refuses() {
        let (decisions, _) = burst(quota(10, 60), None, 1_000 * SECOND, 11);
        let remaining: Vec<u32> = decisions.iter().map(|d| d.remaining).collect();
        assert_eq!(remaining, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]);
        assert!(decisions[..10].iter().all(|d| d.allowed));
        let refused = decisions[10];
        assert!(!refused.allowed);
        // The bucket is full again in a window; one request fits in 6 s.
        assert_eq!(refused.reset, Duration::from_secs(60));
        assert_eq!(refused.retry_after, Duration::from_secs(6));
        assert_eq!(refused.retry_after_secs(), 6);
        assert_eq!(decisions[0].reset, Duration::from_secs(6));
    }

    #[test]
    fn the_bucket_refills_one_request_per_interval() {
        let q = quota(10, 60);
        let start = 1_000 * SECOND;
        let (_, tat) = burst(q, None, start, 10);
        assert!(!decide(q, tat, start + 6 * SECOND - 1).decision.allowed);
        let step = decide(q, tat, start + 6 * SECOND);
        assert!(step.decision.allowed);
        assert_eq!(step.decision.remaining, 0);
        // After a whole window the bucket is as good as new.
        let (decisions, _) = burst(q, tat, start + 60 * SECOND, 10);
        assert!(decisions.iter().all(|d| d.allowed));
    }

    #[test]
    fn a_stored_arrival_time_in_the_past_counts_as_an_empty_bucket() {
        let q = quota(3, 3);
        let fresh = decide(q, None, 50 * SECOND);
        assert_eq!(decide(q, Some(SECOND), 50 * SECOND), fresh);
        assert_eq!(fresh.store, Some(51 * SECOND));
    }

    #[test]
    fn a_refusal_leaves_the_bucket_unchanged() {
        let q = quota(1, 10);
        let (_, tat) = burst(q, None, 0, 1);
        let refused = decide(q, tat, SECOND);
        assert_eq!(refused.store, None);
        assert_eq!(refused.decision.retry_after, Duration::from_secs(9));
        assert_eq!(refused.decision.reset, Duration::from_secs(9));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        let q = quota(1, 10);
        let (_, tat) = burst(q, None, 0, 1);
        let refused = decide(q, tat, SECOND + 1).decision;
        assert_eq!(refused.retry_after_secs(), 9);
        assert_eq!(refused.reset_secs(), 9);
        let almost = decide(q, tat, 10 * SECOND - 1).decision;
        assert_eq!(almost.retry_after_secs(), 1);
    }

    #[test]
    fn quotas_parse_from_the_settings_syntax() {
        assert_eq!("10/60".parse::<Quota>(), Ok(quota(10, 60)));
        assert_eq!(" 600 / 60 ".parse::<Quota>(), Ok(quota(600, 60)));
        for bad in ["10", "0/60", "10/0", "-1/60", "ten/60", "10/86401", "", "/"] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?}");
        }
        assert_eq!(quota(100, 3600).to_string(), "100/3600");
        assert_eq!(
            Quota::new(5, Duration::from_millis(500))
                .unwrap()
                .to_string(),
            "5/500ms"
        );
        // More requests than microseconds in the window: one a microsecond.
        let most = Quota::new(2_000, Duration::from_millis(1)).unwrap();
        assert_eq!((most.limit(), most.interval_micros()), (1_000, 1));
        let bench: Quota = "100000000/60".parse().unwrap();
        assert_eq!(bench.limit(), 60_000_000);
    }

    #[test]
    fn a_quota_keeps_its_window() {
        assert_eq!(quota(10, 60).window(), Duration::from_secs(60));
        assert_eq!(quota(10, 60).window_micros(), 60_000_000);
        assert_eq!(
            Quota::new(5, Duration::from_millis(500)).unwrap().window(),
            Duration::from_millis(500)
        );
    }
}
