//! `/api/v1/teams`: groups of up to eight of the caller's characters that
//! play together on one server. An access token or an API key is accepted.
//!
//! Bodies are parsed here into the use cases' commands (a name, a
//! description, a [`TeamMembers`] list of at most eight distinct ids),
//! every field error gathered into one 400. The member rules that need
//! storage (the caller's live characters, one server) are the use cases'.

use std::sync::Arc;

use application::roster::Roster;
use application::teams::{NewTeam, TeamPatch};
use domain::{
    CharacterId, CharacterView, Notes, RosterName, TeamId, TeamMembers, TeamView, ValidationErrors,
};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{MaybeUndefined, ParseError, ParseResult};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::envelope::{Envelope, PageEnvelope};
use crate::error::ApiError;
use crate::fields::{page_request, path_uuid, search_text};
use crate::security::CallerAuth;

#[derive(Tags)]
enum TeamsTag {
    /// Groups of characters that play together.
    Teams,
}

pub struct TeamsApi {
    pub roster: Arc<Roster>,
}

/// A character as a team shows it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub(crate) struct TeamMemberDto {
    id: Uuid,
    name: String,
    level: i16,
    class_id: i32,
    /// From the catalog.
    class_name: String,
    server_id: i32,
    /// From the catalog.
    server_name: String,
}

impl From<CharacterView> for TeamMemberDto {
    fn from(view: CharacterView) -> Self {
        Self {
            id: view.character.id.as_uuid(),
            name: view.character.name.as_str().to_owned(),
            level: view.character.level.get(),
            class_id: view.character.class_id.0,
            class_name: view.class_name,
            server_id: view.character.server_id.0,
            server_name: view.server_name,
        }
    }
}

/// A team with its live members (deleted characters are left out).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct TeamDto {
    id: Uuid,
    name: String,
    #[oai(nullable)]
    description: Option<String>,
    /// In the order they were given.
    members: Vec<TeamMemberDto>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<TeamView> for TeamDto {
    fn from(view: TeamView) -> Self {
        Self {
            id: view.team.id.as_uuid(),
            name: view.team.name.as_str().to_owned(),
            description: view.team.description.map(|d| d.as_str().to_owned()),
            members: view.members.into_iter().map(Into::into).collect(),
            created_at: view.team.created_at,
            updated_at: view.team.updated_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateTeamRequest {
    /// 2–50 characters after trimming; unique among the caller's teams,
    /// ignoring case.
    #[oai(
        deserialize_with = "team_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: String,
    /// At most 500 characters.
    #[oai(deserialize_with = "description", validator(max_length = 500))]
    #[oai(nullable)]
    description: MaybeUndefined<String>,
    /// 0 to 8 distinct ids of the caller's characters, all on one server.
    #[oai(deserialize_with = "member_ids", validator(max_items = 8))]
    member_ids: Vec<Uuid>,
}

/// What to change: an absent field is kept; `description: null` clears the
/// description; `memberIds` replaces the whole list.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateTeamRequest {
    /// 2–50 characters after trimming.
    #[oai(
        deserialize_with = "optional_team_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: Option<String>,
    /// At most 500 characters; `null` clears it.
    #[oai(deserialize_with = "description", validator(max_length = 500))]
    #[oai(nullable)]
    description: MaybeUndefined<String>,
    /// 0 to 8 distinct ids of the caller's characters, all on one server.
    #[oai(deserialize_with = "optional_member_ids", validator(max_items = 8))]
    member_ids: Option<Vec<Uuid>>,
}

impl TryFrom<CreateTeamRequest> for NewTeam {
    type Error = ValidationErrors;

    fn try_from(body: CreateTeamRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.collect(RosterName::parse("name", &body.name));
        let description = match body.description {
            MaybeUndefined::Value(raw) => errors.collect(Notes::parse("description", &raw)),
            MaybeUndefined::Null | MaybeUndefined::Undefined => Some(None),
        };
        let member_ids = errors.collect(TeamMembers::new(
            "memberIds",
            character_ids(&body.member_ids),
        ));
        match (name, description, member_ids) {
            (Some(name), Some(description), Some(member_ids)) => Ok(Self {
                name,
                description,
                member_ids,
            }),
            _ => Err(errors),
        }
    }
}

impl TryFrom<UpdateTeamRequest> for TeamPatch {
    type Error = ValidationErrors;

    fn try_from(body: UpdateTeamRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = body
            .name
            .map(|raw| errors.collect(RosterName::parse("name", &raw)));
        let description = match body.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(Some(None)),
            MaybeUndefined::Value(raw) => Some(errors.collect(Notes::parse("description", &raw))),
        };
        let member_ids = body
            .member_ids
            .map(|ids| errors.collect(TeamMembers::new("memberIds", character_ids(&ids))));
        errors.into_result()?;
        Ok(Self {
            name: name.flatten(),
            description: description.flatten(),
            member_ids: member_ids.flatten(),
        })
    }
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Team(Json<Envelope<TeamDto>>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The team is gone; its characters are not touched.
    #[oai(status = 204)]
    Done,
}

fn team_id(raw: &str) -> Result<TeamId, ApiError> {
    Ok(TeamId::from_uuid(path_uuid("id", raw)?))
}

fn character_ids(ids: &[Uuid]) -> Vec<CharacterId> {
    ids.iter().copied().map(CharacterId::from_uuid).collect()
}

#[OpenApi(prefix_path = "/api/v1/teams", tag = "TeamsTag::Teams")]
impl TeamsApi {
    /// The caller's teams
    ///
    /// Sorted by name, offset-paged; `search` keeps the teams whose name
    /// contains it, ignoring case.
    #[oai(path = "/", method = "get", operation_id = "teams.list")]
    async fn list(
        &self,
        auth: CallerAuth,
        #[oai(validator(max_length = 100))] search: Query<Option<String>>,
        /// 1 or more (default 1).
        page: Query<Option<i64>>,
        /// 1 to 100 (default 20).
        #[oai(name = "perPage")]
        per_page: Query<Option<i64>>,
    ) -> Result<Json<PageEnvelope<TeamDto>>, ApiError> {
        let page = page_request(page.0, per_page.0)?;
        let search = search_text(search.0.as_deref())?;
        let teams = self
            .roster
            .list_teams(auth.0.user_id, search.as_ref(), page)
            .await?;
        Ok(Json(PageEnvelope::of(teams, page)))
    }

    /// Create a team
    ///
    /// 404 when a member is not one of the caller's characters; 400 when
    /// members repeat, are more than 8 or play on different servers; 409
    /// when the caller already has a team of that name.
    #[oai(path = "/", method = "post", operation_id = "teams.create")]
    async fn create(
        &self,
        auth: CallerAuth,
        body: Json<CreateTeamRequest>,
    ) -> Result<Created, ApiError> {
        let input = NewTeam::try_from(body.0).map_err(|e| ApiError::validation(&e))?;
        let team = self
            .roster
            .create_team(auth.0.user_id, input, &RequestContext::client())
            .await?;
        Ok(Created::Team(Json(Envelope::new(team.into()))))
    }

    /// One team
    #[oai(path = "/:id", method = "get", operation_id = "teams.get")]
    async fn get(
        &self,
        auth: CallerAuth,
        /// The team's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Json<Envelope<TeamDto>>, ApiError> {
        let team = self.roster.team(auth.0.user_id, team_id(&id.0)?).await?;
        Ok(Json(Envelope::new(team.into())))
    }

    /// Change a team
    ///
    /// Answers the team as changed. The member rules are those of creation.
    #[oai(path = "/:id", method = "patch", operation_id = "teams.update")]
    async fn update(
        &self,
        auth: CallerAuth,
        /// The team's id (a UUID).
        id: Path<crate::fields::UuidText>,
        body: Json<UpdateTeamRequest>,
    ) -> Result<Json<Envelope<TeamDto>>, ApiError> {
        let id = team_id(&id.0)?;
        let patch = TeamPatch::try_from(body.0).map_err(|e| ApiError::validation(&e))?;
        let team = self
            .roster
            .update_team(auth.0.user_id, id, patch, &RequestContext::client())
            .await?;
        Ok(Json(Envelope::new(team.into())))
    }

    /// Delete a team
    #[oai(path = "/:id", method = "delete", operation_id = "teams.delete")]
    async fn delete(
        &self,
        auth: CallerAuth,
        /// The team's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Deleted, ApiError> {
        self.roster
            .delete_team(auth.0.user_id, team_id(&id.0)?, &RequestContext::client())
            .await?;
        Ok(Deleted::Done)
    }
}

// Strict readers of the request bodies' fields: only the JSON type the
// document declares is accepted, and every error names its field (see
// `crate::fields`).

fn type_error<T: poem_openapi::types::Type>(field: &str, expected: &str) -> ParseError<T> {
    ParseError::custom(format!("field `{field}` must be {expected}"))
}

fn required_name(value: Option<Value>) -> ParseResult<String> {
    match value {
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        None | Some(Value::Null) => Err(ParseError::custom("field `name` is required")),
        Some(_) => Err(type_error("name", "a string")),
    }
}

fn team_name(value: Option<Value>) -> ParseResult<String> {
    required_name(value)
}

/// Absent keeps the name; `null` is refused, as a team always has one.
fn optional_team_name(value: Option<Value>) -> ParseResult<Option<String>> {
    match value {
        None => Ok(None),
        value => required_name(value)
            .map(Some)
            .map_err(ParseError::propagate),
    }
}

fn description(value: Option<Value>) -> ParseResult<MaybeUndefined<String>> {
    match value {
        None => Ok(MaybeUndefined::Undefined),
        Some(Value::Null) => Ok(MaybeUndefined::Null),
        Some(Value::String(s)) => Ok(MaybeUndefined::Value(s)),
        Some(_) => Err(type_error("description", "a string or null")),
    }
}

fn uuid_list(value: Value) -> ParseResult<Vec<Uuid>> {
    let Value::Array(items) = value else {
        return Err(type_error("memberIds", "an array of UUIDs"));
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| type_error("memberIds", "an array of UUIDs"))
        })
        .collect()
}

fn member_ids(value: Option<Value>) -> ParseResult<Vec<Uuid>> {
    match value {
        None | Some(Value::Null) => Err(ParseError::custom("field `memberIds` is required")),
        Some(value) => uuid_list(value),
    }
}

/// Absent keeps the members; `null` is refused (`[]` empties the team).
fn optional_member_ids(value: Option<Value>) -> ParseResult<Option<Vec<Uuid>>> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Err(type_error("memberIds", "an array of UUIDs, not null")),
        Some(value) => uuid_list(value).map(Some).map_err(ParseError::propagate),
    }
}
