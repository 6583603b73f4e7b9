//! Builders for the entities the storage suites store.
//!
//! Every value a builder makes up is unique (random ids, e-mails and token
//! hashes), so a test never collides with itself by accident, and every
//! time is [`BASE`] moved by whole seconds or microseconds: PostgreSQL keeps
//! `timestamptz` to the microsecond, so anything finer would not survive a
//! round trip and the suites would compare times that no backend can keep.

use adapter_system::OsRandom;
use domain::ports::Random;

use super::FreshStorage;
use domain::{
    DisplayName, Email, FamilyId, PasswordHash, RefreshToken, RepoError, RevokeReason, Role,
    Session, SessionId, TokenHash, User, UserId,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The instant every fixture is built around. It carries microseconds on
/// purpose, so the suites prove that a backend keeps them.
pub const BASE: OffsetDateTime = datetime!(2030-01-15 10:00:00.123456 UTC);

/// [`BASE`] moved by `seconds`.
pub fn at(seconds: i64) -> OffsetDateTime {
    BASE + Duration::seconds(seconds)
}

/// Random hex, for values that must not repeat.
fn unique_suffix() -> String {
    let mut bytes = [0u8; 8];
    OsRandom.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh user id, from the same generator the application uses.
pub fn new_user_id() -> UserId {
    UserId::generate(BASE, &OsRandom)
}

/// A fresh session id whose time part is `now`.
pub fn new_session_id_at(now: OffsetDateTime) -> SessionId {
    SessionId::generate(now, &OsRandom)
}

/// A fresh session id.
pub fn new_session_id() -> SessionId {
    new_session_id_at(BASE)
}

/// A fresh login family.
pub fn new_family_id() -> FamilyId {
    FamilyId::generate(BASE, &OsRandom)
}

/// The hash of a freshly generated refresh token, as the application stores it.
pub fn new_token_hash() -> TokenHash {
    RefreshToken::generate(&OsRandom).hash()
}

/// A password hash in PHC form with a random salt; backends store it as text.
pub fn new_password_hash() -> PasswordHash {
    PasswordHash::new(format!(
        "$argon2id$v=19$m=19456,t=2,p=1${}$conformance",
        unique_suffix()
    ))
}

/// `n` random bytes, as a sealed refresh token is.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    OsRandom.fill(&mut bytes);
    bytes
}

/// Starts a user with a unique e-mail, an ordinary role, and no login yet.
pub fn a_user() -> UserBuilder {
    UserBuilder(User {
        id: new_user_id(),
        email: email(&format!("user-{}@example.com", unique_suffix())),
        display_name: display_name("Conformance User"),
        role: Role::User,
        password_hash: new_password_hash(),
        disabled: false,
        created_at: BASE,
        updated_at: BASE,
        last_login_at: None,
    })
}

/// Builds a [`User`] one field at a time.
#[derive(Debug, Clone)]
pub struct UserBuilder(User);

impl UserBuilder {
    pub fn id(mut self, id: UserId) -> Self {
        self.0.id = id;
        self
    }

    pub fn email(mut self, address: &str) -> Self {
        self.0.email = email(address);
        self
    }

    pub fn display_name(mut self, name: &str) -> Self {
        self.0.display_name = display_name(name);
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.0.role = role;
        self
    }

    pub fn password_hash(mut self, hash: &PasswordHash) -> Self {
        self.0.password_hash = hash.clone();
        self
    }

    pub fn disabled(mut self) -> Self {
        self.0.disabled = true;
        self
    }

    pub fn updated_at(mut self, at: OffsetDateTime) -> Self {
        self.0.updated_at = at;
        self
    }

    pub fn last_login_at(mut self, at: OffsetDateTime) -> Self {
        self.0.last_login_at = Some(at);
        self
    }

    pub fn build(self) -> User {
        self.0
    }
}

/// Starts a live session of `owner`, in a family of its own, created at
/// [`BASE`] and expiring a week later, with no optional field set.
pub fn a_session_of(owner: UserId) -> SessionBuilder {
    SessionBuilder(Session {
        id: new_session_id(),
        user_id: owner,
        family_id: new_family_id(),
        refresh_token_hash: new_token_hash(),
        created_at: BASE,
        last_used_at: BASE,
        expires_at: BASE + Duration::days(7),
        family_expires_at: BASE + Duration::days(30),
        revoked_at: None,
        revoke_reason: None,
        replaced_by: None,
        sealed_refresh_token: None,
        user_agent: None,
        ip: None,
    })
}

/// Builds a [`Session`] one field at a time.
#[derive(Debug, Clone)]
pub struct SessionBuilder(Session);

impl SessionBuilder {
    pub fn id(mut self, id: SessionId) -> Self {
        self.0.id = id;
        self
    }

    pub fn family(mut self, family: FamilyId) -> Self {
        self.0.family_id = family;
        self
    }

    pub fn token_hash(mut self, hash: TokenHash) -> Self {
        self.0.refresh_token_hash = hash;
        self
    }

    /// Moves the creation, and the last use with it.
    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.0.created_at = at;
        self.0.last_used_at = at;
        self
    }

    pub fn last_used_at(mut self, at: OffsetDateTime) -> Self {
        self.0.last_used_at = at;
        self
    }

    pub fn expires_at(mut self, at: OffsetDateTime) -> Self {
        self.0.expires_at = at;
        self
    }

    pub fn revoked(
        mut self,
        at: OffsetDateTime,
        reason: RevokeReason,
        replaced_by: Option<SessionId>,
    ) -> Self {
        self.0.revoked_at = Some(at);
        self.0.revoke_reason = Some(reason);
        self.0.replaced_by = replaced_by;
        self
    }

    pub fn sealed(mut self, sealed: Vec<u8>) -> Self {
        self.0.sealed_refresh_token = Some(sealed);
        self
    }

    pub fn user_agent(mut self, user_agent: &str) -> Self {
        self.0.user_agent = Some(user_agent.to_owned());
        self
    }

    pub fn ip(mut self, ip: &str) -> Self {
        self.0.ip = Some(ip.to_owned());
        self
    }

    pub fn build(self) -> Session {
        self.0
    }
}

/// Inserts a new user, as every session needs an owner that exists.
pub async fn stored_user(storage: &FreshStorage) -> User {
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert user");
    user
}

/// Inserts sessions directly, each as its own unit, in the order given.
pub async fn store_sessions(storage: &FreshStorage, sessions: &[&Session]) {
    for session in sessions {
        storage
            .sessions()
            .insert(session)
            .await
            .expect("insert session");
    }
}

/// The stored state of a session, read outside any transaction.
pub async fn stored_session(storage: &FreshStorage, id: SessionId) -> Option<Session> {
    storage.sessions().find(id).await.expect("find session")
}

/// Panics unless `result` is the `Duplicate` error naming `constraint`.
#[track_caller]
pub fn assert_duplicate<T: std::fmt::Debug>(result: Result<T, RepoError>, constraint: &str) {
    match result {
        Err(RepoError::Duplicate { constraint: actual }) => assert_eq!(
            actual, constraint,
            "the duplicate must name the broken constraint"
        ),
        other => panic!("expected Duplicate {{ constraint: {constraint:?} }}, got {other:?}"),
    }
}

#[track_caller]
fn email(address: &str) -> Email {
    Email::parse(address).unwrap_or_else(|e| panic!("fixture e-mail {address:?}: {e:?}"))
}

#[track_caller]
fn display_name(name: &str) -> DisplayName {
    DisplayName::parse(name).unwrap_or_else(|e| panic!("fixture display name {name:?}: {e:?}"))
}
