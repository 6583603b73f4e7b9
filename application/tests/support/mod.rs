//! What the use-case tests share: a [`Harness`] (a [`Roster`] over the
//! memory storage with the bundled catalog loaded and a manual clock, with
//! builders for the users, accounts and characters a test needs and readers
//! of the audit trail), helpers to compare an audit entry's changes, and a
//! storage whose transactions cannot write the audit trail.

#![allow(dead_code)] // each test binary uses a different part of it

use std::sync::Arc;

use adapter_catalog::BundledCatalog;
use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::ClientInfo;
use application::accounts::NewAccount;
use application::characters::NewCharacter;
use application::roster::Roster;
use async_trait::async_trait;
use domain::ports::{AuditRepository, Clock, Repositories, RepositorySet, Storage, Transaction};
use domain::{
    AccountId, AuditEntry, AuditFilter, AuditId, AuditValue, CatalogItem, CharacterClass,
    CharacterId, CharacterView, GameServer, ItemKind, Level, Notes, RepoError, RosterName,
    ServerId, TeamMembers, UserId,
};

pub struct Harness {
    pub storage: Arc<MemoryStorage>,
    pub clock: Arc<ManualClock>,
    pub roster: Roster,
    pub client: ClientInfo,
    /// The catalog's classes and servers, as the storage lists them.
    pub classes: Vec<CharacterClass>,
    pub servers: Vec<GameServer>,
}

impl Harness {
    pub async fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        application::catalog::load_if_empty(storage.as_ref(), &BundledCatalog)
            .await
            .expect("the bundled catalog loads");
        let clock = Arc::new(ManualClock::starting_now());
        let roster = Roster::new(storage.clone(), clock.clone(), Arc::new(OsRandom));
        let catalog = application::catalog::CatalogService::new(storage.clone());
        let classes = catalog.classes().await.expect("classes");
        let servers = catalog.servers().await.expect("servers");
        assert!(classes.len() >= 2 && servers.len() >= 2);
        Self {
            storage,
            clock,
            roster,
            client: ClientInfo::default(),
            classes,
            servers,
        }
    }

    /// The same storage and clock, through a storage whose transactions
    /// cannot append to the audit trail.
    pub fn failing_audit(&self) -> Roster {
        Roster::new(
            Arc::new(AuditFailsInTransactions(self.storage.clone())),
            self.clock.clone(),
            Arc::new(OsRandom),
        )
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// A user id no one else has (users themselves are not the roster's).
    pub fn user(&self) -> UserId {
        UserId::generate(self.clock.now(), &OsRandom)
    }

    /// Every catalog item of `kind`, by id.
    pub async fn items(&self, kind: ItemKind) -> Vec<CatalogItem> {
        self.storage
            .catalog()
            .items(Some(kind), None, None, 10_000)
            .await
            .expect("items")
    }

    pub async fn account(&self, owner: UserId, name: &str) -> AccountId {
        self.roster
            .create_account(
                owner,
                NewAccount {
                    name: roster_name(name),
                    notes: None,
                },
                &self.client,
            )
            .await
            .expect("a fixture account")
            .account
            .id
    }

    /// A new character input on the first class and server of the catalog.
    pub fn new_character(&self, account: AccountId, name: &str) -> NewCharacter {
        NewCharacter {
            name: roster_name(name),
            level: level(1),
            class_id: self.classes[0].id,
            server_id: self.servers[0].id,
            account_id: account,
        }
    }

    /// A character of `owner` in `account`, on the catalog's first server.
    pub async fn character(&self, owner: UserId, account: AccountId, name: &str) -> CharacterId {
        self.character_in(owner, account, name, self.servers[0].id)
            .await
            .character
            .id
    }

    /// A character of `owner` on `server`, in an account of its own.
    pub async fn character_on(&self, owner: UserId, name: &str, server: ServerId) -> CharacterView {
        let account = self.account(owner, &format!("acc {name}")).await;
        self.character_in(owner, account, name, server).await
    }

    /// A character of `owner` in `account`, on `server`.
    pub async fn character_in(
        &self,
        owner: UserId,
        account: AccountId,
        name: &str,
        server: ServerId,
    ) -> CharacterView {
        let input = NewCharacter {
            server_id: server,
            ..self.new_character(account, name)
        };
        self.roster
            .create_character(owner, input, &self.client)
            .await
            .expect("a fixture character")
    }

    /// Every audit entry about `resource_id`, newest first.
    pub async fn audit_of(&self, resource_id: impl ToString) -> Vec<AuditEntry> {
        self.audit(AuditFilter {
            resource_id: Some(resource_id.to_string()),
            ..AuditFilter::default()
        })
        .await
    }

    /// The actions of [`Harness::audit_of`].
    pub async fn actions_of(&self, resource_id: impl ToString) -> Vec<String> {
        actions(self.audit_of(resource_id).await)
    }

    /// The actions of every audit entry `actor` wrote, newest first.
    pub async fn actions_by(&self, actor: UserId) -> Vec<String> {
        let entries = self
            .audit(AuditFilter {
                actor_id: Some(actor),
                ..AuditFilter::default()
            })
            .await;
        actions(entries)
    }

    async fn audit(&self, filter: AuditFilter) -> Vec<AuditEntry> {
        self.storage
            .audit()
            .list(&filter, None, 1_000)
            .await
            .expect("audit")
    }
}

fn actions(entries: Vec<AuditEntry>) -> Vec<String> {
    entries.into_iter().map(|e| e.action).collect()
}

// --- An audit entry's changes ------------------------------------------------------

/// An entry's changes as `(field, from, to)`, in the order it records them.
pub fn changes(entry: &AuditEntry) -> Vec<(&str, &AuditValue, &AuditValue)> {
    entry
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.from, &c.to))
        .collect()
}

/// The `(from, to)` an entry records for `field`, if it records it.
pub fn change<'e>(entry: &'e AuditEntry, field: &str) -> Option<(&'e AuditValue, &'e AuditValue)> {
    changes(entry)
        .into_iter()
        .find(|(f, _, _)| *f == field)
        .map(|(_, from, to)| (from, to))
}

/// A name as the driving adapter parses it; panics on a bad fixture.
pub fn roster_name(raw: &str) -> RosterName {
    RosterName::parse("name", raw).unwrap_or_else(|e| panic!("fixture name {raw:?}: {e:?}"))
}

/// Notes as the driving adapter parses them (blank is none).
pub fn notes(raw: &str) -> Option<Notes> {
    Notes::parse("notes", raw).unwrap_or_else(|e| panic!("fixture notes {raw:?}: {e:?}"))
}

pub fn level(value: i64) -> Level {
    Level::new("level", value).unwrap_or_else(|e| panic!("fixture level {value}: {e:?}"))
}

/// A member list as the driving adapter parses it.
pub fn members(ids: &[CharacterId]) -> TeamMembers {
    TeamMembers::new("memberIds", ids.to_vec())
        .unwrap_or_else(|e| panic!("fixture members {ids:?}: {e:?}"))
}

pub fn text(value: &str) -> AuditValue {
    AuditValue::Text(value.to_owned())
}

pub fn int(value: impl Into<i64>) -> AuditValue {
    AuditValue::Int(value.into())
}

// --- A storage whose transactions cannot append to the audit trail ---------------

/// The storage it wraps, except that a transaction's audit appends fail
/// (outside transactions the audit trail reads and writes as usual).
pub struct AuditFailsInTransactions(pub Arc<MemoryStorage>);

impl Repositories for AuditFailsInTransactions {
    fn repositories(&self) -> &dyn RepositorySet {
        self.0.repositories()
    }
}

#[async_trait]
impl Storage for AuditFailsInTransactions {
    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        Ok(Box::new(FailingAuditTx(self.0.begin().await?)))
    }
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

struct FailingAuditTx(Box<dyn Transaction>);

struct FailingAudit;

#[async_trait]
impl AuditRepository for FailingAudit {
    async fn append(&self, _: &AuditEntry) -> Result<(), RepoError> {
        Err(RepoError::Unavailable("the audit table is gone".into()))
    }
    async fn list(
        &self,
        _: &AuditFilter,
        _: Option<AuditId>,
        _: usize,
    ) -> Result<Vec<AuditEntry>, RepoError> {
        Ok(Vec::new())
    }
}

impl Repositories for FailingAuditTx {
    fn repositories(&self) -> &dyn RepositorySet {
        self.0.repositories()
    }
    fn audit(&self) -> &dyn AuditRepository {
        &FailingAudit
    }
}

#[async_trait]
impl Transaction for FailingAuditTx {
    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.0.commit().await
    }
}
