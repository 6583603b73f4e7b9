//! The black-box HTTP API-keys suite again, on PostgreSQL: a test binary
//! whose name ends in `_postgres` runs its servers on a fresh schema each
//! (see `tests::app::Backend`).

#[path = "http_api_keys.rs"]
mod suite;
