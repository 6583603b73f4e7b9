//! How an attempt's outcome becomes the job's next state (`jobs::settle`),
//! with a manual clock and fixed jitter: the backoff schedule to the
//! second, `dead` after the last attempt, permanent failures, and a lost
//! lease that writes nothing.

use std::sync::Arc;

use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::jobs::{self, JobError, JobKind, Outcome, settle};
use domain::ports::{Random, Repositories};
use domain::{Claim, Job, JobStatus, LeaseId};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const KIND: JobKind = JobKind::new("test.settle");
const START: OffsetDateTime = datetime!(2030-03-01 12:00:00 UTC);

/// Bytes of one value: a jitter of exactly 0.0 (all zeros) or 1.0 (all ones).
struct Fixed(u8);

impl Random for Fixed {
    fn fill(&self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
}

async fn claimed(storage: &MemoryStorage, clock: &ManualClock) -> Job {
    let mut jobs = storage
        .jobs()
        .claim(
            Claim {
                limit: 1,
                kinds: &[KIND.name],
                now: domain::ports::Clock::now(clock),
                lease: Duration::seconds(30),
            },
            &|| LeaseId::generate(START, &OsRandom),
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "a job is due");
    jobs.remove(0)
}

#[tokio::test]
async fn failures_back_off_doubling_from_the_base_then_the_job_dies() {
    let storage = MemoryStorage::new();
    let clock = ManualClock::new(START);
    let id = jobs::enqueue(&storage, &KIND, &(), &clock, &OsRandom)
        .await
        .unwrap()
        .job()
        .id;
    // Full delays (jitter 1.0): 2, 4, 8, 16 s; the fifth attempt is the last.
    let mut waits = Vec::new();
    for _ in 0..KIND.max_attempts {
        let job = claimed(&storage, &clock).await;
        let settled = settle(
            &storage,
            &job,
            &KIND,
            Outcome::Failed(JobError::Retry("down".into())),
            &clock,
            &Fixed(0xff),
        )
        .await
        .unwrap();
        let after = storage.jobs().find(id).await.unwrap().unwrap();
        assert_eq!(settled.map(|s| s.status), Some(after.status));
        let expected_retry = (after.status == JobStatus::Failed).then_some(after.run_at);
        assert_eq!(settled.and_then(|s| s.retry_at), expected_retry);
        if after.status == JobStatus::Dead {
            assert_eq!(after.attempts, KIND.max_attempts);
            assert_eq!(after.finished_at, Some(domain::ports::Clock::now(&clock)));
            break;
        }
        let wait = after.run_at - domain::ports::Clock::now(&clock);
        waits.push(wait.whole_seconds());
        clock.advance(wait);
    }
    assert_eq!(waits, [2, 4, 8, 16]);
}

#[tokio::test]
async fn jitter_shortens_a_wait_to_half_at_most() {
    let storage = MemoryStorage::new();
    let clock = ManualClock::new(START);
    jobs::enqueue(&storage, &KIND, &(), &clock, &OsRandom)
        .await
        .unwrap();
    let job = claimed(&storage, &clock).await;
    settle(&storage, &job, &KIND, Outcome::TimedOut, &clock, &Fixed(0))
        .await
        .unwrap();
    let after = storage.jobs().find(job.id).await.unwrap().unwrap();
    assert_eq!(after.run_at, START + Duration::seconds(1));
    assert_eq!(after.last_error.as_deref(), Some("timed out after 600 s"));
}

#[tokio::test]
async fn a_permanent_failure_or_a_panic_is_recorded_as_such() {
    let storage = MemoryStorage::new();
    let clock = ManualClock::new(START);
    for (outcome, status, error) in [
        (
            Outcome::Failed(JobError::Permanent("bad payload".into())),
            JobStatus::Dead,
            "bad payload",
        ),
        (
            Outcome::Panicked("index out of bounds".into()),
            JobStatus::Failed,
            "the handler panicked: index out of bounds",
        ),
    ] {
        jobs::enqueue(&storage, &KIND, &(), &clock, &OsRandom)
            .await
            .unwrap();
        let job = claimed(&storage, &clock).await;
        let settled = settle(&storage, &job, &KIND, outcome, &clock, &Fixed(0xff))
            .await
            .unwrap();
        assert_eq!(settled.map(|s| s.status), Some(status));
        let after = storage.jobs().find(job.id).await.unwrap().unwrap();
        assert_eq!(after.status, status);
        assert_eq!(after.last_error.as_deref(), Some(error));
        clock.advance(Duration::hours(1));
    }
}

#[tokio::test]
async fn an_attempt_whose_lease_was_lost_writes_nothing() {
    let storage = Arc::new(MemoryStorage::new());
    let clock = ManualClock::new(START);
    jobs::enqueue(storage.as_ref(), &KIND, &(), &clock, &OsRandom)
        .await
        .unwrap();
    let first = claimed(&storage, &clock).await;
    // The lease runs out; another worker takes the job.
    clock.advance(Duration::seconds(31));
    let second = claimed(&storage, &clock).await;

    for outcome in [
        Outcome::Succeeded,
        Outcome::Failed(JobError::Retry("late".into())),
        Outcome::Failed(JobError::LeaseLost),
    ] {
        let settled = settle(storage.as_ref(), &first, &KIND, outcome, &clock, &OsRandom)
            .await
            .unwrap();
        assert_eq!(settled, None);
    }
    let job = storage.jobs().find(second.id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(job.lease, second.lease);
}
