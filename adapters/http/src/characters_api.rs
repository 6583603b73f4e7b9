//! PLACEHOLDER on branch `roster`: `/api/v1/characters` routes, to be written.

use std::sync::Arc;

use application::roster::Roster;
use poem_openapi::{OpenApi, Tags};

#[derive(Tags)]
enum CharactersTag {
    /// A user's characters.
    Characters,
}

pub struct CharactersApi {
    pub roster: Arc<Roster>,
}

#[OpenApi(tag = "CharactersTag::Characters")]
impl CharactersApi {}
