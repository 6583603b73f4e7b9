//! Administration use cases on the memory adapters: who may call them, the
//! self-lockout rule, and that disabling a user, its revocations and its
//! audit entry land together or not at all.

mod support;

use domain::ports::Repositories;
use std::sync::Arc;

use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::ClientInfo;
use application::admin::{AdminError, AdminService, UserPatch};
use application::api_keys::ApiKeyService;
use application::auth::Principal;
use domain::ports::Clock;
use domain::{
    AuditEntry, AuditFilter, AuditValue, DisplayName, Email, FamilyId, PasswordHash, RefreshToken,
    Role, Session, SessionId, User, UserId,
};
use support::AuditFailsInTransactions;
use time::Duration;

struct Harness {
    storage: Arc<MemoryStorage>,
    clock: Arc<ManualClock>,
    admin: AdminService,
}

impl Harness {
    fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        let clock = Arc::new(ManualClock::starting_now());
        let admin = AdminService::new(storage.clone(), clock.clone(), Arc::new(OsRandom));
        Self {
            storage,
            clock,
            admin,
        }
    }

    /// A stored user with `role`, one live session and one API key.
    async fn user(&self, name: &str, role: Role) -> Principal {
        let now = self.clock.now();
        let id = UserId::generate(now, &OsRandom);
        let user = User {
            id,
            email: Email::parse(&format!("{name}@example.com")).expect("email"),
            display_name: DisplayName::parse(name).expect("name"),
            role,
            password_hash: PasswordHash::new("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA".into()),
            disabled: false,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        };
        self.storage.users().insert(&user).await.expect("user");
        let session = Session {
            id: SessionId::generate(now, &OsRandom),
            user_id: id,
            family_id: FamilyId::generate(now, &OsRandom),
            refresh_token_hash: RefreshToken::generate(&OsRandom).hash(),
            created_at: now,
            last_used_at: now,
            expires_at: now + Duration::days(7),
            family_expires_at: now + Duration::days(30),
            revoked_at: None,
            revoke_reason: None,
            replaced_by: None,
            sealed_refresh_token: None,
            user_agent: None,
            ip: None,
        };
        self.storage
            .sessions()
            .insert(&session)
            .await
            .expect("session");
        ApiKeyService::new(self.storage.clone(), self.clock.clone(), Arc::new(OsRandom))
            .create(
                id,
                domain::ApiKeyName::parse("script").expect("name"),
                None,
                &ClientInfo::default(),
            )
            .await
            .expect("key");
        Principal {
            user_id: id,
            session_id: session.id,
            role,
        }
    }

    async fn stored(&self, id: UserId) -> User {
        self.storage
            .users()
            .find_by_id(id)
            .await
            .expect("find")
            .expect("the user")
    }

    async fn live_sessions(&self, id: UserId) -> usize {
        self.storage
            .sessions()
            .list_active(id, self.clock.now())
            .await
            .expect("sessions")
            .len()
    }

    async fn live_keys(&self, id: UserId) -> usize {
        self.storage.api_keys().list(id).await.expect("keys").len()
    }

    async fn updates_of(&self, id: UserId) -> Vec<AuditEntry> {
        let filter = AuditFilter {
            resource_id: Some(id.to_string()),
            ..AuditFilter::default()
        };
        let entries = self
            .storage
            .audit()
            .list(&filter, None, 100)
            .await
            .expect("audit");
        entries
            .into_iter()
            .filter(|e| e.action == "user.updated")
            .collect()
    }
}

const DISABLE: UserPatch = UserPatch {
    role: None,
    disabled: Some(true),
};

#[tokio::test]
async fn a_caller_without_the_admin_role_is_forbidden_everything() {
    let h = Harness::new();
    let user = h.user("ana", Role::User).await;
    let other = h.user("bob", Role::User).await;

    let list = h.admin.list_users(&user, None, None, 10).await;
    let update = h
        .admin
        .update_user(&user, other.user_id, DISABLE, &ClientInfo::default())
        .await;
    let trail = h
        .admin
        .audit(&user, &AuditFilter::default(), None, 10)
        .await;

    assert!(matches!(list, Err(AdminError::Forbidden)), "{list:?}");
    assert!(matches!(update, Err(AdminError::Forbidden)), "{update:?}");
    assert!(matches!(trail, Err(AdminError::Forbidden)), "{trail:?}");
    assert!(!h.stored(other.user_id).await.disabled);
}

#[tokio::test]
async fn disabling_revokes_every_session_and_key_and_records_the_change() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let user = h.user("ana", Role::User).await;
    let bystander = h.user("bob", Role::User).await;
    h.clock.advance(Duration::seconds(5));

    let updated = h
        .admin
        .update_user(&admin, user.user_id, DISABLE, &ClientInfo::default())
        .await
        .expect("update");

    assert!(updated.disabled);
    assert_eq!(h.stored(user.user_id).await, updated);
    assert_eq!(h.live_sessions(user.user_id).await, 0);
    assert_eq!(h.live_keys(user.user_id).await, 0);
    assert_eq!(h.live_sessions(bystander.user_id).await, 1);
    assert_eq!(h.live_keys(bystander.user_id).await, 1);
    let entries = h.updates_of(user.user_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_id, Some(admin.user_id));
    assert_eq!(entries[0].resource_type, "user");
    let changes: Vec<(&str, &AuditValue, &AuditValue)> = entries[0]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.from, &c.to))
        .collect();
    assert_eq!(
        changes,
        [(
            "disabled",
            &AuditValue::Bool(false),
            &AuditValue::Bool(true)
        )]
    );
}

#[tokio::test]
async fn an_admin_cannot_demote_or_disable_themself() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let demote = UserPatch {
        role: Some(Role::User),
        disabled: None,
    };

    let demoted = h
        .admin
        .update_user(&admin, admin.user_id, demote, &ClientInfo::default())
        .await;
    let disabled = h
        .admin
        .update_user(&admin, admin.user_id, DISABLE, &ClientInfo::default())
        .await;

    assert!(
        matches!(demoted, Err(AdminError::CannotDemoteSelf)),
        "{demoted:?}"
    );
    assert!(
        matches!(disabled, Err(AdminError::CannotDisableSelf)),
        "{disabled:?}"
    );
    let stored = h.stored(admin.user_id).await;
    assert_eq!((stored.role, stored.disabled), (Role::Admin, false));
    assert!(h.updates_of(admin.user_id).await.is_empty());
}

#[tokio::test]
async fn an_empty_patch_is_invalid_and_an_unknown_user_is_not_found() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let user = h.user("ana", Role::User).await;

    let empty = h
        .admin
        .update_user(
            &admin,
            user.user_id,
            UserPatch::default(),
            &ClientInfo::default(),
        )
        .await;
    let unknown = h
        .admin
        .update_user(
            &admin,
            UserId::generate(h.clock.now(), &OsRandom),
            DISABLE,
            &ClientInfo::default(),
        )
        .await;

    assert!(matches!(empty, Err(AdminError::Validation(_))), "{empty:?}");
    assert!(matches!(unknown, Err(AdminError::NotFound)), "{unknown:?}");
}

#[tokio::test]
async fn when_the_audit_entry_cannot_be_written_the_user_stays_enabled_with_every_credential() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let user = h.user("ana", Role::User).await;
    let failing = AdminService::new(
        Arc::new(AuditFailsInTransactions(h.storage.clone())),
        h.clock.clone(),
        Arc::new(OsRandom),
    );
    let patch = UserPatch {
        role: Some(Role::Admin),
        disabled: Some(true),
    };

    let result = failing
        .update_user(&admin, user.user_id, patch, &ClientInfo::default())
        .await;

    assert!(matches!(result, Err(AdminError::Storage(_))), "{result:?}");
    let stored = h.stored(user.user_id).await;
    assert_eq!((stored.role, stored.disabled), (Role::User, false));
    assert_eq!(h.live_sessions(user.user_id).await, 1);
    assert_eq!(h.live_keys(user.user_id).await, 1);
}

#[tokio::test]
async fn the_user_list_pages_by_creation_and_searches() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let mut everyone = vec![admin.user_id];
    for name in ["ana", "bob", "cid"] {
        h.clock.advance(Duration::milliseconds(2));
        everyone.push(h.user(name, Role::User).await.user_id);
    }

    let first = h
        .admin
        .list_users(&admin, None, None, 3)
        .await
        .expect("first page");
    let second = h
        .admin
        .list_users(&admin, None, first.next_cursor.as_deref(), 3)
        .await
        .expect("second page");
    let found = h
        .admin
        .list_users(&admin, Some("BO"), None, 3)
        .await
        .expect("search");
    let garbage = h.admin.list_users(&admin, None, Some("garbage!"), 3).await;

    let walked: Vec<UserId> = first
        .users
        .iter()
        .chain(&second.users)
        .map(|u| u.id)
        .collect();
    assert_eq!(walked, everyone);
    assert_eq!(second.next_cursor, None);
    assert_eq!(
        found.users.iter().map(|u| u.id).collect::<Vec<_>>(),
        [everyone[2]]
    );
    assert!(
        matches!(garbage, Err(AdminError::Validation(_))),
        "{garbage:?}"
    );
}

// --- `roster admin grant` ------------------------------------------------------

async fn grant(h: &Harness, email: &str) -> Result<(), AdminError> {
    let email = Email::parse(email).expect("email");
    application::admin::grant_admin(h.storage.as_ref(), h.clock.as_ref(), &OsRandom, &email).await
}

#[tokio::test]
async fn granting_admin_gives_the_role_and_records_it_once() {
    let h = Harness::new();
    let user = h.user("ana", Role::User).await;
    let bystander = h.user("bob", Role::User).await;
    h.clock.advance(Duration::seconds(5));

    grant(&h, "ana@example.com").await.expect("grant");
    grant(&h, "ana@example.com").await.expect("grant again");

    let stored = h.stored(user.user_id).await;
    assert_eq!(stored.role, Role::Admin);
    assert_eq!(stored.updated_at, h.clock.now());
    assert_eq!(h.stored(bystander.user_id).await.role, Role::User);
    let entries = h.updates_of(user.user_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_id, None);
    assert_eq!(entries[0].resource_type, "user");
    assert_eq!(entries[0].resource_id, user.user_id.to_string());
    let changes: Vec<(&str, &AuditValue, &AuditValue)> = entries[0]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.from, &c.to))
        .collect();
    assert_eq!(
        changes,
        [(
            "role",
            &AuditValue::Text("user".into()),
            &AuditValue::Text("admin".into())
        )]
    );
}

#[tokio::test]
async fn granting_admin_to_an_admin_writes_nothing() {
    let h = Harness::new();
    let admin = h.user("boss", Role::Admin).await;
    let before = h.stored(admin.user_id).await;
    h.clock.advance(Duration::seconds(5));

    grant(&h, "boss@example.com").await.expect("grant");

    assert_eq!(h.stored(admin.user_id).await, before);
    assert!(h.updates_of(admin.user_id).await.is_empty());
}

#[tokio::test]
async fn granting_admin_to_an_unknown_email_is_no_such_user() {
    let h = Harness::new();
    let user = h.user("ana", Role::User).await;

    let result = grant(&h, "nobody@example.com").await;

    match result {
        Err(AdminError::NoSuchUser(email)) => assert_eq!(email, "nobody@example.com"),
        other => panic!("expected NoSuchUser, got {other:?}"),
    }
    assert_eq!(h.stored(user.user_id).await.role, Role::User);
    assert!(h.updates_of(user.user_id).await.is_empty());
}

// --- Paging and no-op patches -------------------------------------------------------

#[tokio::test]
async fn a_page_of_exactly_per_page_users_is_the_last_and_one_more_user_makes_a_next() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let mut everyone = vec![admin.user_id];
    for name in ["ana", "bob"] {
        h.clock.advance(Duration::milliseconds(2));
        everyone.push(h.user(name, Role::User).await.user_id);
    }

    let exact = h
        .admin
        .list_users(&admin, None, None, 3)
        .await
        .expect("exactly one page");
    h.clock.advance(Duration::milliseconds(2));
    everyone.push(h.user("cid", Role::User).await.user_id);
    let first = h
        .admin
        .list_users(&admin, None, None, 3)
        .await
        .expect("first page");
    let rest = h
        .admin
        .list_users(&admin, None, first.next_cursor.as_deref(), 3)
        .await
        .expect("second page");

    let ids = |users: &[User]| users.iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(ids(&exact.users), everyone[..3]);
    assert_eq!(exact.next_cursor, None);
    assert_eq!(ids(&first.users), everyone[..3]);
    assert!(first.next_cursor.is_some());
    assert_eq!(ids(&rest.users), everyone[3..]);
    assert_eq!(rest.next_cursor, None);
}

#[tokio::test]
async fn setting_the_role_a_user_has_changes_nothing_and_a_new_role_is_recorded() {
    let h = Harness::new();
    let admin = h.user("admin", Role::Admin).await;
    let user = h.user("ana", Role::User).await;
    let before = h.stored(user.user_id).await;
    h.clock.advance(Duration::seconds(5));
    let to = |role| UserPatch {
        role: Some(role),
        disabled: None,
    };

    let same = h
        .admin
        .update_user(&admin, user.user_id, to(Role::User), &ClientInfo::default())
        .await
        .expect("same role");
    let unchanged = h.stored(user.user_id).await;
    let entries_after_same = h.updates_of(user.user_id).await.len();
    let promoted = h
        .admin
        .update_user(
            &admin,
            user.user_id,
            to(Role::Admin),
            &ClientInfo::default(),
        )
        .await
        .expect("new role");

    assert_eq!(same, before);
    assert_eq!(unchanged, before);
    assert_eq!(entries_after_same, 0);
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(promoted.updated_at, h.clock.now());
    assert_eq!(h.stored(user.user_id).await, promoted);
    let entries = h.updates_of(user.user_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor_id, Some(admin.user_id));
    let changes: Vec<(&str, &AuditValue, &AuditValue)> = entries[0]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.from, &c.to))
        .collect();
    assert_eq!(
        changes,
        [(
            "role",
            &AuditValue::Text("user".into()),
            &AuditValue::Text("admin".into())
        )]
    );
}
