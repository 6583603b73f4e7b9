//! Game accounts: the accounts a user plays in the game, each holding
//! characters.
//!
//! Commands arrive parsed; what is checked here needs storage (the name is
//! free, the account is the owner's).

use domain::ports::{CacheTier, Transaction};
use domain::{
    AccountId, AccountView, GameAccount, Notes, PageRequest, Paged, RosterName, SearchText, UserId,
};

use crate::audit::Resource;
use crate::cache::{last_part, user_namespace};
use crate::context::ClientInfo;
use crate::roster::{Changes, Roster, RosterError, duplicate_name};

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: RosterName,
    pub notes: Option<Notes>,
}

/// An edit: each `Some` field is replaced. `notes: Some(None)` clears them.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub name: Option<RosterName>,
    pub notes: Option<Option<Notes>>,
}

impl Roster {
    /// The owner's accounts whose name contains `search`, sorted by name.
    pub async fn list_accounts(
        &self,
        owner: UserId,
        search_text: Option<&SearchText>,
        page: PageRequest,
    ) -> Result<Paged<AccountView>, RosterError> {
        let search = search_text.map(SearchText::as_str);
        let user = user_namespace(owner);
        let name = format!(
            "accounts:{}:{}:{}",
            page.page(),
            page.per_page(),
            last_part(search)
        );
        self.cache
            .read(CacheTier::User, &[&user], &name, || async move {
                Ok(self.storage.accounts().list(owner, search, page).await?)
            })
            .await
    }

    pub async fn account(&self, owner: UserId, id: AccountId) -> Result<AccountView, RosterError> {
        self.storage
            .accounts()
            .find(owner, id)
            .await?
            .ok_or(RosterError::NotFound("account"))
    }

    pub async fn create_account(
        &self,
        owner: UserId,
        input: NewAccount,
        client: &ClientInfo,
    ) -> Result<AccountView, RosterError> {
        let NewAccount { name, notes } = input;
        let now = self.now();
        let account = GameAccount {
            id: AccountId::generate(now, self.random.as_ref()),
            owner,
            name,
            notes,
            created_at: now,
            updated_at: now,
        };
        let tx = self.storage.begin().await?;
        tx.accounts()
            .insert(&account)
            .await
            .map_err(|e| duplicate_name(e, "name", "an account"))?;
        let mut changes = Changes::default();
        changes
            .field("name", None::<&str>, account.name.as_str())
            .field(
                "notes",
                None::<&str>,
                account.notes.as_ref().map(Notes::as_str),
            );
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "account.created",
            Resource::new("account", account.id),
            changes.into_vec(),
        );
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(AccountView {
            account,
            character_count: 0,
        })
    }

    pub async fn update_account(
        &self,
        owner: UserId,
        id: AccountId,
        patch: AccountPatch,
        client: &ClientInfo,
    ) -> Result<AccountView, RosterError> {
        let AccountPatch { name, notes } = patch;
        let tx = self.storage.begin().await?;
        let current = find_locked(tx.as_ref(), owner, id).await?;
        let before = current.account.clone();
        let mut account = before.clone();
        if let Some(name) = name {
            account.name = name;
        }
        if let Some(notes) = notes {
            account.notes = notes;
        }
        let mut changes = Changes::default();
        changes
            .field("name", before.name.as_str(), account.name.as_str())
            .field(
                "notes",
                before.notes.as_ref().map(Notes::as_str),
                account.notes.as_ref().map(Notes::as_str),
            );
        if changes.is_empty() {
            return Ok(current);
        }
        let now = self.now();
        account.updated_at = now;
        let updated = tx
            .accounts()
            .update(&account)
            .await
            .map_err(|e| duplicate_name(e, "name", "an account"))?;
        if !updated {
            return Err(RosterError::NotFound("account"));
        }
        let entry = self.audit_entry(
            now,
            client,
            owner,
            "account.updated",
            Resource::new("account", id),
            changes.into_vec(),
        );
        tx.commit_with_audit(&[entry]).await?;
        self.cache.user_changed(owner).await;
        Ok(AccountView {
            account,
            character_count: current.character_count,
        })
    }

    /// Deletes the account. While it holds live characters this is a
    /// conflict, unless `cascade`, which deletes them in the same unit.
    pub async fn delete_account(
        &self,
        owner: UserId,
        id: AccountId,
        cascade: bool,
        client: &ClientInfo,
    ) -> Result<(), RosterError> {
        let tx = self.storage.begin().await?;
        let current = find_locked(tx.as_ref(), owner, id).await?;
        let now = self.now();
        let mut entries = Vec::new();
        if current.character_count > 0 {
            if !cascade {
                return Err(RosterError::AccountHasCharacters {
                    count: current.character_count,
                });
            }
            let deleted = tx.characters().delete_by_account(owner, id, now).await?;
            entries.extend(deleted.into_iter().map(|character| {
                self.audit_entry(
                    now,
                    client,
                    owner,
                    "character.deleted",
                    Resource::new("character", character),
                    Vec::new(),
                )
            }));
        }
        if !tx.accounts().delete(owner, id, now).await? {
            return Err(RosterError::NotFound("account"));
        }
        entries.push(self.audit_entry(
            now,
            client,
            owner,
            "account.deleted",
            Resource::new("account", id),
            Vec::new(),
        ));
        tx.commit_with_audit(&entries).await?;
        self.cache.user_changed(owner).await;
        Ok(())
    }
}

/// The owner's account, locked against concurrent changes for the rest of
/// the unit: characters cannot be added to it while it is being deleted.
async fn find_locked(
    tx: &dyn Transaction,
    owner: UserId,
    id: AccountId,
) -> Result<AccountView, RosterError> {
    if !tx.accounts().lock(owner, id).await? {
        return Err(RosterError::NotFound("account"));
    }
    tx.accounts()
        .find(owner, id)
        .await?
        .ok_or(RosterError::NotFound("account"))
}
