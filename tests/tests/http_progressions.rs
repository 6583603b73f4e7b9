//! The rules of API.md "Progression", pinned through HTTP: PUT creates or
//! updates with `completedAt` following `done`, the list's filters and
//! pages, the summary against the catalog's counts, a team's view of one
//! item, route ordering (`…/summary` vs `…/{itemId}`), the 400/404 cases,
//! API-key access and the audit trail.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{Reply, TestApp, send};
use tests::roster::{Player, id_of, items, put_json_as, servers};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn fresh_uuid() -> String {
    domain::ids::new_v7(OffsetDateTime::now_utc(), &adapter_system::OsRandom).to_string()
}

fn item_id(item: &Value) -> i64 {
    item["id"].as_i64().expect("an item id")
}

async fn set(app: &TestApp, token: &str, character: &str, item: i64, status: &str) -> Reply {
    put_json_as(
        app,
        &format!("/characters/{character}/progressions/{item}"),
        token,
        &json!({"status": status}),
    )
    .await
}

fn now_text(app: &TestApp) -> String {
    use domain::ports::Clock;
    app.clock.now().format(&Rfc3339).expect("a time")
}

fn same_instant(value: &Value, expected: &str) {
    let parse = |text: &str| OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
    assert_eq!(
        parse(value.as_str().expect("a timestamp")),
        parse(expected),
        "{value} is not {expected}"
    );
}

#[tokio::test]
async fn put_creates_a_progression_and_done_sets_completed_at() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let quest = items(&app, "quest").await[0].clone();
    let done_at = now_text(&app);

    let first = set(&app, player.token(), id_of(&hero), item_id(&quest), "done").await;
    app.clock.advance(time::Duration::minutes(1));
    let again = set(&app, player.token(), id_of(&hero), item_id(&quest), "done").await;

    first.expect_status(StatusCode::OK);
    let p = first.data();
    let mut keys: Vec<&String> = p.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "completedAt",
            "itemId",
            "itemName",
            "kind",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(p["itemId"], quest["id"]);
    assert_eq!(p["itemName"], quest["name"]);
    assert_eq!(p["kind"], "quest");
    assert_eq!(p["status"], "done");
    same_instant(&p["completedAt"], &done_at);
    same_instant(&p["updatedAt"], &done_at);
    again.expect_status(StatusCode::OK);
    assert_eq!(again.data(), p, "a repeated done changes nothing");
}

#[tokio::test]
async fn leaving_done_clears_completed_at() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let dungeon = item_id(&items(&app, "dungeon").await[0]);
    set(&app, player.token(), id_of(&hero), dungeon, "done")
        .await
        .expect_status(StatusCode::OK);
    app.clock.advance(time::Duration::minutes(5));

    let reopened = set(&app, player.token(), id_of(&hero), dungeon, "in_progress").await;
    let reset = set(&app, player.token(), id_of(&hero), dungeon, "todo").await;

    reopened.expect_status(StatusCode::OK);
    assert_eq!(reopened.data()["status"], "in_progress");
    assert_eq!(reopened.data()["completedAt"], Value::Null);
    same_instant(&reopened.data()["updatedAt"], &now_text(&app));
    assert_eq!(reset.data()["status"], "todo");
    assert_eq!(reset.data()["completedAt"], Value::Null);
}

#[tokio::test]
async fn put_refuses_bad_input_with_400_and_unknown_things_with_404() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let stranger = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let mut all = Vec::new();
    for kind in ["quest", "achievement", "dungeon"] {
        all.extend(items(&app, kind).await.iter().map(item_id));
    }
    let known = all[0];
    let unknown = all.iter().max().expect("items") + 1;
    let path = |item: &str| format!("/characters/{}/progressions/{item}", id_of(&hero));

    for body in [
        json!({"status": "finished"}),
        json!({"status": 1}),
        json!({}),
        json!({"status": "done", "note": "x"}),
    ] {
        put_json_as(&app, &path(&known.to_string()), player.token(), &body)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    put_json_as(
        &app,
        &path(&known.to_string()),
        player.token(),
        &json!({"status": "later"}),
    )
    .await
    .expect_invalid_field("status");
    put_json_as(
        &app,
        &path("abc"),
        player.token(),
        &json!({"status": "done"}),
    )
    .await
    .expect_invalid_field("itemId");
    put_json_as(
        &app,
        &format!("/characters/not-a-uuid/progressions/{known}"),
        player.token(),
        &json!({"status": "done"}),
    )
    .await
    .expect_invalid_field("id");
    set(&app, player.token(), id_of(&hero), unknown, "done")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    set(&app, stranger.token(), id_of(&hero), known, "done")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    set(&app, player.token(), &fresh_uuid(), known, "done")
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let list = app
        .get(
            &format!("/characters/{}/progressions", id_of(&hero)),
            Some(player.token()),
        )
        .await;
    assert_eq!(list.body["pagination"]["total"], 0, "nothing was written");
}

#[tokio::test]
async fn the_list_filters_by_kind_and_status_and_pages_by_item_id() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let quests: Vec<i64> = items(&app, "quest").await.iter().map(item_id).collect();
    let dungeons: Vec<i64> = items(&app, "dungeon").await.iter().map(item_id).collect();
    for (item, status) in [
        (quests[2], "done"),
        (quests[0], "in_progress"),
        (quests[1], "done"),
        (dungeons[0], "done"),
    ] {
        set(&app, player.token(), id_of(&hero), item, status)
            .await
            .expect_status(StatusCode::OK);
    }
    let base = format!("/characters/{}/progressions", id_of(&hero));
    let get = |query: String| {
        let app = &app;
        let token = player.token().to_owned();
        async move { app.get(&query, Some(&token)).await }
    };
    let ids = |reply: &Reply| -> Vec<i64> {
        reply
            .items()
            .iter()
            .map(|p| p["itemId"].as_i64().expect("id"))
            .collect()
    };

    let done_quests = get(format!("{base}?kind=quest&status=done")).await;
    let second = get(format!("{base}?page=2&perPage=3")).await;
    let dungeons_only = get(format!("{base}?kind=dungeon")).await;

    done_quests.expect_status(StatusCode::OK);
    assert_eq!(ids(&done_quests), [quests[1], quests[2]]);
    assert_eq!(done_quests.body["pagination"]["total"], 2);
    let mut all = [quests[0], quests[1], quests[2], dungeons[0]];
    all.sort_unstable();
    assert_eq!(ids(&second), all[3..]);
    assert_eq!(
        second.body["pagination"],
        json!({"page": 2, "perPage": 3, "total": 4, "totalPages": 2})
    );
    assert_eq!(ids(&dungeons_only), [dungeons[0]]);
    for (query, field) in [
        ("kind=raid", "kind"),
        ("status=later", "status"),
        ("page=0", "page"),
        ("perPage=101", "perPage"),
        ("perPage=x", "perPage"),
    ] {
        get(format!("{base}?{query}"))
            .await
            .expect_invalid_field(field);
    }
}

#[tokio::test]
async fn the_summary_adds_up_to_the_catalog() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let quests = items(&app, "quest").await;
    let achievements = items(&app, "achievement").await;
    let dungeons = items(&app, "dungeon").await;
    for (item, status) in [
        (&quests[0], "done"),
        (&quests[1], "in_progress"),
        (&achievements[0], "done"),
        (&achievements[1], "done"),
        (&achievements[2], "todo"),
    ] {
        set(&app, player.token(), id_of(&hero), item_id(item), status)
            .await
            .expect_status(StatusCode::OK);
    }

    let reply = app
        .get(
            &format!("/characters/{}/progressions/summary", id_of(&hero)),
            Some(player.token()),
        )
        .await;

    reply.expect_status(StatusCode::OK);
    let s = reply.data();
    let line = |total: usize, in_progress: usize, done: usize| json!({"todo": total - in_progress - done, "inProgress": in_progress, "done": done, "total": total});
    assert_eq!(s["quest"], line(quests.len(), 1, 1));
    assert_eq!(s["achievement"], line(achievements.len(), 0, 2));
    assert_eq!(s["dungeon"], line(dungeons.len(), 0, 0));
    app.get(
        &format!("/characters/{}/progressions/summary", id_of(&hero)),
        Some(Player::new(&app).await.token()),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn summary_is_a_get_route_and_an_item_route_only_takes_put() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let quest = item_id(&items(&app, "quest").await[0]);

    let get_item = app
        .get(
            &format!("/characters/{}/progressions/{quest}", id_of(&hero)),
            Some(player.token()),
        )
        .await;
    let put_summary = put_json_as(
        &app,
        &format!("/characters/{}/progressions/summary", id_of(&hero)),
        player.token(),
        &json!({"status": "done"}),
    )
    .await;

    get_item.expect_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    // `summary` is a route of its own (GET only), not an item id.
    put_summary.expect_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_team_view_shows_every_member_with_todo_when_there_is_no_progression() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let a = player.character(&app, "Alpha", server).await;
    let b = player.character(&app, "Bravo", server).await;
    let c = player.character(&app, "Charlie", server).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Trio", "memberIds": [id_of(&c), id_of(&a), id_of(&b)]}),
        )
        .await;
    let dungeon = item_id(&items(&app, "dungeon").await[0]);
    let done = set(&app, player.token(), id_of(&a), dungeon, "done").await;
    set(&app, player.token(), id_of(&b), dungeon, "in_progress")
        .await
        .expect_status(StatusCode::OK);

    let reply = app
        .get(
            &format!("/teams/{}/progressions/{dungeon}", id_of(&team)),
            Some(player.token()),
        )
        .await;

    reply.expect_status(StatusCode::OK);
    let lines = reply.items();
    let seen: Vec<(&str, &Value, &Value)> = lines
        .iter()
        .map(|l| (id_of(&l["member"]), &l["status"], &l["completedAt"]))
        .collect();
    assert_eq!(
        seen,
        [
            (id_of(&c), &json!("todo"), &Value::Null),
            (id_of(&a), &json!("done"), &done.data()["completedAt"]),
            (id_of(&b), &json!("in_progress"), &Value::Null),
        ]
    );
    assert_eq!(lines[0]["member"], team["members"][0]);
    assert_eq!(lines[0].as_object().expect("a line").len(), 3);
}

#[tokio::test]
async fn a_team_view_refuses_unknown_items_teams_and_bad_ids() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let stranger = Player::new(&app).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Solo", "memberIds": []}),
        )
        .await;
    let dungeon = item_id(&items(&app, "dungeon").await[0]);
    let view = |team: &str, item: &str| format!("/teams/{team}/progressions/{item}");

    app.get(&view(id_of(&team), "-1"), Some(player.token()))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(
        &view(id_of(&team), &dungeon.to_string()),
        Some(stranger.token()),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(
        &view(&fresh_uuid(), &dungeon.to_string()),
        Some(player.token()),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&view(id_of(&team), "x1"), Some(player.token()))
        .await
        .expect_invalid_field("itemId");
    app.get(&view("nope", &dungeon.to_string()), Some(player.token()))
        .await
        .expect_invalid_field("id");
}

#[tokio::test]
async fn an_api_key_acts_as_its_owner_and_each_change_is_audited() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let key = app.new_api_key(player.token(), "tracker").await.key;
    let hero = player.character(&app, "Hero", servers(&app).await[0]).await;
    let quest = item_id(&items(&app, "quest").await[0]);

    set(&app, &key, id_of(&hero), quest, "in_progress")
        .await
        .expect_status(StatusCode::OK);
    let done = set(&app, &key, id_of(&hero), quest, "done").await;
    set(&app, &key, id_of(&hero), quest, "done")
        .await
        .expect_status(StatusCode::OK);
    let listed = app
        .get(
            &format!("/characters/{}/progressions", id_of(&hero)),
            Some(&key),
        )
        .await;

    assert_eq!(listed.items().len(), 1);
    let resource = format!("{}:{quest}", id_of(&hero));
    let audit = send(
        app.api(Method::GET, "/audit")
            .query(&[
                ("resourceType", "progression"),
                ("resourceId", resource.as_str()),
            ])
            .bearer_auth(player.token()),
    )
    .await;
    audit.expect_status(StatusCode::OK);
    let entries = audit.items();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(actions, ["progression.updated", "progression.created"]);
    assert_eq!(
        entries[1]["changes"],
        json!({"status": {"from": null, "to": "in_progress"}})
    );
    assert_eq!(
        entries[0]["changes"]["status"],
        json!({"from": "in_progress", "to": "done"})
    );
    let to = &entries[0]["changes"]["completedAt"]["to"];
    same_instant(
        to,
        done.data()["completedAt"].as_str().expect("completedAt"),
    );
}
