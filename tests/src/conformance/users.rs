//! What `UserRepository` promises, whatever stores the users.

use std::sync::Arc;

use domain::Role;
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{a_user, assert_duplicate, at, new_password_hash, new_user_id};

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
    assert_duplicate(result, "users_email");
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
    assert_duplicate(result, "users_pkey");
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
