//! The plain data behind the memory backend, and the undo log that makes
//! its transactions all-or-nothing.

use std::collections::{BTreeSet, HashMap};

use domain::{Email, RepoError, RevokeReason, Session, SessionId, TokenHash, User, UserId};
use time::OffsetDateTime;

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

#[derive(Default)]
pub(crate) struct State {
    pub(crate) users: HashMap<UserId, User>,
    user_by_email: HashMap<String, UserId>,
    pub(crate) sessions: HashMap<SessionId, Session>,
    pub(crate) session_by_hash: HashMap<TokenHash, SessionId>,
    sessions_by_user: HashMap<UserId, BTreeSet<SessionId>>,
    pub(crate) audit: crate::audit::AuditState,
    pub(crate) api_keys: crate::api_keys::ApiKeyState,
    pub(crate) catalog: crate::catalog::CatalogState,
    pub(crate) roster: crate::roster::RosterState,
}

impl State {
    pub(crate) fn user_by_email(&self, email: &Email) -> Option<&User> {
        self.user_by_email
            .get(email.as_str())
            .and_then(|id| self.users.get(id))
    }

    pub(crate) fn insert_user(&mut self, user: &User, undo: &mut UndoLog) -> Result<(), RepoError> {
        if self.users.contains_key(&user.id) {
            return Err(RepoError::Duplicate {
                constraint: "users_pkey",
            });
        }
        if self.user_by_email.contains_key(user.email.as_str()) {
            return Err(RepoError::Duplicate {
                constraint: "users_email",
            });
        }
        self.users.insert(user.id, user.clone());
        self.user_by_email
            .insert(user.email.as_str().to_owned(), user.id);
        let (id, email) = (user.id, user.email.as_str().to_owned());
        undo.push(move |s| {
            s.users.remove(&id);
            s.user_by_email.remove(&email);
        });
        Ok(())
    }

    /// Applies `change` to a user; records the previous value when `change`
    /// reports that it changed something. E-mails never change here.
    pub(crate) fn update_user(
        &mut self,
        id: UserId,
        undo: &mut UndoLog,
        change: impl FnOnce(&mut User) -> bool,
    ) -> bool {
        let Some(user) = self.users.get_mut(&id) else {
            return false;
        };
        let before = user.clone();
        let changed = change(user);
        if changed {
            undo.push(move |s| {
                s.users.insert(before.id, before);
            });
        }
        changed
    }

    pub(crate) fn insert_session(
        &mut self,
        session: &Session,
        undo: &mut UndoLog,
    ) -> Result<(), RepoError> {
        if self.sessions.contains_key(&session.id) {
            return Err(RepoError::Duplicate {
                constraint: "sessions_pkey",
            });
        }
        if self
            .session_by_hash
            .contains_key(&session.refresh_token_hash)
        {
            return Err(RepoError::Duplicate {
                constraint: "sessions_token_hash",
            });
        }
        self.sessions.insert(session.id, session.clone());
        self.session_by_hash
            .insert(session.refresh_token_hash, session.id);
        self.sessions_by_user
            .entry(session.user_id)
            .or_default()
            .insert(session.id);
        let (id, hash, owner) = (session.id, session.refresh_token_hash, session.user_id);
        undo.push(move |s| {
            s.sessions.remove(&id);
            s.session_by_hash.remove(&hash);
            if let Some(ids) = s.sessions_by_user.get_mut(&owner) {
                ids.remove(&id);
            }
        });
        Ok(())
    }

    pub(crate) fn sessions_of(&self, owner: UserId) -> impl Iterator<Item = &Session> {
        self.sessions_by_user
            .get(&owner)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sessions.get(id))
    }

    /// Applies `change` to a session; records the previous value when
    /// `change` reports that it changed something. Token hashes never change.
    pub(crate) fn update_session(
        &mut self,
        id: SessionId,
        undo: &mut UndoLog,
        change: impl FnOnce(&mut Session) -> bool,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        let before = session.clone();
        let changed = change(session);
        if changed {
            undo.push(move |s| {
                s.sessions.insert(before.id, before);
            });
        }
        changed
    }

    pub(crate) fn revoke_where(
        &mut self,
        owner: UserId,
        at: OffsetDateTime,
        reason: RevokeReason,
        undo: &mut UndoLog,
        matches: impl Fn(&Session) -> bool,
    ) -> u64 {
        let targets: Vec<SessionId> = self
            .sessions_of(owner)
            .filter(|s| s.revoked_at.is_none() && matches(s))
            .map(|s| s.id)
            .collect();
        for id in &targets {
            self.update_session(*id, undo, |session| {
                session.revoked_at = Some(at);
                session.revoke_reason = Some(reason);
                true
            });
        }
        targets.len() as u64
    }

    pub(crate) fn purge_sealed_tokens(
        &mut self,
        created_before: OffsetDateTime,
        undo: &mut UndoLog,
    ) -> u64 {
        let targets: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.sealed_refresh_token.is_some() && s.created_at < created_before)
            .map(|s| s.id)
            .collect();
        for id in &targets {
            self.update_session(*id, undo, |session| {
                session.sealed_refresh_token.take().is_some()
            });
        }
        targets.len() as u64
    }
}
