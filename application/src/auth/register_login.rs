//! Signing up and signing in: a new account's first session, a login's
//! checks (password, disabled account) and the rehash of an outdated hash.

use domain::ports::Verification;
use domain::rate_limit::Applied;
use domain::{Email, Password, RepoError, Role, UniqueRule, User, UserId};
use secrecy::SecretString;
use time::OffsetDateTime;

use super::{AuthError, AuthService, ClientInfo, IssuedSession, Registration};
use crate::audit::Resource;

impl AuthService {
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
            RepoError::Duplicate(UniqueRule::UserEmail) => AuthError::EmailTaken,
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
        let parsed = Email::parse(email);
        let account = login_account_key(parsed.as_ref().map_or(email, Email::as_str));
        let quota = self.policy.login_account;
        let limit = self.ports.limiter.peek(&account, quota).await;
        if !limit.allowed {
            return Err(AuthError::LoginLimited(Applied {
                preset: LOGIN_ACCOUNT,
                quota,
                decision: limit,
            }));
        }
        let user = match &parsed {
            Ok(email) => self.ports.storage.users().find_by_email(email).await?,
            Err(_) => None,
        };
        let verified = match &user {
            Some(user) => {
                self.ports
                    .hasher
                    .verify(&password, &user.password_hash)
                    .await?
            }
            None => {
                self.ports.hasher.verify_dummy(&password).await?;
                Verification::Mismatch
            }
        };
        let (Some(user), Verification::Match { needs_rehash }) = (user, verified) else {
            self.ports.limiter.take(&account, quota).await;
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
    pub(super) async fn rehash(&self, user: &User, password: SecretString, now: OffsetDateTime) {
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
}

/// The `login-account` preset's name.
pub const LOGIN_ACCOUNT: &str = "login-account";

/// The limiter's key for logins to the account of `email`: a hash of the
/// address as the account would hold it, never the address itself (keys
/// may be read by whoever runs the shared limiter). Addresses that do not
/// parse are hashed as sent, case folded, so they are limited too.
fn login_account_key(email: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let mut key = String::with_capacity(LOGIN_ACCOUNT.len() + 1 + 64);
    key.push_str(LOGIN_ACCOUNT);
    key.push(':');
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::login_account_key;

    #[test]
    fn an_account_key_is_a_hash_of_the_address_alike_in_any_case() {
        let key = login_account_key("Ana@Example.com");
        assert_eq!(key, login_account_key(" ana@example.com"));
        assert!(!key.contains("ana"), "{key}");
        assert_eq!(key.len(), "login-account:".len() + 64);
        assert_ne!(key, login_account_key("bo@example.com"));
    }
}
