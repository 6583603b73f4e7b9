//! The outermost layer of every request: its id and context, the body
//! limit, errors turned into envelopes, the security headers, and one
//! structured log line.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use domain::ports::{Clock, Random};
use poem::http::header::{self, HeaderName, HeaderValue};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::OperationId;

use crate::context::RequestContext;
use crate::document::{AllowedMethods, DocumentedErrors};
use crate::error::ApiError;
use crate::error::{ErrorCode, from_poem_error, render};
use crate::limits::{self, API, Limits, Plan, Subject, client_address};
use crate::metrics::RequestMetrics;
use ipnet::IpNet;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Settings of the shell that come from configuration.
#[derive(Clone)]
pub struct Shell {
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub body_limit: usize,
    /// Whether the public URL is https (adds `Strict-Transport-Security`).
    pub https: bool,
    /// The error statuses the document lists for each operation.
    pub documented: Arc<DocumentedErrors>,
    /// The methods each documented path answers, for a 405's `Allow`.
    pub allowed: Arc<AllowedMethods>,
    /// The rate limiter and the presets' quotas.
    pub limits: Arc<Limits>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The request count and latency series.
    pub(crate) metrics: Arc<RequestMetrics>,
}

impl<E: Endpoint> Middleware<E> for Shell {
    type Output = ShellEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ShellEndpoint {
            inner,
            shell: self.clone(),
        }
    }
}

#[allow(missing_debug_implementations)]
pub struct ShellEndpoint<E> {
    inner: E,
    shell: Shell,
}

impl<E: Endpoint> Endpoint for ShellEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let started = Instant::now();
        let request_id = self.request_id(&req);
        let peer = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
        let context = Arc::new(RequestContext {
            request_id,
            ip: client_address(peer, req.headers(), &self.shell.trusted_proxies),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            clock: Arc::clone(&self.shell.clock),
            user_id: OnceLock::new(),
            limits: Mutex::new(Vec::new()),
        });
        let plan = Plan::of(req.uri().path(), req.headers());
        let method = req.method().clone();
        // Kept for a 405's `Allow` and the log line of a request no route
        // matched (a shared buffer's count goes up, nothing is copied).
        let uri = req.uri().clone();
        let is_docs = uri.path() == "/docs" || uri.path().starts_with("/docs/");

        let (mut response, operation) = RequestContext::scope(Arc::clone(&context), async {
            if let Plan::ByAddress(preset) = plan {
                let limits = &self.shell.limits;
                if !limits
                    .charge(preset, &Subject::Address(context.ip))
                    .await
                    .allowed
                {
                    let refused = ApiError::rate_limited("too many requests; slow down");
                    return (refused.into_response(), None);
                }
            }
            if let Err(response) = limit_body(&mut req, self.shell.body_limit).await {
                return (response, None);
            }
            let answer = self.inner.call(req).await;
            // Credentials sent where no guard checks them (an unknown path):
            // the request still counts, against the client's address.
            if plan == Plan::ByCaller && !RequestContext::limited() {
                let limits = &self.shell.limits;
                limits.charge(API, &Subject::Address(context.ip)).await;
            }
            match answer {
                Ok(output) => {
                    let response = output.into_response();
                    let operation = response.data::<OperationId>().map(|id| id.0);
                    (response, operation)
                }
                Err(error) => {
                    let operation = error.data::<OperationId>().map(|id| id.0);
                    (from_poem_error(error), operation)
                }
            }
        })
        .await;

        self.decorate(&mut response, &context.request_id, is_docs);
        if let Some((policy, limit)) = limits::headers(&context.lock_limits())
            && let (Ok(policy), Ok(limit)) =
                (HeaderValue::try_from(policy), HeaderValue::try_from(limit))
        {
            let headers = response.headers_mut();
            headers.insert(RATE_LIMIT_POLICY, policy);
            headers.insert(RATE_LIMIT, limit);
        }
        if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
            let allow = self.shell.allowed.for_path(uri.path());
            if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(a).ok()) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
        }
        let status = response.status().as_u16();
        if cfg!(debug_assertions) {
            self.check_documented(operation, status);
        }
        let elapsed = started.elapsed();
        let metrics = &self.shell.metrics;
        metrics.record(operation, &method, uri.path(), status, elapsed);
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let user_id = context.user_id.get().map(ToString::to_string);
        tracing::info!(
            http.method = %method,
            http.route = operation.unwrap_or("unmatched"),
            url.path = operation.is_none().then(|| loggable_path(uri.path())),
            http.status = status,
            latency_ms,
            request.id = %context.request_id,
            user.id = user_id.as_deref(),
            "request"
        );
        Ok(response)
    }
}

impl<E> ShellEndpoint<E> {
    /// Debug builds (every test) refuse to send an error status the
    /// document does not list for the operation: the document must not
    /// lie to generated clients. A panic here ends the connection, which
    /// fails the test that provoked it.
    fn check_documented(&self, operation: Option<&str>, status: u16) {
        let Some(listed) = operation.and_then(|id| self.shell.documented.get(id)) else {
            return;
        };
        assert!(
            status < 400 || listed.contains(&status),
            "{} answered {status}, which the OpenAPI document does not list for it ({listed:?})",
            operation.unwrap_or_default()
        );
    }

    /// The caller's id when it is 1–128 visible ASCII characters, else a new one.
    fn request_id(&self, req: &Request) -> String {
        match header_str(req, REQUEST_ID) {
            Some(id)
                if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                id.to_owned()
            }
            _ => {
                domain::ids::new_v7(self.shell.clock.now(), self.shell.random.as_ref()).to_string()
            }
        }
    }

    fn decorate(&self, response: &mut Response, request_id: &str, is_docs: bool) {
        let headers = response.headers_mut();
        // Room for the headers below at once, instead of growing the map
        // on the way.
        headers.reserve(8);
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID, value);
        }
        security_headers(headers, self.shell.https, is_docs);
    }
}

/// The headers every answer carries, the protocol errors of
/// [`ProtocolErrors`] included.
fn security_headers(headers: &mut poem::http::HeaderMap, https: bool, is_docs: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    // The API serves data only; the docs page needs its inline scripts
    // and styles, so it keeps just the framing rule.
    let csp = if is_docs {
        "frame-ancestors 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    // Answers carry tokens and personal data: never stored by a cache
    // unless a route says otherwise.
    if !headers.contains_key(header::CACHE_CONTROL) && !is_docs {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.remove(header::SERVER);
}

/// The answers to requests the HTTP server refuses before any route runs
/// (not HTTP, a target or headers over its limits): the error envelope,
/// with the headers every answer carries, as the bytes of a whole HTTP/1.1
/// response that closes the connection. hyper writes a bare status for
/// these; the server's connections put this in its place.
pub struct ProtocolErrors {
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub https: bool,
}

impl std::fmt::Debug for ProtocolErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolErrors")
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl ProtocolErrors {
    /// The answer in place of hyper's `status`, as the bytes of a whole
    /// HTTP/1.1 response.
    pub fn answer(&self, status: u16) -> Vec<u8> {
        let (status, headers, body) = self.parts(status);
        let mut answer = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default(),
            body.len(),
        );
        for (name, value) in &headers {
            answer.push_str(name.as_str());
            answer.push_str(": ");
            answer.push_str(value.to_str().unwrap_or_default());
            answer.push_str("\r\n");
        }
        answer.push_str("\r\n");
        answer.push_str(&body);
        answer.into_bytes()
    }

    /// The same answer as a response, for one the server gives after a
    /// route ran (a body that did not arrive in time: 408).
    pub fn response(&self, status: u16) -> Response {
        let (status, headers, body) = self.parts(status);
        let mut response = Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .header(header::CONNECTION, "close")
            .body(body);
        response.headers_mut().extend(headers);
        response
    }

    fn parts(&self, status: u16) -> (poem::http::StatusCode, poem::http::HeaderMap, String) {
        use poem_openapi::types::ToJSON;

        let (code, message) = match status {
            408 => (
                ErrorCode::RequestTimeout,
                "the request body did not arrive in time",
            ),
            414 => (
                ErrorCode::UriTooLong,
                "the request target is longer than the server reads",
            ),
            431 => (
                ErrorCode::HeadersTooLarge,
                "the request's headers are larger than the server reads",
            ),
            _ => (ErrorCode::Validation, "the request is not valid HTTP/1.1"),
        };
        let now = self.clock.now();
        let request_id = domain::ids::new_v7(now, self.random.as_ref()).to_string();
        let mut headers = poem::http::HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID, value);
        }
        security_headers(&mut headers, self.https, false);
        let body = crate::envelope::ErrorEnvelope {
            success: false,
            error: crate::envelope::ErrorInfo {
                code: code.as_str().to_owned(),
                message: message.to_owned(),
                details: None,
            },
            meta: crate::envelope::Meta {
                request_id,
                timestamp: now,
            },
        }
        .to_json_string();
        (code.status(), headers, body)
    }
}

/// A path as a log line shows it: without the query string, which may hold
/// secrets (the `Uri`'s path never has it), and cut to 256 bytes.
fn loggable_path(path: &str) -> &str {
    crate::context::truncated(path, 256)
}

fn header_str(req: &Request, name: HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Refuses bodies over `limit` bytes with 413: at once when `Content-Length`
/// says so, otherwise after reading at most `limit + 1` bytes.
async fn limit_body(req: &mut Request, limit: usize) -> std::result::Result<(), Response> {
    let too_large = || {
        render(
            ErrorCode::PayloadTooLarge,
            format!("request body is over {limit} bytes"),
            None,
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => Err(too_large()),
        Some(_) => Ok(()),
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let bytes = req
                .take_body()
                .into_bytes_limit(limit)
                .await
                .map_err(|_| too_large())?;
            req.set_body(Body::from_bytes(bytes));
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn a_long_path_is_cut_to_256_bytes_on_a_character_boundary() {
        let ascii = format!("/{}", "a".repeat(300));
        assert_eq!(loggable_path(&ascii), &ascii[..256]);
        // 'é' is two bytes: the 256th byte is the first half of one.
        let accents = format!("/{}", "é".repeat(200));
        assert_eq!(loggable_path(&accents), &accents[..255]);
        assert_eq!(loggable_path("/short"), "/short");
    }
}
