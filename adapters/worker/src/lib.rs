//! The worker: the driving adapter that runs background jobs, as the HTTP
//! adapter runs requests. It claims due jobs from the `JobRepository` as
//! slots free up, runs each kind's handler on a task of its own under the
//! kind's timeout, renews the job's lease while the handler runs, and hands
//! the outcome to `application::jobs::settle`, which decides between
//! success, a retry after backoff, and `dead`.
//!
//! - A handler that panics or times out fails that attempt only; the
//!   worker goes on.
//! - Idle, the worker sleeps on the queue's bell (`JobSignal`: an
//!   in-process notification, or `LISTEN/NOTIFY`) and polls every
//!   [`WorkerConfig::poll`] in case a ring was lost. One claim per wake-up
//!   per process, for as many jobs as it has free slots: a burst of
//!   enqueues wakes each worker process once, not every slot.
//! - A lease lost (renewal refused: the worker stalled past its lease and
//!   another took the job) stops the handler at once; its result would be
//!   fenced off anyway.
//! - Shutdown: no new claims; running jobs get [`WorkerConfig::grace`] to
//!   finish; the rest are stopped and released (back to `queued` at once,
//!   the attempt not counted) so another worker takes them without waiting
//!   for the lease to run out.
//! - Each finished attempt (whatever its outcome; not one released at
//!   shutdown) is timed in the histogram `roster_job_duration_seconds{kind}`,
//!   through the `metrics` facade.
//! - A schedule (periodic tasks, for a deployment with no outside
//!   scheduler) enqueues a one-at-a-time job of each task's kind at its
//!   interval.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use application::jobs::{JobContext, JobError, JobHandler, JobKind, JobRegistry, Outcome, settle};
use domain::ports::{Clock, JobSignal, Random, Storage};
use domain::{Claim, Job, LeaseId};
use time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The histogram of attempt durations, by job kind.
pub const JOB_DURATION: &str = "roster_job_duration_seconds";

/// The help text of the worker's metrics, for the exposition's `# HELP`.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        JOB_DURATION,
        metrics::Unit::Seconds,
        "time one attempt of a job ran, handler start to outcome, by kind"
    );
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once (`ROSTER_WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// How long a claim holds a job without renewal; renewed every third.
    pub lease: Duration,
    /// The longest sleep between two looks at the queue.
    pub poll: StdDuration,
    /// How long running jobs may take to finish after shutdown begins.
    pub grace: StdDuration,
    /// Periodic tasks: a job of this kind enqueued at this interval (the
    /// first one at start).
    pub schedule: Vec<(JobKind, StdDuration)>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: Duration::seconds(30),
            poll: StdDuration::from_secs(5),
            grace: StdDuration::from_secs(20),
            schedule: Vec::new(),
        }
    }
}

/// What the worker needs: the queue's storage and bell, the handlers, time
/// and randomness.
#[derive(Clone)]
pub struct Worker {
    pub storage: Arc<dyn Storage>,
    pub signal: Arc<dyn JobSignal>,
    pub registry: Arc<JobRegistry>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub config: WorkerConfig,
    /// The earliest retry this worker's attempts scheduled, so that it
    /// wakes then rather than at the next poll: nobody rings for a backoff
    /// that ran out.
    retries: Arc<watch::Sender<Option<time::OffsetDateTime>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("kinds", &self.registry)
            .field("config", &self.config)
            .finish()
    }
}

/// What happened to the jobs a worker held when it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Jobs that finished within the grace period.
    pub finished: usize,
    /// Jobs given back to the queue.
    pub released: usize,
}

impl Worker {
    /// A worker; nothing runs until [`Worker::run`].
    pub fn new(
        storage: Arc<dyn Storage>,
        signal: Arc<dyn JobSignal>,
        registry: Arc<JobRegistry>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            storage,
            signal,
            registry,
            clock,
            random,
            config,
            retries: Arc::new(watch::channel(None).0),
        }
    }

    /// Runs until `shutdown` completes, then stops as the module says.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Stopped {
        let mut next_retry = self.retries.subscribe();
        let kinds = self.registry.kinds();
        let concurrency = self.config.concurrency.max(1);
        tracing::info!(?kinds, concurrency, "worker started");
        let (release, released) = watch::channel(false);
        let mut running: JoinSet<()> = JoinSet::new();
        let scheduler =
            (!self.config.schedule.is_empty()).then(|| tokio::spawn(self.clone().schedule()));
        let mut unavailable = false;
        tokio::pin!(shutdown);
        loop {
            let free = concurrency.saturating_sub(running.len());
            if free > 0 {
                match self.claim(&kinds, free).await {
                    Ok(jobs) => {
                        if unavailable {
                            tracing::info!("worker: the queue answers again");
                            unavailable = false;
                        }
                        for job in jobs {
                            running.spawn(self.clone().run_job(job, released.clone()));
                        }
                    }
                    Err(error) => {
                        if !unavailable {
                            tracing::warn!(%error, "worker: cannot claim jobs; trying again at the next poll");
                            unavailable = true;
                        }
                    }
                }
            }
            // With every slot taken, only a finished job (or shutdown) ends
            // the wait: then the loop looks again at once, since a claim that
            // filled the slots may have left more behind.
            let slots_left = running.len() < concurrency;
            let due = *next_retry.borrow_and_update();
            let wait = match due {
                Some(at) => {
                    let until = at - self.clock.now();
                    StdDuration::try_from(until)
                        .unwrap_or(StdDuration::ZERO)
                        .min(self.config.poll)
                }
                None => self.config.poll,
            };
            if due.is_some_and(|at| at <= self.clock.now()) {
                self.retries.send_replace(None);
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.signal.wait(wait), if slots_left => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        if let Some(scheduler) = scheduler {
            scheduler.abort();
        }
        self.drain(running, release).await
    }

    async fn claim(&self, kinds: &[&str], limit: usize) -> Result<Vec<Job>, domain::RepoError> {
        let now = self.clock.now();
        let random = Arc::clone(&self.random);
        let clock = Arc::clone(&self.clock);
        self.storage
            .jobs()
            .claim(
                Claim {
                    limit,
                    kinds,
                    now,
                    lease: self.config.lease,
                },
                &move || LeaseId::generate(clock.now(), random.as_ref()),
            )
            .await
    }

    /// Lets running jobs finish within the grace period, then releases the
    /// rest.
    async fn drain(&self, mut running: JoinSet<()>, release: watch::Sender<bool>) -> Stopped {
        let held = running.len();
        if held > 0 {
            tracing::info!(
                running = held,
                grace_s = self.config.grace.as_secs_f64(),
                "worker stopping: letting running jobs finish"
            );
        }
        let mut stopped = Stopped::default();
        let grace = tokio::time::sleep(self.config.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = running.join_next() => match joined {
                    Some(_) => stopped.finished += 1,
                    None => break,
                },
                () = &mut grace => {
                    stopped.released = running.len();
                    let _ = release.send(true);
                    while running.join_next().await.is_some() {}
                    break;
                }
            }
        }
        tracing::info!(
            finished = stopped.finished,
            released = stopped.released,
            "worker stopped"
        );
        stopped
    }

    /// One attempt of one claimed job, to its settled end.
    async fn run_job(self, job: Job, mut release: watch::Receiver<bool>) {
        let Some(lease) = job.lease.map(|l| l.id) else {
            return;
        };
        let Some(handler) = self.registry.handler(&job.kind) else {
            // Claims ask only for registered kinds.
            return;
        };
        let kind = handler.kind();
        let started = std::time::Instant::now();
        let outcome = self
            .attempt(&job, lease, handler, &kind, &mut release)
            .await;
        if outcome.is_some() {
            metrics::histogram!(JOB_DURATION, "kind" => kind.name)
                .record(started.elapsed().as_secs_f64());
        }
        let Some(outcome) = outcome else {
            // Released at shutdown.
            match self
                .storage
                .jobs()
                .release(job.id, lease, self.clock.now())
                .await
            {
                Ok(_) => {
                    tracing::info!(job.id = %job.id, job.kind = %job.kind, "job released at shutdown")
                }
                Err(error) => {
                    tracing::warn!(job.id = %job.id, %error, "could not release a job at shutdown; it runs again when its lease expires")
                }
            }
            return;
        };
        let description = describe(&outcome);
        let settled = settle(
            self.storage.as_ref(),
            &job,
            &kind,
            outcome,
            self.clock.as_ref(),
            self.random.as_ref(),
        )
        .await;
        let elapsed_ms = started.elapsed().as_millis();
        match settled {
            Ok(Some(settled)) => {
                let status = settled.status;
                if let Some(at) = settled.retry_at {
                    self.retries.send_if_modified(|next| match next {
                        Some(earlier) if *earlier <= at => false,
                        _ => {
                            *next = Some(at);
                            true
                        }
                    });
                }
                if description.is_empty() {
                    tracing::info!(job.id = %job.id, job.kind = %job.kind, attempt = job.attempts, elapsed_ms, status = %status, "job finished");
                } else {
                    tracing::warn!(job.id = %job.id, job.kind = %job.kind, attempt = job.attempts, elapsed_ms, status = %status, error = %description, "job attempt failed");
                }
            }
            Ok(None) => {
                tracing::warn!(job.id = %job.id, job.kind = %job.kind, "the job's lease was lost; another worker holds it")
            }
            Err(error) => {
                tracing::warn!(job.id = %job.id, %error, "could not record a job's outcome; it runs again when its lease expires")
            }
        }
    }

    /// Runs the handler on a task of its own, renewing the lease; `None`
    /// when shutdown asked for the job to be released.
    async fn attempt(
        &self,
        job: &Job,
        lease: LeaseId,
        handler: Arc<dyn JobHandler>,
        kind: &JobKind,
        release: &mut watch::Receiver<bool>,
    ) -> Option<Outcome> {
        let context = match JobContext::new(
            job.clone(),
            Arc::clone(&self.storage),
            Arc::clone(&self.clock),
        ) {
            Ok(context) => Arc::new(context),
            Err(error) => return Some(Outcome::Failed(error)),
        };
        let mut task = tokio::spawn(async move { handler.run(&context).await });
        let timeout = tokio::time::sleep(
            kind.timeout
                .try_into()
                .unwrap_or(StdDuration::from_secs(600)),
        );
        tokio::pin!(timeout);
        let every: StdDuration = (self.config.lease / 3_i32)
            .try_into()
            .unwrap_or(StdDuration::from_secs(10));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                joined = &mut task => {
                    return Some(match joined {
                        Ok(Ok(())) => Outcome::Succeeded,
                        Ok(Err(error)) => Outcome::Failed(error),
                        Err(error) if error.is_panic() => Outcome::Panicked(panic_message(error.into_panic())),
                        Err(_) => Outcome::Failed(JobError::Retry("the attempt was cancelled".into())),
                    });
                }
                () = &mut timeout => {
                    task.abort();
                    return Some(Outcome::TimedOut);
                }
                _ = renew.tick() => {
                    let until = self.clock.now() + self.config.lease;
                    match self.storage.jobs().renew(job.id, lease, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            task.abort();
                            return Some(Outcome::Failed(JobError::LeaseLost));
                        }
                        // The lease may well outlive a blip; try at the next tick.
                        Err(error) => tracing::warn!(job.id = %job.id, %error, "could not renew a job's lease"),
                    }
                }
                Ok(()) = release.changed() => {
                    if *release.borrow() {
                        task.abort();
                        let _ = task.await;
                        return None;
                    }
                }
            }
        }
    }

    /// Enqueues each scheduled task at its interval, forever.
    async fn schedule(self) {
        let mut tasks = JoinSet::new();
        for (kind, every) in self.config.schedule.clone() {
            let worker = self.clone();
            tasks.spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let enqueued = application::jobs::enqueue(
                        worker.storage.as_ref(),
                        &kind,
                        &(),
                        worker.clock.as_ref(),
                        worker.random.as_ref(),
                    )
                    .await;
                    if let Err(error) = enqueued {
                        tracing::warn!(job.kind = kind.name, %error, "could not enqueue a scheduled task");
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded => String::new(),
        Outcome::Failed(error) => error.to_string(),
        Outcome::Panicked(message) => format!("panicked: {message}"),
        Outcome::TimedOut => "timed out".into(),
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
