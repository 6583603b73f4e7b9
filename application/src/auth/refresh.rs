//! Refresh-token rotation: one successor per token, the grace window for
//! retries, the whole family revoked when a rotated token comes back
//! later; and the purge of the sealed copies the grace window needs.

use domain::{RefreshToken, RevokeReason, Session, User};
use time::OffsetDateTime;

use super::{AuthError, AuthService, ClientInfo, IssuedSession, Principal};
use crate::audit::Resource;

impl AuthService {
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

    pub(super) async fn rotate(
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
    pub(super) async fn replay_rotation(
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
    pub(super) async fn reissue_successor(
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
}
