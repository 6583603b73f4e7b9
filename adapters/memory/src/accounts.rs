//! `AccountRepository` in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::ports::AccountRepository;
use domain::roster::name_key;
use domain::{
    AccountId, AccountView, GameAccount, PageRequest, Paged, RepoError, UniqueRule, UserId,
};
use time::OffsetDateTime;

use crate::roster::{name_matches, page_of};
use crate::tables::State;
use crate::tables::StoredAccount;
use crate::transaction::{Access, Repos};

impl State {
    /// How many live characters each of `owner`'s accounts holds, in one
    /// pass over the owner's characters.
    fn character_counts(&self, owner: UserId) -> HashMap<AccountId, u64> {
        let mut counts = HashMap::new();
        for character in self.characters_of(owner) {
            *counts.entry(character.account_id).or_insert(0) += 1;
        }
        counts
    }
}

#[async_trait]
impl<A: Access> AccountRepository for Repos<A> {
    async fn insert(&self, account: &GameAccount) -> Result<(), RepoError> {
        self.0
            .with_state(|s, undo| {
                if s.roster.accounts.contains_key(&account.id) {
                    return Err(RepoError::Duplicate(UniqueRule::AccountId));
                }
                if s.account_name_taken(account.owner, account.name.as_str(), account.id) {
                    return Err(RepoError::Duplicate(UniqueRule::AccountName));
                }
                let stored = StoredAccount {
                    account: account.clone(),
                    deleted_at: None,
                };
                s.put_account(stored, undo);
                Ok(())
            })
            .await
    }

    async fn find(&self, owner: UserId, id: AccountId) -> Result<Option<AccountView>, RepoError> {
        Ok(self
            .0
            .read(|s| {
                let account = s.live_account(owner, id)?.clone();
                let character_count = s
                    .characters_of(owner)
                    .filter(|c| c.account_id == id)
                    .count() as u64;
                Some(AccountView {
                    account,
                    character_count,
                })
            })
            .await)
    }

    async fn lock(&self, owner: UserId, id: AccountId) -> Result<bool, RepoError> {
        // A transaction already holds the whole state; nothing more to lock.
        Ok(self.0.read(|s| s.live_account(owner, id).is_some()).await)
    }

    async fn list(
        &self,
        owner: UserId,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<AccountView>, RepoError> {
        let search = search.map(str::to_lowercase);
        Ok(self
            .0
            .read(|s| {
                let mut matches: Vec<(String, &GameAccount)> = s
                    .accounts_of(owner)
                    .filter(|a| a.deleted_at.is_none())
                    .map(|a| &a.account)
                    .filter(|a| name_matches(a.name.as_str(), search.as_deref()))
                    .map(|a| (name_key(a.name.as_str()), a))
                    .collect();
                matches.sort_by(|(ka, a), (kb, b)| ka.cmp(kb).then(a.id.cmp(&b.id)));
                let counts = s.character_counts(owner);
                page_of(matches, page, |(_, account)| AccountView {
                    account: account.clone(),
                    character_count: counts.get(&account.id).copied().unwrap_or(0),
                })
            })
            .await)
    }

    async fn update(&self, account: &GameAccount) -> Result<bool, RepoError> {
        self.0
            .with_state(|s, undo| {
                let Some(stored) = s.roster.accounts.get(&account.id) else {
                    return Ok(false);
                };
                if !stored.is_live_of(account.owner) {
                    return Ok(false);
                }
                if s.account_name_taken(account.owner, account.name.as_str(), account.id) {
                    return Err(RepoError::Duplicate(UniqueRule::AccountName));
                }
                let mut stored = stored.clone();
                stored.account.name = account.name.clone();
                stored.account.notes = account.notes.clone();
                stored.account.updated_at = account.updated_at;
                s.put_account(stored, undo);
                Ok(true)
            })
            .await
    }

    async fn delete(
        &self,
        owner: UserId,
        id: AccountId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError> {
        Ok(self
            .0
            .with_state(|s, undo| {
                let Some(stored) = s.roster.accounts.get(&id).filter(|a| a.is_live_of(owner))
                else {
                    return false;
                };
                let mut stored = stored.clone();
                stored.deleted_at = Some(at);
                s.put_account(stored, undo);
                true
            })
            .await)
    }
}
