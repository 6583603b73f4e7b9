//! What every part of a request's handling may need to know about it: its
//! id, when it is, who sent it.
//!
//! It lives in a task-local set by the outermost middleware, so that an
//! envelope built deep in a handler or an error conversion carries the
//! request id without threading it through every signature.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use application::auth::ClientInfo;
use domain::UserId;
use domain::ports::Clock;
use domain::rate_limit::Applied;
use time::OffsetDateTime;

#[derive(Debug)]
pub struct RequestContext {
    pub request_id: String,
    /// The peer's address and its `User-Agent`, kept as they came: most
    /// requests never need them as text (see [`RequestContext::client`]).
    pub ip: Option<IpAddr>,
    pub user_agent: Option<poem::http::HeaderValue>,
    pub clock: Arc<dyn Clock>,
    /// Set once the caller is authenticated, for the access log.
    pub user_id: OnceLock<UserId>,
    /// The rate-limit presets that decided this request, for its headers.
    pub limits: Mutex<Vec<Applied>>,
}

/// The most of a `User-Agent` that is kept (in a session, in the audit
/// trail): longer values are cut at a character boundary.
pub const USER_AGENT_MAX_BYTES: usize = 512;

/// `text` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncated(text: &str, max: usize) -> &str {
    // `str::floor_char_boundary` once the MSRV reaches 1.91.
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

impl RequestContext {
    /// Runs `future` with `context` as the current request's context.
    pub async fn scope<F: Future>(context: Arc<RequestContext>, future: F) -> F::Output {
        CONTEXT.scope(context, future).await
    }

    /// The current request's id and the time now, for an envelope's `meta`.
    /// Outside a request (the OpenAPI example values), a placeholder.
    pub fn meta() -> (String, OffsetDateTime) {
        CONTEXT
            .try_with(|c| (c.request_id.clone(), c.clock.now()))
            .unwrap_or_else(|_| (String::from("-"), OffsetDateTime::UNIX_EPOCH))
    }

    /// The clock's time, for the current request.
    pub fn now() -> OffsetDateTime {
        CONTEXT
            .try_with(|c| c.clock.now())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Who sent the current request, for the session and audit records of
    /// the routes that write them.
    pub fn client() -> ClientInfo {
        CONTEXT
            .try_with(|c| ClientInfo {
                request_id: Some(c.request_id.clone()),
                ip: c.ip.map(|ip| ip.to_string()),
                user_agent: c
                    .user_agent
                    .as_ref()
                    .and_then(|v| v.to_str().ok())
                    .map(|agent| truncated(agent, USER_AGENT_MAX_BYTES).to_owned()),
            })
            .unwrap_or_default()
    }

    /// Records a preset's decision on the current request.
    pub fn record_limit(applied: Applied) {
        let _ = CONTEXT.try_with(|c| c.lock_limits().push(applied));
    }

    /// The presets that decided the current request so far.
    pub fn limits() -> Vec<Applied> {
        CONTEXT
            .try_with(|c| c.lock_limits().clone())
            .unwrap_or_default()
    }

    /// Whether a preset has decided the current request yet.
    pub fn limited() -> bool {
        CONTEXT
            .try_with(|c| !c.lock_limits().is_empty())
            .unwrap_or(false)
    }

    /// The current request's client address (see `limits::client_address`).
    pub fn ip() -> Option<IpAddr> {
        CONTEXT.try_with(|c| c.ip).ok().flatten()
    }

    pub fn lock_limits(&self) -> std::sync::MutexGuard<'_, Vec<Applied>> {
        // A list of plain values cannot be left half-written by a panic.
        self.limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record_user(user_id: UserId) {
        let _ = CONTEXT.try_with(|c| c.user_id.set(user_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_cut_at_a_character_boundary() {
        assert_eq!(truncated("short", 512), "short");
        assert_eq!(truncated(&"a".repeat(600), 512).len(), 512);
        // 'é' is two bytes: a cut inside it backs off to before it.
        let text = format!("{}é", "a".repeat(511));
        assert_eq!(truncated(&text, 512), "a".repeat(511));
    }
}
