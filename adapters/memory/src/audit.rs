//! `AuditRepository` in memory.

use async_trait::async_trait;
use domain::ports::AuditRepository;
use domain::{AuditEntry, AuditFilter, AuditId, RepoError, UniqueRule};

use crate::transaction::{Access, Repos};

fn matches(filter: &AuditFilter, entry: &AuditEntry) -> bool {
    filter
        .actor_id
        .is_none_or(|actor| entry.actor_id == Some(actor))
        && filter
            .resource_type
            .as_deref()
            .is_none_or(|t| t == entry.resource_type)
        && filter
            .resource_id
            .as_deref()
            .is_none_or(|id| id == entry.resource_id)
}

#[async_trait]
impl<A: Access> AuditRepository for Repos<A> {
    async fn append(&self, entry: &AuditEntry) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                if s.audit.entries.contains_key(&entry.id) {
                    return Err(RepoError::Duplicate(UniqueRule::AuditEntryId));
                }
                s.audit.entries.insert(entry.id, entry.clone());
                let id = entry.id;
                undo.push(move |s| {
                    s.audit.entries.remove(&id);
                });
                Ok(())
            })
            .await
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let older = match before {
                    Some(before) => s.audit.entries.range(..before),
                    None => s.audit.entries.range(..),
                };
                older
                    .rev()
                    .map(|(_, entry)| entry)
                    .filter(|entry| matches(filter, entry))
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .await)
    }
}
