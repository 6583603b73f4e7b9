//! Request metrics, and the `/metrics` route that shows every metric of the
//! process.
//!
//! Each request counts once in `roster_http_requests_total` and once in the
//! histogram `roster_http_request_duration_seconds`, both labelled
//! `{route, method, status}`. The route is the template of the operation
//! the request matched (`/api/v1/characters/{id}`), taken from the OpenAPI
//! document; never the raw path, whose ids would make a series per object.
//! A request no operation matched is `/openapi.json`, `/docs`, `/metrics`
//! when it reached one of those, else `unmatched`.
//!
//! The hot path allocates nothing: the handles of an operation's
//! `(status)` series are registered with the recorder the first time that
//! status is answered, then kept. Requests outside the document (the
//! routes above, unmatched ones, a status the document does not list) go
//! through the `metrics` macros with `&'static` labels, a map lookup in
//! the recorder.
//!
//! This crate only records through the `metrics` facade; which recorder
//! listens, and what `/metrics` shows, is the composition root's choice
//! ([`MetricsSource`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use metrics::{Counter, Histogram, Unit};
use poem::http::Method;
use poem::{Endpoint, Request, Response};

/// Requests answered, by route template, method and status.
pub const REQUESTS: &str = "roster_http_requests_total";
/// Time from the request's arrival to its answer, by route template,
/// method and status.
pub const DURATION: &str = "roster_http_request_duration_seconds";

/// The route label of a request no operation matched.
pub const UNMATCHED: &str = "unmatched";

/// What `/metrics` answers: the Prometheus text exposition of every metric
/// the process records, rendered when it is asked for (gauges that are
/// read rather than recorded, such as a pool's connections, are read then).
pub trait MetricsSource: Send + Sync {
    fn render(&self) -> BoxFuture<'_, String>;
}

/// The help text of the request metrics, for the exposition's `# HELP`.
pub fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        Unit::Count,
        "HTTP requests answered, by route template, method and status"
    );
    metrics::describe_histogram!(
        DURATION,
        Unit::Seconds,
        "time from a request's arrival to its answer, by route template, method and status"
    );
}

/// The series of every documented operation, by operation id.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    operations: HashMap<String, Operation>,
}

#[derive(Debug)]
struct Operation {
    template: Arc<str>,
    method: &'static str,
    /// The statuses the document lists for the operation, each with its
    /// handles once it has been answered.
    statuses: Box<[(u16, OnceLock<Handles>)]>,
}

#[derive(Debug)]
struct Handles {
    requests: Counter,
    duration: Histogram,
}

/// One documented operation: its id, path template, method (as the
/// document writes it, `get`) and response statuses.
pub(crate) struct DocumentedOperation {
    pub(crate) id: String,
    pub(crate) template: String,
    pub(crate) method: String,
    pub(crate) statuses: Vec<u16>,
}

impl RequestMetrics {
    pub(crate) fn new(operations: Vec<DocumentedOperation>) -> Self {
        let operations = operations
            .into_iter()
            .map(|operation| {
                let statuses = operation
                    .statuses
                    .into_iter()
                    .map(|status| (status, OnceLock::new()))
                    .collect();
                let entry = Operation {
                    template: operation.template.into(),
                    method: method_label_of(&operation.method.to_ascii_uppercase()),
                    statuses,
                };
                (operation.id, entry)
            })
            .collect();
        Self { operations }
    }

    /// Counts one answered request. `operation` is the id of the operation
    /// it matched, if any; `path` is only looked at when none did.
    pub(crate) fn record(
        &self,
        operation: Option<&str>,
        method: &Method,
        path: &str,
        code: u16,
        elapsed: Duration,
    ) {
        let seconds = elapsed.as_secs_f64();
        if let Some(operation) = operation.and_then(|id| self.operations.get(id)) {
            if let Some((_, handles)) = operation.statuses.iter().find(|(s, _)| *s == code) {
                let handles = handles.get_or_init(|| {
                    let labels = [
                        ("route", operation.template.to_string()),
                        ("method", operation.method.to_owned()),
                        ("status", status_label(code).to_owned()),
                    ];
                    Handles {
                        requests: metrics::counter!(REQUESTS, &labels),
                        duration: metrics::histogram!(DURATION, &labels),
                    }
                });
                handles.requests.increment(1);
                handles.duration.record(seconds);
                return;
            }
            let labels = [
                (
                    "route",
                    metrics::SharedString::from(Arc::clone(&operation.template)),
                ),
                ("method", operation.method.into()),
                ("status", status_label(code).into()),
            ];
            metrics::counter!(REQUESTS, &labels).increment(1);
            metrics::histogram!(DURATION, &labels).record(seconds);
            return;
        }
        let route = other_route(path, code);
        let method = method_label(method);
        let status = status_label(code);
        metrics::counter!(REQUESTS, "route" => route, "method" => method, "status" => status)
            .increment(1);
        metrics::histogram!(DURATION, "route" => route, "method" => method, "status" => status)
            .record(seconds);
    }
}

/// The route label of a request outside the document's operations.
fn other_route(path: &str, status: u16) -> &'static str {
    if status == 404 || status == 405 {
        return UNMATCHED;
    }
    match path {
        "/openapi.json" => "/openapi.json",
        "/metrics" => "/metrics",
        "/docs" => "/docs",
        docs if docs.starts_with("/docs/") => "/docs",
        _ => UNMATCHED,
    }
}

/// The method as a label: one of HTTP's own, else `OTHER` (a client may
/// send any token there).
fn method_label(method: &Method) -> &'static str {
    method_label_of(method.as_str())
}

fn method_label_of(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "OTHER",
    }
}

/// The status as a label, `"200"`, without formatting it per request.
fn status_label(status: u16) -> &'static str {
    static LABELS: OnceLock<Box<[String]>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..=999).map(|s: u16| s.to_string()).collect());
    status
        .checked_sub(100)
        .and_then(|i| labels.get(usize::from(i)))
        .map_or("other", String::as_str)
}

/// `GET /metrics`: the text exposition of `source`.
pub(crate) fn endpoint(source: Arc<dyn MetricsSource>) -> impl Endpoint<Output = Response> {
    poem::endpoint::make(move |_: Request| {
        let source = Arc::clone(&source);
        async move {
            Response::builder()
                .content_type("text/plain; version=0.0.4; charset=utf-8")
                .body(source.render().await)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_label_is_its_three_digits() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(999), "999");
        assert_eq!(status_label(42), "other");
    }

    #[test]
    fn a_request_outside_the_document_is_labelled_by_a_fixed_route() {
        assert_eq!(other_route("/openapi.json", 200), "/openapi.json");
        assert_eq!(other_route("/docs/index.css", 200), "/docs");
        assert_eq!(other_route("/metrics", 200), "/metrics");
        assert_eq!(other_route("/metrics", 404), UNMATCHED);
        assert_eq!(other_route("/wp-admin/1234", 404), UNMATCHED);
        assert_eq!(other_route("/api/v1/nothing", 400), UNMATCHED);
    }

    #[test]
    fn an_unknown_method_is_other() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let made_up = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&made_up), "OTHER");
    }
}
