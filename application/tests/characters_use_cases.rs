//! Character use cases on the memory storage: the name, level and catalog
//! rules, names unique per user and server ignoring case, ownership, the
//! list's filters, soft and bulk deletes, the version compare-and-set behind
//! `If-Match`, and audit entries written in the same unit as the change.

mod support;

use application::characters::{CharacterPatch, Precondition};
use application::roster::RosterError;
use domain::ports::Repositories;
use domain::{
    AccountId, AuditValue, CharacterFilter, CharacterId, CharacterSort, ClassId, Level,
    PageRequest, RosterName, ServerId, UserId,
};
use support::{Harness, changes, int, roster_name, text};

/// A list's filter and order, as the driving adapter builds them.
type CharacterQuery = (CharacterFilter, CharacterSort);

fn page() -> PageRequest {
    PageRequest::parse(None, None).expect("the default page")
}

fn invalid_fields(result: &Result<impl std::fmt::Debug, RosterError>) -> Vec<&'static str> {
    match result {
        Err(RosterError::Validation(errors)) => errors.0.iter().map(|e| e.field).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

fn level(value: i64) -> CharacterPatch {
    CharacterPatch {
        level: Some(support::level(value)),
        ..CharacterPatch::default()
    }
}

async fn names(h: &Harness, owner: UserId, (filter, sort): CharacterQuery) -> Vec<String> {
    h.roster
        .list_characters(owner, &filter, sort, page())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|c| c.character.name.to_string())
        .collect()
}

async fn owner_with_account(h: &Harness) -> (UserId, AccountId) {
    let owner = h.user();
    let account = h.account(owner, "Main").await;
    (owner, account)
}

#[tokio::test]
async fn names_levels_and_catalog_ids_are_checked_naming_the_field() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let good = h.new_character(account, "Good");
    let unknown_class = ClassId(h.classes.iter().map(|c| c.id.0).max().unwrap_or(0) + 1000);
    let unknown_server = ServerId(h.servers.iter().map(|s| s.id.0).max().unwrap_or(0) + 1000);
    // Names and levels are parsed by the driving adapter, before any use
    // case runs: these never reach one.
    for (name, level_value, field) in [
        ("A", 1, "name"),
        (&*"x".repeat(51), 1, "name"),
        (" x ", 1, "name"),
        ("Good", 0, "level"),
        ("Good", 201, "level"),
        ("Good", -5, "level"),
    ] {
        let refused = RosterName::parse("name", name)
            .and_then(|_| Level::new("level", level_value))
            .expect_err(name);
        assert_eq!(refused.field, field, "{name:?} {level_value}");
    }
    let mut cases = Vec::new();
    let mut bad_class = good.clone();
    bad_class.class_id = unknown_class;
    cases.push((bad_class, vec!["classId"]));
    let mut bad_server = good.clone();
    bad_server.server_id = unknown_server;
    cases.push((bad_server, vec!["serverId"]));
    let mut both = good.clone();
    both.class_id = unknown_class;
    both.server_id = unknown_server;
    cases.push((both, vec!["classId", "serverId"]));

    for (input, fields) in cases {
        let result = h
            .roster
            .create_character(owner, input.clone(), &h.client)
            .await;
        assert_eq!(invalid_fields(&result), fields, "{input:?}");
    }
    assert!(names(&h, owner, CharacterQuery::default()).await.is_empty());
    for (name, value) in [("Lowest", 1), ("Highest", 200)] {
        let mut input = good.clone();
        input.name = roster_name(name);
        input.level = support::level(value);
        h.roster
            .create_character(owner, input, &h.client)
            .await
            .expect("levels 1 and 200 are allowed");
    }
    let id = h.character(owner, account, "Patched").await;
    for (patch, field) in [
        (
            CharacterPatch {
                class_id: Some(unknown_class),
                ..CharacterPatch::default()
            },
            "classId",
        ),
        (
            CharacterPatch {
                server_id: Some(unknown_server),
                ..CharacterPatch::default()
            },
            "serverId",
        ),
    ] {
        let result = h
            .roster
            .update_character(owner, id, patch, Precondition::None, &h.client)
            .await;
        assert_eq!(invalid_fields(&result), [field]);
    }
    assert_eq!(
        h.roster
            .character(owner, id)
            .await
            .expect("read")
            .character
            .version,
        1
    );
}

#[tokio::test]
async fn a_new_character_has_version_one_and_the_catalog_names() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let mut input = h.new_character(account, "  Ana  ");
    input.class_id = h.classes[1].id;
    input.server_id = h.servers[1].id;
    input.level = support::level(57);

    let view = h
        .roster
        .create_character(owner, input, &h.client)
        .await
        .expect("create");

    assert_eq!(view.character.name.as_str(), "Ana");
    assert_eq!(view.character.level.get(), 57);
    assert_eq!(view.character.version, 1);
    assert_eq!(view.character.owner, owner);
    assert_eq!(view.class_name, h.classes[1].name);
    assert_eq!(view.server_name, h.servers[1].name);
    assert_eq!(view.account_name, "Main");
    assert_eq!(view.character.created_at, h.clock_now_micros());
    assert_eq!(
        h.roster
            .character(owner, view.character.id)
            .await
            .expect("read"),
        view
    );
}

trait ClockExt {
    fn clock_now_micros(&self) -> time::OffsetDateTime;
}

impl ClockExt for Harness {
    /// The clock's time as stored: whole microseconds.
    fn clock_now_micros(&self) -> time::OffsetDateTime {
        use domain::ports::Clock;
        let now = self.clock.now();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .expect("a valid nanosecond")
    }
}

#[tokio::test]
async fn names_are_unique_per_user_and_server_ignoring_case() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let (other, their_account) = owner_with_account(&h).await;
    h.character(owner, account, "Ana").await;

    let same = h
        .roster
        .create_character(owner, h.new_character(account, "aNA"), &h.client)
        .await;
    let mut on_other_server = h.new_character(account, "ANA");
    on_other_server.server_id = h.servers[1].id;
    let other_server = h
        .roster
        .create_character(owner, on_other_server, &h.client)
        .await
        .expect("the same name on another server");
    let theirs = h
        .roster
        .create_character(other, h.new_character(their_account, "ana"), &h.client)
        .await;

    assert!(
        matches!(same, Err(RosterError::Duplicate { field: "name", .. })),
        "{same:?}"
    );
    assert!(theirs.is_ok(), "{theirs:?}");
    // Moving back to the first server collides with the first Ana.
    let moved = h
        .roster
        .update_character(
            owner,
            other_server.character.id,
            CharacterPatch {
                server_id: Some(h.servers[0].id),
                ..CharacterPatch::default()
            },
            Precondition::None,
            &h.client,
        )
        .await;
    assert!(
        matches!(moved, Err(RosterError::Duplicate { field: "name", .. })),
        "{moved:?}"
    );
}

#[tokio::test]
async fn another_users_account_or_character_is_not_found() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let (other, their_account) = owner_with_account(&h).await;
    let theirs = h.character(other, their_account, "Theirs").await;
    let mine = h.character(owner, account, "Mine").await;

    let on_their_account = h
        .roster
        .create_character(owner, h.new_character(their_account, "Sneaky"), &h.client)
        .await;
    let moved_to_theirs = h
        .roster
        .update_character(
            owner,
            mine,
            CharacterPatch {
                account_id: Some(their_account),
                ..CharacterPatch::default()
            },
            Precondition::None,
            &h.client,
        )
        .await;
    let read = h.roster.character(owner, theirs).await;
    let update = h
        .roster
        .update_character(owner, theirs, level(9), Precondition::None, &h.client)
        .await;
    let delete = h.roster.delete_character(owner, theirs, &h.client).await;

    for result in [
        on_their_account.map(|_| ()),
        moved_to_theirs.map(|_| ()),
        read.map(|_| ()),
        update.map(|_| ()),
        delete,
    ] {
        assert!(
            matches!(result, Err(RosterError::NotFound(_))),
            "{result:?}"
        );
    }
    let kept = h.roster.character(other, theirs).await.expect("theirs");
    assert_eq!((kept.character.level.get(), kept.character.version), (1, 1));
    assert_eq!(
        h.roster
            .character(owner, mine)
            .await
            .expect("mine")
            .character
            .account_id,
        account
    );
}

#[tokio::test]
async fn the_list_filters_and_sorts_and_checks_its_query() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let second = h.account(owner, "Second").await;
    let (other, their_account) = owner_with_account(&h).await;
    h.character(other, their_account, "Intruder").await;
    for (name, lvl, class, server, acc) in [
        ("bravo", 50, 0, 0, account),
        ("Alpha", 120, 1, 0, account),
        ("Delta", 10, 0, 1, account),
        ("charlie", 200, 1, 1, second),
    ] {
        let mut input = h.new_character(acc, name);
        input.level = support::level(lvl);
        input.class_id = h.classes[class].id;
        input.server_id = h.servers[server].id;
        h.roster
            .create_character(owner, input, &h.client)
            .await
            .expect("create");
        h.clock.advance(time::Duration::seconds(1));
    }
    let q = |f: &dyn Fn(&mut CharacterQuery)| {
        let mut query = CharacterQuery::default();
        f(&mut query);
        query
    };

    assert_eq!(
        names(&h, owner, CharacterQuery::default()).await,
        ["Alpha", "bravo", "charlie", "Delta"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.0.search = Some("HA".into()))).await,
        ["Alpha", "charlie"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.0.class_ids = vec![h.classes[0].id])).await,
        ["bravo", "Delta"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.0.server_ids = vec![h.servers[1].id])).await,
        ["charlie", "Delta"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.0.account_ids = vec![second])).await,
        ["charlie"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.0.account_ids = vec![their_account])).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &h,
            owner,
            q(&|q| {
                q.0.level_min = Some(support::level(50));
                q.0.level_max = Some(support::level(120));
            })
        )
        .await,
        ["Alpha", "bravo"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.1 = CharacterSort::LevelDesc)).await,
        ["charlie", "Alpha", "bravo", "Delta"]
    );
    assert_eq!(
        names(&h, owner, q(&|q| q.1 = CharacterSort::CreatedAtDesc)).await,
        ["charlie", "Delta", "Alpha", "bravo"]
    );
    // A bad sort, level bound or id list is refused by the driving
    // adapter, which builds the filter (see `characters_api`'s tests).
}

#[tokio::test]
async fn a_deleted_character_vanishes_from_lists_counts_and_reads() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let gone = h.character(owner, account, "Gone").await;
    h.character(owner, account, "Kept").await;

    h.roster
        .delete_character(owner, gone, &h.client)
        .await
        .expect("delete");

    assert_eq!(names(&h, owner, CharacterQuery::default()).await, ["Kept"]);
    assert_eq!(
        h.roster
            .account(owner, account)
            .await
            .expect("account")
            .character_count,
        1
    );
    assert!(matches!(
        h.roster.character(owner, gone).await,
        Err(RosterError::NotFound(_))
    ));
    assert!(matches!(
        h.roster.delete_character(owner, gone, &h.client).await,
        Err(RosterError::NotFound(_))
    ));
    // Its name is free again.
    h.character(owner, account, "Gone").await;
}

#[tokio::test]
async fn bulk_delete_counts_only_the_callers_live_characters() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let (other, their_account) = owner_with_account(&h).await;
    let one = h.character(owner, account, "One").await;
    let two = h.character(owner, account, "Two").await;
    h.character(owner, account, "Kept").await;
    let theirs = h.character(other, their_account, "Theirs").await;
    let unknown = CharacterId::generate(h.clock_now_micros(), &adapter_system::OsRandom);

    let deleted = h
        .roster
        .bulk_delete_characters(owner, &[one, two, theirs, unknown, one], &h.client)
        .await
        .expect("bulk delete");
    let again = h
        .roster
        .bulk_delete_characters(owner, &[one], &h.client)
        .await
        .expect("again");
    let empty = h.roster.bulk_delete_characters(owner, &[], &h.client).await;
    let too_many: Vec<CharacterId> = (0..101).map(|_| unknown).collect();
    let over = h
        .roster
        .bulk_delete_characters(owner, &too_many, &h.client)
        .await;

    assert_eq!((deleted, again), (2, 0));
    assert_eq!(invalid_fields(&empty), ["ids"]);
    assert_eq!(invalid_fields(&over), ["ids"]);
    assert_eq!(names(&h, owner, CharacterQuery::default()).await, ["Kept"]);
    assert_eq!(
        names(&h, other, CharacterQuery::default()).await,
        ["Theirs"]
    );
    assert_eq!(
        h.actions_of(one).await,
        ["character.deleted", "character.created"]
    );
    assert_eq!(h.actions_of(theirs).await, ["character.created"]);
}

#[tokio::test]
async fn an_update_with_a_stale_version_fails_and_writes_nothing() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let id = h.character(owner, account, "Ana").await;
    let updated = h
        .roster
        .update_character(
            owner,
            id,
            level(2),
            Precondition::VersionIn(vec![1]),
            &h.client,
        )
        .await
        .expect("a matching version");
    assert_eq!(updated.character.version, 2);

    let stale = h
        .roster
        .update_character(
            owner,
            id,
            level(3),
            Precondition::VersionIn(vec![1]),
            &h.client,
        )
        .await;
    let nothing = h
        .roster
        .update_character(
            owner,
            id,
            level(3),
            Precondition::VersionIn(vec![]),
            &h.client,
        )
        .await;

    assert!(
        matches!(stale, Err(RosterError::PreconditionFailed { current: 2 })),
        "{stale:?}"
    );
    assert!(
        matches!(nothing, Err(RosterError::PreconditionFailed { .. })),
        "{nothing:?}"
    );
    let current = h.roster.character(owner, id).await.expect("read");
    assert_eq!(current, updated);
    assert_eq!(
        h.actions_of(id).await,
        ["character.updated", "character.created"]
    );
    let listed = h
        .roster
        .update_character(
            owner,
            id,
            level(4),
            Precondition::VersionIn(vec![9, 2]),
            &h.client,
        )
        .await
        .expect("a list holding the current version");
    assert_eq!(listed.character.version, 3);
}

#[tokio::test]
async fn of_two_concurrent_updates_of_one_version_exactly_one_wins() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let id = h.character(owner, account, "Ana").await;
    let client = &h.client;

    let (first, second) = tokio::join!(
        h.roster.update_character(
            owner,
            id,
            level(10),
            Precondition::VersionIn(vec![1]),
            client
        ),
        h.roster.update_character(
            owner,
            id,
            level(20),
            Precondition::VersionIn(vec![1]),
            client
        ),
    );

    let (won, lost) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("not exactly one winner: {other:?}"),
    };
    assert!(
        matches!(lost, RosterError::PreconditionFailed { current: 2 }),
        "{lost:?}"
    );
    assert_eq!(won.character.version, 2);
    assert_eq!(h.roster.character(owner, id).await.expect("read"), won);
    assert_eq!(
        h.actions_of(id).await,
        ["character.updated", "character.created"]
    );
}

#[tokio::test]
async fn updates_deletes_and_creations_are_audited_and_a_no_op_is_not() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let second = h.account(owner, "Second").await;
    let created = h
        .roster
        .create_character(owner, h.new_character(account, "Ana"), &h.client)
        .await
        .expect("create");
    let id = created.character.id;
    let patch = CharacterPatch {
        name: Some(roster_name("Ana Two")),
        level: Some(support::level(2)),
        class_id: Some(h.classes[1].id),
        server_id: Some(h.servers[1].id),
        account_id: Some(second),
    };
    let updated = h
        .roster
        .update_character(owner, id, patch.clone(), Precondition::None, &h.client)
        .await
        .expect("update");
    let unchanged = h
        .roster
        .update_character(
            owner,
            id,
            patch,
            Precondition::VersionIn(vec![2]),
            &h.client,
        )
        .await
        .expect("no-op");
    h.roster
        .delete_character(owner, id, &h.client)
        .await
        .expect("delete");

    assert_eq!(unchanged, updated, "a no-op keeps the version");
    let entries = h.audit_of(id).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "character.deleted",
            "character.updated",
            "character.created"
        ]
    );
    assert!(entries.iter().all(|e| e.actor_id == Some(owner)));
    assert_eq!(
        changes(&entries[1]),
        [
            ("name", &text("Ana"), &text("Ana Two")),
            ("level", &AuditValue::Int(1), &AuditValue::Int(2)),
            ("classId", &int(h.classes[0].id.0), &int(h.classes[1].id.0)),
            ("serverId", &int(h.servers[0].id.0), &int(h.servers[1].id.0)),
            (
                "accountId",
                &text(&account.to_string()),
                &text(&second.to_string())
            ),
        ]
    );
    assert_eq!(
        changes(&entries[2]),
        [
            ("name", &AuditValue::Null, &text("Ana")),
            ("level", &AuditValue::Null, &AuditValue::Int(1)),
            ("classId", &AuditValue::Null, &int(h.classes[0].id.0)),
            ("serverId", &AuditValue::Null, &int(h.servers[0].id.0)),
            ("accountId", &AuditValue::Null, &text(&account.to_string())),
        ]
    );
    assert!(entries[0].changes.is_empty());
}

#[tokio::test]
async fn when_the_audit_entry_cannot_be_written_nothing_changes() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let id = h.character(owner, account, "Ana").await;
    let before = h.roster.character(owner, id).await.expect("read");
    let failing = h.failing_audit();

    let created = failing
        .create_character(owner, h.new_character(account, "Never"), &h.client)
        .await;
    let updated = failing
        .update_character(owner, id, level(5), Precondition::None, &h.client)
        .await;
    let deleted = failing.delete_character(owner, id, &h.client).await;
    let bulk = failing
        .bulk_delete_characters(owner, &[id], &h.client)
        .await;

    for result in [
        created.map(|_| ()),
        updated.map(|_| ()),
        deleted,
        bulk.map(|_| ()),
    ] {
        assert!(matches!(result, Err(RosterError::Storage(_))), "{result:?}");
    }
    assert_eq!(h.roster.character(owner, id).await.expect("read"), before);
    assert_eq!(names(&h, owner, CharacterQuery::default()).await, ["Ana"]);
    assert_eq!(h.actions_of(id).await, ["character.created"]);
}

#[tokio::test]
async fn bulk_delete_takes_exactly_one_hundred_ids_and_refuses_one_more() {
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let one = h.character(owner, account, "One").await;
    let two = h.character(owner, account, "Two").await;
    let unknown = CharacterId::generate(h.clock_now_micros(), &adapter_system::OsRandom);
    let mut at_the_limit = vec![unknown; application::characters::MAX_IDS - 1];
    at_the_limit.push(one);
    let mut over_the_limit = vec![unknown; application::characters::MAX_IDS];
    over_the_limit.push(two);

    let over = h
        .roster
        .bulk_delete_characters(owner, &over_the_limit, &h.client)
        .await;
    let deleted = h
        .roster
        .bulk_delete_characters(owner, &at_the_limit, &h.client)
        .await
        .expect("one hundred ids");

    assert_eq!(application::characters::MAX_IDS, 100);
    assert_eq!(invalid_fields(&over), ["ids"]);
    assert_eq!(deleted, 1);
    assert_eq!(names(&h, owner, CharacterQuery::default()).await, ["Two"]);
}

#[tokio::test]
async fn a_patch_echoing_a_class_the_catalog_no_longer_holds_is_refused() {
    // Arrange: the catalog loses the character's class outright. A sync
    // retires entries instead, so only a whole replacement does this: a
    // class the catalog lacks is refused even when sent back unchanged,
    // unlike a retired one, which the character keeps.
    let h = Harness::new().await;
    let (owner, account) = owner_with_account(&h).await;
    let hero = h
        .roster
        .create_character(owner, h.new_character(account, "Hero"), &h.client)
        .await
        .expect("create");
    let gone = hero.character.class_id;
    let mut snapshot = h
        .storage
        .catalog()
        .snapshot()
        .await
        .expect("snapshot")
        .expect("a catalog");
    snapshot.classes.retain(|c| c.id != gone);
    h.storage
        .catalog()
        .replace(&snapshot)
        .await
        .expect("replace");

    // Act
    let echoed = h
        .roster
        .update_character(
            owner,
            hero.character.id,
            CharacterPatch {
                name: Some(roster_name("Renamed")),
                class_id: Some(gone),
                server_id: Some(hero.character.server_id),
                ..CharacterPatch::default()
            },
            Precondition::None,
            &h.client,
        )
        .await;

    // Assert
    assert_eq!(invalid_fields(&echoed), ["classId"]);
    let stored = h
        .roster
        .character(owner, hero.character.id)
        .await
        .expect("read");
    assert_eq!(stored.character.name.as_str(), "Hero");
    assert_eq!(stored.character.version, 1);
}
