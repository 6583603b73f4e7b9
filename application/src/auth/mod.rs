//! Authentication: registration, login, token refresh with rotation,
//! logout, the session list and password changes.
//!
//! Passwords are verified through the `PasswordHasher` port, access tokens
//! signed through `TokenSigner`; this module decides the rules: who may log
//! in, when a session ends, what a reused refresh token means.
//!
//! This file holds [`AuthService`], its ports and [`AuthPolicy`]; each use
//! case is in its own file: `register_login` (sign-up and sign-in),
//! `refresh` (rotation and the reuse rules), `guard` (checking the
//! credential of each request), `sessions` (issuing, listing and ending
//! sessions), `password` (changing it); `types` holds what they answer.

mod error;
mod guard;
mod password;
mod refresh;
mod register_login;
mod sealer;
mod sessions;
mod types;

use std::collections::HashSet;
use std::sync::Arc;

use domain::ports::{Clock, PasswordHasher, Random, RateLimiter, Storage, TokenSigner};
use domain::rate_limit::Quota;
use domain::session::SessionLifetimes;
use domain::{User, UserId};
use time::{Duration, OffsetDateTime};

pub use error::AuthError;
pub use register_login::LOGIN_ACCOUNT;
pub use sealer::TokenSealer;
pub use types::{
    Caller, Credential, IssuedSession, LogoutScope, Principal, Registration, SessionView,
};

use crate::audit::{self, Resource};
pub use crate::context::ClientInfo;

/// The rules of authentication that come from configuration.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub access_ttl: Duration,
    pub lifetimes: SessionLifetimes,
    /// E-mails (lower-cased) that get the admin role when they register.
    pub admin_emails: HashSet<String>,
    /// A session's `last_used_at` is written at most this often.
    pub touch_interval: Duration,
    /// Failed logins allowed per account (the `login-account` preset).
    pub login_account: Quota,
}

impl AuthPolicy {
    /// The access-token lifetime when configuration does not set one: 900 s.
    pub const DEFAULT_ACCESS_TTL: Duration = Duration::minutes(15);
    /// How often `last_used_at` is written when configuration does not say.
    pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::minutes(1);

    /// Failed logins per account when configuration does not say: 100 an
    /// hour.
    pub fn default_login_account() -> Quota {
        Quota::new(100, std::time::Duration::from_secs(3_600)).expect("a valid quota")
    }
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            access_ttl: Self::DEFAULT_ACCESS_TTL,
            lifetimes: SessionLifetimes::default(),
            admin_emails: HashSet::new(),
            touch_interval: Self::DEFAULT_TOUCH_INTERVAL,
            login_account: Self::default_login_account(),
        }
    }
}

/// The ports authentication needs.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // trait objects; nothing worth printing
pub struct AuthPorts {
    pub storage: Arc<dyn Storage>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Counts failed logins per account.
    pub limiter: Arc<dyn RateLimiter>,
}

pub struct AuthService {
    ports: AuthPorts,
    sealer: TokenSealer,
    policy: AuthPolicy,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(ports: AuthPorts, sealer: TokenSealer, policy: AuthPolicy) -> Self {
        Self {
            ports,
            sealer,
            policy,
        }
    }

    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    pub(super) async fn active_user(&self, id: UserId) -> Result<User, AuthError> {
        match self.ports.storage.users().find_by_id(id).await? {
            Some(user) if user.disabled => Err(AuthError::Disabled),
            Some(user) => Ok(user),
            None => Err(AuthError::Unauthenticated),
        }
    }

    /// An audit entry for an action of `actor` on their own account.
    pub(super) fn audit(
        &self,
        now: OffsetDateTime,
        client: &ClientInfo,
        actor: UserId,
        action: &str,
        resource: Resource,
    ) -> domain::AuditEntry {
        audit::entry(
            now,
            self.ports.random.as_ref(),
            client,
            Some(actor),
            action,
            resource,
            Vec::new(),
        )
    }
}
