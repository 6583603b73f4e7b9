//! Sessions in memory: the table's writes, which keep the token-hash and
//! per-user indexes, and `SessionRepository`.

use async_trait::async_trait;
use domain::ports::SessionRepository;
use domain::{
    FamilyId, RepoError, RevokeReason, Session, SessionId, TokenHash, UniqueRule, UserId,
};
use time::{Duration, OffsetDateTime};

use crate::tables::{State, UndoLog};
use crate::transaction::{Access, Repos};

impl State {
    pub(crate) fn insert_session(
        &mut self,
        session: &Session,
        undo: &mut UndoLog,
    ) -> Result<(), RepoError> {
        if self.sessions.contains_key(&session.id) {
            return Err(RepoError::Duplicate(UniqueRule::SessionId));
        }
        if self
            .session_by_hash
            .contains_key(&session.refresh_token_hash)
        {
            return Err(RepoError::Duplicate(UniqueRule::SessionTokenHash));
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

#[async_trait]
impl<A: Access> SessionRepository for Repos<A> {
    async fn insert(&self, session: &Session) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| s.insert_session(session, undo))
            .await
    }

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        Ok(self.0.read(|s| s.sessions.get(&id).cloned()).await)
    }

    async fn find_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, RepoError> {
        Ok(self
            .0
            .read(|s| {
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
            .read(|s| {
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

    async fn delete_expired(&self, expired_before: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let doomed: Vec<Session> = s
                    .sessions
                    .values()
                    .filter(|session| session.expires_at < expired_before)
                    .cloned()
                    .collect();
                for session in &doomed {
                    s.sessions.remove(&session.id);
                    s.session_by_hash.remove(&session.refresh_token_hash);
                    if let Some(ids) = s.sessions_by_user.get_mut(&session.user_id) {
                        ids.remove(&session.id);
                    }
                }
                let count = doomed.len() as u64;
                undo.push(move |s| {
                    for session in doomed {
                        s.session_by_hash
                            .insert(session.refresh_token_hash, session.id);
                        s.sessions_by_user
                            .entry(session.user_id)
                            .or_default()
                            .insert(session.id);
                        s.sessions.insert(session.id, session);
                    }
                });
                count
            })
            .await)
    }
}
