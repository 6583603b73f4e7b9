//! Credentials: opaque refresh tokens (stored only as SHA-256) and the
//! claims an access token carries.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::{SessionId, UserId};
use crate::ports::Random;
use crate::user::Role;

/// An opaque refresh token: 32 random bytes, base64url without padding.
/// The server keeps only its [`TokenHash`].
#[derive(Clone)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    pub const BYTES: usize = 32;

    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = [0u8; Self::BYTES];
        random.fill(&mut bytes);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps what a client sent. Any string is accepted: a wrong one simply
    /// matches no stored hash.
    pub fn from_client(raw: &str) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// A signed access token (PASETO v4.public) as handed to a client. It is a
/// bearer credential for its lifetime, so its `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps what the signer produced.
    pub fn new(signed: String) -> Self {
        Self(signed)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// SHA-256 of a secret token: what storage keeps and looks up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash prefix is enough to tell tokens apart in a debug dump.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// What an access token asserts. Issuer and audience are the signer's
/// configuration, checked by it, so they do not appear here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub role: Role,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_token_gives_back_what_was_signed_and_a_hash_its_digest() {
        assert_eq!(
            AccessToken::new("v4.public.abc".to_owned()).into_exposed(),
            "v4.public.abc"
        );
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        let hash = TokenHash::of("abc");
        assert_eq!(hash.as_bytes()[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(hash.as_bytes()[28..], [0xf2, 0x00, 0x15, 0xad]);
        assert_eq!(hash.as_bytes(), &hash.0);
    }

    struct Counting;
    impl Random for Counting {
        fn fill(&self, dest: &mut [u8]) {
            for (i, b) in dest.iter_mut().enumerate() {
                *b = i as u8;
            }
        }
    }

    #[test]
    fn refresh_token_is_32_bytes_of_base64url() {
        let token = RefreshToken::generate(&Counting);
        assert_eq!(token.expose().len(), 43);
        assert!(
            token
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn the_hash_identifies_the_token_and_debug_hides_it() {
        let token = RefreshToken::generate(&Counting);
        assert_eq!(
            token.hash(),
            RefreshToken::from_client(token.expose()).hash()
        );
        assert_ne!(token.hash(), RefreshToken::from_client("other").hash());
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn debug_hides_an_access_token() {
        let token = AccessToken::new("v4.public.secret-payload".to_owned());
        assert_eq!(token.expose(), "v4.public.secret-payload");
        assert!(!format!("{token:?}").contains("secret-payload"));
    }
}
