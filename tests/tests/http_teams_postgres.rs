//! The black-box HTTP teams suite again, on PostgreSQL (see
//! `tests::app::Backend`).

#[path = "http_teams.rs"]
mod suite;
