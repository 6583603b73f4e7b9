//! Access tokens as PASETO `v4.public` (Ed25519), behind the domain's
//! [`TokenSigner`] port.
//!
//! The footer names the signing key by its PASERK id (`{"kid":"k4.pid.…"}`)
//! so keys can rotate: the first configured key signs, every configured key
//! verifies, and a token naming any other key is refused.
//!
//! Times are written as RFC 3339 in UTC truncated to whole seconds (as the
//! PASETO spec recommends), so `iat` and `exp` round-trip with second
//! precision: a fraction of a second in the signed claims is dropped.
//!
//! The token is built and checked with pasetors' low-level
//! [`PublicToken`] rather than its `public::sign`/`verify` helpers because
//! those read the system clock (`exp` is checked against it even with
//! `disable_valid_at`), while this port takes `now` from the caller.
//!
//! Every authenticated request verifies its token, and a client sends the
//! same token for its whole lifetime: the claims of a token whose signature
//! checked out are remembered (keyed by the token's SHA-256, so the memo
//! holds no usable token), and a later request with the same bytes skips
//! the Ed25519 verification and the parsing. Expiry and `nbf` are checked
//! against `now` on every call, hit or miss, so the memo changes no answer.
//! Only tokens that verified are remembered, so garbage cannot fill it.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::ports::{Random, TokenError, TokenSigner};
use domain::{AccessClaims, Role, SessionId, UserId};
use pasetors::Public;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use secrecy::SecretBox;
use secrecy::zeroize::Zeroizing;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Our tokens are well under 1 KiB; refusing anything far larger up front
/// keeps hostile input from costing base64 and JSON work.
const MAX_TOKEN_LEN: usize = 4096;

const SECRET_PREFIX: &str = "k4.secret.";

/// Verified tokens remembered at most: about 150 bytes each, so a few MiB.
/// A busier server re-verifies the tokens evicted, nothing more.
const VERIFIED_CAPACITY: u64 = 20_000;

/// How long a verified token is remembered; longer-lived tokens are simply
/// verified again after it.
const VERIFIED_TTL: Duration = Duration::from_secs(60 * 60);

/// Why the configured keys cannot be used. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no token signing key is configured")]
    NoKeys,
    /// `position` counts from 1, in the order the keys were configured.
    #[error("token signing key #{position} is unusable: {reason}")]
    Unusable {
        position: usize,
        reason: &'static str,
    },
    #[error("the random source produced an all-zero Ed25519 seed")]
    ZeroSeed,
}

/// Signs with the first configured Ed25519 key and verifies with any of them.
pub struct PasetoSigner {
    signing: AsymmetricSecretKey<V4>,
    /// Public halves of every configured key, the signing key's first.
    verifying: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
    /// Claims of tokens whose signature, issuer and audience checked out,
    /// by SHA-256 of the token.
    verified: moka::sync::Cache<[u8; 32], Verified>,
}

/// What a token's signature vouches for; its validity in time is checked
/// at each use.
#[derive(Clone)]
struct Verified {
    claims: AccessClaims,
    not_before: OffsetDateTime,
}

impl Verified {
    fn at(self, now: OffsetDateTime) -> Result<AccessClaims, TokenError> {
        if now >= self.claims.expires_at {
            Err(TokenError::Expired)
        } else if self.not_before > now {
            Err(TokenError::NotYetValid)
        } else {
            Ok(self.claims)
        }
    }
}

struct VerifyingKey {
    kid: String,
    key: AsymmetricPublicKey<V4>,
}

impl PasetoSigner {
    /// Loads PASERK `k4.secret.…` keys: the first signs, all verify, so a
    /// rotation puts the new key first and keeps the old one after it until
    /// the last token it signed has expired. Surrounding whitespace is
    /// ignored, since keys often arrive from files or environment variables.
    pub fn from_paserk_secrets(
        keys: &[&str],
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeyError> {
        let mut pairs = Vec::with_capacity(keys.len());
        for (index, paserk) in keys.iter().enumerate() {
            let unusable = |reason| KeyError::Unusable {
                position: index + 1,
                reason,
            };
            pairs.push(parse_paserk_secret(paserk.trim()).map_err(unusable)?);
        }
        Self::new(pairs, issuer.into(), audience.into())
    }

    /// A signer with a fresh key seeded by `random`: tokens it signs do not
    /// survive a restart, which suits development and tests. Fails only if
    /// `random` yields an all-zero seed, i.e. is broken.
    pub fn ephemeral(
        random: &dyn Random,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, KeyError> {
        let pair = key_pair(&random_seed(random)).map_err(|_| KeyError::ZeroSeed)?;
        Self::new(vec![pair], issuer.into(), audience.into())
    }

    fn new(pairs: Vec<KeyPair>, issuer: String, audience: String) -> Result<Self, KeyError> {
        let mut verifying = Vec::with_capacity(pairs.len());
        let mut signing = None;
        for (position, (secret, public)) in (1..).zip(pairs) {
            let kid = paserk_id(&public).ok_or(KeyError::Unusable {
                position,
                reason: "its PASERK id cannot be computed",
            })?;
            verifying.push(VerifyingKey { kid, key: public });
            // Only the signing key's secret half is kept; the others are
            // dropped (and wiped by pasetors) here.
            signing.get_or_insert(secret);
        }
        let signing = signing.ok_or(KeyError::NoKeys)?;
        Ok(Self {
            signing,
            verifying,
            issuer,
            audience,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
        })
    }

    /// The PASERK id (`k4.pid.…`) that tokens signed now carry as `kid`.
    pub fn signing_kid(&self) -> &str {
        // `new` refuses an empty key list, so the first entry exists.
        self.verifying.first().map_or("", |k| k.kid.as_str())
    }

    /// The signing key's 32-byte Ed25519 seed, as input keying material for
    /// HKDF: the application derives its other secrets from it (always with
    /// its own `info` label, never using it directly), so they change when
    /// the signing key rotates.
    pub fn signing_key_bytes(&self) -> SecretBox<[u8; 32]> {
        SecretBox::init_with_mut(|seed: &mut [u8; 32]| {
            // pasetors stores an Ed25519 secret key as seed || public key.
            seed.copy_from_slice(&self.signing.as_bytes()[..32]);
        })
    }

    fn verifying_key(&self, untrusted_footer: &[u8]) -> Option<&AsymmetricPublicKey<V4>> {
        let footer: Value = serde_json::from_slice(untrusted_footer).ok()?;
        let kid = footer.get("kid")?.as_str()?;
        self.verifying.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }
}

/// A new PASERK `k4.secret.…` key seeded by `random`, for key generation
/// tooling; pass it to [`PasetoSigner::from_paserk_secrets`].
pub fn generate_paserk_secret(random: &dyn Random) -> Result<String, KeyError> {
    let (secret, _) = key_pair(&random_seed(random)).map_err(|_| KeyError::ZeroSeed)?;
    let mut paserk = String::new();
    secret.fmt(&mut paserk).map_err(|_| KeyError::Unusable {
        position: 1,
        reason: "it cannot be written as PASERK",
    })?;
    Ok(paserk)
}

impl TokenSigner for PasetoSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let issued_at = rfc3339(claims.issued_at)?;
        let payload = json!({
            "sub": claims.user_id.to_string(),
            "sid": claims.session_id.to_string(),
            "role": claims.role.as_str(),
            "iat": issued_at,
            "nbf": issued_at,
            "exp": rfc3339(claims.expires_at)?,
            "iss": self.issuer,
            "aud": self.audience,
        });
        let footer = json!({ "kid": self.signing_kid() });
        PublicToken::sign(
            &self.signing,
            payload.to_string().as_bytes(),
            Some(footer.to_string().as_bytes()),
            None,
        )
        .map_err(|e| TokenError::Signing(e.to_string()))
    }

    fn verify(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(verified) = self.verified.get(&digest) {
            return verified.at(now);
        }
        let verified = self.verify_signed(token)?;
        self.verified.insert(digest, verified.clone());
        verified.at(now)
    }
}

impl PasetoSigner {
    /// Checks the signature, issuer and audience of `token` and reads its
    /// claims; its times are left to [`Verified::at`].
    fn verify_signed(&self, token: &str) -> Result<Verified, TokenError> {
        use TokenError::Invalid;
        // Refuses any other version or purpose, and bad base64.
        let untrusted = UntrustedToken::<Public, V4>::try_from(token).map_err(|_| Invalid)?;
        // The footer is read before it is authenticated only to pick the key;
        // it is covered by the signature checked next.
        let key = self
            .verifying_key(untrusted.untrusted_footer())
            .ok_or(Invalid)?;
        let trusted = PublicToken::verify(key, &untrusted, None, None).map_err(|_| Invalid)?;

        let payload: Value = serde_json::from_str(trusted.payload()).map_err(|_| Invalid)?;
        let text = |name: &str| payload.get(name).and_then(Value::as_str).ok_or(Invalid);
        let time = |name: &str| {
            OffsetDateTime::parse(text(name)?, &Rfc3339)
                .ok()
                .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
                .ok_or(Invalid)
        };
        if text("iss")? != self.issuer || text("aud")? != self.audience {
            return Err(Invalid);
        }
        Ok(Verified {
            claims: AccessClaims {
                user_id: text("sub")?.parse::<UserId>().map_err(|_| Invalid)?,
                session_id: text("sid")?.parse::<SessionId>().map_err(|_| Invalid)?,
                role: Role::parse(text("role")?).ok_or(Invalid)?,
                issued_at: time("iat")?,
                expires_at: time("exp")?,
            },
            not_before: time("nbf")?,
        })
    }
}

impl fmt::Debug for PasetoSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.verifying.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("PasetoSigner")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

fn rfc3339(at: OffsetDateTime) -> Result<String, TokenError> {
    at.checked_to_offset(UtcOffset::UTC)
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| TokenError::Signing("time cannot be written as RFC 3339".into()))
}

fn random_seed(random: &dyn Random) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    random.fill(seed.as_mut());
    seed
}

type KeyPair = (AsymmetricSecretKey<V4>, AsymmetricPublicKey<V4>);

fn parse_paserk_secret(paserk: &str) -> Result<KeyPair, &'static str> {
    let encoded = paserk
        .strip_prefix(SECRET_PREFIX)
        .ok_or("expected a PASERK `k4.secret.` key")?;
    let bytes = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "bad base64url")?,
    );
    let (seed, public) = bytes
        .split_first_chunk::<32>()
        .filter(|(_, public)| public.len() == 32)
        .ok_or("expected 64 bytes (seed and public key)")?;
    let pair = key_pair(seed)?;
    if pair.1.as_bytes() != public {
        return Err("its public half does not match its seed");
    }
    Ok(pair)
}

/// Derives the key pair ourselves: pasetors panics on an all-zero seed,
/// while ed25519-compact reports it.
fn key_pair(seed: &[u8; 32]) -> Result<KeyPair, &'static str> {
    let pair = ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(*seed))
        .map_err(|_| "its seed is all zeros")?;
    let secret =
        AsymmetricSecretKey::<V4>::from(pair.sk.as_ref()).map_err(|_| "not an Ed25519 key")?;
    let public =
        AsymmetricPublicKey::<V4>::from(pair.pk.as_ref()).map_err(|_| "not an Ed25519 key")?;
    Ok((secret, public))
}

fn paserk_id(public: &AsymmetricPublicKey<V4>) -> Option<String> {
    let mut kid = String::new();
    Id::from(public).fmt(&mut kid).ok()?;
    Some(kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;
    use uuid::Uuid;

    const ISSUER: &str = "https://roster.test";
    const AUDIENCE: &str = "roster-api";

    /// Deterministic bytes: `start`, `start + 1`, … so each start is a key.
    struct Counter(u8);

    impl Random for Counter {
        fn fill(&self, dest: &mut [u8]) {
            for (b, value) in dest.iter_mut().zip(self.0..) {
                *b = value;
            }
        }
    }

    fn paserk(seed: u8) -> String {
        generate_paserk_secret(&Counter(seed)).expect("a non-zero seed makes a key")
    }

    fn signer_with(keys: &[&str], issuer: &str, audience: &str) -> PasetoSigner {
        PasetoSigner::from_paserk_secrets(keys, issuer, audience).expect("valid keys")
    }

    fn signer(seed: u8) -> PasetoSigner {
        signer_with(&[&paserk(seed)], ISSUER, AUDIENCE)
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            user_id: UserId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
            session_id: SessionId::from_uuid(Uuid::from_u128(
                0x0190_0000_0000_7000_8000_0000_0000_0002,
            )),
            role: Role::Admin,
            issued_at: datetime!(2030-01-01 12:00:00 UTC),
            expires_at: datetime!(2030-01-01 12:15:00 UTC),
        }
    }

    fn during_validity() -> OffsetDateTime {
        claims().issued_at + Duration::minutes(5)
    }

    /// Signs an arbitrary payload and footer with `signer`'s key, to forge
    /// tokens that are well signed but wrong inside.
    fn sign_raw(signer: &PasetoSigner, payload: &Value, footer: Option<&Value>) -> String {
        let footer = footer.map(Value::to_string);
        PublicToken::sign(
            &signer.signing,
            payload.to_string().as_bytes(),
            footer.as_deref().map(str::as_bytes),
            None,
        )
        .expect("signing succeeds")
    }

    fn footer_of(token: &str) -> Value {
        let encoded = token.rsplit('.').next().expect("a footer part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64")).expect("JSON")
    }

    #[test]
    fn a_signed_token_verifies_to_the_same_claims() {
        let signer = signer(1);
        let claims = claims();

        let token = signer.sign(&claims).expect("signs");
        let verified = signer.verify(&token, during_validity());

        assert!(token.starts_with("v4.public."));
        assert_eq!(verified, Ok(claims));
    }

    #[test]
    fn times_round_trip_truncated_to_whole_seconds() {
        let signer = signer(1);
        let mut claims = claims();
        claims.issued_at = datetime!(2030-01-01 12:00:00.999 +02:00);
        claims.expires_at = datetime!(2030-01-01 12:15:00.5 +02:00);

        let verified = signer
            .verify(
                &signer.sign(&claims).expect("signs"),
                datetime!(2030-01-01 10:05:00 UTC),
            )
            .expect("verifies");

        assert_eq!(verified.issued_at, datetime!(2030-01-01 10:00:00 UTC));
        assert_eq!(verified.expires_at, datetime!(2030-01-01 10:15:00 UTC));
        assert_eq!(verified.issued_at.offset(), UtcOffset::UTC);
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");
        let body_start = "v4.public.".len();
        let mut tampered = token.into_bytes();
        let target = &mut tampered[body_start + 10];
        *target = if *target == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("still ASCII");

        let result = signer.verify(&tampered, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn a_footer_naming_another_configured_key_is_invalid() {
        let (first, second) = (paserk(1), paserk(2));
        let signer = signer_with(&[&first, &second], ISSUER, AUDIENCE);
        let token = signer.sign(&claims()).expect("signs");
        let other_kid = json!({ "kid": signer.verifying[1].kid }).to_string();
        let (unsigned, _) = token.rsplit_once('.').expect("a footer part");
        let swapped = format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode(other_kid));

        let result = signer.verify(&swapped, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_from_a_key_that_is_not_configured_is_invalid() {
        let stranger = signer(9);
        let token = stranger.sign(&claims()).expect("signs");

        let result = signer(1).verify(&token, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn after_rotation_a_token_from_the_old_key_still_verifies() {
        let (old_key, new_key) = (paserk(1), paserk(2));
        let before = signer_with(&[&old_key], ISSUER, AUDIENCE);
        let after = signer_with(&[&new_key, &old_key], ISSUER, AUDIENCE);
        let old_token = before.sign(&claims()).expect("signs");

        let verified = after.verify(&old_token, during_validity());
        let new_token = after.sign(&claims()).expect("signs");

        assert_eq!(verified, Ok(claims()));
        assert_eq!(footer_of(&new_token)["kid"], after.signing_kid());
        assert_ne!(after.signing_kid(), before.signing_kid());
    }

    #[test]
    fn a_token_is_expired_at_its_exp() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");

        let at_exp = signer.verify(&token, claims().expires_at);
        let just_before = signer.verify(&token, claims().expires_at - Duration::seconds(1));

        assert_eq!(at_exp, Err(TokenError::Expired));
        assert_eq!(just_before, Ok(claims()));
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_it_expires() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");

        let first = signer.verify(&token, during_validity());
        let remembered = signer.verify(&token, during_validity());
        let at_exp = signer.verify(&token, claims().expires_at);

        assert_eq!(first, Ok(claims()));
        assert_eq!(remembered, Ok(claims()));
        assert_eq!(at_exp, Err(TokenError::Expired));
    }

    #[test]
    fn a_token_one_byte_off_a_remembered_one_is_verified_afresh() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");
        assert_eq!(signer.verify(&token, during_validity()), Ok(claims()));
        let (unsigned, footer) = token.rsplit_once('.').expect("a footer part");
        let mut body = unsigned.to_owned().into_bytes();
        let last = body.last_mut().expect("a body");
        *last = if *last == b'A' { b'B' } else { b'A' };
        let tampered = format!("{}.{footer}", String::from_utf8(body).expect("ASCII"));

        let result = signer.verify(&tampered, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn remembered_tokens_are_those_of_this_signer_only() {
        let (first, second) = (signer(1), signer(2));
        let token = first.sign(&claims()).expect("signs");
        assert_eq!(first.verify(&token, during_validity()), Ok(claims()));

        let result = second.verify(&token, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_before_its_nbf_is_not_yet_valid() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");

        let before_nbf = signer.verify(&token, claims().issued_at - Duration::seconds(1));
        let at_nbf = signer.verify(&token, claims().issued_at);

        assert_eq!(before_nbf, Err(TokenError::NotYetValid));
        assert_eq!(at_nbf, Ok(claims()));
    }

    #[test]
    fn a_token_for_another_issuer_is_invalid() {
        let key = paserk(1);
        let token = signer_with(&[&key], "https://elsewhere.test", AUDIENCE)
            .sign(&claims())
            .expect("signs");

        let result = signer_with(&[&key], ISSUER, AUDIENCE).verify(&token, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_for_another_audience_is_invalid() {
        let key = paserk(1);
        let token = signer_with(&[&key], ISSUER, "other-api")
            .sign(&claims())
            .expect("signs");

        let result = signer_with(&[&key], ISSUER, AUDIENCE).verify(&token, during_validity());

        assert_eq!(result, Err(TokenError::Invalid));
    }

    #[test]
    fn malformed_tokens_and_other_versions_or_purposes_are_invalid() {
        let signer = signer(1);
        let token = signer.sign(&claims()).expect("signs");
        let (unsigned, _) = token.rsplit_once('.').expect("a footer part");
        let body = unsigned.trim_start_matches("v4.public.");
        let with_footer = |footer: &str| format!("{unsigned}.{}", URL_SAFE_NO_PAD.encode(footer));
        let inputs = [
            String::new(),
            "garbage".into(),
            "v4.public.".into(),
            "v4.public.!!!not base64!!!".into(),
            format!("v4.public.{}", "A".repeat(1 << 20)),
            format!("v4.local.{body}"),
            format!("v3.public.{body}"),
            format!("v4.public.{body}.not base64!"),
            unsigned.to_owned(),
            with_footer("{not json"),
            with_footer(r#"{"kid":5}"#),
            with_footer(r#"{"kid":"k4.pid.unknown"}"#),
            format!("{token}.extra"),
        ];

        for input in &inputs {
            let result = signer.verify(input, during_validity());

            assert_eq!(result, Err(TokenError::Invalid), "for input {:.60}", input);
        }
    }

    #[test]
    fn well_signed_tokens_with_unusable_claims_are_invalid() {
        let signer = signer(1);
        let footer = json!({ "kid": signer.signing_kid() });
        let good = json!({
            "sub": claims().user_id.to_string(), "sid": claims().session_id.to_string(), "role": "user",
            "iat": "2030-01-01T12:00:00Z", "nbf": "2030-01-01T12:00:00Z", "exp": "2030-01-01T12:15:00Z",
            "iss": ISSUER, "aud": AUDIENCE,
        });
        assert!(
            signer
                .verify(&sign_raw(&signer, &good, Some(&footer)), during_validity())
                .is_ok()
        );
        let spoiled = [
            ("role", json!("root")),
            ("sub", json!("not-a-uuid")),
            ("exp", json!("tomorrow")),
            ("nbf", json!(0)),
        ];

        for (claim, value) in spoiled {
            let mut payload = good.clone();
            payload[claim] = value;
            let token = sign_raw(&signer, &payload, Some(&footer));

            let result = signer.verify(&token, during_validity());

            assert_eq!(result, Err(TokenError::Invalid), "for a bad {claim}");
        }
        let without_footer = sign_raw(&signer, &good, None);
        assert_eq!(
            signer.verify(&without_footer, during_validity()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn the_footer_names_the_signing_key_by_its_paserk_public_id() {
        let signer = signer(1);

        let token = signer.sign(&claims()).expect("signs");

        let kid = footer_of(&token)["kid"]
            .as_str()
            .expect("a string kid")
            .to_owned();
        assert!(kid.starts_with("k4.pid."), "kid was {kid}");
        assert_eq!(kid, signer.signing_kid());
    }

    #[test]
    fn debug_shows_the_kids_and_no_key_material() {
        let key = paserk(1);
        let signer = signer_with(&[&key], ISSUER, AUDIENCE);

        let debug = format!("{signer:?}");

        assert!(debug.contains(signer.signing_kid()));
        assert!(!debug.contains(key.trim_start_matches(SECRET_PREFIX)));
        assert!(!debug.contains("k4.secret"));
    }

    #[test]
    fn a_bad_paserk_is_reported_by_its_position_without_the_key() {
        let good = paserk(1);
        let public_only = format!("k4.public.{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
        let zero_seed = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
        let truncated = &good[..good.len() - 4];
        let mismatched = {
            let mut bytes = URL_SAFE_NO_PAD
                .decode(&good[SECRET_PREFIX.len()..])
                .expect("base64");
            bytes[40] ^= 1;
            format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
        };

        for bad in [
            public_only.as_str(),
            &zero_seed,
            truncated,
            &mismatched,
            "k4.secret.@@@",
        ] {
            let error = PasetoSigner::from_paserk_secrets(&[&good, bad], ISSUER, AUDIENCE)
                .expect_err("refused");

            let message = error.to_string();
            assert!(
                matches!(error, KeyError::Unusable { position: 2, .. }),
                "{message}"
            );
            assert!(message.contains("key #2"), "{message}");
            let material = bad.rsplit('.').next().unwrap_or(bad);
            assert!(!message.contains(material), "{message}");
        }
    }

    #[test]
    fn no_keys_or_a_zero_seed_is_an_error_not_a_panic() {
        let no_keys = PasetoSigner::from_paserk_secrets(&[], ISSUER, AUDIENCE);
        let zero_seed = PasetoSigner::ephemeral(&Zeros, ISSUER, AUDIENCE);

        assert_eq!(no_keys.expect_err("refused"), KeyError::NoKeys);
        assert_eq!(zero_seed.expect_err("refused"), KeyError::ZeroSeed);
        assert_eq!(generate_paserk_secret(&Zeros), Err(KeyError::ZeroSeed));
    }

    struct Zeros;

    impl Random for Zeros {
        fn fill(&self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }

    #[test]
    fn an_ephemeral_signer_uses_the_random_seed_as_its_key() {
        use secrecy::ExposeSecret;
        let seed: [u8; 32] = std::array::from_fn(|i| 5 + i as u8);

        let ephemeral = PasetoSigner::ephemeral(&Counter(5), ISSUER, AUDIENCE).expect("a key");
        let loaded = signer(5);

        assert_eq!(ephemeral.signing_key_bytes().expose_secret(), &seed);
        assert_eq!(ephemeral.signing_kid(), loaded.signing_kid());
        assert_ne!(signer(6).signing_key_bytes().expose_secret(), &seed);
        let token = ephemeral.sign(&claims()).expect("signs");
        assert_eq!(loaded.verify(&token, during_validity()), Ok(claims()));
    }
}
