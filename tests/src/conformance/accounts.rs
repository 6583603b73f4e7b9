//! What `AccountRepository` promises, whatever stores the accounts.
//!
//! Every account's owner is stored first, so a backend with foreign keys
//! runs the same bodies.

use domain::{AccountId, AccountView, GameAccount, PageRequest, UniqueRule, UserId};
use time::Duration;

use super::FreshStorage;
use super::fixtures::{
    a_character_of, an_account_of, assert_duplicate, at, new_account_id_at, notes, roster_name,
    store_accounts, store_characters, stored_account, stored_user,
};

/// A page of `per_page` items, the `page`th.
fn page(page: i64, per_page: i64) -> PageRequest {
    PageRequest::parse(Some(page), Some(per_page)).expect("fixture page")
}

fn view(account: &GameAccount, character_count: u64) -> AccountView {
    AccountView {
        account: account.clone(),
        character_count,
    }
}

async fn found(storage: &FreshStorage, owner: UserId, id: AccountId) -> Option<AccountView> {
    storage
        .accounts()
        .find(owner, id)
        .await
        .expect("find account")
}

/// The names of one page of `owner`'s accounts matching `search`, and the total.
async fn listed_names(
    storage: &FreshStorage,
    owner: UserId,
    search: Option<&str>,
    page: PageRequest,
) -> (Vec<String>, u64) {
    let listed = storage
        .accounts()
        .list(owner, search, page)
        .await
        .expect("list accounts");
    let names = listed
        .items
        .iter()
        .map(|v| v.account.name.as_str().to_owned())
        .collect();
    (names, listed.total)
}

pub async fn inserting_an_account_then_finding_it_returns_every_field(storage: FreshStorage) {
    // Arrange: one account with notes and distinct times, one bare.
    let owner = stored_user(&storage).await;
    let full = an_account_of(owner.id)
        .name("Zoé's main ☃")
        .notes("line one\nline two\twith a tab")
        .created_at(at(0))
        .updated_at(at(60) + Duration::microseconds(7))
        .build();
    let bare = an_account_of(owner.id).build();

    // Act
    store_accounts(&storage, &[&full, &bare]).await;

    // Assert
    assert_eq!(
        found(&storage, owner.id, full.id).await,
        Some(view(&full, 0))
    );
    assert_eq!(
        found(&storage, owner.id, bare.id).await,
        Some(view(&bare, 0))
    );
}

pub async fn inserting_an_account_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange: the id is taken by another user's account, even.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let first = stored_account(&storage, someone_else.id).await;
    let second = an_account_of(owner.id).id(first.id).build();

    // Act
    let result = storage.accounts().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::AccountId);
    assert_eq!(found(&storage, owner.id, first.id).await, None);
    assert_eq!(
        found(&storage, someone_else.id, first.id).await,
        Some(view(&first, 0))
    );
}

pub async fn inserting_an_account_named_like_a_live_one_of_the_owner_ignoring_case_is_a_duplicate(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let first = an_account_of(owner.id).name("Main Account").build();
    store_accounts(&storage, &[&first]).await;
    let second = an_account_of(owner.id).name("mAIN aCCOUNT").build();

    // Act
    let result = storage.accounts().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::AccountName);
    assert_eq!(found(&storage, owner.id, second.id).await, None);
    let (names, total) = listed_names(&storage, owner.id, None, page(1, 20)).await;
    assert_eq!((names, total), (vec!["Main Account".to_owned()], 1));
}

pub async fn another_user_and_a_deleted_accounts_name_are_free_to_take(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let deleted = an_account_of(owner.id).name("Main").build();
    store_accounts(&storage, &[&deleted]).await;
    let theirs = an_account_of(someone_else.id).name("MAIN").build();
    let deleted_now = storage
        .accounts()
        .delete(owner.id, deleted.id, at(10))
        .await;
    let again = an_account_of(owner.id).name("main").build();

    // Act
    let theirs_result = storage.accounts().insert(&theirs).await;
    let again_result = storage.accounts().insert(&again).await;

    // Assert
    assert!(deleted_now.expect("delete"));
    theirs_result.expect("another user may use the name");
    again_result.expect("a deleted account's name may be reused");
    assert_eq!(
        found(&storage, owner.id, again.id).await,
        Some(view(&again, 0))
    );
    assert_eq!(
        found(&storage, someone_else.id, theirs.id).await,
        Some(view(&theirs, 0))
    );
}

pub async fn another_users_account_is_not_found_locked_listed_updated_or_deleted(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let intruder = stored_user(&storage).await;
    let account = stored_account(&storage, owner.id).await;
    let accounts = storage.accounts();

    // Act
    let find = accounts.find(intruder.id, account.id).await;
    let lock = accounts.lock(intruder.id, account.id).await;
    let list = accounts.list(intruder.id, None, page(1, 20)).await;
    let renamed = GameAccount {
        owner: intruder.id,
        name: roster_name("Stolen"),
        updated_at: at(50),
        ..account.clone()
    };
    let update = accounts.update(&renamed).await;
    let delete = accounts.delete(intruder.id, account.id, at(60)).await;

    // Assert
    assert_eq!(find.expect("find"), None);
    assert!(!lock.expect("lock"));
    let list = list.expect("list");
    assert_eq!((list.items, list.total), (Vec::new(), 0));
    assert!(!update.expect("update"));
    assert!(!delete.expect("delete"));
    assert_eq!(
        found(&storage, owner.id, account.id).await,
        Some(view(&account, 0)),
        "untouched"
    );
}

pub async fn an_unknown_account_is_not_found_locked_updated_or_deleted(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let never_stored = an_account_of(owner.id).build();
    let accounts = storage.accounts();

    // Act
    let find = accounts.find(owner.id, never_stored.id).await;
    let lock = accounts.lock(owner.id, never_stored.id).await;
    let update = accounts.update(&never_stored).await;
    let delete = accounts.delete(owner.id, never_stored.id, at(1)).await;

    // Assert
    assert_eq!(find.expect("find"), None);
    assert!(!lock.expect("lock"));
    assert!(!update.expect("update"));
    assert!(!delete.expect("delete"));
}

pub async fn the_character_count_counts_the_accounts_live_characters_only(storage: FreshStorage) {
    // Arrange: three characters on the account (one deleted), one on another.
    let owner = stored_user(&storage).await;
    let account = stored_account(&storage, owner.id).await;
    let other = stored_account(&storage, owner.id).await;
    let a = a_character_of(owner.id, account.id).build();
    let b = a_character_of(owner.id, account.id).build();
    let gone = a_character_of(owner.id, account.id).build();
    let elsewhere = a_character_of(owner.id, other.id).build();
    store_characters(&storage, &[&a, &b, &gone, &elsewhere]).await;
    let deleted = storage
        .characters()
        .delete(owner.id, &[gone.id], at(5))
        .await;

    // Act
    let account_found = found(&storage, owner.id, account.id).await;
    let other_found = found(&storage, owner.id, other.id).await;
    let listed = storage
        .accounts()
        .list(owner.id, None, page(1, 20))
        .await
        .expect("list");

    // Assert
    assert_eq!(deleted.expect("delete"), vec![gone.id]);
    assert_eq!(account_found.map(|v| v.character_count), Some(2));
    assert_eq!(other_found.map(|v| v.character_count), Some(1));
    let mut counts: Vec<(AccountId, u64)> = listed
        .items
        .iter()
        .map(|v| (v.account.id, v.character_count))
        .collect();
    counts.sort();
    let mut expected = vec![(account.id, 2), (other.id, 1)];
    expected.sort();
    assert_eq!(counts, expected);
}

pub async fn listing_sorts_by_lower_cased_name(storage: FreshStorage) {
    // Arrange: names are unique ignoring case among live accounts, so ties
    // on the name cannot arise; byte by byte `_` sorts after upper-case
    // letters and before lower-case ones, so only a lower-cased comparison
    // puts it before "Beta".
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let twin = an_account_of(owner.id).name("TWIN").build();
    let alpha = an_account_of(owner.id).name("alpha").build();
    let beta = an_account_of(owner.id).name("Beta").build();
    let underscore = an_account_of(owner.id).name("_under").build();
    let deleted = an_account_of(owner.id).name("Aardvark").build();
    let not_theirs = an_account_of(someone_else.id).name("Aaron").build();
    store_accounts(
        &storage,
        &[&beta, &deleted, &underscore, &twin, &alpha, &not_theirs],
    )
    .await;
    storage
        .accounts()
        .delete(owner.id, deleted.id, at(3))
        .await
        .expect("delete");

    // Act
    let listed = storage
        .accounts()
        .list(owner.id, None, page(1, 20))
        .await
        .expect("list");

    // Assert: every field of each view, in order.
    assert_eq!(listed.total, 4);
    assert_eq!(
        listed.items,
        vec![
            view(&underscore, 0),
            view(&alpha, 0),
            view(&beta, 0),
            view(&twin, 0),
        ]
    );
}

pub async fn listing_pages_with_the_total_and_a_page_past_the_end_is_empty(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    for name in ["e-five", "a-one", "d-four", "c-three", "b-two"] {
        let account = an_account_of(owner.id).name(name).build();
        store_accounts(&storage, &[&account]).await;
    }

    // Act
    let first = listed_names(&storage, owner.id, None, page(1, 2)).await;
    let second = listed_names(&storage, owner.id, None, page(2, 2)).await;
    let last = listed_names(&storage, owner.id, None, page(3, 2)).await;
    let past = listed_names(&storage, owner.id, None, page(4, 2)).await;

    // Assert
    assert_eq!(first, (vec!["a-one".into(), "b-two".into()], 5));
    assert_eq!(second, (vec!["c-three".into(), "d-four".into()], 5));
    assert_eq!(last, (vec!["e-five".into()], 5));
    assert_eq!(past, (Vec::new(), 5));
}

pub async fn searching_accounts_matches_a_substring_ignoring_case_and_wildcards_literally(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    for name in [
        "Main 100%",
        "Main 1000",
        "Alt_one",
        "Alt one",
        "Back\\slash",
        "Farmer",
    ] {
        let account = an_account_of(owner.id).name(name).build();
        store_accounts(&storage, &[&account]).await;
    }
    let all = page(1, 20);

    // Act
    let main = listed_names(&storage, owner.id, Some("mAiN"), all).await;
    let percent = listed_names(&storage, owner.id, Some("100%"), all).await;
    let underscore = listed_names(&storage, owner.id, Some("t_o"), all).await;
    let backslash = listed_names(&storage, owner.id, Some("k\\s"), all).await;
    let nothing = listed_names(&storage, owner.id, Some("zzz"), all).await;
    let paged = listed_names(&storage, owner.id, Some("a"), page(2, 2)).await;

    // Assert
    assert_eq!(main, (vec!["Main 100%".into(), "Main 1000".into()], 2));
    assert_eq!(percent, (vec!["Main 100%".into()], 1));
    assert_eq!(underscore, (vec!["Alt_one".into()], 1));
    assert_eq!(backslash, (vec!["Back\\slash".into()], 1));
    assert_eq!(nothing, (Vec::new(), 0));
    assert_eq!(
        paged,
        (vec!["Back\\slash".into(), "Farmer".into()], 6),
        "every name holds an a"
    );
}

pub async fn updating_an_account_writes_its_name_notes_and_updated_at_only(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let account = an_account_of(owner.id)
        .name("Before")
        .notes("old notes")
        .created_at(at(0))
        .build();
    store_accounts(&storage, &[&account]).await;
    let changed = GameAccount {
        name: roster_name("After"),
        notes: None,
        created_at: at(999),
        updated_at: at(100),
        ..account.clone()
    };
    let with_notes = GameAccount {
        name: roster_name("AFTER"),
        notes: Some(notes("new notes")),
        updated_at: at(200),
        ..changed.clone()
    };

    // Act
    let first = storage.accounts().update(&changed).await;
    let after_first = found(&storage, owner.id, account.id).await;
    let second = storage.accounts().update(&with_notes).await;
    let after_second = found(&storage, owner.id, account.id).await;

    // Assert: created_at is not written; renaming to its own name in
    // another case is no duplicate.
    assert!(first.expect("update"));
    let expected = GameAccount {
        created_at: at(0),
        ..changed
    };
    assert_eq!(after_first, Some(view(&expected, 0)));
    assert!(second.expect("update"));
    let expected = GameAccount {
        created_at: at(0),
        ..with_notes
    };
    assert_eq!(after_second, Some(view(&expected, 0)));
}

pub async fn updating_an_account_to_another_live_accounts_name_is_a_duplicate_and_writes_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let taken = an_account_of(owner.id).name("Taken").build();
    let account = an_account_of(owner.id).name("Mine").build();
    let deleted = an_account_of(owner.id).name("Was Deleted").build();
    store_accounts(&storage, &[&taken, &account, &deleted]).await;
    storage
        .accounts()
        .delete(owner.id, deleted.id, at(1))
        .await
        .expect("delete");
    let clash = GameAccount {
        name: roster_name("TAKEN"),
        notes: Some(notes("should not land")),
        updated_at: at(100),
        ..account.clone()
    };
    let reuse = GameAccount {
        name: roster_name("was deleted"),
        updated_at: at(200),
        ..account.clone()
    };

    // Act
    let clash_result = storage.accounts().update(&clash).await;
    let after_clash = found(&storage, owner.id, account.id).await;
    let reuse_result = storage.accounts().update(&reuse).await;

    // Assert
    assert_duplicate(clash_result, UniqueRule::AccountName);
    assert_eq!(after_clash, Some(view(&account, 0)), "nothing written");
    assert!(reuse_result.expect("a deleted account's name is free"));
    assert_eq!(
        found(&storage, owner.id, account.id).await,
        Some(view(&reuse, 0))
    );
}

pub async fn deleting_an_account_hides_it_from_every_method_and_succeeds_once(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let account = stored_account(&storage, owner.id).await;
    let kept = stored_account(&storage, owner.id).await;
    let accounts = storage.accounts();

    // Act
    let first = accounts.delete(owner.id, account.id, at(10)).await;
    let second = accounts.delete(owner.id, account.id, at(20)).await;

    // Assert
    assert!(first.expect("delete"));
    assert!(!second.expect("second delete"));
    assert_eq!(found(&storage, owner.id, account.id).await, None);
    assert!(!accounts.lock(owner.id, account.id).await.expect("lock"));
    let renamed = GameAccount {
        name: roster_name("Revived"),
        ..account.clone()
    };
    assert!(!accounts.update(&renamed).await.expect("update"));
    let listed = accounts
        .list(owner.id, None, page(1, 20))
        .await
        .expect("list");
    assert_eq!((listed.items, listed.total), (vec![view(&kept, 0)], 1));
}

pub async fn locking_answers_whether_the_owner_has_the_live_account_inside_a_transaction(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let account = stored_account(&storage, owner.id).await;
    let tx = storage.begin().await.expect("begin");

    // Act
    let locked = tx.accounts().lock(owner.id, account.id).await;
    let unknown = tx.accounts().lock(owner.id, new_account_id_at(at(0))).await;
    tx.commit().await.expect("commit");

    // Assert
    assert!(locked.expect("lock"));
    assert!(!unknown.expect("lock unknown"));
    assert_eq!(
        found(&storage, owner.id, account.id).await,
        Some(view(&account, 0))
    );
}

pub async fn an_account_written_in_a_transaction_dropped_without_commit_is_not_stored(
    storage: FreshStorage,
) {
    // Arrange: an insert, an update and a delete in one unit.
    let owner = stored_user(&storage).await;
    let kept = an_account_of(owner.id).name("Kept").build();
    let removed = an_account_of(owner.id).name("Removed").build();
    store_accounts(&storage, &[&kept, &removed]).await;
    let added = an_account_of(owner.id).name("Added").build();
    let tx = storage.begin().await.expect("begin");
    tx.accounts().insert(&added).await.expect("insert");
    let renamed = GameAccount {
        name: roster_name("Renamed"),
        updated_at: at(5),
        ..kept.clone()
    };
    assert!(tx.accounts().update(&renamed).await.expect("update"));
    assert!(
        tx.accounts()
            .delete(owner.id, removed.id, at(6))
            .await
            .expect("delete")
    );

    // Act
    drop(tx);

    // Assert: as before, and the added name is free.
    assert_eq!(found(&storage, owner.id, added.id).await, None);
    assert_eq!(
        found(&storage, owner.id, kept.id).await,
        Some(view(&kept, 0))
    );
    assert_eq!(
        found(&storage, owner.id, removed.id).await,
        Some(view(&removed, 0))
    );
    let again = an_account_of(owner.id).name("Added").build();
    storage
        .accounts()
        .insert(&again)
        .await
        .expect("the name is free");
}
