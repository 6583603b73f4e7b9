//! The one place where failures become HTTP answers.
//!
//! Each [`ErrorCode`] has one status, both written in one table. Use-case
//! errors convert through `From`; errors that poem itself raises
//! (unparseable JSON, a wrong content type, an unknown route…) are
//! converted in `poem_errors`. A 500 never says more than "internal error": the
//! detail goes to the log.

use application::auth::AuthError;
use domain::ValidationErrors;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;

use crate::context::RequestContext;
use crate::envelope::{ErrorDetails, ErrorEnvelope, ErrorInfo, FieldIssue, Meta};
pub use crate::poem_errors::from_poem_error;

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECS: u64 = 5;

/// Declares [`ErrorCode`] from one table: each code, its wire name and its
/// status, written once.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $code:ident = $name:literal, $status:ident;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $code,)*
        }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &[ErrorCode] = &[$(Self::$code),*];

            /// The code as the envelope spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$code => $name,)*
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Self::$code => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    Validation = "VALIDATION_ERROR", BAD_REQUEST;
    Unauthenticated = "UNAUTHENTICATED", UNAUTHORIZED;
    Forbidden = "FORBIDDEN", FORBIDDEN;
    NotFound = "NOT_FOUND", NOT_FOUND;
    MethodNotAllowed = "METHOD_NOT_ALLOWED", METHOD_NOT_ALLOWED;
    Conflict = "CONFLICT", CONFLICT;
    RequestTimeout = "REQUEST_TIMEOUT", REQUEST_TIMEOUT;
    PreconditionFailed = "PRECONDITION_FAILED", PRECONDITION_FAILED;
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", PAYLOAD_TOO_LARGE;
    UriTooLong = "URI_TOO_LONG", URI_TOO_LONG;
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA_TYPE;
    HeadersTooLarge = "HEADERS_TOO_LARGE", REQUEST_HEADER_FIELDS_TOO_LARGE;
    RateLimited = "RATE_LIMITED", TOO_MANY_REQUESTS;
    Internal = "INTERNAL_ERROR", INTERNAL_SERVER_ERROR;
    ServiceUnavailable = "SERVICE_UNAVAILABLE", SERVICE_UNAVAILABLE;
}

impl ErrorCode {
    /// The code for a status poem produced on its own; a status no code
    /// has is an internal error.
    pub fn from_status(status: StatusCode) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.status() == status)
            .unwrap_or(Self::Internal)
    }
}

/// Every error answer the API gives, declared so that the OpenAPI document
/// lists them.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// `VALIDATION_ERROR`: malformed JSON, wrong types, missing or
    /// out-of-range fields, bad parameters.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// `UNAUTHENTICATED`: no, bad, expired or revoked credentials.
    #[oai(status = 401)]
    Unauthenticated(
        Json<ErrorEnvelope>,
        #[oai(header = "WWW-Authenticate")] String,
    ),
    /// `FORBIDDEN`: authenticated but not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// `NOT_FOUND`: no such object for this caller.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `CONFLICT`: a uniqueness rule, or a concurrent change.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// `PRECONDITION_FAILED`: `If-Match` names a version that is not the
    /// current one.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorEnvelope>),
    /// `PAYLOAD_TOO_LARGE`: the body is over the limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// `RATE_LIMITED`: over a rate limit (`API.md`, "Rate limits");
    /// `Retry-After` is never earlier than the limit allows again.
    #[oai(status = 429)]
    RateLimited(
        Json<ErrorEnvelope>,
        #[oai(header = "Retry-After")] u64,
        #[oai(header = "RateLimit-Policy")] String,
        #[oai(header = "RateLimit")] String,
    ),
    /// `INTERNAL_ERROR`: nothing internal is shown.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// `SERVICE_UNAVAILABLE`: a backing service is down or saturated.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_details(code, message, None)
    }

    pub fn with_details(
        code: ErrorCode,
        message: impl Into<String>,
        details: Option<ErrorDetails>,
    ) -> Self {
        let body = envelope(code, message.into(), details);
        match code {
            ErrorCode::Validation => Self::BadRequest(body),
            ErrorCode::Unauthenticated => {
                Self::Unauthenticated(body, r#"Bearer realm="api""#.to_owned())
            }
            ErrorCode::Forbidden => Self::Forbidden(body),
            ErrorCode::NotFound => Self::NotFound(body),
            ErrorCode::Conflict => Self::Conflict(body),
            ErrorCode::PreconditionFailed => Self::PreconditionFailed(body),
            ErrorCode::PayloadTooLarge => Self::PayloadTooLarge(body),
            ErrorCode::UnsupportedMediaType => Self::UnsupportedMediaType(body),
            ErrorCode::ServiceUnavailable => Self::Unavailable(body, RETRY_AFTER_SECS),
            ErrorCode::RateLimited => Self::limited(body),
            // Codes no handler returns are rendered by `render`, which sets
            // the right status; as a declared variant they would be noise.
            _ => Self::Internal(body),
        }
    }

    pub fn validation(errors: &ValidationErrors) -> Self {
        let fields = errors
            .0
            .iter()
            .map(|e| FieldIssue {
                field: e.field.to_owned(),
                message: e.message.clone(),
            })
            .collect();
        Self::with_details(
            ErrorCode::Validation,
            format!("invalid input: {errors}"),
            Some(ErrorDetails::fields(fields)),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "authentication required")
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The 429 for the presets that decided the request (recorded on its
    /// context), at least one of which refused it.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::limited(envelope(ErrorCode::RateLimited, message.into(), None))
    }

    fn limited(body: Json<ErrorEnvelope>) -> Self {
        let applied = RequestContext::limits();
        let retry_after = applied
            .iter()
            .map(|a| a.decision.retry_after_secs())
            .max()
            .unwrap_or(1);
        let (policy, limit) = crate::limits::headers(&applied).unwrap_or_default();
        Self::RateLimited(body, retry_after, policy, limit)
    }
}

fn envelope(
    code: ErrorCode,
    message: String,
    details: Option<ErrorDetails>,
) -> Json<ErrorEnvelope> {
    Json(ErrorEnvelope {
        success: false,
        error: ErrorInfo {
            code: code.as_str().to_owned(),
            message,
            details,
        },
        meta: Meta::current(),
    })
}

/// Renders any code as a response with its own status, including those
/// that are not `ApiError` variants (405).
pub fn render(
    code: ErrorCode,
    message: impl Into<String>,
    details: Option<ErrorDetails>,
) -> Response {
    let mut response = ApiError::with_details(code, message, details).into_response();
    response.set_status(code.status());
    response
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Validation(errors) => Self::validation(&errors),
            AuthError::EmailTaken => Self::with_details(
                ErrorCode::Conflict,
                error.to_string(),
                Some(ErrorDetails::fields(vec![FieldIssue {
                    field: "email".into(),
                    message: "is already registered".into(),
                }])),
            ),
            AuthError::PasswordChangedConcurrently => {
                Self::new(ErrorCode::Conflict, error.to_string())
            }
            AuthError::InvalidCredentials => {
                Self::new(ErrorCode::Unauthenticated, error.to_string())
            }
            AuthError::Unauthenticated => Self::unauthenticated(),
            AuthError::Disabled | AuthError::KeyNotAllowed => {
                Self::new(ErrorCode::Forbidden, error.to_string())
            }
            AuthError::NotFound => Self::new(ErrorCode::NotFound, "not found"),
            AuthError::LoginLimited(applied) => {
                crate::limits::refused(applied.preset).increment(1);
                RequestContext::record_limit(applied);
                Self::rate_limited(error.to_string())
            }
            AuthError::Unavailable => Self::new(ErrorCode::ServiceUnavailable, error.to_string()),
            AuthError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Self::internal()
            }
        }
    }
}

impl From<domain::RepoError> for ApiError {
    fn from(error: domain::RepoError) -> Self {
        match error {
            domain::RepoError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                Self::new(
                    ErrorCode::ServiceUnavailable,
                    "service temporarily unavailable",
                )
            }
            other => {
                tracing::error!(error = %other, "storage error");
                Self::internal()
            }
        }
    }
}

impl From<application::audit::AuditError> for ApiError {
    fn from(error: application::audit::AuditError) -> Self {
        use application::audit::AuditError;
        match error {
            AuditError::Validation(errors) => Self::validation(&errors),
            AuditError::Storage(error) => error.into(),
        }
    }
}

impl From<application::api_keys::ApiKeyError> for ApiError {
    fn from(error: application::api_keys::ApiKeyError) -> Self {
        use application::api_keys::ApiKeyError;
        match error {
            ApiKeyError::Validation(errors) => Self::validation(&errors),
            ApiKeyError::NotFound => Self::new(ErrorCode::NotFound, "not found"),
            ApiKeyError::Storage(error) => error.into(),
        }
    }
}

impl From<application::admin::AdminError> for ApiError {
    fn from(error: application::admin::AdminError) -> Self {
        use application::admin::AdminError;
        match error {
            AdminError::Forbidden => Self::new(ErrorCode::Forbidden, error.to_string()),
            AdminError::NotFound | AdminError::NoSuchUser(_) => {
                Self::new(ErrorCode::NotFound, "not found")
            }
            AdminError::Validation(errors) => Self::validation(&errors),
            AdminError::CannotDemoteSelf | AdminError::CannotDisableSelf => {
                Self::new(ErrorCode::Conflict, error.to_string())
            }
            AdminError::Storage(error) => error.into(),
        }
    }
}

impl From<application::roster::RosterError> for ApiError {
    fn from(error: application::roster::RosterError) -> Self {
        use application::roster::RosterError;
        match error {
            RosterError::Validation(errors) => Self::validation(&errors),
            RosterError::NotFound(_) => Self::new(ErrorCode::NotFound, error.to_string()),
            RosterError::Duplicate { field, message } => Self::with_details(
                ErrorCode::Conflict,
                message,
                Some(ErrorDetails::fields(vec![FieldIssue {
                    field: field.to_owned(),
                    message: "is already taken".into(),
                }])),
            ),
            RosterError::AccountHasCharacters { .. }
            | RosterError::CharacterInTeamOnAnotherServer { .. } => {
                Self::new(ErrorCode::Conflict, error.to_string())
            }
            RosterError::PreconditionFailed { .. } => {
                Self::new(ErrorCode::PreconditionFailed, error.to_string())
            }
            RosterError::Storage(error) => error.into(),
        }
    }
}

impl From<application::catalog::CatalogError> for ApiError {
    fn from(error: application::catalog::CatalogError) -> Self {
        use application::catalog::CatalogError;
        match error {
            CatalogError::Validation(errors) => Self::validation(&errors),
            CatalogError::Storage(error) => error.into(),
            CatalogError::Source(error) => {
                tracing::error!(%error, "catalog source");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_from_its_status() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_status(code.status()), code);
        }
        assert_eq!(
            ErrorCode::from_status(StatusCode::BAD_GATEWAY),
            ErrorCode::Internal
        );
    }
}
