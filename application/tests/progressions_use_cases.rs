//! Progression use cases on the memory adapters with the bundled catalog:
//! `completedAt` follows `done`, a repeated status changes nothing, the
//! summary adds up to the catalog, and a team's view of one item.

mod support;

use application::roster::RosterError;
use application::teams::NewTeam;
use domain::{AuditValue, ItemId, ItemKind, PageRequest, ProgressStatus};
use support::{Harness, change, members, roster_name, text};
use time::Duration;

fn parse_status(raw: &str) -> ProgressStatus {
    ProgressStatus::parse(raw).expect("a status")
}

fn progression_resource(character: domain::CharacterId, item: ItemId) -> String {
    format!("{character}:{}", item.0)
}

#[tokio::test]
async fn done_sets_completed_at_and_a_repeated_done_changes_nothing() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quest = h.items(ItemKind::Quest).await[0].clone();
    let done_at = h.now();

    let first = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            quest.id,
            parse_status("done"),
            &h.client,
        )
        .await
        .expect("done");
    h.clock.advance(Duration::hours(1));
    let again = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            quest.id,
            parse_status("done"),
            &h.client,
        )
        .await
        .expect("done again");

    assert_eq!(first.progression.status, ProgressStatus::Done);
    assert_eq!(first.progression.completed_at, Some(done_at));
    assert_eq!(first.kind, ItemKind::Quest);
    assert_eq!(first.item_name, quest.name);
    assert_eq!(again.progression.completed_at, Some(done_at));
    assert_eq!(again.progression.updated_at, done_at, "updatedAt unchanged");
    let entries = h
        .audit_of(progression_resource(hero.character.id, quest.id))
        .await;
    assert_eq!(entries.len(), 1, "no entry for a status it already had");
    assert_eq!(entries[0].action, "progression.created");
    assert_eq!(
        change(&entries[0], "status"),
        Some((&AuditValue::Null, &text("done")))
    );
}

#[tokio::test]
async fn leaving_done_clears_completed_at_and_records_both_fields() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let dungeon = h.items(ItemKind::Dungeon).await[0].id;
    h.roster
        .set_progression(
            owner,
            hero.character.id,
            dungeon,
            parse_status("done"),
            &h.client,
        )
        .await
        .expect("done");
    h.clock.advance(Duration::minutes(10));

    let reopened = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            dungeon,
            parse_status("in_progress"),
            &h.client,
        )
        .await
        .expect("in progress");
    h.clock.advance(Duration::minutes(10));
    let reset = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            dungeon,
            parse_status("todo"),
            &h.client,
        )
        .await
        .expect("todo");

    assert_eq!(reopened.progression.status, ProgressStatus::InProgress);
    assert_eq!(reopened.progression.completed_at, None);
    assert_eq!(reset.progression.status, ProgressStatus::Todo);
    assert_eq!(reset.progression.completed_at, None);
    assert_eq!(reset.progression.updated_at, h.now());
    let entries = h
        .audit_of(progression_resource(hero.character.id, dungeon))
        .await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "progression.updated",
            "progression.updated",
            "progression.created"
        ]
    );
    assert_eq!(
        change(&entries[1], "status"),
        Some((&text("done"), &text("in_progress")))
    );
    let (from, to) = change(&entries[1], "completedAt").expect("completedAt recorded");
    assert!(matches!(from, AuditValue::Text(_)), "{from:?}");
    assert_eq!(to, &AuditValue::Null);
    assert_eq!(
        change(&entries[0], "status"),
        Some((&text("in_progress"), &text("todo")))
    );
    assert_eq!(
        change(&entries[0], "completedAt"),
        None,
        "null to null left out"
    );
}

#[tokio::test]
async fn an_unknown_item_is_not_found() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let mut all = Vec::new();
    for kind in ItemKind::ALL {
        all.extend(h.items(kind).await.into_iter().map(|i| i.id.0));
    }
    let unknown = ItemId(all.iter().max().expect("items") + 1);

    let result = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            unknown,
            parse_status("done"),
            &h.client,
        )
        .await;

    assert!(
        matches!(result, Err(RosterError::NotFound(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn another_users_character_is_not_found() {
    let h = Harness::new().await;
    let (owner, stranger) = (h.user(), h.user());
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quest = h.items(ItemKind::Quest).await[0].id;

    let set = h
        .roster
        .set_progression(
            stranger,
            hero.character.id,
            quest,
            parse_status("done"),
            &h.client,
        )
        .await;
    let listed = h
        .roster
        .list_progressions(
            stranger,
            hero.character.id,
            None,
            None,
            PageRequest::default(),
        )
        .await;
    let summary = h.roster.progress_summary(stranger, hero.character.id).await;

    assert!(matches!(set, Err(RosterError::NotFound(_))), "{set:?}");
    assert!(
        matches!(listed, Err(RosterError::NotFound(_))),
        "{listed:?}"
    );
    assert!(
        matches!(summary, Err(RosterError::NotFound(_))),
        "{summary:?}"
    );
    let own = h
        .roster
        .list_progressions(owner, hero.character.id, None, None, PageRequest::default())
        .await
        .expect("own list");
    assert_eq!(own.total, 0, "nothing was written");
}

#[test]
fn an_invalid_status_or_kind_never_reaches_a_use_case() {
    // Statuses and kinds arrive typed: the driving adapter refuses any
    // other text with a 400 naming the field (see the HTTP suite).
    assert_eq!(ProgressStatus::parse("finished"), None);
    assert_eq!(ProgressStatus::parse("later"), None);
    assert_eq!(ItemKind::parse("raid"), None);
}

#[tokio::test]
async fn the_list_filters_by_kind_and_status_and_pages_by_item_id() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quests = h.items(ItemKind::Quest).await;
    let dungeons = h.items(ItemKind::Dungeon).await;
    let id = hero.character.id;
    for (item, status) in [
        (quests[2].id, "done"),
        (quests[0].id, "in_progress"),
        (quests[1].id, "done"),
        (dungeons[0].id, "done"),
    ] {
        h.roster
            .set_progression(owner, id, item, parse_status(status), &h.client)
            .await
            .expect("set");
    }

    let done_quests = h
        .roster
        .list_progressions(
            owner,
            id,
            Some(ItemKind::Quest),
            Some(ProgressStatus::Done),
            PageRequest::default(),
        )
        .await
        .expect("list");
    let second_page = h
        .roster
        .list_progressions(
            owner,
            id,
            None,
            None,
            PageRequest::parse(Some(2), Some(3)).expect("page"),
        )
        .await
        .expect("list");

    let ids = |page: &domain::Paged<domain::ProgressionView>| -> Vec<ItemId> {
        page.items.iter().map(|p| p.progression.item_id).collect()
    };
    assert_eq!(ids(&done_quests), [quests[1].id, quests[2].id]);
    assert_eq!(done_quests.total, 2);
    let mut all = [quests[0].id, quests[1].id, quests[2].id, dungeons[0].id];
    all.sort_by_key(|i| i.0);
    assert_eq!(second_page.total, 4);
    assert_eq!(ids(&second_page), all[3..]);
}

#[tokio::test]
async fn the_summary_adds_up_to_the_catalog() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quests = h.items(ItemKind::Quest).await;
    let achievements = h.items(ItemKind::Achievement).await;
    let id = hero.character.id;
    for (item, status) in [
        (quests[0].id, "done"),
        (quests[1].id, "done"),
        (quests[2].id, "in_progress"),
        (quests[3].id, "todo"),
        (achievements[0].id, "in_progress"),
    ] {
        h.roster
            .set_progression(owner, id, item, parse_status(status), &h.client)
            .await
            .expect("set");
    }

    let summary = h.roster.progress_summary(owner, id).await.expect("summary");

    assert_eq!(summary.quest.total, quests.len() as u64);
    assert_eq!(summary.quest.done, 2);
    assert_eq!(summary.quest.in_progress, 1);
    assert_eq!(summary.achievement.total, achievements.len() as u64);
    assert_eq!(summary.achievement.in_progress, 1);
    assert_eq!(summary.achievement.done, 0);
    assert_eq!(
        summary.dungeon.total,
        h.items(ItemKind::Dungeon).await.len() as u64
    );
    assert_eq!(summary.dungeon.todo, summary.dungeon.total);
    for line in [summary.quest, summary.achievement, summary.dungeon] {
        assert_eq!(line.todo, line.total - line.in_progress - line.done);
    }
}

#[tokio::test]
async fn a_deleted_characters_progressions_are_gone() {
    let h = Harness::new().await;
    let owner = h.user();
    let hero = h.character_on(owner, "Hero", h.servers[0].id).await;
    let quest = h.items(ItemKind::Quest).await[0].id;
    h.roster
        .set_progression(
            owner,
            hero.character.id,
            quest,
            parse_status("done"),
            &h.client,
        )
        .await
        .expect("set");

    h.roster
        .delete_character(owner, hero.character.id, &h.client)
        .await
        .expect("deleted");

    let set = h
        .roster
        .set_progression(
            owner,
            hero.character.id,
            quest,
            parse_status("todo"),
            &h.client,
        )
        .await;
    let listed = h
        .roster
        .list_progressions(owner, hero.character.id, None, None, PageRequest::default())
        .await;
    assert!(matches!(set, Err(RosterError::NotFound(_))), "{set:?}");
    assert!(
        matches!(listed, Err(RosterError::NotFound(_))),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_team_view_shows_todo_for_members_without_a_progression() {
    let h = Harness::new().await;
    let owner = h.user();
    let server = h.servers[0].id;
    let a = h.character_on(owner, "Alpha", server).await;
    let b = h.character_on(owner, "Bravo", server).await;
    let c = h.character_on(owner, "Charlie", server).await;
    let dungeon = h.items(ItemKind::Dungeon).await[0].id;
    let team = h
        .roster
        .create_team(
            owner,
            NewTeam {
                name: roster_name("Trio"),
                description: None,
                member_ids: members(&[c.character.id, a.character.id, b.character.id]),
            },
            &h.client,
        )
        .await
        .expect("team");
    let done_at = h.now();
    h.roster
        .set_progression(
            owner,
            a.character.id,
            dungeon,
            parse_status("done"),
            &h.client,
        )
        .await
        .expect("a done");
    h.roster
        .set_progression(
            owner,
            b.character.id,
            dungeon,
            parse_status("in_progress"),
            &h.client,
        )
        .await
        .expect("b in progress");

    let lines = h
        .roster
        .team_progress(owner, team.team.id, dungeon)
        .await
        .expect("team view");

    let seen: Vec<_> = lines
        .iter()
        .map(|l| (l.member.character.id, l.status, l.completed_at))
        .collect();
    assert_eq!(
        seen,
        [
            (c.character.id, ProgressStatus::Todo, None),
            (a.character.id, ProgressStatus::Done, Some(done_at)),
            (b.character.id, ProgressStatus::InProgress, None),
        ]
    );
    assert_eq!(lines[0].member.server_name, c.server_name);
}

#[tokio::test]
async fn a_team_view_of_an_unknown_item_or_team_is_not_found() {
    let h = Harness::new().await;
    let (owner, stranger) = (h.user(), h.user());
    let dungeon = h.items(ItemKind::Dungeon).await[0].id;
    let team = h
        .roster
        .create_team(
            owner,
            NewTeam {
                name: roster_name("Solo"),
                description: None,
                member_ids: members(&[]),
            },
            &h.client,
        )
        .await
        .expect("team");

    let unknown_item = h
        .roster
        .team_progress(owner, team.team.id, ItemId(-1))
        .await;
    let foreign_team = h
        .roster
        .team_progress(stranger, team.team.id, dungeon)
        .await;

    assert!(
        matches!(unknown_item, Err(RosterError::NotFound(_))),
        "{unknown_item:?}"
    );
    assert!(
        matches!(foreign_team, Err(RosterError::NotFound(_))),
        "{foreign_team:?}"
    );
}
