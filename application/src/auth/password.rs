//! Changing the password: every other session ends with it.

use domain::ports::Verification;
use domain::{Password, RevokeReason, ValidationErrors};
use secrecy::SecretString;

use super::{AuthError, AuthService, ClientInfo, Principal};
use crate::audit::Resource;

impl AuthService {
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
            return Err(AuthError::PasswordChangedConcurrently);
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
}
