//! What every part of a request's handling may need to know about it: its
//! id, when it is, who sent it.
//!
//! It lives in a task-local set by the outermost middleware, so that an
//! envelope built deep in a handler or an error conversion carries the
//! request id without threading it through every signature.

use std::sync::{Arc, OnceLock};

use application::auth::ClientInfo;
use domain::UserId;
use domain::ports::Clock;
use time::OffsetDateTime;

#[derive(Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub client: ClientInfo,
    pub clock: Arc<dyn Clock>,
    /// Set once the caller is authenticated, for the access log.
    pub user_id: OnceLock<UserId>,
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

    pub fn client() -> ClientInfo {
        CONTEXT.try_with(|c| c.client.clone()).unwrap_or_default()
    }

    pub fn record_user(user_id: UserId) {
        let _ = CONTEXT.try_with(|c| c.user_id.set(user_id));
    }
}
