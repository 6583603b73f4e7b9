//! API-key use cases on the memory storage, with a clock the tests move by
//! hand: the expiry a new key may have, the owner's list (newest first,
//! revoked keys gone), and revocation of the owner's own live keys only,
//! each with its audit entry.

use std::sync::Arc;

use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::ClientInfo;
use application::api_keys::{ApiKeyError, ApiKeyService, CreatedKey};
use domain::ports::{Clock, Repositories};
use domain::{ApiKey, ApiKeyId, ApiKeyName, AuditFilter, UserId, ValidationErrors};
use time::{Duration, OffsetDateTime};

struct Harness {
    storage: Arc<MemoryStorage>,
    clock: Arc<ManualClock>,
    keys: ApiKeyService,
}

impl Harness {
    fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        let clock = Arc::new(ManualClock::starting_now());
        let keys = ApiKeyService::new(storage.clone(), clock.clone(), Arc::new(OsRandom));
        Self {
            storage,
            clock,
            keys,
        }
    }

    fn user(&self) -> UserId {
        UserId::generate(self.clock.now(), &OsRandom)
    }

    async fn create(
        &self,
        owner: UserId,
        name: &str,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<CreatedKey, ApiKeyError> {
        let name = ApiKeyName::parse(name).expect("a valid key name");
        self.keys
            .create(owner, name, expires_at, &ClientInfo::default())
            .await
    }

    async fn key(&self, owner: UserId, name: &str) -> ApiKey {
        self.create(owner, name, None).await.expect("a key").key
    }

    async fn list(&self, owner: UserId) -> Vec<ApiKey> {
        self.keys.list(owner).await.expect("list")
    }

    /// The actions of every audit entry about the key `id`, newest first.
    async fn actions_of(&self, id: ApiKeyId) -> Vec<String> {
        let filter = AuditFilter {
            resource_id: Some(id.to_string()),
            ..AuditFilter::default()
        };
        self.storage
            .audit()
            .list(&filter, None, 100)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

/// The fields a validation error names, or a panic on any other answer.
fn invalid_fields(result: Result<CreatedKey, ApiKeyError>) -> Vec<&'static str> {
    match result {
        Err(ApiKeyError::Validation(errors)) => errors.0.iter().map(|e| e.field).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[tokio::test]
async fn an_expiry_in_the_past_or_exactly_now_is_refused_naming_expires_at() {
    let h = Harness::new();
    let owner = h.user();
    let now = h.clock.now();

    let past = h
        .create(owner, "past", Some(now - Duration::seconds(1)))
        .await;
    let exactly_now = h.create(owner, "now", Some(now)).await;

    assert_eq!(invalid_fields(past), ["expiresAt"]);
    assert_eq!(invalid_fields(exactly_now), ["expiresAt"]);
    assert_eq!(h.list(owner).await, []);
}

#[tokio::test]
async fn an_expiry_one_second_ahead_or_none_is_accepted() {
    let h = Harness::new();
    let owner = h.user();
    let soon = h.clock.now() + Duration::seconds(1);

    let expiring = h.create(owner, "soon", Some(soon)).await.expect("soon");
    let lasting = h.create(owner, "lasting", None).await.expect("no expiry");

    assert_eq!(expiring.key.expires_at, Some(soon));
    assert_eq!(lasting.key.expires_at, None);
    assert_eq!(h.actions_of(expiring.key.id).await, ["api_key.created"]);
}

#[tokio::test]
async fn check_expiry_adds_its_error_to_those_already_found() {
    let h = Harness::new();
    let now = h.clock.now();
    let mut refused = ValidationErrors::single("name", "is required");
    let mut accepted = ValidationErrors::single("name", "is required");
    let mut none = ValidationErrors::default();

    h.keys.check_expiry(Some(now), &mut refused);
    h.keys
        .check_expiry(Some(now + Duration::seconds(1)), &mut accepted);
    h.keys.check_expiry(None, &mut none);

    let fields = |errors: &ValidationErrors| errors.0.iter().map(|e| e.field).collect::<Vec<_>>();
    assert_eq!(fields(&refused), ["name", "expiresAt"]);
    assert_eq!(fields(&accepted), ["name"]);
    assert_eq!(fields(&none), Vec::<&str>::new());
}

#[tokio::test]
async fn the_list_holds_the_owners_live_keys_newest_first() {
    let h = Harness::new();
    let (owner, other) = (h.user(), h.user());
    let first = h.key(owner, "first").await;
    h.clock.advance(Duration::seconds(1));
    let second = h.key(owner, "second").await;
    h.clock.advance(Duration::seconds(1));
    let third = h.key(owner, "third").await;
    let theirs = h.key(other, "theirs").await;

    let before = h.list(owner).await;
    h.keys
        .revoke(owner, second.id, &ClientInfo::default())
        .await
        .expect("revoke");
    let after = h.list(owner).await;

    assert_eq!(before, [third.clone(), second, first.clone()]);
    assert_eq!(after, [third, first]);
    assert_eq!(h.list(other).await, [theirs]);
}

#[tokio::test]
async fn a_revoke_is_audited_and_the_key_leaves_the_list() {
    let h = Harness::new();
    let owner = h.user();
    let key = h.key(owner, "script").await;
    h.clock.advance(Duration::seconds(3));

    h.keys
        .revoke(owner, key.id, &ClientInfo::default())
        .await
        .expect("revoke");

    assert_eq!(h.list(owner).await, []);
    assert_eq!(
        h.actions_of(key.id).await,
        ["api_key.revoked", "api_key.created"]
    );
    let stored = h
        .storage
        .api_keys()
        .find_by_hash(&key.key_hash)
        .await
        .expect("find");
    assert_eq!(
        stored.and_then(|k| k.revoked_at),
        Some(h.clock.now()),
        "the key is revoked as of the call"
    );
}

#[tokio::test]
async fn revoking_an_unknown_key_another_users_key_or_a_key_twice_is_not_found() {
    let h = Harness::new();
    let (owner, other) = (h.user(), h.user());
    let mine = h.key(owner, "mine").await;
    let theirs = h.key(other, "theirs").await;
    let unknown = ApiKeyId::generate(h.clock.now(), &OsRandom);
    let client = ClientInfo::default();

    let of_unknown = h.keys.revoke(owner, unknown, &client).await;
    let of_theirs = h.keys.revoke(owner, theirs.id, &client).await;
    h.keys.revoke(owner, mine.id, &client).await.expect("once");
    let twice = h.keys.revoke(owner, mine.id, &client).await;

    for result in [of_unknown, of_theirs, twice] {
        assert!(matches!(result, Err(ApiKeyError::NotFound)), "{result:?}");
    }
    assert_eq!(h.list(other).await, std::slice::from_ref(&theirs));
    assert_eq!(h.actions_of(theirs.id).await, ["api_key.created"]);
    assert_eq!(
        h.actions_of(mine.id).await,
        ["api_key.revoked", "api_key.created"]
    );
    assert_eq!(h.actions_of(unknown).await, Vec::<String>::new());
}
