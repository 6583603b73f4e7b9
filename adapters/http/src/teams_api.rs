//! PLACEHOLDER on branch `roster`: `/api/v1/teams` routes, to be written.

use std::sync::Arc;

use application::roster::Roster;
use poem_openapi::{OpenApi, Tags};

#[derive(Tags)]
enum TeamsTag {
    /// Groups of characters that play together.
    Teams,
}

pub struct TeamsApi {
    pub roster: Arc<Roster>,
}

#[OpenApi(tag = "TeamsTag::Teams")]
impl TeamsApi {}
