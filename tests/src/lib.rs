//! Shared support for Roster's black-box tests: starting the real server on
//! a free port, the storage conformance suites that every adapter must
//! pass, and a fake DofusDB service for the catalog source.

pub mod app;
pub mod cache_conformance;
pub mod conformance;
pub mod dofusdb;
pub mod exposition;
pub mod jobs_conformance;
pub mod pg;
pub mod rate_limit_conformance;
pub mod redis;
pub mod roster;
pub mod roster_seed;
pub mod round_trips;
