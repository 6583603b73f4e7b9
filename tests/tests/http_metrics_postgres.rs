//! The black-box `/metrics` suite again, on PostgreSQL: a test binary whose
//! name ends in `_postgres` runs its servers on a fresh schema each (see
//! `tests::app::Backend`), and its scrape shows the pool's connections.

#[path = "http_metrics.rs"]
mod suite;
