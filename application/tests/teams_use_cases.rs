//! Team use cases on the memory adapters with the bundled catalog: the
//! member rules (the caller's live characters, distinct, at most eight, one
//! server), name uniqueness, and the audit entry each change writes.

mod support;

use application::characters::{CharacterPatch, Precondition};
use application::roster::RosterError;
use application::teams::{NewTeam, TeamPatch};
use domain::ports::Repositories;
use domain::{
    AuditValue, CharacterId, PageRequest, SearchText, TeamMembers, TeamView, ValidationErrors,
};
use support::{Harness, change, members, notes, roster_name, text};
use time::Duration;

fn new_team(name: &str, ids: &[CharacterId]) -> NewTeam {
    NewTeam {
        name: roster_name(name),
        description: None,
        member_ids: members(ids),
    }
}

fn member_ids(view: &TeamView) -> Vec<CharacterId> {
    view.members.iter().map(|m| m.character.id).collect()
}

#[track_caller]
fn assert_invalid(result: Result<TeamView, RosterError>, field: &str) {
    match result {
        Err(RosterError::Validation(errors)) => assert!(
            errors.0.iter().any(|e| e.field == field),
            "{errors} does not name {field}"
        ),
        other => panic!("expected a validation error on {field}, got {other:?}"),
    }
}

async fn team_count(h: &Harness, owner: domain::UserId) -> u64 {
    h.roster
        .list_teams(owner, None, PageRequest::default())
        .await
        .expect("list")
        .total
}

#[tokio::test]
async fn a_team_holds_its_members_in_the_given_order_with_catalog_names() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let a = h.character_on(owner, "Alpha", server).await;
    let b = h.character_on(owner, "Bravo", server).await;

    let team = h
        .roster
        .create_team(
            owner,
            NewTeam {
                name: roster_name("  Raiders  "),
                description: notes("weekly dungeon run"),
                member_ids: members(&[b.character.id, a.character.id]),
            },
            &h.client,
        )
        .await
        .expect("created");

    assert_eq!(team.team.name.as_str(), "Raiders");
    assert_eq!(
        team.team.description.as_ref().map(|d| d.as_str()),
        Some("weekly dungeon run")
    );
    assert_eq!(member_ids(&team), vec![b.character.id, a.character.id]);
    assert_eq!(team.members[0].server_name, b.server_name);
    assert_eq!(team.members[0].class_name, b.class_name);
    assert_eq!(team.team.created_at, h.now());
    assert_eq!(
        h.roster.team(owner, team.team.id).await.expect("found"),
        team
    );
}

#[tokio::test]
async fn a_team_without_members_is_allowed() {
    let h = Harness::new().await;
    let owner = h.user();

    let team = h
        .roster
        .create_team(owner, new_team("Empty", &[]), &h.client)
        .await
        .expect("created");

    assert!(team.members.is_empty());
    assert!(team.team.member_ids.is_empty());
}

#[tokio::test]
async fn another_users_character_is_not_found_and_nothing_is_written() {
    let h = Harness::new().await;
    let (owner, stranger) = (h.user(), h.user());
    let server = h.servers[0].id;
    let mine = h.character_on(owner, "Mine", server).await;
    let theirs = h.character_on(stranger, "Theirs", server).await;

    let result = h
        .roster
        .create_team(
            owner,
            new_team("Mixed", &[mine.character.id, theirs.character.id]),
            &h.client,
        )
        .await;

    assert!(
        matches!(result, Err(RosterError::NotFound(_))),
        "{result:?}"
    );
    assert_eq!(team_count(&h, owner).await, 0);
    let created = h
        .actions_by(owner)
        .await
        .into_iter()
        .filter(|a| a.starts_with("team."))
        .count();
    assert_eq!(created, 0, "no audit entry for a refused team");
}

#[tokio::test]
async fn an_unknown_character_is_not_found() {
    let h = Harness::new().await;
    let owner = h.user();
    let ghost = CharacterId::generate(h.now(), &adapter_system::OsRandom);

    let result = h
        .roster
        .create_team(owner, new_team("Ghosts", &[ghost]), &h.client)
        .await;

    assert!(
        matches!(result, Err(RosterError::NotFound(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn nine_members_are_refused() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let account = h.account(owner, "Main").await;
    let mut ids = Vec::new();
    for n in 0..=domain::Team::MAX_MEMBERS {
        let name = format!("Member {n}");
        ids.push(
            h.character_in(owner, account, &name, server)
                .await
                .character
                .id,
        );
    }

    // The driving adapter refuses a ninth member before any use case runs.
    let nine = TeamMembers::new("memberIds", ids.clone())
        .map_err(|e| RosterError::from(ValidationErrors(vec![e])));
    let eight = h
        .roster
        .create_team(owner, new_team("Full", &ids[..8]), &h.client)
        .await;

    assert_invalid(nine.map(|_| unreachable!()), "memberIds");
    assert_eq!(eight.expect("eight fit").members.len(), 8);
}

#[tokio::test]
async fn a_repeated_member_is_refused() {
    let h = Harness::new().await;
    let owner = h.user();
    let a = h.character_on(owner, "Alpha", h.servers[0].id).await;

    // Refused by the driving adapter before any use case runs.
    let result = TeamMembers::new("memberIds", vec![a.character.id, a.character.id])
        .map_err(|e| RosterError::from(ValidationErrors(vec![e])));

    assert_invalid(result.map(|_| unreachable!()), "memberIds");
}

#[tokio::test]
async fn members_on_two_servers_are_refused() {
    let h = Harness::new().await;
    let owner = h.user();
    let servers = [h.servers[0].id, h.servers[1].id];
    let a = h.character_on(owner, "Alpha", servers[0]).await;
    let b = h.character_on(owner, "Bravo", servers[1]).await;

    let result = h
        .roster
        .create_team(
            owner,
            new_team("Split", &[a.character.id, b.character.id]),
            &h.client,
        )
        .await;

    assert_invalid(result, "memberIds");
    assert_eq!(team_count(&h, owner).await, 0);
}

#[tokio::test]
async fn team_names_are_unique_per_user_ignoring_case() {
    let h = Harness::new().await;
    let (owner, other) = (h.user(), h.user());
    h.roster
        .create_team(owner, new_team("Raiders", &[]), &h.client)
        .await
        .expect("first");

    let same = h
        .roster
        .create_team(owner, new_team("RAIDERS", &[]), &h.client)
        .await;
    let other_users = h
        .roster
        .create_team(other, new_team("raiders", &[]), &h.client)
        .await;

    assert!(
        matches!(same, Err(RosterError::Duplicate { field: "name", .. })),
        "{same:?}"
    );
    other_users.expect("another user may use the name");
}

#[tokio::test]
async fn renaming_onto_another_team_name_conflicts() {
    let h = Harness::new().await;
    let owner = h.user();
    h.roster
        .create_team(owner, new_team("Alpha", &[]), &h.client)
        .await
        .expect("alpha");
    let beta = h
        .roster
        .create_team(owner, new_team("Beta", &[]), &h.client)
        .await
        .expect("beta");

    let result = h
        .roster
        .update_team(
            owner,
            beta.team.id,
            TeamPatch {
                name: Some(roster_name("alpha")),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await;

    assert!(
        matches!(result, Err(RosterError::Duplicate { field: "name", .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_deleted_character_vanishes_from_its_teams() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let a = h.character_on(owner, "Alpha", server).await;
    let b = h.character_on(owner, "Bravo", server).await;
    let team = h
        .roster
        .create_team(
            owner,
            new_team("Pair", &[a.character.id, b.character.id]),
            &h.client,
        )
        .await
        .expect("team");

    h.roster
        .delete_character(owner, a.character.id, &h.client)
        .await
        .expect("deleted");

    let after = h.roster.team(owner, team.team.id).await.expect("team");
    assert_eq!(member_ids(&after), vec![b.character.id]);
    let listed = h
        .roster
        .list_teams(owner, None, PageRequest::default())
        .await
        .expect("list");
    assert_eq!(member_ids(&listed.items[0]), vec![b.character.id]);
}

#[tokio::test]
async fn a_patch_replaces_the_members_and_keeps_absent_fields() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let a = h.character_on(owner, "Alpha", server).await;
    let b = h.character_on(owner, "Bravo", server).await;
    let c = h.character_on(owner, "Charlie", server).await;
    let team = h
        .roster
        .create_team(
            owner,
            NewTeam {
                name: roster_name("Squad"),
                description: notes("kept"),
                member_ids: members(&[a.character.id, b.character.id]),
            },
            &h.client,
        )
        .await
        .expect("team");
    h.clock.advance(Duration::minutes(5));

    let updated = h
        .roster
        .update_team(
            owner,
            team.team.id,
            TeamPatch {
                member_ids: Some(members(&[c.character.id, a.character.id])),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await
        .expect("updated");

    assert_eq!(member_ids(&updated), vec![c.character.id, a.character.id]);
    assert_eq!(updated.team.name.as_str(), "Squad");
    assert_eq!(
        updated.team.description.as_ref().map(|d| d.as_str()),
        Some("kept")
    );
    assert_eq!(updated.team.updated_at, h.now());
    assert_eq!(updated.team.created_at, team.team.created_at);
}

#[tokio::test]
async fn a_patch_with_a_null_description_clears_it() {
    let h = Harness::new().await;
    let owner = h.user();
    let team = h
        .roster
        .create_team(
            owner,
            NewTeam {
                name: roster_name("Squad"),
                description: notes("to be cleared"),
                member_ids: members(&[]),
            },
            &h.client,
        )
        .await
        .expect("team");

    let updated = h
        .roster
        .update_team(
            owner,
            team.team.id,
            TeamPatch {
                description: Some(None),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await
        .expect("updated");

    assert_eq!(updated.team.description, None);
    let entry = &h.audit_of(team.team.id).await[0];
    assert_eq!(entry.action, "team.updated");
    assert_eq!(
        change(entry, "description"),
        Some((&text("to be cleared"), &AuditValue::Null))
    );
}

#[tokio::test]
async fn a_patch_breaking_a_member_rule_changes_nothing() {
    let h = Harness::new().await;
    let (owner, stranger) = (h.user(), h.user());
    let servers = [h.servers[0].id, h.servers[1].id];
    let a = h.character_on(owner, "Alpha", servers[0]).await;
    let far = h.character_on(owner, "Faraway", servers[1]).await;
    let theirs = h.character_on(stranger, "Theirs", servers[0]).await;
    let team = h
        .roster
        .create_team(owner, new_team("Squad", &[a.character.id]), &h.client)
        .await
        .expect("team");
    let patch = |ids: Vec<CharacterId>| TeamPatch {
        name: Some(roster_name("Renamed")),
        member_ids: Some(members(&ids)),
        ..TeamPatch::default()
    };

    let two_servers = h
        .roster
        .update_team(
            owner,
            team.team.id,
            patch(vec![a.character.id, far.character.id]),
            &h.client,
        )
        .await;
    let foreign = h
        .roster
        .update_team(
            owner,
            team.team.id,
            patch(vec![theirs.character.id]),
            &h.client,
        )
        .await;

    assert_invalid(two_servers, "memberIds");
    assert!(
        matches!(foreign, Err(RosterError::NotFound(_))),
        "{foreign:?}"
    );
    assert_eq!(
        h.roster.team(owner, team.team.id).await.expect("team"),
        team
    );
}

#[tokio::test]
async fn another_users_team_is_not_found_to_read_change_or_delete() {
    let h = Harness::new().await;
    let (owner, stranger) = (h.user(), h.user());
    let team = h
        .roster
        .create_team(owner, new_team("Private", &[]), &h.client)
        .await
        .expect("team");
    let id = team.team.id;

    let read = h.roster.team(stranger, id).await;
    let changed = h
        .roster
        .update_team(
            stranger,
            id,
            TeamPatch {
                name: Some(roster_name("Stolen")),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await;
    let deleted = h.roster.delete_team(stranger, id, &h.client).await;

    assert!(matches!(read, Err(RosterError::NotFound(_))), "{read:?}");
    assert!(
        matches!(changed, Err(RosterError::NotFound(_))),
        "{changed:?}"
    );
    assert!(
        matches!(deleted, Err(RosterError::NotFound(_))),
        "{deleted:?}"
    );
    assert_eq!(h.roster.team(owner, id).await.expect("intact"), team);
}

#[tokio::test]
async fn moving_a_teamed_character_to_another_server_conflicts() {
    let h = Harness::new().await;
    let owner = h.user();
    let servers = [h.servers[0].id, h.servers[1].id];
    let a = h.character_on(owner, "Alpha", servers[0]).await;
    let b = h.character_on(owner, "Bravo", servers[0]).await;
    h.roster
        .create_team(
            owner,
            new_team("Pair", &[a.character.id, b.character.id]),
            &h.client,
        )
        .await
        .expect("team");

    let result = h
        .roster
        .update_character(
            owner,
            a.character.id,
            CharacterPatch {
                server_id: Some(servers[1]),
                ..CharacterPatch::default()
            },
            Precondition::None,
            &h.client,
        )
        .await;

    assert!(
        matches!(
            result,
            Err(RosterError::CharacterInTeamOnAnotherServer { .. })
        ),
        "{result:?}"
    );
    let stored = h.roster.character(owner, a.character.id).await.expect("a");
    assert_eq!(stored.character.server_id, servers[0]);
}

#[tokio::test]
async fn the_list_searches_names_sorts_by_name_and_pages() {
    let h = Harness::new().await;
    let owner = h.user();
    for name in ["Delta", "alpha", "Charlie", "Bravo", "Alpine"] {
        h.roster
            .create_team(owner, new_team(name, &[]), &h.client)
            .await
            .expect("team");
    }

    let first = h
        .roster
        .list_teams(
            owner,
            None,
            PageRequest::parse(Some(1), Some(2)).expect("page"),
        )
        .await
        .expect("list");
    let last = h
        .roster
        .list_teams(
            owner,
            None,
            PageRequest::parse(Some(3), Some(2)).expect("page"),
        )
        .await
        .expect("list");
    let found = h
        .roster
        .list_teams(
            owner,
            SearchText::parse(Some("ALP")).expect("search").as_ref(),
            PageRequest::default(),
        )
        .await
        .expect("search");

    let names = |page: &domain::Paged<TeamView>| -> Vec<String> {
        page.items
            .iter()
            .map(|t| t.team.name.as_str().to_owned())
            .collect()
    };
    assert_eq!(first.total, 5);
    assert_eq!(names(&first), ["alpha", "Alpine"]);
    assert_eq!(names(&last), ["Delta"]);
    assert_eq!(names(&found), ["alpha", "Alpine"]);
    assert_eq!(found.total, 2);
}

#[tokio::test]
async fn each_change_writes_an_audit_entry_with_from_and_to() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let a = h.character_on(owner, "Alpha", server).await;
    let b = h.character_on(owner, "Bravo", server).await;
    let team = h
        .roster
        .create_team(owner, new_team("Before", &[a.character.id]), &h.client)
        .await
        .expect("team");
    let id = team.team.id.to_string();

    h.roster
        .update_team(
            owner,
            team.team.id,
            TeamPatch {
                name: Some(roster_name("After")),
                member_ids: Some(members(&[a.character.id, b.character.id])),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await
        .expect("updated");
    h.roster
        .delete_team(owner, team.team.id, &h.client)
        .await
        .expect("deleted");

    let entries = h.audit_of(&id).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["team.deleted", "team.updated", "team.created"]);
    assert!(entries.iter().all(|e| e.actor_id == Some(owner)));
    let created = &entries[2];
    assert_eq!(
        change(created, "name"),
        Some((&AuditValue::Null, &text("Before")))
    );
    let updated = &entries[1];
    assert_eq!(
        change(updated, "name"),
        Some((&text("Before"), &text("After")))
    );
    let (from, to) = change(updated, "memberIds").expect("members recorded");
    assert_eq!(from, &text(&a.character.id.to_string()));
    assert_eq!(to, &text(&format!("{},{}", a.character.id, b.character.id)));
    assert_eq!(
        change(updated, "description"),
        None,
        "unchanged fields left out"
    );
    assert!(matches!(
        h.roster.team(owner, team.team.id).await,
        Err(RosterError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_unchanged_patch_writes_nothing() {
    let h = Harness::new().await;
    let owner = h.user();
    let team = h
        .roster
        .create_team(owner, new_team("Same", &[]), &h.client)
        .await
        .expect("team");
    h.clock.advance(Duration::minutes(1));

    let after = h
        .roster
        .update_team(
            owner,
            team.team.id,
            TeamPatch {
                name: Some(roster_name("Same")),
                ..TeamPatch::default()
            },
            &h.client,
        )
        .await
        .expect("updated");

    assert_eq!(after.team.updated_at, team.team.updated_at);
    assert_eq!(h.audit_of(team.team.id).await.len(), 1);
}

#[tokio::test]
async fn a_character_may_move_onto_the_server_its_teammates_play_on() {
    // Arrange: a team whose members play on two servers, as the use cases
    // never leave one (stored directly, as from before the one-server rule).
    let h = Harness::new().await;
    let owner = h.user();
    let servers = [h.servers[0].id, h.servers[1].id];
    let a = h.character_on(owner, "Alpha", servers[0]).await;
    let b = h.character_on(owner, "Bravo", servers[1]).await;
    let now = h.now();
    let team = domain::Team {
        id: domain::TeamId::generate(now, &adapter_system::OsRandom),
        owner,
        name: roster_name("Split"),
        description: None,
        member_ids: members(&[a.character.id, b.character.id]),
        created_at: now,
        updated_at: now,
    };
    h.storage.teams().insert(&team).await.expect("team");

    // Act: Alpha joins Bravo's server.
    let moved = h
        .roster
        .update_character(
            owner,
            a.character.id,
            CharacterPatch {
                server_id: Some(servers[1]),
                ..CharacterPatch::default()
            },
            Precondition::None,
            &h.client,
        )
        .await
        .expect("a move onto the teammates' server");

    // Assert
    assert_eq!(moved.character.server_id, servers[1]);
    let view = h.roster.team(owner, team.id).await.expect("team");
    let member_servers: Vec<_> = view.members.iter().map(|m| m.character.server_id).collect();
    assert_eq!(member_servers, [servers[1], servers[1]]);
}
