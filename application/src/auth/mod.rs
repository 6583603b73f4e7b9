//! Authentication: registration, login, token refresh with rotation,
//! logout, the session list and password changes.
//!
//! Passwords are verified through the `PasswordHasher` port, access tokens
//! signed through `TokenSigner`; this module decides the rules: who may log
//! in, when a session ends, what a reused refresh token means.

mod error;
mod sealer;

use std::collections::HashSet;
use std::sync::Arc;

use domain::ports::{Clock, PasswordHasher, Random, Storage, TokenSigner, Verification};
use domain::session::SessionLifetimes;
use domain::{
    AccessClaims, AccessToken, ApiKeySecret, DisplayName, Email, FamilyId, Password, RefreshToken,
    RepoError, RevokeReason, Role, Session, SessionId, User, UserId, ValidationErrors,
};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

pub use error::AuthError;
pub use sealer::TokenSealer;

/// The rules of authentication that come from configuration.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub access_ttl: Duration,
    pub lifetimes: SessionLifetimes,
    /// E-mails (lower-cased) that get the admin role when they register.
    pub admin_emails: HashSet<String>,
    /// A session's `last_used_at` is written at most this often.
    pub touch_interval: Duration,
}

impl AuthPolicy {
    /// The access-token lifetime when configuration does not set one: 900 s.
    pub const DEFAULT_ACCESS_TTL: Duration = Duration::minutes(15);
    /// How often `last_used_at` is written when configuration does not say.
    pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::minutes(1);
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            access_ttl: Self::DEFAULT_ACCESS_TTL,
            lifetimes: SessionLifetimes::default(),
            admin_emails: HashSet::new(),
            touch_interval: Self::DEFAULT_TOUCH_INTERVAL,
        }
    }
}

use crate::audit::{self, Resource};
pub use crate::context::ClientInfo;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub role: Role,
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(SessionId),
    ApiKey(domain::ApiKeyId),
}

/// The caller of a roster route: by access token or by API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    pub credential: Credential,
}

/// What a login, registration or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub user: User,
    pub session_id: SessionId,
    pub access_token: AccessToken,
    pub access_token_expires_at: OffsetDateTime,
    pub refresh_token: RefreshToken,
    pub refresh_token_expires_at: OffsetDateTime,
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: Session,
    pub current: bool,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// This session only.
    #[default]
    Local,
    /// Every session of the user but this one.
    Others,
    /// Every session of the user.
    Global,
}

/// A registration, parsed by the driving adapter (the password's `Debug`
/// shows none of it).
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
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

    /// Creates an account and logs it in.
    pub async fn register(
        &self,
        input: Registration,
        client: &ClientInfo,
    ) -> Result<IssuedSession, AuthError> {
        let Registration {
            email,
            password,
            display_name,
        } = input;

        // Checked before the costly hash; the unique constraint still decides
        // a race between two registrations of one address.
        if self
            .ports
            .storage
            .users()
            .find_by_email(&email)
            .await?
            .is_some()
        {
            return Err(AuthError::EmailTaken);
        }
        let password_hash = self.ports.hasher.hash(&password).await?;

        let now = self.ports.clock.now();
        let role = if self.policy.admin_emails.contains(email.as_str()) {
            Role::Admin
        } else {
            Role::User
        };
        let user = User {
            id: UserId::generate(now, self.ports.random.as_ref()),
            email,
            display_name,
            role,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: Some(now),
        };
        let (session, refresh_token) = self.new_family(user.id, now, client);

        let tx = self.ports.storage.begin().await?;
        tx.users().insert(&user).await.map_err(|e| match e {
            RepoError::Duplicate {
                constraint: "users_email",
            } => AuthError::EmailTaken,
            other => other.into(),
        })?;
        tx.sessions().insert(&session).await?;
        tx.audit()
            .append(&self.audit(
                now,
                client,
                user.id,
                "auth.register",
                Resource::new("user", user.id),
            ))
            .await?;
        tx.commit().await?;

        tracing::info!(user.id = %user.id, "user registered");
        self.issue(user, &session, refresh_token)
    }

    /// Checks an e-mail and password. Unknown e-mails cost one argon2
    /// verification too, and every failure reads the same, so neither the
    /// answer nor its timing tells who has an account.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<IssuedSession, AuthError> {
        let user = match Email::parse(email) {
            Ok(email) => self.ports.storage.users().find_by_email(&email).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            self.ports.hasher.verify_dummy(&password).await?;
            return Err(AuthError::InvalidCredentials);
        };
        let Verification::Match { needs_rehash } = self
            .ports
            .hasher
            .verify(&password, &user.password_hash)
            .await?
        else {
            return Err(AuthError::InvalidCredentials);
        };
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        let now = self.ports.clock.now();
        if needs_rehash {
            self.rehash(&user, password, now).await;
        }

        let (session, refresh_token) = self.new_family(user.id, now, client);
        let tx = self.ports.storage.begin().await?;
        tx.users().record_login(user.id, now).await?;
        tx.sessions().insert(&session).await?;
        tx.audit()
            .append(&self.audit(
                now,
                client,
                user.id,
                "auth.login",
                Resource::new("session", session.id),
            ))
            .await?;
        tx.commit().await?;

        tracing::info!(user.id = %user.id, session.id = %session.id, "user logged in");
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        self.issue(user, &session, refresh_token)
    }

    /// Stores a hash with the current parameters. Best effort: a failure
    /// leaves the old hash, which still verifies.
    async fn rehash(&self, user: &User, password: SecretString, now: OffsetDateTime) {
        let password = Password::previously_accepted(password);
        let result = match self.ports.hasher.hash(&password).await {
            Ok(new_hash) => self
                .ports
                .storage
                .users()
                .replace_password_hash(user.id, &user.password_hash, &new_hash, now)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                tracing::info!(user.id = %user.id, "password rehashed with current parameters")
            }
            Err(error) => tracing::warn!(user.id = %user.id, %error, "password rehash failed"),
        }
    }

    /// Exchanges a refresh token for a new session (rotation).
    ///
    /// The rotation is a compare-and-set: of N concurrent refreshes with one
    /// token exactly one creates the successor; the others, and any retry
    /// within the grace window, get that same successor back. A rotated
    /// token presented after the window, or any older token, revokes the
    /// whole family: someone else has it.
    pub async fn refresh(
        &self,
        token: &RefreshToken,
        client: &ClientInfo,
    ) -> Result<IssuedSession, AuthError> {
        let sessions = self.ports.storage.sessions();
        let Some(session) = sessions.find_by_token_hash(&token.hash()).await? else {
            return Err(AuthError::Unauthenticated);
        };
        let now = self.ports.clock.now();
        if session.is_active(now) {
            let user = self.active_user(session.user_id).await?;
            if let Some(issued) = self.rotate(user, &session, now, client).await? {
                return Ok(issued);
            }
            // Another request rotated it first: answer as its retry.
            let Some(session) = sessions.find(session.id).await? else {
                return Err(AuthError::Unauthenticated);
            };
            return self.replay_rotation(&session, now, client).await;
        }
        self.replay_rotation(&session, now, client).await
    }

    async fn rotate(
        &self,
        user: User,
        old: &Session,
        now: OffsetDateTime,
        client: &ClientInfo,
    ) -> Result<Option<IssuedSession>, AuthError> {
        let (mut successor, refresh_token) =
            self.new_session(user.id, old.family_id, old.family_expires_at, now, client);
        successor.sealed_refresh_token = Some(self.sealer.seal(
            &refresh_token,
            successor.id,
            self.ports.random.as_ref(),
        ));
        let id = successor.id;

        let tx = self.ports.storage.begin().await?;
        if !tx
            .sessions()
            .revoke(user.id, old.id, now, RevokeReason::Rotated, Some(id))
            .await?
        {
            return Ok(None); // dropping `tx` discards it
        }
        tx.sessions().insert(&successor).await?;
        tx.commit().await?;
        self.issue(user, &successor, refresh_token).map(Some)
    }

    /// A refresh with a token that is no longer live: the retry of a recent
    /// rotation gets its result again; anything else is refused, and a
    /// rotated token outside the grace window revokes its family.
    async fn replay_rotation(
        &self,
        session: &Session,
        now: OffsetDateTime,
        client: &ClientInfo,
    ) -> Result<IssuedSession, AuthError> {
        if session.revoke_reason != Some(RevokeReason::Rotated) {
            return Err(AuthError::Unauthenticated);
        }
        if session.within_reuse_grace(now, &self.policy.lifetimes)
            && let Some(issued) = self.reissue_successor(session, now).await?
        {
            return Ok(issued);
        }
        let tx = self.ports.storage.begin().await?;
        let revoked = tx
            .sessions()
            .revoke_family(
                session.user_id,
                session.family_id,
                now,
                RevokeReason::ReuseDetected,
            )
            .await?;
        let entry = self.audit(
            now,
            client,
            session.user_id,
            "auth.refresh_reuse_detected",
            Resource::new("session", session.id),
        );
        tx.audit().append(&entry).await?;
        tx.commit().await?;
        tracing::warn!(
            event = "auth.refresh_reuse_detected",
            user.id = %session.user_id,
            session.id = %session.id,
            revoked,
            "a rotated refresh token was reused; its family is revoked"
        );
        Err(AuthError::Unauthenticated)
    }

    /// The live successor of `session`, with its refresh token unsealed, if
    /// `session` was rotated into the family's live session.
    async fn reissue_successor(
        &self,
        session: &Session,
        now: OffsetDateTime,
    ) -> Result<Option<IssuedSession>, AuthError> {
        let Some(successor_id) = session.replaced_by else {
            return Ok(None);
        };
        let Some(successor) = self.ports.storage.sessions().find(successor_id).await? else {
            return Ok(None);
        };
        if !successor.is_active(now) {
            return Ok(None);
        }
        let Some(token) = successor
            .sealed_refresh_token
            .as_deref()
            .and_then(|sealed| self.sealer.open(sealed, successor.id))
        else {
            return Ok(None);
        };
        let user = self.active_user(successor.user_id).await?;
        self.issue(user, &successor, token).map(Some)
    }

    /// Checks an access token and that its session is still active, so a
    /// revoked session is refused at once, whatever the token's expiry.
    /// API keys are refused here (`KeyNotAllowed`): this is the check of
    /// the routes that manage the account's own security.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        if ApiKeySecret::looks_like(access_token) {
            return Err(AuthError::KeyNotAllowed);
        }
        let now = self.ports.clock.now();
        let claims = self
            .ports
            .signer
            .verify(access_token, now)
            .map_err(|_| AuthError::Unauthenticated)?;
        let sessions = self.ports.storage.sessions();
        match sessions.find(claims.session_id).await? {
            Some(session) if session.user_id == claims.user_id && session.is_active(now) => {
                // The loaded row already says whether a write is due: most
                // requests need none, so they make no write at all.
                if session.last_used_at < now - self.policy.touch_interval {
                    sessions
                        .touch(session.id, now, self.policy.touch_interval)
                        .await?;
                }
                Ok(Principal {
                    user_id: claims.user_id,
                    session_id: claims.session_id,
                    role: claims.role,
                })
            }
            _ => Err(AuthError::Unauthenticated),
        }
    }

    /// Checks the credential of a roster route: an access token (with its
    /// session still active) or an API key (not revoked, not expired, its
    /// owner not disabled).
    pub async fn authenticate_caller(&self, bearer: &str) -> Result<Caller, AuthError> {
        if !ApiKeySecret::looks_like(bearer) {
            let principal = self.authenticate(bearer).await?;
            return Ok(Caller {
                user_id: principal.user_id,
                role: principal.role,
                credential: Credential::Session(principal.session_id),
            });
        }
        let now = self.ports.clock.now();
        let keys = self.ports.storage.api_keys();
        let key = keys
            .find_by_hash(&ApiKeySecret::from_client(bearer).hash())
            .await?
            .filter(|key| key.is_active(now))
            .ok_or(AuthError::Unauthenticated)?;
        let user = self.active_user(key.owner).await?;
        if key
            .last_used_at
            .is_none_or(|used| used < now - self.policy.touch_interval)
        {
            keys.touch(key.id, now, self.policy.touch_interval).await?;
        }
        Ok(Caller {
            user_id: user.id,
            role: user.role,
            credential: Credential::ApiKey(key.id),
        })
    }

    /// The caller named by a refresh token, for a logout that carries no
    /// access token.
    pub async fn principal_from_refresh(
        &self,
        token: &RefreshToken,
    ) -> Result<Principal, AuthError> {
        let now = self.ports.clock.now();
        match self
            .ports
            .storage
            .sessions()
            .find_by_token_hash(&token.hash())
            .await?
        {
            Some(session) if session.is_active(now) => {
                let user = self.active_user(session.user_id).await?;
                Ok(Principal {
                    user_id: user.id,
                    session_id: session.id,
                    role: user.role,
                })
            }
            _ => Err(AuthError::Unauthenticated),
        }
    }

    pub async fn logout(
        &self,
        principal: &Principal,
        scope: LogoutScope,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let now = self.ports.clock.now();
        let user = principal.user_id;
        let tx = self.ports.storage.begin().await?;
        let (action, resource) = match scope {
            LogoutScope::Local => {
                tx.sessions()
                    .revoke(user, principal.session_id, now, RevokeReason::Logout, None)
                    .await?;
                (
                    "auth.logout",
                    Resource::new("session", principal.session_id),
                )
            }
            LogoutScope::Others => {
                tx.sessions()
                    .revoke_all(user, Some(principal.session_id), now, RevokeReason::Logout)
                    .await?;
                ("auth.logout_others", Resource::new("user", user))
            }
            LogoutScope::Global => {
                tx.sessions()
                    .revoke_all(user, None, now, RevokeReason::Logout)
                    .await?;
                ("auth.logout_global", Resource::new("user", user))
            }
        };
        tx.audit()
            .append(&self.audit(now, client, user, action, resource))
            .await?;
        tx.commit().await?;
        tracing::info!(user.id = %user, ?scope, "logged out");
        Ok(())
    }

    pub async fn me(&self, principal: &Principal) -> Result<User, AuthError> {
        self.ports
            .storage
            .users()
            .find_by_id(principal.user_id)
            .await?
            .ok_or(AuthError::Unauthenticated)
    }

    /// The caller's active sessions, newest first, the current one marked.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, AuthError> {
        let now = self.ports.clock.now();
        let sessions = self
            .ports
            .storage
            .sessions()
            .list_active(principal.user_id, now)
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == principal.session_id,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's active sessions; another user's, or one
    /// that is already over, is `NotFound`.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        id: SessionId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let now = self.ports.clock.now();
        let tx = self.ports.storage.begin().await?;
        if !tx
            .sessions()
            .revoke(principal.user_id, id, now, RevokeReason::Logout, None)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        let entry = self.audit(
            now,
            client,
            principal.user_id,
            "auth.session_revoked",
            Resource::new("session", id),
        );
        tx.audit().append(&entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the password and ends every other session of the user.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: SecretString,
        new: Password,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.me(principal).await?;
        if let Verification::Mismatch = self
            .ports
            .hasher
            .verify(&current, &user.password_hash)
            .await?
        {
            return Err(AuthError::Validation(ValidationErrors::single(
                "currentPassword",
                "is not the current password",
            )));
        }
        let new_hash = self.ports.hasher.hash(&new).await?;
        let now = self.ports.clock.now();

        let tx = self.ports.storage.begin().await?;
        if !tx
            .users()
            .replace_password_hash(user.id, &user.password_hash, &new_hash, now)
            .await?
        {
            return Err(AuthError::Conflict(
                "the password was changed by another request",
            ));
        }
        tx.sessions()
            .revoke_all(
                user.id,
                Some(principal.session_id),
                now,
                RevokeReason::PasswordChanged,
            )
            .await?;
        // That it changed, never the hashes.
        tx.audit()
            .append(&self.audit(
                now,
                client,
                user.id,
                "auth.password_changed",
                Resource::new("user", user.id),
            ))
            .await?;
        tx.commit().await?;
        tracing::info!(user.id = %user.id, "password changed");
        Ok(())
    }

    /// Erases sealed refresh-token copies whose grace window is over. Run
    /// periodically; returns how many it erased.
    pub async fn purge_expired_grace_copies(&self) -> Result<u64, AuthError> {
        let cutoff = self.ports.clock.now() - self.policy.lifetimes.reuse_grace;
        Ok(self
            .ports
            .storage
            .sessions()
            .purge_sealed_tokens(cutoff)
            .await?)
    }

    async fn active_user(&self, id: UserId) -> Result<User, AuthError> {
        match self.ports.storage.users().find_by_id(id).await? {
            Some(user) if user.disabled => Err(AuthError::Disabled),
            Some(user) => Ok(user),
            None => Err(AuthError::Unauthenticated),
        }
    }

    /// An audit entry for an action of `actor` on their own account.
    fn audit(
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

    /// The first session of a new login.
    fn new_family(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
        client: &ClientInfo,
    ) -> (Session, RefreshToken) {
        let family = FamilyId::generate(now, self.ports.random.as_ref());
        self.new_session(
            user_id,
            family,
            now + self.policy.lifetimes.absolute,
            now,
            client,
        )
    }

    /// A live session of `family`, with its new refresh token.
    fn new_session(
        &self,
        user_id: UserId,
        family_id: FamilyId,
        family_expires_at: OffsetDateTime,
        now: OffsetDateTime,
        client: &ClientInfo,
    ) -> (Session, RefreshToken) {
        let refresh_token = RefreshToken::generate(self.ports.random.as_ref());
        let session = Session {
            id: SessionId::generate(now, self.ports.random.as_ref()),
            user_id,
            family_id,
            refresh_token_hash: refresh_token.hash(),
            created_at: now,
            last_used_at: now,
            expires_at: Session::expiry(now, family_expires_at, &self.policy.lifetimes),
            family_expires_at,
            revoked_at: None,
            revoke_reason: None,
            replaced_by: None,
            sealed_refresh_token: None,
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
        };
        (session, refresh_token)
    }

    fn issue(
        &self,
        user: User,
        session: &Session,
        refresh_token: RefreshToken,
    ) -> Result<IssuedSession, AuthError> {
        let now = self.ports.clock.now();
        let access_token_expires_at = now + self.policy.access_ttl;
        let access_token = self
            .ports
            .signer
            .sign(&AccessClaims {
                user_id: user.id,
                session_id: session.id,
                role: user.role,
                issued_at: now,
                expires_at: access_token_expires_at,
            })
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(IssuedSession {
            session_id: session.id,
            access_token: AccessToken::new(access_token),
            access_token_expires_at,
            refresh_token,
            refresh_token_expires_at: session.expires_at,
            user,
        })
    }
}
