//! Progression: each character's status on the catalog's quests,
//! achievements and dungeons, and what a team stands at on one item.

use domain::ports::CacheTier;
use domain::{
    CharacterId, CharacterView, ItemId, ItemKind, PageRequest, Paged, ProgressStatus, Progression,
    ProgressionView, TeamId, UserId,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::Resource;
use crate::cache::{CATALOG, user_namespace};
use crate::context::ClientInfo;
use crate::roster::{Changes, Roster, RosterError};

/// One kind's line of a character's summary. An item the character has no
/// progression on counts as `todo`, so the four add up: `todo +
/// in_progress + done = total`, the catalog's number of items of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KindSummary {
    pub todo: u64,
    pub in_progress: u64,
    pub done: u64,
    pub total: u64,
}

/// A character's summary: one line per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProgressSummary {
    pub quest: KindSummary,
    pub achievement: KindSummary,
    pub dungeon: KindSummary,
}

/// Where one team member stands on an item; `todo` without a date when the
/// member has no progression on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberProgress {
    pub member: CharacterView,
    pub status: ProgressStatus,
    pub completed_at: Option<OffsetDateTime>,
}

impl Roster {
    /// The character's progressions, of `kind` and `status` when given, by
    /// item id.
    pub async fn list_progressions(
        &self,
        owner: UserId,
        character: CharacterId,
        kind: Option<ItemKind>,
        status: Option<ProgressStatus>,
        page: PageRequest,
    ) -> Result<Paged<ProgressionView>, RosterError> {
        self.character(owner, character).await?;
        Ok(self
            .storage
            .progressions()
            .list(owner, character, kind, status, page)
            .await?)
    }

    /// Sets the character's status on `item`, creating the progression if
    /// needed. `completedAt` is set when the status becomes `done` and
    /// cleared otherwise; setting the status it already has changes nothing.
    pub async fn set_progression(
        &self,
        owner: UserId,
        character: CharacterId,
        item: ItemId,
        status: ProgressStatus,
        client: &ClientInfo,
    ) -> Result<ProgressionView, RosterError> {
        let catalog_item = self
            .storage
            .catalog()
            .find_item(item)
            .await?
            .ok_or(RosterError::NotFound("catalog item"))?;
        let tx = self.storage.begin().await?;
        if tx.characters().find(owner, character).await?.is_none() {
            return Err(RosterError::NotFound("character"));
        }
        let previous = tx.progressions().find(owner, character, item).await?;
        // Progress on a retired item is kept, and may still be updated; a
        // retired item cannot be started anew, as an unknown one cannot.
        if catalog_item.retired && previous.is_none() {
            return Err(RosterError::NotFound("catalog item"));
        }
        let now = self.now();
        let view = |progression| ProgressionView {
            progression,
            kind: catalog_item.kind,
            item_name: catalog_item.name.clone(),
        };
        let progression = Progression::with_status(previous.as_ref(), character, item, status, now);
        if previous.as_ref() == Some(&progression) {
            // Unchanged: nothing to write or record.
            return Ok(view(progression));
        }
        if !tx.progressions().upsert(owner, &progression).await? {
            return Err(RosterError::NotFound("character"));
        }
        let format = |at: Option<OffsetDateTime>| {
            at.and_then(|at| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
        };
        let mut changes = Changes::default();
        changes
            .field(
                "status",
                previous.as_ref().map(|p| p.status.as_str()),
                progression.status.as_str(),
            )
            .field(
                "completedAt",
                format(previous.as_ref().and_then(|p| p.completed_at)).as_deref(),
                format(progression.completed_at).as_deref(),
            );
        let entry = self.audit_entry(
            now,
            client,
            owner,
            if previous.is_some() {
                "progression.updated"
            } else {
                "progression.created"
            },
            Resource::new("progression", format!("{character}:{}", item.0)),
            changes.into_vec(),
        );
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(view(progression))
    }

    /// Per kind, how many of the catalog's items the character has to do,
    /// has in progress and has done.
    pub async fn progress_summary(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<ProgressSummary, RosterError> {
        let user = user_namespace(owner);
        let name = format!("progress-summary:{character}");
        self.cache
            .read(CacheTier::User, &[&user, CATALOG], &name, || {
                self.load_progress_summary(owner, character)
            })
            .await
    }

    async fn load_progress_summary(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<ProgressSummary, RosterError> {
        self.character(owner, character).await?;
        let counts = self.storage.progressions().counts(owner, character).await?;
        let mut summary = ProgressSummary::default();
        for kind in ItemKind::ALL {
            let line = match kind {
                ItemKind::Quest => &mut summary.quest,
                ItemKind::Achievement => &mut summary.achievement,
                ItemKind::Dungeon => &mut summary.dungeon,
            };
            line.total = self.storage.catalog().count_items(kind).await?;
            let count = |status| {
                counts
                    .iter()
                    .filter(|c| c.kind == kind && c.status == status)
                    .map(|c| c.count)
                    .sum::<u64>()
            };
            line.in_progress = count(ProgressStatus::InProgress);
            line.done = count(ProgressStatus::Done);
            line.todo = line.total.saturating_sub(line.in_progress + line.done);
        }
        Ok(summary)
    }

    /// Where each member of the team stands on `item`, in the team's order.
    pub async fn team_progress(
        &self,
        owner: UserId,
        team: TeamId,
        item: ItemId,
    ) -> Result<Vec<MemberProgress>, RosterError> {
        let user = user_namespace(owner);
        let name = format!("team-progress:{team}:{}", item.0);
        self.cache
            .read(CacheTier::User, &[&user, CATALOG], &name, || {
                self.load_team_progress(owner, team, item)
            })
            .await
    }

    async fn load_team_progress(
        &self,
        owner: UserId,
        team: TeamId,
        item: ItemId,
    ) -> Result<Vec<MemberProgress>, RosterError> {
        let team = self.team(owner, team).await?;
        if self.storage.catalog().find_item(item).await?.is_none() {
            return Err(RosterError::NotFound("catalog item"));
        }
        let progressions = self
            .storage
            .progressions()
            .for_item(owner, &team.team.member_ids, item)
            .await?;
        Ok(team
            .members
            .into_iter()
            .map(|member| {
                let found = progressions
                    .iter()
                    .find(|p| p.character_id == member.character.id);
                MemberProgress {
                    status: found.map_or(ProgressStatus::Todo, |p| p.status),
                    completed_at: found.and_then(|p| p.completed_at),
                    member,
                }
            })
            .collect())
    }
}
