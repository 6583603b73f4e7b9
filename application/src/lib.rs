//! Roster's use cases, written against the domain's ports only.
//!
//! One module per feature. Authorization (who may do what, whose data is
//! whose) is decided here, never in a route or an adapter.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod catalog;
mod context;
mod cursor;

pub use context::ClientInfo;
