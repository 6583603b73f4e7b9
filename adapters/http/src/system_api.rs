//! `/health/*`: liveness and readiness probes.

use std::sync::Arc;

use application::health::Health;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::envelope::{Checks, Envelope, ErrorDetails, ErrorEnvelope};
use crate::error::{ApiError, ErrorCode};

#[derive(Tags)]
enum SystemTag {
    /// Probes for orchestrators and load balancers.
    System,
}

pub struct SystemApi {
    pub health: Arc<Health>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct Liveness {
    /// Always `ok`.
    status: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct Readiness {
    /// `ok` when every backing service answers; `degraded` when the
    /// database does and the shared cache does not (Roster still serves).
    status: String,
    checks: Checks,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Every backing service answers.
    #[oai(status = 200)]
    Ready(Json<Envelope<Readiness>>),
    /// A backing service is down; `error.details.checks` says which.
    #[oai(status = 503)]
    NotReady(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

#[OpenApi(tag = "SystemTag::System")]
impl SystemApi {
    /// Liveness
    ///
    /// 200 while the process runs.
    #[oai(path = "/health/live", method = "get", operation_id = "health.live")]
    async fn live(&self) -> Json<Envelope<Liveness>> {
        Json(Envelope::new(Liveness {
            status: "ok".into(),
        }))
    }

    /// Readiness
    ///
    /// 200 when the storage answers (`degraded` while Redis does not:
    /// limits and cache are then in-process), else 503.
    #[oai(path = "/health/ready", method = "get", operation_id = "health.ready")]
    async fn ready(&self) -> ReadyResponse {
        let database = match self.health.storage().await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(%error, "readiness: storage down");
                "down"
            }
        };
        let cache = if self.health.shared().await {
            "ok"
        } else {
            "degraded"
        };
        let checks = Checks {
            database: database.into(),
            cache: cache.into(),
        };
        if database == "ok" {
            return ReadyResponse::Ready(Json(Envelope::new(Readiness {
                status: if cache == "ok" { "ok" } else { "degraded" }.into(),
                checks,
            })));
        }
        let details = ErrorDetails {
            fields: None,
            checks: Some(checks),
        };
        match ApiError::with_details(
            ErrorCode::ServiceUnavailable,
            "a backing service is down",
            Some(details),
        ) {
            ApiError::Unavailable(body, retry) => ReadyResponse::NotReady(body, retry),
            _ => unreachable!("SERVICE_UNAVAILABLE always builds the Unavailable variant"),
        }
    }
}
