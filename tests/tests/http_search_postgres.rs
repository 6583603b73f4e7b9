//! The search-parameter suite again, on PostgreSQL: a test binary whose name
//! ends in `_postgres` runs its servers on a fresh schema each (see
//! `tests::app::Backend`).

#[path = "http_search.rs"]
mod suite;
