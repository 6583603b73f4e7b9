//! Authentication use cases on the memory adapters, with a clock the tests
//! move by hand, and mockall mocks where a port must fail.

use std::sync::Arc;

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_memory::{InProcessRateLimiter, MemoryStorage};
use adapter_paseto::PasetoSigner;
use adapter_system::{ManualClock, OsRandom};
use application::auth::{
    AuthError, AuthPolicy, AuthPorts, AuthService, ClientInfo, IssuedSession, LogoutScope,
    Registration, TokenSealer,
};
use async_trait::async_trait;
use domain::ports::{
    Clock, HashError, PasswordHasher, Repositories, RepositorySet, Storage, Transaction,
    UserRepository, Verification,
};
use domain::{
    Email, Password, PasswordHash, RefreshToken, RepoError, Role, UserId, ValidationErrors,
};
use mockall::mock;
use secrecy::{SecretBox, SecretString};
use time::{Duration, OffsetDateTime};

const PASSWORD: &str = "correct horse battery staple";

fn fast_argon2() -> Argon2Params {
    Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    }
}

struct Harness {
    auth: AuthService,
    storage: Arc<MemoryStorage>,
    clock: Arc<ManualClock>,
}

struct HarnessBuilder {
    storage: Arc<MemoryStorage>,
    clock: Arc<ManualClock>,
    hasher: Arc<dyn PasswordHasher>,
    policy: AuthPolicy,
}

impl HarnessBuilder {
    fn new() -> Self {
        Self {
            storage: Arc::new(MemoryStorage::new()),
            clock: Arc::new(ManualClock::starting_now()),
            hasher: argon2(fast_argon2()),
            policy: AuthPolicy::default(),
        }
    }

    fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = hasher;
        self
    }

    fn storage(mut self, storage: Arc<MemoryStorage>) -> Self {
        self.storage = storage;
        self
    }

    fn admin(mut self, email: &str) -> Self {
        self.policy.admin_emails.insert(email.to_owned());
        self
    }

    fn build(self) -> Harness {
        let auth = service(
            self.storage.clone(),
            self.hasher,
            self.clock.clone(),
            self.policy,
        );
        Harness {
            auth,
            storage: self.storage,
            clock: self.clock,
        }
    }
}

fn argon2(params: Argon2Params) -> Arc<dyn PasswordHasher> {
    Arc::new(
        Argon2Hasher::new(
            params,
            2,
            std::time::Duration::from_secs(5),
            Arc::new(OsRandom),
        )
        .expect("argon2"),
    )
}

fn service(
    storage: Arc<dyn Storage>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<ManualClock>,
    policy: AuthPolicy,
) -> AuthService {
    let signer = PasetoSigner::ephemeral(
        &OsRandom,
        "https://roster.test",
        "https://roster.test/api/v1",
    )
    .expect("signer");
    let ports = AuthPorts {
        storage,
        hasher,
        signer: Arc::new(signer),
        limiter: Arc::new(InProcessRateLimiter::new(clock.clone())),
        clock,
        random: Arc::new(OsRandom),
    };
    AuthService::new(
        ports,
        TokenSealer::new(&SecretBox::new(Box::new([7; 32]))),
        policy,
    )
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        request_id: Some("req-1".into()),
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

/// A registration parsed as the driving adapter does, every field at fault
/// named.
fn registration(
    email: &str,
    password: &str,
    display_name: &str,
) -> Result<Registration, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let email = errors.collect(Email::parse(email));
    let password = errors.collect(Password::parse(password, "password"));
    let display_name = errors.collect(domain::DisplayName::parse(display_name));
    match (email, password, display_name) {
        (Some(email), Some(password), Some(display_name)) => Ok(Registration {
            email,
            password,
            display_name,
        }),
        _ => Err(errors),
    }
}

fn new_password(raw: &str) -> Password {
    Password::parse(raw, "newPassword").expect("a valid new password")
}

impl Harness {
    async fn register(&self, email: &str) -> IssuedSession {
        self.auth
            .register(
                registration(email, PASSWORD, "Ana").expect("a valid registration"),
                &client(),
            )
            .await
            .expect("registration")
    }

    /// The API key service on this harness's storage and clock, and a key
    /// named `script` it created for `owner`.
    async fn api_key(
        &self,
        owner: UserId,
    ) -> (
        application::api_keys::ApiKeyService,
        application::api_keys::CreatedKey,
    ) {
        let keys = application::api_keys::ApiKeyService::new(
            self.storage.clone(),
            self.clock.clone(),
            Arc::new(OsRandom),
        );
        let created = keys
            .create(
                owner,
                domain::ApiKeyName::parse("script").expect("name"),
                None,
                &client(),
            )
            .await
            .expect("key");
        (keys, created)
    }

    async fn active_sessions(&self, user: UserId) -> usize {
        self.storage
            .sessions()
            .list_active(user, self.clock.now())
            .await
            .expect("list")
            .len()
    }
}

// --- Registration and login --------------------------------------------------

#[test]
fn registration_reports_every_broken_rule_at_once() {
    // Parsed by the driving adapter: such a registration never reaches
    // the use case.
    let errors = registration("not an email", "short", "  ").expect_err("invalid");

    let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
    assert_eq!(fields, ["email", "password", "displayName"]);
}

#[tokio::test]
async fn registering_a_taken_email_in_another_case_is_refused() {
    let h = HarnessBuilder::new().build();
    h.register("ana@example.com").await;

    let err = h
        .auth
        .register(
            registration(" ANA@example.com ", PASSWORD, "Other").expect("valid"),
            &client(),
        )
        .await
        .expect_err("taken");

    assert!(matches!(err, AuthError::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn admin_emails_get_the_admin_role_at_registration() {
    let h = HarnessBuilder::new().admin("boss@example.com").build();

    let boss = h.register("Boss@Example.com").await;
    let other = h.register("ana@example.com").await;

    assert_eq!(boss.user.role, Role::Admin);
    assert_eq!(other.user.role, Role::User);
}

#[tokio::test]
async fn login_answers_the_same_for_unknown_email_and_wrong_password() {
    let h = HarnessBuilder::new().build();
    h.register("ana@example.com").await;

    let unknown = h
        .auth
        .login("bob@example.com", secret(PASSWORD), &client())
        .await;
    let wrong = h
        .auth
        .login("ana@example.com", secret("wrong password!"), &client())
        .await;
    let malformed = h
        .auth
        .login("not-an-email", secret(PASSWORD), &client())
        .await;

    for result in [unknown, wrong, malformed] {
        assert!(
            matches!(result, Err(AuthError::InvalidCredentials)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_disabled_account_is_told_so_only_after_a_correct_password() {
    let h = HarnessBuilder::new().build();
    insert_disabled_user(&h, "ana@example.com").await;

    let wrong = h
        .auth
        .login("ana@example.com", secret("wrong password!"), &client())
        .await;
    let right = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await;

    assert!(
        matches!(wrong, Err(AuthError::InvalidCredentials)),
        "{wrong:?}"
    );
    assert!(matches!(right, Err(AuthError::Disabled)), "{right:?}");
}

/// Disabling is an admin action that does not exist yet, so the disabled
/// user is stored directly.
async fn insert_disabled_user(h: &Harness, email: &str) {
    let password = Password::parse(PASSWORD, "password").expect("valid");
    let now = h.clock.now();
    let user = domain::User {
        id: UserId::generate(now, &OsRandom),
        email: Email::parse(email).expect("valid"),
        display_name: domain::DisplayName::parse("Ana").expect("valid"),
        role: Role::User,
        password_hash: argon2(fast_argon2()).hash(&password).await.expect("hash"),
        disabled: true,
        created_at: now,
        updated_at: now,
        last_login_at: None,
    };
    h.storage.users().insert(&user).await.expect("insert");
}

#[tokio::test]
async fn an_outdated_hash_is_replaced_at_the_next_successful_login() {
    let storage = Arc::new(MemoryStorage::new());
    let before = HarnessBuilder::new()
        .storage(storage.clone())
        .hasher(argon2(Argon2Params {
            memory_kib: 512,
            ..fast_argon2()
        }))
        .build();
    let ana = before.register("ana@example.com").await;
    assert!(ana.user.password_hash.as_str().contains("m=512,"));
    let after = HarnessBuilder::new().storage(storage.clone()).build();

    after
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");

    let stored = storage
        .users()
        .find_by_id(ana.user.id)
        .await
        .expect("find")
        .expect("exists");
    assert!(
        stored.password_hash.as_str().contains("m=1024,"),
        "{:?}",
        stored.password_hash.as_str()
    );
    after
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("the new hash verifies");
}

// --- Refresh: rotation, grace window, reuse, lifetimes ------------------------

#[tokio::test]
async fn refresh_rotates_into_a_new_session_and_revokes_the_old() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;

    let second = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");

    assert_ne!(second.session_id, first.session_id);
    assert_ne!(second.refresh_token.expose(), first.refresh_token.expose());
    assert!(matches!(
        h.auth.authenticate(first.access_token.expose()).await,
        Err(AuthError::Unauthenticated)
    ));
    h.auth
        .authenticate(second.access_token.expose())
        .await
        .expect("the new session authenticates");
    assert_eq!(h.active_sessions(first.user.id).await, 1);
}

#[tokio::test]
async fn sixteen_concurrent_refreshes_create_exactly_one_session() {
    let h = Arc::new(HarnessBuilder::new().build());
    let first = h.register("ana@example.com").await;

    let results = futures::future::join_all((0..16).map(|_| {
        let h = Arc::clone(&h);
        let token = first.refresh_token.clone();
        tokio::spawn(async move { h.auth.refresh(&token, &client()).await })
    }))
    .await;

    let issued: Vec<IssuedSession> = results
        .into_iter()
        .map(|r| r.expect("task").expect("every refresh succeeds"))
        .collect();
    assert!(issued.iter().all(|i| i.session_id == issued[0].session_id));
    assert!(
        issued
            .iter()
            .all(|i| i.refresh_token.expose() == issued[0].refresh_token.expose())
    );
    assert_eq!(h.active_sessions(first.user.id).await, 1);
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_session_back() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;
    let rotated = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");

    h.clock.advance(Duration::seconds(10));
    let retried = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("retry");

    assert_eq!(retried.session_id, rotated.session_id);
    assert_eq!(
        retried.refresh_token.expose(),
        rotated.refresh_token.expose()
    );
    assert_eq!(h.active_sessions(first.user.id).await, 1);
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;
    let rotated = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");

    h.clock.advance(Duration::seconds(11));
    let reuse = h.auth.refresh(&first.refresh_token, &client()).await;

    assert!(
        matches!(reuse, Err(AuthError::Unauthenticated)),
        "{reuse:?}"
    );
    assert!(matches!(
        h.auth.refresh(&rotated.refresh_token, &client()).await,
        Err(AuthError::Unauthenticated)
    ));
    assert!(matches!(
        h.auth.authenticate(rotated.access_token.expose()).await,
        Err(AuthError::Unauthenticated)
    ));
    assert_eq!(h.active_sessions(first.user.id).await, 0);
}

#[tokio::test]
async fn reuse_of_an_older_token_revokes_the_family_even_within_the_window() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;
    let second = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");
    let third = h
        .auth
        .refresh(&second.refresh_token, &client())
        .await
        .expect("refresh");

    let reuse = h.auth.refresh(&first.refresh_token, &client()).await;

    assert!(
        matches!(reuse, Err(AuthError::Unauthenticated)),
        "{reuse:?}"
    );
    assert!(matches!(
        h.auth.authenticate(third.access_token.expose()).await,
        Err(AuthError::Unauthenticated)
    ));
}

#[tokio::test]
async fn reuse_in_one_family_leaves_the_users_other_logins_alone() {
    let h = HarnessBuilder::new().build();
    let phone = h.register("ana@example.com").await;
    let laptop = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");
    h.auth
        .refresh(&phone.refresh_token, &client())
        .await
        .expect("refresh");

    h.clock.advance(Duration::seconds(11));
    let reused = h.auth.refresh(&phone.refresh_token, &client()).await;

    // The reuse is refused (and ends the phone's family)…
    assert!(
        matches!(reused, Err(AuthError::Unauthenticated)),
        "{reused:?}"
    );
    // …while the laptop's login lives on.
    h.auth
        .authenticate(laptop.access_token.expose())
        .await
        .expect("the other family lives on");
}

#[tokio::test]
async fn a_refresh_token_unused_for_the_idle_lifetime_expires() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;

    h.clock.advance(Duration::days(7) + Duration::seconds(1));
    let result = h.auth.refresh(&first.refresh_token, &client()).await;

    assert!(
        matches!(result, Err(AuthError::Unauthenticated)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_family_ends_at_its_absolute_lifetime_whatever_its_refreshes() {
    let h = HarnessBuilder::new().build();
    let mut current = h.register("ana@example.com").await;
    for _ in 0..4 {
        h.clock.advance(Duration::days(6));
        current = h
            .auth
            .refresh(&current.refresh_token, &client())
            .await
            .expect("within 30 days");
    }
    assert!(current.refresh_token_expires_at <= h.clock.now() + Duration::days(6));

    h.clock.advance(Duration::days(6));
    let result = h.auth.refresh(&current.refresh_token, &client()).await;

    assert!(
        matches!(result, Err(AuthError::Unauthenticated)),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_access_token_is_refused_once_it_expires() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;

    h.clock.advance(Duration::seconds(899));
    h.auth
        .authenticate(first.access_token.expose())
        .await
        .expect("still valid");
    h.clock.advance(Duration::seconds(1));

    assert!(matches!(
        h.auth.authenticate(first.access_token.expose()).await,
        Err(AuthError::Unauthenticated)
    ));
}

#[tokio::test]
async fn grace_copies_are_erased_once_the_window_is_over() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;
    let rotated = h
        .auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");

    assert_eq!(h.auth.purge_expired_grace_copies().await.expect("purge"), 0);
    h.clock.advance(Duration::seconds(11));
    assert_eq!(h.auth.purge_expired_grace_copies().await.expect("purge"), 1);

    let session = h
        .storage
        .sessions()
        .find(rotated.session_id)
        .await
        .expect("find")
        .expect("exists");
    assert!(session.sealed_refresh_token.is_none());
}

// --- Logout, sessions, password ------------------------------------------------

#[tokio::test]
async fn logout_scopes_end_this_other_or_every_session() {
    let h = HarnessBuilder::new().build();
    let a = h.register("ana@example.com").await;
    let b = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");
    let c = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");
    let principal = |issued: &IssuedSession| {
        let auth = &h.auth;
        let token = issued.access_token.expose().to_owned();
        async move { auth.authenticate(&token).await }
    };

    let pa = principal(&a).await.expect("a");
    h.auth
        .logout(&pa, LogoutScope::Local, &client())
        .await
        .expect("local");
    assert!(principal(&a).await.is_err());
    assert!(principal(&b).await.is_ok());

    let pb = principal(&b).await.expect("b");
    h.auth
        .logout(&pb, LogoutScope::Others, &client())
        .await
        .expect("others");
    assert!(principal(&b).await.is_ok());
    assert!(principal(&c).await.is_err());

    h.auth
        .logout(&pb, LogoutScope::Global, &client())
        .await
        .expect("global");
    assert!(principal(&b).await.is_err());
}

#[tokio::test]
async fn another_users_session_cannot_be_revoked() {
    let h = HarnessBuilder::new().build();
    let ana = h.register("ana@example.com").await;
    let bob = h.register("bob@example.com").await;
    let bob_principal = h
        .auth
        .authenticate(bob.access_token.expose())
        .await
        .expect("bob");

    let result = h
        .auth
        .revoke_session(&bob_principal, ana.session_id, &client())
        .await;

    assert!(matches!(result, Err(AuthError::NotFound)), "{result:?}");
    h.auth
        .authenticate(ana.access_token.expose())
        .await
        .expect("ana's session is untouched");
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let h = HarnessBuilder::new().build();
    let here = h.register("ana@example.com").await;
    let elsewhere = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");
    let principal = h
        .auth
        .authenticate(here.access_token.expose())
        .await
        .expect("here");

    h.auth
        .change_password(
            &principal,
            secret(PASSWORD),
            new_password("a brand new passphrase"),
            &client(),
        )
        .await
        .expect("change");

    h.auth
        .authenticate(here.access_token.expose())
        .await
        .expect("this session stays");
    assert!(
        h.auth
            .authenticate(elsewhere.access_token.expose())
            .await
            .is_err()
    );
    assert!(
        h.auth
            .login("ana@example.com", secret(PASSWORD), &client())
            .await
            .is_err()
    );
    h.auth
        .login(
            "ana@example.com",
            secret("a brand new passphrase"),
            &client(),
        )
        .await
        .expect("the new password works");
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let h = HarnessBuilder::new().build();
    let here = h.register("ana@example.com").await;
    let principal = h
        .auth
        .authenticate(here.access_token.expose())
        .await
        .expect("here");

    let result = h
        .auth
        .change_password(
            &principal,
            secret("not my password"),
            new_password("a brand new passphrase"),
            &client(),
        )
        .await;

    let Err(AuthError::Validation(errors)) = result else {
        panic!("expected a validation error, got {result:?}")
    };
    assert_eq!(errors.0[0].field, "currentPassword");
    h.auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("old password still works");
}

// --- Failing ports (mockall) ----------------------------------------------------

mock! {
    Hasher {}
    #[async_trait]
    impl PasswordHasher for Hasher {
        async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;
        async fn verify(&self, candidate: &SecretString, hash: &PasswordHash) -> Result<Verification, HashError>;
        async fn verify_dummy(&self, candidate: &SecretString) -> Result<(), HashError>;
    }
}

/// A user repository whose database is down: every call answers
/// `Unavailable`, as the PostgreSQL adapter does when it loses the server.
struct UnavailableUsers;

fn down() -> RepoError {
    RepoError::Unavailable("connection refused".into())
}

#[async_trait]
impl UserRepository for UnavailableUsers {
    async fn insert(&self, _: &domain::User) -> Result<(), RepoError> {
        Err(down())
    }
    async fn find_by_id(&self, _: UserId) -> Result<Option<domain::User>, RepoError> {
        Err(down())
    }
    async fn find_by_email(&self, _: &Email) -> Result<Option<domain::User>, RepoError> {
        Err(down())
    }
    async fn replace_password_hash(
        &self,
        _: UserId,
        _: &PasswordHash,
        _: &PasswordHash,
        _: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Err(down())
    }
    async fn set_role(&self, _: UserId, _: Role, _: OffsetDateTime) -> Result<bool, RepoError> {
        Err(down())
    }
    async fn record_login(&self, _: UserId, _: OffsetDateTime) -> Result<(), RepoError> {
        Err(down())
    }
    async fn set_disabled(&self, _: UserId, _: bool, _: OffsetDateTime) -> Result<bool, RepoError> {
        Err(down())
    }
    async fn list(
        &self,
        _: Option<&str>,
        _: Option<UserId>,
        _: usize,
    ) -> Result<Vec<domain::User>, RepoError> {
        Err(down())
    }
}

#[tokio::test]
async fn an_unknown_email_still_spends_one_verification() {
    let mut hasher = MockHasher::new();
    hasher.expect_verify_dummy().times(1).returning(|_| Ok(()));
    hasher.expect_verify().never();
    let h = HarnessBuilder::new().hasher(Arc::new(hasher)).build();

    let result = h
        .auth
        .login("nobody@example.com", secret(PASSWORD), &client())
        .await;

    assert!(
        matches!(result, Err(AuthError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_saturated_hasher_answers_unavailable_and_stores_nothing() {
    let mut hasher = MockHasher::new();
    hasher.expect_hash().returning(|_| Err(HashError::Busy));
    let h = HarnessBuilder::new().hasher(Arc::new(hasher)).build();

    let result = h
        .auth
        .register(
            registration("ana@example.com", PASSWORD, "Ana").expect("valid"),
            &client(),
        )
        .await;

    assert!(matches!(result, Err(AuthError::Unavailable)), "{result:?}");
    let email = Email::parse("ana@example.com").expect("valid");
    assert!(
        h.storage
            .users()
            .find_by_email(&email)
            .await
            .expect("find")
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_rehash_does_not_fail_the_login() {
    let h = HarnessBuilder::new().build();
    h.register("ana@example.com").await;
    let mut hasher = MockHasher::new();
    hasher
        .expect_verify()
        .returning(|_, _| Ok(Verification::Match { needs_rehash: true }));
    hasher
        .expect_hash()
        .returning(|_| Err(HashError::Internal("disk on fire".into())));
    let auth = service(
        h.storage.clone(),
        Arc::new(hasher),
        h.clock.clone(),
        AuthPolicy::default(),
    );

    let result = auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await;

    assert!(result.is_ok(), "{result:?}");
}

/// Memory storage whose user repository is down, for storage failures.
struct StorageWithUsers {
    users: UnavailableUsers,
    memory: MemoryStorage,
}

impl Repositories for StorageWithUsers {
    fn repositories(&self) -> &dyn RepositorySet {
        self.memory.repositories()
    }
    fn users(&self) -> &dyn UserRepository {
        &self.users
    }
}

#[async_trait]
impl Storage for StorageWithUsers {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        self.memory.begin().await
    }
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_storage_outage_answers_unavailable() {
    let storage = Arc::new(StorageWithUsers {
        users: UnavailableUsers,
        memory: MemoryStorage::new(),
    });
    let auth = service(
        storage,
        argon2(fast_argon2()),
        Arc::new(ManualClock::starting_now()),
        AuthPolicy::default(),
    );

    let result = auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await;

    assert!(matches!(result, Err(AuthError::Unavailable)), "{result:?}");
}

#[tokio::test]
async fn a_forged_refresh_token_is_refused() {
    let h = HarnessBuilder::new().build();
    h.register("ana@example.com").await;

    let result = h
        .auth
        .refresh(&RefreshToken::from_client("forged"), &client())
        .await;

    assert!(
        matches!(result, Err(AuthError::Unauthenticated)),
        "{result:?}"
    );
}

// --- Audit trail ------------------------------------------------------------------

async fn trail(h: &Harness, user: UserId) -> Vec<domain::AuditEntry> {
    let filter = domain::AuditFilter {
        actor_id: Some(user),
        ..Default::default()
    };
    h.storage
        .audit()
        .list(&filter, None, 100)
        .await
        .expect("list")
}

#[tokio::test]
async fn every_auth_event_is_recorded_with_its_client_and_no_secret() {
    let h = HarnessBuilder::new().build();
    let here = h.register("ana@example.com").await;
    let there = h
        .auth
        .login("ana@example.com", secret(PASSWORD), &client())
        .await
        .expect("login");
    let principal = h
        .auth
        .authenticate(here.access_token.expose())
        .await
        .expect("here");
    h.auth
        .revoke_session(&principal, there.session_id, &client())
        .await
        .expect("revoke");
    h.auth
        .change_password(
            &principal,
            secret(PASSWORD),
            new_password("a brand new passphrase"),
            &client(),
        )
        .await
        .expect("change");
    h.auth
        .logout(&principal, LogoutScope::Local, &client())
        .await
        .expect("logout");

    let entries = trail(&h, here.user.id).await;

    let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "auth.register",
            "auth.login",
            "auth.session_revoked",
            "auth.password_changed",
            "auth.logout"
        ]
    );
    for entry in &entries {
        assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.request_id.as_deref(), Some("req-1"));
        assert!(entry.changes.is_empty(), "{entry:?}");
    }
    let debug = format!("{entries:?}");
    assert!(!debug.contains("argon2") && !debug.contains(PASSWORD));
}

#[tokio::test]
async fn reuse_detection_is_recorded_in_the_trail() {
    let h = HarnessBuilder::new().build();
    let first = h.register("ana@example.com").await;
    h.auth
        .refresh(&first.refresh_token, &client())
        .await
        .expect("refresh");
    h.clock.advance(Duration::seconds(11));

    let _ = h.auth.refresh(&first.refresh_token, &client()).await;

    let entries = trail(&h, first.user.id).await;
    assert_eq!(entries[0].action, "auth.refresh_reuse_detected");
    assert_eq!(entries[0].resource_id, first.session_id.to_string());
}

// --- The policy and disabled users ------------------------------------------------

#[tokio::test]
async fn the_service_answers_the_policy_it_was_built_with() {
    let policy = AuthPolicy {
        access_ttl: Duration::minutes(5),
        touch_interval: Duration::seconds(30),
        admin_emails: ["boss@example.com".to_owned()].into(),
        ..AuthPolicy::default()
    };
    let auth = service(
        Arc::new(MemoryStorage::new()),
        argon2(fast_argon2()),
        Arc::new(ManualClock::starting_now()),
        policy,
    );

    let answered = auth.policy();

    assert_eq!(answered.access_ttl, Duration::minutes(5));
    assert_eq!(answered.touch_interval, Duration::seconds(30));
    assert_eq!(
        answered.admin_emails,
        ["boss@example.com".to_owned()].into()
    );
}

/// Marks the user disabled in storage without touching their sessions or
/// keys (the admin use case revokes those too): what every credential
/// check must still refuse.
async fn disable_in_storage(h: &Harness, user: UserId) {
    let changed = h
        .storage
        .users()
        .set_disabled(user, true, h.clock.now())
        .await
        .expect("disable");
    assert!(changed);
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh_a_live_session() {
    let h = HarnessBuilder::new().build();
    let ana = h.register("ana@example.com").await;
    disable_in_storage(&h, ana.user.id).await;

    let refreshed = h.auth.refresh(&ana.refresh_token, &client()).await;
    let principal = h.auth.principal_from_refresh(&ana.refresh_token).await;

    assert!(
        matches!(refreshed, Err(AuthError::Disabled)),
        "{refreshed:?}"
    );
    assert!(
        matches!(principal, Err(AuthError::Disabled)),
        "{principal:?}"
    );
    // The refused refresh rotated nothing.
    assert_eq!(h.active_sessions(ana.user.id).await, 1);
}

#[tokio::test]
async fn a_user_disabled_after_a_refresh_does_not_get_its_retry_back() {
    let h = HarnessBuilder::new().build();
    let ana = h.register("ana@example.com").await;
    h.auth
        .refresh(&ana.refresh_token, &client())
        .await
        .expect("refresh");
    disable_in_storage(&h, ana.user.id).await;

    h.clock.advance(Duration::seconds(5));
    let retried = h.auth.refresh(&ana.refresh_token, &client()).await;

    assert!(matches!(retried, Err(AuthError::Disabled)), "{retried:?}");
}

#[tokio::test]
async fn a_disabled_users_api_key_is_refused() {
    let h = HarnessBuilder::new().build();
    let ana = h.register("ana@example.com").await;
    let (_, created) = h.api_key(ana.user.id).await;
    let before = h
        .auth
        .authenticate_caller(created.secret.expose())
        .await
        .expect("the key works while the user is enabled");
    disable_in_storage(&h, ana.user.id).await;

    let after = h.auth.authenticate_caller(created.secret.expose()).await;

    assert_eq!(before.user_id, ana.user.id);
    assert_eq!(
        before.credential,
        application::auth::Credential::ApiKey(created.key.id)
    );
    assert!(matches!(after, Err(AuthError::Disabled)), "{after:?}");
}

/// A session's and an API key's last use is written at most once per touch
/// interval: a request within it leaves the stored time alone, the first
/// one past it moves it to now. An access token is checked as a session,
/// a key as a key.
#[tokio::test]
async fn last_use_is_written_once_per_touch_interval_for_sessions_and_keys() {
    let h = HarnessBuilder::new().build();
    let interval = h.auth.policy().touch_interval;
    let ana = h.register("ana@example.com").await;
    let (keys, created) = h.api_key(ana.user.id).await;
    let session_used = || async {
        h.storage
            .sessions()
            .find(ana.session_id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    let key_used = || async { keys.list(ana.user.id).await.unwrap()[0].last_used_at };
    let token = ana.access_token.expose();
    let started = h.clock.now();

    // The key's first use is written at once.
    let by_key = h
        .auth
        .authenticate_caller(created.secret.expose())
        .await
        .unwrap();
    assert_eq!(
        by_key.credential,
        application::auth::Credential::ApiKey(created.key.id)
    );
    assert_eq!(key_used().await, Some(started));
    let by_token = h.auth.authenticate_caller(token).await.unwrap();
    assert_eq!(
        by_token.credential,
        application::auth::Credential::Session(ana.session_id)
    );

    // Exactly one interval later: still within it, nothing is written.
    h.clock.advance(interval);
    h.auth.authenticate_caller(token).await.unwrap();
    h.auth
        .authenticate_caller(created.secret.expose())
        .await
        .unwrap();
    assert_eq!(session_used().await, started);
    assert_eq!(key_used().await, Some(started));

    // A second past it: both move to now.
    h.clock.advance(Duration::seconds(1));
    let now = h.clock.now();
    h.auth.authenticate_caller(token).await.unwrap();
    h.auth
        .authenticate_caller(created.secret.expose())
        .await
        .unwrap();
    assert_eq!(session_used().await, now);
    assert_eq!(key_used().await, Some(now));
}
