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
    AccountId, Character, CharacterId, GameAccount, Level, Notes, ProgressStatus, Progression,
    RosterName, Team, TeamId, TeamMembers, UniqueRule,
};
use domain::{
    ApiKey, ApiKeyId, ApiKeyName, ApiKeySecret, AuditEntry, AuditId, AuditValue, CatalogItem,
    CatalogSnapshot, Change, CharacterClass, ClassId, DisplayName, Email, FamilyId, GameServer,
    ItemId, ItemKind, PasswordHash, RefreshToken, RepoError, RevokeReason, Role, ServerId, Session,
    SessionId, TokenHash, User, UserId,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

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

/// A UUIDv7 whose time part is exactly `now` (to the millisecond), the rest
/// random, for ids whose order a behaviour arranges.
///
/// Not the application's generator: it never goes back in time within a
/// process (each id it makes is above the last), so with the tests of a
/// binary running in parallel an id's time part would be that of the latest
/// id any test made, and orders by id would depend on the other tests.
fn v7_at(now: OffsetDateTime) -> Uuid {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000)
        .expect("fixture instants are after 1970");
    let mut random = [0u8; 10];
    OsRandom.fill(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// A fresh user id whose time part is `now`, for users whose order a
/// behaviour arranges.
pub fn new_user_id_at(now: OffsetDateTime) -> UserId {
    UserId::from_uuid(v7_at(now))
}

/// A fresh session id whose time part is `now`.
pub fn new_session_id_at(now: OffsetDateTime) -> SessionId {
    SessionId::from_uuid(v7_at(now))
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

/// A fresh audit id whose time part is `now`: entries built with later
/// instants sort after earlier ones, as the trail does.
pub fn new_audit_id_at(now: OffsetDateTime) -> AuditId {
    AuditId::from_uuid(v7_at(now))
}

/// Starts an entry written by the system (no actor) about a user, with no
/// change, no origin, its id and time at [`BASE`].
pub fn an_audit_entry() -> AuditEntryBuilder {
    AuditEntryBuilder(AuditEntry {
        id: new_audit_id_at(BASE),
        actor_id: None,
        action: "user.updated".into(),
        resource_type: "user".into(),
        resource_id: format!("resource-{}", unique_suffix()),
        changes: Vec::new(),
        ip: None,
        request_id: None,
        at: BASE,
    })
}

/// Builds an [`AuditEntry`] one field at a time.
#[derive(Debug, Clone)]
pub struct AuditEntryBuilder(AuditEntry);

impl AuditEntryBuilder {
    pub fn id(mut self, id: AuditId) -> Self {
        self.0.id = id;
        self
    }

    /// An id whose time part is `now`, so the entry sorts among others by it.
    pub fn id_at(self, now: OffsetDateTime) -> Self {
        self.id(new_audit_id_at(now))
    }

    pub fn actor(mut self, actor: UserId) -> Self {
        self.0.actor_id = Some(actor);
        self
    }

    pub fn action(mut self, action: &'static str) -> Self {
        self.0.action = action.into();
        self
    }

    /// What the entry is about: its kind and its id.
    pub fn resource(mut self, resource_type: &'static str, resource_id: &str) -> Self {
        self.0.resource_type = resource_type.into();
        self.0.resource_id = resource_id.to_owned();
        self
    }

    /// Adds one field's change.
    pub fn change(
        mut self,
        field: &'static str,
        from: impl Into<AuditValue>,
        to: impl Into<AuditValue>,
    ) -> Self {
        self.0.changes.push(Change {
            field: field.into(),
            from: from.into(),
            to: to.into(),
        });
        self
    }

    pub fn ip(mut self, ip: &str) -> Self {
        self.0.ip = Some(ip.to_owned());
        self
    }

    pub fn request_id(mut self, request_id: &str) -> Self {
        self.0.request_id = Some(request_id.to_owned());
        self
    }

    pub fn at(mut self, at: OffsetDateTime) -> Self {
        self.0.at = at;
        self
    }

    pub fn build(self) -> AuditEntry {
        self.0
    }
}

/// Appends entries directly, each as its own unit, in the order given.
pub async fn append_entries(storage: &FreshStorage, entries: &[&AuditEntry]) {
    for entry in entries {
        storage.audit().append(entry).await.expect("append entry");
    }
}

/// A fresh API key id whose time part is `now`.
pub fn new_api_key_id_at(now: OffsetDateTime) -> ApiKeyId {
    ApiKeyId::from_uuid(v7_at(now))
}

/// A fresh API key id.
pub fn new_api_key_id() -> ApiKeyId {
    new_api_key_id_at(BASE)
}

/// Starts a live key of `owner` made from a freshly generated secret (its
/// prefix and hash as the application derives them), created at [`BASE`],
/// never used, never expiring.
pub fn an_api_key_of(owner: UserId) -> ApiKeyBuilder {
    let secret = ApiKeySecret::generate(&OsRandom);
    ApiKeyBuilder(ApiKey {
        id: new_api_key_id(),
        owner,
        name: api_key_name("Conformance key"),
        prefix: secret.prefix(),
        key_hash: secret.hash(),
        created_at: BASE,
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    })
}

/// Builds an [`ApiKey`] one field at a time.
#[derive(Debug, Clone)]
pub struct ApiKeyBuilder(ApiKey);

impl ApiKeyBuilder {
    pub fn id(mut self, id: ApiKeyId) -> Self {
        self.0.id = id;
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.name = api_key_name(name);
        self
    }

    pub fn key_hash(mut self, hash: TokenHash) -> Self {
        self.0.key_hash = hash;
        self
    }

    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.0.created_at = at;
        self
    }

    pub fn last_used_at(mut self, at: OffsetDateTime) -> Self {
        self.0.last_used_at = Some(at);
        self
    }

    pub fn expires_at(mut self, at: OffsetDateTime) -> Self {
        self.0.expires_at = Some(at);
        self
    }

    pub fn revoked_at(mut self, at: OffsetDateTime) -> Self {
        self.0.revoked_at = Some(at);
        self
    }

    pub fn build(self) -> ApiKey {
        self.0
    }
}

/// Inserts keys directly, each as its own unit, in the order given.
pub async fn store_api_keys(storage: &FreshStorage, keys: &[&ApiKey]) {
    for key in keys {
        storage.api_keys().insert(key).await.expect("insert key");
    }
}

/// The stored state of `key`, found by its hash outside any transaction.
pub async fn stored_api_key(storage: &FreshStorage, key: &ApiKey) -> Option<ApiKey> {
    storage
        .api_keys()
        .find_by_hash(&key.key_hash)
        .await
        .expect("find key by hash")
}

/// Starts a catalog of `version` with one class and one server (a snapshot
/// needs both to be valid) and no item.
pub fn a_catalog(version: &str) -> CatalogBuilder {
    CatalogBuilder(CatalogSnapshot {
        version: version.to_owned(),
        classes: vec![CharacterClass {
            id: ClassId(1),
            name: "Feca".to_owned(),
            retired: false,
        }],
        servers: vec![GameServer {
            id: ServerId(401),
            name: "Imagiro".to_owned(),
            retired: false,
        }],
        items: Vec::new(),
    })
}

/// Builds a [`CatalogSnapshot`]; the lists keep the order they are given
/// in, so a backend has to sort them itself.
#[derive(Debug, Clone)]
pub struct CatalogBuilder(CatalogSnapshot);

impl CatalogBuilder {
    /// Replaces the classes by `classes`, in this order.
    pub fn classes(mut self, classes: &[(i32, &str)]) -> Self {
        self.0.classes = classes
            .iter()
            .map(|&(id, name)| CharacterClass {
                id: ClassId(id),
                name: name.to_owned(),
                retired: false,
            })
            .collect();
        self
    }

    /// Replaces the servers by `servers`, in this order.
    pub fn servers(mut self, servers: &[(i32, &str)]) -> Self {
        self.0.servers = servers
            .iter()
            .map(|&(id, name)| GameServer {
                id: ServerId(id),
                name: name.to_owned(),
                retired: false,
            })
            .collect();
        self
    }

    /// Adds one current item, with no source id.
    pub fn item(mut self, id: i64, kind: ItemKind, name: &str, level: i16) -> Self {
        self.0.items.push(CatalogItem {
            id: ItemId(id),
            kind,
            name: name.to_owned(),
            level,
            source_id: None,
            retired: false,
        });
        self
    }

    /// Gives the last item added the source id `source_id`.
    pub fn from_source(mut self, source_id: i64) -> Self {
        if let Some(item) = self.0.items.last_mut() {
            item.source_id = Some(source_id);
        }
        self
    }

    /// Retires the classes, servers and items with these ids (an id is
    /// looked up in every list, so fixtures pick ids that do not overlap).
    pub fn retired(mut self, ids: &[i64]) -> Self {
        for class in &mut self.0.classes {
            class.retired |= ids.contains(&i64::from(class.id.0));
        }
        for server in &mut self.0.servers {
            server.retired |= ids.contains(&i64::from(server.id.0));
        }
        for item in &mut self.0.items {
            item.retired |= ids.contains(&item.id.0);
        }
        self
    }

    /// The snapshot, checked as the application checks it before a replace:
    /// the port only ever receives valid snapshots.
    #[track_caller]
    pub fn build(self) -> CatalogSnapshot {
        if let Err(error) = self.0.validate() {
            panic!("fixture catalog {:?} is invalid: {error}", self.0.version);
        }
        self.0
    }
}

/// Panics unless `result` is the `Duplicate` error naming `rule`.
#[track_caller]
pub fn assert_duplicate<T: std::fmt::Debug>(result: Result<T, RepoError>, rule: UniqueRule) {
    match result {
        Err(RepoError::Duplicate(actual)) => {
            assert_eq!(actual, rule, "the duplicate must name the broken rule")
        }
        other => panic!("expected Duplicate({rule:?}), got {other:?}"),
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

#[track_caller]
fn api_key_name(name: &str) -> ApiKeyName {
    ApiKeyName::parse(name).unwrap_or_else(|e| panic!("fixture key name {name:?}: {e:?}"))
}

/// The catalog the roster suites name things with: three classes, two
/// servers, and items of every kind (ids out of order, as a source may send
/// them).
///
/// | id | kind | name |
/// |---|---|---|
/// | 10 | quest | `Gobball Hunt` |
/// | 20 | dungeon | `Gobball Dungeon` |
/// | 30 | achievement | `First Steps` |
/// | 40 | quest | `Dofus Quest` |
/// | 50 | dungeon | `Kwak Lair` |
pub fn a_roster_catalog() -> CatalogSnapshot {
    a_catalog("roster-1")
        .classes(&[(8, "Iop"), (1, "Feca"), (11, "Sacrier")])
        .servers(&[(403, "Draconiros"), (401, "Imagiro")])
        .item(40, ItemKind::Quest, "Dofus Quest", 100)
        .item(10, ItemKind::Quest, "Gobball Hunt", 1)
        .item(30, ItemKind::Achievement, "First Steps", 1)
        .item(50, ItemKind::Dungeon, "Kwak Lair", 110)
        .item(20, ItemKind::Dungeon, "Gobball Dungeon", 20)
        .build()
}

/// Feca, Iop and Sacrier in [`a_roster_catalog`].
pub const FECA: ClassId = ClassId(1);
pub const IOP: ClassId = ClassId(8);
pub const SACRIER: ClassId = ClassId(11);
/// Imagiro and Draconiros in [`a_roster_catalog`].
pub const IMAGIRO: ServerId = ServerId(401);
pub const DRACONIROS: ServerId = ServerId(403);

/// Stores [`a_roster_catalog`], outside any transaction.
pub async fn stored_roster_catalog(storage: &FreshStorage) -> CatalogSnapshot {
    let snapshot = a_roster_catalog();
    storage.catalog().replace(&snapshot).await.expect("replace");
    snapshot
}

#[track_caller]
pub fn roster_name(name: &str) -> RosterName {
    RosterName::parse("name", name).unwrap_or_else(|e| panic!("fixture name {name:?}: {e:?}"))
}

#[track_caller]
pub fn notes(text: &str) -> Notes {
    Notes::parse("notes", text)
        .unwrap_or_else(|e| panic!("fixture notes {text:?}: {e:?}"))
        .expect("fixture notes are not empty")
}

#[track_caller]
pub fn level(value: i64) -> Level {
    Level::new("level", value).unwrap_or_else(|e| panic!("fixture level {value}: {e:?}"))
}

/// A fresh account id whose time part is `now`.
pub fn new_account_id_at(now: OffsetDateTime) -> AccountId {
    AccountId::from_uuid(v7_at(now))
}

/// A fresh character id whose time part is `now`, for characters whose
/// order by id a behaviour arranges.
pub fn new_character_id_at(now: OffsetDateTime) -> CharacterId {
    CharacterId::from_uuid(v7_at(now))
}

/// A fresh team id whose time part is `now`.
pub fn new_team_id_at(now: OffsetDateTime) -> TeamId {
    TeamId::from_uuid(v7_at(now))
}

/// Starts an account of `owner` with a unique name, no notes, created and
/// updated at [`BASE`].
pub fn an_account_of(owner: UserId) -> AccountBuilder {
    AccountBuilder(GameAccount {
        id: new_account_id_at(BASE),
        owner,
        name: roster_name(&format!("Account {}", unique_suffix())),
        notes: None,
        created_at: BASE,
        updated_at: BASE,
    })
}

/// Builds a [`GameAccount`] one field at a time.
#[derive(Debug, Clone)]
pub struct AccountBuilder(GameAccount);

impl AccountBuilder {
    pub fn id(mut self, id: AccountId) -> Self {
        self.0.id = id;
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.name = roster_name(name);
        self
    }

    pub fn notes(mut self, text: &str) -> Self {
        self.0.notes = Some(notes(text));
        self
    }

    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.0.created_at = at;
        self.0.updated_at = at;
        self
    }

    pub fn updated_at(mut self, at: OffsetDateTime) -> Self {
        self.0.updated_at = at;
        self
    }

    pub fn build(self) -> GameAccount {
        self.0
    }
}

/// Inserts accounts directly, each as its own unit, in the order given.
pub async fn store_accounts(storage: &FreshStorage, accounts: &[&GameAccount]) {
    for account in accounts {
        storage
            .accounts()
            .insert(account)
            .await
            .expect("insert account");
    }
}

/// Inserts a new account of `owner`.
pub async fn stored_account(storage: &FreshStorage, owner: UserId) -> GameAccount {
    let account = an_account_of(owner).build();
    store_accounts(storage, &[&account]).await;
    account
}

/// Starts a live level-1 Feca on Imagiro of `owner`'s `account`, with a
/// unique name, at version 1, created and updated at [`BASE`].
pub fn a_character_of(owner: UserId, account: AccountId) -> CharacterBuilder {
    CharacterBuilder(Character {
        id: new_character_id_at(BASE),
        owner,
        account_id: account,
        name: roster_name(&format!("Char-{}", unique_suffix())),
        level: level(1),
        class_id: FECA,
        server_id: IMAGIRO,
        version: 1,
        created_at: BASE,
        updated_at: BASE,
        deleted_at: None,
    })
}

/// Builds a [`Character`] one field at a time.
#[derive(Debug, Clone)]
pub struct CharacterBuilder(Character);

impl CharacterBuilder {
    pub fn id(mut self, id: CharacterId) -> Self {
        self.0.id = id;
        self
    }

    /// An id whose time part is `now`, so the character sorts among others
    /// by it.
    pub fn id_at(self, now: OffsetDateTime) -> Self {
        self.id(new_character_id_at(now))
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.name = roster_name(name);
        self
    }

    pub fn level(mut self, value: i64) -> Self {
        self.0.level = level(value);
        self
    }

    pub fn class(mut self, class: ClassId) -> Self {
        self.0.class_id = class;
        self
    }

    pub fn server(mut self, server: ServerId) -> Self {
        self.0.server_id = server;
        self
    }

    pub fn version(mut self, version: i64) -> Self {
        self.0.version = version;
        self
    }

    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.0.created_at = at;
        self.0.updated_at = at;
        self
    }

    pub fn updated_at(mut self, at: OffsetDateTime) -> Self {
        self.0.updated_at = at;
        self
    }

    pub fn build(self) -> Character {
        self.0
    }
}

/// Inserts characters directly, each as its own unit, in the order given.
pub async fn store_characters(storage: &FreshStorage, characters: &[&Character]) {
    for character in characters {
        storage
            .characters()
            .insert(character)
            .await
            .expect("insert character");
    }
}

/// A team's member list; panics on a list the domain refuses.
pub fn team_members(ids: &[CharacterId]) -> TeamMembers {
    TeamMembers::new("memberIds", ids.to_vec())
        .unwrap_or_else(|e| panic!("fixture members {ids:?}: {e:?}"))
}

/// Starts a team of `owner` with a unique name, no description and no
/// member, created and updated at [`BASE`].
pub fn a_team_of(owner: UserId) -> TeamBuilder {
    TeamBuilder(Team {
        id: new_team_id_at(BASE),
        owner,
        name: roster_name(&format!("Team {}", unique_suffix())),
        description: None,
        member_ids: TeamMembers::default(),
        created_at: BASE,
        updated_at: BASE,
    })
}

/// Builds a [`Team`] one field at a time.
#[derive(Debug, Clone)]
pub struct TeamBuilder(Team);

impl TeamBuilder {
    pub fn id(mut self, id: TeamId) -> Self {
        self.0.id = id;
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.0.name = roster_name(name);
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.0.description = Some(notes(text));
        self
    }

    /// The members, in this order.
    pub fn members(mut self, members: &[&Character]) -> Self {
        self.0.member_ids = team_members(&members.iter().map(|c| c.id).collect::<Vec<_>>());
        self
    }

    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.0.created_at = at;
        self.0.updated_at = at;
        self
    }

    pub fn build(self) -> Team {
        self.0
    }
}

/// Inserts teams directly, each as its own unit, in the order given.
pub async fn store_teams(storage: &FreshStorage, teams: &[&Team]) {
    for team in teams {
        storage.teams().insert(team).await.expect("insert team");
    }
}

/// `character`'s progression on `item` with `status`, updated at `at`
/// (and completed then when `status` is `done`).
pub fn a_progression(
    character: CharacterId,
    item: i64,
    status: ProgressStatus,
    at: OffsetDateTime,
) -> Progression {
    Progression {
        character_id: character,
        item_id: ItemId(item),
        status,
        completed_at: (status == ProgressStatus::Done).then_some(at),
        updated_at: at,
    }
}

/// Upserts progressions of `owner` directly, each as its own unit; each
/// must be accepted.
pub async fn store_progressions(
    storage: &FreshStorage,
    owner: UserId,
    progressions: &[&Progression],
) {
    for progression in progressions {
        let stored = storage
            .progressions()
            .upsert(owner, progression)
            .await
            .expect("upsert progression");
        assert!(
            stored,
            "fixture progressions belong to a live character of the owner"
        );
    }
}
