//! Background jobs: the kinds Roster runs, what each declares, how a
//! handler runs as durable steps, and how an attempt's outcome becomes the
//! job's next state. The loop that claims jobs and runs handlers (threads,
//! timeouts, panics, leases) is a driving adapter (`adapter-worker`); the
//! rules it applies are here.
//!
//! A handler is written to be idempotent: the queue runs a job at least
//! once, and a worker that dies mid-job leaves it to run again. Work that
//! must not be repeated goes into a named [`JobContext::step`], whose result
//! is stored when it succeeds, so a retry resumes after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use domain::job::backoff;
use domain::ports::{Clock, Random, Repositories, Storage};
use domain::{
    Enqueued, Job, JobFilter, JobId, JobProgress, JobStatus, JobStep, LeaseId, NewJob, RepoError,
    ValidationErrors,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use crate::auth::Principal;
use crate::cursor;

/// What a kind of job declares: its name, and how its attempts are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobKind {
    pub name: &'static str,
    /// Attempts before the job is `dead`.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each failure.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_cap: Duration,
    /// How long one attempt may run before it fails as timed out.
    pub timeout: Duration,
    /// At most one live job of this kind (`POST /admin/catalog/sync` while a
    /// sync is queued or running answers that one).
    pub one_at_a_time: bool,
}

impl JobKind {
    /// The defaults of `API.md`: 5 attempts, 2 s doubling up to 1 h, and a
    /// 10-minute timeout.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            max_attempts: 5,
            backoff_base: Duration::seconds(2),
            backoff_cap: Duration::hours(1),
            timeout: Duration::minutes(10),
            one_at_a_time: false,
        }
    }
}

/// Why an attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (a source down, a timeout).
    #[error("{0}")]
    Retry(String),
    /// No attempt will do better (bad input, a source answering nonsense):
    /// the job is `dead` at once.
    #[error("{0}")]
    Permanent(String),
    /// The worker no longer holds the job (its lease ran out and another
    /// worker took it): stop, and write nothing more.
    #[error("the lease on this job was lost")]
    LeaseLost,
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> JobKind;

    /// One attempt. Errors decide what happens next ([`settle`]).
    async fn run(&self, job: &JobContext) -> Result<(), JobError>;
}

/// A job being run: its row, its finished steps, and the ways to record
/// progress, all fenced by the attempt's lease.
pub struct JobContext {
    job: Job,
    lease: LeaseId,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    /// The finished steps, read on the first call that needs them: a job
    /// that uses no step costs no read.
    steps: Mutex<Option<HashMap<String, String>>>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("job", &self.job.id)
            .field("kind", &self.job.kind)
            .finish()
    }
}

impl JobContext {
    /// The context of a claimed job.
    pub fn new(
        job: Job,
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, JobError> {
        let lease = job.lease.ok_or(JobError::LeaseLost)?.id;
        Ok(Self {
            job,
            lease,
            storage,
            clock,
            steps: Mutex::new(None),
        })
    }

    fn with_steps<R>(&self, f: impl FnOnce(&mut Option<HashMap<String, String>>) -> R) -> R {
        f(&mut self.steps.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The stored result of step `name`; the job's steps are read the first
    /// time.
    async fn stored_step(&self, name: &str) -> Result<Option<String>, JobError> {
        if let Some(found) = self.with_steps(|steps| steps.as_ref().map(|s| s.get(name).cloned())) {
            return Ok(found);
        }
        let stored = self
            .storage
            .jobs()
            .find(self.job.id)
            .await?
            .ok_or(JobError::LeaseLost)?;
        let steps: HashMap<String, String> = stored
            .steps
            .into_iter()
            .map(|step| (step.name, step.output))
            .collect();
        let found = steps.get(name).cloned();
        self.with_steps(|slot| *slot = Some(steps));
        Ok(found)
    }

    pub fn job(&self) -> &Job {
        &self.job
    }

    /// Runs the step `name` once: when an earlier attempt finished it, its
    /// stored result is returned without running `work` again; otherwise
    /// `work` runs and its result is stored before it is returned.
    pub async fn step<T, F>(&self, name: &str, work: F) -> Result<T, JobError>
    where
        T: Serialize + DeserializeOwned,
        F: Future<Output = Result<T, JobError>>,
    {
        if let Some(output) = self.stored_step(name).await? {
            return serde_json::from_str(&output).map_err(|e| {
                JobError::Permanent(format!(
                    "the stored result of step {name} is unreadable: {e}"
                ))
            });
        }
        let value = work.await?;
        let output = serde_json::to_string(&value)
            .map_err(|e| JobError::Permanent(format!("step {name}: {e}")))?;
        let step = JobStep {
            name: name.to_owned(),
            output: output.clone(),
            finished_at: self.clock.now(),
        };
        if !self
            .storage
            .jobs()
            .save_step(self.job.id, self.lease, &step)
            .await?
        {
            return Err(JobError::LeaseLost);
        }
        self.with_steps(|steps| {
            if let Some(steps) = steps {
                steps.insert(name.to_owned(), output);
            }
        });
        Ok(value)
    }

    /// Records how far the job has come.
    pub async fn progress(
        &self,
        done: u64,
        total: u64,
        message: Option<String>,
    ) -> Result<(), JobError> {
        let progress = JobProgress {
            done,
            total,
            message,
        };
        if self
            .storage
            .jobs()
            .set_progress(self.job.id, self.lease, &progress)
            .await?
        {
            Ok(())
        } else {
            Err(JobError::LeaseLost)
        }
    }
}

/// How an attempt ended, as the worker saw it.
#[derive(Debug)]
pub enum Outcome {
    Succeeded,
    Failed(JobError),
    /// The handler panicked (the message, when it had one).
    Panicked(String),
    TimedOut,
}

/// The state an attempt left its job in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub status: JobStatus,
    /// When a `failed` job runs again.
    pub retry_at: Option<OffsetDateTime>,
}

/// Records the outcome of an attempt: success; or a failure, retried after
/// the kind's backoff (with jitter from `random`) while attempts are left,
/// else `dead`. Returns the state the job is left in (`None`: the lease was
/// lost, nothing was written).
pub async fn settle(
    storage: &dyn Storage,
    job: &Job,
    kind: &JobKind,
    outcome: Outcome,
    clock: &dyn Clock,
    random: &dyn Random,
) -> Result<Option<Settled>, RepoError> {
    let Some(lease) = job.lease.map(|l| l.id) else {
        return Ok(None);
    };
    let now = clock.now();
    let jobs = storage.jobs();
    let (error, retryable) = match outcome {
        Outcome::Succeeded => {
            return Ok(jobs.succeed(job.id, lease, now).await?.then_some(Settled {
                status: JobStatus::Succeeded,
                retry_at: None,
            }));
        }
        Outcome::Failed(JobError::LeaseLost) => return Ok(None),
        Outcome::Failed(JobError::Permanent(message)) => (message, false),
        Outcome::Failed(error) => (error.to_string(), true),
        Outcome::Panicked(message) => (format!("the handler panicked: {message}"), true),
        Outcome::TimedOut => (
            format!("timed out after {} s", kind.timeout.whole_seconds()),
            true,
        ),
    };
    let retry_at = (retryable && job.attempts < job.max_attempts).then(|| {
        now + backoff(
            kind.backoff_base,
            kind.backoff_cap,
            job.attempts,
            jitter(random),
        )
    });
    let status = if retry_at.is_some() {
        JobStatus::Failed
    } else {
        JobStatus::Dead
    };
    Ok(jobs
        .fail(job.id, lease, &error, retry_at, now)
        .await?
        .then_some(Settled { status, retry_at }))
}

/// A uniform fraction in 0.0–1.0.
fn jitter(random: &dyn Random) -> f64 {
    let mut bytes = [0u8; 4];
    random.fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
}

/// Every kind this build runs, by name: the one place handlers are
/// registered.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl std::fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kinds()).finish()
    }
}

impl JobRegistry {
    /// Adds a handler. Two handlers of one kind are a wiring bug.
    pub fn with(mut self, handler: Arc<dyn JobHandler>) -> Self {
        let name = handler.kind().name;
        let previous = self.handlers.insert(name, handler);
        assert!(previous.is_none(), "two handlers for the job kind {name}");
        self
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    pub fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }
}

/// Enqueues a job of `kind` with `payload`, through `repos` — a unit of
/// work, so that the job exists only if the unit commits, or the storage
/// itself. A kind that runs one at a time answers the live job instead of
/// a second one.
pub async fn enqueue(
    repos: &dyn Repositories,
    kind: &JobKind,
    payload: &impl Serialize,
    clock: &dyn Clock,
    random: &dyn Random,
) -> Result<Enqueued, RepoError> {
    let now = clock.now();
    let payload = serde_json::to_string(payload)
        .map_err(|e| RepoError::unknown(format!("a {} payload: {e}", kind.name)))?;
    repos
        .jobs()
        .enqueue(&NewJob {
            id: JobId::generate(now, random),
            kind: kind.name.to_owned(),
            payload,
            max_attempts: kind.max_attempts,
            unique_key: kind.one_at_a_time.then(|| kind.name.to_owned()),
            run_at: now,
            created_at: now,
        })
        .await
}

/// Succeeded jobs are kept a day, dead ones 30 days.
pub const KEEP_SUCCEEDED: Duration = Duration::days(1);
pub const KEEP_DEAD: Duration = Duration::days(30);

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("this route is for administrators")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Retrying a job that is not dead (409).
    #[error("job {id} is {status}; only a dead job can be retried")]
    NotDead { id: JobId, status: JobStatus },
    /// A catalog sync asked of a server with no source configured (404).
    #[error("no catalog source is configured (ROSTER_CATALOG_SOURCE)")]
    NoCatalogSource,
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// One page of jobs, newest first.
#[derive(Debug, Clone)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
}

/// The administrators' view of the queue (`/admin/jobs`).
pub struct JobsService {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    /// Whether a catalog source is configured (and `catalog.sync` runs).
    catalog_source: bool,
}

impl std::fmt::Debug for JobsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobsService")
    }
}

fn require_admin(caller: &Principal) -> Result<(), JobsError> {
    match caller.role {
        domain::Role::Admin => Ok(()),
        domain::Role::User => Err(JobsError::Forbidden),
    }
}

impl JobsService {
    pub fn new(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        catalog_source: bool,
    ) -> Self {
        Self {
            storage,
            clock,
            random,
            catalog_source,
        }
    }

    /// Queues a catalog sync, or answers the one queued or running.
    pub async fn sync_catalog(&self, caller: &Principal) -> Result<Job, JobsError> {
        require_admin(caller)?;
        if !self.catalog_source {
            return Err(JobsError::NoCatalogSource);
        }
        let enqueued = enqueue(
            self.storage.as_ref(),
            &crate::catalog_sync::CATALOG_SYNC,
            &serde_json::json!({}),
            self.clock.as_ref(),
            self.random.as_ref(),
        )
        .await?;
        if let Enqueued::Created(job) = &enqueued {
            tracing::info!(job.id = %job.id, admin.id = %caller.user_id, "catalog sync queued");
        }
        Ok(enqueued.into_job())
    }

    /// Jobs matching `filter`, newest first, after `cursor`.
    pub async fn list(
        &self,
        caller: &Principal,
        filter: &JobFilter,
        cursor: Option<&str>,
        per_page: usize,
    ) -> Result<JobPage, JobsError> {
        require_admin(caller)?;
        if filter
            .kind
            .as_deref()
            .is_some_and(|kind| kind.chars().any(char::is_control))
        {
            return Err(JobsError::Validation(ValidationErrors::single(
                "kind",
                "must not contain control characters",
            )));
        }
        let before = cursor
            .map(|text| {
                cursor::decode(text).map(JobId::from_uuid).ok_or_else(|| {
                    JobsError::Validation(ValidationErrors::single(
                        "cursor",
                        "is not a cursor this API gave out",
                    ))
                })
            })
            .transpose()?;
        let mut jobs = self
            .storage
            .jobs()
            .list(filter, before, per_page + 1)
            .await?;
        let next_cursor = if jobs.len() > per_page {
            jobs.truncate(per_page);
            jobs.last().map(|last| cursor::encode(last.id.as_uuid()))
        } else {
            None
        };
        Ok(JobPage { jobs, next_cursor })
    }

    /// One job, with its steps.
    pub async fn get(&self, caller: &Principal, id: JobId) -> Result<Job, JobsError> {
        require_admin(caller)?;
        self.storage
            .jobs()
            .find(id)
            .await?
            .ok_or(JobsError::NotFound)
    }

    /// Queues a dead job again, attempts reset; its finished steps are kept,
    /// so it resumes where it failed.
    pub async fn retry(&self, caller: &Principal, id: JobId) -> Result<Job, JobsError> {
        require_admin(caller)?;
        let jobs = self.storage.jobs();
        let current = jobs.find(id).await?.ok_or(JobsError::NotFound)?;
        if current.status != JobStatus::Dead {
            return Err(JobsError::NotDead {
                id,
                status: current.status,
            });
        }
        // Compare-and-set: of two admins retrying at once, one revives it;
        // the other hears what the job has become since.
        let Some(job) = jobs.retry(id, self.clock.now()).await? else {
            let now = jobs.find(id).await?.ok_or(JobsError::NotFound)?;
            return Err(JobsError::NotDead {
                id,
                status: now.status,
            });
        };
        tracing::info!(job.id = %id, job.kind = %job.kind, admin.id = %caller.user_id, "dead job queued again");
        Ok(job)
    }
}

/// Deletes the finished jobs past their retention; returns how many.
pub async fn prune(storage: &dyn Storage, now: OffsetDateTime) -> Result<u64, RepoError> {
    storage
        .jobs()
        .prune(now - KEEP_SUCCEEDED, now - KEEP_DEAD)
        .await
}
