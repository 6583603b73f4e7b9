//! Background jobs: work that runs after the request that asked for it, on
//! a worker, at least once, with retries.
//!
//! A job is a row in storage. A worker *claims* it under a lease (a
//! [`LeaseId`] that fences every write of that attempt and an expiry the
//! worker keeps pushing back while it runs); a worker that dies stops
//! renewing, the lease runs out, and another worker claims the job again.
//! Payloads and step results are JSON text: the domain stores them, the
//! handler of the job's kind reads them.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::ids::{JobId, LeaseId};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for its `run_at`, then for a worker.
    Queued,
    /// Held by a worker under a lease.
    Running,
    Succeeded,
    /// The last attempt failed; another is scheduled at `run_at`.
    Failed,
    /// No attempts left, or failed for good. Only an admin's retry revives it.
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Dead,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Queued, running or failed: the job will still run. A unique job has
    /// at most one live copy.
    pub const fn is_live(self) -> bool {
        matches!(
            self,
            JobStatus::Queued | JobStatus::Running | JobStatus::Failed
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a running job has come, as its handler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    pub done: u64,
    pub total: u64,
    pub message: Option<String>,
}

/// One finished named step of a job, with what it produced, so that a
/// retry skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStep {
    pub name: String,
    /// The step's result, JSON text.
    pub output: String,
    pub finished_at: OffsetDateTime,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    /// The handler that runs it (`catalog.sync`, `sessions.purge`…).
    pub kind: String,
    /// The handler's input, JSON text.
    pub payload: String,
    pub status: JobStatus,
    /// Attempts started so far, the running one included.
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub progress: Option<JobProgress>,
    /// The finished steps, in the order they finished.
    pub steps: Vec<JobStep>,
    /// At most one live job per key (`None`: no rule).
    pub unique_key: Option<String>,
    /// When it may run next.
    pub run_at: OffsetDateTime,
    /// When the latest attempt started.
    pub started_at: Option<OffsetDateTime>,
    /// When it succeeded or died.
    pub finished_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// The current claim while running.
    pub lease: Option<Lease>,
}

/// A worker's hold on a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: LeaseId,
    /// Past this instant another worker may claim the job.
    pub expires_at: OffsetDateTime,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub max_attempts: u32,
    pub unique_key: Option<String>,
    pub run_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

impl NewJob {
    /// The stored form of a job just enqueued.
    pub fn into_job(self) -> Job {
        Job {
            id: self.id,
            kind: self.kind,
            payload: self.payload,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: self.max_attempts,
            last_error: None,
            progress: None,
            steps: Vec::new(),
            unique_key: self.unique_key,
            run_at: self.run_at,
            started_at: None,
            finished_at: None,
            created_at: self.created_at,
            lease: None,
        }
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job.
    Created(Job),
    /// A live job with the same unique key already existed; nothing new.
    Existing(Job),
}

impl Enqueued {
    pub fn job(&self) -> &Job {
        match self {
            Enqueued::Created(job) | Enqueued::Existing(job) => job,
        }
    }

    pub fn into_job(self) -> Job {
        match self {
            Enqueued::Created(job) | Enqueued::Existing(job) => job,
        }
    }
}

/// How many jobs of one kind are in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub status: JobStatus,
    pub count: u64,
}

/// Which jobs a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub status: Option<JobStatus>,
}

/// A claim request: what a worker asks for when it has free slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// At most this many jobs.
    pub limit: usize,
    /// Only these kinds (the ones the worker can run).
    pub kinds: &'a [&'a str],
    pub now: OffsetDateTime,
    /// How long each lease lasts unless renewed.
    pub lease: Duration,
}

/// The error recorded when a lease ran out: the worker died or hung.
pub const LEASE_EXPIRED: &str =
    "the worker's lease expired (it stopped or hung) during this attempt";

/// How long a job waits before its next attempt: `base` doubled per
/// attempt already made, at most `cap`, then scaled by `jitter` (0.0–1.0
/// maps to 50 %–100 % of the delay, so a burst of failures does not retry
/// in step). `attempt` is the attempt that just failed, from 1.
pub fn backoff(base: Duration, cap: Duration, attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    let full = base.checked_mul(1_i32 << doublings).unwrap_or(cap).min(cap);
    let scale = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
    full * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let (base, cap) = (Duration::seconds(2), Duration::hours(1));
        let full: Vec<i64> = (1..=13)
            .map(|n| backoff(base, cap, n, 1.0).whole_seconds())
            .collect();
        assert_eq!(
            full,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
        assert_eq!(backoff(base, cap, 1_000, 1.0), cap);
    }

    #[test]
    fn jitter_keeps_between_half_and_the_whole_delay() {
        let (base, cap) = (Duration::seconds(8), Duration::hours(1));
        assert_eq!(backoff(base, cap, 1, 0.0), Duration::seconds(4));
        assert_eq!(backoff(base, cap, 1, 0.5), Duration::seconds(6));
        assert_eq!(backoff(base, cap, 1, 7.0), Duration::seconds(8));
        assert_eq!(backoff(base, cap, 1, -1.0), Duration::seconds(4));
    }

    #[test]
    fn live_statuses_are_the_ones_that_will_still_run() {
        let live: Vec<&str> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_live())
            .map(JobStatus::as_str)
            .collect();
        assert_eq!(live, ["queued", "running", "failed"]);
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }

    #[test]
    fn a_status_displays_as_its_wire_name() {
        let shown: Vec<String> = JobStatus::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["queued", "running", "succeeded", "failed", "dead"]);
    }
}
