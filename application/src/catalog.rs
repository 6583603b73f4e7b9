//! The reference catalog: loading the bundled snapshot into storage,
//! applying a sync fetched from an outside source ([`apply_source`]), and
//! reading classes, servers and items ([`CatalogService`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::catalog_sync::merge;
use domain::ports::{
    BundledSnapshot, CacheTier, Clock, Random, SourceError, SourceResource, Storage,
};
use domain::{
    AuditValue, CatalogItem, Change, CharacterClass, GameServer, ItemId, ItemKind, RepoError,
    SourceCatalog, SyncCounts, ValidationErrors,
};

use crate::audit::{self, Resource};
use crate::cache::{CATALOG, ReadCache, last_part};
use crate::context::ClientInfo;
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

/// What a sync did, for the job's result and its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Whether the catalog changed. When it did not, nothing was written
    /// and the version is the one storage already held.
    pub changed: bool,
    /// The catalog's version after the sync.
    pub version: String,
    /// Per resource, in [`SourceResource::ALL`] order.
    pub counts: BTreeMap<SourceResource, SyncCounts>,
    /// Bundled items (no source id yet) matched to a source row by name.
    pub matched_by_name: u64,
    /// Rows the source answered but that were left out (no id, no name).
    pub skipped: u64,
}

impl SyncOutcome {
    /// The counts of `resource` (zeros for one the sync did not touch).
    pub fn of(&self, resource: SourceResource) -> SyncCounts {
        self.counts.get(&resource).copied().unwrap_or_default()
    }
}

/// Makes `fetched`, every row of every resource of a source, the catalog:
/// all or nothing. The fetched catalog is checked as a whole first
/// ([`SourceCatalog::validate`]; `CatalogError::Source(Invalid)` and nothing
/// written when it breaks a rule), then merged into the catalog read inside
/// the unit of work (which keeps other replacements out), following the
/// rules of [`domain::catalog_sync`]: every entry keeps its id, vanished
/// ones are retired, returning ones restored. When the result is the
/// catalog already stored, nothing is written and the version stays; else
/// the new catalog and a `catalog.synced` audit entry (by the system)
/// commit together, under a version hashed from the content.
pub async fn apply_source(
    storage: &dyn Storage,
    clock: &dyn Clock,
    random: &dyn Random,
    fetched: &SourceCatalog,
) -> Result<SyncOutcome, CatalogError> {
    fetched.validate().map_err(SourceError::Invalid)?;
    let tx = storage.begin().await?;
    let current = tx.catalog().snapshot().await?;
    let merged = merge(current.as_ref(), fetched).map_err(SourceError::Invalid)?;
    let outcome = SyncOutcome {
        changed: merged.changed,
        version: merged.catalog.version.clone(),
        counts: merged.counts,
        matched_by_name: merged.matched_by_name,
        skipped: fetched.skipped,
    };
    if !merged.changed {
        // Dropped, not committed: the unit wrote nothing.
        drop(tx);
        tracing::info!(version = %outcome.version, "catalog sync: unchanged");
        return Ok(outcome);
    }
    tx.catalog().replace(&merged.catalog).await?;
    let entry = audit::entry(
        clock.now(),
        random,
        &ClientInfo::default(),
        None,
        "catalog.synced",
        Resource::new("catalog", "catalog"),
        vec![Change {
            field: "version".to_owned(),
            from: AuditValue::from(current.as_ref().map(|c| c.version.as_str())),
            to: AuditValue::from(outcome.version.as_str()),
        }],
    );
    tx.commit_with_audit(&[entry]).await?;
    tracing::info!(
        version = %outcome.version,
        counts = ?outcome.counts,
        matched_by_name = outcome.matched_by_name,
        skipped = outcome.skipped,
        "catalog sync: applied"
    );
    Ok(outcome)
}

/// The catalog as clients read it.
pub struct CatalogService {
    storage: Arc<dyn Storage>,
    cache: ReadCache,
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
        Self {
            storage,
            cache: ReadCache::off(),
        }
    }

    /// Keeps the catalog's answers in `cache` (the reference tier).
    pub fn with_cache(mut self, cache: ReadCache) -> Self {
        self.cache = cache;
        self
    }

    pub async fn classes(&self) -> Result<Vec<CharacterClass>, CatalogError> {
        self.cache
            .read(CacheTier::Reference, &[CATALOG], "classes", || async {
                Ok(self.storage.catalog().classes().await?)
            })
            .await
    }

    pub async fn servers(&self) -> Result<Vec<GameServer>, CatalogError> {
        self.cache
            .read(CacheTier::Reference, &[CATALOG], "servers", || async {
                Ok(self.storage.catalog().servers().await?)
            })
            .await
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
        let name = format!(
            "items:{}:{}:{per_page}:{}",
            kind.map_or("all", ItemKind::as_str),
            after.map_or_else(|| "-".to_owned(), |id| id.0.to_string()),
            last_part(search.as_deref())
        );
        let mut items: Vec<CatalogItem> = self
            .cache
            .read(CacheTier::Reference, &[CATALOG], &name, || async {
                Ok::<_, CatalogError>(
                    self.storage
                        .catalog()
                        .items(kind, search.as_deref(), after, per_page + 1)
                        .await?,
                )
            })
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
