//! `/api/v1/accounts`: the caller's game accounts. An access token or an
//! API key acts as the caller; another user's account answers 404.
//!
//! Bodies are parsed here into the use cases' commands, every field error
//! gathered into one 400.

use std::sync::Arc;

use application::accounts::{AccountPatch, NewAccount};
use application::roster::Roster;
use domain::{AccountId, AccountView, Notes, RosterName, ValidationErrors};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::envelope::{Envelope, PageEnvelope};
use crate::error::ApiError;
use crate::fields::{page_request, path_uuid, search_text};
use crate::security::CallerAuth;

#[derive(Tags)]
enum AccountsTag {
    /// The game accounts a user plays.
    Accounts,
}

pub struct AccountsApi {
    pub roster: Arc<Roster>,
}

/// A game account.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct AccountDto {
    id: Uuid,
    name: String,
    #[oai(nullable)]
    notes: Option<String>,
    /// How many (not deleted) characters the account holds.
    character_count: u64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<AccountView> for AccountDto {
    fn from(view: AccountView) -> Self {
        let account = view.account;
        Self {
            id: account.id.as_uuid(),
            name: account.name.as_str().to_owned(),
            notes: account.notes.map(|n| n.as_str().to_owned()),
            character_count: view.character_count,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

/// A new account.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAccountRequest {
    /// 2–50 characters after trimming; unique among the caller's accounts,
    /// ignoring case.
    #[oai(
        deserialize_with = "crate::fields::roster_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: String,
    /// At most 500 characters after trimming.
    #[oai(
        deserialize_with = "crate::fields::roster::new_notes",
        validator(max_length = 500)
    )]
    #[oai(nullable)]
    notes: Option<String>,
}

/// What to change: a field left out is kept.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateAccountRequest {
    /// 2–50 characters after trimming.
    #[oai(
        deserialize_with = "crate::fields::roster::patch_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: Option<String>,
    /// At most 500 characters after trimming; `null` clears the notes.
    #[oai(
        deserialize_with = "crate::fields::roster::patch_notes",
        validator(max_length = 500)
    )]
    #[oai(nullable)]
    notes: MaybeUndefined<String>,
}

impl TryFrom<CreateAccountRequest> for NewAccount {
    type Error = ValidationErrors;

    fn try_from(body: CreateAccountRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.collect(RosterName::parse("name", &body.name));
        let notes = match body.notes {
            Some(raw) => errors.collect(Notes::parse("notes", &raw)),
            None => Some(None),
        };
        match (name, notes) {
            (Some(name), Some(notes)) => Ok(Self { name, notes }),
            _ => Err(errors),
        }
    }
}

impl TryFrom<UpdateAccountRequest> for AccountPatch {
    type Error = ValidationErrors;

    fn try_from(body: UpdateAccountRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = body
            .name
            .map(|raw| errors.collect(RosterName::parse("name", &raw)));
        let notes = match body.notes {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(Some(None)),
            MaybeUndefined::Value(raw) => Some(errors.collect(Notes::parse("notes", &raw))),
        };
        errors.into_result()?;
        Ok(Self {
            name: name.flatten(),
            notes: notes.flatten(),
        })
    }
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Account(Json<Envelope<AccountDto>>),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Done,
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    Ok(AccountId::from_uuid(path_uuid("id", raw)?))
}

#[OpenApi(prefix_path = "/api/v1/accounts", tag = "AccountsTag::Accounts")]
impl AccountsApi {
    /// The caller's accounts
    ///
    /// Sorted by name (ignoring case), offset-paged; `search` keeps the
    /// accounts whose name contains it, ignoring case.
    #[oai(path = "/", method = "get", operation_id = "accounts.list")]
    async fn list(
        &self,
        auth: CallerAuth,
        search: Query<Option<String>>,
        /// 1 or more (default 1).
        page: Query<Option<i64>>,
        /// 1–100 (default 20).
        #[oai(name = "perPage")]
        per_page: Query<Option<i64>>,
    ) -> Result<Json<PageEnvelope<AccountDto>>, ApiError> {
        let page = page_request(page.0, per_page.0)?;
        let search = search_text(search.0.as_deref())?;
        let found = self
            .roster
            .list_accounts(auth.0.user_id, search.as_ref(), page)
            .await?;
        Ok(Json(PageEnvelope::of(found, page)))
    }

    /// Create an account
    ///
    /// 409 when the caller already has an account of that name (ignoring
    /// case).
    #[oai(path = "/", method = "post", operation_id = "accounts.create")]
    async fn create(
        &self,
        auth: CallerAuth,
        body: Json<CreateAccountRequest>,
    ) -> Result<Created, ApiError> {
        let input = NewAccount::try_from(body.0).map_err(|e| ApiError::validation(&e))?;
        let created = self
            .roster
            .create_account(auth.0.user_id, input, &RequestContext::client())
            .await?;
        Ok(Created::Account(Json(Envelope::new(created.into()))))
    }

    /// One account
    #[oai(path = "/:id", method = "get", operation_id = "accounts.get")]
    async fn get(
        &self,
        auth: CallerAuth,
        /// The account's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Json<Envelope<AccountDto>>, ApiError> {
        let id = account_id(&id.0)?;
        let account = self.roster.account(auth.0.user_id, id).await?;
        Ok(Json(Envelope::new(account.into())))
    }

    /// Change an account
    ///
    /// Fields left out are kept; `notes: null` clears the notes. Answers
    /// the account as changed.
    #[oai(path = "/:id", method = "patch", operation_id = "accounts.update")]
    async fn update(
        &self,
        auth: CallerAuth,
        /// The account's id (a UUID).
        id: Path<crate::fields::UuidText>,
        body: Json<UpdateAccountRequest>,
    ) -> Result<Json<Envelope<AccountDto>>, ApiError> {
        let id = account_id(&id.0)?;
        let patch = AccountPatch::try_from(body.0).map_err(|e| ApiError::validation(&e))?;
        let account = self
            .roster
            .update_account(auth.0.user_id, id, patch, &RequestContext::client())
            .await?;
        Ok(Json(Envelope::new(account.into())))
    }

    /// Delete an account
    ///
    /// 409 while it still has characters, unless `cascade=true`, which
    /// deletes them with it.
    #[oai(path = "/:id", method = "delete", operation_id = "accounts.delete")]
    async fn delete(
        &self,
        auth: CallerAuth,
        /// The account's id (a UUID).
        id: Path<crate::fields::UuidText>,
        /// `true` deletes the account's characters too (default `false`).
        #[oai(default)]
        cascade: Query<bool>,
    ) -> Result<Deleted, ApiError> {
        let id = account_id(&id.0)?;
        self.roster
            .delete_account(auth.0.user_id, id, cascade.0, &RequestContext::client())
            .await?;
        Ok(Deleted::Done)
    }
}
