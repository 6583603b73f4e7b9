//! The envelope every JSON answer travels in:
//! `{success, data, meta}` or `{success: false, error, meta}`.

use poem_openapi::Object;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use time::OffsetDateTime;

use crate::context::RequestContext;

/// Facts about the answer itself.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Meta {
    /// The request's id, also in the `X-Request-Id` header.
    pub request_id: String,
    /// When the answer was made (RFC 3339, UTC).
    pub timestamp: OffsetDateTime,
}

impl Meta {
    pub fn current() -> Self {
        let (request_id, timestamp) = RequestContext::meta();
        Self {
            request_id,
            timestamp,
        }
    }
}

/// A successful answer.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Envelope<T: ParseFromJSON + ToJSON> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    pub meta: Meta,
}

impl<T: ParseFromJSON + ToJSON> Envelope<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
            meta: Meta::current(),
        }
    }
}

/// A field that broke a rule.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

/// Machine-readable details of an error.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The fields that broke a rule, when they are known.
    #[oai(skip_serializing_if_is_none)]
    pub fields: Option<Vec<FieldIssue>>,
    // For `/health/ready` (described on `Checks`).
    #[oai(skip_serializing_if_is_none)]
    pub checks: Option<Checks>,
}

impl ErrorDetails {
    pub fn fields(fields: Vec<FieldIssue>) -> Self {
        Self {
            fields: Some(fields),
            checks: None,
        }
    }
}

/// For `/health/ready`: the state of each backing service.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Checks {
    /// `ok` or `down`.
    pub database: String,
    /// `ok`, or `degraded` while the shared cache and rate limits (Redis)
    /// do not answer and Roster serves from in-process ones.
    pub cache: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// A stable code (`VALIDATION_ERROR`, `UNAUTHENTICATED`, …).
    pub code: String,
    /// What went wrong, for a person. Never internals.
    pub message: String,
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<ErrorDetails>,
}

/// A failed answer.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorInfo,
    pub meta: Meta,
}

/// The position of a cursor-paged list.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CursorPagination {
    pub per_page: u32,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A successful cursor-paged list.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CursorEnvelope<T: ParseFromJSON + ToJSON> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: CursorPagination,
    pub meta: Meta,
}

impl<T: ParseFromJSON + ToJSON> CursorEnvelope<T> {
    pub fn new(data: Vec<T>, per_page: u32, next_cursor: Option<String>) -> Self {
        Self {
            success: true,
            data,
            pagination: CursorPagination {
                per_page,
                next_cursor,
            },
            meta: Meta::current(),
        }
    }
}

/// The position of an offset-paged list.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PagePagination {
    /// 1 for the first page.
    pub page: u32,
    pub per_page: u32,
    /// How many items all pages hold.
    pub total: u64,
    pub total_pages: u64,
}

/// A successful offset-paged list.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PageEnvelope<T: ParseFromJSON + ToJSON> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: PagePagination,
    pub meta: Meta,
}

impl<T: ParseFromJSON + ToJSON> PageEnvelope<T> {
    /// The page `request` of a list of `total` items, holding `data`.
    pub fn new(data: Vec<T>, request: domain::PageRequest, total: u64) -> Self {
        Self {
            success: true,
            data,
            pagination: PagePagination {
                page: request.page(),
                per_page: request.per_page(),
                total,
                total_pages: request.total_pages(total),
            },
            meta: Meta::current(),
        }
    }

    /// The page `request` of a list the storage paged, each item made a DTO.
    pub fn of<V>(paged: domain::Paged<V>, request: domain::PageRequest) -> Self
    where
        T: From<V>,
    {
        let data = paged.items.into_iter().map(T::from).collect();
        Self::new(data, request, paged.total)
    }
}
