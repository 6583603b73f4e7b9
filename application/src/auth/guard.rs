//! The check of every authenticated request: an access token whose
//! session is still live, or an API key whose owner is not disabled.

use domain::ApiKeySecret;

use super::{AuthError, AuthService, Caller, Credential, Principal};

impl AuthService {
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
}
