//! Teams: groups of a user's characters that play together — at most eight
//! distinct ones, all the user's, all on one server.
//!
//! Commands arrive parsed: [`TeamMembers`] already holds at most eight
//! distinct ids. What is checked here needs storage: that each member is a
//! live character of the owner, all on one server, and the name is free.

use domain::ports::Transaction;
use domain::{
    CharacterId, FieldError, Notes, PageRequest, Paged, RosterName, SearchText, Team, TeamId,
    TeamMembers, TeamView, UserId,
};

use crate::audit::Resource;
use crate::context::ClientInfo;
use crate::roster::{Changes, Roster, RosterError, duplicate_name};

/// A new team.
#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: RosterName,
    pub description: Option<Notes>,
    pub member_ids: TeamMembers,
}

/// An edit: each `Some` field is replaced; `description: Some(None)` clears
/// it; `member_ids` replaces the whole list.
#[derive(Debug, Clone, Default)]
pub struct TeamPatch {
    pub name: Option<RosterName>,
    pub description: Option<Option<Notes>>,
    pub member_ids: Option<TeamMembers>,
}

/// The rules that need storage: every member is a live character of the
/// owner (else 404, as for any other user's object), all on one server.
async fn check_members(
    tx: &dyn Transaction,
    owner: UserId,
    ids: &[CharacterId],
) -> Result<(), RosterError> {
    let found = tx.characters().find_many(owner, ids).await?;
    if found.len() != ids.len() {
        return Err(RosterError::NotFound("character"));
    }
    let mut servers = found.iter().map(|c| c.character.server_id);
    if let Some(first) = servers.next()
        && servers.any(|server| server != first)
    {
        return Err(FieldError::new("memberIds", "must all play on the same server").into());
    }
    Ok(())
}

fn member_list(ids: &[CharacterId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Roster {
    /// The owner's teams whose name contains `search`, sorted by name.
    pub async fn list_teams(
        &self,
        owner: UserId,
        search_text: Option<&SearchText>,
        page: PageRequest,
    ) -> Result<Paged<TeamView>, RosterError> {
        Ok(self
            .storage
            .teams()
            .list(owner, search_text.map(SearchText::as_str), page)
            .await?)
    }

    pub async fn team(&self, owner: UserId, id: TeamId) -> Result<TeamView, RosterError> {
        self.storage
            .teams()
            .find(owner, id)
            .await?
            .ok_or(RosterError::NotFound("team"))
    }

    pub async fn create_team(
        &self,
        owner: UserId,
        input: NewTeam,
        client: &ClientInfo,
    ) -> Result<TeamView, RosterError> {
        let NewTeam {
            name,
            description,
            member_ids,
        } = input;
        let now = self.now();
        let team = Team {
            id: TeamId::generate(now, self.random.as_ref()),
            owner,
            name,
            description,
            member_ids,
            created_at: now,
            updated_at: now,
        };
        let tx = self.storage.begin().await?;
        check_members(tx.as_ref(), owner, &team.member_ids).await?;
        tx.teams()
            .insert(&team)
            .await
            .map_err(|e| duplicate_name(e, "name", "a team"))?;
        let mut changes = Changes::default();
        changes
            .field("name", None::<&str>, team.name.as_str())
            .field(
                "description",
                None::<&str>,
                team.description.as_ref().map(Notes::as_str),
            )
            .field(
                "memberIds",
                None::<&str>,
                member_list(&team.member_ids).as_str(),
            );
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "team.created",
            Resource::new("team", team.id),
            changes.into_vec(),
        );
        let view = find(tx.as_ref(), owner, team.id).await?;
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(view)
    }

    pub async fn update_team(
        &self,
        owner: UserId,
        id: TeamId,
        patch: TeamPatch,
        client: &ClientInfo,
    ) -> Result<TeamView, RosterError> {
        let TeamPatch {
            name,
            description,
            member_ids,
        } = patch;
        let tx = self.storage.begin().await?;
        let current = find(tx.as_ref(), owner, id).await?;
        let before = current.team.clone();
        let mut team = before.clone();
        if let Some(name) = name {
            team.name = name;
        }
        if let Some(description) = description {
            team.description = description;
        }
        if let Some(ids) = member_ids {
            check_members(tx.as_ref(), owner, &ids).await?;
            team.member_ids = ids;
        }
        let mut changes = Changes::default();
        changes
            .field("name", before.name.as_str(), team.name.as_str())
            .field(
                "description",
                before.description.as_ref().map(Notes::as_str),
                team.description.as_ref().map(Notes::as_str),
            )
            .field(
                "memberIds",
                member_list(&before.member_ids).as_str(),
                member_list(&team.member_ids).as_str(),
            );
        if changes.is_empty() {
            return Ok(current);
        }
        let now = self.now();
        team.updated_at = now;
        let updated = tx
            .teams()
            .update(&team)
            .await
            .map_err(|e| duplicate_name(e, "name", "a team"))?;
        if !updated {
            return Err(RosterError::NotFound("team"));
        }
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "team.updated",
            Resource::new("team", id),
            changes.into_vec(),
        );
        let view = find(tx.as_ref(), owner, id).await?;
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(view)
    }

    pub async fn delete_team(
        &self,
        owner: UserId,
        id: TeamId,
        client: &ClientInfo,
    ) -> Result<(), RosterError> {
        let now = self.now();
        let tx = self.storage.begin().await?;
        if !tx.teams().delete(owner, id).await? {
            return Err(RosterError::NotFound("team"));
        }
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "team.deleted",
            Resource::new("team", id),
            Vec::new(),
        );
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(())
    }
}

async fn find(tx: &dyn Transaction, owner: UserId, id: TeamId) -> Result<TeamView, RosterError> {
    tx.teams()
        .find(owner, id)
        .await?
        .ok_or(RosterError::NotFound("team"))
}
