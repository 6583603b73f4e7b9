//! `/api/v1/api-keys`: the caller's API keys. An access token is required
//! here: an API key cannot create or revoke keys.

use std::sync::Arc;

use application::api_keys::{ApiKeyService, CreatedKey};
use domain::{ApiKey, ApiKeyId, ApiKeyName, ValidationErrors};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::security::BearerAuth;

#[derive(Tags)]
enum ApiKeyTag {
    /// Long-lived credentials for scripts and tools.
    ApiKeys,
}

pub struct ApiKeysApi {
    pub keys: Arc<ApiKeyService>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKeyRequest {
    /// 1–100 characters after trimming.
    #[oai(
        deserialize_with = "crate::fields::key_name",
        validator(min_length = 1, max_length = 100)
    )]
    name: String,
    /// When the key stops working (RFC 3339); must be in the future. Never,
    /// when absent.
    #[oai(deserialize_with = "crate::fields::expires_at")]
    #[oai(nullable)]
    expires_at: Option<OffsetDateTime>,
}

/// A key as listed: never the secret.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ApiKeyDto {
    id: Uuid,
    name: String,
    /// The key's first characters, to tell keys apart.
    prefix: String,
    created_at: OffsetDateTime,
    #[oai(nullable)]
    last_used_at: Option<OffsetDateTime>,
    #[oai(nullable)]
    expires_at: Option<OffsetDateTime>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name.as_str().to_owned(),
            prefix: key.prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            expires_at: key.expires_at,
        }
    }
}

/// A new key with its secret, shown this once.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
struct CreatedKeyDto {
    id: Uuid,
    name: String,
    prefix: String,
    /// The secret: `rk_…`. Shown only in this answer; store it now.
    key: String,
    created_at: OffsetDateTime,
    #[oai(nullable)]
    expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for CreatedKeyDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKeyDto")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("key", &crate::auth_api::REDACTED)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<CreatedKey> for CreatedKeyDto {
    fn from(created: CreatedKey) -> Self {
        Self {
            key: created.secret.expose().to_owned(),
            id: created.key.id.as_uuid(),
            name: created.key.name.as_str().to_owned(),
            prefix: created.key.prefix,
            created_at: created.key.created_at,
            expires_at: created.key.expires_at,
        }
    }
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Key(Json<Envelope<CreatedKeyDto>>),
}

#[derive(ApiResponse)]
enum Revoked {
    /// The key stops working at once.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(prefix_path = "/api/v1/api-keys", tag = "ApiKeyTag::ApiKeys")]
impl ApiKeysApi {
    /// The caller's API keys
    #[oai(path = "/", method = "get", operation_id = "api_keys.list")]
    async fn list(&self, auth: BearerAuth) -> Result<Json<Envelope<Vec<ApiKeyDto>>>, ApiError> {
        let keys = self.keys.list(auth.0.user_id).await?;
        Ok(Json(Envelope::new(
            keys.into_iter().map(Into::into).collect(),
        )))
    }

    /// Create an API key
    ///
    /// The answer holds the key itself, shown this once.
    #[oai(path = "/", method = "post", operation_id = "api_keys.create")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateKeyRequest>,
    ) -> Result<Created, ApiError> {
        let body = body.0;
        let name = match ApiKeyName::parse(&body.name) {
            Ok(name) => name,
            Err(error) => {
                // One answer names every field at fault.
                let mut errors = ValidationErrors(vec![error]);
                self.keys.check_expiry(body.expires_at, &mut errors);
                return Err(ApiError::validation(&errors));
            }
        };
        let created = self
            .keys
            .create(
                auth.0.user_id,
                name,
                body.expires_at,
                &RequestContext::client(),
            )
            .await?;
        Ok(Created::Key(Json(Envelope::new(created.into()))))
    }

    /// Revoke an API key
    ///
    /// 404 when it is not an unrevoked key of the caller.
    #[oai(path = "/:id", method = "delete", operation_id = "api_keys.revoke")]
    async fn revoke(
        &self,
        auth: BearerAuth,
        /// The key's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Revoked, ApiError> {
        let id = crate::fields::path_uuid("id", &id.0)?;
        self.keys
            .revoke(
                auth.0.user_id,
                ApiKeyId::from_uuid(id),
                &RequestContext::client(),
            )
            .await?;
        Ok(Revoked::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_answer_never_shows_the_key() {
        let secret = "rk_s3cretKeyMaterialThatMustNotLeak";
        let answer = CreatedKeyDto {
            id: Uuid::nil(),
            name: "ci".into(),
            prefix: "rk_s3cre".into(),
            key: secret.into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: None,
        };
        let debug = format!("{answer:?}");
        assert!(!debug.contains(secret), "{debug}");
        assert!(
            debug.contains("[redacted]") && debug.contains("ci"),
            "{debug}"
        );
    }
}
