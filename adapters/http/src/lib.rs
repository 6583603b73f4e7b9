//! The HTTP face of Roster: poem-openapi routes, DTOs, the envelope, error
//! mapping and the middleware every request goes through.
//!
//! Routes stay thin: parse, call one use case, map the result. Business
//! rules live in `application`; this crate must not decide who may see what.

// `ApiError` carries a whole error envelope, so it is large; it is built at
// most once per request, and poem-openapi needs the plain enum to document
// its statuses, so it is not boxed.
#![allow(clippy::result_large_err)]

mod accounts_api;
mod admin_api;
mod api_keys_api;
mod audit_api;
mod auth_api;
mod catalog_api;
mod characters_api;
mod context;
mod document;
mod envelope;
mod error;
mod fields;
mod jobs_api;
mod limits;
pub mod metrics;
mod payload;
mod poem_errors;
mod progressions_api;
mod security;
pub mod server;
mod shell;
mod system_api;
mod teams_api;

use std::sync::Arc;

use application::admin::AdminService;
use application::api_keys::ApiKeyService;
use application::audit::AuditLog;
use application::auth::AuthService;
use application::catalog::CatalogService;
use application::health::Health;
use application::jobs::JobsService;
use application::roster::Roster;
use domain::ports::{Clock, Random, RateLimiter};
pub use ipnet::IpNet;
pub use limits::RateLimits;
use poem::endpoint::make_sync;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use auth_api::{CookiePolicy, REFRESH_COOKIE};
pub use error::ErrorCode;
pub use metrics::MetricsSource;
pub use shell::ProtocolErrors;

use crate::accounts_api::AccountsApi;
use crate::admin_api::AdminApi;
use crate::api_keys_api::ApiKeysApi;
use crate::audit_api::AuditApi;
use crate::auth_api::AuthApi;
use crate::catalog_api::CatalogApi;
use crate::characters_api::CharactersApi;
use crate::error::render;
use crate::jobs_api::JobsApi;
use crate::progressions_api::ProgressionsApi;
use crate::shell::Shell;
use crate::system_api::SystemApi;
use crate::teams_api::TeamsApi;

/// Everything the HTTP layer is given by the composition root: the use
/// cases, already built, and the clock and randomness the request shell
/// needs (timestamps, request ids). Never a storage: routes reach data only
/// through a use case.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // trait objects; nothing worth printing
pub struct HttpDeps {
    pub auth: Arc<AuthService>,
    pub api_keys: Arc<ApiKeyService>,
    pub roster: Arc<Roster>,
    pub admin: Arc<AdminService>,
    pub jobs: Arc<JobsService>,
    pub audit: Arc<AuditLog>,
    pub catalog: Arc<CatalogService>,
    pub health: Arc<Health>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Takes requests from the `auth` and `api` presets' buckets.
    pub limiter: Arc<dyn RateLimiter>,
    /// What `GET /metrics` shows; `None`: the API does not serve it (it is
    /// served on an address of its own, see [`metrics_app`], or not at all).
    pub metrics: Option<Arc<dyn MetricsSource>>,
}

/// HTTP settings from configuration.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where clients reach the service, e.g. `https://roster.example`.
    pub public_url: String,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Origins allowed by CORS and for the refresh cookie.
    pub cors_origins: Vec<String>,
    /// The quotas of the `auth` and `api` presets.
    pub rate_limits: RateLimits,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names
    /// the client.
    pub trusted_proxies: Vec<IpNet>,
}

impl HttpConfig {
    /// Whether clients reach the service over TLS.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

type Apis = (
    AuthApi,
    AccountsApi,
    CharactersApi,
    TeamsApi,
    ProgressionsApi,
    ApiKeysApi,
    AuditApi,
    AdminApi,
    JobsApi,
    CatalogApi,
    SystemApi,
);

fn api_service(deps: &HttpDeps, config: &HttpConfig) -> OpenApiService<Apis, ()> {
    let roster = &deps.roster;
    let apis = (
        AuthApi {
            auth: Arc::clone(&deps.auth),
            cookies: CookiePolicy {
                secure: config.https(),
                allowed_origins: config.cors_origins.clone(),
            },
        },
        AccountsApi {
            roster: Arc::clone(roster),
        },
        CharactersApi {
            roster: Arc::clone(roster),
        },
        TeamsApi {
            roster: Arc::clone(roster),
        },
        ProgressionsApi {
            roster: Arc::clone(roster),
        },
        ApiKeysApi {
            keys: Arc::clone(&deps.api_keys),
        },
        AuditApi {
            audit: Arc::clone(&deps.audit),
        },
        AdminApi {
            admin: Arc::clone(&deps.admin),
        },
        JobsApi {
            jobs: Arc::clone(&deps.jobs),
        },
        CatalogApi {
            catalog: Arc::clone(&deps.catalog),
        },
        SystemApi {
            health: Arc::clone(&deps.health),
        },
    );
    OpenApiService::new(apis, "Roster", env!("CARGO_PKG_VERSION"))
        .description(
            "Accounts, characters, teams and progress for Dofus players. Every JSON answer is an \
             envelope: `{success, data, meta}` or `{success: false, error: {code, message, details}, meta}`.",
        )
        .server(config.public_url.clone())
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi_document(deps: &HttpDeps, config: &HttpConfig) -> String {
    document::finish(&api_service(deps, config).spec()).json
}

/// The whole HTTP application, middleware included.
pub fn app(deps: HttpDeps, config: &HttpConfig) -> impl Endpoint + use<> {
    let service = api_service(&deps, config);
    let document::Finished {
        json: spec,
        errors: documented,
        allowed,
        operations,
    } = document::finish(&service.spec());
    let docs = service.swagger_ui();
    let mut routes = Route::new()
        .nest("/", service)
        .at(
            "/openapi.json",
            make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .nest("/docs", docs);
    if let Some(source) = &deps.metrics {
        routes = routes.at("/metrics", metrics::endpoint(Arc::clone(source)));
    }
    let recorded = metrics::RequestMetrics::new(operations);
    wrap(routes, &deps, config, documented, allowed, recorded)
}

/// `GET /metrics` alone, for an address of its own
/// (`ROSTER_METRICS_BIND`), behind the same shell as the API: any other
/// path answers a 404 envelope.
pub fn metrics_app(
    source: Arc<dyn MetricsSource>,
    deps: &HttpDeps,
    config: &HttpConfig,
) -> impl Endpoint + use<> {
    let routes = Route::new().at("/metrics", metrics::endpoint(source));
    wrap(
        routes,
        deps,
        config,
        document::DocumentedErrors::default(),
        document::AllowedMethods::default(),
        metrics::RequestMetrics::default(),
    )
}

/// The middleware every request goes through, around any endpoint.
fn wrap<E: Endpoint + 'static>(
    endpoint: E,
    deps: &HttpDeps,
    config: &HttpConfig,
    documented: document::DocumentedErrors,
    allowed: document::AllowedMethods,
    recorded: metrics::RequestMetrics,
) -> impl Endpoint + use<E> {
    let limits = Arc::new(limits::Limits::new(
        Arc::clone(&deps.limiter),
        config.rate_limits,
    ));
    let mut cors = Cors::new().allow_credentials(true);
    for origin in &config.cors_origins {
        cors = cors.allow_origin(origin.as_str());
    }
    endpoint
        // Errors become envelopes here, inside CORS: poem's CORS layer would
        // otherwise render them as plain text before the shell saw them.
        .catch_all_error(|error| async move { error::from_poem_error(error) })
        .with_if(!config.cors_origins.is_empty(), cors)
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            render(ErrorCode::Internal, "internal error", None)
        }))
        .data(Arc::clone(&deps.auth))
        .data(Arc::clone(&limits))
        .with(Shell {
            clock: Arc::clone(&deps.clock),
            random: Arc::clone(&deps.random),
            body_limit: config.body_limit,
            https: config.https(),
            documented: Arc::new(documented),
            allowed: Arc::new(allowed),
            limits,
            trusted_proxies: config.trusted_proxies.clone().into(),
            metrics: Arc::new(recorded),
        })
}

#[cfg(test)]
mod tests;
