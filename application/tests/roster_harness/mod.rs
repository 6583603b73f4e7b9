//! A roster on memory storage with the bundled catalog loaded, a manual
//! clock, and builders for the accounts and characters a test needs.
//! Shared by the teams and progression use-case tests.

#![allow(dead_code)] // each test binary uses part of it

use std::sync::Arc;

use adapter_catalog::BundledCatalog;
use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::ClientInfo;
use application::accounts::NewAccount;
use application::characters::NewCharacter;
use application::roster::Roster;
use domain::ports::{Clock, Storage};
use domain::{
    AccountId, AuditEntry, AuditFilter, AuditValue, CatalogItem, CharacterView, ItemKind, ServerId,
    UserId,
};

pub struct Harness {
    pub storage: Arc<MemoryStorage>,
    pub clock: Arc<ManualClock>,
    pub roster: Roster,
    pub client: ClientInfo,
}

impl Harness {
    pub async fn new() -> Self {
        let storage = Arc::new(MemoryStorage::new());
        application::catalog::load_if_empty(storage.as_ref(), &BundledCatalog)
            .await
            .expect("the bundled catalog loads");
        let clock = Arc::new(ManualClock::starting_now());
        let roster = Roster::new(storage.clone(), clock.clone(), Arc::new(OsRandom));
        Self {
            storage,
            clock,
            roster,
            client: ClientInfo::default(),
        }
    }

    /// A user id no one else has (users themselves are not the roster's).
    pub fn user(&self) -> UserId {
        UserId::generate(self.clock.now(), &OsRandom)
    }

    /// The catalog's servers, by id.
    pub async fn servers(&self) -> Vec<ServerId> {
        let mut ids: Vec<ServerId> = self
            .storage
            .catalog()
            .servers()
            .await
            .expect("servers")
            .into_iter()
            .map(|s| s.id)
            .collect();
        ids.sort_by_key(|id| id.0);
        ids
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
                    name: name.to_owned(),
                    notes: None,
                },
                &self.client,
            )
            .await
            .expect("account")
            .account
            .id
    }

    /// A character of `owner` on `server`, in a fresh account.
    pub async fn character(&self, owner: UserId, name: &str, server: ServerId) -> CharacterView {
        let account = self.account(owner, &format!("acc {name}")).await;
        self.character_in(owner, account, name, server).await
    }

    pub async fn character_in(
        &self,
        owner: UserId,
        account: AccountId,
        name: &str,
        server: ServerId,
    ) -> CharacterView {
        let class = self.storage.catalog().classes().await.expect("classes")[0].id;
        self.roster
            .create_character(
                owner,
                NewCharacter {
                    name: name.to_owned(),
                    level: 100,
                    class_id: class.0,
                    server_id: server.0,
                    account_id: account,
                },
                &self.client,
            )
            .await
            .expect("character")
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The actions of every audit entry `actor` wrote, newest first.
    pub async fn actions(&self, actor: UserId) -> Vec<String> {
        self.storage
            .audit()
            .list(
                &AuditFilter {
                    actor_id: Some(actor),
                    resource_type: None,
                    resource_id: None,
                },
                None,
                1_000,
            )
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    /// The audit entries on one resource, newest first.
    pub async fn audit(&self, resource_type: &str, resource_id: &str) -> Vec<AuditEntry> {
        self.storage
            .audit()
            .list(
                &AuditFilter {
                    actor_id: None,
                    resource_type: Some(resource_type.to_owned()),
                    resource_id: Some(resource_id.to_owned()),
                },
                None,
                1_000,
            )
            .await
            .expect("audit")
    }
}

/// The `(from, to)` an entry records for `field`, if it records it.
pub fn change(entry: &AuditEntry, field: &str) -> Option<(AuditValue, AuditValue)> {
    entry
        .changes
        .iter()
        .find(|c| c.field == field)
        .map(|c| (c.from.clone(), c.to.clone()))
}

pub fn text(value: &str) -> AuditValue {
    AuditValue::Text(value.to_owned())
}
