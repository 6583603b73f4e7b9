//! What `UserRepository` promises, whatever stores the users.

use std::sync::Arc;

use domain::Role;
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{
    a_user, assert_duplicate, at, new_password_hash, new_user_id, new_user_id_at,
};
use domain::UniqueRule;

pub async fn inserting_a_user_then_finding_it_by_id_returns_every_field(storage: FreshStorage) {
    // Arrange: one user with every optional field set, one with none.
    let full = a_user()
        .display_name("Zoé l'Iop")
        .role(Role::Admin)
        .disabled()
        .updated_at(at(60))
        .last_login_at(at(90))
        .build();
    let bare = a_user().build();

    // Act
    storage.users().insert(&full).await.expect("insert full");
    storage.users().insert(&bare).await.expect("insert bare");

    // Assert
    let users = storage.users();
    assert_eq!(users.find_by_id(full.id).await.expect("find"), Some(full));
    assert_eq!(users.find_by_id(bare.id).await.expect("find"), Some(bare));
}

pub async fn finding_a_user_by_email_returns_every_field(storage: FreshStorage) {
    // Arrange
    let user = a_user().last_login_at(at(5)).build();
    let other = a_user().build();
    storage.users().insert(&user).await.expect("insert");
    storage.users().insert(&other).await.expect("insert other");

    // Act
    let found = storage.users().find_by_email(&user.email).await;

    // Assert
    assert_eq!(found.expect("find"), Some(user));
}

pub async fn finding_an_unknown_user_returns_none(storage: FreshStorage) {
    // Arrange: a store that holds someone else.
    storage
        .users()
        .insert(&a_user().build())
        .await
        .expect("insert");
    let stranger = a_user().build();

    // Act
    let by_id = storage.users().find_by_id(stranger.id).await;
    let by_email = storage.users().find_by_email(&stranger.email).await;

    // Assert
    assert_eq!(by_id.expect("find by id"), None);
    assert_eq!(by_email.expect("find by email"), None);
}

pub async fn inserting_a_second_user_with_the_same_email_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let first = a_user().build();
    storage.users().insert(&first).await.expect("insert first");
    let second = a_user().email(first.email.as_str()).build();

    // Act
    let result = storage.users().insert(&second).await;

    // Assert: refused, and the first user is the one the e-mail finds.
    assert_duplicate(result, UniqueRule::UserEmail);
    let users = storage.users();
    assert_eq!(users.find_by_id(second.id).await.expect("find"), None);
    assert_eq!(
        users.find_by_email(&first.email).await.expect("find"),
        Some(first)
    );
}

pub async fn inserting_a_second_user_with_the_same_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let first = a_user().build();
    storage.users().insert(&first).await.expect("insert first");
    let second = a_user().id(first.id).build();

    // Act
    let result = storage.users().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::UserId);
    let users = storage.users();
    assert_eq!(
        users.find_by_email(&second.email).await.expect("find"),
        None
    );
    assert_eq!(users.find_by_id(first.id).await.expect("find"), Some(first));
}

pub async fn replacing_the_password_hash_from_the_current_one_succeeds(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");
    let new_hash = new_password_hash();

    // Act
    let replaced = storage
        .users()
        .replace_password_hash(user.id, &user.password_hash, &new_hash, at(30))
        .await
        .expect("replace");

    // Assert: the hash and updated_at changed, nothing else.
    assert!(replaced, "the current hash must allow the replacement");
    let stored = storage.users().find_by_id(user.id).await.expect("find");
    let expected = domain::User {
        password_hash: new_hash,
        updated_at: at(30),
        ..user
    };
    assert_eq!(stored, Some(expected));
}

pub async fn replacing_the_password_hash_from_a_stale_one_changes_nothing(storage: FreshStorage) {
    // Arrange: the hash the caller read has been replaced since.
    let stale = new_password_hash();
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    let replaced = storage
        .users()
        .replace_password_hash(user.id, &stale, &new_password_hash(), at(30))
        .await
        .expect("replace");

    // Assert
    assert!(!replaced, "a stale hash must not replace the stored one");
    let stored = storage.users().find_by_id(user.id).await.expect("find");
    assert_eq!(stored, Some(user), "neither the hash nor updated_at moves");
}

pub async fn replacing_the_password_hash_of_an_unknown_user_returns_false(storage: FreshStorage) {
    // Arrange
    let stranger = a_user().build();

    // Act
    let replaced = storage
        .users()
        .replace_password_hash(
            stranger.id,
            &stranger.password_hash,
            &new_password_hash(),
            at(30),
        )
        .await
        .expect("replace");

    // Assert
    assert!(!replaced);
    let stored = storage.users().find_by_id(stranger.id).await.expect("find");
    assert_eq!(stored, None, "a replacement never creates a user");
}

pub async fn concurrent_password_replacements_from_the_same_hash_have_exactly_one_winner(
    storage: FreshStorage,
) {
    // Arrange: N callers that all read the same current hash.
    const CALLERS: usize = 16;
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");
    let id = user.id;
    let start = Arc::new(Barrier::new(CALLERS));

    // Act
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (storage, start, current) =
                (storage.clone(), start.clone(), user.password_hash.clone());
            let new_hash = new_password_hash();
            tokio::spawn(async move {
                start.wait().await;
                let replaced = storage
                    .users()
                    .replace_password_hash(id, &current, &new_hash, at(30))
                    .await
                    .expect("replace");
                (replaced, new_hash)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (replaced, new_hash) = task.await.expect("task");
        if replaced {
            winners.push(new_hash);
        }
    }

    // Assert: one winner, and its hash is the one stored.
    assert_eq!(winners.len(), 1, "exactly one compare-and-set may succeed");
    let stored = storage.users().find_by_id(user.id).await.expect("find");
    assert_eq!(
        stored.expect("the user").password_hash,
        winners.remove(0),
        "the stored hash is the winner's"
    );
}

pub async fn recording_a_login_sets_last_login_at(storage: FreshStorage) {
    // Arrange: a user who logged in before.
    let user = a_user().last_login_at(at(10)).build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    storage
        .users()
        .record_login(user.id, at(20))
        .await
        .expect("record login");

    // Assert: the contract says nothing of updated_at, so it is not pinned.
    let stored = storage
        .users()
        .find_by_id(user.id)
        .await
        .expect("find")
        .expect("the user");
    let expected = domain::User {
        last_login_at: Some(at(20)),
        updated_at: stored.updated_at,
        ..user
    };
    assert_eq!(stored, expected);
}

pub async fn recording_a_login_for_an_unknown_user_changes_nothing(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");
    let stranger = new_user_id();

    // Act
    let result = storage.users().record_login(stranger, at(20)).await;

    // Assert
    result.expect("an unknown id is a no-op, not an error");
    let users = storage.users();
    assert_eq!(users.find_by_id(stranger).await.expect("find"), None);
    assert_eq!(users.find_by_id(user.id).await.expect("find"), Some(user));
}

// --- Roles and the disabled flag ------------------------------------------------

pub async fn setting_a_new_role_changes_it_and_moves_updated_at(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    let found = storage.users().set_role(user.id, Role::Admin, at(30)).await;

    // Assert
    assert!(found.expect("set role"), "the user exists");
    let stored = find(&storage, user.id).await;
    assert_eq!(
        stored,
        domain::User {
            role: Role::Admin,
            updated_at: at(30),
            ..user
        }
    );
}

pub async fn setting_the_same_role_leaves_updated_at_alone(storage: FreshStorage) {
    // Arrange
    let user = a_user().role(Role::Admin).build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    let found = storage.users().set_role(user.id, Role::Admin, at(30)).await;

    // Assert
    assert!(found.expect("set role"), "the user exists");
    assert_eq!(find(&storage, user.id).await, user);
}

pub async fn disabling_a_user_sets_the_flag_and_moves_updated_at(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    let found = storage.users().set_disabled(user.id, true, at(30)).await;

    // Assert
    assert!(found.expect("set disabled"), "the user exists");
    assert_eq!(
        find(&storage, user.id).await,
        domain::User {
            disabled: true,
            updated_at: at(30),
            ..user
        }
    );
}

pub async fn enabling_a_disabled_user_clears_the_flag(storage: FreshStorage) {
    // Arrange
    let user = a_user().disabled().build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    let found = storage.users().set_disabled(user.id, false, at(40)).await;

    // Assert
    assert!(found.expect("set disabled"), "the user exists");
    assert_eq!(
        find(&storage, user.id).await,
        domain::User {
            disabled: false,
            updated_at: at(40),
            ..user
        }
    );
}

pub async fn setting_the_disabled_flag_it_already_has_returns_true_and_changes_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let enabled = a_user().build();
    let disabled = a_user().disabled().build();
    storage.users().insert(&enabled).await.expect("insert");
    storage.users().insert(&disabled).await.expect("insert");

    // Act
    let users = storage.users();
    let a = users.set_disabled(enabled.id, false, at(30)).await;
    let b = users.set_disabled(disabled.id, true, at(30)).await;

    // Assert
    assert!(a.expect("set disabled"));
    assert!(b.expect("set disabled"));
    assert_eq!(find(&storage, enabled.id).await, enabled);
    assert_eq!(find(&storage, disabled.id).await, disabled);
}

pub async fn setting_the_role_or_flag_of_an_unknown_user_returns_false(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");
    let stranger = new_user_id();

    // Act
    let role = storage
        .users()
        .set_role(stranger, Role::Admin, at(30))
        .await;
    let flag = storage.users().set_disabled(stranger, true, at(30)).await;

    // Assert
    assert!(!role.expect("set role"));
    assert!(!flag.expect("set disabled"));
    assert_eq!(find(&storage, user.id).await, user);
}

pub async fn disabling_in_a_transaction_dropped_without_commit_changes_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let user = a_user().build();
    storage.users().insert(&user).await.expect("insert");

    // Act
    {
        let tx = storage.begin().await.expect("begin");
        tx.users()
            .set_disabled(user.id, true, at(30))
            .await
            .expect("set disabled");
        tx.users()
            .set_role(user.id, Role::Admin, at(30))
            .await
            .expect("set role");
    }

    // Assert
    assert_eq!(find(&storage, user.id).await, user);
}

// --- Listing and searching -------------------------------------------------------

/// `n` users with ids in creation order, inserted in shuffled order so a
/// backend that answers in insertion order is caught.
async fn users_in_order(storage: &FreshStorage, names: &[(&str, &str)]) -> Vec<domain::User> {
    let mut users: Vec<domain::User> = names
        .iter()
        .enumerate()
        .map(|(i, (email, name))| {
            let seconds = i64::try_from(i).expect("few users");
            a_user()
                .id(new_user_id_at(at(seconds)))
                .email(email)
                .display_name(name)
                .build()
        })
        .collect();
    for user in users.iter().rev() {
        storage.users().insert(user).await.expect("insert");
    }
    users.sort_by_key(|u| u.id);
    users
}

fn ids(users: &[domain::User]) -> Vec<domain::UserId> {
    users.iter().map(|u| u.id).collect()
}

pub async fn listing_returns_every_user_by_id_with_every_field(storage: FreshStorage) {
    // Arrange
    let users = users_in_order(
        &storage,
        &[
            ("c@example.com", "Cra"),
            ("a@example.com", "Iop"),
            ("b@example.com", "Eni"),
        ],
    )
    .await;

    // Act
    let listed = storage.users().list(None, None, 100).await;

    // Assert
    assert_eq!(listed.expect("list"), users);
}

pub async fn listing_an_empty_store_returns_nothing(storage: FreshStorage) {
    // Act
    let listed = storage.users().list(None, None, 10).await;

    // Assert
    assert!(listed.expect("list").is_empty());
}

pub async fn listing_returns_at_most_limit_users_the_lowest_ids(storage: FreshStorage) {
    // Arrange
    let users = users_in_order(
        &storage,
        &[
            ("a@example.com", "A"),
            ("b@example.com", "B"),
            ("c@example.com", "C"),
        ],
    )
    .await;

    // Act
    let listed = storage.users().list(None, None, 2).await;

    // Assert
    assert_eq!(ids(&listed.expect("list")), ids(&users[..2]));
}

pub async fn listing_after_an_id_returns_only_higher_ids_and_not_that_one(storage: FreshStorage) {
    // Arrange
    let users = users_in_order(
        &storage,
        &[
            ("a@example.com", "A"),
            ("b@example.com", "B"),
            ("c@example.com", "C"),
        ],
    )
    .await;

    // Act
    let listed = storage.users().list(None, Some(users[0].id), 100).await;

    // Assert
    assert_eq!(ids(&listed.expect("list")), ids(&users[1..]));
}

pub async fn paging_users_with_after_returns_each_exactly_once_even_when_others_register(
    storage: FreshStorage,
) {
    // Arrange: five users; a sixth registers (a newer id) after the first page.
    let names: Vec<(String, String)> = (0..5)
        .map(|i| (format!("u{i}@example.com"), format!("User {i}")))
        .collect();
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(e, n)| (e.as_str(), n.as_str()))
        .collect();
    let mut users = users_in_order(&storage, &names).await;

    // Act
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = storage.users().list(None, after, 2).await.expect("list");
        if walked.is_empty() {
            let late = a_user().id(new_user_id_at(at(60))).build();
            storage.users().insert(&late).await.expect("insert late");
            users.push(late);
        }
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        walked.extend(ids(&page));
    }

    // Assert
    assert_eq!(walked, ids(&users));
}

pub async fn searching_users_matches_a_substring_of_the_email_or_name_ignoring_case(
    storage: FreshStorage,
) {
    // Arrange
    let users = users_in_order(
        &storage,
        &[
            ("ana.iop@example.com", "Ana"),
            ("bob@example.com", "Le Grand IOPé"),
            ("cid@example.com", "Cid"),
            ("dee@iop-guild.example", "Dee"),
        ],
    )
    .await;

    // Act
    let iop = storage.users().list(Some("IoP"), None, 100).await;
    let cid = storage.users().list(Some("cI"), None, 100).await;
    let nobody = storage.users().list(Some("sram"), None, 100).await;

    // Assert
    assert_eq!(
        ids(&iop.expect("list")),
        [users[0].id, users[1].id, users[3].id]
    );
    assert_eq!(ids(&cid.expect("list")), [users[2].id]);
    assert!(nobody.expect("list").is_empty());
}

pub async fn searching_users_takes_percent_underscore_and_backslash_literally(
    storage: FreshStorage,
) {
    // Arrange
    let users = users_in_order(
        &storage,
        &[
            ("plain@example.com", "Plain"),
            ("percent@example.com", "100% Iop"),
            ("under_score@example.com", "Under"),
            ("slash@example.com", "Back\\slash"),
        ],
    )
    .await;

    // Act
    let users_repo = storage.users();
    let percent = users_repo.list(Some("%"), None, 100).await;
    let underscore = users_repo.list(Some("_"), None, 100).await;
    let backslash = users_repo.list(Some("\\"), None, 100).await;

    // Assert
    assert_eq!(ids(&percent.expect("list")), [users[1].id]);
    assert_eq!(ids(&underscore.expect("list")), [users[2].id]);
    assert_eq!(ids(&backslash.expect("list")), [users[3].id]);
}

pub async fn paging_a_search_returns_each_match_exactly_once(storage: FreshStorage) {
    // Arrange: every other user matches.
    let names: Vec<(String, String)> = (0..7)
        .map(|i| {
            let name = if i % 2 == 0 { "Match" } else { "Other" };
            (format!("p{i}@example.com"), format!("{name} {i}"))
        })
        .collect();
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(e, n)| (e.as_str(), n.as_str()))
        .collect();
    let users = users_in_order(&storage, &names).await;
    let expected: Vec<domain::UserId> = users
        .iter()
        .filter(|u| u.display_name.as_str().starts_with("Match"))
        .map(|u| u.id)
        .collect();

    // Act
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = storage
            .users()
            .list(Some("match"), after, 2)
            .await
            .expect("list");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        walked.extend(ids(&page));
    }

    // Assert
    assert_eq!(walked, expected);
}

async fn find(storage: &FreshStorage, id: domain::UserId) -> domain::User {
    storage
        .users()
        .find_by_id(id)
        .await
        .expect("find")
        .expect("the user")
}
