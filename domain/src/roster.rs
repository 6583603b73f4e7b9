//! The roster: a user's game accounts, their characters, the teams those
//! characters form, and each character's progress through the catalog.
//!
//! Everything here belongs to one user (`owner`); repositories scope every
//! query by it, so another user's object is simply not found.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::catalog::{ClassId, ItemId, ItemKind, ServerId};
use crate::error::{FieldError, ValidationErrors};
use crate::ids::{AccountId, CharacterId, TeamId, UserId};

/// The name of an account, a character or a team: 2–50 characters once
/// normalised and trimmed, nothing invisible, something visible
/// ([`crate::text::name`]). Uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RosterName(String);

impl RosterName {
    /// Fewest characters (Unicode scalar values) once trimmed.
    pub const MIN_CHARS: usize = 2;
    /// Most characters (Unicode scalar values) once trimmed.
    pub const MAX_CHARS: usize = 50;

    /// Parses what a client sent; `field` names the input in the error
    /// (`name`).
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        crate::text::name(field, raw, Self::MIN_CHARS, Self::MAX_CHARS, || {
            format!(
                "must be {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            )
        })
        .map(Self)
    }

    /// A name read back from storage, which only ever holds parsed names:
    /// for storage adapters, so a row is not checked again on every read.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RosterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text a user keeps beside an account or a team: at most 500
/// characters once normalised and trimmed; line breaks and tabs allowed,
/// nothing else invisible ([`crate::text`]). Empty text is no text (`None`
/// from [`Notes::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Notes(String);

impl Notes {
    /// Most characters (Unicode scalar values) once trimmed.
    pub const MAX_CHARS: usize = 500;

    /// Parses what a client sent; `field` names the input in the error.
    pub fn parse(field: &'static str, raw: &str) -> Result<Option<Self>, FieldError> {
        let text = crate::text::normalized(raw);
        if text.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        crate::text::check_invisible(field, &text, &crate::text::LINE_BREAKS)?;
        Ok((!text.is_empty()).then_some(Self(text)))
    }

    /// Text read back from storage, which only ever holds parsed notes: for
    /// storage adapters, so a row is not checked again on every read.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A character's level: 1–200.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub struct Level(i16);

impl Level {
    pub const MIN: i16 = 1;
    pub const MAX: i16 = 200;

    /// Checks what a client sent; `field` names the input in the error.
    pub fn new(field: &'static str, value: i64) -> Result<Self, FieldError> {
        i16::try_from(value)
            .ok()
            .filter(|v| (Self::MIN..=Self::MAX).contains(v))
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("must be between {} and {}", Self::MIN, Self::MAX),
                )
            })
    }

    /// A level read back from storage, which only ever holds checked
    /// levels: for storage adapters, so a row is not checked again.
    pub const fn from_stored(value: i16) -> Self {
        Self(value)
    }

    pub const fn get(self) -> i16 {
        self.0
    }
}

/// One of a user's accounts in the game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameAccount {
    pub id: AccountId,
    pub owner: UserId,
    pub name: RosterName,
    pub notes: Option<Notes>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An account as lists show it: with how many live characters it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub account: GameAccount,
    pub character_count: u64,
}

/// A character. Deleting one is soft: `deleted_at` is set and it vanishes
/// from every answer, teams included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    pub id: CharacterId,
    pub owner: UserId,
    pub account_id: AccountId,
    pub name: RosterName,
    pub level: Level,
    pub class_id: ClassId,
    pub server_id: ServerId,
    /// 1 at creation, one more at every update: the character's `ETag`.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

/// A character with the names it is shown with: its account's, and its
/// class's and server's from the catalog (empty if the catalog no longer
/// holds that id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterView {
    pub character: Character,
    pub account_name: String,
    pub class_name: String,
    pub server_name: String,
}

/// The fields an edit of a character replaces; `None` keeps what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterChanges {
    pub name: Option<RosterName>,
    pub level: Option<Level>,
    pub class_id: Option<ClassId>,
    pub server_id: Option<ServerId>,
    pub account_id: Option<AccountId>,
}

impl CharacterChanges {
    /// `character` with these fields replaced; its version and times are
    /// left as they are.
    pub fn applied_to(&self, character: &Character) -> Character {
        Character {
            name: self.name.clone().unwrap_or_else(|| character.name.clone()),
            level: self.level.unwrap_or(character.level),
            class_id: self.class_id.unwrap_or(character.class_id),
            server_id: self.server_id.unwrap_or(character.server_id),
            account_id: self.account_id.unwrap_or(character.account_id),
            ..character.clone()
        }
    }

    /// Whether applying them to `character` would change any field.
    pub fn change(&self, character: &Character) -> bool {
        let after = self.applied_to(character);
        after.name != character.name
            || after.level != character.level
            || after.class_id != character.class_id
            || after.server_id != character.server_id
            || after.account_id != character.account_id
    }
}

/// What an edit of a character found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharacterEdit {
    /// The owner has no live character of that id.
    NotFound,
    /// Its version is not one of those the edit was made against; nothing
    /// was written.
    VersionMismatch { current: i64 },
    /// Every field already had the value asked for; nothing was written.
    Unchanged(CharacterView),
    /// Written: the character as it was, and as it is now.
    Written {
        before: Box<Character>,
        after: Box<CharacterView>,
    },
}

/// A group of a user's characters: at most [`Team::MAX_MEMBERS`] distinct
/// ones (held by [`TeamMembers`]), all on one server (a rule on the
/// characters themselves, which the application checks against storage
/// before writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub owner: UserId,
    pub name: RosterName,
    pub description: Option<Notes>,
    pub member_ids: TeamMembers,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Team {
    pub const MAX_MEMBERS: usize = TeamMembers::MAX;
}

/// The members of a team, in the order the user gave them: at most
/// [`TeamMembers::MAX`], none twice. Built only through [`TeamMembers::new`]
/// (or [`TeamMembers::from_stored`]), so a team cannot break the rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamMembers(Vec<CharacterId>);

impl TeamMembers {
    pub const MAX: usize = 8;

    /// Checks what a client sent; `field` names the input in the error.
    pub fn new(field: &'static str, ids: Vec<CharacterId>) -> Result<Self, FieldError> {
        if ids.len() > Self::MAX {
            return Err(FieldError::new(
                field,
                format!("must hold at most {} characters", Self::MAX),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        if !ids.iter().all(|id| seen.insert(*id)) {
            return Err(FieldError::new(field, "must not name a character twice"));
        }
        Ok(Self(ids))
    }

    /// Members read back from storage, which only ever holds checked lists
    /// (less any deleted character): for storage adapters.
    pub fn from_stored(ids: Vec<CharacterId>) -> Self {
        Self(ids)
    }

    pub fn as_slice(&self) -> &[CharacterId] {
        &self.0
    }
}

impl std::ops::Deref for TeamMembers {
    type Target = [CharacterId];

    fn deref(&self) -> &[CharacterId] {
        &self.0
    }
}

/// A team as it is shown: `team.member_ids` and `members` hold only live
/// characters, in the team's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamView {
    pub team: Team,
    pub members: Vec<CharacterView>,
}

/// Where a character stands on one catalog item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProgressStatus {
    Todo,
    InProgress,
    Done,
}

impl ProgressStatus {
    pub const ALL: [ProgressStatus; 3] = [Self::Todo, Self::InProgress, Self::Done];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Todo => "todo",
            Self::InProgress => "in_progress",
            Self::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One character's status on one catalog item (at most one per pair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progression {
    pub character_id: CharacterId,
    pub item_id: ItemId,
    pub status: ProgressStatus,
    /// Set when the status became `done`; `None` for any other status.
    pub completed_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

impl Progression {
    /// The progression after setting `status` at `now`: `completed_at` is
    /// set when the status becomes `done` and cleared for any other status.
    /// Setting the status it already has changes nothing (not even
    /// `updated_at`): the result then equals `previous`.
    pub fn with_status(
        previous: Option<&Progression>,
        character_id: CharacterId,
        item_id: ItemId,
        status: ProgressStatus,
        now: OffsetDateTime,
    ) -> Progression {
        match previous {
            Some(unchanged) if unchanged.status == status => unchanged.clone(),
            _ => Progression {
                character_id,
                item_id,
                status,
                completed_at: (status == ProgressStatus::Done).then_some(now),
                updated_at: now,
            },
        }
    }
}

/// A progression with its item as the catalog names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressionView {
    pub progression: Progression,
    pub kind: ItemKind,
    pub item_name: String,
}

/// How many of a character's progressions have one kind and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressCount {
    pub kind: ItemKind,
    pub status: ProgressStatus,
    pub count: u64,
}

/// Which page of an offset-paged list: `page` ≥ 1, `per_page` 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 20;
    pub const MAX_PER_PAGE: u32 = 100;
    /// The last page number a client may ask for.
    pub const MAX_PAGE: u32 = u32::MAX;

    /// From the query's `page` and `perPage` (defaults 1 and 20).
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let page = errors.collect(
            u32::try_from(page.unwrap_or(1))
                .ok()
                .filter(|p| (1..=Self::MAX_PAGE).contains(p))
                .ok_or_else(|| FieldError::new("page", "must be a whole number from 1")),
        );
        let per_page = errors.collect(
            u32::try_from(per_page.unwrap_or(i64::from(Self::DEFAULT_PER_PAGE)))
                .ok()
                .filter(|p| (1..=Self::MAX_PER_PAGE).contains(p))
                .ok_or_else(|| FieldError::new("perPage", "must be between 1 and 100")),
        );
        match (page, per_page) {
            (Some(page), Some(per_page)) => Ok(Self { page, per_page }),
            _ => Err(errors),
        }
    }

    pub const fn page(self) -> u32 {
        self.page
    }

    pub const fn per_page(self) -> u32 {
        self.per_page
    }

    /// How many items the pages before this one hold.
    pub const fn offset(self) -> u64 {
        (self.page as u64 - 1) * self.per_page as u64
    }

    /// How many pages `total` items fill.
    pub const fn total_pages(self, total: u64) -> u64 {
        total.div_ceil(self.per_page as u64)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// One page of an offset-paged list, and how many items all pages hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which characters a list shows; every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterFilter {
    /// A substring of the name, ignoring case; `%`, `_` and `\` are plain
    /// characters.
    pub search: Option<String>,
    /// Any of these classes (every class when empty).
    pub class_ids: Vec<ClassId>,
    /// Any of these servers (every server when empty).
    pub server_ids: Vec<ServerId>,
    /// Any of these accounts (every account when empty).
    pub account_ids: Vec<AccountId>,
    pub level_min: Option<Level>,
    pub level_max: Option<Level>,
}

/// The order of a character list. Names compare lower-cased, byte by byte
/// (PostgreSQL: `lower(name) COLLATE "C"`). Ties are broken by the name
/// (ascending) for level orders, then by id in the order's direction, so
/// every order is total and pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CharacterSort {
    #[default]
    NameAsc,
    NameDesc,
    LevelAsc,
    LevelDesc,
    CreatedAtAsc,
    CreatedAtDesc,
}

impl CharacterSort {
    /// Each order by the key a client writes (`-` for descending).
    const BY_KEY: [(&'static str, Self); 6] = [
        ("name", Self::NameAsc),
        ("-name", Self::NameDesc),
        ("level", Self::LevelAsc),
        ("-level", Self::LevelDesc),
        ("createdAt", Self::CreatedAtAsc),
        ("-createdAt", Self::CreatedAtDesc),
    ];

    /// `name`, `-name`, `level`, `-level`, `createdAt`, `-createdAt`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::BY_KEY
            .iter()
            .find(|(key, _)| *key == s)
            .map(|(_, sort)| *sort)
    }

    /// The key a client writes for this order.
    pub fn key(self) -> &'static str {
        Self::BY_KEY
            .iter()
            .find(|(_, sort)| *sort == self)
            .map_or("name", |(key, _)| key)
    }

    /// Every key [`CharacterSort::parse`] accepts.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        Self::BY_KEY.iter().map(|(key, _)| *key)
    }
}

/// How names compare for uniqueness and order: lower-cased.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

// The cache's format (JSON) reads names, notes and levels through their
// rules, like a client's input: a value that breaks one is a miss, never a
// value that cannot exist.
impl TryFrom<String> for RosterName {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse("name", &raw)
    }
}

impl From<RosterName> for String {
    fn from(name: RosterName) -> Self {
        name.0
    }
}

impl TryFrom<String> for Notes {
    type Error = FieldError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse("notes", &raw)?.ok_or_else(|| FieldError::new("notes", "is empty"))
    }
}

impl From<Notes> for String {
    fn from(notes: Notes) -> Self {
        notes.0
    }
}

impl TryFrom<i16> for Level {
    type Error = FieldError;
    fn try_from(value: i16) -> Result<Self, Self::Error> {
        Self::new("level", value.into())
    }
}

impl From<Level> for i16 {
    fn from(level: Level) -> Self {
        level.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_hold_two_to_fifty_characters() {
        assert_eq!(RosterName::parse("name", "  Ab ").unwrap().as_str(), "Ab");
        assert_eq!(
            RosterName::parse("name", " a ").unwrap_err().message,
            "must be 2 to 50 characters"
        );
        assert!(RosterName::parse("name", &"é".repeat(50)).is_ok());
        assert!(RosterName::parse("name", &"é".repeat(51)).is_err());
        assert!(RosterName::parse("name", "a\u{0}b").is_err());
    }

    #[test]
    fn notes_allow_line_breaks_and_empty_notes_are_none() {
        assert_eq!(Notes::parse("notes", "  ").unwrap(), None);
        assert!(Notes::parse("notes", "a\nb\tc").unwrap().is_some());
        assert!(Notes::parse("notes", "a\u{7}").is_err());
        assert!(Notes::parse("notes", &"x".repeat(500)).is_ok());
        assert_eq!(
            Notes::parse("notes", &"x".repeat(501)).unwrap_err().message,
            "must be at most 500 characters"
        );
    }

    #[test]
    fn a_team_holds_at_most_eight_distinct_members() {
        let ids: Vec<CharacterId> = (0..=8u128)
            .map(|n| CharacterId::from_uuid(uuid::Uuid::from_u128(n)))
            .collect();
        assert_eq!(TeamMembers::new("memberIds", Vec::new()).unwrap().len(), 0);
        assert_eq!(
            TeamMembers::new("memberIds", ids[..8].to_vec())
                .unwrap()
                .as_slice(),
            &ids[..8]
        );
        let too_many = TeamMembers::new("memberIds", ids.clone()).unwrap_err();
        assert_eq!(too_many.message, "must hold at most 8 characters");
        let repeated = TeamMembers::new("memberIds", vec![ids[0], ids[1], ids[0]]).unwrap_err();
        assert_eq!(repeated.message, "must not name a character twice");
    }

    #[test]
    fn levels_are_one_to_two_hundred() {
        assert_eq!(
            Level::new("level", 0).unwrap_err().message,
            "must be between 1 and 200"
        );
        assert_eq!(Level::new("level", 1).unwrap().get(), 1);
        assert_eq!(Level::new("level", 200).unwrap().get(), 200);
        assert!(Level::new("level", 201).is_err());
        assert!(Level::new("level", i64::MAX).is_err());
    }

    #[test]
    fn paging_defaults_and_limits() {
        let page = PageRequest::parse(None, None).unwrap();
        assert_eq!((page.page(), page.per_page(), page.offset()), (1, 20, 0));
        let page = PageRequest::parse(Some(3), Some(100)).unwrap();
        assert_eq!(page.offset(), 200);
        assert_eq!(page.total_pages(201), 3);
        assert_eq!(page.total_pages(0), 0);
        let errors = PageRequest::parse(Some(0), Some(101)).unwrap_err();
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn completed_at_follows_the_status() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let later = now + time::Duration::hours(1);
        let (c, i) = (CharacterId::from_uuid(uuid::Uuid::nil()), ItemId(1));
        let done = Progression::with_status(None, c, i, ProgressStatus::Done, now);
        assert_eq!(done.completed_at, Some(now));
        // Setting the status it already has changes nothing.
        assert_eq!(
            Progression::with_status(Some(&done), c, i, ProgressStatus::Done, later),
            done
        );
        let reopened =
            Progression::with_status(Some(&done), c, i, ProgressStatus::InProgress, later);
        assert_eq!(reopened.completed_at, None);
        assert_eq!(reopened.updated_at, later);
    }

    #[test]
    fn a_page_request_reads_back_the_page_asked_for() {
        let page = PageRequest::parse(Some(3), Some(25)).unwrap();
        assert_eq!((page.page(), page.per_page(), page.offset()), (3, 25, 50));
        let last = PageRequest::parse(Some(i64::from(u32::MAX)), None).unwrap();
        assert_eq!(last.page(), u32::MAX);
        assert_eq!(
            PageRequest::parse(Some(i64::from(u32::MAX) + 1), None).unwrap_err(),
            ValidationErrors::single("page", "must be a whole number from 1")
        );
    }

    #[test]
    fn every_sort_key_parses_to_its_order_and_back() {
        let orders = [
            ("name", CharacterSort::NameAsc),
            ("-name", CharacterSort::NameDesc),
            ("level", CharacterSort::LevelAsc),
            ("-level", CharacterSort::LevelDesc),
            ("createdAt", CharacterSort::CreatedAtAsc),
            ("-createdAt", CharacterSort::CreatedAtDesc),
        ];
        for (key, sort) in orders {
            assert_eq!(CharacterSort::parse(key), Some(sort));
            assert_eq!(sort.key(), key);
        }
        assert_eq!(CharacterSort::parse("Name"), None);
        assert_eq!(CharacterSort::parse(""), None);
        assert_eq!(
            CharacterSort::keys().collect::<Vec<_>>(),
            [
                "name",
                "-name",
                "level",
                "-level",
                "createdAt",
                "-createdAt"
            ]
        );
    }

    #[test]
    fn names_notes_and_levels_convert_back_to_what_was_parsed() {
        let name = RosterName::parse("name", " Iop Tank ").unwrap();
        assert_eq!(String::from(name), "Iop Tank");
        let notes = Notes::parse("notes", "farm\nevery day").unwrap().unwrap();
        assert_eq!(String::from(notes), "farm\nevery day");
        let level = Level::try_from(199_i16).unwrap();
        assert_eq!(i16::from(level), 199);
    }
}
