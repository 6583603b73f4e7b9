//! Administration: the user list, role and account changes, the whole audit
//! trail (the `/admin` routes), and the operator's `roster admin grant`.
//!
//! Every use case here but `grant_admin` takes the caller's [`Principal`]
//! and refuses anyone without the admin role: the check lives here, not in
//! a route. The role is the one in the caller's access token, so a role
//! change takes effect with the user's next token (refresh or login), at
//! most one access-token lifetime later. Disabling is immediate: it revokes
//! every session and API key of the user.

use std::sync::Arc;

use domain::ports::{ApiKeyRepository, Clock, Random, SessionRepository, Storage};
use domain::{
    AuditFilter, Change, Email, RepoError, RevokeReason, Role, User, UserId, ValidationErrors,
};

use crate::audit::{self, AuditError, AuditPage, Resource};
use crate::auth::Principal;
use crate::context::ClientInfo;
use crate::cursor;
use crate::query_text;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `roster admin grant` with an e-mail nobody registered.
    #[error("no user has the e-mail {0}")]
    NoSuchUser(String),
    /// The caller is not an administrator (403).
    #[error("this route is for administrators")]
    Forbidden,
    /// No user has this id (404).
    #[error("not found")]
    NotFound,
    /// Input broke a rule (400).
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// An administrator removing their own admin role (409).
    #[error("administrators cannot remove their own admin role")]
    CannotDemoteSelf,
    /// An administrator disabling their own account (409).
    #[error("administrators cannot disable their own account")]
    CannotDisableSelf,
    #[error(transparent)]
    Storage(#[from] RepoError),
}

impl From<AuditError> for AdminError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::Validation(errors) => Self::Validation(errors),
            AuditError::Storage(error) => Self::Storage(error),
        }
    }
}

/// Gives the user with `email` the admin role (`roster admin grant`). The
/// new role is in the access tokens issued from the next refresh or login.
pub async fn grant_admin(
    storage: &dyn Storage,
    clock: &dyn Clock,
    random: &dyn Random,
    email: &Email,
) -> Result<(), AdminError> {
    let user = storage
        .users()
        .find_by_email(email)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.to_string()))?;
    if user.role == Role::Admin {
        return Ok(());
    }
    let now = clock.now();
    // The operator acts from a shell, not as a user: the actor is the system.
    let entry = audit::entry(
        now,
        random,
        &ClientInfo::default(),
        None,
        "user.updated",
        Resource::new("user", user.id),
        vec![Change {
            field: "role".into(),
            from: user.role.as_str().into(),
            to: Role::Admin.as_str().into(),
        }],
    );
    let tx = storage.begin().await?;
    tx.users().set_role(user.id, Role::Admin, now).await?;
    tx.audit().append(&entry).await?;
    tx.commit().await?;
    tracing::info!(user.id = %user.id, "admin role granted");
    Ok(())
}

/// One page of users, by id (creation order).
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<User>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What an administrator changes on a user; at least one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub struct AdminService {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminService")
    }
}

fn require_admin(caller: &Principal) -> Result<(), AdminError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::User => Err(AdminError::Forbidden),
    }
}

impl AdminService {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            storage,
            clock,
            random,
        }
    }

    /// A page of every user whose e-mail or display name contains `search`
    /// (ignoring case), after `cursor`. Keyset paging by id: users who
    /// register meanwhile land after the last page, never in between.
    pub async fn list_users(
        &self,
        caller: &Principal,
        search: Option<&str>,
        cursor: Option<&str>,
        per_page: usize,
    ) -> Result<UserPage, AdminError> {
        require_admin(caller)?;
        let after = cursor.map(decode_user_cursor).transpose()?;
        // A blank search is no search: it would match everyone anyway.
        let search = query_text::search(search)
            .map_err(|e| AdminError::Validation(ValidationErrors(vec![e])))?;
        // One more than asked, to know whether another page follows.
        let mut users = self
            .storage
            .users()
            .list(search.as_deref(), after, per_page + 1)
            .await?;
        let next_cursor = if users.len() > per_page {
            users.truncate(per_page);
            users.last().map(|last| cursor::encode(last.id.as_uuid()))
        } else {
            None
        };
        Ok(UserPage { users, next_cursor })
    }

    /// Changes a user's role and/or disabled flag, and answers the user as
    /// it now is. Disabling revokes every session and API key of the user
    /// in the same transaction as the flag and its audit entry, so the user
    /// is locked out at once. An administrator may not demote or disable
    /// themself (`Conflict`): otherwise the last administrator could lock
    /// every administrator out. A patch that changes nothing writes nothing.
    pub async fn update_user(
        &self,
        caller: &Principal,
        id: UserId,
        patch: UserPatch,
        client: &ClientInfo,
    ) -> Result<User, AdminError> {
        require_admin(caller)?;
        if patch == UserPatch::default() {
            return Err(AdminError::Validation(ValidationErrors::single(
                "body",
                "must set role, disabled or both",
            )));
        }
        if id == caller.user_id {
            if patch.role == Some(Role::User) {
                return Err(AdminError::CannotDemoteSelf);
            }
            if patch.disabled == Some(true) {
                return Err(AdminError::CannotDisableSelf);
            }
        }

        let now = self.clock.now();
        let tx = self.storage.begin().await?;
        let Some(mut user) = tx.users().find_by_id(id).await? else {
            return Err(AdminError::NotFound);
        };
        let mut changes = Vec::new();
        if let Some(role) = patch.role.filter(|role| *role != user.role) {
            tx.users().set_role(id, role, now).await?;
            changes.push(Change {
                field: "role".to_owned(),
                from: user.role.as_str().into(),
                to: role.as_str().into(),
            });
            user.role = role;
        }
        if let Some(disabled) = patch.disabled.filter(|d| *d != user.disabled) {
            tx.users().set_disabled(id, disabled, now).await?;
            if disabled {
                lock_out(tx.sessions(), tx.api_keys(), id, now).await?;
            }
            changes.push(Change {
                field: "disabled".to_owned(),
                from: user.disabled.into(),
                to: disabled.into(),
            });
            user.disabled = disabled;
        }
        if changes.is_empty() {
            // Nothing to record; dropping the transaction ends it.
            return Ok(user);
        }
        user.updated_at = now;
        let entry = audit::entry(
            now,
            self.random.as_ref(),
            client,
            Some(caller.user_id),
            "user.updated",
            Resource::new("user", id),
            changes,
        );
        tx.audit().append(&entry).await?;
        tx.commit().await?;
        tracing::info!(user.id = %id, admin.id = %caller.user_id, "user updated by an administrator");
        Ok(user)
    }

    /// A page of everyone's audit entries matching `filter`, newest first.
    pub async fn audit(
        &self,
        caller: &Principal,
        filter: &AuditFilter,
        cursor: Option<&str>,
        per_page: usize,
    ) -> Result<AuditPage, AdminError> {
        require_admin(caller)?;
        Ok(audit::list(self.storage.as_ref(), filter, cursor, per_page).await?)
    }
}

/// Ends every way the user has in: sessions (so their access tokens are
/// refused at once) and API keys.
async fn lock_out(
    sessions: &dyn SessionRepository,
    keys: &dyn ApiKeyRepository,
    id: UserId,
    now: time::OffsetDateTime,
) -> Result<(), RepoError> {
    sessions
        .revoke_all(id, None, now, RevokeReason::Admin)
        .await?;
    keys.revoke_all(id, now).await?;
    Ok(())
}

fn decode_user_cursor(text: &str) -> Result<UserId, AdminError> {
    cursor::decode(text).map(UserId::from_uuid).ok_or_else(|| {
        AdminError::Validation(ValidationErrors::single(
            "cursor",
            "is not a cursor this API gave out",
        ))
    })
}
