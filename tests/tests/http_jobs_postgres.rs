//! The black-box HTTP jobs suite again, on PostgreSQL: a test binary whose
//! name ends in `_postgres` runs its servers on a fresh schema each (see
//! `tests::app::Backend`), with the worker woken by `LISTEN/NOTIFY`.

#[path = "http_jobs.rs"]
mod suite;
