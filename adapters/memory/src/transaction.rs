//! The transaction machinery: how a repository reaches the tables, either
//! directly (each call its own unit, under the lock) or inside a unit of
//! work that holds the lock and undoes everything unless it commits.
//!
//! The lock is a reader-writer lock: reads made outside a unit share it, so
//! concurrent requests that only read (the authenticated `GET`s) never wait
//! for one another, while a unit of work holds it exclusively for its whole
//! life, so no read ever sees half of a unit.

use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use async_trait::async_trait;
use domain::RepoError;
use domain::ports::{Repositories, RepositorySet, Transaction};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

use crate::tables::{State, UndoLog};

/// How a repository reaches the state: directly (each call is its own
/// unit) or through an open transaction.
pub(crate) trait Access: Send + Sync {
    /// A change: exclusive access, recording undo steps inside a unit.
    fn with_state<R: Send>(
        &self,
        f: impl FnOnce(&mut State, &mut UndoLog) -> R + Send,
    ) -> impl Future<Output = R> + Send;

    /// A read: shared with other reads made outside a unit.
    fn read<R: Send>(&self, f: impl FnOnce(&State) -> R + Send) -> impl Future<Output = R> + Send;
}

/// Direct access: lock, act, unlock. The undo log is thrown away because a
/// single call is already atomic under the lock.
#[derive(Clone)]
pub(crate) struct Direct(pub(crate) Arc<RwLock<State>>);

impl Access for Direct {
    async fn with_state<R: Send>(&self, f: impl FnOnce(&mut State, &mut UndoLog) -> R + Send) -> R {
        let mut state = self.0.write().await;
        f(&mut state, &mut UndoLog::discarding())
    }

    async fn read<R: Send>(&self, f: impl FnOnce(&State) -> R + Send) -> R {
        f(&*self.0.read().await)
    }
}

/// Access from inside a transaction, which already holds the lock.
pub(crate) struct InTransaction {
    // A std mutex around the guard: the repositories take `&self`, the
    // critical sections never await, and the tokio guard must stay held.
    inner: StdMutex<Option<(OwnedRwLockWriteGuard<State>, UndoLog)>>,
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

    async fn read<R: Send>(&self, f: impl FnOnce(&State) -> R + Send) -> R {
        self.with_state(|state, _| f(state)).await
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

impl Direct {
    /// A unit of work: holds the lock until it commits or is dropped.
    pub(crate) async fn begin(&self) -> MemoryTransaction {
        let guard = Arc::clone(&self.0).write_owned().await;
        MemoryTransaction(Repos(InTransaction {
            inner: StdMutex::new(Some((guard, UndoLog::recording()))),
        }))
    }
}

pub(crate) struct MemoryTransaction(Repos<InTransaction>);

impl Repositories for MemoryTransaction {
    fn repositories(&self) -> &dyn RepositorySet {
        &self.0
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
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
