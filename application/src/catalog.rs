//! The reference catalog: loading the bundled snapshot into storage, and
//! reading classes, servers and items ([`CatalogService`]).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::ports::{BundledSnapshot, SourceError, Storage};
use domain::{
    CatalogItem, CharacterClass, GameServer, ItemId, ItemKind, RepoError, ValidationErrors,
};

use crate::query_text;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Storage(#[from] RepoError),
}

/// Loads `source`'s snapshot when storage holds no catalog yet (a fresh
/// database, or memory storage at start). Returns whether it loaded one.
pub async fn load_if_empty(
    storage: &dyn Storage,
    source: &dyn BundledSnapshot,
) -> Result<bool, CatalogError> {
    if storage.catalog().version().await?.is_some() {
        return Ok(false);
    }
    let snapshot = source.snapshot()?;
    snapshot.validate().map_err(SourceError::Invalid)?;
    let tx = storage.begin().await?;
    // Checked again inside the unit: another instance may have loaded it.
    if tx.catalog().version().await?.is_some() {
        return Ok(false);
    }
    tx.catalog().replace(&snapshot).await?;
    tx.commit().await?;
    tracing::info!(version = %snapshot.version, items = snapshot.items.len(), "catalog loaded");
    Ok(true)
}

/// The catalog as clients read it.
pub struct CatalogService {
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogService")
    }
}

/// One page of items, by id.
#[derive(Debug, Clone)]
pub struct ItemsPage {
    pub items: Vec<CatalogItem>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl CatalogService {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    pub async fn classes(&self) -> Result<Vec<CharacterClass>, CatalogError> {
        Ok(self.storage.catalog().classes().await?)
    }

    pub async fn servers(&self) -> Result<Vec<GameServer>, CatalogError> {
        Ok(self.storage.catalog().servers().await?)
    }

    /// Items of `kind` whose name contains `search`, after `cursor`.
    pub async fn items(
        &self,
        kind: Option<ItemKind>,
        search: Option<&str>,
        cursor: Option<&str>,
        per_page: usize,
    ) -> Result<ItemsPage, CatalogError> {
        let after = cursor.map(decode_cursor).transpose()?;
        let search = query_text::search(search)
            .map_err(|e| CatalogError::Validation(ValidationErrors(vec![e])))?;
        let mut items = self
            .storage
            .catalog()
            .items(kind, search.as_deref(), after, per_page + 1)
            .await?;
        let next_cursor = if items.len() > per_page {
            items.truncate(per_page);
            items.last().map(|last| encode_cursor(last.id))
        } else {
            None
        };
        Ok(ItemsPage { items, next_cursor })
    }
}

fn encode_cursor(id: ItemId) -> String {
    URL_SAFE_NO_PAD.encode(id.0.to_be_bytes())
}

fn decode_cursor(cursor: &str) -> Result<ItemId, CatalogError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(|bytes| ItemId(i64::from_be_bytes(bytes)))
        .ok_or_else(|| {
            CatalogError::Validation(ValidationErrors::single(
                "cursor",
                "is not a cursor this API gave out",
            ))
        })
}
