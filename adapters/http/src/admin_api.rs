//! `/api/v1/admin`: the user list, role and account changes, and everyone's
//! audit trail. An access token is required (API keys are refused with 403);
//! whether the caller is an administrator is decided by the use cases.

use std::sync::Arc;

use application::admin::{AdminService, UserPatch};
use domain::{AuditFilter, User, UserId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit_api::AuditEntryDto;
use crate::auth_api::RoleDto;
use crate::context::RequestContext;
use crate::envelope::{CursorEnvelope, Envelope};
use crate::error::ApiError;
use crate::security::BearerAuth;

#[derive(Tags)]
pub(crate) enum AdminTag {
    /// Administrators only (role `admin`, else 403).
    Admin,
}

pub struct AdminApi {
    pub admin: Arc<AdminService>,
}

/// A user as administrators see it: never a password or a hash.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct AdminUserDto {
    id: Uuid,
    email: String,
    display_name: String,
    role: RoleDto,
    created_at: OffsetDateTime,
    /// A disabled user cannot log in, and has no live session or API key.
    disabled: bool,
    #[oai(nullable)]
    last_login_at: Option<OffsetDateTime>,
}

impl From<User> for AdminUserDto {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.into(),
            created_at: user.created_at,
            disabled: user.disabled,
            last_login_at: user.last_login_at,
        }
    }
}

/// What to change; at least one field. A new `role` takes effect with the
/// user's next access token (refresh or login).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateUserRequest {
    // A new role takes effect with the user's next access token (said in
    // the struct's description: a description beside a `$ref` would wrap
    // it in `allOf`, which generators drop).
    #[oai(deserialize_with = "crate::fields::absent_or")]
    role: Option<RoleDto>,
    /// `true` revokes every session and API key of the user at once.
    #[oai(deserialize_with = "crate::fields::absent_or")]
    disabled: Option<bool>,
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "AdminTag::Admin")]
impl AdminApi {
    /// Every user
    ///
    /// By creation order, cursor-paged; `search` keeps the users whose
    /// e-mail or display name contains it, ignoring case.
    #[oai(path = "/users", method = "get", operation_id = "admin.users.list")]
    async fn list_users(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 254))] search: Query<Option<String>>,
        #[oai(validator(max_length = 100))] cursor: Query<Option<String>>,
        #[oai(
            name = "perPage",
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u32>,
    ) -> Result<Json<CursorEnvelope<AdminUserDto>>, ApiError> {
        let page = self
            .admin
            .list_users(
                &auth.0,
                search.0.as_deref(),
                cursor.0.as_deref(),
                per_page.0 as usize,
            )
            .await?;
        let users = page.users.into_iter().map(Into::into).collect();
        Ok(Json(CursorEnvelope::new(
            users,
            per_page.0,
            page.next_cursor,
        )))
    }

    /// Change a user's role or disable them
    ///
    /// Answers the user as changed. Disabling revokes every session and API
    /// key of the user at once; a new role is in the user's next access
    /// token. Administrators cannot demote or disable themselves (409).
    #[oai(
        path = "/users/:id",
        method = "patch",
        operation_id = "admin.users.update"
    )]
    async fn update_user(
        &self,
        auth: BearerAuth,
        /// The user's id (a UUID).
        id: Path<crate::fields::UuidText>,
        body: Json<UpdateUserRequest>,
    ) -> Result<Json<Envelope<AdminUserDto>>, ApiError> {
        let id = UserId::from_uuid(crate::fields::path_uuid("id", &id.0)?);
        let patch = UserPatch {
            role: body.role.map(Into::into),
            disabled: body.disabled,
        };
        let user = self
            .admin
            .update_user(&auth.0, id, patch, &RequestContext::client())
            .await?;
        Ok(Json(Envelope::new(user.into())))
    }

    /// Everyone's audit trail
    ///
    /// Newest first, cursor-paged; every given filter must match.
    #[oai(path = "/audit", method = "get", operation_id = "admin.audit.list")]
    async fn audit(
        &self,
        auth: BearerAuth,
        #[oai(name = "actorId")] actor_id: Query<Option<Uuid>>,
        #[oai(name = "resourceType", validator(max_length = 50))] resource_type: Query<
            Option<String>,
        >,
        #[oai(name = "resourceId", validator(max_length = 100))] resource_id: Query<Option<String>>,
        #[oai(validator(max_length = 100))] cursor: Query<Option<String>>,
        #[oai(
            name = "perPage",
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u32>,
    ) -> Result<Json<CursorEnvelope<AuditEntryDto>>, ApiError> {
        let filter = AuditFilter {
            actor_id: actor_id.0.map(UserId::from_uuid),
            resource_type: resource_type.0,
            resource_id: resource_id.0,
        };
        let page = self
            .admin
            .audit(&auth.0, &filter, cursor.0.as_deref(), per_page.0 as usize)
            .await?;
        let entries = page.entries.into_iter().map(Into::into).collect();
        Ok(Json(CursorEnvelope::new(
            entries,
            per_page.0,
            page.next_cursor,
        )))
    }
}

fn default_per_page() -> u32 {
    50
}
