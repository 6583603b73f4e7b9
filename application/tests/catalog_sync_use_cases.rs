//! Applying a sync fetched from a catalog source (`apply_source`) on the
//! memory storage: which entries keep their ids, which are added, retired
//! and restored; all or nothing; nothing written when nothing changed; and
//! what characters and progressions on retired entries may still do.

mod support;

use adapter_memory::MemoryStorage;
use adapter_system::{ManualClock, OsRandom};
use application::catalog::{CatalogError, SyncOutcome, apply_source};
use application::characters::{CharacterPatch, Precondition};
use application::roster::RosterError;
use domain::ports::{Repositories, SourceEntry, SourceError, SourceResource, Storage};
use domain::{
    AuditFilter, CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId,
    ItemKind, PageRequest, ProgressStatus, ServerId, SourceCatalog, SyncCounts,
};
use support::{Harness, level, roster_name};

const QUEST: SourceResource = SourceResource::Items(ItemKind::Quest);
const ACHIEVEMENT: SourceResource = SourceResource::Items(ItemKind::Achievement);
const DUNGEON: SourceResource = SourceResource::Items(ItemKind::Dungeon);

fn item(id: i64, kind: ItemKind, name: &str, source_id: Option<i64>) -> CatalogItem {
    CatalogItem {
        id: ItemId(id),
        kind,
        name: name.to_owned(),
        level: 10,
        source_id,
        retired: false,
    }
}

fn retired(item: CatalogItem) -> CatalogItem {
    CatalogItem {
        retired: true,
        ..item
    }
}

/// A stored catalog: classes 1–19, server 401, `items`.
fn stored(items: Vec<CatalogItem>) -> CatalogSnapshot {
    CatalogSnapshot {
        version: "bundled-1".to_owned(),
        classes: (1..=19)
            .map(|id| CharacterClass {
                id: ClassId(id),
                name: format!("Class {id}"),
                retired: false,
            })
            .collect(),
        servers: vec![GameServer {
            id: ServerId(401),
            name: "Imagiro".to_owned(),
            retired: false,
        }],
        items,
    }
}

fn row(source_id: i64, name: &str, level: i16) -> SourceEntry {
    SourceEntry {
        source_id,
        name: name.to_owned(),
        level,
    }
}

/// What a source lists: the same classes and server as [`stored`], and
/// `items` (kind, source id, name), each at level 10.
fn fetched(items: &[(ItemKind, i64, &str)]) -> SourceCatalog {
    let mut catalog = SourceCatalog {
        classes: (1..=19)
            .map(|id| row(id, &format!("Class {id}"), 1))
            .collect(),
        servers: vec![row(401, "Imagiro", 1)],
        ..SourceCatalog::default()
    };
    for &(kind, id, name) in items {
        catalog
            .rows_mut(SourceResource::Items(kind))
            .push(row(id, name, 10));
    }
    catalog
}

async fn storage_with(snapshot: &CatalogSnapshot) -> MemoryStorage {
    let storage = MemoryStorage::new();
    storage.catalog().replace(snapshot).await.expect("replace");
    storage
}

async fn sync(storage: &dyn Storage, fetched: &SourceCatalog) -> Result<SyncOutcome, CatalogError> {
    apply_source(storage, &ManualClock::starting_now(), &OsRandom, fetched).await
}

async fn whole(storage: &dyn Storage) -> CatalogSnapshot {
    storage
        .catalog()
        .snapshot()
        .await
        .expect("snapshot")
        .expect("a catalog")
}

async fn audit_actions(storage: &dyn Storage) -> Vec<String> {
    storage
        .audit()
        .list(&AuditFilter::default(), None, 100)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn counts(added: u64, updated: u64, unchanged: u64, retired: u64, restored: u64) -> SyncCounts {
    SyncCounts {
        added,
        updated,
        unchanged,
        retired,
        restored,
    }
}

#[tokio::test]
async fn new_items_get_fresh_ids_above_every_id_given_before() {
    // Arrange: item 20 is retired; it still holds the highest id.
    let storage = storage_with(&stored(vec![
        item(10, ItemKind::Quest, "Q1", Some(1)),
        retired(item(20, ItemKind::Dungeon, "Old dungeon", Some(1))),
    ]))
    .await;
    let source = fetched(&[
        (ItemKind::Dungeon, 3, "New dungeon"),
        (ItemKind::Quest, 7, "New quest"),
        (ItemKind::Quest, 1, "Q1"),
        (ItemKind::Achievement, 2, "New achievement"),
    ]);

    // Act
    let outcome = sync(&storage, &source).await.expect("sync");

    // Assert: quests, then achievements, then dungeons, each by source id.
    let items = whole(&storage).await.items;
    assert_eq!(
        items,
        [
            item(10, ItemKind::Quest, "Q1", Some(1)),
            retired(item(20, ItemKind::Dungeon, "Old dungeon", Some(1))),
            item(21, ItemKind::Quest, "New quest", Some(7)),
            item(22, ItemKind::Achievement, "New achievement", Some(2)),
            item(23, ItemKind::Dungeon, "New dungeon", Some(3)),
        ]
    );
    assert!(outcome.changed);
    assert_eq!(outcome.of(QUEST), counts(1, 0, 1, 0, 0));
    assert_eq!(outcome.of(ACHIEVEMENT), counts(1, 0, 0, 0, 0));
    assert_eq!(outcome.of(DUNGEON), counts(1, 0, 0, 0, 0));
    assert_eq!(outcome.of(SourceResource::Classes), counts(0, 0, 19, 0, 0));
    assert_eq!(outcome.of(SourceResource::Servers), counts(0, 0, 1, 0, 0));
    assert_eq!(outcome.matched_by_name, 0);
}

#[tokio::test]
async fn a_renamed_item_keeps_its_id() {
    // Arrange
    let storage = storage_with(&stored(vec![item(
        10,
        ItemKind::Quest,
        "Old name",
        Some(1),
    )]))
    .await;
    let mut source = fetched(&[(ItemKind::Quest, 1, "New name")]);
    source.rows_mut(QUEST)[0].level = 50;

    // Act
    let outcome = sync(&storage, &source).await.expect("sync");

    // Assert
    let found = storage.catalog().find_item(ItemId(10)).await.expect("find");
    assert_eq!(
        found,
        Some(CatalogItem {
            level: 50,
            ..item(10, ItemKind::Quest, "New name", Some(1))
        })
    );
    assert_eq!(outcome.of(QUEST), counts(0, 1, 0, 0, 0));
}

#[tokio::test]
async fn a_vanished_item_is_retired_then_restored_under_its_old_id() {
    // Arrange
    let storage = storage_with(&stored(vec![
        item(10, ItemKind::Quest, "Kept", Some(1)),
        item(11, ItemKind::Quest, "Comes and goes", Some(2)),
    ]))
    .await;

    // Act
    let gone = sync(&storage, &fetched(&[(ItemKind::Quest, 1, "Kept")]))
        .await
        .expect("first sync");
    let while_gone = whole(&storage).await.items;
    let listed: Vec<i64> = storage
        .catalog()
        .items(None, None, None, 100)
        .await
        .expect("items")
        .iter()
        .map(|i| i.id.0)
        .collect();
    let counted = storage.catalog().count_items(ItemKind::Quest).await;
    let back = sync(
        &storage,
        &fetched(&[
            (ItemKind::Quest, 1, "Kept"),
            (ItemKind::Quest, 2, "Comes and goes"),
        ]),
    )
    .await
    .expect("second sync");

    // Assert
    assert_eq!(gone.of(QUEST), counts(0, 0, 1, 1, 0));
    assert_eq!(
        while_gone,
        [
            item(10, ItemKind::Quest, "Kept", Some(1)),
            retired(item(11, ItemKind::Quest, "Comes and goes", Some(2))),
        ]
    );
    assert_eq!(listed, [10]);
    assert_eq!(counted.expect("count"), 1);
    assert_eq!(back.of(QUEST), counts(0, 0, 1, 0, 1));
    assert_eq!(
        whole(&storage).await.items,
        [
            item(10, ItemKind::Quest, "Kept", Some(1)),
            item(11, ItemKind::Quest, "Comes and goes", Some(2)),
        ]
    );
}

#[tokio::test]
async fn a_bundled_item_is_matched_by_kind_and_name_ignoring_case() {
    // Arrange: the same name in two kinds, no source ids.
    let storage = storage_with(&stored(vec![
        item(10, ItemKind::Quest, "Gobball Hunt", None),
        item(11, ItemKind::Dungeon, "Gobball Hunt", None),
    ]))
    .await;
    let source = fetched(&[
        (ItemKind::Quest, 77, "GOBBALL HUNT"),
        (ItemKind::Dungeon, 5, "gobball hunt"),
    ]);

    // Act
    let outcome = sync(&storage, &source).await.expect("sync");

    // Assert: the ids stay, the source's ids and names are taken.
    assert_eq!(
        whole(&storage).await.items,
        [
            item(10, ItemKind::Quest, "GOBBALL HUNT", Some(77)),
            item(11, ItemKind::Dungeon, "gobball hunt", Some(5)),
        ]
    );
    assert_eq!(outcome.matched_by_name, 2);
    assert_eq!(outcome.of(QUEST), counts(0, 1, 0, 0, 0));
    assert_eq!(outcome.of(DUNGEON), counts(0, 1, 0, 0, 0));
}

#[tokio::test]
async fn a_bundled_item_whose_name_is_ambiguous_is_retired() {
    // Arrange: "Twin" is two source rows; "Pair" two bundled items; the
    // only "Held" row belongs to item 20 by its source id.
    let storage = storage_with(&stored(vec![
        item(10, ItemKind::Quest, "Twin", None),
        item(11, ItemKind::Quest, "Lonely", None),
        item(12, ItemKind::Quest, "Pair", None),
        item(13, ItemKind::Quest, "pair", None),
        item(20, ItemKind::Quest, "Held", Some(9)),
        item(21, ItemKind::Quest, "Held", None),
    ]))
    .await;
    let source = fetched(&[
        (ItemKind::Quest, 1, "Twin"),
        (ItemKind::Quest, 2, "twin"),
        (ItemKind::Quest, 3, "Lonely"),
        (ItemKind::Quest, 4, "Pair"),
        (ItemKind::Quest, 9, "Held"),
    ]);

    // Act
    let outcome = sync(&storage, &source).await.expect("sync");

    // Assert: only "Lonely" is matched by name; the ambiguous rows are new.
    assert_eq!(
        whole(&storage).await.items,
        [
            retired(item(10, ItemKind::Quest, "Twin", None)),
            item(11, ItemKind::Quest, "Lonely", Some(3)),
            retired(item(12, ItemKind::Quest, "Pair", None)),
            retired(item(13, ItemKind::Quest, "pair", None)),
            item(20, ItemKind::Quest, "Held", Some(9)),
            retired(item(21, ItemKind::Quest, "Held", None)),
            item(22, ItemKind::Quest, "Twin", Some(1)),
            item(23, ItemKind::Quest, "twin", Some(2)),
            item(24, ItemKind::Quest, "Pair", Some(4)),
        ]
    );
    assert_eq!(outcome.matched_by_name, 1);
    assert_eq!(outcome.of(QUEST), counts(3, 1, 1, 4, 0));
}

#[tokio::test]
async fn an_invalid_fetched_catalog_is_refused_and_nothing_is_written() {
    // Arrange
    let before = stored(vec![item(10, ItemKind::Quest, "Q", Some(1))]);
    let storage = storage_with(&before).await;
    let mut few_classes = fetched(&[]);
    few_classes.classes.truncate(18);
    let mut twice = fetched(&[(ItemKind::Quest, 1, "A"), (ItemKind::Quest, 1, "B")]);
    twice.skipped = 3;
    let mut blank = fetched(&[(ItemKind::Dungeon, 1, " ")]);
    blank.servers.push(row(402, "Dakal", 1));

    // Act
    let refusals: Vec<String> = [few_classes, twice, blank]
        .iter()
        .map(|source| async { sync(&storage, source).await })
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .map(|result| match result {
            Err(CatalogError::Source(SourceError::Invalid(message))) => message,
            other => panic!("expected Invalid, got {other:?}"),
        })
        .collect();

    // Assert
    assert_eq!(
        refusals,
        [
            "the source lists 18 classes, fewer than 19",
            "quests: id 1 is listed twice",
            "dungeons: id 1 has a blank name",
        ]
    );
    assert_eq!(whole(&storage).await, before);
    assert_eq!(audit_actions(&storage).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_second_sync_of_the_same_data_changes_nothing_and_keeps_the_version() {
    // Arrange
    let storage = storage_with(&stored(vec![item(10, ItemKind::Quest, "Q", None)])).await;
    let mut source = fetched(&[(ItemKind::Quest, 1, "Q"), (ItemKind::Dungeon, 1, "D")]);
    source.skipped = 2;

    // Act
    let first = sync(&storage, &source).await.expect("first sync");
    let after_first = whole(&storage).await;
    let second = sync(&storage, &source).await.expect("second sync");

    // Assert
    assert!(first.changed);
    assert_eq!(first.version, after_first.content_version());
    assert_ne!(first.version, "bundled-1");
    assert_eq!(first.skipped, 2);
    assert_eq!(
        second,
        SyncOutcome {
            changed: false,
            version: first.version.clone(),
            counts: [
                (SourceResource::Classes, counts(0, 0, 19, 0, 0)),
                (SourceResource::Servers, counts(0, 0, 1, 0, 0)),
                (QUEST, counts(0, 0, 1, 0, 0)),
                (ACHIEVEMENT, counts(0, 0, 0, 0, 0)),
                (DUNGEON, counts(0, 0, 1, 0, 0)),
            ]
            .into_iter()
            .collect(),
            matched_by_name: 0,
            skipped: 2,
        }
    );
    assert_eq!(whole(&storage).await, after_first);
    assert_eq!(
        storage.catalog().version().await.expect("version"),
        Some(first.version)
    );
    assert_eq!(audit_actions(&storage).await, ["catalog.synced"]);
}

/// What a source lists to retire class 1 and every bundled server (the
/// bundled server ids are not the game's), and every item: the other 18
/// bundled classes under their names, two new classes, server 401.
async fn retiring_source(h: &Harness) -> SourceCatalog {
    let mut source = SourceCatalog {
        classes: h
            .classes
            .iter()
            .filter(|c| c.id != ClassId(1))
            .map(|c| row(i64::from(c.id.0), &c.name, 1))
            .collect(),
        servers: vec![row(401, "Draconiros", 1)],
        ..SourceCatalog::default()
    };
    source.classes.push(row(21, "Forgelance", 1));
    source.classes.push(row(22, "Class 22", 1));
    source
}

#[tokio::test]
async fn a_retired_class_or_server_cannot_be_chosen_anew_but_a_character_keeps_it() {
    // Arrange: a Feca on the first bundled server, then a sync retires both.
    let h = Harness::new().await;
    let owner = h.user();
    let account = h.account(owner, "Main").await;
    let hero = h
        .roster
        .create_character(owner, h.new_character(account, "Hero"), &h.client)
        .await
        .expect("create");
    let source = retiring_source(&h).await;
    sync(h.storage.as_ref(), &source).await.expect("sync");

    // Act
    let created = h
        .roster
        .create_character(owner, h.new_character(account, "Other"), &h.client)
        .await;
    let echoed = h
        .roster
        .update_character(
            owner,
            hero.character.id,
            CharacterPatch {
                name: Some(roster_name("Renamed")),
                level: Some(level(2)),
                class_id: Some(ClassId(1)),
                server_id: Some(hero.character.server_id),
                account_id: None,
            },
            Precondition::None,
            &h.client,
        )
        .await;
    let moved_back = h
        .roster
        .update_character(
            owner,
            hero.character.id,
            CharacterPatch {
                name: None,
                level: None,
                class_id: Some(ClassId(2)),
                server_id: Some(ServerId(401)),
                account_id: None,
            },
            Precondition::None,
            &h.client,
        )
        .await
        .expect("move to current entries");
    let to_retired = h
        .roster
        .update_character(
            owner,
            hero.character.id,
            CharacterPatch {
                name: None,
                level: None,
                class_id: Some(ClassId(1)),
                server_id: None,
                account_id: None,
            },
            Precondition::None,
            &h.client,
        )
        .await;

    // Assert
    match created {
        Err(RosterError::Validation(errors)) => {
            let fields: Vec<&str> = errors.0.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["classId", "serverId"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    let echoed = echoed.expect("a patch echoing the retired class and server");
    assert_eq!(echoed.character.name.as_str(), "Renamed");
    assert_eq!(echoed.class_name, h.classes[0].name);
    assert_eq!(echoed.server_name, h.servers[0].name);
    assert_eq!(moved_back.server_name, "Draconiros");
    match to_retired {
        Err(RosterError::Validation(errors)) => {
            let fields: Vec<&str> = errors.0.iter().map(|e| e.field).collect();
            assert_eq!(fields, ["classId"]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn progress_on_a_retired_item_stays_and_updates_but_a_retired_item_is_not_started() {
    // Arrange: progress on one quest, then a sync that lists no item at all.
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quests = h.items(ItemKind::Quest).await;
    let (started, untouched) = (&quests[0], &quests[1]);
    h.roster
        .set_progression(
            owner,
            hero.character.id,
            started.id,
            ProgressStatus::Done,
            &h.client,
        )
        .await
        .expect("done");
    let mut source = retiring_source(&h).await;
    source.servers = h
        .servers
        .iter()
        .map(|s| row(i64::from(s.id.0), &s.name, 1))
        .collect();
    sync(h.storage.as_ref(), &source).await.expect("sync");

    // Act
    let updated = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            started.id,
            ProgressStatus::InProgress,
            &h.client,
        )
        .await
        .expect("update on a retired item");
    let new = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            untouched.id,
            ProgressStatus::Todo,
            &h.client,
        )
        .await;
    let listed = h
        .roster
        .list_progressions(
            owner,
            hero.character.id,
            None,
            None,
            PageRequest::parse(None, None).expect("page"),
        )
        .await
        .expect("list");
    let summary = h
        .roster
        .progress_summary(owner, hero.character.id)
        .await
        .expect("summary");

    // Assert
    assert_eq!(updated.item_name, started.name);
    assert!(
        matches!(new, Err(RosterError::NotFound("catalog item"))),
        "{new:?}"
    );
    let names: Vec<(ItemId, &str, ProgressStatus)> = listed
        .items
        .iter()
        .map(|v| {
            (
                v.progression.item_id,
                v.item_name.as_str(),
                v.progression.status,
            )
        })
        .collect();
    assert_eq!(
        names,
        [(
            started.id,
            started.name.as_str(),
            ProgressStatus::InProgress
        )]
    );
    assert_eq!(summary.quest.total, 0);
    assert_eq!(summary.quest.in_progress, 0);
    assert_eq!(summary.quest.todo, 0);
}
