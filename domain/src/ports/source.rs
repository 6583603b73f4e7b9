use std::fmt;

use async_trait::async_trait;

use crate::catalog::{CatalogSnapshot, ItemKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached now, or answered with a server error
    /// after the retries; worth trying again later.
    #[error("catalog source unavailable: {0}")]
    Unavailable(String),
    /// The source answered something that is not what a catalog source
    /// answers (the message names the resource and the page). Retrying
    /// will not help until the source changes.
    #[error("invalid catalog: {0}")]
    Invalid(String),
}

/// The snapshot that ships with the server.
pub trait BundledSnapshot: Send + Sync {
    /// A whole snapshot. MUST return `Invalid` rather than a snapshot that
    /// fails `CatalogSnapshot::validate`.
    fn snapshot(&self) -> Result<CatalogSnapshot, SourceError>;
}

/// What a catalog source lists, one resource per kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceResource {
    /// The playable classes (`breeds`): ids are the game's class ids.
    Classes,
    /// The game servers (`servers`).
    Servers,
    /// Items of one kind (`quests`, `achievements`, `dungeons`); ids collide
    /// across kinds.
    Items(ItemKind),
}

impl SourceResource {
    pub const ALL: [SourceResource; 5] = [
        SourceResource::Classes,
        SourceResource::Servers,
        SourceResource::Items(ItemKind::Quest),
        SourceResource::Items(ItemKind::Achievement),
        SourceResource::Items(ItemKind::Dungeon),
    ];

    /// The resource's name at the source (`breeds`, `quests`…).
    pub const fn path(self) -> &'static str {
        match self {
            SourceResource::Classes => "breeds",
            SourceResource::Servers => "servers",
            SourceResource::Items(ItemKind::Quest) => "quests",
            SourceResource::Items(ItemKind::Achievement) => "achievements",
            SourceResource::Items(ItemKind::Dungeon) => "dungeons",
        }
    }

    pub fn parse(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.path() == path)
    }
}

impl fmt::Display for SourceResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// One usable row of a source page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// The source's id for the row (unique within its resource only).
    pub source_id: i64,
    /// The name in the configured language, or its fallback; never blank.
    pub name: String,
    /// 1–200 (clamped; 1 when the source has none). Always 1 for classes
    /// and servers.
    pub level: i16,
}

/// One page of a resource, as the source answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePage {
    /// The usable rows, in the source's order.
    pub entries: Vec<SourceEntry>,
    /// Rows left out because they had no id or no name in any language.
    pub skipped: u64,
    /// How many rows the resource holds, as the source says.
    pub total: u64,
    /// Where the next page starts (`skip` + the rows this page returned,
    /// usable or not); `None` when this page reached `total`.
    pub next: Option<u64>,
}

/// An outside catalog source (a DofusDB-compatible service), read page by
/// page so a sync can store each page as it comes and resume after a
/// failure without fetching the earlier pages again.
#[async_trait]
pub trait CatalogSource: Send + Sync {
    /// The page of `resource` that starts at row `skip`. An adapter is
    /// polite (a rate, retries on 429 and 5xx honouring `Retry-After`) and
    /// returns `Unavailable` once its retries are spent, `Invalid` for an
    /// answer of the wrong shape. A page past the end is empty with
    /// `next: None`.
    async fn page(&self, resource: SourceResource, skip: u64) -> Result<SourcePage, SourceError>;
}
