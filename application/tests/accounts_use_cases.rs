//! Game-account use cases on the memory storage: the name and notes rules,
//! names unique per user ignoring case, the character count, a delete that
//! refuses to orphan characters unless it cascades, and audit entries
//! written in the same unit as the change.

mod support;

use application::accounts::{AccountPatch, NewAccount};
use application::roster::RosterError;
use domain::{AuditValue, Notes, PageRequest, RosterName, SearchText, ValidationErrors};
use support::{Harness, changes, roster_name, text};

fn new(name: &str, notes: Option<&str>) -> NewAccount {
    parse_new(name, notes).expect("a valid account")
}

/// A new account parsed as the driving adapter does, every field at fault
/// named.
fn parse_new(name: &str, notes: Option<&str>) -> Result<NewAccount, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let name = errors.collect(RosterName::parse("name", name));
    let notes = notes.map_or(Some(None), |raw| errors.collect(Notes::parse("notes", raw)));
    match (name, notes) {
        (Some(name), Some(notes)) => Ok(NewAccount { name, notes }),
        _ => Err(errors),
    }
}

fn search(raw: &str) -> Option<SearchText> {
    SearchText::parse(Some(raw)).expect("a valid search")
}

fn page(page: i64, per_page: i64) -> PageRequest {
    PageRequest::parse(Some(page), Some(per_page)).expect("a page")
}

fn invalid_fields(result: &Result<impl std::fmt::Debug, RosterError>) -> Vec<&'static str> {
    match result {
        Err(RosterError::Validation(errors)) => errors.0.iter().map(|e| e.field).collect(),
        other => panic!("not a validation error: {other:?}"),
    }
}

#[tokio::test]
async fn names_must_be_2_to_50_characters_and_notes_at_most_500() {
    let h = Harness::new().await;
    let owner = h.user();

    for (name, notes, field) in [
        ("A", None, "name"),
        ("  B  ", None, "name"),
        (&*"x".repeat(51), None, "name"),
        ("Ok", Some(&*"n".repeat(501)), "notes"),
        ("Bad\u{0007}name", None, "name"),
    ] {
        let result = parse_new(name, notes).map_err(RosterError::from);
        assert_eq!(invalid_fields(&result), [field], "{name:?}");
    }
    let longest = h
        .roster
        .create_account(
            owner,
            new(&"x".repeat(50), Some(&"n".repeat(500))),
            &h.client,
        )
        .await
        .expect("50 and 500 characters are allowed");
    let shortest = h
        .roster
        .create_account(owner, new(" ab ", Some("   ")), &h.client)
        .await
        .expect("2 characters are allowed");

    assert_eq!(longest.account.name.as_str().len(), 50);
    assert_eq!(shortest.account.name.as_str(), "ab");
    assert_eq!(shortest.account.notes, None, "blank notes are no notes");
    let listed = h
        .roster
        .list_accounts(owner, None, page(1, 20))
        .await
        .expect("list");
    assert_eq!(listed.total, 2);
}

#[tokio::test]
async fn names_are_unique_per_user_ignoring_case() {
    let h = Harness::new().await;
    let (owner, other) = (h.user(), h.user());
    h.account(owner, "Main").await;

    let again = h
        .roster
        .create_account(owner, new("mAIN", None), &h.client)
        .await;
    let theirs = h
        .roster
        .create_account(other, new("main", None), &h.client)
        .await;

    assert!(
        matches!(again, Err(RosterError::Duplicate { field: "name", .. })),
        "{again:?}"
    );
    assert!(theirs.is_ok(), "{theirs:?}");
    let second = h.account(owner, "Second").await;
    let renamed = h
        .roster
        .update_account(
            owner,
            second,
            AccountPatch {
                name: Some(roster_name("MAIN")),
                notes: None,
            },
            &h.client,
        )
        .await;
    assert!(
        matches!(renamed, Err(RosterError::Duplicate { field: "name", .. })),
        "{renamed:?}"
    );
}

#[tokio::test]
async fn another_users_account_is_not_found() {
    let h = Harness::new().await;
    let (owner, other) = (h.user(), h.user());
    let id = h.account(owner, "Main").await;

    let read = h.roster.account(other, id).await;
    let update = h
        .roster
        .update_account(
            other,
            id,
            AccountPatch {
                name: Some(roster_name("Mine")),
                notes: None,
            },
            &h.client,
        )
        .await;
    let delete = h.roster.delete_account(other, id, true, &h.client).await;

    assert!(matches!(read, Err(RosterError::NotFound(_))), "{read:?}");
    assert!(
        matches!(update, Err(RosterError::NotFound(_))),
        "{update:?}"
    );
    assert!(
        matches!(delete, Err(RosterError::NotFound(_))),
        "{delete:?}"
    );
    assert_eq!(
        h.roster
            .account(owner, id)
            .await
            .expect("kept")
            .account
            .name
            .as_str(),
        "Main"
    );
}

#[tokio::test]
async fn the_list_is_sorted_by_name_searched_and_paged_per_owner() {
    let h = Harness::new().await;
    let (owner, other) = (h.user(), h.user());
    for name in ["delta", "Alpha", "charlie", "Bravo"] {
        h.account(owner, name).await;
    }
    h.account(other, "Aardvark").await;

    let first = h
        .roster
        .list_accounts(owner, None, page(1, 3))
        .await
        .expect("first");
    let second = h
        .roster
        .list_accounts(owner, None, page(2, 3))
        .await
        .expect("second");
    let found = h
        .roster
        .list_accounts(owner, search("AR").as_ref(), page(1, 20))
        .await
        .expect("search");
    let too_long = SearchText::parse(Some(&"s".repeat(101)))
        .map_err(|e| RosterError::from(ValidationErrors(vec![e])));

    let names = |p: &domain::Paged<domain::AccountView>| -> Vec<String> {
        p.items.iter().map(|a| a.account.name.to_string()).collect()
    };
    assert_eq!(names(&first), ["Alpha", "Bravo", "charlie"]);
    assert_eq!(names(&second), ["delta"]);
    assert_eq!((first.total, second.total), (4, 4));
    assert_eq!(names(&found), ["charlie"]);
    assert_eq!(invalid_fields(&too_long), ["search"]);
}

#[tokio::test]
async fn the_character_count_ignores_deleted_characters() {
    let h = Harness::new().await;
    let owner = h.user();
    let id = h.account(owner, "Main").await;
    h.character(owner, id, "Kept").await;
    let gone = h.character(owner, id, "Gone").await;
    h.roster
        .delete_character(owner, gone, &h.client)
        .await
        .expect("delete");

    let read = h.roster.account(owner, id).await.expect("read");
    let listed = h
        .roster
        .list_accounts(owner, None, page(1, 20))
        .await
        .expect("list");

    assert_eq!(read.character_count, 1);
    assert_eq!(listed.items[0].character_count, 1);
}

#[tokio::test]
async fn an_update_keeps_what_is_left_out_and_clears_notes_on_request() {
    let h = Harness::new().await;
    let owner = h.user();
    let created = h
        .roster
        .create_account(owner, new("Main", Some("notes")), &h.client)
        .await
        .expect("create");
    let id = created.account.id;
    h.clock.advance(time::Duration::seconds(5));

    let renamed = h
        .roster
        .update_account(
            owner,
            id,
            AccountPatch {
                name: Some(roster_name("Alt")),
                notes: None,
            },
            &h.client,
        )
        .await
        .expect("rename");
    let cleared = h
        .roster
        .update_account(
            owner,
            id,
            AccountPatch {
                name: None,
                notes: Some(None),
            },
            &h.client,
        )
        .await
        .expect("clear");

    assert_eq!(renamed.account.name.as_str(), "Alt");
    assert_eq!(
        renamed.account.notes.as_ref().map(|n| n.as_str()),
        Some("notes")
    );
    assert_eq!(
        renamed.account.updated_at - created.account.updated_at,
        time::Duration::seconds(5)
    );
    assert_eq!(renamed.account.created_at, created.account.created_at);
    assert_eq!(cleared.account.notes, None);
    assert_eq!(h.roster.account(owner, id).await.expect("read"), cleared);
}

#[tokio::test]
async fn create_update_and_delete_are_audited_and_a_no_op_update_is_not() {
    let h = Harness::new().await;
    let owner = h.user();
    let created = h
        .roster
        .create_account(owner, new("Main", Some("n1")), &h.client)
        .await
        .expect("create");
    let id = created.account.id;
    let patch = AccountPatch {
        name: Some(roster_name("Alt")),
        notes: Some(None),
    };
    h.roster
        .update_account(owner, id, patch.clone(), &h.client)
        .await
        .expect("update");
    let unchanged = h
        .roster
        .update_account(owner, id, patch, &h.client)
        .await
        .expect("no-op update");
    h.roster
        .delete_account(owner, id, false, &h.client)
        .await
        .expect("delete");

    let entries = h.audit_of(id).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["account.deleted", "account.updated", "account.created"]
    );
    assert!(entries.iter().all(|e| e.actor_id == Some(owner)));
    assert!(entries.iter().all(|e| e.resource_type == "account"));
    assert_eq!(
        changes(&entries[1]),
        [
            ("name", &text("Main"), &text("Alt")),
            ("notes", &text("n1"), &AuditValue::Null),
        ]
    );
    assert_eq!(
        changes(&entries[2]),
        [
            ("name", &AuditValue::Null, &text("Main")),
            ("notes", &AuditValue::Null, &text("n1")),
        ]
    );
    assert_eq!(unchanged.account.updated_at, entries[1].at);
}

#[tokio::test]
async fn deleting_an_account_with_characters_needs_cascade() {
    let h = Harness::new().await;
    let owner = h.user();
    let id = h.account(owner, "Main").await;
    let other = h.account(owner, "Other").await;
    let first = h.character(owner, id, "First").await;
    let second = h.character(owner, id, "Second").await;
    let elsewhere = h.character(owner, other, "Elsewhere").await;

    let refused = h.roster.delete_account(owner, id, false, &h.client).await;
    assert!(
        matches!(refused, Err(RosterError::AccountHasCharacters { count: 2 })),
        "{refused:?}"
    );
    assert_eq!(
        h.roster
            .account(owner, id)
            .await
            .expect("kept")
            .character_count,
        2
    );
    assert!(
        h.audit_of(id)
            .await
            .iter()
            .all(|e| e.action != "account.deleted")
    );

    h.roster
        .delete_account(owner, id, true, &h.client)
        .await
        .expect("cascade");

    assert!(matches!(
        h.roster.account(owner, id).await,
        Err(RosterError::NotFound(_))
    ));
    for character in [first, second] {
        assert!(matches!(
            h.roster.character(owner, character).await,
            Err(RosterError::NotFound(_))
        ));
        assert_eq!(
            h.actions_of(character).await,
            ["character.deleted", "character.created"]
        );
    }
    let left = h
        .roster
        .list_characters(owner, &Default::default(), Default::default(), page(1, 20))
        .await
        .expect("list");
    assert_eq!(left.total, 1);
    assert_eq!(left.items[0].character.id, elsewhere);
    assert_eq!(h.actions_of(id).await[0], "account.deleted");
}

#[tokio::test]
async fn when_the_audit_entry_cannot_be_written_nothing_changes() {
    let h = Harness::new().await;
    let owner = h.user();
    let id = h.account(owner, "Main").await;
    let character = h.character(owner, id, "Ana").await;
    let failing = h.failing_audit();

    let created = failing
        .create_account(owner, new("Never", None), &h.client)
        .await;
    let updated = failing
        .update_account(
            owner,
            id,
            AccountPatch {
                name: Some(roster_name("Renamed")),
                notes: None,
            },
            &h.client,
        )
        .await;
    let deleted = failing.delete_account(owner, id, true, &h.client).await;

    for result in [created.map(|_| ()), updated.map(|_| ()), deleted] {
        assert!(matches!(result, Err(RosterError::Storage(_))), "{result:?}");
    }
    let listed = h
        .roster
        .list_accounts(owner, None, page(1, 20))
        .await
        .expect("list");
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].account.name.as_str(), "Main");
    assert_eq!(listed.items[0].character_count, 1);
    assert!(h.roster.character(owner, character).await.is_ok());
    assert_eq!(h.actions_of(id).await, ["account.created"]);
}
