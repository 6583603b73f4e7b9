//! What the roster's features share: the [`Roster`] service (its use cases
//! live in `accounts`, `characters`, `teams` and `progressions`), its error,
//! and the helpers that turn edits into audit entries.
//!
//! Every use case takes the caller's id as `owner` and passes it to every
//! repository call, so another user's object is never found: it answers
//! `NotFound`, exactly like an unknown id.

use std::sync::Arc;

use domain::ports::{Clock, Random, Storage};
use domain::{
    AuditEntry, AuditValue, Change, FieldError, RepoError, UniqueRule, UserId, ValidationErrors,
};
use time::OffsetDateTime;

use crate::audit::{self, Resource};
use crate::cache::ReadCache;
use crate::context::ClientInfo;
use crate::stored_time;

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// Input broke a rule (400).
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// No such object for this caller (404), another user's included.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule (409): `field` is the input that collides.
    #[error("{message}")]
    Duplicate {
        field: &'static str,
        message: String,
    },
    /// Deleting an account that still has `count` characters without
    /// `cascade` (409).
    #[error("the account still has {count} character(s); delete them first or pass cascade=true")]
    AccountHasCharacters { count: u64 },
    /// Moving a character to another server while it shares `team` with
    /// characters that stay on the old one (409).
    #[error(
        "the character is in the team \"{team}\", whose other members play on another server; \
         remove it from the team first"
    )]
    CharacterInTeamOnAnotherServer { team: String },
    /// `If-Match` names a version that is not the current one (412).
    #[error("the character has changed since it was read (its version is now {current})")]
    PreconditionFailed { current: i64 },
    #[error(transparent)]
    Storage(#[from] RepoError),
}

impl From<ValidationErrors> for RosterError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<FieldError> for RosterError {
    fn from(error: FieldError) -> Self {
        Self::Validation(ValidationErrors(vec![error]))
    }
}

/// The roster's use cases, over the ports they need.
pub struct Roster {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    pub(crate) cache: ReadCache,
}

impl std::fmt::Debug for Roster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Roster")
    }
}

impl Roster {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, random: Arc<dyn Random>) -> Self {
        Self {
            storage,
            clock,
            random,
            cache: ReadCache::off(),
        }
    }

    /// Keeps the user tier's reads (the progression summary, a team's
    /// progression view, the account list) in `cache`.
    pub fn with_cache(mut self, cache: ReadCache) -> Self {
        self.cache = cache;
        self
    }

    /// The current time as every backend stores it: whole microseconds.
    pub(crate) fn now(&self) -> OffsetDateTime {
        stored_time::as_stored(self.clock.now())
    }

    /// The audit entry of a change made by `owner`.
    pub(crate) fn audit_entry(
        &self,
        now: OffsetDateTime,
        client: &ClientInfo,
        owner: UserId,
        action: &str,
        resource: Resource,
        changes: Vec<Change>,
    ) -> AuditEntry {
        audit::entry(
            now,
            self.random.as_ref(),
            client,
            Some(owner),
            action,
            resource,
            changes,
        )
    }
}

/// The `{field: {from, to}}` of an update, built field by field: a field
/// whose value did not change is left out.
#[derive(Debug, Default)]
pub(crate) struct Changes(Vec<Change>);

impl Changes {
    pub(crate) fn field(
        &mut self,
        field: &str,
        from: impl Into<AuditValue>,
        to: impl Into<AuditValue>,
    ) -> &mut Self {
        let (from, to) = (from.into(), to.into());
        if from != to {
            self.0.push(Change {
                field: field.to_owned(),
                from,
                to,
            });
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<Change> {
        self.0
    }
}

/// Maps a broken name rule (an owner's accounts, characters on a server,
/// teams) to a 409 naming `field`.
pub(crate) fn duplicate_name(error: RepoError, field: &'static str, what: &str) -> RosterError {
    match error {
        RepoError::Duplicate(
            UniqueRule::AccountName | UniqueRule::CharacterName | UniqueRule::TeamName,
        ) => RosterError::Duplicate {
            field,
            message: format!("you already have {what} of that name"),
        },
        other => RosterError::Storage(other),
    }
}
