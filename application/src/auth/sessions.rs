//! Sessions as their owner handles them (the list, revoking one, logging
//! out, the account they belong to), and how a session and its tokens are
//! issued.

use domain::{
    AccessClaims, AccessToken, FamilyId, RefreshToken, RevokeReason, Session, SessionId, User,
    UserId,
};
use time::OffsetDateTime;

use super::{
    AuthError, AuthService, ClientInfo, IssuedSession, LogoutScope, Principal, SessionView,
};
use crate::audit::Resource;

impl AuthService {
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

    /// The first session of a new login.
    pub(super) fn new_family(
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
    pub(super) fn new_session(
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

    pub(super) fn issue(
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
