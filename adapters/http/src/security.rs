//! The bearer security scheme: an access token checked on every request,
//! including that its session is still active.

use std::sync::Arc;

use application::auth::{AuthService, Caller, Principal};
use domain::UserId;
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::limits::{API, Limits, Subject};

/// `Authorization: Bearer <access token>` (PASETO v4.public).
#[derive(Debug, SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "PASETO v4.public",
    checker = "check_bearer"
)]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let auth = req
        .data::<Arc<AuthService>>()
        .ok_or_else(|| poem::Error::from(ApiError::internal()))?;
    let principal = match auth.authenticate(&bearer.token).await {
        Ok(principal) => principal,
        Err(error) => {
            limit(req, None).await?;
            return Err(ApiError::from(error).into());
        }
    };
    RequestContext::record_user(principal.user_id);
    limit(req, Some(principal.user_id)).await?;
    Ok(principal)
}

/// `Authorization: Bearer <access token or API key>`: the roster routes,
/// where an API key (`rk_…`) acts as its owner.
#[derive(Debug, SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "PASETO v4.public or rk_ API key",
    checker = "check_caller"
)]
pub struct CallerAuth(pub Caller);

async fn check_caller(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let auth = req
        .data::<Arc<AuthService>>()
        .ok_or_else(|| poem::Error::from(ApiError::internal()))?;
    let caller = match auth.authenticate_caller(&bearer.token).await {
        Ok(caller) => caller,
        Err(error) => {
            limit(req, None).await?;
            return Err(ApiError::from(error).into());
        }
    };
    RequestContext::record_user(caller.user_id);
    limit(req, Some(caller.user_id)).await?;
    Ok(caller)
}

/// The `api` preset for a request with credentials, once they are checked:
/// from the user's bucket, or from the client address's when they failed
/// (so bad tokens are limited too). A request some preset already decided
/// is left alone.
async fn limit(req: &Request, user: Option<UserId>) -> Result<(), ApiError> {
    let Some(limits) = req.data::<Arc<Limits>>() else {
        return Ok(());
    };
    if RequestContext::limited() {
        return Ok(());
    }
    let subject = match user {
        Some(id) => Subject::User(id),
        None => Subject::Address(RequestContext::ip()),
    };
    if limits.charge(API, &subject).await.allowed {
        Ok(())
    } else {
        Err(ApiError::rate_limited("too many requests; slow down"))
    }
}
