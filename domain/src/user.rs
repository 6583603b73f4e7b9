//! Users and the values that describe them.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::ids::UserId;

/// A registered person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

/// What a user may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A syntactically valid e-mail address: trimmed, lower-cased, at most 254
/// characters. Two users never share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim().to_lowercase();
        let invalid = || FieldError::new("email", "must be a valid e-mail address");
        if email.is_empty() {
            return Err(FieldError::new("email", "must not be empty"));
        }
        if email.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "email",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }

    /// An address read back from storage, which only ever holds parsed ones:
    /// for storage adapters, so a row is not checked again on every read.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a user shows: 1–50 characters once normalised and trimmed,
/// nothing invisible, something visible ([`crate::text::name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        crate::text::name("displayName", raw, 1, Self::MAX_CHARS, || {
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

/// A new password that meets the rules: 8–128 characters (Unicode scalar
/// values) and not one of the 10,000 most common passwords. Never printed.
#[derive(Clone)]
pub struct Password(SecretString);

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect()
});

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// `field` names the input in errors (`password`, `newPassword`).
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, FieldError> {
        let len = raw.chars().count();
        if len < Self::MIN_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if len > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            return Err(FieldError::new(
                field,
                "is one of the most common passwords; choose another",
            ));
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// A password that has just matched the user's stored hash. It met the
    /// rules in force when it was set, so it may be hashed again (with new
    /// parameters) even if today's rules would refuse it as a new password.
    pub fn previously_accepted(candidate: SecretString) -> Self {
        Self(candidate)
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$…`). Not a secret
/// in the strict sense, but never logged either.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_parses_from_its_stored_name_and_nothing_else_does() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn an_email_displays_as_stored_and_a_password_exposes_what_was_given() {
        let email = Email::parse(" Ada@Example.com").expect("valid");
        assert_eq!(email.to_string(), "ada@example.com");
        let password = Password::parse("correct horse battery staple", "password").expect("valid");
        assert_eq!(password.expose(), "correct horse battery staple");
    }

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        let email = Email::parse("  Alice@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "alice@example.com");
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@b.com",
            "a..b@c.com",
            "a@-b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn email_longer_than_254_characters_is_refused() {
        // 64 + 1 + 3 labels of 59 + 3 dots + "com" = 248; pad the last label.
        let address = |pad: usize| {
            let label = "b".repeat(59);
            format!(
                "{}@{label}.{label}.{label}.{}.com",
                "a".repeat(64),
                "c".repeat(pad)
            )
        };
        assert_eq!(address(5).len(), 254);
        assert!(Email::parse(&address(5)).is_ok());
        assert!(Email::parse(&address(6)).is_err());
    }

    #[test]
    fn display_name_is_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ana  ").expect("valid").as_str(),
            "Ana"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(50)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(51)).is_err());
        assert!(DisplayName::parse("tab\there").is_err());
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(
            Password::parse("ééééééé", "password").is_err(),
            "7 characters"
        );
        assert!(
            Password::parse("éééééééé", "password").is_ok(),
            "8 characters, 16 bytes"
        );
        assert!(Password::parse(&"ü".repeat(128), "password").is_ok());
        assert!(Password::parse(&"ü".repeat(129), "password").is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in [
            "password",
            "12345678",
            "Password1",
            "QWERTYUIOP",
            "iloveyou",
        ] {
            let err = Password::parse(common, "password").expect_err(common);
            assert!(err.message.contains("common"), "{common}: {}", err.message);
        }
        assert!(Password::parse("correct horse battery staple", "password").is_ok());
    }

    #[test]
    fn the_common_password_list_holds_ten_thousand_entries() {
        assert_eq!(COMMON_PASSWORDS.len(), 10_000);
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let password = Password::parse("a very secret phrase", "password").expect("valid");
        assert!(!format!("{password:?}").contains("secret phrase"));
    }
}
