//! The periodic tasks: what `roster cron TASK` runs once, and what the
//! embedded worker runs on a schedule when there is no other process (memory
//! storage). Each is also a job kind, so the worker runs it with the
//! queue's retries.

use std::sync::Arc;

use async_trait::async_trait;
use domain::RepoError;
use domain::ports::{Clock, Storage};
use time::Duration;

use crate::jobs::{self, JobContext, JobError, JobHandler, JobKind};

/// Expired sessions and grace-window copies of refresh tokens.
pub const SESSIONS_PURGE: JobKind = JobKind {
    one_at_a_time: true,
    timeout: Duration::minutes(5),
    ..JobKind::new("sessions.purge")
};

/// Finished jobs past their retention.
pub const JOBS_PRUNE: JobKind = JobKind {
    one_at_a_time: true,
    timeout: Duration::minutes(5),
    ..JobKind::new("jobs.prune")
};

/// A task `roster cron` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub name: &'static str,
    pub summary: &'static str,
}

/// Every task, in the order `roster cron --list` shows them.
pub const TASKS: [Task; 3] = [
    Task {
        name: "sessions.purge",
        summary: "delete sessions past their expiry and erase refresh-token copies past the reuse grace window",
    },
    Task {
        name: "jobs.prune",
        summary: "delete succeeded jobs finished over a day ago and dead jobs finished over 30 days ago",
    },
    Task {
        name: "catalog.sync",
        summary: "enqueue a catalog sync from ROSTER_CATALOG_SOURCE (one at a time)",
    },
];

/// Deletes expired sessions and erases the sealed refresh-token copies
/// whose reuse grace window is over. Returns (sessions, copies).
pub async fn purge_sessions(
    storage: &dyn Storage,
    clock: &dyn Clock,
    reuse_grace: Duration,
) -> Result<(u64, u64), RepoError> {
    let now = clock.now();
    let copies = storage
        .sessions()
        .purge_sealed_tokens(now - reuse_grace)
        .await?;
    let sessions = storage.sessions().delete_expired(now).await?;
    Ok((sessions, copies))
}

/// `sessions.purge` as a job.
pub struct SessionsPurge {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub reuse_grace: Duration,
}

impl std::fmt::Debug for SessionsPurge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionsPurge")
    }
}

#[async_trait]
impl JobHandler for SessionsPurge {
    fn kind(&self) -> JobKind {
        SESSIONS_PURGE
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let (sessions, copies) =
            purge_sessions(self.storage.as_ref(), self.clock.as_ref(), self.reuse_grace).await?;
        tracing::info!(sessions, copies, "expired sessions purged");
        Ok(())
    }
}

/// `jobs.prune` as a job.
pub struct JobsPrune {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JobsPrune {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobsPrune")
    }
}

#[async_trait]
impl JobHandler for JobsPrune {
    fn kind(&self) -> JobKind {
        JOBS_PRUNE
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let deleted = jobs::prune(self.storage.as_ref(), self.clock.now()).await?;
        tracing::info!(deleted, "finished jobs pruned");
        Ok(())
    }
}
