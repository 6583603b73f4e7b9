//! The job machinery around `settle`, on the memory adapters with a manual
//! clock: durable steps and progress fenced by the attempt's lease, the
//! jitter of a retry, the registry of handlers, the administrators' view of
//! the queue (`JobsService`), the pruning of finished jobs, and the
//! periodic maintenance tasks run as jobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::auth::Principal;
use application::jobs::{
    self, JobContext, JobError, JobHandler, JobKind, JobRegistry, JobsError, JobsService, Outcome,
    settle,
};
use application::maintenance::{self, JOBS_PRUNE, JobsPrune, SESSIONS_PURGE, SessionsPurge};
use async_trait::async_trait;
use domain::ports::{Clock, Random, Repositories};
use domain::{
    Claim, Enqueued, FamilyId, Job, JobFilter, JobId, JobProgress, JobStatus, LeaseId,
    RefreshToken, RevokeReason, Role, Session, SessionId, UserId,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const KIND: JobKind = JobKind::new("test.services");
const START: OffsetDateTime = datetime!(2030-06-01 08:00:00 UTC);
const LEASE: Duration = Duration::seconds(30);

/// Bytes of one value: a jitter of exactly 0.0 (all zeros) or 1.0 (all ones).
struct Fixed(u8);

impl Random for Fixed {
    fn fill(&self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
}

/// Every four bytes read as `u32::MAX / 2` (little-endian): a jitter of
/// one half, near enough.
struct Middle;

impl Random for Middle {
    fn fill(&self, dest: &mut [u8]) {
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = if i % 4 == 3 { 0x7f } else { 0xff };
        }
    }
}

/// A handler that does nothing, for the registry.
struct Named(&'static str);

#[async_trait]
impl JobHandler for Named {
    fn kind(&self) -> JobKind {
        JobKind::new(self.0)
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

fn setup() -> (Arc<MemoryStorage>, Arc<ManualClock>) {
    (
        Arc::new(MemoryStorage::new()),
        Arc::new(ManualClock::new(START)),
    )
}

fn caller(role: Role) -> Principal {
    Principal {
        user_id: UserId::generate(START, &OsRandom),
        session_id: SessionId::generate(START, &OsRandom),
        role,
    }
}

async fn enqueue(storage: &MemoryStorage, clock: &ManualClock, kind: &JobKind) -> JobId {
    jobs::enqueue(storage, kind, &(), clock, &OsRandom)
        .await
        .expect("enqueue")
        .job()
        .id
}

/// The one due job of `kind`, claimed under a new lease.
async fn claimed(storage: &MemoryStorage, clock: &ManualClock, kind: &JobKind) -> Job {
    let mut jobs = storage
        .jobs()
        .claim(
            Claim {
                limit: 1,
                kinds: &[kind.name],
                now: clock.now(),
                lease: LEASE,
            },
            &|| LeaseId::generate(START, &OsRandom),
        )
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1, "a job is due");
    jobs.remove(0)
}

fn context(storage: &Arc<MemoryStorage>, clock: &Arc<ManualClock>, job: Job) -> JobContext {
    JobContext::new(job, storage.clone(), clock.clone()).expect("a claimed job has a lease")
}

async fn stored(storage: &MemoryStorage, id: JobId) -> Job {
    storage
        .jobs()
        .find(id)
        .await
        .expect("find")
        .expect("the job")
}

/// A job of `kind` enqueued, claimed and settled with `outcome` now.
async fn finished(
    storage: &MemoryStorage,
    clock: &ManualClock,
    kind: &JobKind,
    outcome: Outcome,
) -> JobId {
    let id = enqueue(storage, clock, kind).await;
    let job = claimed(storage, clock, kind).await;
    assert_eq!(job.id, id);
    settle(storage, &job, kind, outcome, clock, &Fixed(0xff))
        .await
        .expect("settle")
        .expect("the lease is held");
    id
}

/// A step whose work counts its runs and yields `value`.
async fn counted(runs: &AtomicU32, value: u32) -> Result<u32, JobError> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(value)
}

#[tokio::test]
async fn a_finished_step_is_not_run_again_by_a_later_attempt() {
    let (storage, clock) = setup();
    let id = enqueue(&storage, &clock, &KIND).await;
    let runs = AtomicU32::new(0);

    let first = claimed(&storage, &clock, &KIND).await;
    let ctx = context(&storage, &clock, first.clone());
    assert_eq!(ctx.step("fetch", counted(&runs, 42)).await.unwrap(), 42);
    assert_eq!(ctx.step("fetch", counted(&runs, 7)).await.unwrap(), 42);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let steps = stored(&storage, id).await.steps;
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].name.as_str(), steps[0].output.as_str()),
        ("fetch", "42")
    );
    assert_eq!(steps[0].finished_at, START);

    // The attempt fails after the step; the next attempt resumes after it.
    settle(
        storage.as_ref(),
        &first,
        &KIND,
        Outcome::Failed(JobError::Retry("source down".into())),
        clock.as_ref(),
        &Fixed(0xff),
    )
    .await
    .unwrap();
    clock.advance(Duration::seconds(2));
    let second = claimed(&storage, &clock, &KIND).await;
    assert_eq!(second.attempts, 2);
    let ctx = context(&storage, &clock, second);
    assert_eq!(ctx.step("fetch", counted(&runs, 99)).await.unwrap(), 42);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // A step not finished before runs, once.
    assert_eq!(ctx.step("apply", counted(&runs, 5)).await.unwrap(), 5);
    assert_eq!(ctx.step("apply", counted(&runs, 6)).await.unwrap(), 5);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let names: Vec<String> = stored(&storage, id)
        .await
        .steps
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["fetch", "apply"]);
}

#[tokio::test]
async fn progress_is_visible_on_the_job() {
    let (storage, clock) = setup();
    let id = enqueue(&storage, &clock, &KIND).await;
    let ctx = context(&storage, &clock, claimed(&storage, &clock, &KIND).await);
    ctx.progress(3, 10, Some("pages".into())).await.unwrap();
    assert_eq!(
        stored(&storage, id).await.progress,
        Some(JobProgress {
            done: 3,
            total: 10,
            message: Some("pages".into()),
        })
    );
    ctx.progress(10, 10, None).await.unwrap();
    assert_eq!(
        stored(&storage, id).await.progress,
        Some(JobProgress {
            done: 10,
            total: 10,
            message: None,
        })
    );
}

#[tokio::test]
async fn a_step_or_progress_after_the_lease_ran_out_is_lease_lost_and_stores_nothing() {
    let (storage, clock) = setup();
    let id = enqueue(&storage, &clock, &KIND).await;
    let stale = context(&storage, &clock, claimed(&storage, &clock, &KIND).await);
    // The lease runs out; another worker takes the job.
    clock.advance(LEASE + Duration::seconds(1));
    let current = context(&storage, &clock, claimed(&storage, &clock, &KIND).await);

    let runs = AtomicU32::new(0);
    assert!(matches!(
        stale.step("fetch", counted(&runs, 1)).await,
        Err(JobError::LeaseLost)
    ));
    assert!(matches!(
        stale.progress(1, 2, None).await,
        Err(JobError::LeaseLost)
    ));
    let job = stored(&storage, id).await;
    assert_eq!(job.steps, Vec::new());
    assert_eq!(job.progress, None);

    // The step was not stored, so the worker holding the job runs it.
    assert_eq!(current.step("fetch", counted(&runs, 2)).await.unwrap(), 2);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    current.progress(1, 2, None).await.unwrap();
    let job = stored(&storage, id).await;
    assert_eq!(job.steps.len(), 1);
    assert_eq!(job.steps[0].output, "2");
    assert_eq!(
        job.progress,
        Some(JobProgress {
            done: 1,
            total: 2,
            message: None,
        })
    );
}

#[tokio::test]
async fn a_step_or_progress_after_the_job_was_settled_is_lease_lost_and_stores_nothing() {
    let (storage, clock) = setup();
    let id = enqueue(&storage, &clock, &KIND).await;
    let job = claimed(&storage, &clock, &KIND).await;
    let ctx = context(&storage, &clock, job.clone());
    settle(
        storage.as_ref(),
        &job,
        &KIND,
        Outcome::Succeeded,
        clock.as_ref(),
        &OsRandom,
    )
    .await
    .unwrap();

    let runs = AtomicU32::new(0);
    assert!(matches!(
        ctx.step("late", counted(&runs, 1)).await,
        Err(JobError::LeaseLost)
    ));
    assert!(matches!(
        ctx.progress(1, 1, Some("late".into())).await,
        Err(JobError::LeaseLost)
    ));
    let after = stored(&storage, id).await;
    assert_eq!(after.status, JobStatus::Succeeded);
    assert_eq!(after.steps, Vec::new());
    assert_eq!(after.progress, None);
}

#[tokio::test]
async fn a_middling_jitter_waits_three_quarters_of_the_full_delay() {
    let (storage, clock) = setup();
    let id = enqueue(&storage, &clock, &KIND).await;
    let job = claimed(&storage, &clock, &KIND).await;
    let settled = settle(
        storage.as_ref(),
        &job,
        &KIND,
        Outcome::Failed(JobError::Retry("down".into())),
        clock.as_ref(),
        &Middle,
    )
    .await
    .unwrap()
    .expect("the lease is held");
    let after = stored(&storage, id).await;
    assert_eq!(after.status, JobStatus::Failed);
    assert_eq!(settled.retry_at, Some(after.run_at));
    // The full delay is 2 s; a jitter of one half keeps 75 % of it, 1.5 s
    // (short of it by the fraction of a nanosecond that u32::MAX / 2 falls
    // below one half).
    let wait = after.run_at - START;
    assert!(
        wait > Duration::milliseconds(1_499) && wait <= Duration::milliseconds(1_500),
        "waited {wait}"
    );
}

#[tokio::test]
async fn the_registry_lists_its_kinds_sorted_and_finds_each_handler() {
    let (storage, clock) = setup();
    let registry = JobRegistry::default()
        .with(Arc::new(SessionsPurge {
            storage: storage.clone(),
            clock: clock.clone(),
            reuse_grace: Duration::seconds(10),
        }))
        .with(Arc::new(Named("test.registry")))
        .with(Arc::new(JobsPrune {
            storage: storage.clone(),
            clock: clock.clone(),
        }));
    assert_eq!(
        registry.kinds(),
        ["jobs.prune", "sessions.purge", "test.registry"]
    );
    assert_eq!(
        format!("{registry:?}"),
        r#"["jobs.prune", "sessions.purge", "test.registry"]"#
    );
    for name in registry.kinds() {
        let handler = registry.handler(name).expect("a registered kind");
        assert_eq!(handler.kind().name, name);
    }
    assert_eq!(registry.handler("jobs.prune").unwrap().kind(), JOBS_PRUNE);
    assert_eq!(
        registry.handler("sessions.purge").unwrap().kind(),
        SESSIONS_PURGE
    );
    assert!(registry.handler("catalog.sync").is_none());
    assert!(registry.handler("").is_none());
    assert_eq!(JobRegistry::default().kinds(), Vec::<&str>::new());
}

#[tokio::test]
async fn a_user_who_is_not_an_admin_is_forbidden_the_queue() {
    let (storage, clock) = setup();
    let service = JobsService::new(storage.clone(), clock.clone(), Arc::new(OsRandom), true);
    let user = caller(Role::User);
    let dead = finished(
        &storage,
        &clock,
        &KIND,
        Outcome::Failed(JobError::Permanent("bad".into())),
    )
    .await;

    assert!(matches!(
        service.sync_catalog(&user).await,
        Err(JobsError::Forbidden)
    ));
    assert!(matches!(
        service.list(&user, &JobFilter::default(), None, 10).await,
        Err(JobsError::Forbidden)
    ));
    assert!(matches!(
        service.get(&user, dead).await,
        Err(JobsError::Forbidden)
    ));
    assert!(matches!(
        service.retry(&user, dead).await,
        Err(JobsError::Forbidden)
    ));
    // Nothing was queued nor revived.
    let all = storage
        .jobs()
        .list(&JobFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, JobStatus::Dead);

    // The same calls by an admin go through.
    let admin = caller(Role::Admin);
    assert_eq!(service.get(&admin, dead).await.unwrap().id, dead);
    assert_eq!(
        service
            .list(&admin, &JobFilter::default(), None, 10)
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
}

#[tokio::test]
async fn a_catalog_sync_without_a_source_is_refused() {
    let (storage, clock) = setup();
    let service = JobsService::new(storage.clone(), clock, Arc::new(OsRandom), false);
    assert!(matches!(
        service.sync_catalog(&caller(Role::Admin)).await,
        Err(JobsError::NoCatalogSource)
    ));
    let all = storage
        .jobs()
        .list(&JobFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all, Vec::new());
}

#[tokio::test]
async fn a_catalog_sync_is_queued_once_and_a_second_request_answers_that_job() {
    let (storage, clock) = setup();
    let service = JobsService::new(storage.clone(), clock.clone(), Arc::new(OsRandom), true);
    let admin = caller(Role::Admin);
    let job = service.sync_catalog(&admin).await.unwrap();
    assert_eq!(job.kind, "catalog.sync");
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.run_at, START);
    assert_eq!(stored(&storage, job.id).await, job);

    clock.advance(Duration::seconds(5));
    let again = service.sync_catalog(&admin).await.unwrap();
    assert_eq!(again.id, job.id);
    let all = storage
        .jobs()
        .list(&JobFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn the_list_pages_exactly_newest_first_without_repeats() {
    let (storage, clock) = setup();
    let service = JobsService::new(storage.clone(), clock.clone(), Arc::new(OsRandom), false);
    let admin = caller(Role::Admin);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(enqueue(&storage, &clock, &KIND).await);
        clock.advance(Duration::seconds(1));
    }
    ids.reverse(); // newest first
    let all = JobFilter::default();
    let page_ids = |page: &jobs::JobPage| page.jobs.iter().map(|j| j.id).collect::<Vec<_>>();

    // Exactly one page's worth, or more room than that: no next page.
    for per_page in [5, 6] {
        let page = service.list(&admin, &all, None, per_page).await.unwrap();
        assert_eq!(page_ids(&page), ids, "per_page {per_page}");
        assert_eq!(page.next_cursor, None, "per_page {per_page}");
    }

    // One short: a full page, then the cursor leads to the one left.
    let first = service.list(&admin, &all, None, 4).await.unwrap();
    assert_eq!(page_ids(&first), ids[..4]);
    let cursor = first.next_cursor.expect("a next page");
    let rest = service.list(&admin, &all, Some(&cursor), 4).await.unwrap();
    assert_eq!(page_ids(&rest), ids[4..]);
    assert_eq!(rest.next_cursor, None);

    // Two at a time: three pages, each job once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = service
            .list(&admin, &all, cursor.as_deref(), 2)
            .await
            .unwrap();
        pages += 1;
        seen.extend(page_ids(&page));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn only_a_dead_job_can_be_retried_and_a_retry_queues_it_again() {
    let (storage, clock) = setup();
    let service = JobsService::new(storage.clone(), clock.clone(), Arc::new(OsRandom), false);
    let admin = caller(Role::Admin);

    let dead = finished(
        &storage,
        &clock,
        &KIND,
        Outcome::Failed(JobError::Permanent("bad payload".into())),
    )
    .await;
    let succeeded = finished(&storage, &clock, &KIND, Outcome::Succeeded).await;
    let queued = enqueue(&storage, &clock, &KIND).await;
    for (id, status) in [
        (succeeded, JobStatus::Succeeded),
        (queued, JobStatus::Queued),
    ] {
        match service.retry(&admin, id).await {
            Err(JobsError::NotDead { id: got, status: s }) => {
                assert_eq!((got, s), (id, status));
            }
            other => panic!("retrying a {status} job: {other:?}"),
        }
        assert_eq!(stored(&storage, id).await.status, status);
    }

    clock.advance(Duration::minutes(3));
    let revived = service.retry(&admin, dead).await.unwrap();
    assert_eq!(revived.id, dead);
    assert_eq!(revived.status, JobStatus::Queued);
    assert_eq!(revived.attempts, 0);
    assert_eq!(revived.run_at, START + Duration::minutes(3));
    assert_eq!(revived.finished_at, None);
    assert_eq!(stored(&storage, dead).await, revived);
    // Once queued again, it is no longer dead.
    assert!(matches!(
        service.retry(&admin, dead).await,
        Err(JobsError::NotDead {
            status: JobStatus::Queued,
            ..
        })
    ));
}

#[tokio::test]
async fn pruning_deletes_succeeded_jobs_after_a_day_and_dead_ones_after_thirty() {
    let (storage, clock) = setup();
    let succeeded = [
        finished(&storage, &clock, &KIND, Outcome::Succeeded).await,
        finished(&storage, &clock, &KIND, Outcome::Succeeded).await,
    ];
    let dead = finished(
        &storage,
        &clock,
        &KIND,
        Outcome::Failed(JobError::Permanent("bad".into())),
    )
    .await;
    let waiting = enqueue(&storage, &clock, &JobKind::new("test.waiting")).await;
    let remaining = async || {
        let mut ids: Vec<JobId> = storage
            .jobs()
            .list(&JobFilter::default(), None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        ids.sort();
        ids
    };
    let mut everything = vec![succeeded[0], succeeded[1], dead, waiting];
    everything.sort();

    let at = |after: Duration| START + after;
    let day = jobs::KEEP_SUCCEEDED;
    let month = jobs::KEEP_DEAD;
    assert_eq!((day, month), (Duration::days(1), Duration::days(30)));

    // Just before a day: everything stays.
    let pruned = jobs::prune(storage.as_ref(), at(day - Duration::seconds(1))).await;
    assert_eq!(pruned.unwrap(), 0);
    assert_eq!(remaining().await, everything);

    // Just after a day: the succeeded ones go, the dead one stays.
    let pruned = jobs::prune(storage.as_ref(), at(day + Duration::seconds(1))).await;
    assert_eq!(pruned.unwrap(), 2);
    let mut left = vec![dead, waiting];
    left.sort();
    assert_eq!(remaining().await, left);

    // Just before 30 days: the dead one stays.
    let pruned = jobs::prune(storage.as_ref(), at(month - Duration::seconds(1))).await;
    assert_eq!(pruned.unwrap(), 0);
    assert_eq!(remaining().await, left);

    // Just after: it goes; a job that never finished is never pruned.
    let pruned = jobs::prune(storage.as_ref(), at(month + Duration::seconds(1))).await;
    assert_eq!(pruned.unwrap(), 1);
    assert_eq!(remaining().await, [waiting]);
    let pruned = jobs::prune(storage.as_ref(), at(Duration::days(400))).await;
    assert_eq!(pruned.unwrap(), 0);
}

#[tokio::test]
async fn the_maintenance_kinds_run_one_at_a_time_with_a_five_minute_timeout() {
    let (storage, clock) = setup();
    for kind in [SESSIONS_PURGE, JOBS_PRUNE] {
        assert!(kind.one_at_a_time, "{}", kind.name);
        assert_eq!(kind.timeout, Duration::minutes(5), "{}", kind.name);
        assert_eq!(kind.max_attempts, 5, "{}", kind.name);

        // A second run asked while one is queued answers that one.
        let first = jobs::enqueue(storage.as_ref(), &kind, &(), clock.as_ref(), &OsRandom)
            .await
            .unwrap();
        let second = jobs::enqueue(storage.as_ref(), &kind, &(), clock.as_ref(), &OsRandom)
            .await
            .unwrap();
        assert!(matches!(first, Enqueued::Created(_)), "{}", kind.name);
        assert_eq!(second, Enqueued::Existing(first.job().clone()));

        // A timed-out attempt says how long it was given.
        let job = claimed(&storage, &clock, &kind).await;
        settle(
            storage.as_ref(),
            &job,
            &kind,
            Outcome::TimedOut,
            clock.as_ref(),
            &Fixed(0),
        )
        .await
        .unwrap();
        assert_eq!(
            stored(&storage, job.id).await.last_error.as_deref(),
            Some("timed out after 300 s")
        );
    }
    assert_eq!(
        (SESSIONS_PURGE.name, JOBS_PRUNE.name),
        ("sessions.purge", "jobs.prune")
    );
}

const GRACE: Duration = Duration::seconds(10);

/// The sessions a purge at `START` sees, by what it should do to them.
struct Sessions {
    expired: [SessionId; 2],
    /// Sealed copy older than the grace window: erased, session kept.
    stale_copy: SessionId,
    /// Sealed copy within the grace window: kept.
    fresh_copy: SessionId,
    live: SessionId,
    revoked_unexpired: SessionId,
}

fn session(
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    sealed: bool,
    revoked: bool,
) -> Session {
    let user = UserId::generate(created_at, &OsRandom);
    Session {
        id: SessionId::generate(created_at, &OsRandom),
        user_id: user,
        family_id: FamilyId::generate(created_at, &OsRandom),
        refresh_token_hash: RefreshToken::generate(&OsRandom).hash(),
        created_at,
        last_used_at: created_at,
        expires_at,
        family_expires_at: created_at + Duration::days(30),
        revoked_at: revoked.then_some(created_at + Duration::minutes(1)),
        revoke_reason: revoked.then_some(RevokeReason::Logout),
        replaced_by: None,
        sealed_refresh_token: sealed.then(|| vec![1, 2, 3]),
        user_agent: None,
        ip: None,
    }
}

async fn sessions(storage: &MemoryStorage) -> Sessions {
    let week = Duration::days(7);
    let fixtures = [
        session(
            START - Duration::days(8),
            START - Duration::days(1),
            false,
            false,
        ),
        session(START - week, START - Duration::seconds(1), false, true),
        session(
            START - GRACE - Duration::seconds(1),
            START + week,
            true,
            false,
        ),
        session(
            START - GRACE + Duration::seconds(1),
            START + week,
            true,
            false,
        ),
        session(START - Duration::hours(1), START + week, false, false),
        session(START - Duration::hours(1), START + week, false, true),
    ];
    for s in &fixtures {
        storage.sessions().insert(s).await.expect("session");
    }
    Sessions {
        expired: [fixtures[0].id, fixtures[1].id],
        stale_copy: fixtures[2].id,
        fresh_copy: fixtures[3].id,
        live: fixtures[4].id,
        revoked_unexpired: fixtures[5].id,
    }
}

impl Sessions {
    /// Checks what a purge at `START` left.
    async fn assert_purged(&self, storage: &MemoryStorage) {
        let find = async |id: SessionId| storage.sessions().find(id).await.expect("find");
        for id in self.expired {
            assert_eq!(find(id).await, None, "an expired session is deleted");
        }
        let stale = find(self.stale_copy).await.expect("kept");
        assert_eq!(stale.sealed_refresh_token, None);
        let fresh = find(self.fresh_copy).await.expect("kept");
        assert_eq!(fresh.sealed_refresh_token, Some(vec![1, 2, 3]));
        for id in [self.live, self.revoked_unexpired] {
            assert_eq!(find(id).await.map(|s| s.id), Some(id));
        }
    }
}

#[tokio::test]
async fn purging_deletes_expired_sessions_and_stale_token_copies_only() {
    let (storage, clock) = setup();
    let fixtures = sessions(&storage).await;
    let counts = maintenance::purge_sessions(storage.as_ref(), clock.as_ref(), GRACE).await;
    assert_eq!(counts.unwrap(), (2, 1));
    fixtures.assert_purged(&storage).await;
    // Nothing is left to purge.
    let again = maintenance::purge_sessions(storage.as_ref(), clock.as_ref(), GRACE).await;
    assert_eq!(again.unwrap(), (0, 0));
}

#[tokio::test]
async fn the_sessions_purge_job_purges_when_it_runs() {
    let (storage, clock) = setup();
    let fixtures = sessions(&storage).await;
    let handler = SessionsPurge {
        storage: storage.clone(),
        clock: clock.clone(),
        reuse_grace: GRACE,
    };
    enqueue(&storage, &clock, &SESSIONS_PURGE).await;
    let ctx = context(
        &storage,
        &clock,
        claimed(&storage, &clock, &SESSIONS_PURGE).await,
    );
    handler.run(&ctx).await.unwrap();
    fixtures.assert_purged(&storage).await;
}

#[tokio::test]
async fn the_jobs_prune_job_prunes_when_it_runs() {
    let (storage, clock) = setup();
    let old = finished(&storage, &clock, &KIND, Outcome::Succeeded).await;
    clock.advance(Duration::days(1) - Duration::seconds(1));
    let young = finished(&storage, &clock, &KIND, Outcome::Succeeded).await;
    clock.advance(Duration::seconds(2));

    let handler = JobsPrune {
        storage: storage.clone(),
        clock: clock.clone(),
    };
    let prune = enqueue(&storage, &clock, &JOBS_PRUNE).await;
    let ctx = context(
        &storage,
        &clock,
        claimed(&storage, &clock, &JOBS_PRUNE).await,
    );
    handler.run(&ctx).await.unwrap();

    assert_eq!(storage.jobs().find(old).await.unwrap(), None);
    assert_eq!(stored(&storage, young).await.status, JobStatus::Succeeded);
    assert_eq!(stored(&storage, prune).await.status, JobStatus::Running);
}
