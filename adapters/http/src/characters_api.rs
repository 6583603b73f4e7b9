//! `/api/v1/characters`: the caller's characters. An access token or an API
//! key acts as the caller; another user's character answers 404.
//!
//! A character's version is its entity tag (`ETag: "<version>"`), sent
//! with every single-character answer; `PATCH` honours `If-Match` with
//! strong comparison, so two clients editing the same version cannot both
//! win.
//!
//! Each body and query is parsed here into the use case's command (names,
//! levels, filters as domain types), every field error gathered into one
//! 400; the use case checks only what needs storage.

use std::sync::Arc;

use application::characters::{CharacterPatch, MAX_IDS, NewCharacter, Precondition};
use application::roster::Roster;
use domain::{
    AccountId, CharacterFilter, CharacterId, CharacterSort, CharacterView, ClassId, FieldError,
    Level, RosterName, SearchText, ServerId, ValidationErrors,
};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::envelope::{Envelope, PageEnvelope};
use crate::error::ApiError;
use crate::fields::{page_request, path_uuid};
use crate::security::CallerAuth;

#[derive(Tags)]
enum CharactersTag {
    /// A user's characters.
    Characters,
}

pub struct CharactersApi {
    pub roster: Arc<Roster>,
}

/// The account a character is on.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct AccountRefDto {
    id: Uuid,
    name: String,
}

/// A character, with the names of its class and server from the catalog.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CharacterDto {
    id: Uuid,
    name: String,
    /// 1–200.
    level: i16,
    class_id: i32,
    /// From the catalog.
    class_name: String,
    server_id: i32,
    /// From the catalog.
    server_name: String,
    account: AccountRefDto,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<CharacterView> for CharacterDto {
    fn from(view: CharacterView) -> Self {
        let character = view.character;
        Self {
            id: character.id.as_uuid(),
            name: character.name.as_str().to_owned(),
            level: character.level.get(),
            class_id: character.class_id.0,
            class_name: view.class_name,
            server_id: character.server_id.0,
            server_name: view.server_name,
            account: AccountRefDto {
                id: character.account_id.as_uuid(),
                name: view.account_name,
            },
            created_at: character.created_at,
            updated_at: character.updated_at,
        }
    }
}

/// A new character.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCharacterRequest {
    /// 2–50 characters after trimming; unique among the caller's characters
    /// on the same server, ignoring case.
    #[oai(
        deserialize_with = "crate::fields::roster_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: String,
    /// 1–200.
    #[oai(deserialize_with = "crate::fields::roster::level")]
    level: i64,
    /// A class of the catalog.
    #[oai(deserialize_with = "crate::fields::roster::class_id")]
    class_id: i32,
    /// A server of the catalog.
    #[oai(deserialize_with = "crate::fields::roster::server_id")]
    server_id: i32,
    /// One of the caller's accounts (404 otherwise).
    #[oai(deserialize_with = "crate::fields::roster::account_id")]
    account_id: Uuid,
}

impl TryFrom<CreateCharacterRequest> for NewCharacter {
    type Error = ValidationErrors;

    fn try_from(body: CreateCharacterRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.collect(RosterName::parse("name", &body.name));
        let level = errors.collect(Level::new("level", body.level));
        match (name, level) {
            (Some(name), Some(level)) => Ok(Self {
                name,
                level,
                class_id: ClassId(body.class_id),
                server_id: ServerId(body.server_id),
                account_id: AccountId::from_uuid(body.account_id),
            }),
            _ => Err(errors),
        }
    }
}

/// What to change: a field left out is kept.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateCharacterRequest {
    /// 2–50 characters after trimming.
    #[oai(
        deserialize_with = "crate::fields::roster::patch_name",
        validator(min_length = 2, max_length = 50)
    )]
    name: Option<String>,
    /// 1–200.
    #[oai(deserialize_with = "crate::fields::roster::patch_level")]
    level: Option<i64>,
    #[oai(deserialize_with = "crate::fields::roster::patch_class_id")]
    class_id: Option<i32>,
    #[oai(deserialize_with = "crate::fields::roster::patch_server_id")]
    server_id: Option<i32>,
    /// One of the caller's accounts (404 otherwise).
    #[oai(deserialize_with = "crate::fields::roster::patch_account_id")]
    account_id: Option<Uuid>,
}

impl TryFrom<UpdateCharacterRequest> for CharacterPatch {
    type Error = ValidationErrors;

    fn try_from(body: UpdateCharacterRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = body
            .name
            .map(|raw| errors.collect(RosterName::parse("name", &raw)));
        let level = body
            .level
            .map(|raw| errors.collect(Level::new("level", raw)));
        errors.into_result()?;
        Ok(Self {
            name: name.flatten(),
            level: level.flatten(),
            class_id: body.class_id.map(ClassId),
            server_id: body.server_id.map(ServerId),
            account_id: body.account_id.map(AccountId::from_uuid),
        })
    }
}

/// The query of a character list, as the client sent it.
struct ListQuery {
    search: Option<String>,
    class_ids: Vec<i32>,
    server_ids: Vec<i32>,
    account_ids: Vec<Uuid>,
    level_min: Option<i64>,
    level_max: Option<i64>,
    sort: Option<String>,
}

impl ListQuery {
    /// The list's filter and order, every field at fault named at once.
    fn parse(self) -> Result<(CharacterFilter, CharacterSort), ValidationErrors> {
        let query = self;
        let mut errors = ValidationErrors::default();
        let search = errors
            .collect(SearchText::parse(query.search.as_deref()))
            .flatten();
        let level_min = query
            .level_min
            .and_then(|v| errors.collect(Level::new("levelMin", v)));
        let level_max = query
            .level_max
            .and_then(|v| errors.collect(Level::new("levelMax", v)));
        if let (Some(min), Some(max)) = (level_min, level_max)
            && min > max
        {
            errors
                .0
                .push(FieldError::new("levelMin", "must not exceed levelMax"));
        }
        for (field, count) in [
            ("classIds", query.class_ids.len()),
            ("serverIds", query.server_ids.len()),
            ("accountIds", query.account_ids.len()),
        ] {
            if count > MAX_IDS {
                errors.0.push(FieldError::new(
                    field,
                    format!("must hold at most {MAX_IDS} ids"),
                ));
            }
        }
        let sort = match query.sort.as_deref() {
            None => Some(CharacterSort::default()),
            Some(raw) => errors.collect(CharacterSort::parse(raw).ok_or_else(|| {
                FieldError::new(
                    "sort",
                    "must be one of name, -name, level, -level, createdAt, -createdAt",
                )
            })),
        };
        errors.into_result()?;
        let filter = CharacterFilter {
            search: search.map(SearchText::into_string),
            class_ids: query.class_ids.into_iter().map(ClassId).collect(),
            server_ids: query.server_ids.into_iter().map(ServerId).collect(),
            account_ids: query
                .account_ids
                .into_iter()
                .map(AccountId::from_uuid)
                .collect(),
            level_min,
            level_max,
        };
        Ok((filter, sort.unwrap_or_default()))
    }
}

/// The characters to delete.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct BulkDeleteRequest {
    /// 1–100 character ids; those that are not the caller's live
    /// characters are ignored.
    #[oai(
        deserialize_with = "crate::fields::roster::ids",
        validator(min_items = 1, max_items = 100)
    )]
    ids: Vec<Uuid>,
}

/// How many characters a bulk delete deleted.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct BulkDeleted {
    /// Only the caller's characters count.
    deleted: u64,
}

/// One character, with its entity tag.
#[derive(ApiResponse)]
enum One {
    #[oai(status = 200)]
    Found(Json<Envelope<CharacterDto>>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Character(Json<Envelope<CharacterDto>>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Done,
}

/// The strong entity tag of a character's version: `"<version>"`.
fn etag(view: &CharacterView) -> String {
    format!("\"{}\"", view.character.version)
}

/// `If-Match` as a precondition. `*` accepts any version; otherwise the
/// header is a comma-separated list of entity tags compared strongly, so a
/// weak tag (`W/"…"`) never matches. A header that is not such a list
/// matches nothing.
fn precondition(if_match: Option<&str>) -> Precondition {
    let Some(header) = if_match else {
        return Precondition::None;
    };
    if header.trim() == "*" {
        return Precondition::None;
    }
    let mut versions = Vec::new();
    for tag in header.split(',').map(str::trim) {
        let (weak, opaque) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        let Some(inner) = opaque
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .filter(|inner| !inner.contains('"'))
        else {
            return Precondition::VersionIn(Vec::new());
        };
        // A well-formed tag that is weak or not one of ours matches nothing
        // but does not spoil the rest of the list.
        if !weak
            && !inner.is_empty()
            && inner.bytes().all(|b| b.is_ascii_digit())
            && let Ok(version) = inner.parse::<i64>()
        {
            versions.push(version);
        }
    }
    Precondition::VersionIn(versions)
}

fn character_id(raw: &str) -> Result<CharacterId, ApiError> {
    Ok(CharacterId::from_uuid(path_uuid("id", raw)?))
}

#[OpenApi(prefix_path = "/api/v1/characters", tag = "CharactersTag::Characters")]
impl CharactersApi {
    /// The caller's characters
    ///
    /// Offset-paged. `search` keeps the names that contain it (ignoring
    /// case); `classIds`, `serverIds` and `accountIds` repeat
    /// (`classIds=1&classIds=7`) and keep any of the values given;
    /// `levelMin` and `levelMax` bound the level (inclusive). `sort` is one
    /// of `name` (default), `-name`, `level`, `-level`, `createdAt`,
    /// `-createdAt`.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get", operation_id = "characters.list")]
    async fn list(
        &self,
        auth: CallerAuth,
        search: Query<Option<String>>,
        #[oai(name = "classIds", default)] class_ids: Query<Vec<i32>>,
        #[oai(name = "serverIds", default)] server_ids: Query<Vec<i32>>,
        #[oai(name = "accountIds", default)] account_ids: Query<Vec<Uuid>>,
        /// 1–200.
        #[oai(name = "levelMin")]
        level_min: Query<Option<i64>>,
        /// 1–200, not below `levelMin`.
        #[oai(name = "levelMax")]
        level_max: Query<Option<i64>>,
        sort: Query<Option<String>>,
        /// 1 or more (default 1).
        page: Query<Option<i64>>,
        /// 1–100 (default 20).
        #[oai(name = "perPage")]
        per_page: Query<Option<i64>>,
    ) -> Result<Json<PageEnvelope<CharacterDto>>, ApiError> {
        let page = page_request(page.0, per_page.0)?;
        let (filter, sort) = ListQuery {
            search: search.0,
            class_ids: class_ids.0,
            server_ids: server_ids.0,
            account_ids: account_ids.0,
            level_min: level_min.0,
            level_max: level_max.0,
            sort: sort.0,
        }
        .parse()
        .map_err(|errors| ApiError::validation(&errors))?;
        let found = self
            .roster
            .list_characters(auth.0.user_id, &filter, sort, page)
            .await?;
        Ok(Json(PageEnvelope::of(found, page)))
    }

    /// Create a character
    ///
    /// `classId` and `serverId` must be in the catalog (400), `accountId`
    /// must be the caller's (404), and the name must be new among the
    /// caller's characters on that server (409). Answers with the `ETag`.
    #[oai(path = "/", method = "post", operation_id = "characters.create")]
    async fn create(
        &self,
        auth: CallerAuth,
        body: Json<CreateCharacterRequest>,
    ) -> Result<Created, ApiError> {
        let body = body.0;
        let catalog = (Some(ClassId(body.class_id)), Some(ServerId(body.server_id)));
        let input = match NewCharacter::try_from(body) {
            Ok(input) => input,
            Err(errors) => return Err(self.refuse(errors, catalog).await),
        };
        let created = self
            .roster
            .create_character(auth.0.user_id, input, &RequestContext::client())
            .await?;
        let tag = etag(&created);
        Ok(Created::Character(Json(Envelope::new(created.into())), tag))
    }

    /// Delete several characters
    ///
    /// Deletes those of `ids` that are the caller's characters and answers
    /// how many; other ids are ignored.
    #[oai(
        path = "/bulk-delete",
        method = "post",
        operation_id = "characters.bulk_delete"
    )]
    async fn bulk_delete(
        &self,
        auth: CallerAuth,
        body: Json<BulkDeleteRequest>,
    ) -> Result<Json<Envelope<BulkDeleted>>, ApiError> {
        let ids: Vec<CharacterId> = body.0.ids.into_iter().map(CharacterId::from_uuid).collect();
        let deleted = self
            .roster
            .bulk_delete_characters(auth.0.user_id, &ids, &RequestContext::client())
            .await?;
        Ok(Json(Envelope::new(BulkDeleted { deleted })))
    }

    /// One character
    ///
    /// With its version as `ETag`, for a later `If-Match`.
    #[oai(path = "/:id", method = "get", operation_id = "characters.get")]
    async fn get(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<One, ApiError> {
        let id = character_id(&id.0)?;
        let character = self.roster.character(auth.0.user_id, id).await?;
        let tag = etag(&character);
        Ok(One::Found(Json(Envelope::new(character.into())), tag))
    }

    /// Change a character
    ///
    /// Fields left out are kept. With `If-Match`, the change is made only if
    /// the character's current `ETag` is one of those listed (`*`: any),
    /// else 412 and nothing changes. Answers the character as changed, with
    /// its new `ETag`.
    #[oai(path = "/:id", method = "patch", operation_id = "characters.update")]
    async fn update(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
        /// Entity tags of the versions this change was made against, or `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Json<UpdateCharacterRequest>,
    ) -> Result<One, ApiError> {
        let id = character_id(&id.0)?;
        let body = body.0;
        let catalog = (body.class_id.map(ClassId), body.server_id.map(ServerId));
        let patch = match CharacterPatch::try_from(body) {
            Ok(patch) => patch,
            Err(errors) => return Err(self.refuse(errors, catalog).await),
        };
        let character = self
            .roster
            .update_character(
                auth.0.user_id,
                id,
                patch,
                precondition(if_match.0.as_deref()),
                &RequestContext::client(),
            )
            .await?;
        let tag = etag(&character);
        Ok(One::Found(Json(Envelope::new(character.into())), tag))
    }

    /// Delete a character
    ///
    /// The character leaves every list and team.
    #[oai(path = "/:id", method = "delete", operation_id = "characters.delete")]
    async fn delete(
        &self,
        auth: CallerAuth,
        /// The character's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> Result<Deleted, ApiError> {
        let id = character_id(&id.0)?;
        self.roster
            .delete_character(auth.0.user_id, id, &RequestContext::client())
            .await?;
        Ok(Deleted::Done)
    }
}

impl CharactersApi {
    /// The 400 for a body that did not parse: it also names a class or a
    /// server the catalog lacks, as one answer lists every field at fault.
    async fn refuse(
        &self,
        mut errors: ValidationErrors,
        (class, server): (Option<ClassId>, Option<ServerId>),
    ) -> ApiError {
        match self.roster.check_catalog(class, server, &mut errors).await {
            Ok(()) => ApiError::validation(&errors),
            Err(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> ListQuery {
        ListQuery {
            search: None,
            class_ids: Vec::new(),
            server_ids: Vec::new(),
            account_ids: Vec::new(),
            level_min: None,
            level_max: None,
            sort: None,
        }
    }

    fn refused_fields(query: ListQuery) -> Vec<&'static str> {
        match query.parse() {
            Err(errors) => errors.0.iter().map(|e| e.field).collect(),
            Ok(parsed) => panic!("accepted: {parsed:?}"),
        }
    }

    #[test]
    fn a_list_query_becomes_the_domain_filter_and_order() {
        let (filter, sort) = ListQuery {
            search: Some("  HA ".into()),
            class_ids: vec![1, 7],
            level_min: Some(50),
            level_max: Some(120),
            sort: Some("-createdAt".into()),
            ..query()
        }
        .parse()
        .expect("valid");
        assert_eq!(filter.search.as_deref(), Some("HA"));
        assert_eq!(filter.class_ids, [ClassId(1), ClassId(7)]);
        assert_eq!(filter.level_min.map(Level::get), Some(50));
        assert_eq!(filter.level_max.map(Level::get), Some(120));
        assert_eq!(sort, CharacterSort::CreatedAtDesc);
        assert_eq!(query().parse().expect("empty").1, CharacterSort::NameAsc);
    }

    #[test]
    fn a_bad_list_query_names_each_field_at_fault() {
        for (bad, field) in [
            (
                ListQuery {
                    sort: Some("age".into()),
                    ..query()
                },
                "sort",
            ),
            (
                ListQuery {
                    level_min: Some(0),
                    ..query()
                },
                "levelMin",
            ),
            (
                ListQuery {
                    level_max: Some(201),
                    ..query()
                },
                "levelMax",
            ),
            (
                ListQuery {
                    level_min: Some(100),
                    level_max: Some(50),
                    ..query()
                },
                "levelMin",
            ),
            (
                ListQuery {
                    class_ids: (0..101).collect(),
                    ..query()
                },
                "classIds",
            ),
            (
                ListQuery {
                    search: Some("a\u{0}b".into()),
                    ..query()
                },
                "search",
            ),
        ] {
            assert_eq!(refused_fields(bad), [field]);
        }
        let all = ListQuery {
            sort: Some("age".into()),
            level_max: Some(0),
            server_ids: (0..101).collect(),
            ..query()
        };
        assert_eq!(refused_fields(all), ["levelMax", "serverIds", "sort"]);
    }

    #[test]
    fn a_body_names_each_field_at_fault_in_one_answer() {
        let create = CreateCharacterRequest {
            name: "a\u{7}b".into(),
            level: 0,
            class_id: 1,
            server_id: 1,
            account_id: Uuid::nil(),
        };
        let errors = NewCharacter::try_from(create).expect_err("refused");
        let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "level"]);
        let patch = UpdateCharacterRequest {
            name: None,
            level: Some(201),
            class_id: None,
            server_id: None,
            account_id: None,
        };
        let errors = CharacterPatch::try_from(patch).expect_err("refused");
        assert_eq!(errors.0[0].field, "level");
        let fine = UpdateCharacterRequest {
            name: Some("Ana".into()),
            level: None,
            class_id: Some(3),
            server_id: None,
            account_id: None,
        };
        let patch = CharacterPatch::try_from(fine).expect("valid");
        assert_eq!(patch.name.as_ref().map(RosterName::as_str), Some("Ana"));
        assert_eq!(patch.class_id, Some(ClassId(3)));
        assert_eq!(patch.level, None);
    }

    #[test]
    fn if_match_star_or_absent_is_no_precondition() {
        assert_eq!(precondition(None), Precondition::None);
        assert_eq!(precondition(Some("*")), Precondition::None);
        assert_eq!(precondition(Some(" * ")), Precondition::None);
    }

    #[test]
    fn if_match_lists_strong_tags_and_never_matches_weak_ones() {
        assert_eq!(
            precondition(Some("\"3\"")),
            Precondition::VersionIn(vec![3])
        );
        assert_eq!(
            precondition(Some("\"1\", W/\"2\" ,\"4\"")),
            Precondition::VersionIn(vec![1, 4])
        );
        assert_eq!(
            precondition(Some("W/\"2\"")),
            Precondition::VersionIn(vec![])
        );
        assert_eq!(
            precondition(Some("\"abc\", \"7\"")),
            Precondition::VersionIn(vec![7])
        );
    }

    #[test]
    fn a_malformed_if_match_matches_nothing() {
        for header in [
            "3",
            "\"3",
            "\"3\" \"4\"",
            "",
            "*, \"3\"",
            "\"+3\"",
            "\"-1\"",
        ] {
            let parsed = precondition(Some(header));
            let Precondition::VersionIn(versions) = &parsed else {
                panic!("{header:?} gave {parsed:?}");
            };
            assert!(versions.is_empty(), "{header:?} gave {parsed:?}");
        }
    }
}
