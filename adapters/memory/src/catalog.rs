//! `CatalogRepository` in memory.

use std::sync::Arc;

use async_trait::async_trait;
use domain::ports::CatalogRepository;
use domain::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, RepoError,
    ServerId,
};

use crate::tables::CatalogTable;
use crate::transaction::{Access, Repos};

impl CatalogTable {
    /// The class's name (current or retired), or `""` when the catalog does
    /// not hold it.
    pub(crate) fn class_name(&self, id: ClassId) -> &str {
        self.snapshot
            .as_deref()
            .and_then(|s| {
                let at = s.classes.binary_search_by_key(&id, |c| c.id).ok()?;
                Some(s.classes[at].name.as_str())
            })
            .unwrap_or_default()
    }

    /// The server's name (current or retired), or `""` when the catalog
    /// does not hold it.
    pub(crate) fn server_name(&self, id: ServerId) -> &str {
        self.snapshot
            .as_deref()
            .and_then(|s| {
                let at = s.servers.binary_search_by_key(&id, |c| c.id).ok()?;
                Some(s.servers[at].name.as_str())
            })
            .unwrap_or_default()
    }

    pub(crate) fn item(&self, id: ItemId) -> Option<&CatalogItem> {
        let s = self.snapshot.as_deref()?;
        let at = s.items.binary_search_by_key(&id, |i| i.id).ok()?;
        Some(&s.items[at])
    }
}

impl<A: Access> Repos<A> {
    async fn held(&self) -> Option<Arc<CatalogSnapshot>> {
        self.0.read(|s| s.catalog.snapshot.clone()).await
    }
}

#[async_trait]
impl<A: Access> CatalogRepository for Repos<A> {
    async fn replace(&self, snapshot: &CatalogSnapshot) -> Result<(), RepoError> {
        let sorted = snapshot.clone().sorted();
        self.0
            .with_state(|s, undo| {
                let before = s.catalog.snapshot.replace(Arc::new(sorted));
                undo.push(move |s| s.catalog.snapshot = before);
            })
            .await;
        Ok(())
    }

    async fn snapshot(&self) -> Result<Option<CatalogSnapshot>, RepoError> {
        // A unit of work holds the whole state exclusively: nothing else
        // replaces the catalog before it ends.
        Ok(self.held().await.map(|s| CatalogSnapshot::clone(&s)))
    }

    async fn version(&self) -> Result<Option<String>, RepoError> {
        Ok(self.held().await.map(|s| s.version.clone()))
    }

    async fn classes(&self) -> Result<Vec<CharacterClass>, RepoError> {
        Ok(self
            .held()
            .await
            .map(|s| s.classes.iter().filter(|c| !c.retired).cloned().collect())
            .unwrap_or_default())
    }

    async fn servers(&self) -> Result<Vec<GameServer>, RepoError> {
        Ok(self
            .held()
            .await
            .map(|s| s.servers.iter().filter(|c| !c.retired).cloned().collect())
            .unwrap_or_default())
    }

    async fn items(
        &self,
        kind: Option<ItemKind>,
        search: Option<&str>,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<CatalogItem>, RepoError> {
        let Some(snapshot) = self.held().await else {
            return Ok(Vec::new());
        };
        let search = search.map(str::to_lowercase);
        let start = after.map_or(0, |after| snapshot.items.partition_point(|i| i.id <= after));
        Ok(snapshot.items[start..]
            .iter()
            .filter(|i| !i.retired && kind.is_none_or(|k| i.kind == k))
            .filter(|i| {
                search
                    .as_deref()
                    .is_none_or(|s| i.name.to_lowercase().contains(s))
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn count_items(&self, kind: ItemKind) -> Result<u64, RepoError> {
        Ok(self.held().await.map_or(0, |s| {
            s.items
                .iter()
                .filter(|i| !i.retired && i.kind == kind)
                .count() as u64
        }))
    }

    async fn find_class(&self, id: ClassId) -> Result<Option<CharacterClass>, RepoError> {
        Ok(self
            .held()
            .await
            .and_then(|s| s.classes.iter().find(|c| c.id == id).cloned()))
    }

    async fn find_server(&self, id: ServerId) -> Result<Option<GameServer>, RepoError> {
        Ok(self
            .held()
            .await
            .and_then(|s| s.servers.iter().find(|c| c.id == id).cloned()))
    }

    async fn find_item(&self, id: ItemId) -> Result<Option<CatalogItem>, RepoError> {
        Ok(self.held().await.and_then(|s| {
            s.items
                .binary_search_by_key(&id, |i| i.id)
                .ok()
                .map(|at| s.items[at].clone())
        }))
    }
}
