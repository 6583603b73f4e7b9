//! `TeamRepository` in memory.

use async_trait::async_trait;
use domain::ports::TeamRepository;
use domain::roster::name_key;
use domain::{
    CharacterId, PageRequest, Paged, RepoError, Team, TeamId, TeamView, UniqueRule, UserId,
};

use crate::roster::{name_matches, page_of};
use crate::transaction::{Access, Repos};

const DUPLICATE_NAME: RepoError = RepoError::Duplicate(UniqueRule::TeamName);

#[async_trait]
impl<A: Access> TeamRepository for Repos<A> {
    async fn insert(&self, team: &Team) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                if s.roster.teams.contains_key(&team.id) {
                    return Err(RepoError::Duplicate(UniqueRule::TeamId));
                }
                if s.team_name_taken(team) {
                    return Err(DUPLICATE_NAME);
                }
                s.put_team(team.clone(), undo);
                Ok(())
            })
            .await
    }

    async fn find(&self, owner: UserId, id: TeamId) -> Result<Option<TeamView>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                s.roster
                    .teams
                    .get(&id)
                    .filter(|t| t.owner == owner)
                    .map(|t| s.team_view(t))
            })
            .await)
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<TeamView>, RepoError> {
        let search = search.map(str::to_lowercase);
        Ok(self
            .0
            .read(|s| {
                let mut found: Vec<(String, &Team)> = s
                    .teams_of(owner)
                    .filter(|t| name_matches(t.name.as_str(), search.as_deref()))
                    .map(|t| (name_key(t.name.as_str()), t))
                    .collect();
                found.sort_by(|(ka, a), (kb, b)| ka.cmp(kb).then(a.id.cmp(&b.id)));
                page_of(found, page, |(_, t)| s.team_view(t))
            })
            .await)
    }

    async fn update(&self, team: &Team) -> Result<bool, RepoError> {
        self.0
            .with_state(|s, undo| {
                let Some(stored) = s
                    .roster
                    .teams
                    .get(&team.id)
                    .filter(|t| t.owner == team.owner)
                else {
                    return Ok(false);
                };
                if s.team_name_taken(team) {
                    return Err(DUPLICATE_NAME);
                }
                let updated = Team {
                    name: team.name.clone(),
                    description: team.description.clone(),
                    member_ids: team.member_ids.clone(),
                    updated_at: team.updated_at,
                    ..stored.clone()
                };
                s.put_team(updated, undo);
                Ok(true)
            })
            .await
    }

    async fn delete(&self, owner: UserId, id: TeamId) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let theirs = s.roster.teams.get(&id).is_some_and(|t| t.owner == owner);
                theirs && s.remove_team(id, undo).is_some()
            })
            .await)
    }

    async fn with_member(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<TeamView>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let mut found: Vec<(String, &Team)> = s
                    .teams_of(owner)
                    .filter(|t| t.member_ids.contains(&character))
                    .map(|t| (name_key(t.name.as_str()), t))
                    .collect();
                found.sort_by(|(ka, a), (kb, b)| ka.cmp(kb).then(a.id.cmp(&b.id)));
                found.into_iter().map(|(_, t)| s.team_view(t)).collect()
            })
            .await)
    }
}
