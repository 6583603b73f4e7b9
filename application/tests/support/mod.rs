//! What the roster's use-case tests share: a [`Roster`] over the memory
//! storage with the bundled catalog loaded and a manual clock, a few
//! builders, and a storage whose transactions cannot write the audit trail.

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
use domain::ports::{
    AccountRepository, ApiKeyRepository, AuditRepository, CatalogRepository, CharacterRepository,
    Clock, ProgressionRepository, SessionRepository, Storage, TeamRepository, Transaction,
    UserRepository,
};
use domain::{
    AccountId, AuditEntry, AuditFilter, AuditId, AuditValue, CharacterClass, CharacterId,
    GameServer, RepoError, UserId,
};

pub struct Harness {
    pub storage: Arc<MemoryStorage>,
    pub clock: Arc<ManualClock>,
    pub roster: Roster,
    pub classes: Vec<CharacterClass>,
    pub servers: Vec<GameServer>,
}

pub fn client() -> ClientInfo {
    ClientInfo::default()
}

impl Harness {
    pub async fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        application::catalog::load_if_empty(storage.as_ref(), &BundledCatalog)
            .await
            .expect("the bundled catalog loads");
        let clock = Arc::new(ManualClock::starting_now());
        let roster = Roster::new(storage.clone(), clock.clone(), Arc::new(OsRandom));
        let classes = application::catalog::classes(storage.as_ref())
            .await
            .expect("classes");
        let servers = application::catalog::servers(storage.as_ref())
            .await
            .expect("servers");
        assert!(classes.len() >= 2 && servers.len() >= 2);
        Self {
            storage,
            clock,
            roster,
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

    pub fn user(&self) -> UserId {
        UserId::generate(self.clock.now(), &OsRandom)
    }

    pub async fn account(&self, owner: UserId, name: &str) -> AccountId {
        self.roster
            .create_account(
                owner,
                NewAccount {
                    name: name.to_owned(),
                    notes: None,
                },
                &client(),
            )
            .await
            .expect("a fixture account")
            .account
            .id
    }

    /// A new character input on the first class and server of the catalog.
    pub fn new_character(&self, account: AccountId, name: &str) -> NewCharacter {
        NewCharacter {
            name: name.to_owned(),
            level: 1,
            class_id: self.classes[0].id.0,
            server_id: self.servers[0].id.0,
            account_id: account,
        }
    }

    pub async fn character(&self, owner: UserId, account: AccountId, name: &str) -> CharacterId {
        self.roster
            .create_character(owner, self.new_character(account, name), &client())
            .await
            .expect("a fixture character")
            .character
            .id
    }

    /// Every audit entry about `resource_id`, newest first.
    pub async fn audit_of(&self, resource_id: impl ToString) -> Vec<AuditEntry> {
        let filter = AuditFilter {
            resource_id: Some(resource_id.to_string()),
            ..AuditFilter::default()
        };
        self.storage
            .audit()
            .list(&filter, None, 100)
            .await
            .expect("audit")
    }

    /// The actions of [`Harness::audit_of`].
    pub async fn actions_of(&self, resource_id: impl ToString) -> Vec<String> {
        self.audit_of(resource_id)
            .await
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

/// An entry's changes as `(field, from, to)`.
pub fn changes(entry: &AuditEntry) -> Vec<(&str, &AuditValue, &AuditValue)> {
    entry
        .changes
        .iter()
        .map(|c| (c.field.as_str(), &c.from, &c.to))
        .collect()
}

// --- A storage whose transactions cannot append to the audit trail ---------------

struct AuditFailsInTransactions(Arc<MemoryStorage>);

#[async_trait]
impl Storage for AuditFailsInTransactions {
    fn users(&self) -> &dyn UserRepository {
        self.0.users()
    }
    fn sessions(&self) -> &dyn SessionRepository {
        self.0.sessions()
    }
    fn audit(&self) -> &dyn AuditRepository {
        self.0.audit()
    }
    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self.0.api_keys()
    }
    fn catalog(&self) -> &dyn CatalogRepository {
        self.0.catalog()
    }
    fn accounts(&self) -> &dyn AccountRepository {
        self.0.accounts()
    }
    fn characters(&self) -> &dyn CharacterRepository {
        self.0.characters()
    }
    fn teams(&self) -> &dyn TeamRepository {
        self.0.teams()
    }
    fn progressions(&self) -> &dyn ProgressionRepository {
        self.0.progressions()
    }
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

#[async_trait]
impl Transaction for FailingAuditTx {
    fn users(&self) -> &dyn UserRepository {
        self.0.users()
    }
    fn sessions(&self) -> &dyn SessionRepository {
        self.0.sessions()
    }
    fn audit(&self) -> &dyn AuditRepository {
        &FailingAudit
    }
    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self.0.api_keys()
    }
    fn catalog(&self) -> &dyn CatalogRepository {
        self.0.catalog()
    }
    fn accounts(&self) -> &dyn AccountRepository {
        self.0.accounts()
    }
    fn characters(&self) -> &dyn CharacterRepository {
        self.0.characters()
    }
    fn teams(&self) -> &dyn TeamRepository {
        self.0.teams()
    }
    fn progressions(&self) -> &dyn ProgressionRepository {
        self.0.progressions()
    }
    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.0.commit().await
    }
}
