//! PLACEHOLDER on branch `roster`: `/api/v1/accounts` routes, to be written.

use std::sync::Arc;

use application::roster::Roster;
use poem_openapi::{OpenApi, Tags};

#[derive(Tags)]
enum AccountsTag {
    /// The game accounts a user plays.
    Accounts,
}

pub struct AccountsApi {
    pub roster: Arc<Roster>,
}

#[OpenApi(tag = "AccountsTag::Accounts")]
impl AccountsApi {}
