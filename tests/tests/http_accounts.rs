//! The rules of API.md "Game accounts", pinned through HTTP: the Account
//! shape, the offset-paged list sorted by name, names unique per user
//! ignoring case, PATCH that tells a left-out field from `null`, and a
//! delete that refuses to orphan characters unless asked to cascade.

use domain::ports::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::app::{Reply, TestApp};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn timestamp(value: &Value) -> OffsetDateTime {
    let text = value.as_str().expect("a timestamp string");
    assert!(text.ends_with('Z'), "{text} is not in UTC");
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 timestamp")
}

async fn new_account(app: &TestApp, bearer: &str, name: &str) -> String {
    let data = app
        .create_as("/accounts", bearer, &json!({"name": name}))
        .await;
    data["id"].as_str().expect("an account id").to_owned()
}

/// The first class and server of the catalog, by id.
async fn class_and_server(app: &TestApp) -> (i64, i64) {
    let first = |reply: Reply| reply.items()[0]["id"].as_i64().expect("a catalog id");
    (
        first(app.get("/catalog/classes", None).await),
        first(app.get("/catalog/servers", None).await),
    )
}

async fn new_character(app: &TestApp, bearer: &str, account: &str, name: &str) -> String {
    let (class_id, server_id) = class_and_server(app).await;
    let data = app
        .create_as(
            "/characters",
            bearer,
            &json!({"name": name, "level": 10, "classId": class_id, "serverId": server_id, "accountId": account}),
        )
        .await;
    data["id"].as_str().expect("a character id").to_owned()
}

fn names(reply: &Reply) -> Vec<&str> {
    reply
        .items()
        .iter()
        .map(|a| a["name"].as_str().expect("a name"))
        .collect()
}

// --- Creating and reading ------------------------------------------------------

#[tokio::test]
async fn creating_an_account_answers_201_with_the_account() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let now = app.clock.now();

    let reply = app
        .post_json_as(
            "/accounts",
            &user.access_token,
            &json!({"name": "  Main  ", "notes": "the one I play"}),
        )
        .await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.body["success"], true);
    let data = reply.data().as_object().expect("an account object");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "characterCount",
            "createdAt",
            "id",
            "name",
            "notes",
            "updatedAt"
        ]
    );
    let id = uuid::Uuid::parse_str(data["id"].as_str().expect("an id")).expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(data["name"], "Main", "the name is trimmed");
    assert_eq!(data["notes"], "the one I play");
    assert_eq!(data["characterCount"], 0);
    assert_eq!(timestamp(&data["createdAt"]), now);
    assert_eq!(timestamp(&data["updatedAt"]), now);
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let read = app
        .get(&format!("/accounts/{id}"), Some(&user.access_token))
        .await;
    read.expect_status(StatusCode::OK);
    assert_eq!(read.data(), reply.data());
}

#[tokio::test]
async fn notes_are_optional_and_null_means_none() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let without = app
        .create_as("/accounts", &user.access_token, &json!({"name": "Alpha"}))
        .await;
    let null = app
        .create_as(
            "/accounts",
            &user.access_token,
            &json!({"name": "Beta", "notes": null}),
        )
        .await;

    assert_eq!(without["notes"], Value::Null);
    assert_eq!(null["notes"], Value::Null);
}

#[tokio::test]
async fn names_and_notes_outside_their_limits_are_refused_naming_the_field() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let cases = [
        (json!({"name": "A"}), "name"),
        (json!({"name": "   B   "}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"name": "Good", "notes": "n".repeat(501)}), "notes"),
        (json!({}), "name"),
        (json!({"name": 12345}), "name"),
        (json!({"name": "Good", "notes": 7}), "notes"),
        (json!({"name": "Good", "id": "x"}), "id"),
        (
            json!({"name": "Good", "characterCount": 3}),
            "characterCount",
        ),
    ];

    for (body, field) in cases {
        let reply = app
            .post_json_as("/accounts", &user.access_token, &body)
            .await;
        reply.expect_invalid_field(field);
    }
    let fifty = app
        .post_json_as(
            "/accounts",
            &user.access_token,
            &json!({"name": "x".repeat(50), "notes": "n".repeat(500)}),
        )
        .await;
    fifty.expect_status(StatusCode::CREATED);
    let list = app.get("/accounts", Some(&user.access_token)).await;
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.text);
}

#[tokio::test]
async fn account_names_are_unique_per_user_ignoring_case() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let other = app.new_user().await;
    new_account(&app, &user.access_token, "Main").await;

    let again = app
        .post_json_as("/accounts", &user.access_token, &json!({"name": "MAIN"}))
        .await;
    let elsewhere = app
        .post_json_as("/accounts", &other.access_token, &json!({"name": "main"}))
        .await;

    again.expect_error(StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(again.error_fields(), ["name"]);
    elsewhere.expect_status(StatusCode::CREATED);
}

#[tokio::test]
async fn another_users_account_is_not_found_and_a_bad_id_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let id = new_account(&app, &owner.access_token, "Main").await;
    let path = format!("/accounts/{id}");

    app.get(&path, Some(&other.access_token))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.patch_json_as(&path, &other.access_token, &json!({"name": "Stolen"}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&path, &other.access_token)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/accounts/not-a-uuid", Some(&owner.access_token))
        .await
        .expect_invalid_field("id");
    app.get(&path, None).await.expect_unauthenticated();

    let still = app.get(&path, Some(&owner.access_token)).await;
    still.expect_status(StatusCode::OK);
    assert_eq!(still.data()["name"], "Main");
}

// --- Listing -------------------------------------------------------------------

#[tokio::test]
async fn the_list_is_sorted_by_name_paged_and_searchable() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let other = app.new_user().await;
    for name in ["delta", "Alpha", "charlie", "Bravo", "echo"] {
        new_account(&app, &user.access_token, name).await;
    }
    new_account(&app, &other.access_token, "Aardvark").await;

    let first = app
        .get("/accounts?perPage=2", Some(&user.access_token))
        .await;
    let last = app
        .get("/accounts?page=3&perPage=2", Some(&user.access_token))
        .await;
    let beyond = app
        .get("/accounts?page=4&perPage=2", Some(&user.access_token))
        .await;
    let found = app
        .get("/accounts?search=HAR", Some(&user.access_token))
        .await;

    first.expect_status(StatusCode::OK);
    assert_eq!(names(&first), ["Alpha", "Bravo"]);
    assert_eq!(
        first.body["pagination"],
        json!({"page": 1, "perPage": 2, "total": 5, "totalPages": 3})
    );
    assert_eq!(first.body["success"], true);
    assert!(first.body["meta"]["requestId"].is_string());
    assert_eq!(names(&last), ["echo"]);
    assert_eq!(last.body["pagination"]["page"], 3);
    assert!(beyond.items().is_empty());
    assert_eq!(beyond.body["pagination"]["total"], 5);
    assert_eq!(names(&found), ["charlie"]);
    assert_eq!(found.body["pagination"]["total"], 1);
    let default = app.get("/accounts", Some(&user.access_token)).await;
    assert_eq!(
        default.body["pagination"],
        json!({"page": 1, "perPage": 20, "total": 5, "totalPages": 1})
    );
}

#[tokio::test]
async fn bad_paging_parameters_are_refused_naming_them() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for (query, field) in [
        ("page=0", "page"),
        ("perPage=0", "perPage"),
        ("perPage=101", "perPage"),
        ("page=x", "page"),
        ("perPage=1.5", "perPage"),
    ] {
        app.get(&format!("/accounts?{query}"), Some(&user.access_token))
            .await
            .expect_invalid_field(field);
    }
    app.get(
        &format!("/accounts?search={}", "s".repeat(101)),
        Some(&user.access_token),
    )
    .await
    .expect_invalid_field("search");
}

#[tokio::test]
async fn the_character_count_counts_live_characters_only() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let account = new_account(&app, &user.access_token, "Main").await;
    let kept = new_character(&app, &user.access_token, &account, "Kept").await;
    let gone = new_character(&app, &user.access_token, &account, "Gone").await;
    app.delete(&format!("/characters/{gone}"), &user.access_token)
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let read = app
        .get(&format!("/accounts/{account}"), Some(&user.access_token))
        .await;
    let listed = app.get("/accounts", Some(&user.access_token)).await;

    assert_eq!(read.data()["characterCount"], 1, "{}", read.text);
    assert_eq!(listed.items()[0]["characterCount"], 1);
    let characters = app.get("/characters", Some(&user.access_token)).await;
    let ids: Vec<&str> = characters
        .items()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [kept.as_str()]);
}

// --- Updating ------------------------------------------------------------------

#[tokio::test]
async fn patch_changes_only_the_fields_sent_and_null_clears_notes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let created = app
        .create_as(
            "/accounts",
            &user.access_token,
            &json!({"name": "Main", "notes": "keep me"}),
        )
        .await;
    let path = format!("/accounts/{}", created["id"].as_str().expect("id"));
    app.clock.advance(time::Duration::seconds(30));

    let renamed = app
        .patch_json_as(&path, &user.access_token, &json!({"name": "Alt"}))
        .await;
    renamed.expect_status(StatusCode::OK);
    assert_eq!(renamed.data()["name"], "Alt");
    assert_eq!(renamed.data()["notes"], "keep me");
    assert_eq!(renamed.data()["createdAt"], created["createdAt"]);
    assert_eq!(
        timestamp(&renamed.data()["updatedAt"]),
        timestamp(&created["updatedAt"]) + time::Duration::seconds(30)
    );

    let cleared = app
        .patch_json_as(&path, &user.access_token, &json!({"notes": null}))
        .await;
    cleared.expect_status(StatusCode::OK);
    assert_eq!(cleared.data()["notes"], Value::Null);
    assert_eq!(cleared.data()["name"], "Alt");

    let read = app.get(&path, Some(&user.access_token)).await;
    assert_eq!(read.data(), cleared.data());
}

#[tokio::test]
async fn a_bad_patch_is_refused_and_changes_nothing() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let id = new_account(&app, &user.access_token, "Main").await;
    new_account(&app, &user.access_token, "Taken").await;
    let path = format!("/accounts/{id}");
    let before = app.get(&path, Some(&user.access_token)).await;

    for (body, field) in [
        (json!({"name": "x"}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": 3}), "name"),
        (json!({"notes": "n".repeat(501)}), "notes"),
        (json!({"notes": false}), "notes"),
        (json!({"createdAt": "2020-01-01T00:00:00Z"}), "createdAt"),
    ] {
        let reply = app.patch_json_as(&path, &user.access_token, &body).await;
        reply.expect_invalid_field(field);
    }
    app.patch_json_as(&path, &user.access_token, &json!({"name": "taken"}))
        .await
        .expect_error(StatusCode::CONFLICT, "CONFLICT");
    app.patch_json_as(
        "/accounts/123",
        &user.access_token,
        &json!({"name": "Fine"}),
    )
    .await
    .expect_invalid_field("id");

    let after = app.get(&path, Some(&user.access_token)).await;
    assert_eq!(after.data(), before.data());
}

// --- Deleting ------------------------------------------------------------------

#[tokio::test]
async fn an_account_without_characters_is_deleted() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let id = new_account(&app, &user.access_token, "Main").await;
    let path = format!("/accounts/{id}");

    let reply = app.delete(&path, &user.access_token).await;

    reply.expect_status(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    app.get(&path, Some(&user.access_token))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&path, &user.access_token)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let list = app.get("/accounts", Some(&user.access_token)).await;
    assert!(list.items().is_empty());
    // Its name is free again.
    new_account(&app, &user.access_token, "Main").await;
}

#[tokio::test]
async fn an_account_with_characters_is_kept_unless_cascade() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let account = new_account(&app, &user.access_token, "Main").await;
    let other_account = new_account(&app, &user.access_token, "Other").await;
    let first = new_character(&app, &user.access_token, &account, "First").await;
    new_character(&app, &user.access_token, &account, "Second").await;
    let elsewhere = new_character(&app, &user.access_token, &other_account, "Elsewhere").await;
    let path = format!("/accounts/{account}");

    let refused = app.delete(&path, &user.access_token).await;
    refused.expect_error(StatusCode::CONFLICT, "CONFLICT");
    let explicit_false = app
        .delete(&format!("{path}?cascade=false"), &user.access_token)
        .await;
    explicit_false.expect_error(StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(
        app.get(&path, Some(&user.access_token)).await.data()["characterCount"],
        2
    );

    let cascaded = app
        .delete(&format!("{path}?cascade=true"), &user.access_token)
        .await;

    cascaded.expect_status(StatusCode::NO_CONTENT);
    app.get(&path, Some(&user.access_token))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get(&format!("/characters/{first}"), Some(&user.access_token))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let left = app.get("/characters", Some(&user.access_token)).await;
    let ids: Vec<&str> = left
        .items()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [elsewhere.as_str()]);
    let audit = app
        .get(
            &format!("/audit?resourceType=character&resourceId={first}"),
            Some(&user.access_token),
        )
        .await;
    let actions: Vec<&str> = audit
        .items()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["character.deleted", "character.created"]);
}

#[tokio::test]
async fn cascade_must_be_a_boolean() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let id = new_account(&app, &user.access_token, "Main").await;

    for value in ["yes", "1", "TRUE", ""] {
        app.delete(
            &format!("/accounts/{id}?cascade={value}"),
            &user.access_token,
        )
        .await
        .expect_invalid_field("cascade");
    }
    app.get(&format!("/accounts/{id}"), Some(&user.access_token))
        .await
        .expect_status(StatusCode::OK);
}

// --- Credentials and audit -----------------------------------------------------

#[tokio::test]
async fn an_api_key_acts_as_its_owner_on_accounts() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "script").await;

    let created = app
        .post_json_as("/accounts", &key.key, &json!({"name": "Scripted"}))
        .await;
    created.expect_status(StatusCode::CREATED);
    let listed = app.get("/accounts", Some(&user.access_token)).await;

    assert_eq!(names(&listed), ["Scripted"]);
    let id = created.data()["id"].as_str().expect("id");
    app.patch_json_as(
        &format!("/accounts/{id}"),
        &key.key,
        &json!({"notes": "via key"}),
    )
    .await
    .expect_status(StatusCode::OK);
    app.delete(&format!("/accounts/{id}"), &key.key)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    app.get("/accounts", Some("rk_not-a-real-key"))
        .await
        .expect_unauthenticated();
}

#[tokio::test]
async fn every_change_of_an_account_is_audited_with_its_changes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let id = new_account(&app, &user.access_token, "Main").await;
    let path = format!("/accounts/{id}");
    app.patch_json_as(&path, &user.access_token, &json!({"name": "Renamed"}))
        .await
        .expect_status(StatusCode::OK);
    // Setting what is already there changes nothing and records nothing.
    app.patch_json_as(&path, &user.access_token, &json!({"name": "Renamed"}))
        .await
        .expect_status(StatusCode::OK);
    app.delete(&path, &user.access_token)
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let audit = app
        .get(
            &format!("/audit?resourceType=account&resourceId={id}"),
            Some(&user.access_token),
        )
        .await;

    audit.expect_status(StatusCode::OK);
    let entries = audit.items();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["account.deleted", "account.updated", "account.created"]
    );
    assert_eq!(
        entries[1]["changes"],
        json!({"name": {"from": "Main", "to": "Renamed"}})
    );
    assert_eq!(entries[2]["changes"]["name"]["to"], "Main");
    assert_eq!(entries[0]["actorId"], user.user_id.as_str());
}
