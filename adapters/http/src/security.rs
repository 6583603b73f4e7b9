//! The bearer security scheme: an access token checked on every request,
//! including that its session is still active.

use std::sync::Arc;

use application::auth::{AuthService, Caller, Principal};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::context::RequestContext;
use crate::error::ApiError;

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
    let principal = auth
        .authenticate(&bearer.token)
        .await
        .map_err(ApiError::from)?;
    RequestContext::record_user(principal.user_id);
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
    let caller = auth
        .authenticate_caller(&bearer.token)
        .await
        .map_err(ApiError::from)?;
    RequestContext::record_user(caller.user_id);
    Ok(caller)
}
