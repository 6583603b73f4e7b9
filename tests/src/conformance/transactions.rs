//! The atomic-unit rule: what `Storage::begin` and `Transaction` promise.
//!
//! A unit's changes land together at commit or not at all. The key proof is
//! a unit whose second write fails: nothing of the first may remain.
//!
//! No behaviour here reads outside a transaction while it is open: a backend
//! may make such a read wait for the commit (the memory store does), so the
//! test would wait on itself. Isolation is pinned instead by what is, and is
//! not, there once the unit ends.

use std::sync::Arc;

use domain::{RevokeReason, Session, UniqueRule, User};
use time::Duration;
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{
    a_session_of, a_user, assert_duplicate, at, new_password_hash, random_bytes, store_sessions,
    stored_session, stored_user,
};

/// Asserts that neither `user` nor `session` can be found in any way.
async fn assert_absent(storage: &FreshStorage, user: &User, session: &Session) {
    let (users, sessions) = (storage.users(), storage.sessions());
    assert_eq!(users.find_by_id(user.id).await.expect("find"), None);
    assert_eq!(users.find_by_email(&user.email).await.expect("find"), None);
    assert_eq!(sessions.find(session.id).await.expect("find"), None);
    let by_hash = sessions.find_by_token_hash(&session.refresh_token_hash);
    assert_eq!(by_hash.await.expect("find"), None);
    let active = sessions.list_active(user.id, at(1)).await.expect("list");
    assert_eq!(active, Vec::<Session>::new());
}

pub async fn ping_answers_ok(storage: FreshStorage) {
    // Act
    let result = storage.ping().await;

    // Assert
    result.expect("a reachable backend answers the ping");
}

pub async fn changes_committed_in_a_transaction_are_visible_afterwards(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    let session = a_session_of(user.id).build();

    // Act
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("insert user");
    tx.sessions()
        .insert(&session)
        .await
        .expect("insert session");
    tx.commit().await.expect("commit");

    // Assert
    let (users, sessions) = (storage.users(), storage.sessions());
    let by_email = users.find_by_email(&user.email).await.expect("find");
    assert_eq!(by_email, Some(user.clone()));
    let by_hash = sessions.find_by_token_hash(&session.refresh_token_hash);
    assert_eq!(by_hash.await.expect("find"), Some(session.clone()));
    let active = sessions.list_active(user.id, at(1)).await.expect("list");
    assert_eq!(active, vec![session]);
}

pub async fn a_transaction_reads_its_own_writes(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    let session = a_session_of(user.id).build();
    let tx = storage.begin().await.expect("begin");

    // Act
    tx.users().insert(&user).await.expect("insert user");
    tx.sessions()
        .insert(&session)
        .await
        .expect("insert session");
    let revoked = tx
        .sessions()
        .revoke(user.id, session.id, at(5), RevokeReason::Logout, None)
        .await
        .expect("revoke");

    // Assert
    assert!(revoked);
    let by_email = tx.users().find_by_email(&user.email).await.expect("find");
    assert_eq!(by_email, Some(user));
    let found = tx
        .sessions()
        .find_by_token_hash(&session.refresh_token_hash);
    let expected = Session {
        revoked_at: Some(at(5)),
        revoke_reason: Some(RevokeReason::Logout),
        ..session
    };
    assert_eq!(found.await.expect("find"), Some(expected));
}

pub async fn dropping_a_transaction_without_commit_discards_every_insert(storage: FreshStorage) {
    // Arrange
    let user = a_user().build();
    let session = a_session_of(user.id).build();
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("insert user");
    tx.sessions()
        .insert(&session)
        .await
        .expect("insert session");

    // Act
    drop(tx);

    // Assert
    assert_absent(&storage, &user, &session).await;
}

pub async fn dropping_a_transaction_without_commit_undoes_every_update(storage: FreshStorage) {
    // Arrange: a user and sessions of two families, one carrying a sealed
    // token, all committed.
    let user = stored_user(&storage).await;
    let family_member = a_session_of(user.id)
        .last_used_at(at(0))
        .sealed(random_bytes(48))
        .build();
    let same_family = a_session_of(user.id)
        .family(family_member.family_id)
        .build();
    let other_family = a_session_of(user.id).build();
    store_sessions(&storage, &[&family_member, &same_family, &other_family]).await;
    let successor = a_session_of(user.id)
        .family(family_member.family_id)
        .created_at(at(100))
        .build();
    let tx = storage.begin().await.expect("begin");
    let (users, sessions) = (tx.users(), tx.sessions());

    // Act: every kind of write, then no commit.
    let new_hash = new_password_hash();
    let replaced = users
        .replace_password_hash(user.id, &user.password_hash, &new_hash, at(100))
        .await
        .expect("replace password hash");
    assert!(replaced);
    users
        .record_login(user.id, at(100))
        .await
        .expect("record login");
    sessions
        .touch(family_member.id, at(100), Duration::seconds(1))
        .await
        .expect("touch");
    let purged = sessions.purge_sealed_tokens(at(1_000)).await;
    assert_eq!(purged.expect("purge"), 1);
    let rotated = sessions
        .revoke(
            user.id,
            family_member.id,
            at(100),
            RevokeReason::Rotated,
            Some(successor.id),
        )
        .await
        .expect("revoke");
    assert!(rotated);
    sessions.insert(&successor).await.expect("insert successor");
    let in_family = sessions
        .revoke_family(
            user.id,
            family_member.family_id,
            at(100),
            RevokeReason::ReuseDetected,
        )
        .await;
    assert_eq!(in_family.expect("revoke family"), 2);
    let everything_else = sessions
        .revoke_all(user.id, None, at(100), RevokeReason::PasswordChanged)
        .await;
    assert_eq!(everything_else.expect("revoke all"), 1);
    drop(tx);

    // Assert: everything is as it was committed.
    let stored_user = storage.users().find_by_id(user.id).await.expect("find");
    assert_eq!(stored_user, Some(user));
    for session in [family_member, same_family, other_family] {
        assert_eq!(stored_session(&storage, session.id).await, Some(session));
    }
    assert_eq!(stored_session(&storage, successor.id).await, None);
}

pub async fn a_rolled_back_insert_leaves_its_email_and_token_hash_free(storage: FreshStorage) {
    // Arrange: a unit that stored a user and a session, then was dropped.
    let user = a_user().build();
    let session = a_session_of(user.id).build();
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("insert user");
    tx.sessions()
        .insert(&session)
        .await
        .expect("insert session");
    drop(tx);
    let same_email = a_user().email(user.email.as_str()).build();
    let same_hash = a_session_of(same_email.id)
        .token_hash(session.refresh_token_hash)
        .build();

    // Act
    let user_insert = storage.users().insert(&same_email).await;
    let session_insert = storage.sessions().insert(&same_hash).await;

    // Assert
    user_insert.expect("the e-mail is free again");
    session_insert.expect("the token hash is free again");
    let by_email = storage.users().find_by_email(&user.email).await;
    assert_eq!(by_email.expect("find"), Some(same_email));
}

pub async fn when_the_second_insert_fails_the_first_user_is_not_stored_either(
    storage: FreshStorage,
) {
    // Arrange
    let first = a_user().build();
    let second = a_user().email(first.email.as_str()).build();
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&first).await.expect("first write");

    // Act: the second write fails, and the unit is abandoned as a use case
    // abandons it, by returning the error without committing.
    let second_write = tx.users().insert(&second).await;
    drop(tx);

    // Assert
    assert_duplicate(second_write, UniqueRule::UserEmail);
    let users = storage.users();
    assert_eq!(users.find_by_id(first.id).await.expect("find"), None);
    assert_eq!(users.find_by_email(&first.email).await.expect("find"), None);
}

pub async fn when_an_insert_fails_after_a_revoke_the_revoke_is_undone(storage: FreshStorage) {
    // Arrange: a rotation whose successor collides on its token hash.
    let user = stored_user(&storage).await;
    let session = a_session_of(user.id).build();
    store_sessions(&storage, &[&session]).await;
    let successor = a_session_of(user.id)
        .family(session.family_id)
        .token_hash(session.refresh_token_hash)
        .build();
    let tx = storage.begin().await.expect("begin");
    let revoked = tx
        .sessions()
        .revoke(
            user.id,
            session.id,
            at(50),
            RevokeReason::Rotated,
            Some(successor.id),
        )
        .await
        .expect("first write");
    assert!(revoked);

    // Act
    let second_write = tx.sessions().insert(&successor).await;
    drop(tx);

    // Assert: the session is live again, exactly as before.
    assert_duplicate(second_write, UniqueRule::SessionTokenHash);
    assert_eq!(stored_session(&storage, session.id).await, Some(session));
    assert_eq!(stored_session(&storage, successor.id).await, None);
}

pub async fn a_revoke_and_its_successor_committed_together_are_both_visible(storage: FreshStorage) {
    // Arrange
    let user = stored_user(&storage).await;
    let session = a_session_of(user.id).build();
    store_sessions(&storage, &[&session]).await;
    let successor = a_session_of(user.id)
        .family(session.family_id)
        .created_at(at(50))
        .build();

    // Act: the order the refresh use case writes in.
    let tx = storage.begin().await.expect("begin");
    let revoked = tx
        .sessions()
        .revoke(
            user.id,
            session.id,
            at(50),
            RevokeReason::Rotated,
            Some(successor.id),
        )
        .await
        .expect("revoke");
    tx.sessions()
        .insert(&successor)
        .await
        .expect("insert successor");
    tx.commit().await.expect("commit");

    // Assert
    assert!(revoked);
    let expected = Session {
        revoked_at: Some(at(50)),
        revoke_reason: Some(RevokeReason::Rotated),
        replaced_by: Some(successor.id),
        ..session.clone()
    };
    assert_eq!(stored_session(&storage, session.id).await, Some(expected));
    let active = storage.sessions().list_active(user.id, at(60)).await;
    assert_eq!(active.expect("list"), vec![successor]);
}

pub async fn of_concurrent_rotations_of_one_session_exactly_one_commits_a_successor(
    storage: FreshStorage,
) {
    // Arrange: N refreshes of the same token race, each in its own unit:
    // revoke the old session (compare-and-set), then insert its successor.
    const RACERS: usize = 8;
    let user = stored_user(&storage).await;
    let session = a_session_of(user.id).build();
    store_sessions(&storage, &[&session]).await;
    let (owner, old) = (user.id, session.id);
    let start = Arc::new(Barrier::new(RACERS));

    // Act
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (storage, start) = (storage.clone(), start.clone());
            let successor = a_session_of(user.id)
                .family(session.family_id)
                .created_at(at(50))
                .build();
            tokio::spawn(async move {
                start.wait().await;
                let tx = storage.begin().await.expect("begin");
                let won = tx
                    .sessions()
                    .revoke(
                        owner,
                        old,
                        at(50),
                        RevokeReason::Rotated,
                        Some(successor.id),
                    )
                    .await
                    .expect("revoke");
                if won {
                    tx.sessions()
                        .insert(&successor)
                        .await
                        .expect("insert successor");
                    tx.commit().await.expect("commit");
                }
                (won, successor)
            })
        })
        .collect();
    let (mut winners, mut losers) = (Vec::new(), Vec::new());
    for task in tasks {
        let (won, successor) = task.await.expect("task");
        if won {
            winners.push(successor);
        } else {
            losers.push(successor);
        }
    }

    // Assert: one successor, the one the old session names; no other.
    assert_eq!(winners.len(), 1, "exactly one rotation may commit");
    let winner = winners.remove(0);
    let old = stored_session(&storage, session.id).await.expect("the old");
    assert_eq!(old.replaced_by, Some(winner.id));
    for loser in losers {
        assert_eq!(stored_session(&storage, loser.id).await, None);
    }
    let active = storage.sessions().list_active(user.id, at(60)).await;
    assert_eq!(active.expect("list"), vec![winner]);
}
