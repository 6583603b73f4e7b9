//! Politeness towards the source: a pace of requests, and the waits between
//! attempts (exponential backoff, or what the source's `Retry-After` asks).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

/// Spaces requests at least `interval` apart, across every caller of one
/// source (a sync may fetch resources concurrently).
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    /// When the next request may leave. A std mutex, not a tokio one: it is
    /// held for a comparison and an addition, never across an `.await`.
    next: Mutex<Instant>,
}

impl Pacer {
    pub(crate) fn per_second(requests: u32) -> Self {
        Pacer {
            interval: Duration::from_secs(1) / requests.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's turn. Each caller books the next free slot
    /// before sleeping, so callers leave in order, `interval` apart.
    pub(crate) async fn wait(&self) {
        let slot = {
            // A poisoned lock only means a panic elsewhere while holding an
            // `Instant`: the value is still a valid instant.
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The wait before attempt `attempt + 1` when the source gave no
/// `Retry-After`: `base`, then twice that, and so on, never above `cap`.
pub(crate) fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(cap)
}

/// The source's `Retry-After`, in seconds or as an HTTP date, as a wait from
/// `now`; `None` when absent or unreadable. A date in the past is no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
        let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&in_90s), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(3);
        let waits: Vec<_> = (1..=5).map(|a| backoff(base, a, cap)).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 3000, 3000].map(Duration::from_millis)
        );
        assert_eq!(backoff(base, u32::MAX, cap), cap);
    }

    // Real time (tokio's `test-util` would rebuild tokio and everything
    // above it for the whole workspace): lower bounds only.
    #[tokio::test]
    async fn the_pacer_spaces_requests_by_its_interval() {
        let pacer = Pacer::per_second(50);
        let start = Instant::now();
        let mut left_at = Vec::new();
        for _ in 0..5 {
            pacer.wait().await;
            left_at.push(start.elapsed());
        }
        for (i, at) in left_at.iter().enumerate() {
            assert!(*at >= Duration::from_millis(20) * i as u32, "{left_at:?}");
        }
    }

    #[tokio::test]
    async fn the_pacer_does_not_save_up_idle_time() {
        let pacer = Pacer::per_second(20);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        pacer.wait().await;
        assert!(
            start.elapsed() >= Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
    }
}
