//! `/api/v1/characters/{id}/progressions…` and
//! `/api/v1/teams/{id}/progressions/{itemId}`: each character's status on
//! the catalog's quests, achievements and dungeons. An access token or an
//! API key is accepted.

use std::sync::Arc;

use application::progressions::{KindSummary, MemberProgress, ProgressSummary};
use application::roster::Roster;
use domain::{CharacterId, ItemId, ItemKind, ProgressStatus, ProgressionView, TeamId};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseError, ParseResult};
use poem_openapi::{Enum, Object, OpenApi, Tags};
use serde_json::Value;
use time::OffsetDateTime;

use crate::catalog_api::ItemKindDto;
use crate::context::RequestContext;
use crate::envelope::{Envelope, PageEnvelope};
use crate::error::ApiError;
use crate::fields::{page_request, path_uuid};
use crate::security::CallerAuth;
use crate::teams_api::TeamMemberDto;

#[derive(Tags)]
enum ProgressionsTag {
    /// Characters' progress on quests, achievements and dungeons.
    Progressions,
}

pub struct ProgressionsApi {
    pub roster: Arc<Roster>,
}

/// Where a character stands on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum StatusDto {
    Todo,
    InProgress,
    Done,
}

impl From<ProgressStatus> for StatusDto {
    fn from(status: ProgressStatus) -> Self {
        match status {
            ProgressStatus::Todo => Self::Todo,
            ProgressStatus::InProgress => Self::InProgress,
            ProgressStatus::Done => Self::Done,
        }
    }
}

impl From<StatusDto> for ProgressStatus {
    fn from(status: StatusDto) -> Self {
        match status {
            StatusDto::Todo => Self::Todo,
            StatusDto::InProgress => Self::InProgress,
            StatusDto::Done => Self::Done,
        }
    }
}

/// A character's status on one catalog item.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ProgressionDto {
    item_id: i64,
    kind: ItemKindDto,
    /// From the catalog.
    item_name: String,
    status: StatusDto,
    /// When the status became `done`; `null` for any other status.
    #[oai(nullable)]
    completed_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
}

impl From<ProgressionView> for ProgressionDto {
    fn from(view: ProgressionView) -> Self {
        Self {
            item_id: view.progression.item_id.0,
            kind: view.kind.into(),
            item_name: view.item_name,
            status: view.progression.status.into(),
            completed_at: view.progression.completed_at,
            updated_at: view.progression.updated_at,
        }
    }
}

/// Where the character stands on the item: `status` is `todo`,
/// `in_progress` or `done`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct SetProgressionRequest {
    #[oai(deserialize_with = "status")]
    status: StatusDto,
}

/// One kind's counts; `todo + inProgress + done = total`, the catalog's
/// number of items of the kind (an item without a progression is `todo`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct KindSummaryDto {
    todo: u64,
    in_progress: u64,
    done: u64,
    total: u64,
}

impl From<KindSummary> for KindSummaryDto {
    fn from(line: KindSummary) -> Self {
        Self {
            todo: line.todo,
            in_progress: line.in_progress,
            done: line.done,
            total: line.total,
        }
    }
}

/// A character's counts per kind of item.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SummaryDto {
    quest: KindSummaryDto,
    achievement: KindSummaryDto,
    dungeon: KindSummaryDto,
}

impl From<ProgressSummary> for SummaryDto {
    fn from(summary: ProgressSummary) -> Self {
        Self {
            quest: summary.quest.into(),
            achievement: summary.achievement.into(),
            dungeon: summary.dungeon.into(),
        }
    }
}

/// Where one team member stands on the item; `status` is `todo` when the
/// member has no progression on it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct MemberProgressDto {
    member: TeamMemberDto,
    // `todo` when the member has no progression on the item (said in the
    // struct's description).
    status: StatusDto,
    #[oai(nullable)]
    completed_at: Option<OffsetDateTime>,
}

impl From<MemberProgress> for MemberProgressDto {
    fn from(progress: MemberProgress) -> Self {
        Self {
            member: progress.member.into(),
            status: progress.status.into(),
            completed_at: progress.completed_at,
        }
    }
}

/// The `itemId` path parameter. Read as text and parsed here so that the
/// error names it (poem-openapi reports a failed path parse under an
/// internal name such as `param1`).
fn item(raw: &str) -> Result<ItemId, ApiError> {
    raw.parse().map(ItemId).map_err(|_| {
        ApiError::validation(&domain::ValidationErrors::single(
            "itemId",
            "must be an integer",
        ))
    })
}

fn character_id(raw: &str) -> Result<CharacterId, ApiError> {
    Ok(CharacterId::from_uuid(path_uuid("id", raw)?))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ProgressionsTag::Progressions")]
impl ProgressionsApi {
    /// A character's progressions
    ///
    /// By item id, offset-paged; `kind` and `status` keep only those that
    /// match. Items the character has no progression on are not listed.
    #[oai(
        path = "/characters/:id/progressions",
        method = "get",
        operation_id = "progressions.list"
    )]
    async fn list(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
        kind: Query<Option<ItemKindDto>>,
        status: Query<Option<StatusDto>>,
        /// 1 or more (default 1).
        page: Query<Option<i64>>,
        /// 1 to 100 (default 20).
        #[oai(name = "perPage")]
        per_page: Query<Option<i64>>,
    ) -> Result<Json<PageEnvelope<ProgressionDto>>, ApiError> {
        let character = character_id(&id.0)?;
        let page = page_request(page.0, per_page.0)?;
        let kind = kind.0.map(ItemKind::from);
        let status = status.0.map(ProgressStatus::from);
        let list = self
            .roster
            .list_progressions(auth.0.user_id, character, kind, status, page)
            .await?;
        Ok(Json(PageEnvelope::of(list, page)))
    }

    /// A character's counts per kind
    ///
    /// For quests, achievements and dungeons: how many of the catalog's
    /// items are to do, in progress and done.
    #[oai(
        path = "/characters/:id/progressions/summary",
        method = "get",
        operation_id = "progressions.summary"
    )]
    async fn summary(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Json<Envelope<SummaryDto>>, ApiError> {
        let summary = self
            .roster
            .progress_summary(auth.0.user_id, character_id(&id.0)?)
            .await?;
        Ok(Json(Envelope::new(summary.into())))
    }

    /// Set a character's status on an item
    ///
    /// Creates the progression if needed. `completedAt` is set when the
    /// status becomes `done` and cleared otherwise; setting the status it
    /// already has changes nothing. 404 for an unknown item.
    #[oai(
        path = "/characters/:id/progressions/:itemId",
        method = "put",
        operation_id = "progressions.set"
    )]
    async fn set(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
        /// The catalog item's id (an integer).
        #[oai(name = "itemId")]
        item_id: Path<crate::fields::IntegerText>,
        body: Json<SetProgressionRequest>,
    ) -> Result<Json<Envelope<ProgressionDto>>, ApiError> {
        let character = character_id(&id.0)?;
        let item = item(&item_id.0)?;
        let status = ProgressStatus::from(body.0.status);
        let progression = self
            .roster
            .set_progression(
                auth.0.user_id,
                character,
                item,
                status,
                &RequestContext::client(),
            )
            .await?;
        Ok(Json(Envelope::new(progression.into())))
    }

    /// Where a team stands on an item
    ///
    /// One line per member, in the team's order; `todo` for a member
    /// without a progression on the item. 404 for an unknown item.
    #[oai(
        path = "/teams/:id/progressions/:itemId",
        method = "get",
        operation_id = "teams.progressions"
    )]
    async fn team(
        &self,
        auth: CallerAuth,
        /// The team's id (a UUID).
        id: Path<crate::fields::UuidText>,
        /// The catalog item's id (an integer).
        #[oai(name = "itemId")]
        item_id: Path<crate::fields::IntegerText>,
    ) -> Result<Json<Envelope<Vec<MemberProgressDto>>>, ApiError> {
        let team = TeamId::from_uuid(path_uuid("id", &id.0)?);
        let lines = self
            .roster
            .team_progress(auth.0.user_id, team, item(&item_id.0)?)
            .await?;
        Ok(Json(Envelope::new(
            lines.into_iter().map(Into::into).collect(),
        )))
    }
}

/// The body's `status`: only one of the three strings, with an error that
/// names the field.
fn status(value: Option<Value>) -> ParseResult<StatusDto> {
    let parsed = match &value {
        Some(Value::String(s)) => ProgressStatus::parse(s).map(StatusDto::from),
        None | Some(Value::Null) => {
            return Err(ParseError::custom("field `status` is required"));
        }
        Some(_) => None,
    };
    parsed
        .ok_or_else(|| ParseError::custom("field `status` must be one of todo, in_progress, done"))
}
