//! Roster's use cases, written against the domain's ports only.
//!
//! One module per feature. Authorization (who may do what, whose data is
//! whose) is decided here, never in a route or an adapter.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod catalog_sync;
pub mod characters;
mod context;
mod cursor;
pub mod health;
pub mod jobs;
pub mod maintenance;
pub mod progressions;
mod query_text;
pub mod roster;
mod stored_time;
pub mod teams;

pub use context::ClientInfo;
