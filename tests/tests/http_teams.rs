//! The rules of API.md "Teams", pinned through HTTP: the Team shape with
//! its members, the list's search and pages, the member rules (the
//! caller's characters, distinct, at most 8, one server), name uniqueness,
//! PATCH semantics, deleted characters leaving teams, API-key access and
//! the audit trail.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{Reply, TestApp, send};
use tests::roster::{Player, id_of, servers};
use time::OffsetDateTime;

fn fresh_uuid() -> String {
    domain::ids::new_v7(OffsetDateTime::now_utc(), &adapter_system::OsRandom).to_string()
}

async fn create_team(app: &TestApp, player: &Player, body: &Value) -> Reply {
    app.post_json_as("/teams", player.token(), body).await
}

fn member_ids(team: &Value) -> Vec<&str> {
    team["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(id_of)
        .collect()
}

fn names(reply: &Reply) -> Vec<&str> {
    reply
        .items()
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect()
}

#[tokio::test]
async fn creating_a_team_answers_201_with_its_members_in_order() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let a = player.character(&app, "Alpha", server).await;
    let b = player.character(&app, "Bravo", server).await;

    let reply = create_team(
        &app,
        &player,
        &json!({"name": "Raiders", "description": "weekly", "memberIds": [id_of(&b), id_of(&a)]}),
    )
    .await;

    reply.expect_status(StatusCode::CREATED);
    let team = reply.data();
    let mut keys: Vec<&String> = team.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "description",
            "id",
            "members",
            "name",
            "updatedAt"
        ]
    );
    assert_eq!(team["name"], "Raiders");
    assert_eq!(team["description"], "weekly");
    assert_eq!(member_ids(team), [id_of(&b), id_of(&a)]);
    let member = &team["members"][0];
    for field in [
        "id",
        "name",
        "level",
        "classId",
        "className",
        "serverId",
        "serverName",
    ] {
        assert_eq!(member[field], b[field], "member {field}");
    }
    assert_eq!(member.as_object().expect("member").len(), 7);
    assert_eq!(team["createdAt"], team["updatedAt"]);

    let read = app
        .get(&format!("/teams/{}", id_of(team)), Some(player.token()))
        .await;
    read.expect_status(StatusCode::OK);
    assert_eq!(read.data(), team);
}

#[tokio::test]
async fn a_team_may_have_no_members_and_no_description() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;

    let reply = create_team(&app, &player, &json!({"name": "Empty", "memberIds": []})).await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.data()["members"], json!([]));
    assert_eq!(reply.data()["description"], Value::Null);
}

#[tokio::test]
async fn member_rules_answer_404_or_400() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let stranger = Player::new(&app).await;
    let servers = servers(&app).await;
    let mut mine = Vec::new();
    for n in 0..9 {
        let c = player
            .character(&app, &format!("Member {n}"), servers[0])
            .await;
        mine.push(id_of(&c).to_owned());
    }
    let far = player.character(&app, "Faraway", servers[1]).await;
    let theirs = stranger.character(&app, "Theirs", servers[0]).await;

    let foreign = create_team(
        &app,
        &player,
        &json!({"name": "T1", "memberIds": [mine[0], id_of(&theirs)]}),
    )
    .await;
    let unknown = create_team(
        &app,
        &player,
        &json!({"name": "T2", "memberIds": [fresh_uuid()]}),
    )
    .await;
    let nine = create_team(&app, &player, &json!({"name": "T3", "memberIds": mine})).await;
    let twice = create_team(
        &app,
        &player,
        &json!({"name": "T4", "memberIds": [mine[0], mine[0]]}),
    )
    .await;
    let split = create_team(
        &app,
        &player,
        &json!({"name": "T5", "memberIds": [mine[0], id_of(&far)]}),
    )
    .await;
    let eight = create_team(
        &app,
        &player,
        &json!({"name": "T6", "memberIds": mine[..8]}),
    )
    .await;

    foreign.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    unknown.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    nine.expect_invalid_field("memberIds");
    twice.expect_invalid_field("memberIds");
    split.expect_invalid_field("memberIds");
    eight.expect_status(StatusCode::CREATED);
    let listed = app.get("/teams", Some(player.token())).await;
    assert_eq!(names(&listed), ["T6"], "refused teams were not written");
}

#[tokio::test]
async fn bad_bodies_answer_400_naming_the_field() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;

    let cases = [
        (json!({"memberIds": []}), "name"),
        (json!({"name": 12, "memberIds": []}), "name"),
        (json!({"name": "x", "memberIds": []}), "name"),
        (json!({"name": "n".repeat(51), "memberIds": []}), "name"),
        (json!({"name": "Ok"}), "memberIds"),
        (
            json!({"name": "Ok", "memberIds": ["not-a-uuid"]}),
            "memberIds",
        ),
        (json!({"name": "Ok", "memberIds": "abc"}), "memberIds"),
        (
            json!({"name": "Ok", "memberIds": [], "description": "d".repeat(501)}),
            "description",
        ),
        (
            json!({"name": "Ok", "memberIds": [], "description": 5}),
            "description",
        ),
    ];
    for (body, field) in cases {
        create_team(&app, &player, &body)
            .await
            .expect_invalid_field(field);
    }
    create_team(
        &app,
        &player,
        &json!({"name": "Ok", "memberIds": [], "colour": "red"}),
    )
    .await
    .expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn team_names_are_unique_per_user_ignoring_case() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let other = Player::new(&app).await;
    create_team(&app, &player, &json!({"name": "Raiders", "memberIds": []}))
        .await
        .expect_status(StatusCode::CREATED);

    let same = create_team(&app, &player, &json!({"name": "rAIDERS", "memberIds": []})).await;
    let others = create_team(&app, &other, &json!({"name": "Raiders", "memberIds": []})).await;

    same.expect_error(StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(same.error_fields(), ["name"]);
    others.expect_status(StatusCode::CREATED);
}

#[tokio::test]
async fn the_list_is_sorted_by_name_searched_and_offset_paged() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    for name in ["Delta", "alpha", "Charlie", "Bravo", "Alpine"] {
        create_team(&app, &player, &json!({"name": name, "memberIds": []}))
            .await
            .expect_status(StatusCode::CREATED);
    }
    let list = |query: &'static str| app.get(query, Some(player.token()));

    let first = list("/teams?page=1&perPage=2").await;
    let last = list("/teams?page=3&perPage=2").await;
    let found = list("/teams?search=ALP").await;
    let default = list("/teams").await;

    first.expect_status(StatusCode::OK);
    assert_eq!(names(&first), ["alpha", "Alpine"]);
    assert_eq!(
        first.body["pagination"],
        json!({"page": 1, "perPage": 2, "total": 5, "totalPages": 3})
    );
    assert_eq!(names(&last), ["Delta"]);
    assert_eq!(names(&found), ["alpha", "Alpine"]);
    assert_eq!(found.body["pagination"]["total"], 2);
    assert_eq!(
        default.body["pagination"],
        json!({"page": 1, "perPage": 20, "total": 5, "totalPages": 1})
    );
    for (query, field) in [
        ("/teams?page=0", "page"),
        ("/teams?page=abc", "page"),
        ("/teams?perPage=0", "perPage"),
        ("/teams?perPage=101", "perPage"),
    ] {
        list(query).await.expect_invalid_field(field);
    }
}

#[tokio::test]
async fn patch_keeps_absent_fields_clears_a_null_description_and_replaces_members() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let a = player.character(&app, "Alpha", server).await;
    let b = player.character(&app, "Bravo", server).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Squad", "description": "kept", "memberIds": [id_of(&a)]}),
        )
        .await;
    let path = format!("/teams/{}", id_of(&team));
    app.clock.advance(time::Duration::minutes(3));

    let members = app
        .patch_json_as(
            &path,
            player.token(),
            &json!({"memberIds": [id_of(&b), id_of(&a)]}),
        )
        .await;
    let cleared = app
        .patch_json_as(&path, player.token(), &json!({"description": null}))
        .await;
    let renamed = app
        .patch_json_as(&path, player.token(), &json!({"name": "Renamed"}))
        .await;

    members.expect_status(StatusCode::OK);
    assert_eq!(member_ids(members.data()), [id_of(&b), id_of(&a)]);
    assert_eq!(members.data()["description"], "kept");
    assert_eq!(members.data()["name"], "Squad");
    assert_ne!(members.data()["updatedAt"], team["updatedAt"]);
    assert_eq!(members.data()["createdAt"], team["createdAt"]);
    cleared.expect_status(StatusCode::OK);
    assert_eq!(cleared.data()["description"], Value::Null);
    assert_eq!(member_ids(cleared.data()), [id_of(&b), id_of(&a)]);
    renamed.expect_status(StatusCode::OK);
    assert_eq!(renamed.data()["name"], "Renamed");
    assert_eq!(renamed.data()["description"], Value::Null);
}

#[tokio::test]
async fn patch_refuses_what_create_refuses() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let stranger = Player::new(&app).await;
    let servers = servers(&app).await;
    let a = player.character(&app, "Alpha", servers[0]).await;
    let far = player.character(&app, "Faraway", servers[1]).await;
    let theirs = stranger.character(&app, "Theirs", servers[0]).await;
    app.create_as(
        "/teams",
        player.token(),
        &json!({"name": "Taken", "memberIds": []}),
    )
    .await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Squad", "memberIds": [id_of(&a)]}),
        )
        .await;
    let path = format!("/teams/{}", id_of(&team));
    let patch = |body: Value| {
        let path = path.clone();
        let token = player.token().to_owned();
        let app = &app;
        async move { app.patch_json_as(&path, &token, &body).await }
    };

    patch(json!({"memberIds": [id_of(&a), id_of(&far)]}))
        .await
        .expect_invalid_field("memberIds");
    patch(json!({"memberIds": [id_of(&theirs)]}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    patch(json!({"name": "TAKEN"}))
        .await
        .expect_error(StatusCode::CONFLICT, "CONFLICT");
    patch(json!({"name": null}))
        .await
        .expect_invalid_field("name");
    patch(json!({"memberIds": null}))
        .await
        .expect_invalid_field("memberIds");
    patch(json!({"owner": "me"}))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let unchanged = app.get(&path, Some(player.token())).await;
    assert_eq!(unchanged.data(), &team);
}

#[tokio::test]
async fn another_users_team_and_unknown_ids_are_404_and_bad_ids_400() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let stranger = Player::new(&app).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Private", "memberIds": []}),
        )
        .await;
    let theirs = format!("/teams/{}", id_of(&team));
    let unknown = format!("/teams/{}", fresh_uuid());

    for path in [&theirs, &unknown] {
        app.get(path, Some(stranger.token()))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.patch_json_as(path, stranger.token(), &json!({"name": "Mine"}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
        app.delete(path, stranger.token())
            .await
            .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    app.get("/teams/not-a-uuid", Some(player.token()))
        .await
        .expect_invalid_field("id");
    app.delete("/teams/not-a-uuid", player.token())
        .await
        .expect_invalid_field("id");
    app.get("/teams", None).await.expect_unauthenticated();
    let intact = app.get(&theirs, Some(player.token())).await;
    assert_eq!(intact.data(), &team);
}

#[tokio::test]
async fn delete_answers_204_and_the_team_is_gone() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let a = player
        .character(&app, "Alpha", servers(&app).await[0])
        .await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Gone", "memberIds": [id_of(&a)]}),
        )
        .await;
    let path = format!("/teams/{}", id_of(&team));

    let reply = app.delete(&path, player.token()).await;

    reply.expect_status(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    app.get(&path, Some(player.token()))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&format!("/characters/{}", id_of(&a)), Some(player.token()))
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn a_deleted_character_vanishes_from_its_teams() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let a = player.character(&app, "Alpha", server).await;
    let b = player.character(&app, "Bravo", server).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Pair", "memberIds": [id_of(&a), id_of(&b)]}),
        )
        .await;

    app.delete(&format!("/characters/{}", id_of(&a)), player.token())
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let read = app
        .get(&format!("/teams/{}", id_of(&team)), Some(player.token()))
        .await;
    assert_eq!(member_ids(read.data()), [id_of(&b)]);
    let listed = app.get("/teams", Some(player.token())).await;
    assert_eq!(member_ids(&listed.items()[0]), [id_of(&b)]);
    app.post_json_as(
        "/teams",
        player.token(),
        &json!({"name": "Again", "memberIds": [id_of(&a)]}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn moving_a_teamed_character_to_another_server_conflicts() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let servers = servers(&app).await;
    let a = player.character(&app, "Alpha", servers[0]).await;
    let b = player.character(&app, "Bravo", servers[0]).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Pair", "memberIds": [id_of(&a), id_of(&b)]}),
        )
        .await;
    let character_path = format!("/characters/{}", id_of(&a));
    let team_path = format!("/teams/{}", id_of(&team));
    let character_before = app.get(&character_path, Some(player.token())).await;
    let team_before = app.get(&team_path, Some(player.token())).await;

    let reply = app
        .patch_json_as(
            &character_path,
            player.token(),
            &json!({"serverId": servers[1]}),
        )
        .await;

    reply.expect_error(StatusCode::CONFLICT, "CONFLICT");
    // Nothing changed: the character is where it was, the team whole.
    let character_after = app.get(&character_path, Some(player.token())).await;
    let team_after = app.get(&team_path, Some(player.token())).await;
    assert_eq!(character_after.data(), character_before.data());
    assert_eq!(character_after.data()["serverId"], servers[0]);
    assert_eq!(team_after.data(), team_before.data());
}

#[tokio::test]
async fn an_api_key_acts_as_its_owner_on_teams() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let key = app.new_api_key(player.token(), "script").await.key;

    let created = app
        .post_json_as("/teams", &key, &json!({"name": "By key", "memberIds": []}))
        .await;
    created.expect_status(StatusCode::CREATED);
    let path = format!("/teams/{}", id_of(created.data()));
    let listed = app.get("/teams", Some(&key)).await;
    let patched = app
        .patch_json_as(&path, &key, &json!({"description": "set by a script"}))
        .await;
    let deleted = app.delete(&path, &key).await;

    assert_eq!(names(&listed), ["By key"]);
    patched.expect_status(StatusCode::OK);
    assert_eq!(patched.data()["description"], "set by a script");
    deleted.expect_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_change_is_in_the_audit_trail_with_from_and_to() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let team = app
        .create_as(
            "/teams",
            player.token(),
            &json!({"name": "Before", "description": "old", "memberIds": []}),
        )
        .await;
    let id = id_of(&team);
    app.patch_json_as(
        &format!("/teams/{id}"),
        player.token(),
        &json!({"name": "After", "description": null}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.delete(&format!("/teams/{id}"), player.token())
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let audit = app
        .get(
            &format!("/audit?resourceType=team&resourceId={id}"),
            Some(player.token()),
        )
        .await;

    audit.expect_status(StatusCode::OK);
    let entries = audit.items();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(actions, ["team.deleted", "team.updated", "team.created"]);
    assert!(entries.iter().all(|e| e["actorId"] == player.user.user_id));
    assert_eq!(
        entries[1]["changes"],
        json!({"name": {"from": "Before", "to": "After"}, "description": {"from": "old", "to": null}})
    );
    assert_eq!(
        entries[2]["changes"]["name"],
        json!({"from": null, "to": "Before"})
    );
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;

    let reply = send(
        app.api(Method::PUT, "/teams")
            .bearer_auth(player.token())
            .json(&json!({})),
    )
    .await;

    reply.expect_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}
