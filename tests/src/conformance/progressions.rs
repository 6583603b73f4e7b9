//! What `ProgressionRepository` promises, whatever stores the progress.
//!
//! Owners, accounts, characters and the catalog ([`a_roster_catalog`]) are
//! stored first, so a backend with foreign keys runs the same bodies.
//!
//! [`a_roster_catalog`]: super::fixtures::a_roster_catalog

use domain::{
    Character, ItemId, ItemKind, PageRequest, ProgressCount, ProgressStatus, Progression,
    ProgressionView, User,
};
use time::Duration;

use super::FreshStorage;
use super::fixtures::{
    a_catalog, a_character_of, a_progression, at, store_characters, store_progressions,
    stored_account, stored_roster_catalog, stored_user,
};

use ProgressStatus::{Done, InProgress, Todo};

fn page(page: i64, per_page: i64) -> PageRequest {
    PageRequest::parse(Some(page), Some(per_page)).expect("fixture page")
}

/// A user with two live characters on one account, in the roster catalog.
async fn owner_with_characters(storage: &FreshStorage) -> (User, Character, Character) {
    stored_roster_catalog(storage).await;
    let owner = stored_user(storage).await;
    let account = stored_account(storage, owner.id).await;
    let first = a_character_of(owner.id, account.id).build();
    let second = a_character_of(owner.id, account.id).build();
    store_characters(storage, &[&first, &second]).await;
    (owner, first, second)
}

/// `progression` with its item as [`a_roster_catalog`](super::fixtures::a_roster_catalog) names it.
fn view(progression: &Progression) -> ProgressionView {
    let (kind, name) = match progression.item_id.0 {
        10 => (ItemKind::Quest, "Gobball Hunt"),
        20 => (ItemKind::Dungeon, "Gobball Dungeon"),
        30 => (ItemKind::Achievement, "First Steps"),
        40 => (ItemKind::Quest, "Dofus Quest"),
        50 => (ItemKind::Dungeon, "Kwak Lair"),
        other => panic!("no fixture item {other}"),
    };
    ProgressionView {
        progression: progression.clone(),
        kind,
        item_name: name.to_owned(),
    }
}

async fn found(
    storage: &FreshStorage,
    owner: &User,
    character: &Character,
    item: i64,
) -> Option<Progression> {
    storage
        .progressions()
        .find(owner.id, character.id, ItemId(item))
        .await
        .expect("find progression")
}

/// The item ids of one page of `character`'s progressions, and the total.
async fn listed_items(
    storage: &FreshStorage,
    owner: &User,
    character: &Character,
    kind: Option<ItemKind>,
    status: Option<ProgressStatus>,
    page: PageRequest,
) -> (Vec<i64>, u64) {
    let listed = storage
        .progressions()
        .list(owner.id, character.id, kind, status, page)
        .await
        .expect("list progressions");
    (
        listed
            .items
            .iter()
            .map(|v| v.progression.item_id.0)
            .collect(),
        listed.total,
    )
}

/// `character`'s counts, in (kind, status) order.
async fn counted(
    storage: &FreshStorage,
    owner: &User,
    character: &Character,
) -> Vec<(ItemKind, ProgressStatus, u64)> {
    let mut counts: Vec<_> = storage
        .progressions()
        .counts(owner.id, character.id)
        .await
        .expect("count progressions")
        .iter()
        .map(|c: &ProgressCount| (c.kind, c.status, c.count))
        .collect();
    counts.sort();
    counts
}

pub async fn upserting_a_new_progression_then_finding_it_returns_every_field(
    storage: FreshStorage,
) {
    // Arrange: completion and update at different instants, to the microsecond.
    let (owner, character, _) = owner_with_characters(&storage).await;
    let done = Progression {
        completed_at: Some(at(10) + Duration::microseconds(3)),
        ..a_progression(character.id, 10, Done, at(20))
    };
    let started = a_progression(character.id, 20, InProgress, at(30));

    // Act
    let results = [
        storage.progressions().upsert(owner.id, &done).await,
        storage.progressions().upsert(owner.id, &started).await,
    ];

    // Assert
    for result in results {
        assert!(result.expect("upsert"), "the character is the owner's");
    }
    assert_eq!(found(&storage, &owner, &character, 10).await, Some(done));
    assert_eq!(found(&storage, &owner, &character, 20).await, Some(started));
    assert_eq!(found(&storage, &owner, &character, 30).await, None);
}

pub async fn upserting_again_replaces_the_status_and_both_times(storage: FreshStorage) {
    // Arrange
    let (owner, character, _) = owner_with_characters(&storage).await;
    let todo = a_progression(character.id, 40, Todo, at(0));
    store_progressions(&storage, owner.id, &[&todo]).await;
    let done = a_progression(character.id, 40, Done, at(100));
    let reopened = a_progression(character.id, 40, InProgress, at(200));

    // Act
    let first = storage.progressions().upsert(owner.id, &done).await;
    let after_done = found(&storage, &owner, &character, 40).await;
    let second = storage.progressions().upsert(owner.id, &reopened).await;
    let after_reopening = found(&storage, &owner, &character, 40).await;

    // Assert: one row per character and item, whatever was written last.
    assert!(first.expect("upsert"));
    assert_eq!(after_done, Some(done));
    assert!(second.expect("upsert"));
    assert_eq!(after_reopening, Some(reopened.clone()));
    let listed = listed_items(&storage, &owner, &character, None, None, page(1, 20)).await;
    assert_eq!(listed, (vec![40], 1));
}

pub async fn upserting_for_another_users_or_an_unknown_or_deleted_character_stores_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, character, deleted) = owner_with_characters(&storage).await;
    let intruder = stored_user(&storage).await;
    storage
        .characters()
        .delete(owner.id, &[deleted.id], at(1))
        .await
        .expect("delete");
    let unknown = a_character_of(owner.id, character.account_id).build();
    let progressions = storage.progressions();

    // Act
    let as_intruder = progressions
        .upsert(intruder.id, &a_progression(character.id, 10, Done, at(5)))
        .await;
    let on_deleted = progressions
        .upsert(owner.id, &a_progression(deleted.id, 10, Done, at(5)))
        .await;
    let on_unknown = progressions
        .upsert(owner.id, &a_progression(unknown.id, 10, Done, at(5)))
        .await;

    // Assert
    assert!(!as_intruder.expect("upsert"));
    assert!(!on_deleted.expect("upsert"));
    assert!(!on_unknown.expect("upsert"));
    assert_eq!(found(&storage, &owner, &character, 10).await, None);
    let for_item = progressions
        .for_item(
            owner.id,
            &[character.id, deleted.id, unknown.id],
            ItemId(10),
        )
        .await;
    assert_eq!(for_item.expect("for item"), Vec::new());
}

pub async fn another_users_character_shows_no_progression_anywhere(storage: FreshStorage) {
    // Arrange
    let (owner, character, _) = owner_with_characters(&storage).await;
    let intruder = stored_user(&storage).await;
    let done = a_progression(character.id, 10, Done, at(5));
    store_progressions(&storage, owner.id, &[&done]).await;
    let progressions = storage.progressions();

    // Act
    let find = progressions
        .find(intruder.id, character.id, ItemId(10))
        .await;
    let list = progressions
        .list(intruder.id, character.id, None, None, page(1, 20))
        .await;
    let counts = progressions.counts(intruder.id, character.id).await;
    let for_item = progressions
        .for_item(intruder.id, &[character.id], ItemId(10))
        .await;

    // Assert
    assert_eq!(find.expect("find"), None);
    let list = list.expect("list");
    assert_eq!((list.items, list.total), (Vec::new(), 0));
    assert_eq!(counts.expect("counts"), Vec::new());
    assert_eq!(for_item.expect("for item"), Vec::new());
    assert_eq!(found(&storage, &owner, &character, 10).await, Some(done));
}

pub async fn listing_returns_the_characters_progressions_by_item_id_with_kind_and_name(
    storage: FreshStorage,
) {
    // Arrange: stored out of item order, and some for the other character.
    let (owner, character, other) = owner_with_characters(&storage).await;
    let p50 = a_progression(character.id, 50, Todo, at(1));
    let p10 = a_progression(character.id, 10, Done, at(2));
    let p30 = a_progression(character.id, 30, InProgress, at(3));
    let not_this_one = a_progression(other.id, 20, Done, at(4));
    store_progressions(&storage, owner.id, &[&p50, &p10, &p30, &not_this_one]).await;

    // Act
    let listed = storage
        .progressions()
        .list(owner.id, character.id, None, None, page(1, 20))
        .await
        .expect("list");

    // Assert
    assert_eq!(listed.total, 3);
    assert_eq!(listed.items, vec![view(&p10), view(&p30), view(&p50)]);
}

pub async fn listing_filters_by_kind_and_status_and_pages_with_the_total(storage: FreshStorage) {
    // Arrange: every item, statuses spread.
    let (owner, c, _) = owner_with_characters(&storage).await;
    let rows = [(10, Done), (20, Todo), (30, Done), (40, Todo), (50, Done)];
    for (item, status) in rows {
        store_progressions(
            &storage,
            owner.id,
            &[&a_progression(c.id, item, status, at(item))],
        )
        .await;
    }
    let all = page(1, 20);
    let list = |kind, status, page| listed_items(&storage, &owner, &c, kind, status, page);

    // Act
    let quests = list(Some(ItemKind::Quest), None, all).await;
    let dungeons = list(Some(ItemKind::Dungeon), None, all).await;
    let done = list(None, Some(Done), all).await;
    let done_dungeons = list(Some(ItemKind::Dungeon), Some(Done), all).await;
    let in_progress = list(None, Some(InProgress), all).await;
    let first = list(None, None, page(1, 2)).await;
    let second = list(None, None, page(2, 2)).await;
    let third = list(None, None, page(3, 2)).await;
    let past = list(None, None, page(4, 2)).await;
    let second_done = list(None, Some(Done), page(2, 2)).await;

    // Assert
    assert_eq!(quests, (vec![10, 40], 2));
    assert_eq!(dungeons, (vec![20, 50], 2));
    assert_eq!(done, (vec![10, 30, 50], 3));
    assert_eq!(done_dungeons, (vec![50], 1));
    assert_eq!(in_progress, (Vec::new(), 0));
    assert_eq!(first, (vec![10, 20], 5));
    assert_eq!(second, (vec![30, 40], 5));
    assert_eq!(third, (vec![50], 5));
    assert_eq!(past, (Vec::new(), 5));
    assert_eq!(second_done, (vec![50], 3));
}

pub async fn counting_counts_each_kind_and_status_and_leaves_out_empty_pairs(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, c, other) = owner_with_characters(&storage).await;
    let rows = [
        (10, Done),
        (40, Done),
        (20, Todo),
        (50, InProgress),
        (30, Todo),
    ];
    for (item, status) in rows {
        store_progressions(
            &storage,
            owner.id,
            &[&a_progression(c.id, item, status, at(item))],
        )
        .await;
    }
    let elsewhere = a_progression(other.id, 20, Done, at(1));
    store_progressions(&storage, owner.id, &[&elsewhere]).await;

    // Act
    let counts = counted(&storage, &owner, &c).await;
    let none = counted(
        &storage,
        &owner,
        &a_character_of(owner.id, c.account_id).build(),
    )
    .await;

    // Assert
    let mut expected = vec![
        (ItemKind::Quest, Done, 2),
        (ItemKind::Dungeon, Todo, 1),
        (ItemKind::Dungeon, InProgress, 1),
        (ItemKind::Achievement, Todo, 1),
    ];
    expected.sort();
    assert_eq!(counts, expected);
    assert_eq!(none, Vec::new());
}

pub async fn items_the_catalog_no_longer_holds_are_left_out_of_lists_and_counts(
    storage: FreshStorage,
) {
    // Arrange: progress on items 10 and 20, then a catalog holding only 10.
    let (owner, c, _) = owner_with_characters(&storage).await;
    let kept = a_progression(c.id, 10, Done, at(1));
    let orphan = a_progression(c.id, 20, Done, at(2));
    store_progressions(&storage, owner.id, &[&kept, &orphan]).await;
    let smaller = a_catalog("roster-2")
        .item(10, ItemKind::Quest, "Gobball Hunt", 1)
        .build();
    storage.catalog().replace(&smaller).await.expect("replace");

    // Act
    let listed = listed_items(&storage, &owner, &c, None, None, page(1, 20)).await;
    let dungeons = listed_items(
        &storage,
        &owner,
        &c,
        Some(ItemKind::Dungeon),
        None,
        page(1, 20),
    )
    .await;
    let counts = counted(&storage, &owner, &c).await;

    // Assert
    assert_eq!(listed, (vec![10], 1));
    assert_eq!(dungeons, (Vec::new(), 0));
    assert_eq!(counts, vec![(ItemKind::Quest, Done, 1)]);
}

pub async fn progress_on_a_retired_item_is_listed_with_its_name_but_not_counted(
    storage: FreshStorage,
) {
    // Arrange: progress on items 10 and 20, then a sync retires 20.
    let (owner, c, _) = owner_with_characters(&storage).await;
    let kept = a_progression(c.id, 10, Done, at(1));
    let retired = a_progression(c.id, 20, Done, at(2));
    store_progressions(&storage, owner.id, &[&kept, &retired]).await;
    let synced = a_catalog("roster-2")
        .item(10, ItemKind::Quest, "Gobball Hunt", 1)
        .item(20, ItemKind::Dungeon, "Gobball Dungeon", 20)
        .retired(&[20])
        .build();
    storage.catalog().replace(&synced).await.expect("replace");

    // Act
    let listed = storage
        .progressions()
        .list(owner.id, c.id, None, None, page(1, 20))
        .await
        .expect("list");
    let counts = counted(&storage, &owner, &c).await;

    // Assert
    let names: Vec<(i64, ItemKind, &str)> = listed
        .items
        .iter()
        .map(|v| (v.progression.item_id.0, v.kind, v.item_name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (10, ItemKind::Quest, "Gobball Hunt"),
            (20, ItemKind::Dungeon, "Gobball Dungeon")
        ]
    );
    assert_eq!(listed.total, 2);
    assert_eq!(counts, vec![(ItemKind::Quest, Done, 1)]);
}

pub async fn progress_on_an_item_is_read_for_the_owners_live_characters_among_those_given(
    storage: FreshStorage,
) {
    // Arrange: three characters on item 30 (one later deleted), one not
    // asked for, one on another item only.
    let (owner, a, b) = owner_with_characters(&storage).await;
    let gone = a_character_of(owner.id, a.account_id).build();
    let not_asked = a_character_of(owner.id, a.account_id).build();
    store_characters(&storage, &[&gone, &not_asked]).await;
    let pa = a_progression(a.id, 30, Done, at(1));
    let pb_other_item = a_progression(b.id, 40, Done, at(2));
    let p_gone = a_progression(gone.id, 30, Todo, at(3));
    let p_not_asked = a_progression(not_asked.id, 30, Todo, at(4));
    store_progressions(
        &storage,
        owner.id,
        &[&pa, &pb_other_item, &p_gone, &p_not_asked],
    )
    .await;
    storage
        .characters()
        .delete(owner.id, &[gone.id], at(5))
        .await
        .expect("delete");

    // Act
    let on_30 = storage
        .progressions()
        .for_item(owner.id, &[b.id, gone.id, a.id, a.id], ItemId(30))
        .await;
    let none_asked = storage
        .progressions()
        .for_item(owner.id, &[], ItemId(30))
        .await;

    // Assert
    assert_eq!(on_30.expect("for item"), vec![pa]);
    assert_eq!(none_asked.expect("for item"), Vec::new());
}

pub async fn a_deleted_characters_progressions_vanish(storage: FreshStorage) {
    // Arrange
    let (owner, c, _) = owner_with_characters(&storage).await;
    let done = a_progression(c.id, 10, Done, at(1));
    store_progressions(&storage, owner.id, &[&done]).await;

    // Act
    storage
        .characters()
        .delete(owner.id, &[c.id], at(2))
        .await
        .expect("delete");

    // Assert
    assert_eq!(found(&storage, &owner, &c, 10).await, None);
    let listed = listed_items(&storage, &owner, &c, None, None, page(1, 20)).await;
    assert_eq!(listed, (Vec::new(), 0));
    assert_eq!(counted(&storage, &owner, &c).await, Vec::new());
    let for_item = storage
        .progressions()
        .for_item(owner.id, &[c.id], ItemId(10))
        .await;
    assert_eq!(for_item.expect("for item"), Vec::new());
}

pub async fn upserts_in_a_transaction_dropped_without_commit_leave_the_previous_progress(
    storage: FreshStorage,
) {
    // Arrange: one replacement and one insert in the unit.
    let (owner, c, _) = owner_with_characters(&storage).await;
    let before = a_progression(c.id, 10, InProgress, at(1));
    store_progressions(&storage, owner.id, &[&before]).await;
    let tx = storage.begin().await.expect("begin");
    let replaced = tx
        .progressions()
        .upsert(owner.id, &a_progression(c.id, 10, Done, at(2)))
        .await;
    let inserted = tx
        .progressions()
        .upsert(owner.id, &a_progression(c.id, 20, Todo, at(2)))
        .await;
    assert!(replaced.expect("upsert") && inserted.expect("upsert"));

    // Act
    drop(tx);

    // Assert
    assert_eq!(found(&storage, &owner, &c, 10).await, Some(before));
    assert_eq!(found(&storage, &owner, &c, 20).await, None);
    assert_eq!(
        counted(&storage, &owner, &c).await,
        vec![(ItemKind::Quest, InProgress, 1)]
    );
}
