//! The black-box HTTP progression suite again, on PostgreSQL (see
//! `tests::app::Backend`).

#[path = "http_progressions.rs"]
mod suite;
