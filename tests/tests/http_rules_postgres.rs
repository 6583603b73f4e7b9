//! The exhaustive rules again, on PostgreSQL (see `tests::app::Backend`).

#[path = "http_rules.rs"]
mod suite;
