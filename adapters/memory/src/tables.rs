//! The memory backend's tables: plain data, and the undo log that makes its
//! transactions all-or-nothing. A leaf: every other module builds on it,
//! and it knows none of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use domain::{
    AccountId, ApiKey, ApiKeyId, AuditEntry, AuditId, CatalogSnapshot, Character, CharacterId,
    GameAccount, ItemId, Job, JobId, Progression, Session, SessionId, Team, TeamId, TokenHash,
    User, UserId,
};
use time::OffsetDateTime;
use tokio::sync::Notify;

type Undo = Box<dyn FnOnce(&mut State) + Send + Sync>;

/// The inverse of every change made so far in a transaction.
pub(crate) struct UndoLog {
    steps: Option<Vec<Undo>>,
}

impl UndoLog {
    pub(crate) fn recording() -> Self {
        Self {
            steps: Some(Vec::new()),
        }
    }

    /// For single calls, which need no undo.
    pub(crate) fn discarding() -> Self {
        Self { steps: None }
    }

    pub(crate) fn push(&mut self, step: impl FnOnce(&mut State) + Send + Sync + 'static) {
        if let Some(steps) = &mut self.steps {
            steps.push(Box::new(step));
        }
    }

    pub(crate) fn roll_back(self, state: &mut State) {
        for step in self.steps.into_iter().flatten().rev() {
            step(state);
        }
    }
}

/// Every table, behind the backend's one lock. Users and sessions keep
/// their indexes here; their writes (in `users.rs`, `sessions.rs`) keep
/// them in step.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) users: HashMap<UserId, User>,
    pub(crate) user_by_email: HashMap<String, UserId>,
    pub(crate) sessions: HashMap<SessionId, Session>,
    pub(crate) session_by_hash: HashMap<TokenHash, SessionId>,
    pub(crate) sessions_by_user: HashMap<UserId, BTreeSet<SessionId>>,
    pub(crate) audit: AuditTable,
    pub(crate) api_keys: ApiKeyTable,
    pub(crate) catalog: CatalogTable,
    pub(crate) roster: RosterTables,
    pub(crate) jobs: JobTable,
}

/// Jobs by id (UUIDv7: creation order), and the bell idle workers wait on.
#[derive(Default)]
pub(crate) struct JobTable {
    pub(crate) jobs: BTreeMap<JobId, Job>,
    pub(crate) signal: Arc<Notify>,
}

/// An account and whether it was soft-deleted (the domain's account has no
/// such field: a deleted account is simply never returned).
#[derive(Clone)]
pub(crate) struct StoredAccount {
    pub(crate) account: GameAccount,
    pub(crate) deleted_at: Option<OffsetDateTime>,
}

impl StoredAccount {
    pub(crate) fn is_live_of(&self, owner: UserId) -> bool {
        self.account.owner == owner && self.deleted_at.is_none()
    }
}

/// The roster's rows, with an index per owner.
#[derive(Default)]
pub(crate) struct RosterTables {
    pub(crate) accounts: HashMap<AccountId, StoredAccount>,
    pub(crate) accounts_by_owner: HashMap<UserId, BTreeSet<AccountId>>,
    pub(crate) characters: HashMap<CharacterId, Character>,
    pub(crate) characters_by_owner: HashMap<UserId, BTreeSet<CharacterId>>,
    pub(crate) teams: HashMap<TeamId, Team>,
    pub(crate) teams_by_owner: HashMap<UserId, BTreeSet<TeamId>>,
    /// By character, then item: a character's progressions are one map,
    /// already in the item order lists use.
    pub(crate) progressions: HashMap<CharacterId, BTreeMap<ItemId, Progression>>,
}

/// API keys, with an index by secret hash.
#[derive(Default)]
pub(crate) struct ApiKeyTable {
    pub(crate) keys: HashMap<ApiKeyId, ApiKey>,
    pub(crate) by_hash: HashMap<TokenHash, ApiKeyId>,
}

/// Entries by id: ids are UUIDv7, so the map's order is the trail's order.
#[derive(Default)]
pub(crate) struct AuditTable {
    pub(crate) entries: BTreeMap<AuditId, AuditEntry>,
}

/// The stored snapshot, its lists sorted by id. Shared, since it is only
/// ever replaced whole.
#[derive(Default)]
pub(crate) struct CatalogTable {
    pub(crate) snapshot: Option<Arc<CatalogSnapshot>>,
}
