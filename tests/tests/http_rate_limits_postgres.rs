//! The black-box rate-limit suite again, on PostgreSQL: a test binary whose
//! name ends in `_postgres` runs its servers on a fresh schema each (see
//! `tests::app::Backend`).

#[path = "http_rate_limits.rs"]
mod suite;
