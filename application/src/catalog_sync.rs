//! The catalog sync: a `catalog.sync` job that reads a DofusDB-compatible
//! source page by page, each page a durable step, then replaces the catalog
//! in one unit of work.

use time::Duration;

use crate::jobs::JobKind;

/// One sync at a time; a source that is down is tried again for about an
/// hour (2 s doubling, 8 attempts).
pub const CATALOG_SYNC: JobKind = JobKind {
    one_at_a_time: true,
    max_attempts: 8,
    timeout: Duration::minutes(30),
    ..JobKind::new("catalog.sync")
};
