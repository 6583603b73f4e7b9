//! Users in memory: the table's writes, which keep the e-mail index, and
//! `UserRepository`.

use async_trait::async_trait;
use domain::ports::UserRepository;
use domain::{Email, PasswordHash, RepoError, Role, UniqueRule, User, UserId};
use time::OffsetDateTime;

use crate::tables::{State, UndoLog};
use crate::transaction::{Access, Repos};

impl State {
    pub(crate) fn user_by_email(&self, email: &Email) -> Option<&User> {
        self.user_by_email
            .get(email.as_str())
            .and_then(|id| self.users.get(id))
    }

    pub(crate) fn insert_user(&mut self, user: &User, undo: &mut UndoLog) -> Result<(), RepoError> {
        if self.users.contains_key(&user.id) {
            return Err(RepoError::Duplicate(UniqueRule::UserId));
        }
        if self.user_by_email.contains_key(user.email.as_str()) {
            return Err(RepoError::Duplicate(UniqueRule::UserEmail));
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
}

#[async_trait]
impl<A: Access> UserRepository for Repos<A> {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        self.0.with_state(|s, undo| s.insert_user(user, undo)).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        Ok(self.0.read(|s| s.users.get(&id).cloned()).await)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Ok(self.0.read(|s| s.user_by_email(email).cloned()).await)
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
            .read(|s| {
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
