//! The catalog sync: a `catalog.sync` job that reads a DofusDB-compatible
//! source page by page, each page a durable step (so a retry resumes at the
//! page that failed, without fetching the earlier ones again), reports its
//! progress in pages, then hands the whole to [`catalog::apply_source`],
//! which checks it and replaces the catalog in one unit of work — or
//! changes nothing, when the content is the same.
//!
//! Every failure to fetch is worth another attempt: `Unavailable` (the
//! source is down or refusing) obviously, and `Invalid` too, since an HTML
//! page where JSON belongs is most often a maintenance page. The kind's
//! attempts bound it: after the last, the job is `dead` and the catalog
//! untouched. A fetched whole that breaks the catalog's rules (fewer than
//! 19 classes…) is dead at once: fetching it again gives the same.

use std::sync::Arc;

use async_trait::async_trait;
use domain::SourceCatalog;
use domain::ports::{
    CatalogSource, Clock, Random, SourceEntry, SourceError, SourcePage, SourceResource, Storage,
};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::cache::ReadCache;
use crate::catalog::{self, CatalogError};
use crate::jobs::{JobContext, JobError, JobHandler, JobKind};

/// One sync at a time; a source that is down is tried again for 2–4
/// minutes in all (7 waits, 2 s doubling, jittered to 50–100 %; 8
/// attempts).
pub const CATALOG_SYNC: JobKind = JobKind {
    one_at_a_time: true,
    max_attempts: 8,
    timeout: Duration::minutes(30),
    ..JobKind::new("catalog.sync")
};

/// More pages than any real source has: a source whose `next` keeps
/// moving without end is stopped here.
const MAX_PAGES_PER_RESOURCE: u64 = 10_000;

/// A page as its step stores it.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPage {
    /// `(source id, name, level)`.
    rows: Vec<(i64, String, i16)>,
    skipped: u64,
    total: u64,
    next: Option<u64>,
}

impl From<SourcePage> for StoredPage {
    fn from(page: SourcePage) -> Self {
        Self {
            rows: page
                .entries
                .into_iter()
                .map(|e| (e.source_id, e.name, e.level))
                .collect(),
            skipped: page.skipped,
            total: page.total,
            next: page.next,
        }
    }
}

/// `catalog.sync`.
pub struct CatalogSync {
    pub storage: Arc<dyn Storage>,
    pub source: Arc<dyn CatalogSource>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Bumped when a sync changes the catalog.
    pub cache: ReadCache,
}

impl std::fmt::Debug for CatalogSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogSync")
    }
}

fn fetch_error(error: SourceError) -> JobError {
    JobError::Retry(error.to_string())
}

#[async_trait]
impl JobHandler for CatalogSync {
    fn kind(&self) -> JobKind {
        CATALOG_SYNC
    }

    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        let mut fetched = SourceCatalog::default();
        let mut done = 0_u64;
        // Pages still to fetch, as far as the totals seen so far tell.
        let mut ahead = SourceResource::ALL.len() as u64;
        for resource in SourceResource::ALL {
            ahead -= 1;
            let mut skip = 0_u64;
            for page_number in 1.. {
                let page: StoredPage = job
                    .step(&format!("{resource}@{skip}"), async {
                        self.source
                            .page(resource, skip)
                            .await
                            .map(StoredPage::from)
                            .map_err(fetch_error)
                    })
                    .await?;
                done += 1;
                fetched.skipped += page.skipped;
                let returned = page.rows.len() as u64 + page.skipped;
                fetched.rows_mut(resource).extend(page.rows.into_iter().map(
                    |(source_id, name, level)| SourceEntry {
                        source_id,
                        name,
                        level,
                    },
                ));
                let next = match page.next {
                    None => None,
                    Some(next) if next > skip && page_number < MAX_PAGES_PER_RESOURCE => Some(next),
                    Some(next) => {
                        return Err(JobError::Retry(format!(
                            "{resource} at skip {skip}: the source's paging does not advance (next {next})"
                        )));
                    }
                };
                let left_here = match next {
                    Some(next) if returned > 0 => {
                        page.total.saturating_sub(next).div_ceil(returned)
                    }
                    _ => 0,
                };
                job.progress(
                    done,
                    done + left_here + ahead,
                    Some(format!("fetching {resource}")),
                )
                .await?;
                match next {
                    Some(next) => skip = next,
                    None => break,
                }
            }
        }
        let outcome = catalog::apply_source(
            self.storage.as_ref(),
            self.clock.as_ref(),
            self.random.as_ref(),
            &fetched,
        )
        .await
        .map_err(|error| match error {
            CatalogError::Source(SourceError::Invalid(message)) => {
                JobError::Permanent(format!("the source's catalog is not usable: {message}"))
            }
            CatalogError::Storage(error) => JobError::Storage(error),
            other => JobError::Retry(other.to_string()),
        })?;
        if outcome.changed {
            self.cache.catalog_changed().await;
        }
        let summary = if outcome.changed {
            format!("catalog updated to version {}", outcome.version)
        } else {
            format!("catalog unchanged (version {})", outcome.version)
        };
        job.progress(done, done, Some(summary)).await?;
        let items = |r| outcome.of(r);
        tracing::info!(
            changed = outcome.changed,
            version = %outcome.version,
            pages = done,
            skipped = outcome.skipped,
            matched_by_name = outcome.matched_by_name,
            quests = ?items(SourceResource::Items(domain::ItemKind::Quest)),
            achievements = ?items(SourceResource::Items(domain::ItemKind::Achievement)),
            dungeons = ?items(SourceResource::Items(domain::ItemKind::Dungeon)),
            "catalog synced"
        );
        Ok(())
    }
}
