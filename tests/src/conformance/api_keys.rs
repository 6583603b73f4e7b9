//! What `ApiKeyRepository` promises, whatever stores the keys.
//!
//! Every key's owner is stored first, so a backend with foreign keys runs
//! the same bodies.

use std::sync::Arc;

use domain::ApiKey;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{
    an_api_key_of, assert_duplicate, at, new_api_key_id, new_api_key_id_at, new_token_hash,
    store_api_keys, stored_api_key, stored_user,
};
use domain::UniqueRule;

/// `key` as `revoke` leaves it.
fn revoked(key: &ApiKey, at: OffsetDateTime) -> ApiKey {
    ApiKey {
        revoked_at: Some(at),
        ..key.clone()
    }
}

/// `key` as a recorded use leaves it.
fn used(key: &ApiKey, at: OffsetDateTime) -> ApiKey {
    ApiKey {
        last_used_at: Some(at),
        ..key.clone()
    }
}

async fn listed(storage: &FreshStorage, owner: domain::UserId) -> Vec<ApiKey> {
    storage.api_keys().list(owner).await.expect("list keys")
}

pub async fn inserting_a_key_then_finding_it_by_hash_returns_every_field(storage: FreshStorage) {
    // Arrange: one key with every optional field set, one with none.
    let owner = stored_user(&storage).await;
    let full = an_api_key_of(owner.id)
        .name("Zoé's backup script ☃")
        .created_at(at(0))
        .last_used_at(at(0) + Duration::microseconds(7))
        .expires_at(at(86_400))
        .revoked_at(at(3_600))
        .build();
    let bare = an_api_key_of(owner.id).build();

    // Act
    store_api_keys(&storage, &[&bare, &full]).await;

    // Assert
    assert_eq!(stored_api_key(&storage, &bare).await, Some(bare));
    assert_eq!(stored_api_key(&storage, &full).await, Some(full));
}

pub async fn finding_a_key_by_an_unknown_hash_returns_none(storage: FreshStorage) {
    // Arrange: a store that holds someone's key.
    let owner = stored_user(&storage).await;
    store_api_keys(&storage, &[&an_api_key_of(owner.id).build()]).await;

    // Act
    let found = storage.api_keys().find_by_hash(&new_token_hash()).await;

    // Assert
    assert_eq!(found.expect("find"), None);
}

pub async fn finding_a_key_by_hash_returns_revoked_and_expired_keys_too(storage: FreshStorage) {
    // Arrange: the application refuses them; it must find them to do so.
    let owner = stored_user(&storage).await;
    let revoked = an_api_key_of(owner.id).revoked_at(at(10)).build();
    let expired = an_api_key_of(owner.id).expires_at(at(60)).build();
    store_api_keys(&storage, &[&revoked, &expired]).await;

    // Act
    let found = [
        stored_api_key(&storage, &revoked).await,
        stored_api_key(&storage, &expired).await,
    ];

    // Assert
    assert_eq!(found, [Some(revoked), Some(expired)]);
}

pub async fn inserting_a_key_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let first = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&first]).await;
    let second = an_api_key_of(owner.id).id(first.id).name("Second").build();

    // Act
    let result = storage.api_keys().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::ApiKeyId);
    assert_eq!(stored_api_key(&storage, &second).await, None);
    assert_eq!(listed(&storage, owner.id).await, vec![first]);
}

pub async fn inserting_a_key_with_a_stored_hash_is_a_duplicate(storage: FreshStorage) {
    // Arrange: even another user's key may not share the hash.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let first = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&first]).await;
    let second = an_api_key_of(someone_else.id)
        .key_hash(first.key_hash)
        .build();

    // Act
    let result = storage.api_keys().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::ApiKeyHash);
    assert_eq!(stored_api_key(&storage, &first).await, Some(first));
    assert_eq!(
        listed(&storage, someone_else.id).await,
        Vec::<ApiKey>::new()
    );
}

pub async fn listing_returns_the_owners_unrevoked_keys_newest_first_expired_ones_included(
    storage: FreshStorage,
) {
    // Arrange: ids run against creation order, so the order can only come
    // from created_at; insertion order is neither.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let old = an_api_key_of(owner.id)
        .id(new_api_key_id_at(at(3_000)))
        .created_at(at(0))
        .build();
    let expired = an_api_key_of(owner.id)
        .id(new_api_key_id_at(at(2_000)))
        .created_at(at(60))
        .expires_at(at(90))
        .build();
    let newest = an_api_key_of(owner.id)
        .id(new_api_key_id_at(at(1_000)))
        .created_at(at(120))
        .last_used_at(at(130))
        .build();
    let revoked = an_api_key_of(owner.id)
        .created_at(at(180))
        .revoked_at(at(200))
        .build();
    let not_theirs = an_api_key_of(someone_else.id).created_at(at(240)).build();
    store_api_keys(&storage, &[&expired, &revoked, &old, &not_theirs, &newest]).await;

    // Act
    let keys = listed(&storage, owner.id).await;

    // Assert
    assert_eq!(keys, vec![newest, expired, old]);
}

pub async fn listing_the_keys_of_a_user_without_any_is_empty(storage: FreshStorage) {
    // Arrange: keys exist, none of them this user's live ones.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let revoked = an_api_key_of(owner.id).revoked_at(at(5)).build();
    let not_theirs = an_api_key_of(someone_else.id).build();
    store_api_keys(&storage, &[&revoked, &not_theirs]).await;

    // Act
    let keys = listed(&storage, owner.id).await;

    // Assert
    assert_eq!(keys, Vec::<ApiKey>::new());
}

pub async fn revoking_a_live_key_succeeds_once_and_keeps_the_first_revocation(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    let other = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key, &other]).await;

    // Act
    let keys = storage.api_keys();
    let first = keys.revoke(owner.id, key.id, at(50)).await;
    let second = keys.revoke(owner.id, key.id, at(60)).await;
    let third = keys.revoke(owner.id, key.id, at(70)).await;

    // Assert: only revoked_at changed, at the first call's instant.
    assert!(first.expect("first revoke"), "a live key is revoked");
    assert!(!second.expect("second revoke"), "a key is revoked once");
    assert!(!third.expect("third revoke"), "a key is revoked once");
    assert_eq!(
        stored_api_key(&storage, &key).await,
        Some(revoked(&key, at(50)))
    );
    assert_eq!(listed(&storage, owner.id).await, vec![other]);
}

pub async fn revoking_another_users_key_returns_false_and_leaves_it_usable(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let intruder = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    let result = storage.api_keys().revoke(intruder.id, key.id, at(50)).await;

    // Assert: still found unrevoked, and still in its owner's list.
    assert!(!result.expect("revoke"), "only the owner revokes a key");
    assert_eq!(stored_api_key(&storage, &key).await, Some(key.clone()));
    assert_eq!(listed(&storage, owner.id).await, vec![key]);
}

pub async fn revoking_an_unknown_key_returns_false(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    let result = storage
        .api_keys()
        .revoke(owner.id, new_api_key_id(), at(50))
        .await;

    // Assert
    assert!(!result.expect("revoke"));
    assert_eq!(listed(&storage, owner.id).await, vec![key]);
}

pub async fn revoking_an_expired_but_unrevoked_key_succeeds(storage: FreshStorage) {
    // Arrange: the contract refuses only revoked, unknown and foreign keys.
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).expires_at(at(10)).build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    let result = storage.api_keys().revoke(owner.id, key.id, at(50)).await;

    // Assert
    assert!(result.expect("revoke"));
    assert_eq!(
        stored_api_key(&storage, &key).await,
        Some(revoked(&key, at(50)))
    );
}

pub async fn concurrent_revokes_of_one_key_have_exactly_one_winner(storage: FreshStorage) {
    // Arrange: N callers, each revoking at an instant of its own.
    const CALLERS: i64 = 16;
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key]).await;
    let (owner, id) = (owner.id, key.id);
    let start = Arc::new(Barrier::new(CALLERS as usize));

    // Act
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (storage, start) = (storage.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let when = at(50 + i);
                let won = storage
                    .api_keys()
                    .revoke(owner, id, when)
                    .await
                    .expect("revoke");
                (won, when)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, when) = task.await.expect("task");
        if won {
            winners.push(when);
        }
    }

    // Assert: one winner, and the stored revocation is its.
    assert_eq!(winners.len(), 1, "exactly one compare-and-set may succeed");
    assert_eq!(
        stored_api_key(&storage, &key).await,
        Some(revoked(&key, winners[0]))
    );
}

pub async fn revoking_all_keys_revokes_every_unrevoked_key_of_the_owner_only(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let live = an_api_key_of(owner.id).build();
    let expired = an_api_key_of(owner.id).expires_at(at(10)).build();
    let already_revoked = an_api_key_of(owner.id).revoked_at(at(5)).build();
    let not_theirs = an_api_key_of(someone_else.id).build();
    store_api_keys(&storage, &[&live, &expired, &already_revoked, &not_theirs]).await;

    // Act
    let count = storage.api_keys().revoke_all(owner.id, at(100)).await;
    let again = storage.api_keys().revoke_all(owner.id, at(200)).await;

    // Assert
    assert_eq!(count.expect("revoke all"), 2);
    assert_eq!(
        again.expect("revoke all again"),
        0,
        "nothing is left to revoke"
    );
    for key in [&live, &expired] {
        assert_eq!(
            stored_api_key(&storage, key).await,
            Some(revoked(key, at(100)))
        );
    }
    for untouched in [already_revoked, not_theirs.clone()] {
        assert_eq!(stored_api_key(&storage, &untouched).await, Some(untouched));
    }
    assert_eq!(listed(&storage, owner.id).await, Vec::<ApiKey>::new());
    assert_eq!(listed(&storage, someone_else.id).await, vec![not_theirs]);
}

pub async fn touching_a_key_never_used_records_the_use(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    storage
        .api_keys()
        .touch(key.id, at(100), Duration::seconds(60))
        .await
        .expect("touch");

    // Assert
    assert_eq!(
        stored_api_key(&storage, &key).await,
        Some(used(&key, at(100)))
    );
}

pub async fn touching_a_key_unused_for_longer_than_the_interval_records_the_use(
    storage: FreshStorage,
) {
    // Arrange: last used one microsecond before the interval began.
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id)
        .last_used_at(at(40) - Duration::microseconds(1))
        .build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    storage
        .api_keys()
        .touch(key.id, at(100), Duration::seconds(60))
        .await
        .expect("touch");

    // Assert
    assert_eq!(
        stored_api_key(&storage, &key).await,
        Some(used(&key, at(100)))
    );
}

pub async fn touching_a_key_used_within_the_interval_changes_nothing(storage: FreshStorage) {
    // Arrange: one used recently, one exactly when the interval began
    // (not older than it).
    let owner = stored_user(&storage).await;
    let recent = an_api_key_of(owner.id).last_used_at(at(90)).build();
    let at_the_edge = an_api_key_of(owner.id).last_used_at(at(40)).build();
    store_api_keys(&storage, &[&recent, &at_the_edge]).await;

    // Act
    for key in [&recent, &at_the_edge] {
        storage
            .api_keys()
            .touch(key.id, at(100), Duration::seconds(60))
            .await
            .expect("touch");
    }

    // Assert
    assert_eq!(stored_api_key(&storage, &recent).await, Some(recent));
    assert_eq!(
        stored_api_key(&storage, &at_the_edge).await,
        Some(at_the_edge)
    );
}

pub async fn touching_an_unknown_key_changes_nothing(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let key = an_api_key_of(owner.id).build();
    store_api_keys(&storage, &[&key]).await;

    // Act
    let result = storage
        .api_keys()
        .touch(new_api_key_id(), at(100), Duration::seconds(60))
        .await;

    // Assert
    result.expect("an unknown id is a no-op, not an error");
    assert_eq!(listed(&storage, owner.id).await, vec![key]);
}

pub async fn dropping_a_transaction_without_commit_undoes_every_key_change(storage: FreshStorage) {
    // Arrange: committed keys, and a unit that writes every way it can.
    let owner = stored_user(&storage).await;
    let to_revoke = an_api_key_of(owner.id).created_at(at(0)).build();
    let to_touch = an_api_key_of(owner.id).created_at(at(10)).build();
    store_api_keys(&storage, &[&to_revoke, &to_touch]).await;
    let inserted = an_api_key_of(owner.id).created_at(at(20)).build();
    let tx = storage.begin().await.expect("begin");
    let keys = tx.api_keys();

    // Act
    keys.insert(&inserted).await.expect("insert");
    let revoked = keys.revoke(owner.id, to_revoke.id, at(50)).await;
    assert!(revoked.expect("revoke"));
    keys.touch(to_touch.id, at(60), Duration::seconds(1))
        .await
        .expect("touch");
    let all = keys.revoke_all(owner.id, at(70)).await;
    assert_eq!(all.expect("revoke all"), 2);
    drop(tx);

    // Assert: everything is as committed, and the new key's hash is free.
    assert_eq!(listed(&storage, owner.id).await, vec![to_touch, to_revoke]);
    assert_eq!(stored_api_key(&storage, &inserted).await, None);
    let same_hash = an_api_key_of(owner.id).key_hash(inserted.key_hash).build();
    storage
        .api_keys()
        .insert(&same_hash)
        .await
        .expect("the hash is free again");
}
