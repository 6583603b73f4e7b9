//! PLACEHOLDER on branch `roster` only: replaced by the real adapter.
#![allow(unused_variables)]

use async_trait::async_trait;
use domain::ports::{
    AccountRepository, CharacterRepository, ProgressionRepository, TeamRepository,
};
use domain::*;
use time::OffsetDateTime;

use crate::{Access, Repos};

#[async_trait]
impl<A: Access> AccountRepository for Repos<A> {
    async fn insert(&self, account: &GameAccount) -> Result<(), RepoError> {
        todo!("roster storage")
    }

    async fn find(&self, owner: UserId, id: AccountId) -> Result<Option<AccountView>, RepoError> {
        todo!("roster storage")
    }

    async fn lock(&self, owner: UserId, id: AccountId) -> Result<bool, RepoError> {
        todo!("roster storage")
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<AccountView>, RepoError> {
        todo!("roster storage")
    }

    async fn update(&self, account: &GameAccount) -> Result<bool, RepoError> {
        todo!("roster storage")
    }

    async fn delete(
        &self,
        owner: UserId,
        id: AccountId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        todo!("roster storage")
    }
}

#[async_trait]
impl<A: Access> CharacterRepository for Repos<A> {
    async fn insert(&self, character: &Character) -> Result<(), RepoError> {
        todo!("roster storage")
    }

    async fn find(
        &self,
        owner: UserId,
        id: CharacterId,
    ) -> Result<Option<CharacterView>, RepoError> {
        todo!("roster storage")
    }

    async fn find_many(
        &self,
        owner: UserId,
        ids: &[CharacterId],
    ) -> Result<Vec<CharacterView>, RepoError> {
        todo!("roster storage")
    }

    async fn list(
        &self,
        owner: UserId,
        filter: &CharacterFilter,
        sort: CharacterSort,
        page: PageRequest,
    ) -> Result<Paged<CharacterView>, RepoError> {
        todo!("roster storage")
    }

    async fn update(
        &self,
        character: &Character,
        expected_version: i64,
    ) -> Result<bool, RepoError> {
        todo!("roster storage")
    }

    /// Soft-deletes the owner's live characters among `ids` (`deleted_at`
    /// and `updated_at` become `at`). Returns the ids it deleted.
    async fn delete(
        &self,
        owner: UserId,
        ids: &[CharacterId],
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        todo!("roster storage")
    }

    async fn delete_by_account(
        &self,
        owner: UserId,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Result<Vec<CharacterId>, RepoError> {
        todo!("roster storage")
    }
}

#[async_trait]
impl<A: Access> TeamRepository for Repos<A> {
    async fn insert(&self, team: &Team) -> Result<(), RepoError> {
        todo!("roster storage")
    }

    async fn find(&self, owner: UserId, id: TeamId) -> Result<Option<TeamView>, RepoError> {
        todo!("roster storage")
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<TeamView>, RepoError> {
        todo!("roster storage")
    }

    async fn update(&self, team: &Team) -> Result<bool, RepoError> {
        todo!("roster storage")
    }

    async fn delete(&self, owner: UserId, id: TeamId) -> Result<bool, RepoError> {
        todo!("roster storage")
    }
}

#[async_trait]
impl<A: Access> ProgressionRepository for Repos<A> {
    async fn find(
        &self,
        owner: UserId,
        character: CharacterId,
        item: ItemId,
    ) -> Result<Option<Progression>, RepoError> {
        todo!("roster storage")
    }

    async fn upsert(&self, owner: UserId, progression: &Progression) -> Result<bool, RepoError> {
        todo!("roster storage")
    }

    async fn list(
        &self,
        owner: UserId,
        character: CharacterId,
        kind: Option<ItemKind>,
        status: Option<ProgressStatus>,
        page: PageRequest,
    ) -> Result<Paged<ProgressionView>, RepoError> {
        todo!("roster storage")
    }

    async fn counts(
        &self,
        owner: UserId,
        character: CharacterId,
    ) -> Result<Vec<ProgressCount>, RepoError> {
        todo!("roster storage")
    }

    async fn for_item(
        &self,
        owner: UserId,
        characters: &[CharacterId],
        item: ItemId,
    ) -> Result<Vec<Progression>, RepoError> {
        todo!("roster storage")
    }
}
