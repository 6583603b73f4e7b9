//! What the authentication use cases take and answer.

use domain::{
    AccessToken, DisplayName, Email, Password, RefreshToken, Role, Session, SessionId, User, UserId,
};
use time::OffsetDateTime;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub role: Role,
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(SessionId),
    ApiKey(domain::ApiKeyId),
}

/// The caller of a roster route: by access token or by API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    pub credential: Credential,
}

/// What a login, registration or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub user: User,
    pub session_id: SessionId,
    pub access_token: AccessToken,
    pub access_token_expires_at: OffsetDateTime,
    pub refresh_token: RefreshToken,
    pub refresh_token_expires_at: OffsetDateTime,
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: Session,
    pub current: bool,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// This session only.
    #[default]
    Local,
    /// Every session of the user but this one.
    Others,
    /// Every session of the user.
    Global,
}

/// A registration, parsed by the driving adapter (the password's `Debug`
/// shows none of it).
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
}
