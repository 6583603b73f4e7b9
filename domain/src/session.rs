//! Login sessions and the rules of their lifetime.
//!
//! A login starts a *family*. Each refresh rotates: it revokes the session
//! it came from and creates a new one in the same family. A family ends at
//! `family_expires_at` whatever its refreshes (absolute lifetime); each
//! session's refresh token also expires when unused for the idle lifetime.

use time::{Duration, OffsetDateTime};

use crate::ids::{FamilyId, SessionId, UserId};
use crate::token::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub family_id: FamilyId,
    pub refresh_token_hash: TokenHash,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// When this session's refresh token stops working: the idle limit,
    /// capped by the family's absolute end.
    pub expires_at: OffsetDateTime,
    pub family_expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoke_reason: Option<RevokeReason>,
    /// The session this one was rotated into, when it was.
    pub replaced_by: Option<SessionId>,
    /// This session's refresh token, encrypted, so a retry of the rotation
    /// that created it can be answered with the same token. Kept only for
    /// the grace window, then erased.
    pub sealed_refresh_token: Option<Vec<u8>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Why a session stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// Replaced by a refresh.
    Rotated,
    /// The user logged out, or revoked it from the session list.
    Logout,
    /// The password changed.
    PasswordChanged,
    /// A rotated token was reused: the whole family is assumed stolen.
    ReuseDetected,
    /// An administrator acted.
    Admin,
}

impl RevokeReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Rotated => "rotated",
            RevokeReason::Logout => "logout",
            RevokeReason::PasswordChanged => "password_changed",
            RevokeReason::ReuseDetected => "reuse_detected",
            RevokeReason::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rotated" => RevokeReason::Rotated,
            "logout" => RevokeReason::Logout,
            "password_changed" => RevokeReason::PasswordChanged,
            "reuse_detected" => RevokeReason::ReuseDetected,
            "admin" => RevokeReason::Admin,
            _ => return None,
        })
    }
}

/// The lifetimes that govern sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// A family ends this long after its login.
    pub absolute: Duration,
    /// A refresh token unused this long expires.
    pub idle: Duration,
    /// How long after a rotation the previous token is taken for a retry.
    pub reuse_grace: Duration,
}

impl SessionLifetimes {
    /// The absolute lifetime when configuration does not set one: 30 days.
    pub const DEFAULT_ABSOLUTE: Duration = Duration::days(30);
    /// The idle lifetime when configuration does not set one: 7 days.
    pub const DEFAULT_IDLE: Duration = Duration::days(7);
    /// The reuse grace window when configuration does not set one: 10 s.
    pub const DEFAULT_REUSE_GRACE: Duration = Duration::seconds(10);
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            absolute: Self::DEFAULT_ABSOLUTE,
            idle: Self::DEFAULT_IDLE,
            reuse_grace: Self::DEFAULT_REUSE_GRACE,
        }
    }
}

impl Session {
    /// Whether this session still authenticates requests and refreshes.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// When a session created at `now` in a family ending at
    /// `family_expires_at` expires.
    pub fn expiry(
        now: OffsetDateTime,
        family_expires_at: OffsetDateTime,
        lifetimes: &SessionLifetimes,
    ) -> OffsetDateTime {
        (now + lifetimes.idle).min(family_expires_at)
    }

    /// Whether this rotated session's successor may still be handed out
    /// again to a client retrying the same refresh.
    pub fn within_reuse_grace(&self, now: OffsetDateTime, lifetimes: &SessionLifetimes) -> bool {
        match (self.revoke_reason, self.revoked_at) {
            (Some(RevokeReason::Rotated), Some(at)) => now <= at + lifetimes.reuse_grace,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_revoke_reason_has_a_stored_name_that_parses_back() {
        let reasons = [
            (RevokeReason::Rotated, "rotated"),
            (RevokeReason::Logout, "logout"),
            (RevokeReason::PasswordChanged, "password_changed"),
            (RevokeReason::ReuseDetected, "reuse_detected"),
            (RevokeReason::Admin, "admin"),
        ];
        for (reason, name) in reasons {
            assert_eq!(reason.as_str(), name);
            assert_eq!(RevokeReason::parse(name), Some(reason));
        }
        assert_eq!(RevokeReason::parse("Logout"), None);
        assert_eq!(RevokeReason::parse(""), None);
    }
}
