//! What `AuditRepository` promises, whatever keeps the trail.
//!
//! Order is by id: the fixtures give each entry an id whose time part is
//! chosen, and, where order matters, an `at` that runs the other way and an
//! insertion order that is neither, so only the id can explain the result.
//!
//! Actors are stored users, as they are in the application, although the
//! trail has no foreign key to them.

use domain::{AuditEntry, AuditFilter, AuditId, AuditValue, UniqueRule, User};

use super::FreshStorage;
use super::fixtures::{
    a_user, an_audit_entry, append_entries, assert_duplicate, at, new_audit_id_at, stored_user,
};

/// Every entry, newest first, outside any transaction.
async fn whole_trail(storage: &FreshStorage) -> Vec<AuditEntry> {
    listed(storage, &AuditFilter::default(), None, 1_000).await
}

async fn listed(
    storage: &FreshStorage,
    filter: &AuditFilter,
    before: Option<AuditId>,
    limit: usize,
) -> Vec<AuditEntry> {
    storage
        .audit()
        .list(filter, before, limit)
        .await
        .expect("list the trail")
}

/// The ids of `entries`, to compare orders readably.
fn ids(entries: &[AuditEntry]) -> Vec<AuditId> {
    entries.iter().map(|e| e.id).collect()
}

/// `n` entries (n ≤ 9) with ids at seconds 1 to n and `at`s the other way
/// round, oldest first.
fn entries_in_id_order(n: i64) -> Vec<AuditEntry> {
    (1..=n)
        .map(|i| {
            an_audit_entry()
                .id_at(at(i))
                .at(at(10 - i))
                .resource("user", &format!("user-{i}"))
                .build()
        })
        .collect()
}

pub async fn appending_an_entry_then_listing_it_returns_every_field(storage: FreshStorage) {
    // Arrange: one entry with every optional field set and every kind of
    // value (texts that look like other kinds among them), one with none.
    let actor = stored_user(&storage).await;
    let full = an_audit_entry()
        .id_at(at(2))
        .actor(actor.id)
        .action("user.role_changed")
        .resource("user", &actor.id.to_string())
        .change("role", "user", "admin")
        .change("disabled", false, true)
        .change("last_login_at", AuditValue::Null, "2030-01-15T10:00:00Z")
        .change("logins", i64::MIN, i64::MAX)
        .change("note", Option::<&str>::None, "Zoé l'Iop ☃")
        .change("text_not_number", "42", "true")
        .change("text_not_null", "null", "")
        .ip("2001:db8::7")
        .request_id("req-01J9Z3")
        .at(at(2) + time::Duration::microseconds(7))
        .build();
    let bare = an_audit_entry().id_at(at(1)).build();

    // Act
    append_entries(&storage, &[&bare, &full]).await;

    // Assert: the changes keep their order, their kinds and their values.
    assert_eq!(whole_trail(&storage).await, vec![full, bare]);
}

pub async fn appending_an_entry_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange
    let first = an_audit_entry().ip("203.0.113.7").build();
    append_entries(&storage, &[&first]).await;
    let second = an_audit_entry()
        .id(first.id)
        .action("auth.login")
        .resource("session", "another")
        .build();

    // Act
    let result = storage.audit().append(&second).await;

    // Assert: refused, and the first entry is the only one, unchanged.
    assert_duplicate(result, UniqueRule::AuditEntryId);
    assert_eq!(whole_trail(&storage).await, vec![first]);
}

pub async fn listing_an_empty_trail_returns_nothing(storage: FreshStorage) {
    // Arrange: a store with a user but no entry.
    let user = stored_user(&storage).await;
    let by_actor = AuditFilter {
        actor_id: Some(user.id),
        ..AuditFilter::default()
    };

    // Act
    let everything = listed(&storage, &AuditFilter::default(), None, 50).await;
    let filtered = listed(&storage, &by_actor, None, 50).await;
    let before = listed(
        &storage,
        &AuditFilter::default(),
        Some(new_audit_id_at(at(9))),
        50,
    )
    .await;

    // Assert
    assert_eq!(everything, Vec::<AuditEntry>::new());
    assert_eq!(filtered, Vec::<AuditEntry>::new());
    assert_eq!(before, Vec::<AuditEntry>::new());
}

pub async fn listing_returns_the_newest_entry_first_by_id(storage: FreshStorage) {
    // Arrange: ids run one way, `at` the other, insertion order neither.
    let entries = entries_in_id_order(4);
    let [e1, e2, e3, e4] = [&entries[0], &entries[1], &entries[2], &entries[3]];
    append_entries(&storage, &[e3, e1, e4, e2]).await;

    // Act
    let trail = listed(&storage, &AuditFilter::default(), None, 10).await;

    // Assert
    assert_eq!(trail, vec![e4.clone(), e3.clone(), e2.clone(), e1.clone()]);
}

pub async fn listing_before_an_id_returns_only_older_entries_and_not_that_one(
    storage: FreshStorage,
) {
    // Arrange
    let entries = entries_in_id_order(4);
    append_entries(&storage, &entries.iter().collect::<Vec<_>>()).await;
    let (e1, e2, e3) = (&entries[0], &entries[1], &entries[2]);
    // An id that is no entry's, between e2's and e3's.
    let between = new_audit_id_at(at(2) + time::Duration::milliseconds(500));

    // Act
    let before_e3 = listed(&storage, &AuditFilter::default(), Some(e3.id), 10).await;
    let before_gap = listed(&storage, &AuditFilter::default(), Some(between), 10).await;
    let before_first = listed(&storage, &AuditFilter::default(), Some(e1.id), 10).await;

    // Assert
    assert_eq!(
        before_e3,
        vec![e2.clone(), e1.clone()],
        "`before` is exclusive"
    );
    assert_eq!(before_gap, vec![e2.clone(), e1.clone()]);
    assert_eq!(before_first, Vec::<AuditEntry>::new());
}

pub async fn paging_with_before_returns_every_entry_exactly_once(storage: FreshStorage) {
    // Arrange
    let entries = entries_in_id_order(5);
    append_entries(&storage, &entries.iter().collect::<Vec<_>>()).await;
    let newest_first: Vec<AuditEntry> = entries.iter().rev().cloned().collect();

    // Act: page by 2, each page starting below the last id of the one before.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = listed(&storage, &AuditFilter::default(), before, 2).await;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        pages.push(page);
        assert!(pages.len() <= 5, "paging must end");
    }

    // Assert
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pages.concat(), newest_first);
}

pub async fn entries_appended_after_a_page_was_read_do_not_shift_the_later_pages(
    storage: FreshStorage,
) {
    // Arrange: the first page of five entries has been read.
    let entries = entries_in_id_order(5);
    append_entries(&storage, &entries.iter().collect::<Vec<_>>()).await;
    let first_page = listed(&storage, &AuditFilter::default(), None, 2).await;
    assert_eq!(ids(&first_page), [entries[4].id, entries[3].id]);

    // Act: new entries arrive, then the reader goes on from where it was.
    let newer: Vec<AuditEntry> = (0..3)
        .map(|i| an_audit_entry().id_at(at(100 + i)).build())
        .collect();
    append_entries(&storage, &newer.iter().collect::<Vec<_>>()).await;
    let second_page = listed(&storage, &AuditFilter::default(), Some(entries[3].id), 2).await;
    let third_page = listed(&storage, &AuditFilter::default(), Some(entries[1].id), 2).await;

    // Assert: the later pages are what they would have been; a fresh first
    // page starts with the new entries.
    assert_eq!(second_page, vec![entries[2].clone(), entries[1].clone()]);
    assert_eq!(third_page, vec![entries[0].clone()]);
    let fresh_first = listed(&storage, &AuditFilter::default(), None, 2).await;
    assert_eq!(ids(&fresh_first), [newer[2].id, newer[1].id]);
}

pub async fn listing_returns_at_most_limit_entries_the_newest(storage: FreshStorage) {
    // Arrange
    let entries = entries_in_id_order(3);
    append_entries(&storage, &entries.iter().collect::<Vec<_>>()).await;

    // Act
    let one = listed(&storage, &AuditFilter::default(), None, 1).await;
    let two_before_newest = listed(&storage, &AuditFilter::default(), Some(entries[2].id), 1).await;
    let more_than_there_are = listed(&storage, &AuditFilter::default(), None, 10).await;
    let none = listed(&storage, &AuditFilter::default(), None, 0).await;

    // Assert
    assert_eq!(one, vec![entries[2].clone()]);
    assert_eq!(two_before_newest, vec![entries[1].clone()]);
    assert_eq!(more_than_there_are.len(), 3);
    assert_eq!(none, Vec::<AuditEntry>::new());
}

/// A small trail: two users acting on each other, on sessions and on API
/// keys, and the system acting on its own. One id (`shared`) names a user
/// and a session both, so a filter on the id alone matches across kinds.
struct Trail {
    alice: User,
    bob: User,
    /// Oldest first.
    entries: Vec<AuditEntry>,
}

impl Trail {
    const SHARED_ID: &'static str = "0195f0c2-7d4e-7000-8000-000000000001";

    async fn stored(storage: &FreshStorage) -> Self {
        let alice = stored_user(storage).await;
        let bob = stored_user(storage).await;
        let (a, b) = (alice.id, bob.id);
        let alice_res = alice.id.to_string();
        let bob_res = bob.id.to_string();
        let entries = vec![
            an_audit_entry()
                .id_at(at(1))
                .actor(a)
                .action("auth.login")
                .resource("session", "s-1")
                .build(),
            an_audit_entry()
                .id_at(at(2))
                .actor(a)
                .action("user.updated")
                .resource("user", &alice_res)
                .build(),
            an_audit_entry()
                .id_at(at(3))
                .actor(b)
                .action("user.updated")
                .resource("user", &alice_res)
                .build(),
            an_audit_entry()
                .id_at(at(4))
                .actor(b)
                .action("auth.login")
                .resource("session", Self::SHARED_ID)
                .build(),
            an_audit_entry()
                .id_at(at(5))
                .action("user.disabled")
                .resource("user", Self::SHARED_ID)
                .build(),
            an_audit_entry()
                .id_at(at(6))
                .actor(a)
                .action("api_key.created")
                .resource("api_key", "k-1")
                .build(),
            an_audit_entry()
                .id_at(at(7))
                .actor(a)
                .action("user.updated")
                .resource("user", &bob_res)
                .build(),
        ];
        append_entries(storage, &entries.iter().collect::<Vec<_>>()).await;
        Self {
            alice,
            bob,
            entries,
        }
    }

    /// The entries at these seconds (1-based, as built), newest first.
    fn newest_first(&self, seconds: &[usize]) -> Vec<AuditEntry> {
        let mut picked: Vec<AuditEntry> = seconds
            .iter()
            .map(|s| self.entries[s - 1].clone())
            .collect();
        picked.sort_by_key(|e| std::cmp::Reverse(e.id));
        picked
    }
}

pub async fn listing_filtered_by_actor_returns_only_that_actors_entries(storage: FreshStorage) {
    // Arrange
    let trail = Trail::stored(&storage).await;
    let stranger = a_user().build();
    let filter = |actor: &User| AuditFilter {
        actor_id: Some(actor.id),
        ..AuditFilter::default()
    };

    // Act
    let alices = listed(&storage, &filter(&trail.alice), None, 50).await;
    let bobs = listed(&storage, &filter(&trail.bob), None, 50).await;
    let strangers = listed(&storage, &filter(&stranger), None, 50).await;

    // Assert: the system's entry (no actor) matches no actor filter.
    assert_eq!(alices, trail.newest_first(&[1, 2, 6, 7]));
    assert_eq!(bobs, trail.newest_first(&[3, 4]));
    assert_eq!(strangers, Vec::<AuditEntry>::new());
}

pub async fn listing_filtered_by_resource_type_returns_only_that_kind(storage: FreshStorage) {
    // Arrange
    let trail = Trail::stored(&storage).await;
    let filter = |kind: &str| AuditFilter {
        resource_type: Some(kind.into()),
        ..AuditFilter::default()
    };

    // Act
    let users = listed(&storage, &filter("user"), None, 50).await;
    let sessions = listed(&storage, &filter("session"), None, 50).await;
    let unknown = listed(&storage, &filter("character"), None, 50).await;
    let other_case = listed(&storage, &filter("USER"), None, 50).await;

    // Assert
    assert_eq!(users, trail.newest_first(&[2, 3, 5, 7]));
    assert_eq!(sessions, trail.newest_first(&[1, 4]));
    assert_eq!(unknown, Vec::<AuditEntry>::new());
    assert_eq!(other_case, Vec::<AuditEntry>::new(), "an exact match");
}

pub async fn listing_filtered_by_resource_id_returns_that_id_whatever_its_kind(
    storage: FreshStorage,
) {
    // Arrange
    let trail = Trail::stored(&storage).await;
    let filter = |id: &str| AuditFilter {
        resource_id: Some(id.to_owned()),
        ..AuditFilter::default()
    };

    // Act
    let about_alice = listed(&storage, &filter(&trail.alice.id.to_string()), None, 50).await;
    let shared = listed(&storage, &filter(Trail::SHARED_ID), None, 50).await;
    let prefix_only = listed(&storage, &filter("s-"), None, 50).await;

    // Assert
    assert_eq!(about_alice, trail.newest_first(&[2, 3]));
    assert_eq!(shared, trail.newest_first(&[4, 5]));
    assert_eq!(prefix_only, Vec::<AuditEntry>::new(), "an exact match");
}

pub async fn listing_with_several_filters_returns_entries_matching_all_of_them(
    storage: FreshStorage,
) {
    // Arrange
    let trail = Trail::stored(&storage).await;
    let alice_res = trail.alice.id.to_string();
    let alice_on_users = AuditFilter {
        actor_id: Some(trail.alice.id),
        resource_type: Some("user".into()),
        resource_id: None,
    };
    let bob_on_alice = AuditFilter {
        actor_id: Some(trail.bob.id),
        resource_type: Some("user".into()),
        resource_id: Some(alice_res.clone()),
    };
    let shared_as_session = AuditFilter {
        actor_id: None,
        resource_type: Some("session".into()),
        resource_id: Some(Trail::SHARED_ID.to_owned()),
    };
    let alice_on_bobs_session = AuditFilter {
        actor_id: Some(trail.alice.id),
        resource_type: Some("session".into()),
        resource_id: Some(Trail::SHARED_ID.to_owned()),
    };

    // Act
    let alice_on_users = listed(&storage, &alice_on_users, None, 50).await;
    let bob_on_alice = listed(&storage, &bob_on_alice, None, 50).await;
    let shared_as_session = listed(&storage, &shared_as_session, None, 50).await;
    let alice_on_bobs_session = listed(&storage, &alice_on_bobs_session, None, 50).await;

    // Assert
    assert_eq!(alice_on_users, trail.newest_first(&[2, 7]));
    assert_eq!(bob_on_alice, trail.newest_first(&[3]));
    assert_eq!(shared_as_session, trail.newest_first(&[4]));
    assert_eq!(alice_on_bobs_session, Vec::<AuditEntry>::new());
}

pub async fn paging_a_filtered_listing_returns_each_match_exactly_once(storage: FreshStorage) {
    // Arrange: Alice's entries are 1, 2, 6 and 7, interleaved with others.
    let trail = Trail::stored(&storage).await;
    let alices = AuditFilter {
        actor_id: Some(trail.alice.id),
        ..AuditFilter::default()
    };

    // Act: `before` names an entry of Alice's, then one of Bob's.
    let first = listed(&storage, &alices, None, 2).await;
    let second = listed(&storage, &alices, first.last().map(|e| e.id), 2).await;
    let below_bobs = listed(&storage, &alices, Some(trail.entries[2].id), 10).await;

    // Assert
    assert_eq!(first, trail.newest_first(&[6, 7]));
    assert_eq!(second, trail.newest_first(&[1, 2]));
    assert_eq!(below_bobs, trail.newest_first(&[1, 2]));
}

pub async fn an_entry_appended_in_a_committed_transaction_is_visible_afterwards(
    storage: FreshStorage,
) {
    // Arrange
    let entry = an_audit_entry().change("role", "user", "admin").build();
    let tx = storage.begin().await.expect("begin");

    // Act
    tx.audit().append(&entry).await.expect("append");
    let inside = tx.audit().list(&AuditFilter::default(), None, 10).await;
    tx.commit().await.expect("commit");

    // Assert
    assert_eq!(
        inside.expect("list inside"),
        vec![entry.clone()],
        "a unit reads its own writes"
    );
    assert_eq!(whole_trail(&storage).await, vec![entry]);
}

pub async fn an_entry_appended_in_a_transaction_dropped_without_commit_is_not_stored(
    storage: FreshStorage,
) {
    // Arrange: a committed entry, and a unit that appends two more.
    let committed = an_audit_entry().id_at(at(1)).build();
    append_entries(&storage, &[&committed]).await;
    let dropped = [
        an_audit_entry().id_at(at(2)).build(),
        an_audit_entry().id_at(at(3)).build(),
    ];
    let tx = storage.begin().await.expect("begin");
    for entry in &dropped {
        tx.audit().append(entry).await.expect("append");
    }

    // Act
    drop(tx);

    // Assert: nothing of the unit, and its ids are free again.
    assert_eq!(whole_trail(&storage).await, vec![committed.clone()]);
    append_entries(&storage, &[&dropped[0]]).await;
    assert_eq!(
        whole_trail(&storage).await,
        vec![dropped[0].clone(), committed]
    );
}

pub async fn when_a_user_insert_fails_after_an_append_the_entry_is_not_stored_either(
    storage: FreshStorage,
) {
    // Arrange: the entry a use case writes with its change, then the change,
    // which collides on the e-mail of a stored user.
    let existing = stored_user(&storage).await;
    let newcomer = a_user().email(existing.email.as_str()).build();
    let entry = an_audit_entry()
        .action("user.registered")
        .resource("user", &newcomer.id.to_string())
        .build();
    let tx = storage.begin().await.expect("begin");
    tx.audit().append(&entry).await.expect("first write");

    // Act: the use case returns the error without committing.
    let second_write = tx.users().insert(&newcomer).await;
    drop(tx);

    // Assert
    assert_duplicate(second_write, UniqueRule::UserEmail);
    assert_eq!(whole_trail(&storage).await, Vec::<AuditEntry>::new());
    let found = storage.users().find_by_id(newcomer.id).await;
    assert_eq!(found.expect("find"), None);
}

pub async fn when_an_append_fails_after_a_user_insert_the_user_is_not_stored_either(
    storage: FreshStorage,
) {
    // Arrange: a stored entry whose id the unit's entry reuses.
    let earlier = an_audit_entry().build();
    append_entries(&storage, &[&earlier]).await;
    let user = a_user().build();
    let entry = an_audit_entry()
        .id(earlier.id)
        .action("user.registered")
        .resource("user", &user.id.to_string())
        .build();
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("first write");

    // Act
    let second_write = tx.audit().append(&entry).await;
    drop(tx);

    // Assert
    assert_duplicate(second_write, UniqueRule::AuditEntryId);
    let users = storage.users();
    assert_eq!(users.find_by_id(user.id).await.expect("find"), None);
    assert_eq!(users.find_by_email(&user.email).await.expect("find"), None);
    assert_eq!(whole_trail(&storage).await, vec![earlier]);
}

pub async fn entries_committed_with_a_unit_are_stored_with_its_changes(storage: FreshStorage) {
    // Arrange: a unit that stores a user, and two entries for it.
    let user = a_user().build();
    let entries = [
        an_audit_entry().id_at(at(1)).build(),
        an_audit_entry().id_at(at(2)).build(),
    ];
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("first write");

    // Act
    let committed = tx.commit_with_audit(&entries).await;

    // Assert
    committed.expect("commit");
    assert_eq!(
        whole_trail(&storage).await,
        vec![entries[1].clone(), entries[0].clone()]
    );
    let found = storage.users().find_by_id(user.id).await.expect("find");
    assert_eq!(found, Some(user));
}

pub async fn entries_committed_with_a_unit_that_ran_nothing_are_stored(storage: FreshStorage) {
    // Arrange
    let entry = an_audit_entry().build();
    let tx = storage.begin().await.expect("begin");

    // Act
    let committed = tx.commit_with_audit(std::slice::from_ref(&entry)).await;

    // Assert
    committed.expect("commit");
    assert_eq!(whole_trail(&storage).await, vec![entry]);
}

pub async fn when_an_entry_committed_with_a_unit_fails_nothing_of_the_unit_is_stored(
    storage: FreshStorage,
) {
    // Arrange: a stored entry whose id the second of the unit's entries
    // reuses.
    let earlier = an_audit_entry().id_at(at(1)).build();
    append_entries(&storage, &[&earlier]).await;
    let user = a_user().build();
    let fresh = an_audit_entry().id_at(at(2)).build();
    let clash = an_audit_entry()
        .id(earlier.id)
        .action("user.registered")
        .build();
    let tx = storage.begin().await.expect("begin");
    tx.users().insert(&user).await.expect("first write");

    // Act
    let committed = tx.commit_with_audit(&[fresh, clash]).await;

    // Assert
    assert_duplicate(committed, UniqueRule::AuditEntryId);
    let users = storage.users();
    assert_eq!(users.find_by_id(user.id).await.expect("find"), None);
    assert_eq!(whole_trail(&storage).await, vec![earlier]);
}
