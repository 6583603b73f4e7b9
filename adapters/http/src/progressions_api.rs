//! PLACEHOLDER on branch `roster`: `/api/v1` routes, to be written.

use std::sync::Arc;

use application::roster::Roster;
use poem_openapi::{OpenApi, Tags};

#[derive(Tags)]
enum ProgressionsTag {
    /// Characters' progress on quests, achievements and dungeons.
    Progressions,
}

pub struct ProgressionsApi {
    pub roster: Arc<Roster>,
}

#[OpenApi(tag = "ProgressionsTag::Progressions")]
impl ProgressionsApi {}
