//! `JobRepository` and `JobSignal` in memory.
//!
//! Jobs live in one map under the backend's lock, so a claim is atomic by
//! construction. The bell rings at enqueue time, inside a unit that may
//! still roll back: a woken worker's claim needs the lock, which the unit
//! holds until it ends, so it sees the job only once committed, and finds
//! nothing (a spurious wake-up) if the unit rolled back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use domain::ports::{JobRepository, JobSignal};
use domain::{
    Claim, Enqueued, Job, JobCount, JobFilter, JobId, JobProgress, JobStatus, JobStep, Lease,
    LeaseId, NewJob, RepoError,
};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::tables::{State, UndoLog};
use crate::transaction::{Access, Repos};

impl State {
    /// Applies `change` to the job if it is running under `lease`; records
    /// the previous value for the undo log. Returns whether it applied.
    fn update_leased_job(
        &mut self,
        id: JobId,
        lease: LeaseId,
        undo: &mut UndoLog,
        change: impl FnOnce(&mut Job),
    ) -> bool {
        match self.jobs.jobs.get(&id) {
            Some(job) if job.status == JobStatus::Running && job_lease(job) == Some(lease) => {}
            _ => return false,
        }
        self.update_job(id, undo, change);
        true
    }

    fn update_job(&mut self, id: JobId, undo: &mut UndoLog, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.jobs.jobs.get_mut(&id) {
            let before = job.clone();
            change(job);
            undo.push(move |s| {
                s.jobs.jobs.insert(before.id, before);
            });
        }
    }
}

fn job_lease(job: &Job) -> Option<LeaseId> {
    job.lease.map(|l| l.id)
}

/// A listing leaves the steps out, as the port says.
fn without_steps(job: &Job) -> Job {
    Job {
        steps: Vec::new(),
        ..job.clone()
    }
}

#[async_trait]
impl<A: Access> JobRepository for Repos<A> {
    async fn enqueue(&self, new: &NewJob) -> Result<Enqueued, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                if let Some(key) = &new.unique_key {
                    let live = s.jobs.jobs.values().find(|j| {
                        j.status.is_live()
                            && j.kind == new.kind
                            && j.unique_key.as_ref() == Some(key)
                    });
                    if let Some(job) = live {
                        return Ok(Enqueued::Existing(job.clone()));
                    }
                }
                if s.jobs.jobs.contains_key(&new.id) {
                    return Err(RepoError::unknown(format!("job id {} is taken", new.id)));
                }
                let job = new.clone().into_job();
                s.jobs.jobs.insert(job.id, job.clone());
                let id = job.id;
                undo.push(move |s| {
                    s.jobs.jobs.remove(&id);
                });
                s.jobs.signal.notify_one();
                Ok(Enqueued::Created(job))
            })
            .await?)
    }

    async fn find(&self, id: JobId) -> Result<Option<Job>, RepoError> {
        Ok(self.0.read(|s| s.jobs.jobs.get(&id).cloned()).await)
    }

    async fn counts(&self) -> Result<Vec<JobCount>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let mut counts: HashMap<(&str, JobStatus), u64> = HashMap::new();
                for job in s.jobs.jobs.values() {
                    *counts.entry((job.kind.as_str(), job.status)).or_default() += 1;
                }
                counts
                    .into_iter()
                    .map(|((kind, status), count)| JobCount {
                        kind: kind.to_owned(),
                        status,
                        count,
                    })
                    .collect()
            })
            .await)
    }

    async fn list(
        &self,
        filter: &JobFilter,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<Job>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let upper = match before {
                    Some(before) => s.jobs.jobs.range(..before),
                    None => s.jobs.jobs.range(..),
                };
                upper
                    .rev()
                    .map(|(_, job)| job)
                    .filter(|j| filter.kind.as_ref().is_none_or(|k| *k == j.kind))
                    .filter(|j| filter.status.is_none_or(|st| st == j.status))
                    .take(limit)
                    .map(without_steps)
                    .collect()
            })
            .await)
    }

    async fn claim(
        &self,
        claim: Claim<'_>,
        new_lease: &(dyn Fn() -> LeaseId + Send + Sync),
    ) -> Result<Vec<Job>, RepoError> {
        let now = claim.now;
        Ok(self
            .0
            .with_state(|s, undo| {
                let expired = |j: &Job| {
                    j.status == JobStatus::Running && j.lease.is_none_or(|l| l.expires_at <= now)
                };
                // Jobs whose last attempt ran out with its lease die here.
                let exhausted: Vec<JobId> = s
                    .jobs
                    .jobs
                    .values()
                    .filter(|j| expired(j) && j.attempts >= j.max_attempts)
                    .map(|j| j.id)
                    .collect();
                for id in exhausted {
                    s.update_job(id, undo, |job| {
                        job.status = JobStatus::Dead;
                        job.last_error = Some(domain::job::LEASE_EXPIRED.to_owned());
                        job.finished_at = Some(now);
                        job.lease = None;
                    });
                }
                let mut due: Vec<&Job> = s
                    .jobs
                    .jobs
                    .values()
                    .filter(|j| claim.kinds.contains(&j.kind.as_str()))
                    .filter(|j| {
                        (matches!(j.status, JobStatus::Queued | JobStatus::Failed)
                            && j.run_at <= now)
                            || expired(j)
                    })
                    .collect();
                due.sort_by_key(|j| (j.run_at, j.id));
                let ids: Vec<JobId> = due.iter().take(claim.limit).map(|j| j.id).collect();
                let mut claimed = Vec::with_capacity(ids.len());
                for id in ids {
                    s.update_job(id, undo, |job| {
                        if job.status == JobStatus::Running {
                            job.last_error = Some(domain::job::LEASE_EXPIRED.to_owned());
                        }
                        job.status = JobStatus::Running;
                        job.attempts += 1;
                        job.started_at = Some(now);
                        job.lease = Some(Lease {
                            id: new_lease(),
                            expires_at: now + claim.lease,
                        });
                        claimed.push(job.clone());
                    });
                }
                claimed
            })
            .await)
    }

    async fn renew(
        &self,
        id: JobId,
        lease: LeaseId,
        until: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_leased_job(id, lease, undo, |job| {
                    job.lease = Some(Lease {
                        id: lease,
                        expires_at: until,
                    });
                })
            })
            .await)
    }

    async fn save_step(
        &self,
        id: JobId,
        lease: LeaseId,
        step: &JobStep,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_leased_job(id, lease, undo, |job| {
                    job.steps.retain(|st| st.name != step.name);
                    job.steps.push(step.clone());
                })
            })
            .await)
    }

    async fn set_progress(
        &self,
        id: JobId,
        lease: LeaseId,
        progress: &JobProgress,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_leased_job(id, lease, undo, |job| {
                    job.progress = Some(progress.clone());
                })
            })
            .await)
    }

    async fn succeed(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_leased_job(id, lease, undo, |job| {
                    job.status = JobStatus::Succeeded;
                    job.finished_at = Some(at);
                    job.lease = None;
                })
            })
            .await)
    }

    async fn fail(
        &self,
        id: JobId,
        lease: LeaseId,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let applied = s.update_leased_job(id, lease, undo, |job| {
                    job.last_error = Some(error.to_owned());
                    job.lease = None;
                    match retry_at {
                        Some(when) => {
                            job.status = JobStatus::Failed;
                            job.run_at = when;
                        }
                        None => {
                            job.status = JobStatus::Dead;
                            job.finished_at = Some(at);
                        }
                    }
                });
                if applied && retry_at.is_some() {
                    s.jobs.signal.notify_one();
                }
                applied
            })
            .await)
    }

    async fn release(
        &self,
        id: JobId,
        lease: LeaseId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let applied = s.update_leased_job(id, lease, undo, |job| {
                    job.status = JobStatus::Queued;
                    job.attempts = job.attempts.saturating_sub(1);
                    job.run_at = at;
                    job.lease = None;
                });
                if applied {
                    s.jobs.signal.notify_one();
                }
                applied
            })
            .await)
    }

    async fn retry(&self, id: JobId, at: OffsetDateTime) -> Result<Option<Job>, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                if s.jobs.jobs.get(&id)?.status != JobStatus::Dead {
                    return None;
                }
                s.update_job(id, undo, |job| {
                    job.status = JobStatus::Queued;
                    job.attempts = 0;
                    job.run_at = at;
                    job.finished_at = None;
                });
                s.jobs.signal.notify_one();
                s.jobs.jobs.get(&id).cloned()
            })
            .await)
    }

    async fn prune(
        &self,
        succeeded_before: OffsetDateTime,
        dead_before: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let doomed: Vec<JobId> = s
                    .jobs
                    .jobs
                    .values()
                    .filter(|j| match (j.status, j.finished_at) {
                        (JobStatus::Succeeded, Some(at)) => at < succeeded_before,
                        (JobStatus::Dead, Some(at)) => at < dead_before,
                        _ => false,
                    })
                    .map(|j| j.id)
                    .collect();
                for id in &doomed {
                    if let Some(job) = s.jobs.jobs.remove(id) {
                        undo.push(move |s| {
                            s.jobs.jobs.insert(job.id, job);
                        });
                    }
                }
                doomed.len() as u64
            })
            .await)
    }
}

/// The in-process bell of the memory backend.
pub(crate) struct MemorySignal(pub(crate) Arc<Notify>);

#[async_trait]
impl JobSignal for MemorySignal {
    async fn wait(&self, max: StdDuration) {
        // A ring that came while nobody waited is kept as a permit.
        let _timed_out = tokio::time::timeout(max, self.0.notified()).await;
    }
}
