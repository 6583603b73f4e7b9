//! `/api/v1/admin/jobs` and `/api/v1/admin/catalog/sync`: the background
//! jobs, as administrators watch and retry them. Access tokens only; the
//! admin role is checked by the use cases.

use std::sync::Arc;

use application::jobs::{JobsError, JobsService};
use domain::{Job, JobFilter, JobId, JobStatus};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admin_api::AdminTag;
use crate::envelope::{CursorEnvelope, Envelope};
use crate::error::{ApiError, ErrorCode};
use crate::fields::path_uuid;
use crate::security::BearerAuth;

pub struct JobsApi {
    pub jobs: Arc<JobsService>,
}

/// Where a job stands: `failed` means this attempt failed and another is
/// scheduled at `runAt`; `dead` means no attempts are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum JobStatusDto {
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
}

impl From<JobStatus> for JobStatusDto {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => Self::Queued,
            JobStatus::Running => Self::Running,
            JobStatus::Succeeded => Self::Succeeded,
            JobStatus::Failed => Self::Failed,
            JobStatus::Dead => Self::Dead,
        }
    }
}

impl From<JobStatusDto> for JobStatus {
    fn from(status: JobStatusDto) -> Self {
        match status {
            JobStatusDto::Queued => Self::Queued,
            JobStatusDto::Running => Self::Running,
            JobStatusDto::Succeeded => Self::Succeeded,
            JobStatusDto::Failed => Self::Failed,
            JobStatusDto::Dead => Self::Dead,
        }
    }
}

/// How far a running (or finished) job came, as its handler reported it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct JobProgressDto {
    done: u64,
    total: u64,
    #[oai(nullable)]
    message: Option<String>,
}

/// The status of a finished step: a step is recorded when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum StepStatusDto {
    Succeeded,
}

/// A named step of a job that finished; a retry skips it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct JobStepDto {
    name: String,
    status: StepStatusDto,
    finished_at: OffsetDateTime,
}

/// A background job. Lists leave `steps` empty; `GET /admin/jobs/{id}`
/// has them.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct JobDto {
    id: Uuid,
    /// The handler: `catalog.sync`, `sessions.purge`, `jobs.prune`.
    kind: String,
    status: JobStatusDto,
    /// Attempts started, the running one included.
    attempts: u32,
    max_attempts: u32,
    #[oai(nullable)]
    last_error: Option<String>,
    #[oai(nullable)]
    progress: Option<JobProgressDto>,
    steps: Vec<JobStepDto>,
    /// When it runs, or ran, next.
    run_at: OffsetDateTime,
    #[oai(nullable)]
    started_at: Option<OffsetDateTime>,
    #[oai(nullable)]
    finished_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl From<Job> for JobDto {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.as_uuid(),
            kind: job.kind,
            status: job.status.into(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            progress: job.progress.map(|p| JobProgressDto {
                done: p.done,
                total: p.total,
                message: p.message,
            }),
            steps: job
                .steps
                .into_iter()
                .map(|s| JobStepDto {
                    name: s.name,
                    status: StepStatusDto::Succeeded,
                    finished_at: s.finished_at,
                })
                .collect(),
            run_at: job.run_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            created_at: job.created_at,
        }
    }
}

/// The sync job that was queued, or the one already queued or running.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SyncStartedDto {
    job_id: Uuid,
}

#[derive(ApiResponse)]
enum SyncAccepted {
    #[oai(status = 202)]
    Queued(Json<Envelope<SyncStartedDto>>),
}

#[derive(ApiResponse)]
enum RetryAccepted {
    #[oai(status = 202)]
    Queued(Json<Envelope<JobDto>>),
}

impl From<JobsError> for ApiError {
    fn from(error: JobsError) -> Self {
        match error {
            JobsError::Forbidden => Self::new(ErrorCode::Forbidden, error.to_string()),
            JobsError::NotFound => Self::new(ErrorCode::NotFound, "not found"),
            JobsError::NoCatalogSource => Self::new(ErrorCode::NotFound, error.to_string()),
            JobsError::NotDead { .. } => Self::new(ErrorCode::Conflict, error.to_string()),
            JobsError::Validation(errors) => Self::validation(&errors),
            JobsError::Storage(error) => error.into(),
        }
    }
}

fn job_id(raw: &str) -> Result<JobId, ApiError> {
    Ok(JobId::from_uuid(path_uuid("id", raw)?))
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "AdminTag::Admin")]
impl JobsApi {
    /// Sync the catalog now
    ///
    /// Queues a `catalog.sync` job that reads `ROSTER_CATALOG_SOURCE`, and
    /// answers its id. One at a time: while a sync is queued or running,
    /// this answers that job's id again. 404 when no source is configured.
    #[oai(
        path = "/catalog/sync",
        method = "post",
        operation_id = "admin.catalog.sync"
    )]
    async fn sync_catalog(&self, auth: BearerAuth) -> Result<SyncAccepted, ApiError> {
        let job = self.jobs.sync_catalog(&auth.0).await?;
        Ok(SyncAccepted::Queued(Json(Envelope::new(SyncStartedDto {
            job_id: job.id.as_uuid(),
        }))))
    }

    /// Background jobs
    ///
    /// Newest first, cursor-paged; `kind` and `status` narrow the list.
    #[oai(path = "/jobs", method = "get", operation_id = "admin.jobs.list")]
    async fn list(
        &self,
        auth: BearerAuth,
        #[oai(validator(min_length = 1, max_length = 100))] kind: Query<Option<String>>,
        status: Query<Option<JobStatusDto>>,
        #[oai(validator(max_length = 100))] cursor: Query<Option<String>>,
        #[oai(
            name = "perPage",
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u32>,
    ) -> Result<Json<CursorEnvelope<JobDto>>, ApiError> {
        let filter = JobFilter {
            kind: kind.0,
            status: status.0.map(Into::into),
        };
        let page = self
            .jobs
            .list(&auth.0, &filter, cursor.0.as_deref(), per_page.0 as usize)
            .await?;
        let jobs = page.jobs.into_iter().map(Into::into).collect();
        Ok(Json(CursorEnvelope::new(
            jobs,
            per_page.0,
            page.next_cursor,
        )))
    }

    /// One job
    ///
    /// With its progress and finished steps.
    #[oai(path = "/jobs/:id", method = "get", operation_id = "admin.jobs.get")]
    async fn get(
        &self,
        auth: BearerAuth,
        /// The job's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Json<Envelope<JobDto>>, ApiError> {
        let job = self.jobs.get(&auth.0, job_id(&id.0)?).await?;
        Ok(Json(Envelope::new(job.into())))
    }

    /// Retry a dead job
    ///
    /// Queues it again with its attempts reset; its finished steps are
    /// kept, so it resumes where it failed. 409 unless the job is `dead`.
    #[oai(
        path = "/jobs/:id/retry",
        method = "post",
        operation_id = "admin.jobs.retry"
    )]
    async fn retry(
        &self,
        auth: BearerAuth,
        /// The job's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<RetryAccepted, ApiError> {
        let job = self.jobs.retry(&auth.0, job_id(&id.0)?).await?;
        Ok(RetryAccepted::Queued(Json(Envelope::new(job.into()))))
    }
}

fn default_per_page() -> u32 {
    50
}
