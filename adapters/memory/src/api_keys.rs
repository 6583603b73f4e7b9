//! `ApiKeyRepository` in memory.

use async_trait::async_trait;
use domain::ports::ApiKeyRepository;
use domain::{ApiKey, ApiKeyId, RepoError, TokenHash, UniqueRule, UserId};
use time::{Duration, OffsetDateTime};

use crate::tables::{State, UndoLog};
use crate::transaction::{Access, Repos};

impl State {
    /// Applies `change` to a key; records the previous value when `change`
    /// reports that it changed something.
    fn update_api_key(
        &mut self,
        id: ApiKeyId,
        undo: &mut UndoLog,
        change: impl FnOnce(&mut ApiKey) -> bool,
    ) -> bool {
        let Some(key) = self.api_keys.keys.get_mut(&id) else {
            return false;
        };
        let before = key.clone();
        let changed = change(key);
        if changed {
            undo.push(move |s| {
                s.api_keys.keys.insert(before.id, before);
            });
        }
        changed
    }
}

#[async_trait]
impl<A: Access> ApiKeyRepository for Repos<A> {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                if s.api_keys.keys.contains_key(&key.id) {
                    return Err(RepoError::Duplicate(UniqueRule::ApiKeyId));
                }
                if s.api_keys.by_hash.contains_key(&key.key_hash) {
                    return Err(RepoError::Duplicate(UniqueRule::ApiKeyHash));
                }
                s.api_keys.keys.insert(key.id, key.clone());
                s.api_keys.by_hash.insert(key.key_hash, key.id);
                let (id, hash) = (key.id, key.key_hash);
                undo.push(move |s| {
                    s.api_keys.keys.remove(&id);
                    s.api_keys.by_hash.remove(&hash);
                });
                Ok(())
            })
            .await
    }

    async fn find_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                s.api_keys
                    .by_hash
                    .get(hash)
                    .and_then(|id| s.api_keys.keys.get(id))
                    .cloned()
            })
            .await)
    }

    async fn list(&self, owner: UserId) -> Result<Vec<ApiKey>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let mut keys: Vec<ApiKey> = s
                    .api_keys
                    .keys
                    .values()
                    .filter(|k| k.owner == owner && k.revoked_at.is_none())
                    .cloned()
                    .collect();
                keys.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.id)));
                keys
            })
            .await)
    }

    async fn revoke(
        &self,
        owner: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                s.update_api_key(id, undo, |key| {
                    if key.owner != owner || key.revoked_at.is_some() {
                        return false;
                    }
                    key.revoked_at = Some(at);
                    true
                })
            })
            .await)
    }

    async fn revoke_all(&self, owner: UserId, at: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let targets: Vec<ApiKeyId> = s
                    .api_keys
                    .keys
                    .values()
                    .filter(|k| k.owner == owner && k.revoked_at.is_none())
                    .map(|k| k.id)
                    .collect();
                for id in &targets {
                    s.update_api_key(*id, undo, |key| {
                        key.revoked_at = Some(at);
                        true
                    });
                }
                targets.len() as u64
            })
            .await)
    }

    async fn touch(
        &self,
        id: ApiKeyId,
        at: OffsetDateTime,
        min_interval: Duration,
    ) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                s.update_api_key(id, undo, |key| {
                    if key
                        .last_used_at
                        .is_some_and(|used| used >= at - min_interval)
                    {
                        return false;
                    }
                    key.last_used_at = Some(at);
                    true
                })
            })
            .await;
        Ok(())
    }
}
