//! Short-lived encrypted copies of refresh tokens.
//!
//! A refresh that is retried (lost response, several tabs) must get back the
//! very token the first attempt created. The server keeps that token for the
//! grace window only, sealed with XChaCha20-Poly1305 under a key derived
//! from its secret; the session id is the associated data, so a sealed copy
//! cannot be moved to another session.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use domain::ports::Random;
use domain::{RefreshToken, SessionId};
use secrecy::{ExposeSecret, SecretBox};

const NONCE_LEN: usize = 24;

pub struct TokenSealer {
    cipher: XChaCha20Poly1305,
}

impl TokenSealer {
    pub fn new(key: &SecretBox<[u8; 32]>) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.expose_secret().into()),
        }
    }

    /// `nonce ‖ ciphertext` of the token, bound to `session`.
    pub fn seal(&self, token: &RefreshToken, session: SessionId, random: &dyn Random) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let aad = session.as_uuid();
        let payload = Payload {
            msg: token.expose().as_bytes(),
            aad: aad.as_bytes(),
        };
        let mut sealed = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail; an empty copy
        // would only make a retry fall back to "reuse detected".
        if let Ok(ciphertext) = self.cipher.encrypt(XNonce::from_slice(&nonce), payload) {
            sealed.extend_from_slice(&ciphertext);
        }
        sealed
    }

    /// The token sealed for `session`, or `None` if the copy is damaged,
    /// sealed for another session, or under another key.
    pub fn open(&self, sealed: &[u8], session: SessionId) -> Option<RefreshToken> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = session.as_uuid();
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain)
            .ok()
            .map(|t| RefreshToken::from_client(&t))
    }
}

impl fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSealer([key redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_system::OsRandom;
    use uuid::Uuid;

    fn sealer(byte: u8) -> TokenSealer {
        TokenSealer::new(&SecretBox::new(Box::new([byte; 32])))
    }

    #[test]
    fn a_sealed_token_opens_only_for_its_session_and_key() {
        let token = RefreshToken::generate(&OsRandom);
        let session = SessionId::from_uuid(Uuid::from_u128(1));
        let sealed = sealer(7).seal(&token, session, &OsRandom);

        assert!(
            !sealed
                .windows(token.expose().len())
                .any(|w| w == token.expose().as_bytes())
        );
        let opened = sealer(7).open(&sealed, session).expect("opens");
        assert_eq!(opened.expose(), token.expose());
        assert!(
            sealer(7)
                .open(&sealed, SessionId::from_uuid(Uuid::from_u128(2)))
                .is_none()
        );
        assert!(sealer(8).open(&sealed, session).is_none());
        assert!(sealer(7).open(&sealed[..10], session).is_none());
    }
}
