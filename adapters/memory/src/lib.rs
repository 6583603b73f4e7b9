//! In-memory storage: the embedded default and the fast test double.
//!
//! It is real code held to the same conformance suite as PostgreSQL. All
//! state sits behind one async mutex. A transaction holds that mutex for its
//! whole life — transactions are serializable, and readers never see a
//! half-applied unit — and keeps an undo log that restores every change if
//! it is dropped without commit.

mod accounts;
mod api_keys;
mod audit;
mod catalog;
mod characters;
mod progressions;
mod roster;
mod state;
mod teams;

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use async_trait::async_trait;
use domain::ports::{
    AccountRepository, ApiKeyRepository, AuditRepository, CatalogRepository, CharacterRepository,
    ProgressionRepository, SessionRepository, Storage, TeamRepository, Transaction, UserRepository,
};
use domain::{
    Email, FamilyId, PasswordHash, RepoError, RevokeReason, Role, Session, SessionId, TokenHash,
    User, UserId,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::{Mutex, OwnedMutexGuard};

use state::{State, UndoLog};

/// How a repository reaches the state: directly (each call is its own
/// unit) or through an open transaction.
pub(crate) trait Access: Send + Sync {
    fn with_state<R: Send>(
        &self,
        f: impl FnOnce(&mut State, &mut UndoLog) -> R + Send,
    ) -> impl Future<Output = R> + Send;
}

/// Direct access: lock, act, unlock. The undo log is thrown away because a
/// single call is already atomic under the lock.
#[derive(Clone)]
struct Direct(Arc<Mutex<State>>);

impl Access for Direct {
    async fn with_state<R: Send>(&self, f: impl FnOnce(&mut State, &mut UndoLog) -> R + Send) -> R {
        let mut state = self.0.lock().await;
        f(&mut state, &mut UndoLog::discarding())
    }
}

/// Access from inside a transaction, which already holds the lock.
struct InTransaction {
    // A std mutex around the guard: the repositories take `&self`, the
    // critical sections never await, and the tokio guard must stay held.
    inner: StdMutex<Option<(OwnedMutexGuard<State>, UndoLog)>>,
}

impl Access for InTransaction {
    async fn with_state<R: Send>(&self, f: impl FnOnce(&mut State, &mut UndoLog) -> R + Send) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.as_mut() {
            Some((state, undo)) => f(state, undo),
            // Unreachable: commit consumes the transaction, so no repository
            // of it can be called afterwards.
            None => f(&mut State::default(), &mut UndoLog::discarding()),
        }
    }
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some((mut state, undo)) = inner.take() {
            undo.roll_back(&mut state);
        }
    }
}

/// The repositories over one kind of access.
pub(crate) struct Repos<A>(pub(crate) A);

/// The memory backend.
#[derive(Clone)]
pub struct MemoryStorage {
    repos: Arc<Repos<Direct>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self {
            repos: Arc::new(Repos(Direct(Arc::new(Mutex::new(State::default()))))),
        }
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStorage")
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn users(&self) -> &dyn UserRepository {
        self.repos.as_ref()
    }

    fn sessions(&self) -> &dyn SessionRepository {
        self.repos.as_ref()
    }

    fn audit(&self) -> &dyn AuditRepository {
        self.repos.as_ref()
    }

    fn api_keys(&self) -> &dyn ApiKeyRepository {
        self.repos.as_ref()
    }

    fn catalog(&self) -> &dyn CatalogRepository {
        self.repos.as_ref()
    }

    fn accounts(&self) -> &dyn AccountRepository {
        self.repos.as_ref()
    }

    fn characters(&self) -> &dyn CharacterRepository {
        self.repos.as_ref()
    }

    fn teams(&self) -> &dyn TeamRepository {
        self.repos.as_ref()
    }

    fn progressions(&self) -> &dyn ProgressionRepository {
        self.repos.as_ref()
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>, RepoError> {
        let guard = Arc::clone(&self.repos.0.0).lock_owned().await;
        Ok(Box::new(MemoryTransaction(Repos(InTransaction {
            inner: StdMutex::new(Some((guard, UndoLog::recording()))),
        }))))
    }

    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

struct MemoryTransaction(Repos<InTransaction>);

#[async_trait]
impl Transaction for MemoryTransaction {
    fn users(&self) -> &dyn UserRepository {
        &self.0
    }

    fn sessions(&self) -> &dyn SessionRepository {
        &self.0
    }

    fn audit(&self) -> &dyn AuditRepository {
        &self.0
    }

    fn api_keys(&self) -> &dyn ApiKeyRepository {
        &self.0
    }

    fn catalog(&self) -> &dyn CatalogRepository {
        &self.0
    }

    fn accounts(&self) -> &dyn AccountRepository {
        &self.0
    }

    fn characters(&self) -> &dyn CharacterRepository {
        &self.0
    }

    fn teams(&self) -> &dyn TeamRepository {
        &self.0
    }

    fn progressions(&self) -> &dyn ProgressionRepository {
        &self.0
    }

    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        let mut inner = self
            .0
            .0
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Forgetting the undo log is the commit; dropping the guard unlocks.
        inner.take();
        Ok(())
    }
}

#[async_trait]
impl<A: Access> UserRepository for Repos<A> {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        self.0.with_state(|s, undo| s.insert_user(user, undo)).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        Ok(self.0.with_state(|s, _| s.users.get(&id).cloned()).await)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Ok(self
            .0
            .with_state(|s, _| s.user_by_email(email).cloned())
            .await)
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_user(id, undo, |user| {
                    if user.password_hash != *current {
                        return false;
                    }
                    user.password_hash = new.clone();
                    user.updated_at = at;
                    true
                })
            })
            .await)
    }

    async fn set_role(
        &self,
        id: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let exists = s.users.contains_key(&id);
                s.update_user(id, undo, |user| {
                    if user.role == role {
                        return false;
                    }
                    user.role = role;
                    user.updated_at = at;
                    true
                });
                exists
            })
            .await)
    }

    async fn record_login(&self, id: UserId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                s.update_user(id, undo, |user| {
                    user.last_login_at = Some(at);
                    true
                })
            })
            .await;
        Ok(())
    }

    async fn set_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let exists = s.users.contains_key(&id);
                s.update_user(id, undo, |user| {
                    if user.disabled == disabled {
                        return false;
                    }
                    user.disabled = disabled;
                    user.updated_at = at;
                    true
                });
                exists
            })
            .await)
    }

    async fn list(
        &self,
        search: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, RepoError> {
        let search = search.map(str::to_lowercase);
        let matches = |user: &User| {
            search.as_deref().is_none_or(|s| {
                user.email.as_str().to_lowercase().contains(s)
                    || user.display_name.as_str().to_lowercase().contains(s)
            })
        };
        Ok(self
            .0
            .with_state(|s, _| {
                // Users are few next to sessions; a scan and a sort keep the
                // state free of a second index that every write would keep up.
                let mut found: Vec<User> = s
                    .users
                    .values()
                    .filter(|user| after.is_none_or(|after| user.id > after))
                    .filter(|user| matches(user))
                    .cloned()
                    .collect();
                found.sort_by_key(|user| user.id);
                found.truncate(limit);
                found
            })
            .await)
    }
}

#[async_trait]
impl<A: Access> SessionRepository for Repos<A> {
    async fn insert(&self, session: &Session) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| s.insert_session(session, undo))
            .await
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        Ok(self.0.with_state(|s, _| s.sessions.get(&id).cloned()).await)
    }

    async fn find_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, RepoError> {
        Ok(self
            .0
            .with_state(|s, _| {
                s.session_by_hash
                    .get(hash)
                    .and_then(|id| s.sessions.get(id))
                    .cloned()
            })
            .await)
    }

    async fn list_active(
        &self,
        owner: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<Session>, RepoError> {
        Ok(self
            .0
            .with_state(|s, _| {
                let mut active: Vec<Session> = s
                    .sessions_of(owner)
                    .filter(|session| session.is_active(now))
                    .cloned()
                    .collect();
                active.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
                active
            })
            .await)
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: SessionId,
        at: OffsetDateTime,
        reason: RevokeReason,
        replaced_by: Option<SessionId>,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_session(id, undo, |session| {
                    if session.user_id != owner || session.revoked_at.is_some() {
                        return false;
                    }
                    session.revoked_at = Some(at);
                    session.revoke_reason = Some(reason);
                    session.replaced_by = replaced_by;
                    true
                })
            })
            .await)
    }

    async fn revoke_family(
        &self,
        owner: UserId,
        family: FamilyId,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.revoke_where(owner, at, reason, undo, |session| {
                    session.family_id == family
                })
            })
            .await)
    }

    async fn revoke_all(
        &self,
        owner: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
        reason: RevokeReason,
    ) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.revoke_where(owner, at, reason, undo, |session| Some(session.id) != keep)
            })
            .await)
    }

    async fn touch(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        min_interval: Duration,
    ) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                s.update_session(id, undo, |session| {
                    if session.last_used_at >= at - min_interval {
                        return false;
                    }
                    session.last_used_at = at;
                    true
                })
            })
            .await;
        Ok(())
    }

    async fn purge_sealed_tokens(&self, created_before: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| s.purge_sealed_tokens(created_before, undo))
            .await)
    }
}
