use std::time::Duration as StdDuration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::RepoError;
use crate::ids::{JobId, LeaseId};
use crate::job::{Claim, Enqueued, Job, JobCount, JobFilter, JobProgress, JobStep, NewJob};

/// The job queue's storage: enqueued inside a unit of work like any other
/// change, claimed and settled by workers.
///
/// Every write of a running attempt names its [`LeaseId`] and does nothing
/// (returns `false`) unless the job is still running under that lease: a
/// worker whose lease ran out and was claimed again can no longer touch
/// the job.
#[async_trait]
pub trait JobRepository: Send + Sync {
    /// Stores a queued job. When it has a unique key and a live job (queued,
    /// running or failed) has the same key, stores nothing and returns that
    /// job as `Existing`. MUST be transactional like every other write: a
    /// job enqueued in a unit that does not commit does not exist, and
    /// workers are woken only once it commits.
    async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, RepoError>;

    /// The job with this id, its steps included.
    async fn find(&self, id: JobId) -> Result<Option<Job>, RepoError>;

    /// How many jobs there are of each kind in each status: one entry per
    /// `(kind, status)` pair that has at least one job, in no particular
    /// order. For the operators' gauges, read at each scrape.
    async fn counts(&self) -> Result<Vec<JobCount>, RepoError>;

    /// The jobs that match `filter`, newest first (by id, descending), with
    /// an id below `before` when given, at most `limit`. Steps are left out
    /// (empty) of listings.
    async fn list(
        &self,
        filter: &JobFilter,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, RepoError>;

    /// Takes up to `claim.limit` jobs of `claim.kinds` that are due — queued
    /// or failed with `run_at <= now`, or running under a lease that expired
    /// — oldest `run_at` first, and marks each running under a new lease
    /// (`lease_id` from `new_lease`, expiring at `now + claim.lease`),
    /// `attempts + 1`, `started_at = now`. A running job whose lease expired
    /// and that has no attempts left becomes `dead` (its `last_error` says
    /// the lease expired) instead of being taken. Of concurrent claims, each
    /// job goes to exactly one (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim(
        &self,
        claim: Claim<'_>,
        new_lease: &(dyn Fn() -> LeaseId + Send + Sync),
    ) -> Result<Vec<Job>, RepoError>;

    /// Pushes the lease's expiry to `until`. `false` when the lease is no
    /// longer the job's: the worker must stop.
    async fn renew(
        &self,
        id: JobId,
        lease: LeaseId,
        until: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Stores a finished step (replacing one of the same name).
    async fn save_step(&self, id: JobId, lease: LeaseId, step: &JobStep)
    -> Result<bool, RepoError>;

    /// Records the handler's progress.
    async fn set_progress(
        &self,
        id: JobId,
        lease: LeaseId,
        progress: &JobProgress,
    ) -> Result<bool, RepoError>;

    /// The attempt succeeded: `succeeded`, `finished_at = at`, lease dropped.
    async fn succeed(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// The attempt failed with `error`: `failed` with `run_at = retry_at`
    /// when given, else `dead` with `finished_at = at`. Lease dropped.
    async fn fail(
        &self,
        id: JobId,
        lease: LeaseId,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Gives the job back without counting the attempt (a worker shutting
    /// down): `queued`, `run_at = at`, `attempts - 1`, lease dropped, so
    /// another worker takes it at once.
    async fn release(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Queues a `dead` job again: attempts 0, `last_error` and progress
    /// kept for the record until it runs, `run_at = at`, `finished_at`
    /// cleared; its steps are kept, so it resumes. `Some(job)` with the job
    /// as this call left it (a worker may claim it the next instant);
    /// `None` when no job has this id or it was not dead — of two calls at
    /// once, one revives it. Wakes workers like an enqueue.
    async fn retry(&self, id: JobId, at: OffsetDateTime) -> Result<Option<Job>, RepoError>;

    /// Deletes succeeded jobs finished before `succeeded_before` and dead
    /// ones finished before `dead_before`, with their steps. Returns how
    /// many.
    async fn prune(
        &self,
        succeeded_before: OffsetDateTime,
        dead_before: OffsetDateTime,
    ) -> Result<u64, RepoError>;
}

/// The doorbell of the queue: how an idle worker learns, without polling
/// the table in a tight loop, that a job may be ready.
#[async_trait]
pub trait JobSignal: Send + Sync {
    /// Returns when a job was enqueued or retried (after its unit
    /// committed) since the last call returned, or after `max` — whichever
    /// comes first. Spurious returns are allowed; a lost ring only delays a
    /// job until the next poll.
    async fn wait(&self, max: StdDuration);
}
