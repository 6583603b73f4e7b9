//! What `SessionRepository` promises, whatever stores the sessions.
//!
//! Every session's owner is stored first, and a `replaced_by` names a stored
//! session, so a backend with foreign keys runs the same bodies.

use std::sync::Arc;

use domain::{RevokeReason, Session, UniqueRule};
use time::Duration;
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{
    a_session_of, assert_duplicate, at, new_family_id, new_session_id, new_session_id_at,
    new_token_hash, random_bytes, store_sessions, stored_session, stored_user,
};

/// `session` as `revoke` leaves it.
fn revoked(
    session: &Session,
    at: time::OffsetDateTime,
    reason: RevokeReason,
    replaced_by: Option<domain::SessionId>,
) -> Session {
    Session {
        revoked_at: Some(at),
        revoke_reason: Some(reason),
        replaced_by,
        ..session.clone()
    }
}

pub async fn inserting_a_session_then_finding_it_returns_every_field(storage: FreshStorage) {
    // Arrange: one session with every optional field set, one with none.
    let owner = stored_user(&storage).await;
    let bare = a_session_of(owner.id).build();
    let full = a_session_of(owner.id)
        .created_at(at(0))
        .last_used_at(at(0) + Duration::microseconds(7))
        .expires_at(at(3_600))
        .revoked(at(1_800), RevokeReason::ReuseDetected, Some(bare.id))
        .sealed(random_bytes(72))
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Zoé/1.0")
        .ip("203.0.113.7")
        .build();

    // Act
    store_sessions(&storage, &[&bare, &full]).await;

    // Assert
    assert_eq!(stored_session(&storage, bare.id).await, Some(bare));
    assert_eq!(stored_session(&storage, full.id).await, Some(full));
}

pub async fn every_revoke_reason_round_trips(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let reasons = [
        RevokeReason::Rotated,
        RevokeReason::Logout,
        RevokeReason::PasswordChanged,
        RevokeReason::ReuseDetected,
        RevokeReason::Admin,
    ];
    let sessions: Vec<Session> = reasons
        .iter()
        .map(|reason| {
            a_session_of(owner.id)
                .revoked(at(10), *reason, None)
                .build()
        })
        .collect();

    // Act
    store_sessions(&storage, &sessions.iter().collect::<Vec<_>>()).await;

    // Assert
    for session in sessions {
        assert_eq!(stored_session(&storage, session.id).await, Some(session));
    }
}

pub async fn finding_a_session_by_token_hash_returns_every_field(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id)
        .sealed(random_bytes(48))
        .user_agent("curl/8.5.0")
        .ip("198.51.100.23")
        .build();
    let other = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session, &other]).await;

    // Act
    let found = storage
        .sessions()
        .find_by_token_hash(&session.refresh_token_hash)
        .await;

    // Assert
    assert_eq!(found.expect("find"), Some(session));
}

pub async fn finding_an_unknown_session_returns_none(storage: FreshStorage) {
    // Arrange: a store that holds someone else's session.
    let owner = stored_user(&storage).await;
    store_sessions(&storage, &[&a_session_of(owner.id).build()]).await;

    // Act
    let by_id = storage.sessions().find(new_session_id()).await;
    let by_hash = storage
        .sessions()
        .find_by_token_hash(&new_token_hash())
        .await;

    // Assert
    assert_eq!(by_id.expect("find"), None);
    assert_eq!(by_hash.expect("find by hash"), None);
}

pub async fn finding_returns_revoked_and_expired_sessions_too(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let revoked = a_session_of(owner.id)
        .revoked(at(10), RevokeReason::Logout, None)
        .build();
    let expired = a_session_of(owner.id).expires_at(at(60)).build();
    store_sessions(&storage, &[&revoked, &expired]).await;

    // Act
    let sessions = storage.sessions();
    let found = [
        sessions.find(revoked.id).await.expect("find"),
        sessions
            .find_by_token_hash(&revoked.refresh_token_hash)
            .await
            .expect("find by hash"),
        sessions.find(expired.id).await.expect("find"),
        sessions
            .find_by_token_hash(&expired.refresh_token_hash)
            .await
            .expect("find by hash"),
    ];

    // Assert
    assert_eq!(
        found,
        [
            Some(revoked.clone()),
            Some(revoked),
            Some(expired.clone()),
            Some(expired)
        ]
    );
}

pub async fn inserting_a_session_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let first = a_session_of(owner.id).build();
    store_sessions(&storage, &[&first]).await;
    let second = a_session_of(owner.id).id(first.id).build();

    // Act
    let result = storage.sessions().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::SessionId);
    let sessions = storage.sessions();
    let by_hash = sessions.find_by_token_hash(&second.refresh_token_hash);
    assert_eq!(by_hash.await.expect("find"), None);
    assert_eq!(stored_session(&storage, first.id).await, Some(first));
}

pub async fn inserting_a_session_with_a_stored_token_hash_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let first = a_session_of(owner.id).build();
    store_sessions(&storage, &[&first]).await;
    let second = a_session_of(owner.id)
        .token_hash(first.refresh_token_hash)
        .build();

    // Act
    let result = storage.sessions().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::SessionTokenHash);
    assert_eq!(stored_session(&storage, second.id).await, None);
    let by_hash = storage
        .sessions()
        .find_by_token_hash(&first.refresh_token_hash)
        .await;
    assert_eq!(by_hash.expect("find"), Some(first));
}

pub async fn listing_active_sessions_returns_only_the_owners_live_ones_newest_first(
    storage: FreshStorage,
) {
    // Arrange: ids run against creation order, so the order can only come
    // from created_at; insertion order is neither.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let now = at(600);
    let old = a_session_of(owner.id)
        .id(new_session_id_at(at(3_000)))
        .created_at(at(0))
        .build();
    let middle = a_session_of(owner.id)
        .id(new_session_id_at(at(2_000)))
        .created_at(at(60))
        .build();
    let newest = a_session_of(owner.id)
        .id(new_session_id_at(at(1_000)))
        .created_at(at(120))
        .build();
    let revoked = a_session_of(owner.id)
        .created_at(at(90))
        .revoked(at(100), RevokeReason::Logout, None)
        .build();
    let expired = a_session_of(owner.id)
        .created_at(at(30))
        .expires_at(at(599))
        .build();
    let expiring_now = a_session_of(owner.id)
        .created_at(at(40))
        .expires_at(now)
        .build();
    let not_theirs = a_session_of(someone_else.id).created_at(at(50)).build();
    store_sessions(
        &storage,
        &[
            &middle,
            &revoked,
            &old,
            &not_theirs,
            &expired,
            &newest,
            &expiring_now,
        ],
    )
    .await;

    // Act
    let active = storage.sessions().list_active(owner.id, now).await;

    // Assert
    assert_eq!(active.expect("list"), vec![newest, middle, old]);
}

pub async fn listing_active_sessions_of_a_user_without_any_is_empty(storage: FreshStorage) {
    // Arrange: sessions exist, none of them this user's.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    store_sessions(&storage, &[&a_session_of(someone_else.id).build()]).await;

    // Act
    let active = storage.sessions().list_active(owner.id, at(1)).await;

    // Assert
    assert_eq!(active.expect("list"), Vec::<Session>::new());
}

pub async fn a_session_is_expired_from_the_instant_its_expiry_is_reached(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).expires_at(at(100)).build();
    store_sessions(&storage, &[&session]).await;
    let just_before = at(100) - Duration::microseconds(1);

    // Act
    let sessions = storage.sessions();
    let before = sessions.list_active(owner.id, just_before).await;
    let at_expiry = sessions.list_active(owner.id, at(100)).await;

    // Assert: expires_at <= now is expired, to the microsecond.
    assert_eq!(before.expect("list"), vec![session]);
    assert_eq!(at_expiry.expect("list"), Vec::<Session>::new());
}

pub async fn revoking_a_live_session_succeeds_and_records_when_why_and_by_what(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    let successor = a_session_of(owner.id).family(session.family_id).build();
    store_sessions(&storage, &[&session, &successor]).await;

    // Act
    let result = storage
        .sessions()
        .revoke(
            owner.id,
            session.id,
            at(50),
            RevokeReason::Rotated,
            Some(successor.id),
        )
        .await;

    // Assert: the revocation fields changed, nothing else.
    assert!(result.expect("revoke"), "a live session is revoked");
    assert_eq!(
        stored_session(&storage, session.id).await,
        Some(revoked(
            &session,
            at(50),
            RevokeReason::Rotated,
            Some(successor.id)
        ))
    );
    assert_eq!(
        stored_session(&storage, successor.id).await,
        Some(successor)
    );
}

pub async fn revoking_an_already_revoked_session_returns_false_and_keeps_the_first_revocation(
    storage: FreshStorage,
) {
    // Arrange: revoked once already, through the port.
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    let successor = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session, &successor]).await;
    let first = storage
        .sessions()
        .revoke(owner.id, session.id, at(50), RevokeReason::Logout, None)
        .await;
    assert!(first.expect("first revoke"));

    // Act
    let second = storage
        .sessions()
        .revoke(
            owner.id,
            session.id,
            at(60),
            RevokeReason::Rotated,
            Some(successor.id),
        )
        .await;

    // Assert
    assert!(!second.expect("second revoke"), "a session is revoked once");
    assert_eq!(
        stored_session(&storage, session.id).await,
        Some(revoked(&session, at(50), RevokeReason::Logout, None))
    );
}

pub async fn revoking_another_users_session_returns_false_and_leaves_it_live(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let intruder = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session]).await;

    // Act
    let result = storage
        .sessions()
        .revoke(intruder.id, session.id, at(50), RevokeReason::Logout, None)
        .await;

    // Assert
    assert!(!result.expect("revoke"), "only the owner revokes a session");
    assert_eq!(stored_session(&storage, session.id).await, Some(session));
}

pub async fn revoking_an_unknown_session_returns_false(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session]).await;

    // Act
    let result = storage
        .sessions()
        .revoke(
            owner.id,
            new_session_id(),
            at(50),
            RevokeReason::Logout,
            None,
        )
        .await;

    // Assert
    assert!(!result.expect("revoke"));
    assert_eq!(stored_session(&storage, session.id).await, Some(session));
}

pub async fn revoking_an_expired_but_unrevoked_session_succeeds(storage: FreshStorage) {
    // Arrange: the contract refuses only revoked, unknown and foreign sessions.
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).expires_at(at(10)).build();
    store_sessions(&storage, &[&session]).await;

    // Act
    let result = storage
        .sessions()
        .revoke(owner.id, session.id, at(50), RevokeReason::Admin, None)
        .await;

    // Assert
    assert!(result.expect("revoke"));
    assert_eq!(
        stored_session(&storage, session.id).await,
        Some(revoked(&session, at(50), RevokeReason::Admin, None))
    );
}

pub async fn concurrent_revokes_of_one_session_have_exactly_one_winner(storage: FreshStorage) {
    // Arrange: N callers, each naming its own successor.
    const CALLERS: usize = 16;
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    let successors: Vec<Session> = (0..CALLERS)
        .map(|_| a_session_of(owner.id).family(session.family_id).build())
        .collect();
    store_sessions(&storage, &[&session]).await;
    store_sessions(&storage, &successors.iter().collect::<Vec<_>>()).await;
    let (owner, old) = (owner.id, session.id);
    let start = Arc::new(Barrier::new(CALLERS));

    // Act
    let tasks: Vec<_> = successors
        .iter()
        .map(|successor| {
            let (storage, start, successor) = (storage.clone(), start.clone(), successor.id);
            tokio::spawn(async move {
                start.wait().await;
                let won = storage
                    .sessions()
                    .revoke(owner, old, at(50), RevokeReason::Rotated, Some(successor))
                    .await
                    .expect("revoke");
                (won, successor)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, successor) = task.await.expect("task");
        if won {
            winners.push(successor);
        }
    }

    // Assert: one winner, and the stored successor is its.
    assert_eq!(winners.len(), 1, "exactly one compare-and-set may succeed");
    assert_eq!(
        stored_session(&storage, session.id).await,
        Some(revoked(
            &session,
            at(50),
            RevokeReason::Rotated,
            Some(winners[0])
        ))
    );
}

pub async fn revoking_a_family_revokes_only_its_unrevoked_sessions_and_counts_them(
    storage: FreshStorage,
) {
    // Arrange: the family holds two live sessions and one rotated earlier;
    // another family of the owner, and another user's sessions (one even in
    // the same family id), must stay as they are.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let family = new_family_id();
    let live_a = a_session_of(owner.id).family(family).build();
    let live_b = a_session_of(owner.id)
        .family(family)
        .created_at(at(10))
        .build();
    let rotated = a_session_of(owner.id)
        .family(family)
        .revoked(at(10), RevokeReason::Rotated, Some(live_b.id))
        .build();
    let other_family = a_session_of(owner.id).build();
    let not_theirs_same_family = a_session_of(someone_else.id).family(family).build();
    let not_theirs = a_session_of(someone_else.id).build();
    store_sessions(
        &storage,
        &[
            &live_a,
            &live_b,
            &rotated,
            &other_family,
            &not_theirs_same_family,
            &not_theirs,
        ],
    )
    .await;

    // Act
    let count = storage
        .sessions()
        .revoke_family(owner.id, family, at(100), RevokeReason::ReuseDetected)
        .await;

    // Assert
    assert_eq!(count.expect("revoke family"), 2);
    for live in [&live_a, &live_b] {
        assert_eq!(
            stored_session(&storage, live.id).await,
            Some(revoked(live, at(100), RevokeReason::ReuseDetected, None))
        );
    }
    for untouched in [rotated, other_family, not_theirs_same_family, not_theirs] {
        assert_eq!(
            stored_session(&storage, untouched.id).await,
            Some(untouched),
            "an earlier revocation, another family and another user stay as they were"
        );
    }
}

pub async fn revoking_a_family_as_another_user_revokes_nothing(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let intruder = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session]).await;

    // Act
    let count = storage
        .sessions()
        .revoke_family(
            intruder.id,
            session.family_id,
            at(100),
            RevokeReason::ReuseDetected,
        )
        .await;

    // Assert
    assert_eq!(count.expect("revoke family"), 0);
    assert_eq!(stored_session(&storage, session.id).await, Some(session));
}

pub async fn revoking_all_sessions_revokes_every_unrevoked_session_of_the_owner_only(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let live_a = a_session_of(owner.id).build();
    let live_b = a_session_of(owner.id).build();
    let logged_out = a_session_of(owner.id)
        .revoked(at(5), RevokeReason::Logout, None)
        .build();
    let not_theirs = a_session_of(someone_else.id).build();
    store_sessions(&storage, &[&live_a, &live_b, &logged_out, &not_theirs]).await;

    // Act
    let count = storage
        .sessions()
        .revoke_all(owner.id, None, at(100), RevokeReason::PasswordChanged)
        .await;

    // Assert
    assert_eq!(count.expect("revoke all"), 2);
    for live in [&live_a, &live_b] {
        assert_eq!(
            stored_session(&storage, live.id).await,
            Some(revoked(live, at(100), RevokeReason::PasswordChanged, None))
        );
    }
    for untouched in [logged_out, not_theirs] {
        assert_eq!(
            stored_session(&storage, untouched.id).await,
            Some(untouched)
        );
    }
}

pub async fn revoking_all_sessions_but_one_keeps_that_one_live(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let current = a_session_of(owner.id).build();
    let other_a = a_session_of(owner.id).build();
    let other_b = a_session_of(owner.id).build();
    let not_theirs = a_session_of(someone_else.id).build();
    store_sessions(&storage, &[&current, &other_a, &other_b, &not_theirs]).await;

    // Act
    let count = storage
        .sessions()
        .revoke_all(
            owner.id,
            Some(current.id),
            at(100),
            RevokeReason::PasswordChanged,
        )
        .await;

    // Assert
    assert_eq!(count.expect("revoke all"), 2);
    for other in [&other_a, &other_b] {
        assert_eq!(
            stored_session(&storage, other.id).await,
            Some(revoked(other, at(100), RevokeReason::PasswordChanged, None))
        );
    }
    for untouched in [current, not_theirs] {
        assert_eq!(
            stored_session(&storage, untouched.id).await,
            Some(untouched)
        );
    }
}

pub async fn touching_a_session_unused_for_longer_than_the_interval_records_the_use(
    storage: FreshStorage,
) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).last_used_at(at(0)).build();
    store_sessions(&storage, &[&session]).await;

    // Act
    storage
        .sessions()
        .touch(session.id, at(100), Duration::seconds(60))
        .await
        .expect("touch");

    // Assert
    let expected = Session {
        last_used_at: at(100),
        ..session.clone()
    };
    assert_eq!(stored_session(&storage, session.id).await, Some(expected));
}

pub async fn touching_a_session_used_within_the_interval_changes_nothing(storage: FreshStorage) {
    // Arrange: one used inside the interval, one exactly at its edge, which
    // is not "older than" it.
    let owner = stored_user(&storage).await;
    let recent = a_session_of(owner.id).last_used_at(at(50)).build();
    let at_the_edge = a_session_of(owner.id).last_used_at(at(40)).build();
    store_sessions(&storage, &[&recent, &at_the_edge]).await;

    // Act
    for id in [recent.id, at_the_edge.id] {
        storage
            .sessions()
            .touch(id, at(100), Duration::seconds(60))
            .await
            .expect("touch");
    }

    // Assert
    assert_eq!(stored_session(&storage, recent.id).await, Some(recent));
    assert_eq!(
        stored_session(&storage, at_the_edge.id).await,
        Some(at_the_edge)
    );
}

pub async fn touching_an_unknown_session_changes_nothing(storage: FreshStorage) {
    // Arrange
    let owner = stored_user(&storage).await;
    let session = a_session_of(owner.id).build();
    store_sessions(&storage, &[&session]).await;
    let unknown = new_session_id();

    // Act
    let result = storage
        .sessions()
        .touch(unknown, at(100), Duration::seconds(60))
        .await;

    // Assert
    result.expect("an unknown id is a no-op, not an error");
    assert_eq!(stored_session(&storage, unknown).await, None);
    assert_eq!(stored_session(&storage, session.id).await, Some(session));
}

pub async fn purging_sealed_tokens_erases_only_those_of_sessions_created_before_the_cutoff(
    storage: FreshStorage,
) {
    // Arrange: the purge is not per owner, and does not care whether a
    // session is still live.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let cutoff = at(100);
    let old_sealed = a_session_of(owner.id)
        .created_at(at(0))
        .sealed(random_bytes(48))
        .build();
    let old_revoked_sealed = a_session_of(owner.id)
        .created_at(at(10))
        .sealed(random_bytes(48))
        .revoked(at(20), RevokeReason::Logout, None)
        .build();
    let old_theirs_sealed = a_session_of(someone_else.id)
        .created_at(at(50))
        .sealed(random_bytes(48))
        .build();
    let old_unsealed = a_session_of(owner.id).created_at(at(0)).build();
    let at_cutoff_sealed = a_session_of(owner.id)
        .created_at(cutoff)
        .sealed(random_bytes(48))
        .build();
    let new_sealed = a_session_of(owner.id)
        .created_at(at(200))
        .sealed(random_bytes(48))
        .build();
    store_sessions(
        &storage,
        &[
            &old_sealed,
            &old_revoked_sealed,
            &old_theirs_sealed,
            &old_unsealed,
            &at_cutoff_sealed,
            &new_sealed,
        ],
    )
    .await;

    // Act
    let count = storage.sessions().purge_sealed_tokens(cutoff).await;
    let again = storage.sessions().purge_sealed_tokens(cutoff).await;

    // Assert
    assert_eq!(count.expect("purge"), 3);
    assert_eq!(again.expect("purge again"), 0, "nothing is left to erase");
    for purged in [old_sealed, old_revoked_sealed, old_theirs_sealed] {
        let expected = Session {
            sealed_refresh_token: None,
            ..purged.clone()
        };
        assert_eq!(stored_session(&storage, purged.id).await, Some(expected));
    }
    for untouched in [old_unsealed, at_cutoff_sealed, new_sealed] {
        assert_eq!(
            stored_session(&storage, untouched.id).await,
            Some(untouched)
        );
    }
}

pub async fn deleting_expired_sessions_removes_only_those_expired_before_the_cutoff(
    storage: FreshStorage,
) {
    // Arrange: expiry is what counts, whoever owns the session and whatever
    // its state.
    let owner = stored_user(&storage).await;
    let someone_else = stored_user(&storage).await;
    let expired = a_session_of(owner.id).expires_at(at(50)).build();
    let expired_revoked = a_session_of(owner.id)
        .expires_at(at(60))
        .revoked(at(10), RevokeReason::Logout, None)
        .build();
    let expired_theirs = a_session_of(someone_else.id).expires_at(at(99)).build();
    let at_cutoff = a_session_of(owner.id).expires_at(at(100)).build();
    let live = a_session_of(owner.id).expires_at(at(500)).build();
    store_sessions(
        &storage,
        &[
            &expired,
            &expired_revoked,
            &expired_theirs,
            &at_cutoff,
            &live,
        ],
    )
    .await;

    // Act
    let deleted = storage.sessions().delete_expired(at(100)).await.unwrap();

    // Assert: gone by id and by token hash; the others untouched.
    assert_eq!(deleted, 3);
    for gone in [&expired, &expired_revoked, &expired_theirs] {
        assert_eq!(storage.sessions().find(gone.id).await.unwrap(), None);
        assert_eq!(
            storage
                .sessions()
                .find_by_token_hash(&gone.refresh_token_hash)
                .await
                .unwrap(),
            None
        );
    }
    for kept in [&at_cutoff, &live] {
        assert_eq!(
            storage.sessions().find(kept.id).await.unwrap().as_ref(),
            Some(kept)
        );
    }
    assert_eq!(storage.sessions().delete_expired(at(100)).await.unwrap(), 0);
}
