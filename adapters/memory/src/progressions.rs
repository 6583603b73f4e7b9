//! `ProgressionRepository` in memory.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use domain::ports::ProgressionRepository;
use domain::{
    CatalogItem, CharacterId, ItemId, ItemKind, PageRequest, Paged, ProgressCount, ProgressStatus,
    Progression, ProgressionView, RepoError, UserId,
};

use crate::roster::page_of;
use crate::tables::State;
use crate::transaction::{Access, Repos};

impl State {
    /// The progressions of `owner`'s live character whose item is in the
    /// catalog (current or retired), by item id, each with its item.
    fn progression_views(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> impl Iterator<Item = (&Progression, &CatalogItem)> {
        self.live_character(owner, character)
            .and_then(|c| self.roster.progressions.get(&c.id))
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter_map(|p| {
                let item = self.catalog.item(p.item_id)?;
                Some((p, item))
            })
    }
}

#[async_trait]
impl<A: Access> ProgressionRepository for Repos<A> {
    async fn find(
        &self,
        owner: UserId,
        character: CharacterId,
        item: ItemId,
    ) -> Result<Option<Progression>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                s.live_character(owner, character)?;
                s.roster.progressions.get(&character)?.get(&item).cloned()
            })
            .await)
    }

    async fn upsert(&self, owner: UserId, progression: &Progression) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                if s.live_character(owner, progression.character_id).is_none() {
                    return false;
                }
                s.put_progression(progression.clone(), undo);
                true
            })
            .await)
    }

    async fn list(
        &self,
        owner: UserId,
        character: CharacterId,
        kind: Option<ItemKind>,
        status: Option<ProgressStatus>,
        page: PageRequest,
    ) -> Result<Paged<ProgressionView>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let found: Vec<_> = s
                    .progression_views(owner, character)
                    .filter(|(p, item)| {
                        kind.is_none_or(|kind| item.kind == kind)
                            && status.is_none_or(|status| p.status == status)
                    })
                    .collect();
                page_of(found, page, |(p, item)| ProgressionView {
                    progression: p.clone(),
                    kind: item.kind,
                    item_name: item.name.clone(),
                })
            })
            .await)
    }

    async fn counts(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<ProgressCount>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let mut counts: BTreeMap<(ItemKind, ProgressStatus), u64> = BTreeMap::new();
                for (p, item) in s.progression_views(owner, character) {
                    if !item.retired {
                        *counts.entry((item.kind, p.status)).or_insert(0) += 1;
                    }
                }
                counts
                    .into_iter()
                    .map(|((kind, status), count)| ProgressCount {
                        kind,
                        status,
                        count,
                    })
                    .collect()
            })
            .await)
    }

    async fn for_item(
        &self,
        owner: UserId,
        characters: &[CharacterId],
        item: ItemId,
    ) -> Result<Vec<Progression>, RepoError> {
        let mut seen = HashSet::new();
        Ok(self
            .0
            .read(|s| {
                characters
                    .iter()
                    .filter(|id| seen.insert(**id))
                    .filter(|id| s.live_character(owner, **id).is_some())
                    .filter_map(|id| s.roster.progressions.get(id)?.get(&item).cloned())
                    .collect()
            })
            .await)
    }
}
