//! The names suite again, on PostgreSQL (see `tests::app::Backend`).

#[path = "http_names.rs"]
mod suite;
