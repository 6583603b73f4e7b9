//! API keys: long-lived credentials a user creates for scripts and tools.
//! They act as their owner on the roster routes, never on the account's
//! own security (auth, keys, admin). Stored only as SHA-256.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::ids::{ApiKeyId, UserId};
use crate::ports::Random;
use crate::token::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub owner: UserId,
    pub name: ApiKeyName,
    /// The first characters of the key (`rk_` and 8 more), shown in lists so
    /// a user can tell keys apart. Not enough to use it.
    pub prefix: String,
    pub key_hash: TokenHash,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A key's label: 1–100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Most characters (Unicode scalar values) once trimmed.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        crate::text::name("name", raw, 1, Self::MAX_CHARS, || {
            if raw.trim().is_empty() {
                "must not be empty".into()
            } else {
                format!("must be at most {} characters", Self::MAX_CHARS)
            }
        })
        .map(Self)
    }

    /// A name read back from storage, which only ever holds parsed ones:
    /// for storage adapters, so a row is not checked again on every read.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret itself: `rk_` and 32 random bytes in base64url. Shown once.
#[derive(Clone)]
pub struct ApiKeySecret(SecretString);

impl ApiKeySecret {
    pub const PREFIX: &'static str = "rk_";
    const SHOWN: usize = 11; // "rk_" + 8

    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes);
        Self(SecretString::from(format!(
            "{}{}",
            Self::PREFIX,
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// Whether a bearer credential looks like an API key (not a PASETO).
    pub fn looks_like(credential: &str) -> bool {
        credential.starts_with(Self::PREFIX)
    }

    pub fn from_client(raw: &str) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.expose_secret())
    }

    pub fn prefix(&self) -> String {
        self.0.expose_secret().chars().take(Self::SHOWN).collect()
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    struct Counting;
    impl Random for Counting {
        fn fill(&self, dest: &mut [u8]) {
            for (i, b) in dest.iter_mut().enumerate() {
                *b = i as u8;
            }
        }
    }

    /// Bytes 0, 1, …, 31 in base64url, after `rk_`.
    const COUNTING_SECRET: &str = "rk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn key(expires_at: Option<OffsetDateTime>, revoked_at: Option<OffsetDateTime>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::from_uuid(Uuid::nil()),
            owner: UserId::from_uuid(Uuid::nil()),
            name: ApiKeyName::from_stored("ci".to_owned()),
            prefix: "rk_AAECAwQF".to_owned(),
            key_hash: TokenHash::of(COUNTING_SECRET),
            created_at: datetime!(2026-01-01 00:00 UTC),
            last_used_at: None,
            expires_at,
            revoked_at,
        }
    }

    #[test]
    fn a_key_is_active_until_revoked_or_until_its_expiry_instant() {
        let expiry = datetime!(2026-06-01 12:00 UTC);
        let before = expiry - Duration::milliseconds(1);
        let after = expiry + Duration::milliseconds(1);

        assert!(key(None, None).is_active(after));
        assert!(key(Some(expiry), None).is_active(before));
        // The expiry instant is the first one at which the key is refused.
        assert!(!key(Some(expiry), None).is_active(expiry));
        assert!(!key(Some(expiry), None).is_active(after));
        // Revoked: refused whatever its expiry.
        assert!(!key(None, Some(before)).is_active(before));
        assert!(!key(Some(expiry), Some(before)).is_active(before));
    }

    #[test]
    fn a_key_name_reads_back_trimmed() {
        let name = ApiKeyName::parse("  Deploy bot  ").expect("valid");
        assert_eq!(name.as_str(), "Deploy bot");
        assert_eq!(
            ApiKeyName::from_stored("nightly export".to_owned()).as_str(),
            "nightly export"
        );
    }

    #[test]
    fn a_secret_shows_rk_and_eight_characters_and_exposes_the_whole() {
        let secret = ApiKeySecret::generate(&Counting);
        assert_eq!(secret.expose(), COUNTING_SECRET);
        assert_eq!(secret.prefix(), "rk_AAECAwQF");
        assert_eq!(secret.hash(), TokenHash::of(COUNTING_SECRET));
        assert_eq!(ApiKeySecret::from_client("rk_short").expose(), "rk_short");
        assert_eq!(ApiKeySecret::from_client("rk_short").prefix(), "rk_short");
        assert!(!format!("{secret:?}").contains(COUNTING_SECRET));
    }

    #[test]
    fn only_an_rk_credential_looks_like_an_api_key() {
        assert!(ApiKeySecret::looks_like(COUNTING_SECRET));
        assert!(ApiKeySecret::looks_like("rk_"));
        assert!(!ApiKeySecret::looks_like("v4.public.eyJzdWIiOiIxIn0"));
        assert!(!ApiKeySecret::looks_like("RK_AAECAwQF"));
        assert!(!ApiKeySecret::looks_like(""));
    }
}
