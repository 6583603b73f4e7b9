//! What `CharacterRepository` promises, whatever stores the characters.
//!
//! Every character's owner and account are stored first, and the catalog
//! that names classes and servers ([`a_roster_catalog`]), so a backend with
//! foreign keys runs the same bodies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use domain::{
    Character, CharacterChanges, CharacterEdit, CharacterFilter, CharacterId, CharacterSort,
    CharacterView, GameAccount, PageRequest, UniqueRule, User,
};
use tokio::sync::Barrier;

use super::FreshStorage;
use super::fixtures::{
    DRACONIROS, FECA, IMAGIRO, IOP, SACRIER, a_catalog, a_character_of, an_account_of,
    assert_duplicate, at, level, roster_name, store_accounts, store_characters, stored_account,
    stored_roster_catalog, stored_user,
};

fn page(page: i64, per_page: i64) -> PageRequest {
    PageRequest::parse(Some(page), Some(per_page)).expect("fixture page")
}

/// `character` as the store shows it, on `account`, with the names of
/// [`a_roster_catalog`](super::fixtures::a_roster_catalog).
fn view(character: &Character, account: &GameAccount) -> CharacterView {
    let class_name = match character.class_id {
        FECA => "Feca",
        IOP => "Iop",
        SACRIER => "Sacrier",
        other => panic!("no fixture class {other:?}"),
    };
    let server_name = match character.server_id {
        IMAGIRO => "Imagiro",
        DRACONIROS => "Draconiros",
        other => panic!("no fixture server {other:?}"),
    };
    CharacterView {
        character: character.clone(),
        account_name: account.name.as_str().to_owned(),
        class_name: class_name.to_owned(),
        server_name: server_name.to_owned(),
    }
}

/// A user with one account, and the roster catalog stored.
async fn owner_with_account(storage: &FreshStorage) -> (User, GameAccount) {
    stored_roster_catalog(storage).await;
    let owner = stored_user(storage).await;
    let account = stored_account(storage, owner.id).await;
    (owner, account)
}

async fn found(storage: &FreshStorage, owner: &User, id: CharacterId) -> Option<CharacterView> {
    storage
        .characters()
        .find(owner.id, id)
        .await
        .expect("find character")
}

/// The ids of one page of `owner`'s characters, in order, and the total.
async fn listed(
    storage: &FreshStorage,
    owner: &User,
    filter: &CharacterFilter,
    sort: CharacterSort,
    page: PageRequest,
) -> (Vec<CharacterId>, u64) {
    let listed = storage
        .characters()
        .list(owner.id, filter, sort, page)
        .await
        .expect("list characters");
    (
        listed.items.iter().map(|v| v.character.id).collect(),
        listed.total,
    )
}

/// The ids of every character of `owner` matching `filter`, sorted by id,
/// for behaviours about which characters match rather than their order.
async fn matching(
    storage: &FreshStorage,
    owner: &User,
    filter: CharacterFilter,
) -> Vec<CharacterId> {
    let (mut ids, total) = listed(
        storage,
        owner,
        &filter,
        CharacterSort::NameAsc,
        page(1, 100),
    )
    .await;
    assert_eq!(total, ids.len() as u64, "the total counts the matches");
    ids.sort();
    ids
}

fn ids_of(characters: &[&Character]) -> Vec<CharacterId> {
    let mut ids: Vec<CharacterId> = characters.iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

pub async fn inserting_a_character_then_finding_it_returns_every_field_and_its_names(
    storage: FreshStorage,
) {
    // Arrange: fields that differ from every default.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id)
        .name("Zoé-Iop ☃")
        .level(200)
        .class(IOP)
        .server(DRACONIROS)
        .version(7)
        .created_at(at(0))
        .updated_at(at(30))
        .build();
    let plain = a_character_of(owner.id, account.id).build();

    // Act
    store_characters(&storage, &[&character, &plain]).await;

    // Assert
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&character, &account))
    );
    assert_eq!(
        found(&storage, &owner, plain.id).await,
        Some(view(&plain, &account))
    );
}

pub async fn a_class_or_server_the_catalog_no_longer_holds_is_named_by_an_empty_string(
    storage: FreshStorage,
) {
    // Arrange: the catalog is replaced by one without Iop and Draconiros.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id)
        .class(IOP)
        .server(DRACONIROS)
        .build();
    store_characters(&storage, &[&character]).await;
    let smaller = a_catalog("roster-2").build();
    storage.catalog().replace(&smaller).await.expect("replace");

    // Act
    let shown = found(&storage, &owner, character.id).await;

    // Assert
    let expected = CharacterView {
        class_name: String::new(),
        server_name: String::new(),
        ..view(&character, &account)
    };
    assert_eq!(shown, Some(expected));
}

pub async fn a_retired_class_or_server_still_names_the_character(storage: FreshStorage) {
    // Arrange: a sync retired Iop and Draconiros.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id)
        .class(IOP)
        .server(DRACONIROS)
        .build();
    store_characters(&storage, &[&character]).await;
    let retired = a_catalog("roster-2")
        .classes(&[(8, "Iop"), (1, "Feca")])
        .servers(&[(403, "Draconiros"), (401, "Imagiro")])
        .retired(&[8, 403])
        .build();
    storage.catalog().replace(&retired).await.expect("replace");

    // Act
    let shown = found(&storage, &owner, character.id).await;

    // Assert
    let expected = CharacterView {
        class_name: "Iop".to_owned(),
        server_name: "Draconiros".to_owned(),
        ..view(&character, &account)
    };
    assert_eq!(shown, Some(expected));
}

pub async fn a_character_of_a_deleted_account_keeps_the_accounts_name(storage: FreshStorage) {
    // Arrange: deleting the account leaves its characters to the caller.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&character]).await;
    let deleted = storage
        .accounts()
        .delete(owner.id, account.id, at(10))
        .await;

    // Act
    let shown = found(&storage, &owner, character.id).await;

    // Assert
    assert!(deleted.expect("delete account"));
    assert_eq!(shown, Some(view(&character, &account)));
}

pub async fn inserting_a_character_with_a_taken_id_is_a_duplicate(storage: FreshStorage) {
    // Arrange: the id is taken by another user's character.
    let (owner, account) = owner_with_account(&storage).await;
    let someone_else = stored_user(&storage).await;
    let their_account = stored_account(&storage, someone_else.id).await;
    let first = a_character_of(someone_else.id, their_account.id).build();
    store_characters(&storage, &[&first]).await;
    let second = a_character_of(owner.id, account.id).id(first.id).build();

    // Act
    let result = storage.characters().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::CharacterId);
    assert_eq!(found(&storage, &owner, first.id).await, None);
    assert_eq!(
        found(&storage, &someone_else, first.id).await,
        Some(view(&first, &their_account))
    );
}

pub async fn a_live_characters_name_ignoring_case_on_the_same_server_is_a_duplicate(
    storage: FreshStorage,
) {
    // Arrange: even from another of the owner's accounts.
    let (owner, account) = owner_with_account(&storage).await;
    let other_account = stored_account(&storage, owner.id).await;
    let first = a_character_of(owner.id, account.id).name("Cra-Zy").build();
    store_characters(&storage, &[&first]).await;
    let second = a_character_of(owner.id, other_account.id)
        .name("cRA-zY")
        .build();

    // Act
    let result = storage.characters().insert(&second).await;

    // Assert
    assert_duplicate(result, UniqueRule::CharacterName);
    assert_eq!(found(&storage, &owner, second.id).await, None);
    let all = matching(&storage, &owner, CharacterFilter::default()).await;
    assert_eq!(all, vec![first.id]);
}

pub async fn a_name_is_free_on_another_server_for_another_user_and_once_deleted(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let someone_else = stored_user(&storage).await;
    let their_account = stored_account(&storage, someone_else.id).await;
    let first = a_character_of(owner.id, account.id).name("Taken").build();
    let doomed = a_character_of(owner.id, account.id)
        .name("Doomed")
        .server(DRACONIROS)
        .build();
    store_characters(&storage, &[&first, &doomed]).await;
    let deleted = storage
        .characters()
        .delete(owner.id, &[doomed.id], at(5))
        .await;
    let other_server = a_character_of(owner.id, account.id)
        .name("TAKEN")
        .server(DRACONIROS)
        .build();
    let other_user = a_character_of(someone_else.id, their_account.id)
        .name("taken")
        .build();
    let reused = a_character_of(owner.id, account.id)
        .name("doomed")
        .server(DRACONIROS)
        .build();

    // Act
    let results = [
        storage.characters().insert(&other_server).await,
        storage.characters().insert(&other_user).await,
        storage.characters().insert(&reused).await,
    ];

    // Assert
    assert_eq!(deleted.expect("delete"), vec![doomed.id]);
    for result in results {
        result.expect("the name is free there");
    }
    assert_eq!(
        matching(&storage, &owner, CharacterFilter::default()).await,
        ids_of(&[&first, &other_server, &reused])
    );
    assert_eq!(
        found(&storage, &someone_else, other_user.id).await,
        Some(view(&other_user, &their_account))
    );
}

pub async fn another_users_character_is_invisible_to_every_method(storage: FreshStorage) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let intruder = stored_user(&storage).await;
    let intruders_account = stored_account(&storage, intruder.id).await;
    let character = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&character]).await;
    let characters = storage.characters();

    // Act
    let find = characters.find(intruder.id, character.id).await;
    let many = characters.find_many(intruder.id, &[character.id]).await;
    let list = characters
        .list(
            intruder.id,
            &CharacterFilter::default(),
            CharacterSort::NameAsc,
            page(1, 20),
        )
        .await;
    let stolen = Character {
        owner: intruder.id,
        account_id: intruders_account.id,
        name: roster_name("Stolen"),
        version: 2,
        ..character.clone()
    };
    let update = characters.update(&stolen, 1).await;
    let delete = characters.delete(intruder.id, &[character.id], at(5)).await;
    let by_account = characters
        .delete_by_account(intruder.id, account.id, at(5))
        .await;

    // Assert
    assert_eq!(find.expect("find"), None);
    assert_eq!(many.expect("find many"), Vec::new());
    let list = list.expect("list");
    assert_eq!((list.items, list.total), (Vec::new(), 0));
    assert!(!update.expect("update"));
    assert_eq!(delete.expect("delete"), Vec::new());
    assert_eq!(by_account.expect("delete by account"), Vec::new());
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&character, &account)),
        "untouched"
    );
}

pub async fn finding_many_returns_the_owners_live_characters_among_the_ids(storage: FreshStorage) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let someone_else = stored_user(&storage).await;
    let their_account = stored_account(&storage, someone_else.id).await;
    let a = a_character_of(owner.id, account.id).build();
    let b = a_character_of(owner.id, account.id).build();
    let gone = a_character_of(owner.id, account.id).build();
    let not_asked = a_character_of(owner.id, account.id).build();
    let theirs = a_character_of(someone_else.id, their_account.id).build();
    store_characters(&storage, &[&a, &b, &gone, &not_asked, &theirs]).await;
    storage
        .characters()
        .delete(owner.id, &[gone.id], at(1))
        .await
        .expect("delete");
    let unknown = a_character_of(owner.id, account.id).build();

    // Act
    let many = storage
        .characters()
        .find_many(
            owner.id,
            &[b.id, gone.id, theirs.id, unknown.id, a.id, b.id],
        )
        .await
        .expect("find many");
    let none = storage.characters().find_many(owner.id, &[]).await;

    // Assert: each once, whatever the order.
    let mut many = many;
    many.sort_by_key(|v| v.character.id);
    let mut expected = vec![view(&a, &account), view(&b, &account)];
    expected.sort_by_key(|v| v.character.id);
    assert_eq!(many, expected);
    assert_eq!(none.expect("find none"), Vec::new());
}

/// The filter behaviours' roster: two accounts, classes, servers and levels
/// spread so each criterion picks a different set, one deleted character
/// and one of another user that every criterion would match.
struct FilterRoster {
    owner: User,
    second_account: GameAccount,
    iop_main: Character,
    feca_tank: Character,
    feca_100: Character,
    sacri: Character,
    feca_1000: Character,
}

async fn filter_roster(storage: &FreshStorage) -> FilterRoster {
    let (owner, account) = owner_with_account(storage).await;
    let second_account = stored_account(storage, owner.id).await;
    let someone_else = stored_user(storage).await;
    let their_account = stored_account(storage, someone_else.id).await;
    let of = |account: &GameAccount| a_character_of(owner.id, account.id);
    let iop_main = of(&account).name("Iop Main").class(IOP).level(200).build();
    let feca_tank = of(&account)
        .name("feca_tank")
        .server(DRACONIROS)
        .level(120)
        .build();
    let feca_100 = of(&second_account)
        .name("Feca tank 100%")
        .level(100)
        .build();
    let sacri = of(&second_account)
        .name("Sacri")
        .class(SACRIER)
        .server(DRACONIROS)
        .level(1)
        .build();
    let feca_1000 = of(&account).name("Feca tank 1000").level(60).build();
    let deleted = of(&account).name("Feca tank dead").level(100).build();
    let theirs = a_character_of(someone_else.id, their_account.id)
        .name("Feca tank theirs")
        .level(100)
        .build();
    store_characters(
        storage,
        &[
            &iop_main, &feca_tank, &feca_100, &sacri, &feca_1000, &deleted, &theirs,
        ],
    )
    .await;
    storage
        .characters()
        .delete(owner.id, &[deleted.id], at(1))
        .await
        .expect("delete");
    FilterRoster {
        owner,
        second_account,
        iop_main,
        feca_tank,
        feca_100,
        sacri,
        feca_1000,
    }
}

pub async fn listing_with_a_search_matches_a_substring_ignoring_case_and_wildcards_literally(
    storage: FreshStorage,
) {
    // Arrange
    let r = filter_roster(&storage).await;
    let search = |s: &str| CharacterFilter {
        search: Some(s.to_owned()),
        ..CharacterFilter::default()
    };

    // Act
    let feca = matching(&storage, &r.owner, search("FECA")).await;
    let underscore = matching(&storage, &r.owner, search("a_t")).await;
    let percent = matching(&storage, &r.owner, search("100%")).await;
    let inner = matching(&storage, &r.owner, search("P mA")).await;
    let nothing = matching(&storage, &r.owner, search("zzz")).await;

    // Assert: as patterns, `a_t` would match "Feca tank…" and `100%`
    // "Feca tank 1000".
    assert_eq!(feca, ids_of(&[&r.feca_tank, &r.feca_100, &r.feca_1000]));
    assert_eq!(underscore, ids_of(&[&r.feca_tank]));
    assert_eq!(percent, ids_of(&[&r.feca_100]));
    assert_eq!(inner, ids_of(&[&r.iop_main]));
    assert_eq!(nothing, Vec::new());
}

pub async fn listing_filters_by_class_server_and_account_any_of_each(storage: FreshStorage) {
    // Arrange
    let r = filter_roster(&storage).await;

    // Act
    let fecas = CharacterFilter {
        class_ids: vec![FECA],
        ..CharacterFilter::default()
    };
    let fecas = matching(&storage, &r.owner, fecas).await;
    let iops_and_sacriers = CharacterFilter {
        class_ids: vec![SACRIER, IOP],
        ..CharacterFilter::default()
    };
    let iops_and_sacriers = matching(&storage, &r.owner, iops_and_sacriers).await;
    let on_draconiros = CharacterFilter {
        server_ids: vec![DRACONIROS],
        ..CharacterFilter::default()
    };
    let on_draconiros = matching(&storage, &r.owner, on_draconiros).await;
    let on_both = CharacterFilter {
        server_ids: vec![DRACONIROS, IMAGIRO],
        ..CharacterFilter::default()
    };
    let on_both = matching(&storage, &r.owner, on_both).await;
    let of_second = CharacterFilter {
        account_ids: vec![r.second_account.id],
        ..CharacterFilter::default()
    };
    let of_second = matching(&storage, &r.owner, of_second).await;

    // Assert
    let everyone = ids_of(&[
        &r.iop_main,
        &r.feca_tank,
        &r.feca_100,
        &r.sacri,
        &r.feca_1000,
    ]);
    assert_eq!(fecas, ids_of(&[&r.feca_tank, &r.feca_100, &r.feca_1000]));
    assert_eq!(iops_and_sacriers, ids_of(&[&r.iop_main, &r.sacri]));
    assert_eq!(on_draconiros, ids_of(&[&r.feca_tank, &r.sacri]));
    assert_eq!(on_both, everyone);
    assert_eq!(of_second, ids_of(&[&r.feca_100, &r.sacri]));
}

pub async fn listing_filters_by_level_bounds_inclusively(storage: FreshStorage) {
    // Arrange
    let r = filter_roster(&storage).await;
    let levels = |min: Option<i64>, max: Option<i64>| CharacterFilter {
        level_min: min.map(level),
        level_max: max.map(level),
        ..CharacterFilter::default()
    };

    // Act
    let from_100 = matching(&storage, &r.owner, levels(Some(100), None)).await;
    let up_to_60 = matching(&storage, &r.owner, levels(None, Some(60))).await;
    let between = matching(&storage, &r.owner, levels(Some(60), Some(120))).await;
    let exactly_1 = matching(&storage, &r.owner, levels(Some(1), Some(1))).await;
    let empty_range = matching(&storage, &r.owner, levels(Some(150), Some(110))).await;

    // Assert
    assert_eq!(from_100, ids_of(&[&r.iop_main, &r.feca_tank, &r.feca_100]));
    assert_eq!(up_to_60, ids_of(&[&r.sacri, &r.feca_1000]));
    assert_eq!(between, ids_of(&[&r.feca_tank, &r.feca_100, &r.feca_1000]));
    assert_eq!(exactly_1, ids_of(&[&r.sacri]));
    assert_eq!(empty_range, Vec::new());
}

pub async fn listing_with_several_criteria_returns_characters_matching_all_of_them(
    storage: FreshStorage,
) {
    // Arrange
    let r = filter_roster(&storage).await;
    let all = |search: &str| CharacterFilter {
        search: Some(search.to_owned()),
        class_ids: vec![FECA],
        server_ids: vec![IMAGIRO],
        account_ids: vec![r.feca_1000.account_id],
        level_min: Some(level(50)),
        level_max: Some(level(199)),
    };

    // Act
    let one = matching(&storage, &r.owner, all("tank")).await;
    let none = matching(&storage, &r.owner, all("100%")).await;

    // Assert: "Feca tank 100%" is on the second account.
    assert_eq!(one, ids_of(&[&r.feca_1000]));
    assert_eq!(none, Vec::new());
}

/// The sort behaviours' roster: names, levels and creation times that tie
/// in every way an order must break, ids arranged against the tie-breaks
/// that would be wrong.
///
/// | | name | level | created | id order | server |
/// |---|---|---|---|---|---|
/// | a | `alpha` | 50 | 10 | 6 | Imagiro |
/// | b | `Bravo` | 50 | 10 | 1 | Imagiro |
/// | c | `charlie` | 60 | 5 | 2 | Imagiro |
/// | d | `DELTA` | 60 | 20 | 7 | Imagiro |
/// | t1 | `twin` | 100 | 5 | 3 | Imagiro |
/// | t2 | `TWIN` | 100 | 5 | 4 | Draconiros |
/// | z | `_zed` | 200 | 20 | 5 | Imagiro |
///
/// Byte by byte `_` sorts between upper- and lower-case letters, so `_zed`
/// comes first only when names are lower-cased.
struct SortRoster {
    owner: User,
    by_letter: std::collections::HashMap<&'static str, CharacterId>,
}

impl SortRoster {
    fn ids(&self, order: &[&str]) -> Vec<CharacterId> {
        order.iter().map(|k| self.by_letter[k]).collect()
    }
}

async fn sort_roster(storage: &FreshStorage) -> SortRoster {
    let (owner, account) = owner_with_account(storage).await;
    let rows = [
        ("a", "alpha", 50, 10, 6, IMAGIRO),
        ("b", "Bravo", 50, 10, 1, IMAGIRO),
        ("c", "charlie", 60, 5, 2, IMAGIRO),
        ("d", "DELTA", 60, 20, 7, IMAGIRO),
        ("t1", "twin", 100, 5, 3, IMAGIRO),
        ("t2", "TWIN", 100, 5, 4, DRACONIROS),
        ("z", "_zed", 200, 20, 5, IMAGIRO),
    ];
    let mut by_letter = std::collections::HashMap::new();
    // Stored in reverse, so insertion order is no order asked for.
    for (letter, name, lvl, created, id_order, server) in rows.into_iter().rev() {
        let character = a_character_of(owner.id, account.id)
            .id_at(at(id_order))
            .name(name)
            .level(lvl)
            .created_at(at(created))
            .server(server)
            .build();
        store_characters(storage, &[&character]).await;
        by_letter.insert(letter, character.id);
    }
    SortRoster { owner, by_letter }
}

async fn sorted(
    storage: &FreshStorage,
    roster: &SortRoster,
    sort: CharacterSort,
) -> Vec<CharacterId> {
    let (ids, total) = listed(
        storage,
        &roster.owner,
        &CharacterFilter::default(),
        sort,
        page(1, 100),
    )
    .await;
    assert_eq!(total, 7);
    ids
}

pub async fn listing_by_name_compares_lower_cased_names_then_ids_in_the_orders_direction(
    storage: FreshStorage,
) {
    // Arrange
    let roster = sort_roster(&storage).await;

    // Act
    let ascending = sorted(&storage, &roster, CharacterSort::NameAsc).await;
    let descending = sorted(&storage, &roster, CharacterSort::NameDesc).await;

    // Assert
    assert_eq!(
        ascending,
        roster.ids(&["z", "a", "b", "c", "d", "t1", "t2"])
    );
    assert_eq!(
        descending,
        roster.ids(&["t2", "t1", "d", "c", "b", "a", "z"])
    );
}

pub async fn listing_by_level_breaks_ties_by_name_ascending_then_id_in_the_orders_direction(
    storage: FreshStorage,
) {
    // Arrange
    let roster = sort_roster(&storage).await;

    // Act
    let ascending = sorted(&storage, &roster, CharacterSort::LevelAsc).await;
    let descending = sorted(&storage, &roster, CharacterSort::LevelDesc).await;

    // Assert: at level 60 the names stay ascending in both directions.
    assert_eq!(
        ascending,
        roster.ids(&["a", "b", "c", "d", "t1", "t2", "z"])
    );
    assert_eq!(
        descending,
        roster.ids(&["z", "t2", "t1", "c", "d", "a", "b"])
    );
}

pub async fn listing_by_creation_breaks_ties_by_id_in_the_orders_direction(storage: FreshStorage) {
    // Arrange
    let roster = sort_roster(&storage).await;

    // Act
    let ascending = sorted(&storage, &roster, CharacterSort::CreatedAtAsc).await;
    let descending = sorted(&storage, &roster, CharacterSort::CreatedAtDesc).await;

    // Assert
    assert_eq!(
        ascending,
        roster.ids(&["c", "t1", "t2", "b", "a", "z", "d"])
    );
    assert_eq!(
        descending,
        roster.ids(&["d", "z", "a", "b", "t2", "t1", "c"])
    );
}

pub async fn paging_characters_returns_each_once_with_the_total_and_nothing_past_the_end(
    storage: FreshStorage,
) {
    // Arrange
    let roster = sort_roster(&storage).await;
    let none = CharacterFilter::default();
    let by_level = CharacterSort::LevelDesc;

    // Act
    let first = listed(&storage, &roster.owner, &none, by_level, page(1, 3)).await;
    let second = listed(&storage, &roster.owner, &none, by_level, page(2, 3)).await;
    let third = listed(&storage, &roster.owner, &none, by_level, page(3, 3)).await;
    let past = listed(&storage, &roster.owner, &none, by_level, page(4, 3)).await;
    let twins = CharacterFilter {
        search: Some("twin".into()),
        ..CharacterFilter::default()
    };
    let second_twin = listed(
        &storage,
        &roster.owner,
        &twins,
        CharacterSort::NameAsc,
        page(2, 1),
    )
    .await;

    // Assert
    assert_eq!(first, (roster.ids(&["z", "t2", "t1"]), 7));
    assert_eq!(second, (roster.ids(&["c", "d", "a"]), 7));
    assert_eq!(third, (roster.ids(&["b"]), 7));
    assert_eq!(past, (Vec::new(), 7));
    assert_eq!(second_twin, (roster.ids(&["t2"]), 2));
}

pub async fn deleting_characters_returns_the_ids_deleted_once_and_hides_them_everywhere(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let kept = a_character_of(owner.id, account.id).build();
    let a = a_character_of(owner.id, account.id).build();
    let b = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&kept, &a, &b]).await;
    let characters = storage.characters();

    // Act
    let first = characters
        .delete(owner.id, &[a.id, b.id, a.id], at(10))
        .await;
    let second = characters.delete(owner.id, &[a.id, b.id], at(20)).await;

    // Assert
    let mut first = first.expect("delete");
    first.sort();
    assert_eq!(first, ids_of(&[&a, &b]));
    assert_eq!(second.expect("second delete"), Vec::new());
    assert_eq!(found(&storage, &owner, a.id).await, None);
    let many = characters.find_many(owner.id, &[a.id, b.id, kept.id]).await;
    assert_eq!(many.expect("find many"), vec![view(&kept, &account)]);
    assert_eq!(
        matching(&storage, &owner, CharacterFilter::default()).await,
        vec![kept.id]
    );
    let update = characters
        .update(
            &Character {
                version: 2,
                ..a.clone()
            },
            1,
        )
        .await;
    assert!(
        !update.expect("update"),
        "a deleted character is not updated"
    );
}

pub async fn deleting_by_account_deletes_only_that_accounts_live_characters(storage: FreshStorage) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let other = stored_account(&storage, owner.id).await;
    let a = a_character_of(owner.id, account.id).build();
    let b = a_character_of(owner.id, account.id)
        .server(DRACONIROS)
        .build();
    let already = a_character_of(owner.id, account.id).build();
    let elsewhere = a_character_of(owner.id, other.id).build();
    store_characters(&storage, &[&a, &b, &already, &elsewhere]).await;
    storage
        .characters()
        .delete(owner.id, &[already.id], at(1))
        .await
        .expect("delete");

    // Act
    let deleted = storage
        .characters()
        .delete_by_account(owner.id, account.id, at(10))
        .await;
    let again = storage
        .characters()
        .delete_by_account(owner.id, account.id, at(20))
        .await;

    // Assert
    let mut deleted = deleted.expect("delete by account");
    deleted.sort();
    assert_eq!(deleted, ids_of(&[&a, &b]));
    assert_eq!(again.expect("again"), Vec::new());
    assert_eq!(
        matching(&storage, &owner, CharacterFilter::default()).await,
        vec![elsewhere.id]
    );
}

pub async fn updating_from_the_stored_version_writes_every_field_and_the_new_version(
    storage: FreshStorage,
) {
    // Arrange: every written field changes; created_at is offered too but
    // is not written.
    let (owner, account) = owner_with_account(&storage).await;
    let other = an_account_of(owner.id).name("Other account").build();
    store_accounts(&storage, &[&other]).await;
    let character = a_character_of(owner.id, account.id)
        .created_at(at(0))
        .build();
    store_characters(&storage, &[&character]).await;
    let changed = Character {
        account_id: other.id,
        name: roster_name("Renamed"),
        level: level(150),
        class_id: SACRIER,
        server_id: DRACONIROS,
        version: 2,
        created_at: at(999),
        updated_at: at(100),
        ..character.clone()
    };

    // Act
    let first = storage.characters().update(&changed, 1).await;
    let next = Character {
        level: level(151),
        version: 3,
        updated_at: at(200),
        ..changed.clone()
    };
    let second = storage.characters().update(&next, 2).await;

    // Assert
    assert!(first.expect("update"));
    assert!(second.expect("update from the new version"));
    let expected = Character {
        created_at: at(0),
        ..next
    };
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&expected, &other))
    );
}

pub async fn updating_from_a_stale_version_returns_false_and_writes_nothing(storage: FreshStorage) {
    // Arrange: the stored version is 3.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).version(3).build();
    store_characters(&storage, &[&character]).await;
    let changed = Character {
        name: roster_name("Never"),
        level: level(99),
        version: 4,
        updated_at: at(100),
        ..character.clone()
    };

    // Act
    let behind = storage.characters().update(&changed, 2).await;
    let ahead = storage.characters().update(&changed, 4).await;

    // Assert
    assert!(!behind.expect("update"));
    assert!(!ahead.expect("update"));
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&character, &account))
    );
}

pub async fn concurrent_updates_from_one_version_have_exactly_one_winner(storage: FreshStorage) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&character]).await;
    let racers = 8;
    let barrier = Arc::new(Barrier::new(racers));

    // Act
    let mut tasks = Vec::new();
    for i in 0..racers {
        let (storage, barrier) = (Arc::clone(&storage), Arc::clone(&barrier));
        let changed = Character {
            level: level(10 + i as i64),
            version: 2,
            updated_at: at(i as i64 + 1),
            ..character.clone()
        };
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let won = storage
                .characters()
                .update(&changed, 1)
                .await
                .expect("update");
            won.then_some(changed)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.expect("task"));
    }

    // Assert
    assert_eq!(winners.len(), 1, "exactly one update from version 1 lands");
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&winners[0], &account))
    );
}

pub async fn updating_to_a_live_characters_name_on_the_same_server_is_a_duplicate_and_writes_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let taken = a_character_of(owner.id, account.id)
        .name("Taken")
        .server(DRACONIROS)
        .build();
    let character = a_character_of(owner.id, account.id).name("Mine").build();
    store_characters(&storage, &[&taken, &character]).await;
    let moved_onto_it = Character {
        name: roster_name("tAKEN"),
        server_id: DRACONIROS,
        level: level(42),
        version: 2,
        updated_at: at(100),
        ..character.clone()
    };
    let recased = Character {
        name: roster_name("MINE"),
        version: 2,
        updated_at: at(200),
        ..character.clone()
    };

    // Act
    let clash = storage.characters().update(&moved_onto_it, 1).await;
    let after_clash = found(&storage, &owner, character.id).await;
    let own_name = storage.characters().update(&recased, 1).await;

    // Assert
    assert_duplicate(clash, UniqueRule::CharacterName);
    assert_eq!(
        after_clash,
        Some(view(&character, &account)),
        "nothing written"
    );
    assert!(own_name.expect("its own name in another case is no duplicate"));
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&recased, &account))
    );
}

pub async fn character_writes_in_a_transaction_dropped_without_commit_leave_nothing(
    storage: FreshStorage,
) {
    // Arrange: an insert, an update and a delete in one unit.
    let (owner, account) = owner_with_account(&storage).await;
    let updated = a_character_of(owner.id, account.id).build();
    let deleted = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&updated, &deleted]).await;
    let added = a_character_of(owner.id, account.id).name("Added").build();
    let tx = storage.begin().await.expect("begin");
    tx.characters().insert(&added).await.expect("insert");
    let changed = Character {
        level: level(77),
        version: 2,
        ..updated.clone()
    };
    assert!(tx.characters().update(&changed, 1).await.expect("update"));
    let gone = tx.characters().delete(owner.id, &[deleted.id], at(5)).await;
    assert_eq!(gone.expect("delete"), vec![deleted.id]);

    // Act
    drop(tx);

    // Assert: as before, and the added name is free.
    assert_eq!(found(&storage, &owner, added.id).await, None);
    assert_eq!(
        found(&storage, &owner, updated.id).await,
        Some(view(&updated, &account))
    );
    assert_eq!(
        found(&storage, &owner, deleted.id).await,
        Some(view(&deleted, &account))
    );
    let again = a_character_of(owner.id, account.id).name("added").build();
    storage
        .characters()
        .insert(&again)
        .await
        .expect("the name is free");
}

/// How long a write that a unit's read should hold back is given to slip
/// through: far above one PostgreSQL round trip.
const WRITE_WINDOW: std::time::Duration = std::time::Duration::from_millis(300);

pub async fn characters_found_together_in_a_transaction_stay_unchanged_until_it_ends(
    storage: FreshStorage,
) {
    // Arrange: a unit reads a character, as a team's server check does.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).server(IMAGIRO).build();
    store_characters(&storage, &[&character]).await;
    let tx = storage.begin().await.expect("begin");
    let read = tx
        .characters()
        .find_many(owner.id, &[character.id])
        .await
        .expect("find_many");
    let moved = Character {
        server_id: DRACONIROS,
        version: 2,
        ..character.clone()
    };

    // Act: another unit moves it to another server meanwhile. The barrier
    // starts the clock only once the mover is about to write; the flag
    // tells, when the write returns, whether the reading unit had ended.
    let other = Arc::clone(&storage);
    let started = Arc::new(Barrier::new(2));
    let committed = Arc::new(AtomicBool::new(false));
    let mut mover = tokio::spawn({
        let (started, committed) = (Arc::clone(&started), Arc::clone(&committed));
        async move {
            started.wait().await;
            let written = other.characters().update(&moved, 1).await;
            (written, committed.load(Ordering::SeqCst))
        }
    });
    started.wait().await;
    // Without the lock, the write lands within this window (a PostgreSQL
    // round trip) and the test fails at once; with it, the write is still
    // blocked when the window closes.
    let slipped = tokio::time::timeout(WRITE_WINDOW, &mut mover).await.ok();
    committed.store(true, Ordering::SeqCst);
    tx.commit().await.expect("commit");
    let (written, after_commit) = match slipped {
        Some(done) => done.expect("the mover task"),
        None => mover.await.expect("the mover task"),
    };

    // Assert: the move waited for the reading unit, then went through.
    assert_eq!(read.len(), 1);
    assert!(
        after_commit,
        "the move did not wait for the unit that read it"
    );
    assert!(written.expect("update"));
    let stored = found(&storage, &owner, character.id).await.expect("found");
    assert_eq!(stored.character.server_id, DRACONIROS);
}

fn renamed(name: &str) -> CharacterChanges {
    CharacterChanges {
        name: Some(roster_name(name)),
        ..CharacterChanges::default()
    }
}

pub async fn an_edit_writes_the_fields_given_with_the_next_version_and_returns_both_sides(
    storage: FreshStorage,
) {
    // Arrange: every field changes, onto another account of the owner.
    let (owner, account) = owner_with_account(&storage).await;
    let other = an_account_of(owner.id).name("Other account").build();
    store_accounts(&storage, &[&other]).await;
    let character = a_character_of(owner.id, account.id)
        .created_at(at(0))
        .build();
    store_characters(&storage, &[&character]).await;
    let changes = CharacterChanges {
        name: Some(roster_name("Renamed")),
        level: Some(level(150)),
        class_id: Some(SACRIER),
        server_id: Some(DRACONIROS),
        account_id: Some(other.id),
    };

    // Act
    let tx = storage.begin().await.expect("begin");
    let edit = tx
        .characters()
        .edit(owner.id, character.id, &changes, None, at(100))
        .await;
    tx.commit().await.expect("commit");

    // Assert
    let expected = Character {
        account_id: other.id,
        name: roster_name("Renamed"),
        level: level(150),
        class_id: SACRIER,
        server_id: DRACONIROS,
        version: 2,
        updated_at: at(100),
        ..character.clone()
    };
    assert_eq!(
        edit.expect("edit"),
        CharacterEdit::Written {
            before: Box::new(character.clone()),
            after: Box::new(view(&expected, &other)),
        }
    );
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&expected, &other))
    );
}

pub async fn an_edit_against_other_versions_writes_nothing_and_names_the_current_one(
    storage: FreshStorage,
) {
    // Arrange: the stored version is 3.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).version(3).build();
    store_characters(&storage, &[&character]).await;

    // Act
    let behind = storage
        .characters()
        .edit(
            owner.id,
            character.id,
            &renamed("Never"),
            Some(&[1, 2]),
            at(100),
        )
        .await;
    let unchanged_but_stale = storage
        .characters()
        .edit(
            owner.id,
            character.id,
            &CharacterChanges::default(),
            Some(&[2]),
            at(100),
        )
        .await;
    let matching = storage
        .characters()
        .edit(
            owner.id,
            character.id,
            &renamed("Renamed"),
            Some(&[2, 3]),
            at(100),
        )
        .await;

    // Assert
    assert_eq!(
        behind.expect("edit"),
        CharacterEdit::VersionMismatch { current: 3 }
    );
    assert_eq!(
        unchanged_but_stale.expect("edit"),
        CharacterEdit::VersionMismatch { current: 3 }
    );
    let expected = Character {
        name: roster_name("Renamed"),
        version: 4,
        updated_at: at(100),
        ..character.clone()
    };
    assert!(matches!(
        matching.expect("edit"),
        CharacterEdit::Written { .. }
    ));
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&expected, &account))
    );
}

pub async fn an_edit_that_changes_no_field_writes_nothing(storage: FreshStorage) {
    // Arrange: the same name, and a level it already has.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&character]).await;
    let same = CharacterChanges {
        name: Some(character.name.clone()),
        level: Some(character.level),
        ..CharacterChanges::default()
    };

    // Act
    let edit = storage
        .characters()
        .edit(owner.id, character.id, &same, Some(&[1]), at(100))
        .await;

    // Assert: neither the version nor updated_at moved.
    assert_eq!(
        edit.expect("edit"),
        CharacterEdit::Unchanged(view(&character, &account))
    );
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&character, &account))
    );
}

pub async fn an_edit_of_an_unknown_deleted_or_foreign_character_finds_nothing(
    storage: FreshStorage,
) {
    // Arrange
    let (owner, account) = owner_with_account(&storage).await;
    let stranger = stored_user(&storage).await;
    let character = a_character_of(owner.id, account.id).build();
    let deleted = a_character_of(owner.id, account.id).name("Gone").build();
    store_characters(&storage, &[&character, &deleted]).await;
    let characters = storage.characters();
    characters
        .delete(owner.id, &[deleted.id], at(5))
        .await
        .expect("delete");

    // Act
    let foreign = characters
        .edit(stranger.id, character.id, &renamed("Mine"), None, at(100))
        .await;
    let gone = characters
        .edit(owner.id, deleted.id, &renamed("Back"), None, at(100))
        .await;
    let unknown = characters
        .edit(
            owner.id,
            CharacterId::from_uuid(uuid::Uuid::nil()),
            &renamed("Who"),
            None,
            at(100),
        )
        .await;

    // Assert
    assert_eq!(foreign.expect("edit"), CharacterEdit::NotFound);
    assert_eq!(gone.expect("edit"), CharacterEdit::NotFound);
    assert_eq!(unknown.expect("edit"), CharacterEdit::NotFound);
    assert_eq!(
        found(&storage, &owner, character.id).await,
        Some(view(&character, &account))
    );
}

pub async fn an_edit_onto_a_taken_name_is_a_duplicate(storage: FreshStorage) {
    // Arrange: two characters on one server; a recase of one's own name is
    // not a clash.
    let (owner, account) = owner_with_account(&storage).await;
    let taken = a_character_of(owner.id, account.id).name("Taken").build();
    let character = a_character_of(owner.id, account.id).name("Mover").build();
    store_characters(&storage, &[&taken, &character]).await;

    // Act
    let clash = storage
        .characters()
        .edit(owner.id, character.id, &renamed("TAKEN"), None, at(100))
        .await;
    let recase = storage
        .characters()
        .edit(owner.id, character.id, &renamed("MOVER"), None, at(100))
        .await;

    // Assert
    assert_duplicate(clash, UniqueRule::CharacterName);
    assert!(matches!(
        recase.expect("edit"),
        CharacterEdit::Written { .. }
    ));
}

pub async fn concurrent_edits_take_turns_and_each_sees_the_last_version(storage: FreshStorage) {
    // Arrange: eight units edit one character at once, each raising its
    // level from what it finds.
    let (owner, account) = owner_with_account(&storage).await;
    let character = a_character_of(owner.id, account.id).build();
    store_characters(&storage, &[&character]).await;
    let barrier = Arc::new(Barrier::new(8));

    // Act
    let edits: Vec<_> = (0..8)
        .map(|i| {
            let (storage, barrier) = (Arc::clone(&storage), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let tx = storage.begin().await.expect("begin");
                let edit = tx
                    .characters()
                    .edit(
                        owner.id,
                        character.id,
                        &renamed(&format!("Turn {i}")),
                        None,
                        at(100 + i),
                    )
                    .await
                    .expect("edit");
                tx.commit().await.expect("commit");
                edit
            })
        })
        .collect();
    let mut seen = Vec::new();
    for edit in edits {
        match edit.await.expect("task") {
            CharacterEdit::Written { before, after } => {
                assert_eq!(after.character.version, before.version + 1);
                seen.push(before.version);
            }
            other => panic!("every edit writes, got {other:?}"),
        }
    }

    // Assert: each started from a different version, none lost.
    seen.sort_unstable();
    assert_eq!(seen, (1..=8).collect::<Vec<i64>>());
    let last = found(&storage, &owner, character.id).await.expect("found");
    assert_eq!(last.character.version, 9);
}
