//! What `CatalogRepository` promises, whatever stores the catalog.
//!
//! Most behaviours read back [`sample`], a snapshot built here so that each
//! expectation can name the items it expects by id. Its names are chosen to
//! trap a search that is not a literal, case-insensitive substring match:
//! `%`, `_` and `\` mean something to SQL's `LIKE`.

use domain::{
    CatalogItem, CatalogSnapshot, CharacterClass, ClassId, GameServer, ItemId, ItemKind, ServerId,
};

use super::FreshStorage;
use super::fixtures::a_catalog;

/// An id above `i32`, so a backend must keep item ids as 64-bit integers.
const BIG_ID: i64 = 9_000_000_000;

/// Four quests, two achievements, three dungeons (counts that differ, so a
/// count of the wrong kind shows); every list out of id order.
///
/// | id | kind | name |
/// |---|---|---|
/// | 5 | achievement | `50% of the Dofus` |
/// | 7 | quest | `Dofus_Hunt` |
/// | 12 | dungeon | `GOBBALL Dungeon` |
/// | 18 | dungeon | `Lair\Kwak` |
/// | 25 | quest | `Dofus Hunt` |
/// | 31 | achievement | `Gobball 100%` |
/// | 33 | quest | `1000 Gobballs` |
/// | 40 | quest | `gobball hunt` |
/// | 9 000 000 000 | dungeon | `Wa Wobot Heroic` |
fn sample() -> CatalogSnapshot {
    a_catalog("2030.01-r42")
        .classes(&[(8, "Iop"), (1, "Feca"), (11, "Sacrier"), (3, "Enutrof")])
        .servers(&[(403, "Draconiros"), (401, "Imagiro"), (407, "Orukam")])
        .item(40, ItemKind::Quest, "gobball hunt", 1)
        .item(BIG_ID, ItemKind::Dungeon, "Wa Wobot Heroic", 200)
        .item(12, ItemKind::Dungeon, "GOBBALL Dungeon", 20)
        .item(31, ItemKind::Achievement, "Gobball 100%", 15)
        .item(7, ItemKind::Quest, "Dofus_Hunt", 60)
        .item(25, ItemKind::Quest, "Dofus Hunt", 60)
        .item(33, ItemKind::Quest, "1000 Gobballs", 50)
        .item(18, ItemKind::Dungeon, "Lair\\Kwak", 110)
        .item(5, ItemKind::Achievement, "50% of the Dofus", 199)
        .build()
}

/// The sample stored, outside any transaction.
async fn stored_sample(storage: &FreshStorage) -> CatalogSnapshot {
    let snapshot = sample();
    storage.catalog().replace(&snapshot).await.expect("replace");
    snapshot
}

/// `snapshot`'s current items of `kind` (all when `None`), by id.
fn sorted_items(snapshot: &CatalogSnapshot, kind: Option<ItemKind>) -> Vec<CatalogItem> {
    let mut items: Vec<CatalogItem> = snapshot
        .items
        .iter()
        .filter(|i| !i.retired && kind.is_none_or(|k| i.kind == k))
        .cloned()
        .collect();
    items.sort_by_key(|i| i.id);
    items
}

/// The ids of the items listed, to compare orders readably.
async fn item_ids(
    storage: &FreshStorage,
    kind: Option<ItemKind>,
    search: Option<&str>,
    after: Option<i64>,
    limit: usize,
) -> Vec<i64> {
    storage
        .catalog()
        .items(kind, search, after.map(ItemId), limit)
        .await
        .expect("list items")
        .iter()
        .map(|i| i.id.0)
        .collect()
}

/// Everything a reader can see of the catalog, to compare with a snapshot.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    version: Option<String>,
    classes: Vec<CharacterClass>,
    servers: Vec<GameServer>,
    items: Vec<CatalogItem>,
    /// By kind, in the order of [`ItemKind::ALL`].
    counts: Vec<u64>,
}

impl Seen {
    /// What an empty catalog shows.
    fn nothing() -> Self {
        Self {
            version: None,
            classes: Vec::new(),
            servers: Vec::new(),
            items: Vec::new(),
            counts: vec![0; ItemKind::ALL.len()],
        }
    }

    /// What the catalog shows once `snapshot` is stored: its current
    /// entries, every list by id.
    fn stored(snapshot: &CatalogSnapshot) -> Self {
        let mut classes: Vec<_> = snapshot
            .classes
            .iter()
            .filter(|c| !c.retired)
            .cloned()
            .collect();
        classes.sort_by_key(|c| c.id);
        let mut servers: Vec<_> = snapshot
            .servers
            .iter()
            .filter(|s| !s.retired)
            .cloned()
            .collect();
        servers.sort_by_key(|s| s.id);
        let counts = ItemKind::ALL
            .iter()
            .map(|k| sorted_items(snapshot, Some(*k)).len() as u64)
            .collect();
        Self {
            version: Some(snapshot.version.clone()),
            classes,
            servers,
            items: sorted_items(snapshot, None),
            counts,
        }
    }

    /// What `storage` shows, read outside any transaction.
    async fn read(storage: &FreshStorage) -> Self {
        let catalog = storage.catalog();
        let mut counts = Vec::new();
        for kind in ItemKind::ALL {
            counts.push(catalog.count_items(kind).await.expect("count"));
        }
        Self {
            version: catalog.version().await.expect("version"),
            classes: catalog.classes().await.expect("classes"),
            servers: catalog.servers().await.expect("servers"),
            items: catalog.items(None, None, None, 1_000).await.expect("items"),
            counts,
        }
    }
}

pub async fn an_empty_catalog_has_no_version_and_nothing_in_it(storage: FreshStorage) {
    // Act
    let seen = Seen::read(&storage).await;
    let searched = item_ids(&storage, Some(ItemKind::Quest), Some("a"), Some(0), 10).await;

    // Assert
    assert_eq!(seen, Seen::nothing());
    assert_eq!(searched, Vec::<i64>::new());
}

pub async fn replacing_the_catalog_then_reading_it_returns_every_field_sorted_by_id(
    storage: FreshStorage,
) {
    // Arrange
    let snapshot = sample();

    // Act
    storage.catalog().replace(&snapshot).await.expect("replace");

    // Assert: what was given, each list by id whatever the input order.
    let catalog = storage.catalog();
    assert_eq!(
        catalog.version().await.expect("version").as_deref(),
        Some("2030.01-r42")
    );
    let classes = catalog.classes().await.expect("classes");
    let class_ids: Vec<ClassId> = classes.iter().map(|c| c.id).collect();
    assert_eq!(class_ids, [1, 3, 8, 11].map(ClassId));
    let servers = catalog.servers().await.expect("servers");
    let server_ids: Vec<ServerId> = servers.iter().map(|s| s.id).collect();
    assert_eq!(server_ids, [401, 403, 407].map(ServerId));
    assert_eq!(Seen::read(&storage).await, Seen::stored(&snapshot));
}

pub async fn listing_items_returns_them_by_id_and_filters_by_kind(storage: FreshStorage) {
    // Arrange
    let snapshot = stored_sample(&storage).await;
    let catalog = storage.catalog();

    // Act
    let all = catalog.items(None, None, None, 100).await;
    let quests = catalog.items(Some(ItemKind::Quest), None, None, 100).await;
    let achievements = catalog
        .items(Some(ItemKind::Achievement), None, None, 100)
        .await;
    let dungeons = catalog
        .items(Some(ItemKind::Dungeon), None, None, 100)
        .await;

    // Assert: every field, as given.
    assert_eq!(all.expect("all"), sorted_items(&snapshot, None));
    let quests = quests.expect("quests");
    assert_eq!(quests, sorted_items(&snapshot, Some(ItemKind::Quest)));
    assert_eq!(
        quests.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        [7, 25, 33, 40]
    );
    assert_eq!(
        achievements.expect("achievements"),
        sorted_items(&snapshot, Some(ItemKind::Achievement))
    );
    assert_eq!(
        dungeons.expect("dungeons"),
        sorted_items(&snapshot, Some(ItemKind::Dungeon))
    );
}

pub async fn counting_items_counts_each_kind(storage: FreshStorage) {
    // Arrange
    stored_sample(&storage).await;
    let catalog = storage.catalog();

    // Act
    let quests = catalog.count_items(ItemKind::Quest).await;
    let achievements = catalog.count_items(ItemKind::Achievement).await;
    let dungeons = catalog.count_items(ItemKind::Dungeon).await;

    // Assert
    assert_eq!(quests.expect("count quests"), 4);
    assert_eq!(achievements.expect("count achievements"), 2);
    assert_eq!(dungeons.expect("count dungeons"), 3);
}

pub async fn searching_items_matches_a_substring_of_the_name_ignoring_case(storage: FreshStorage) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let lower = item_ids(&storage, None, Some("gobball"), None, 100).await;
    let mixed = item_ids(&storage, None, Some("gObBaLl"), None, 100).await;
    let inner = item_ids(&storage, None, Some("OBBALL D"), None, 100).await;
    let whole = item_ids(&storage, None, Some("wa wobot heroic"), None, 100).await;
    let nothing = item_ids(&storage, None, Some("Kralamoure"), None, 100).await;
    let empty = item_ids(&storage, None, Some(""), None, 100).await;

    // Assert
    assert_eq!(lower, [12, 31, 33, 40]);
    assert_eq!(mixed, [12, 31, 33, 40]);
    assert_eq!(inner, [12]);
    assert_eq!(whole, [BIG_ID]);
    assert_eq!(nothing, Vec::<i64>::new());
    assert_eq!(
        empty,
        [5, 7, 12, 18, 25, 31, 33, 40, BIG_ID],
        "\"\" is in every name"
    );
}

pub async fn searching_items_takes_percent_underscore_and_backslash_literally(
    storage: FreshStorage,
) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let percent = item_ids(&storage, None, Some("%"), None, 100).await;
    let hundred_percent = item_ids(&storage, None, Some("100%"), None, 100).await;
    let underscore = item_ids(&storage, None, Some("_"), None, 100).await;
    let s_h = item_ids(&storage, None, Some("S_h"), None, 100).await;
    let backslash = item_ids(&storage, None, Some("\\"), None, 100).await;
    let r_backslash_k = item_ids(&storage, None, Some("r\\k"), None, 100).await;
    let escaped_percent = item_ids(&storage, None, Some("\\%"), None, 100).await;

    // Assert: as patterns, `100%` would also match "1000 Gobballs" and
    // `S_h` "Dofus Hunt".
    assert_eq!(percent, [5, 31]);
    assert_eq!(hundred_percent, [31]);
    assert_eq!(underscore, [7]);
    assert_eq!(s_h, [7]);
    assert_eq!(backslash, [18]);
    assert_eq!(r_backslash_k, [18]);
    assert_eq!(escaped_percent, Vec::<i64>::new(), "no name holds `\\%`");
}

pub async fn searching_items_of_one_kind_matches_both(storage: FreshStorage) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let quests = item_ids(&storage, Some(ItemKind::Quest), Some("HUNT"), None, 100).await;
    let achievements = item_ids(
        &storage,
        Some(ItemKind::Achievement),
        Some("gobball"),
        None,
        100,
    )
    .await;
    let dungeons = item_ids(&storage, Some(ItemKind::Dungeon), Some("hunt"), None, 100).await;

    // Assert
    assert_eq!(quests, [7, 25, 40]);
    assert_eq!(achievements, [31]);
    assert_eq!(dungeons, Vec::<i64>::new());
}

pub async fn listing_items_after_an_id_returns_only_higher_ids_and_not_that_one(
    storage: FreshStorage,
) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let after_12 = item_ids(&storage, None, None, Some(12), 100).await;
    let after_a_gap = item_ids(&storage, None, None, Some(13), 100).await;
    let after_quest_25_among_dungeons =
        item_ids(&storage, Some(ItemKind::Dungeon), None, Some(25), 100).await;
    let after_the_last = item_ids(&storage, None, None, Some(BIG_ID), 100).await;
    let after_below_all = item_ids(&storage, None, None, Some(-1), 100).await;

    // Assert
    assert_eq!(
        after_12,
        [18, 25, 31, 33, 40, BIG_ID],
        "`after` is exclusive"
    );
    assert_eq!(after_a_gap, [18, 25, 31, 33, 40, BIG_ID]);
    assert_eq!(after_quest_25_among_dungeons, [BIG_ID]);
    assert_eq!(after_the_last, Vec::<i64>::new());
    assert_eq!(after_below_all, [5, 7, 12, 18, 25, 31, 33, 40, BIG_ID]);
}

pub async fn listing_items_returns_at_most_limit_the_lowest_ids(storage: FreshStorage) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let three = item_ids(&storage, None, None, None, 3).await;
    let one_quest = item_ids(&storage, Some(ItemKind::Quest), Some("hunt"), None, 1).await;
    let none = item_ids(&storage, None, None, None, 0).await;

    // Assert
    assert_eq!(three, [5, 7, 12]);
    assert_eq!(one_quest, [7]);
    assert_eq!(none, Vec::<i64>::new());
}

/// Pages through the items matching `kind` and `search`, `size` at a time,
/// each page starting after the last id of the one before.
async fn pages(
    storage: &FreshStorage,
    kind: Option<ItemKind>,
    search: Option<&str>,
    size: usize,
) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = item_ids(storage, kind, search, after, size).await;
        let Some(&last) = page.last() else { break };
        after = Some(last);
        pages.push(page);
        assert!(pages.len() <= 20, "paging must end");
    }
    pages
}

pub async fn paging_items_with_after_returns_each_exactly_once(storage: FreshStorage) {
    // Arrange
    stored_sample(&storage).await;

    // Act
    let all = pages(&storage, None, None, 2).await;
    let quests = pages(&storage, Some(ItemKind::Quest), None, 3).await;
    let gobballs = pages(&storage, None, Some("gobball"), 3).await;

    // Assert
    assert_eq!(
        all,
        [
            vec![5, 7],
            vec![12, 18],
            vec![25, 31],
            vec![33, 40],
            vec![BIG_ID]
        ]
    );
    assert_eq!(quests, [vec![7, 25, 33], vec![40]]);
    assert_eq!(gobballs, [vec![12, 31, 33], vec![40]]);
}

pub async fn a_second_replace_leaves_nothing_of_the_first(storage: FreshStorage) {
    // Arrange: the second snapshot keeps some ids under new names and kinds,
    // drops the rest, and has no dungeon at all.
    stored_sample(&storage).await;
    let second = a_catalog("2030.02-r43")
        .classes(&[(8, "Iop (remastered)"), (2, "Osamodas")])
        .servers(&[(410, "Tal Kasha")])
        .item(12, ItemKind::Quest, "Gobball Dungeon, the quest", 25)
        .item(6, ItemKind::Achievement, "First steps", 1)
        .build();

    // Act
    storage.catalog().replace(&second).await.expect("replace");

    // Assert
    assert_eq!(Seen::read(&storage).await, Seen::stored(&second));
    let old_names = item_ids(&storage, None, Some("hunt"), None, 100).await;
    assert_eq!(old_names, Vec::<i64>::new());
    let dungeons = storage.catalog().count_items(ItemKind::Dungeon).await;
    assert_eq!(dungeons.expect("count"), 0);
}

pub async fn a_replace_committed_in_a_transaction_is_visible_afterwards(storage: FreshStorage) {
    // Arrange
    let snapshot = sample();
    let tx = storage.begin().await.expect("begin");

    // Act
    tx.catalog().replace(&snapshot).await.expect("replace");
    let version_inside = tx.catalog().version().await.expect("version inside");
    tx.commit().await.expect("commit");

    // Assert
    assert_eq!(
        version_inside.as_deref(),
        Some("2030.01-r42"),
        "a unit reads its own writes"
    );
    assert_eq!(Seen::read(&storage).await, Seen::stored(&snapshot));
}

pub async fn a_replace_in_a_transaction_dropped_without_commit_leaves_the_old_catalog(
    storage: FreshStorage,
) {
    // Arrange
    let old = stored_sample(&storage).await;
    let new = a_catalog("2030.02-r43")
        .item(5, ItemKind::Quest, "Replaced", 10)
        .build();
    let tx = storage.begin().await.expect("begin");
    tx.catalog().replace(&new).await.expect("replace");

    // Act
    drop(tx);

    // Assert
    assert_eq!(Seen::read(&storage).await, Seen::stored(&old));
}

pub async fn a_first_replace_dropped_without_commit_leaves_the_catalog_empty(
    storage: FreshStorage,
) {
    // Arrange
    let tx = storage.begin().await.expect("begin");
    tx.catalog().replace(&sample()).await.expect("replace");

    // Act
    drop(tx);

    // Assert
    assert_eq!(Seen::read(&storage).await, Seen::nothing());
}

/// A catalog after a sync: some entries retired, some items with the
/// source's ids (which collide across kinds).
///
/// | id | kind | name | source id | retired |
/// |---|---|---|---|---|
/// | 5 | quest | `Gobball Hunt` | 1 | no |
/// | 6 | dungeon | `Gobball Dungeon` | 1 | yes |
/// | 7 | quest | `Kwak Hunt` | — | yes |
/// | 8 | achievement | `First Steps` | 2 | no |
/// | 9 | dungeon | `Kwak Lair` | 2 | no |
///
/// Classes 1 (current) and 3 (retired); servers 401 (current) and 403
/// (retired).
fn synced() -> CatalogSnapshot {
    a_catalog("synced-1")
        .classes(&[(3, "Enutrof"), (1, "Feca")])
        .servers(&[(403, "Draconiros"), (401, "Imagiro")])
        .item(9, ItemKind::Dungeon, "Kwak Lair", 110)
        .from_source(2)
        .item(5, ItemKind::Quest, "Gobball Hunt", 1)
        .from_source(1)
        .item(7, ItemKind::Quest, "Kwak Hunt", 30)
        .item(6, ItemKind::Dungeon, "Gobball Dungeon", 20)
        .from_source(1)
        .item(8, ItemKind::Achievement, "First Steps", 1)
        .from_source(2)
        .retired(&[3, 403, 6, 7])
        .build()
}

pub async fn retired_entries_are_left_out_of_lists_and_counts(storage: FreshStorage) {
    // Arrange
    storage.catalog().replace(&synced()).await.expect("replace");

    // Act
    let seen = Seen::read(&storage).await;
    let kwak = item_ids(&storage, None, Some("kwak"), None, 100).await;
    let after_5 = item_ids(&storage, None, None, Some(5), 100).await;

    // Assert
    assert_eq!(
        seen.classes,
        [CharacterClass {
            id: ClassId(1),
            name: "Feca".to_owned(),
            retired: false
        }]
    );
    assert_eq!(
        seen.servers,
        [GameServer {
            id: ServerId(401),
            name: "Imagiro".to_owned(),
            retired: false
        }]
    );
    assert_eq!(
        seen.items.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        [5, 8, 9]
    );
    assert_eq!(seen.counts, [1, 1, 1], "quest, achievement, dungeon");
    assert_eq!(kwak, [9]);
    assert_eq!(after_5, [8, 9]);
}

pub async fn retired_entries_are_still_found_by_id(storage: FreshStorage) {
    // Arrange
    storage.catalog().replace(&synced()).await.expect("replace");
    let catalog = storage.catalog();

    // Act
    let class = catalog.find_class(ClassId(3)).await.expect("find class");
    let server = catalog
        .find_server(ServerId(403))
        .await
        .expect("find server");
    let unsourced = catalog.find_item(ItemId(7)).await.expect("find item 7");
    let sourced = catalog.find_item(ItemId(6)).await.expect("find item 6");
    let current = catalog.find_item(ItemId(9)).await.expect("find item 9");

    // Assert
    assert_eq!(
        class,
        Some(CharacterClass {
            id: ClassId(3),
            name: "Enutrof".to_owned(),
            retired: true
        })
    );
    assert_eq!(
        server,
        Some(GameServer {
            id: ServerId(403),
            name: "Draconiros".to_owned(),
            retired: true
        })
    );
    assert_eq!(
        unsourced,
        Some(CatalogItem {
            id: ItemId(7),
            kind: ItemKind::Quest,
            name: "Kwak Hunt".to_owned(),
            level: 30,
            source_id: None,
            retired: true
        })
    );
    assert_eq!(
        sourced,
        Some(CatalogItem {
            id: ItemId(6),
            kind: ItemKind::Dungeon,
            name: "Gobball Dungeon".to_owned(),
            level: 20,
            source_id: Some(1),
            retired: true
        })
    );
    assert_eq!(
        current,
        Some(CatalogItem {
            id: ItemId(9),
            kind: ItemKind::Dungeon,
            name: "Kwak Lair".to_owned(),
            level: 110,
            source_id: Some(2),
            retired: false
        })
    );
}

pub async fn the_whole_catalog_reads_back_with_retired_entries_and_source_ids(
    storage: FreshStorage,
) {
    // Arrange
    let empty = storage
        .catalog()
        .snapshot()
        .await
        .expect("snapshot of nothing");
    let stored = synced();
    storage.catalog().replace(&stored).await.expect("replace");

    // Act
    let read = storage.catalog().snapshot().await.expect("snapshot");

    // Assert: every entry, every list by id.
    assert_eq!(empty, None);
    assert_eq!(read, Some(stored.sorted()));
}

pub async fn a_catalog_read_merged_and_replaced_in_one_unit_keeps_its_ids(storage: FreshStorage) {
    // Arrange: the unit retires class 1 and item 5, restores item 6, adds
    // item 10, as a sync would.
    storage.catalog().replace(&synced()).await.expect("replace");
    let tx = storage.begin().await.expect("begin");
    let mut next = tx
        .catalog()
        .snapshot()
        .await
        .expect("snapshot inside")
        .expect("a catalog");
    next.version = "synced-2".to_owned();
    next.classes[0].retired = true;
    next.items[0].retired = true;
    next.items[1].retired = false;
    next.items.push(CatalogItem {
        id: ItemId(10),
        kind: ItemKind::Quest,
        name: "Dofus Quest".to_owned(),
        level: 100,
        source_id: Some(3),
        retired: false,
    });

    // Act
    tx.catalog().replace(&next).await.expect("replace inside");
    tx.commit().await.expect("commit");

    // Assert
    let read = storage.catalog().snapshot().await.expect("snapshot");
    assert_eq!(read, Some(next.clone()));
    let seen = Seen::read(&storage).await;
    assert_eq!(seen.classes, Vec::<CharacterClass>::new());
    assert_eq!(
        seen.items.iter().map(|i| i.id.0).collect::<Vec<_>>(),
        [6, 8, 9, 10]
    );
    assert_eq!(seen.version.as_deref(), Some("synced-2"));
}
