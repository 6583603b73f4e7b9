use async_trait::async_trait;

use crate::catalog::CatalogSnapshot;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source cannot be reached now; worth retrying later.
    #[error("catalog source unavailable: {0}")]
    Unavailable(String),
    /// The source answered something that is not a valid catalog.
    #[error("invalid catalog: {0}")]
    Invalid(String),
}

/// Where catalog snapshots come from: the one bundled with the server, or
/// an outside source for a sync.
#[async_trait]
pub trait CatalogSource: Send + Sync {
    /// A whole snapshot. MUST return `Invalid` rather than a snapshot that
    /// fails `CatalogSnapshot::validate`.
    async fn fetch(&self) -> Result<CatalogSnapshot, SourceError>;
}
