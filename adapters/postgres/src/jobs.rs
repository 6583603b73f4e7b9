//! `JobRepository` and `JobSignal` on PostgreSQL.
//!
//! The queue's statements are fixed SQL rather than sea-query builds: a
//! claim is one statement (a data-modifying CTE with `FOR UPDATE SKIP
//! LOCKED` and `RETURNING`) that sea-query cannot express, and the others
//! are short compare-and-set updates that read best written out. Every
//! value is still a bound parameter.
//!
//! Workers are woken by `NOTIFY roster_jobs`, sent by the enqueue (and a
//! retry, or a failure that schedules another attempt) in its own
//! statement: PostgreSQL delivers it only when that transaction commits,
//! and folds identical notifications of one transaction into one. Its
//! payload is the schema, and a listener heeds only its own.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use domain::job::LEASE_EXPIRED;
use domain::ports::{JobRepository, JobSignal};
use domain::{
    Claim, Enqueued, Job, JobCount, JobFilter, JobId, JobProgress, JobStatus, JobStep, Lease,
    LeaseId, NewJob, RepoError,
};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use crate::Repos;
use crate::exec::{Exec, pg_limit};

/// The channel workers listen on.
const CHANNEL: &str = "roster_jobs";

const COLUMNS: &str = "id, kind, payload::text AS payload, status, attempts, max_attempts, \
     last_error, progress_done, progress_total, progress_message, unique_key, run_at, \
     started_at, finished_at, created_at, lease_id, lease_expires_at";

/// The payload is the schema, so deployments (or tests) sharing a database
/// in separate schemas do not wake each other's workers.
const NOTIFY: &str = "SELECT pg_notify('roster_jobs', current_schema())";

fn from_row(row: &Row) -> Result<Job, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt jobs row: {what}"));
    macro_rules! get {
        ($name:literal) => {
            row.try_get($name).map_err(|_| corrupt($name))?
        };
    }
    let status: String = get!("status");
    let attempts: i32 = get!("attempts");
    let max_attempts: i32 = get!("max_attempts");
    let done: Option<i64> = get!("progress_done");
    let total: Option<i64> = get!("progress_total");
    let lease_id: Option<uuid::Uuid> = get!("lease_id");
    let lease_expires_at: Option<OffsetDateTime> = get!("lease_expires_at");
    Ok(Job {
        id: JobId::from_uuid(get!("id")),
        kind: get!("kind"),
        payload: get!("payload"),
        status: JobStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts"))?,
        max_attempts: u32::try_from(max_attempts).map_err(|_| corrupt("max_attempts"))?,
        last_error: get!("last_error"),
        progress: match (done, total) {
            (Some(done), Some(total)) => Some(JobProgress {
                done: u64::try_from(done).map_err(|_| corrupt("progress_done"))?,
                total: u64::try_from(total).map_err(|_| corrupt("progress_total"))?,
                message: get!("progress_message"),
            }),
            _ => None,
        },
        steps: Vec::new(),
        unique_key: get!("unique_key"),
        run_at: get!("run_at"),
        started_at: get!("started_at"),
        finished_at: get!("finished_at"),
        created_at: get!("created_at"),
        lease: match (lease_id, lease_expires_at) {
            (Some(id), Some(expires_at)) => Some(Lease {
                id: LeaseId::from_uuid(id),
                expires_at,
            }),
            _ => None,
        },
    })
}

fn step_from_row(row: &Row) -> Result<JobStep, RepoError> {
    let corrupt = |what: &str| RepoError::unknown(format!("corrupt job_steps row: {what}"));
    Ok(JobStep {
        name: row.try_get("name").map_err(|_| corrupt("name"))?,
        output: row.try_get("output").map_err(|_| corrupt("output"))?,
        finished_at: row
            .try_get("finished_at")
            .map_err(|_| corrupt("finished_at"))?,
    })
}

fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl<E: Exec> Repos<E> {
    async fn jobs_where(
        &self,
        sql: &str,
        params: &crate::exec::Params<'_>,
    ) -> Result<Vec<Job>, RepoError> {
        let rows = self.0.query(sql, params).await?;
        rows.iter().map(from_row).collect()
    }

    /// The one job of `found`, if any, with its finished steps in order.
    async fn with_steps(&self, found: Vec<Job>) -> Result<Option<Job>, RepoError> {
        let Some(mut job) = found.into_iter().next() else {
            return Ok(None);
        };
        let rows = self
            .0
            .query(
                "SELECT name, output::text AS output, finished_at FROM job_steps \
                 WHERE job_id = $1 ORDER BY seq",
                &[&job.id.as_uuid()],
            )
            .await?;
        job.steps = rows.iter().map(step_from_row).collect::<Result<_, _>>()?;
        Ok(Some(job))
    }

    /// An update of a job held under `lease`; whether it applied.
    async fn leased(&self, sql: &str, params: &crate::exec::Params<'_>) -> Result<bool, RepoError> {
        Ok(self.0.execute(sql, params).await? == 1)
    }
}

#[async_trait]
impl<E: Exec> JobRepository for Repos<E> {
    async fn enqueue(&self, new: &NewJob) -> Result<Enqueued, RepoError> {
        let insert = format!(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, unique_key, \
                               run_at, created_at) \
             VALUES ($1, $2, $3::text::jsonb, 'queued', 0, $4, $5, $6, $7) \
             ON CONFLICT (kind, unique_key) \
                 WHERE unique_key IS NOT NULL AND status IN ('queued', 'running', 'failed') \
                 DO NOTHING \
             RETURNING {COLUMNS}"
        );
        let existing = format!(
            "SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND unique_key = $2 \
               AND status IN ('queued', 'running', 'failed')"
        );
        // A live duplicate may finish between the insert and the read: then
        // the insert is tried again, and succeeds.
        for _ in 0..3 {
            let created = self
                .jobs_where(
                    &insert,
                    &[
                        &new.id.as_uuid(),
                        &new.kind,
                        &new.payload,
                        &count(new.max_attempts),
                        &new.unique_key,
                        &new.run_at,
                        &new.created_at,
                    ],
                )
                .await?;
            if let Some(job) = created.into_iter().next() {
                self.0.execute(NOTIFY, &[]).await?;
                return Ok(Enqueued::Created(job));
            }
            let live = self
                .jobs_where(&existing, &[&new.kind, &new.unique_key])
                .await?;
            if let Some(job) = live.into_iter().next() {
                return Ok(Enqueued::Existing(job));
            }
        }
        Err(RepoError::unknown(format!(
            "job {}: could neither insert it nor find the live job with its unique key",
            new.kind
        )))
    }

    async fn find(&self, id: JobId) -> Result<Option<Job>, RepoError> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let found = self.jobs_where(&sql, &[&id.as_uuid()]).await?;
        self.with_steps(found).await
    }

    async fn counts(&self) -> Result<Vec<JobCount>, RepoError> {
        // A scan of the table: it holds live jobs and the finished ones
        // `jobs.prune` has not deleted yet, so it stays small.
        let rows = self
            .0
            .query(
                "SELECT kind, status, count(*) AS n FROM jobs GROUP BY kind, status",
                &[],
            )
            .await?;
        let corrupt = |what: &str| RepoError::unknown(format!("corrupt job count: {what}"));
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status").map_err(|_| corrupt("status"))?;
                let count: i64 = row.try_get("n").map_err(|_| corrupt("count"))?;
                Ok(JobCount {
                    kind: row.try_get("kind").map_err(|_| corrupt("kind"))?,
                    status: JobStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
                    count: u64::try_from(count).map_err(|_| corrupt("count"))?,
                })
            })
            .collect()
    }

    async fn list(
        &self,
        filter: &JobFilter,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, RepoError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs \
             WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2) \
               AND ($3::uuid IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        );
        let status = filter.status.map(JobStatus::as_str);
        let limit = big(pg_limit(limit));
        self.jobs_where(
            &sql,
            &[&filter.kind, &status, &before.map(|b| b.as_uuid()), &limit],
        )
        .await
    }

    async fn claim(
        &self,
        claim: Claim<'_>,
        new_lease: &(dyn Fn() -> LeaseId + Send + Sync),
    ) -> Result<Vec<Job>, RepoError> {
        // One lease id serves every job of this claim: a lease fences the
        // writes of one attempt of one job, and each write names its job.
        let sql = format!(
            "WITH exhausted AS ( \
                 UPDATE jobs SET status = 'dead', last_error = $5, finished_at = $1, \
                                 lease_id = NULL, lease_expires_at = NULL \
                 WHERE status = 'running' AND lease_expires_at <= $1 \
                   AND attempts >= max_attempts AND kind = ANY($2) \
             ), due AS ( \
                 SELECT id AS due_id FROM jobs \
                 WHERE kind = ANY($2) \
                   AND ((status IN ('queued', 'failed') AND run_at <= $1) \
                        OR (status = 'running' AND lease_expires_at <= $1 \
                            AND attempts < max_attempts)) \
                 ORDER BY run_at, id \
                 LIMIT $3 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, started_at = $1, \
                 last_error = CASE WHEN jobs.status = 'running' THEN $5 ELSE jobs.last_error END, \
                 lease_id = $4, lease_expires_at = $6 \
             FROM due WHERE jobs.id = due.due_id \
             RETURNING {COLUMNS}"
        );
        let kinds: Vec<&str> = claim.kinds.to_vec();
        let limit = big(pg_limit(claim.limit));
        let lease = new_lease().as_uuid();
        let expires = claim.now + claim.lease;
        let mut jobs = self
            .jobs_where(
                &sql,
                &[&claim.now, &kinds, &limit, &lease, &LEASE_EXPIRED, &expires],
            )
            .await?;
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn renew(
        &self,
        id: JobId,
        lease: LeaseId,
        until: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        self.leased(
            "UPDATE jobs SET lease_expires_at = $3 \
             WHERE id = $1 AND lease_id = $2 AND status = 'running'",
            &[&id.as_uuid(), &lease.as_uuid(), &until],
        )
        .await
    }

    async fn save_step(
        &self,
        id: JobId,
        lease: LeaseId,
        step: &JobStep,
    ) -> Result<bool, RepoError> {
        let rows = self
            .0
            .query(
                "WITH held AS ( \
                     SELECT id FROM jobs WHERE id = $1 AND lease_id = $2 AND status = 'running' \
                 ) \
                 INSERT INTO job_steps (job_id, name, output, finished_at) \
                 SELECT id, $3, $4::text::jsonb, $5 FROM held \
                 ON CONFLICT (job_id, name) \
                     DO UPDATE SET output = EXCLUDED.output, finished_at = EXCLUDED.finished_at, \
                                   seq = DEFAULT \
                 RETURNING job_id",
                &[
                    &id.as_uuid(),
                    &lease.as_uuid(),
                    &step.name,
                    &step.output,
                    &step.finished_at,
                ],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn set_progress(
        &self,
        id: JobId,
        lease: LeaseId,
        progress: &JobProgress,
    ) -> Result<bool, RepoError> {
        self.leased(
            "UPDATE jobs SET progress_done = $3, progress_total = $4, progress_message = $5 \
             WHERE id = $1 AND lease_id = $2 AND status = 'running'",
            &[
                &id.as_uuid(),
                &lease.as_uuid(),
                &big(progress.done),
                &big(progress.total),
                &progress.message,
            ],
        )
        .await
    }

    async fn succeed(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        self.leased(
            "UPDATE jobs SET status = 'succeeded', finished_at = $3, \
                             lease_id = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_id = $2 AND status = 'running'",
            &[&id.as_uuid(), &lease.as_uuid(), &at],
        )
        .await
    }

    async fn fail(
        &self,
        id: JobId,
        lease: LeaseId,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let applied = self
            .leased(
                "UPDATE jobs SET last_error = $3, lease_id = NULL, lease_expires_at = NULL, \
                     status = CASE WHEN $4::timestamptz IS NULL THEN 'dead' ELSE 'failed' END, \
                     run_at = COALESCE($4, run_at), \
                     finished_at = CASE WHEN $4::timestamptz IS NULL THEN $5::timestamptz END \
                 WHERE id = $1 AND lease_id = $2 AND status = 'running'",
                &[&id.as_uuid(), &lease.as_uuid(), &error, &retry_at, &at],
            )
            .await?;
        if applied && retry_at.is_some() {
            self.0.execute(NOTIFY, &[]).await?;
        }
        Ok(applied)
    }

    async fn release(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let applied = self
            .leased(
                "UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), \
                     run_at = $3, lease_id = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND lease_id = $2 AND status = 'running'",
                &[&id.as_uuid(), &lease.as_uuid(), &at],
            )
            .await?;
        if applied {
            self.0.execute(NOTIFY, &[]).await?;
        }
        Ok(applied)
    }

    async fn retry(&self, id: JobId, at: OffsetDateTime) -> Result<Option<Job>, RepoError> {
        // RETURNING, not a read after: a worker woken by the NOTIFY may
        // claim the job before a second statement could see it queued.
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, finished_at = NULL \
             WHERE id = $1 AND status = 'dead' RETURNING {COLUMNS}"
        );
        let revived = self.jobs_where(&sql, &[&id.as_uuid(), &at]).await?;
        if revived.is_empty() {
            return Ok(None);
        }
        self.0.execute(NOTIFY, &[]).await?;
        self.with_steps(revived).await
    }

    async fn prune(
        &self,
        succeeded_before: OffsetDateTime,
        dead_before: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        self.0
            .execute(
                "DELETE FROM jobs \
                 WHERE (status = 'succeeded' AND finished_at < $1) \
                    OR (status = 'dead' AND finished_at < $2)",
                &[&succeeded_before, &dead_before],
            )
            .await
    }
}

/// Listens on `roster_jobs` over a connection of its own, and rings the
/// in-process bell on every notification. The connection is remade after
/// a loss (with a ring, since notifications sent meanwhile are gone).
pub(crate) struct PgSignal {
    bell: Arc<Notify>,
    listener: JoinHandle<()>,
}

impl PgSignal {
    pub(crate) fn start(config: tokio_postgres::Config) -> Self {
        let bell = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(config, Arc::clone(&bell)));
        Self { bell, listener }
    }
}

impl Drop for PgSignal {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait]
impl JobSignal for PgSignal {
    async fn wait(&self, max: StdDuration) {
        let _timed_out = tokio::time::timeout(max, self.bell.notified()).await;
    }
}

async fn listen(config: tokio_postgres::Config, bell: Arc<Notify>) {
    let mut pause = StdDuration::from_millis(100);
    let mut lost = false;
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(note))) => {
                                if tx.send(note.payload().to_owned()).is_err() {
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return,
                        }
                    }
                });
                let schema = match client.query_one("SELECT current_schema()", &[]).await {
                    Ok(row) => row.try_get::<_, String>(0).ok(),
                    Err(_) => None,
                };
                let listening = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
                if let (Some(schema), Ok(())) = (schema, listening) {
                    if lost {
                        tracing::info!("job queue: listening for new jobs again");
                        // Anything enqueued while we were away rang nobody.
                        bell.notify_one();
                    }
                    pause = StdDuration::from_millis(100);
                    while let Some(payload) = rx.recv().await {
                        if payload == schema {
                            bell.notify_one();
                        }
                    }
                }
                driver.abort();
                if !lost {
                    tracing::warn!(
                        "job queue: lost the LISTEN connection; polling until it is back"
                    );
                }
                lost = true;
            }
            Err(error) => {
                if !lost {
                    tracing::warn!(%error, "job queue: cannot LISTEN; polling until the database is back");
                }
                lost = true;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(StdDuration::from_secs(5));
    }
}
