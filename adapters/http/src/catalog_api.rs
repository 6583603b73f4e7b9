//! `/api/v1/catalog/*`: the public reference catalog, cacheable by anyone.
//! Every answer carries an `ETag` (a hash of its content) and
//! `Cache-Control: public`; `If-None-Match` with the current tag gets 304.

use std::sync::Arc;

use application::catalog::CatalogService;
use domain::{CatalogItem, CharacterClass, GameServer, ItemKind};
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use sha2::{Digest, Sha256};

use crate::envelope::{CursorEnvelope, Envelope};
use crate::error::ApiError;

const CACHE_CONTROL: &str = "public, max-age=3600, stale-while-revalidate=86400";

#[derive(Tags)]
enum CatalogTag {
    /// Classes, servers, quests, dungeons and achievements.
    Catalog,
}

pub struct CatalogApi {
    pub catalog: Arc<CatalogService>,
}

/// A class or a server.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct NamedDto {
    id: i32,
    name: String,
}

impl From<CharacterClass> for NamedDto {
    fn from(class: CharacterClass) -> Self {
        Self {
            id: class.id.0,
            name: class.name,
        }
    }
}

impl From<GameServer> for NamedDto {
    fn from(server: GameServer) -> Self {
        Self {
            id: server.id.0,
            name: server.name,
        }
    }
}

/// The kind of a catalog item (one schema for the catalog and the
/// progressions, so generated clients get one type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub(crate) enum ItemKindDto {
    Quest,
    Achievement,
    Dungeon,
}

impl From<ItemKindDto> for ItemKind {
    fn from(kind: ItemKindDto) -> Self {
        match kind {
            ItemKindDto::Quest => ItemKind::Quest,
            ItemKindDto::Achievement => ItemKind::Achievement,
            ItemKindDto::Dungeon => ItemKind::Dungeon,
        }
    }
}

impl From<ItemKind> for ItemKindDto {
    fn from(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Quest => ItemKindDto::Quest,
            ItemKind::Achievement => ItemKindDto::Achievement,
            ItemKind::Dungeon => ItemKindDto::Dungeon,
        }
    }
}

/// A quest, achievement or dungeon.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ItemDto {
    id: i64,
    kind: ItemKindDto,
    name: String,
    level: i16,
}

impl From<CatalogItem> for ItemDto {
    fn from(item: CatalogItem) -> Self {
        Self {
            id: item.id.0,
            kind: item.kind.into(),
            name: item.name,
            level: item.level,
        }
    }
}

/// One cacheable answer per payload type, so that each shows in the
/// document with its headers.
macro_rules! cacheable {
    ($name:ident, $payload:ty) => {
        #[derive(ApiResponse)]
        enum $name {
            /// The content, with its tag.
            #[oai(status = 200)]
            Fresh(
                Json<$payload>,
                #[oai(header = "ETag")] String,
                #[oai(header = "Cache-Control")] String,
            ),
            /// `If-None-Match` holds the current tag: the cached copy is good.
            #[oai(status = 304)]
            NotModified(
                #[oai(header = "ETag")] String,
                #[oai(header = "Cache-Control")] String,
            ),
        }

        impl $name {
            /// 304 when `if_none_match` names the tag of `payload`'s content.
            fn answer(
                payload: $payload,
                content: impl ToJSON,
                if_none_match: Option<&str>,
            ) -> Self {
                let tag = etag(&content);
                if if_none_match.is_some_and(|header| matches_tag(header, &tag)) {
                    Self::NotModified(tag, CACHE_CONTROL.to_owned())
                } else {
                    Self::Fresh(Json(payload), tag, CACHE_CONTROL.to_owned())
                }
            }
        }
    };
}

cacheable!(ClassesAnswer, Envelope<Vec<NamedDto>>);
cacheable!(ItemsAnswer, CursorEnvelope<ItemDto>);

/// A strong tag: the SHA-256 of the content (not of the envelope, whose
/// `meta` differs on every answer).
fn etag(content: &impl ToJSON) -> String {
    let json = content.to_json().map(|v| v.to_string()).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `If-None-Match`: a list of tags (weak ones compared weakly) or `*`.
fn matches_tag(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

#[OpenApi(prefix_path = "/api/v1/catalog", tag = "CatalogTag::Catalog")]
impl CatalogApi {
    /// The classes
    ///
    /// The 19 playable classes, by id.
    #[oai(path = "/classes", method = "get", operation_id = "catalog.classes")]
    async fn classes(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<ClassesAnswer, ApiError> {
        let classes: Vec<NamedDto> = self
            .catalog
            .classes()
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let tag_source = classes.to_json();
        Ok(ClassesAnswer::answer(
            Envelope::new(classes),
            tag_source,
            if_none_match.0.as_deref(),
        ))
    }

    /// The servers
    #[oai(path = "/servers", method = "get", operation_id = "catalog.servers")]
    async fn servers(
        &self,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<ClassesAnswer, ApiError> {
        let servers: Vec<NamedDto> = self
            .catalog
            .servers()
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let tag_source = servers.to_json();
        Ok(ClassesAnswer::answer(
            Envelope::new(servers),
            tag_source,
            if_none_match.0.as_deref(),
        ))
    }

    /// Quests, achievements and dungeons
    ///
    /// By id, cursor-paged; `search` is a case-insensitive part of the name.
    #[oai(path = "/items", method = "get", operation_id = "catalog.items")]
    async fn items(
        &self,
        kind: Query<Option<ItemKindDto>>,
        #[oai(validator(max_length = 100))] search: Query<Option<String>>,
        #[oai(validator(max_length = 100))] cursor: Query<Option<String>>,
        #[oai(
            name = "perPage",
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<u32>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<ItemsAnswer, ApiError> {
        let page = self
            .catalog
            .items(
                kind.0.map(Into::into),
                search.0.as_deref(),
                cursor.0.as_deref(),
                per_page.0 as usize,
            )
            .await?;
        let items: Vec<ItemDto> = page.items.into_iter().map(Into::into).collect();
        let tag_source = (items.to_json(), page.next_cursor.clone());
        let envelope = CursorEnvelope::new(items, per_page.0, page.next_cursor);
        Ok(ItemsAnswer::answer(
            envelope,
            tag_source.0.map(|v| format!("{v}|{:?}", tag_source.1)),
            if_none_match.0.as_deref(),
        ))
    }
}

fn default_per_page() -> u32 {
    50
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(matches_tag("\"abc\"", "\"abc\""));
        assert!(matches_tag("\"x\", W/\"abc\"", "\"abc\""));
        assert!(matches_tag("*", "\"abc\""));
        assert!(!matches_tag("\"abd\"", "\"abc\""));
    }
}
