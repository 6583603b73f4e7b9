//! The job queue's conformance suite: one generic body per promise of
//! `JobRepository` and `JobSignal` (`domain::ports::jobs`), run against
//! every backend with [`job_queue_conformance!`](crate::job_queue_conformance).
//!
//! Each behaviour receives a fresh, empty queue ([`FreshQueue`]): its
//! storage and the bell of that storage. Times are the fixtures' `BASE`
//! moved by whole seconds, since the queue's clock is the caller's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use adapter_system::OsRandom;
use domain::job::LEASE_EXPIRED;
use domain::ports::{JobSignal, Storage};
use domain::{
    Claim, Enqueued, Job, JobFilter, JobId, JobProgress, JobStatus, JobStep, LeaseId, NewJob,
};
use time::{Duration, OffsetDateTime};

use crate::conformance::fixtures::at;

/// What each behaviour receives.
#[derive(Clone)]
pub struct FreshQueue {
    pub storage: Arc<dyn Storage>,
    pub signal: Arc<dyn JobSignal>,
}

impl std::fmt::Debug for FreshQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreshQueue")
    }
}

/// Expands to one `#[tokio::test]` per behaviour, in a module named after
/// the backend. The second argument is evaluated once per test and yields
/// `Option<FreshQueue>` (`None`: the backend is unreachable and the test
/// skips, after saying so).
#[macro_export]
macro_rules! job_queue_conformance {
    ($backend:ident, $fresh:expr $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;

            $crate::job_queue_conformance!(@tests $fresh, [
                a_job_enqueued_in_a_unit_exists_only_once_the_unit_commits,
                an_enqueued_job_round_trips_every_field,
                a_claim_takes_due_jobs_of_the_asked_kinds_oldest_first_up_to_the_limit,
                a_claim_marks_the_job_running_under_a_lease,
                a_claimed_job_is_not_claimed_again_while_its_lease_holds,
                a_lease_that_expires_lets_another_worker_take_the_job_and_fences_the_first,
                a_renewed_lease_keeps_the_job,
                a_job_whose_lease_expires_on_its_last_attempt_dies,
                a_failure_with_a_retry_time_waits_until_then,
                a_failure_without_a_retry_time_is_dead,
                a_release_gives_the_job_back_at_once_without_counting_the_attempt,
                writes_under_a_stale_lease_change_nothing,
                retrying_a_dead_job_queues_it_again_with_its_attempts_reset,
                retrying_a_job_that_is_not_dead_changes_nothing,
                of_two_retries_at_once_one_revives_the_job,
                a_unique_job_has_one_live_copy_per_kind,
                steps_are_stored_replaced_and_kept_across_attempts,
                progress_is_stored,
                listing_is_newest_first_filtered_paged_and_without_steps,
                pruning_deletes_old_succeeded_and_dead_jobs_only,
                counts_are_by_kind_and_status_and_leave_out_empty_pairs,
                concurrent_workers_run_each_job_exactly_once,
                an_enqueue_wakes_a_waiting_worker,
                a_wait_without_an_enqueue_ends_at_its_limit,
            ]);
        }
    };
    (@tests $fresh:expr, [$($behaviour:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                let Some(queue): Option<$crate::jobs_conformance::FreshQueue> = $fresh.await else {
                    return;
                };
                $crate::jobs_conformance::$behaviour(queue).await;
            }
        )*
    };
}

const KIND: &str = "test.work";
const OTHER: &str = "test.other";
const LEASE: Duration = Duration::seconds(30);

fn new_job(kind: &str, run_at: OffsetDateTime) -> NewJob {
    NewJob {
        id: JobId::generate(at(0), &OsRandom),
        kind: kind.to_owned(),
        payload: r#"{"n":1}"#.to_owned(),
        max_attempts: 5,
        unique_key: None,
        run_at,
        created_at: at(0),
    }
}

fn lease() -> LeaseId {
    LeaseId::generate(at(0), &OsRandom)
}

async fn enqueue(queue: &FreshQueue, job: NewJob) -> Job {
    match queue.storage.jobs().enqueue(&job).await.expect("enqueue") {
        Enqueued::Created(job) => job,
        Enqueued::Existing(job) => panic!("expected a new job, got the live {}", job.id),
    }
}

async fn claim(queue: &FreshQueue, kinds: &[&str], limit: usize, now: OffsetDateTime) -> Vec<Job> {
    queue
        .storage
        .jobs()
        .claim(
            Claim {
                limit,
                kinds,
                now,
                lease: LEASE,
            },
            &lease,
        )
        .await
        .expect("claim")
}

async fn claim_one(queue: &FreshQueue, now: OffsetDateTime) -> Job {
    let mut jobs = claim(queue, &[KIND], 1, now).await;
    assert_eq!(jobs.len(), 1, "one job is due at {now}");
    jobs.remove(0)
}

async fn find(queue: &FreshQueue, id: JobId) -> Job {
    queue
        .storage
        .jobs()
        .find(id)
        .await
        .expect("find")
        .expect("the job exists")
}

fn held(job: &Job) -> LeaseId {
    job.lease.expect("a running job has a lease").id
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

pub async fn a_job_enqueued_in_a_unit_exists_only_once_the_unit_commits(queue: FreshQueue) {
    let dropped = new_job(KIND, at(0));
    let tx = queue.storage.begin().await.expect("begin");
    tx.jobs().enqueue(&dropped).await.expect("enqueue");
    drop(tx);
    assert_eq!(queue.storage.jobs().find(dropped.id).await.unwrap(), None);
    assert!(claim(&queue, &[KIND], 10, at(1)).await.is_empty());

    let kept = new_job(KIND, at(0));
    let tx = queue.storage.begin().await.expect("begin");
    tx.jobs().enqueue(&kept).await.expect("enqueue");
    tx.commit().await.expect("commit");
    assert_eq!(find(&queue, kept.id).await.id, kept.id);
}

pub async fn an_enqueued_job_round_trips_every_field(queue: FreshQueue) {
    let mut new = new_job(KIND, at(5));
    new.unique_key = Some("key-1".into());
    new.max_attempts = 3;
    new.payload = r#"{"page":2,"name":"Ça va"}"#.into();
    let expected = new.clone().into_job();
    let created = enqueue(&queue, new).await;
    let found = find(&queue, created.id).await;
    for mut job in [created, found] {
        // JSON is stored as JSON: compare it as values, not as spellings.
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
        assert_eq!(payload, serde_json::json!({"page": 2, "name": "Ça va"}));
        job.payload = expected.payload.clone();
        assert_eq!(job, expected);
    }
}

pub async fn a_claim_takes_due_jobs_of_the_asked_kinds_oldest_first_up_to_the_limit(
    queue: FreshQueue,
) {
    let late = enqueue(&queue, new_job(KIND, at(30))).await;
    let second = enqueue(&queue, new_job(KIND, at(20))).await;
    let first = enqueue(&queue, new_job(KIND, at(10))).await;
    let other = enqueue(&queue, new_job(OTHER, at(0))).await;
    let future = enqueue(&queue, new_job(KIND, at(70))).await;

    assert!(claim(&queue, &[KIND], 10, at(9)).await.is_empty());
    assert_eq!(
        ids(&claim(&queue, &[KIND], 2, at(50)).await),
        [first.id, second.id]
    );
    assert_eq!(ids(&claim(&queue, &[KIND], 10, at(50)).await), [late.id]);
    assert_eq!(
        ids(&claim(&queue, &[KIND, OTHER], 10, at(50)).await),
        [other.id]
    );
    // (The leases taken at 50 hold until 80.)
    assert!(claim(&queue, &[KIND, OTHER], 10, at(69)).await.is_empty());
    assert_eq!(ids(&claim(&queue, &[KIND], 10, at(70)).await), [future.id]);
}

pub async fn a_claim_marks_the_job_running_under_a_lease(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(3)).await;
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.started_at, Some(at(3)));
    let lease = claimed.lease.expect("a lease");
    assert_eq!(lease.expires_at, at(3) + LEASE);
    let mut found = find(&queue, job.id).await;
    found.payload = claimed.payload.clone();
    assert_eq!(found, claimed);
}

pub async fn a_claimed_job_is_not_claimed_again_while_its_lease_holds(queue: FreshQueue) {
    enqueue(&queue, new_job(KIND, at(0))).await;
    claim_one(&queue, at(1)).await;
    assert!(claim(&queue, &[KIND], 10, at(1)).await.is_empty());
    assert!(claim(&queue, &[KIND], 10, at(30)).await.is_empty());
}

pub async fn a_lease_that_expires_lets_another_worker_take_the_job_and_fences_the_first(
    queue: FreshQueue,
) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let first = claim_one(&queue, at(0)).await;
    let again = claim_one(&queue, at(31)).await;
    assert_eq!(again.id, job.id);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error.as_deref(), Some(LEASE_EXPIRED));
    assert_ne!(held(&again), held(&first));

    let jobs = queue.storage.jobs();
    assert!(!jobs.succeed(job.id, held(&first), at(32)).await.unwrap());
    assert!(!jobs.renew(job.id, held(&first), at(90)).await.unwrap());
    assert_eq!(find(&queue, job.id).await.status, JobStatus::Running);
    assert!(jobs.succeed(job.id, held(&again), at(33)).await.unwrap());
    let done = find(&queue, job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.finished_at, Some(at(33)));
    assert_eq!(done.lease, None);
}

pub async fn a_renewed_lease_keeps_the_job(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        queue
            .storage
            .jobs()
            .renew(job.id, held(&claimed), at(60))
            .await
            .unwrap()
    );
    assert!(claim(&queue, &[KIND], 10, at(59)).await.is_empty());
    assert_eq!(find(&queue, job.id).await.lease.unwrap().expires_at, at(60));
    assert_eq!(claim_one(&queue, at(60)).await.id, job.id);
}

pub async fn a_job_whose_lease_expires_on_its_last_attempt_dies(queue: FreshQueue) {
    let mut new = new_job(KIND, at(0));
    new.max_attempts = 1;
    let job = enqueue(&queue, new).await;
    claim_one(&queue, at(0)).await;
    assert!(claim(&queue, &[KIND], 10, at(31)).await.is_empty());
    let dead = find(&queue, job.id).await;
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some(LEASE_EXPIRED));
    assert_eq!(dead.finished_at, Some(at(31)));
    assert_eq!(dead.lease, None);
}

pub async fn a_failure_with_a_retry_time_waits_until_then(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        queue
            .storage
            .jobs()
            .fail(job.id, held(&claimed), "boom", Some(at(10)), at(1))
            .await
            .unwrap()
    );
    let failed = find(&queue, job.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    assert_eq!(failed.run_at, at(10));
    assert_eq!((failed.lease, failed.finished_at), (None, None));
    assert!(claim(&queue, &[KIND], 10, at(9)).await.is_empty());
    let again = claim_one(&queue, at(10)).await;
    assert_eq!((again.id, again.attempts), (job.id, 2));
}

pub async fn a_failure_without_a_retry_time_is_dead(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        queue
            .storage
            .jobs()
            .fail(job.id, held(&claimed), "no more", None, at(4))
            .await
            .unwrap()
    );
    let dead = find(&queue, job.id).await;
    assert_eq!(dead.status, JobStatus::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("no more"));
    assert_eq!(dead.finished_at, Some(at(4)));
    assert!(claim(&queue, &[KIND], 10, at(10_000)).await.is_empty());
}

pub async fn a_release_gives_the_job_back_at_once_without_counting_the_attempt(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        queue
            .storage
            .jobs()
            .release(job.id, held(&claimed), at(2))
            .await
            .unwrap()
    );
    let released = find(&queue, job.id).await;
    assert_eq!(released.status, JobStatus::Queued);
    assert_eq!((released.attempts, released.run_at), (0, at(2)));
    assert_eq!(released.lease, None);
    assert_eq!(claim_one(&queue, at(2)).await.attempts, 1);
}

pub async fn writes_under_a_stale_lease_change_nothing(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    claim_one(&queue, at(0)).await;
    let before = find(&queue, job.id).await;
    let stranger = lease();
    let jobs = queue.storage.jobs();
    let step = JobStep {
        name: "one".into(),
        output: "1".into(),
        finished_at: at(1),
    };
    let progress = JobProgress {
        done: 1,
        total: 2,
        message: None,
    };
    assert!(!jobs.renew(job.id, stranger, at(99)).await.unwrap());
    assert!(!jobs.save_step(job.id, stranger, &step).await.unwrap());
    assert!(
        !jobs
            .set_progress(job.id, stranger, &progress)
            .await
            .unwrap()
    );
    assert!(!jobs.succeed(job.id, stranger, at(1)).await.unwrap());
    assert!(!jobs.fail(job.id, stranger, "x", None, at(1)).await.unwrap());
    assert!(!jobs.release(job.id, stranger, at(1)).await.unwrap());
    assert!(
        !jobs
            .succeed(JobId::generate(at(0), &OsRandom), stranger, at(1))
            .await
            .unwrap()
    );
    assert_eq!(find(&queue, job.id).await, before);
}

pub async fn retrying_a_dead_job_queues_it_again_with_its_attempts_reset(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    let jobs = queue.storage.jobs();
    let step = JobStep {
        name: "first".into(),
        output: "true".into(),
        finished_at: at(1),
    };
    assert!(jobs.save_step(job.id, held(&claimed), &step).await.unwrap());
    assert!(
        jobs.fail(job.id, held(&claimed), "gone", None, at(2))
            .await
            .unwrap()
    );

    let retried = jobs.retry(job.id, at(50)).await.unwrap().expect("the job");
    assert_eq!(retried.status, JobStatus::Queued);
    assert_eq!((retried.attempts, retried.run_at), (0, at(50)));
    assert_eq!(retried.finished_at, None);
    assert_eq!(retried.last_error.as_deref(), Some("gone"));
    assert_eq!(
        retried
            .steps
            .iter()
            .map(|s| &s.name[..])
            .collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(claim_one(&queue, at(50)).await.attempts, 1);
}

pub async fn retrying_a_job_that_is_not_dead_changes_nothing(queue: FreshQueue) {
    let jobs = queue.storage.jobs();
    assert_eq!(
        jobs.retry(JobId::generate(at(0), &OsRandom), at(1))
            .await
            .unwrap(),
        None
    );
    let queued = enqueue(&queue, new_job(KIND, at(0))).await;
    assert_eq!(jobs.retry(queued.id, at(7)).await.unwrap(), None);
    let mut found = jobs.find(queued.id).await.unwrap().expect("the job");
    found.payload = queued.payload.clone();
    assert_eq!(found, queued);

    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        jobs.succeed(claimed.id, held(&claimed), at(1))
            .await
            .unwrap()
    );
    assert_eq!(jobs.retry(claimed.id, at(7)).await.unwrap(), None);
    let done = jobs.find(claimed.id).await.unwrap().expect("the job");
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.attempts, 1);
}

pub async fn of_two_retries_at_once_one_revives_the_job(queue: FreshQueue) {
    let jobs = queue.storage.jobs();
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    assert!(
        jobs.fail(job.id, held(&claimed), "gone", None, at(1))
            .await
            .unwrap()
    );
    assert_eq!(
        jobs.find(job.id).await.unwrap().unwrap().status,
        JobStatus::Dead
    );

    let (a, b) = tokio::join!(jobs.retry(job.id, at(5)), jobs.retry(job.id, at(6)));
    let revived: Vec<Job> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(revived.len(), 1, "{revived:?}");
    assert_eq!(revived[0].status, JobStatus::Queued);
    // A worker claiming it the next instant does not change what the
    // reviving call answered.
    let again = claim_one(&queue, at(6)).await;
    assert_eq!((again.id, again.attempts), (job.id, 1));
    assert_eq!(revived[0].attempts, 0);
}

pub async fn a_unique_job_has_one_live_copy_per_kind(queue: FreshQueue) {
    let unique = |kind: &str| NewJob {
        unique_key: Some("only-one".into()),
        ..new_job(kind, at(0))
    };
    let jobs = queue.storage.jobs();
    let first = enqueue(&queue, unique(KIND)).await;
    match jobs.enqueue(&unique(KIND)).await.unwrap() {
        Enqueued::Existing(job) => assert_eq!(job.id, first.id),
        Enqueued::Created(job) => panic!("a second live copy {}", job.id),
    }
    // Another kind may use the same key.
    enqueue(&queue, unique(OTHER)).await;

    // Running is live too.
    let claimed = claim_one(&queue, at(0)).await;
    assert_eq!(
        jobs.enqueue(&unique(KIND)).await.unwrap().job().id,
        first.id
    );
    // Once it has finished, the next one is new.
    assert!(jobs.succeed(first.id, held(&claimed), at(1)).await.unwrap());
    let next = enqueue(&queue, unique(KIND)).await;
    assert_ne!(next.id, first.id);
}

pub async fn steps_are_stored_replaced_and_kept_across_attempts(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    let jobs = queue.storage.jobs();
    let step = |name: &str, output: &str, second: i64| JobStep {
        name: name.into(),
        output: output.into(),
        finished_at: at(second),
    };
    // All at one instant: the order is the order they finished in, not
    // the clock's (a replaced step moves to the end).
    for s in [
        step("page:0", r#"{"rows":[1,2]}"#, 1),
        step("page:50", r#"{"rows":[3]}"#, 1),
        step("page:0", r#"{"rows":[9]}"#, 1),
    ] {
        assert!(jobs.save_step(job.id, held(&claimed), &s).await.unwrap());
    }
    assert!(
        jobs.fail(job.id, held(&claimed), "page 100", Some(at(5)), at(4))
            .await
            .unwrap()
    );
    let again = claim_one(&queue, at(5)).await;
    assert_eq!(again.attempts, 2);
    let found = find(&queue, job.id).await;
    let steps: Vec<(String, serde_json::Value, OffsetDateTime)> = found
        .steps
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                serde_json::from_str(&s.output).unwrap(),
                s.finished_at,
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("page:50".into(), serde_json::json!({"rows": [3]}), at(1)),
            ("page:0".into(), serde_json::json!({"rows": [9]}), at(1)),
        ]
    );
}

pub async fn progress_is_stored(queue: FreshQueue) {
    let job = enqueue(&queue, new_job(KIND, at(0))).await;
    let claimed = claim_one(&queue, at(0)).await;
    let progress = JobProgress {
        done: 3,
        total: 40,
        message: Some("quests".into()),
    };
    assert!(
        queue
            .storage
            .jobs()
            .set_progress(job.id, held(&claimed), &progress)
            .await
            .unwrap()
    );
    assert_eq!(find(&queue, job.id).await.progress, Some(progress));
}

pub async fn listing_is_newest_first_filtered_paged_and_without_steps(queue: FreshQueue) {
    let mut made = Vec::new();
    for kind in [KIND, OTHER, KIND, OTHER, KIND] {
        made.push(enqueue(&queue, new_job(kind, at(0))).await);
    }
    let claimed = claim(&queue, &[KIND], 1, at(0)).await.remove(0);
    let step = JobStep {
        name: "s".into(),
        output: "1".into(),
        finished_at: at(1),
    };
    let jobs = queue.storage.jobs();
    assert!(
        jobs.save_step(claimed.id, held(&claimed), &step)
            .await
            .unwrap()
    );

    let all = jobs.list(&JobFilter::default(), None, 100).await.unwrap();
    let newest_first: Vec<JobId> = made.iter().rev().map(|j| j.id).collect();
    assert_eq!(ids(&all), newest_first);
    assert!(all.iter().all(|j| j.steps.is_empty()));
    assert_eq!(all.len(), 5);

    let by_kind = JobFilter {
        kind: Some(OTHER.into()),
        status: None,
    };
    assert_eq!(
        ids(&jobs.list(&by_kind, None, 100).await.unwrap()),
        [made[3].id, made[1].id]
    );
    let running = JobFilter {
        kind: None,
        status: Some(JobStatus::Running),
    };
    assert_eq!(
        ids(&jobs.list(&running, None, 100).await.unwrap()),
        [claimed.id]
    );
    let page = jobs.list(&JobFilter::default(), None, 2).await.unwrap();
    assert_eq!(ids(&page), newest_first[..2]);
    let next = jobs
        .list(&JobFilter::default(), Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(ids(&next), newest_first[2..4]);
}

pub async fn pruning_deletes_old_succeeded_and_dead_jobs_only(queue: FreshQueue) {
    let jobs = queue.storage.jobs();
    // Finish five jobs at the given instants, as succeeded or dead.
    let mut finished = HashMap::new();
    for (name, second, ok) in [
        ("old ok", 10, true),
        ("new ok", 100, true),
        ("old dead", 10, false),
        ("mid dead", 60, false),
    ] {
        enqueue(&queue, new_job(KIND, at(0))).await;
        let job = claim_one(&queue, at(0)).await;
        let lease = held(&job);
        if ok {
            assert!(jobs.succeed(job.id, lease, at(second)).await.unwrap());
        } else {
            assert!(
                jobs.fail(job.id, lease, "x", None, at(second))
                    .await
                    .unwrap()
            );
        }
        finished.insert(name, job.id);
    }
    let failed = enqueue(&queue, new_job(KIND, at(0))).await;
    let held_job = claim_one(&queue, at(0)).await;
    assert!(
        jobs.fail(failed.id, held(&held_job), "x", Some(at(1)), at(0))
            .await
            .unwrap()
    );
    let queued = enqueue(&queue, new_job(OTHER, at(0))).await;

    assert_eq!(jobs.prune(at(50), at(50)).await.unwrap(), 2);
    let left: HashSet<JobId> = ids(&jobs.list(&JobFilter::default(), None, 100).await.unwrap())
        .into_iter()
        .collect();
    let expected: HashSet<JobId> = [
        finished["new ok"],
        finished["mid dead"],
        failed.id,
        queued.id,
    ]
    .into_iter()
    .collect();
    assert_eq!(left, expected);
    assert_eq!(jobs.prune(at(50), at(61)).await.unwrap(), 1);
}

/// One count per `(kind, status)` that has a job: two queued and one
/// running of one kind, one succeeded and one dead of another.
pub async fn counts_are_by_kind_and_status_and_leave_out_empty_pairs(queue: FreshQueue) {
    let jobs = queue.storage.jobs();
    assert_eq!(jobs.counts().await.unwrap(), []);
    for _ in 0..3 {
        enqueue(&queue, new_job(KIND, at(0))).await;
    }
    claim_one(&queue, at(0)).await;
    for ok in [true, false] {
        enqueue(&queue, new_job(OTHER, at(0))).await;
        let job = claim(&queue, &[OTHER], 1, at(0)).await.remove(0);
        if ok {
            assert!(jobs.succeed(job.id, held(&job), at(1)).await.unwrap());
        } else {
            assert!(
                jobs.fail(job.id, held(&job), "x", None, at(1))
                    .await
                    .unwrap()
            );
        }
    }

    let mut counts: Vec<(String, &str, u64)> = jobs
        .counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.status.as_str(), c.count))
        .collect();
    counts.sort();
    let expected = [
        (OTHER, "dead", 1),
        (OTHER, "succeeded", 1),
        (KIND, "queued", 2),
        (KIND, "running", 1),
    ];
    let mut expected: Vec<(String, &str, u64)> = expected
        .into_iter()
        .map(|(kind, status, n)| (kind.to_owned(), status, n))
        .collect();
    expected.sort();
    assert_eq!(counts, expected);
}

/// 8 workers drain 200 jobs: each job runs exactly once, and never on two
/// workers at the same time.
pub async fn concurrent_workers_run_each_job_exactly_once(queue: FreshQueue) {
    const JOBS: usize = 200;
    for _ in 0..JOBS {
        enqueue(&queue, new_job(KIND, at(0))).await;
    }
    let running = Arc::new(Mutex::new(HashSet::new()));
    let runs = Arc::new(Mutex::new(HashMap::<JobId, u32>::new()));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (queue, running, runs) = (queue.clone(), running.clone(), runs.clone());
            tokio::spawn(async move {
                loop {
                    let jobs = claim(&queue, &[KIND], 3, at(1)).await;
                    if jobs.is_empty() {
                        return;
                    }
                    for job in jobs {
                        assert!(
                            running.lock().unwrap().insert(job.id),
                            "{} runs on two workers",
                            job.id
                        );
                        tokio::task::yield_now().await;
                        *runs.lock().unwrap().entry(job.id).or_default() += 1;
                        running.lock().unwrap().remove(&job.id);
                        assert!(
                            queue
                                .storage
                                .jobs()
                                .succeed(job.id, held(&job), at(2))
                                .await
                                .unwrap()
                        );
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS);
    assert!(runs.values().all(|&n| n == 1), "{runs:?}");
    let succeeded = JobFilter {
        kind: None,
        status: Some(JobStatus::Succeeded),
    };
    assert_eq!(
        queue
            .storage
            .jobs()
            .list(&succeeded, None, 1000)
            .await
            .unwrap()
            .len(),
        JOBS
    );
}

pub async fn an_enqueue_wakes_a_waiting_worker(queue: FreshQueue) {
    // Let a PostgreSQL listener connect, and swallow any ring from before.
    queue.signal.wait(StdDuration::from_millis(300)).await;
    let waiter = {
        let signal = queue.signal.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            signal.wait(StdDuration::from_secs(20)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let tx = queue.storage.begin().await.unwrap();
    tx.jobs().enqueue(&new_job(KIND, at(0))).await.unwrap();
    tx.commit().await.unwrap();
    let waited = tokio::time::timeout(StdDuration::from_secs(10), waiter)
        .await
        .expect("the worker woke within 10 s")
        .unwrap();
    assert!(waited < StdDuration::from_secs(5), "woke after {waited:?}");
}

pub async fn a_wait_without_an_enqueue_ends_at_its_limit(queue: FreshQueue) {
    queue.signal.wait(StdDuration::from_millis(300)).await;
    let started = Instant::now();
    queue.signal.wait(StdDuration::from_millis(200)).await;
    let waited = started.elapsed();
    assert!(waited >= StdDuration::from_millis(150), "{waited:?}");
    assert!(waited < StdDuration::from_secs(5), "{waited:?}");
}

#[cfg(test)]
mod completeness {
    #[test]
    fn every_behaviour_is_listed() {
        let source = include_str!("jobs_conformance.rs");
        let list_start = source.find("@tests $fresh, [").expect("the list");
        let list = &source[list_start..source[list_start..].find(']').unwrap() + list_start];
        let missing: Vec<&str> = source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .map(|rest| rest.split('(').next().unwrap_or_default())
            .filter(|name| !list.contains(&format!("{name},")))
            .collect();
        assert!(missing.is_empty(), "not run on any backend: {missing:?}");
    }
}
