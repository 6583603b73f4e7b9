//! The rules of API.md "Characters", pinned through HTTP: the Character
//! shape with its catalog names, the list's filters, sorts and pages, the
//! uniqueness and catalog rules, `ETag`/`If-Match` with strong comparison,
//! soft and bulk deletes, and the audit trail of every change.

use domain::ports::Clock;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{Reply, SignedIn, TestApp, send};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A UUIDv7 that names nothing on the server.
fn fresh_uuid() -> String {
    domain::ids::new_v7(OffsetDateTime::now_utc(), &adapter_system::OsRandom).to_string()
}

fn timestamp(value: &Value) -> OffsetDateTime {
    let text = value.as_str().expect("a timestamp string");
    assert!(text.ends_with('Z'), "{text} is not in UTC");
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 timestamp")
}

/// An `{id, name}` of the catalog.
#[derive(Debug, Clone)]
struct Named {
    id: i64,
    name: String,
}

/// The catalog's classes and servers, as the public routes list them.
struct Catalog {
    classes: Vec<Named>,
    servers: Vec<Named>,
}

impl Catalog {
    async fn read(app: &TestApp) -> Self {
        let list = |reply: Reply| -> Vec<Named> {
            reply.expect_status(StatusCode::OK);
            reply
                .items()
                .iter()
                .map(|e| Named {
                    id: e["id"].as_i64().expect("an id"),
                    name: e["name"].as_str().expect("a name").to_owned(),
                })
                .collect()
        };
        let catalog = Self {
            classes: list(app.get("/catalog/classes", None).await),
            servers: list(app.get("/catalog/servers", None).await),
        };
        assert!(catalog.classes.len() >= 2 && catalog.servers.len() >= 2);
        catalog
    }

    /// A class id the catalog does not hold.
    fn unknown_class(&self) -> i64 {
        self.classes.iter().map(|c| c.id).max().unwrap_or(0) + 1000
    }

    fn unknown_server(&self) -> i64 {
        self.servers.iter().map(|s| s.id).max().unwrap_or(0) + 1000
    }
}

/// A user with one account and the catalog, ready to create characters.
struct Player {
    user: SignedIn,
    account: String,
}

async fn player(app: &TestApp) -> Player {
    let user = app.new_user().await;
    let account = app
        .create_as("/accounts", &user.access_token, &json!({"name": "Main"}))
        .await["id"]
        .as_str()
        .expect("an account id")
        .to_owned();
    Player { user, account }
}

fn character_body(p: &Player, name: &str, level: i64, class: &Named, server: &Named) -> Value {
    json!({
        "name": name,
        "level": level,
        "classId": class.id,
        "serverId": server.id,
        "accountId": p.account,
    })
}

async fn new_character(
    app: &TestApp,
    p: &Player,
    name: &str,
    level: i64,
    class: &Named,
    server: &Named,
) -> String {
    app.create_as(
        "/characters",
        &p.user.access_token,
        &character_body(p, name, level, class, server),
    )
    .await["id"]
        .as_str()
        .expect("a character id")
        .to_owned()
}

/// `PATCH /characters/{id}` with an optional `If-Match`.
async fn patch(
    app: &TestApp,
    bearer: &str,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Reply {
    let mut request = app
        .api(Method::PATCH, &format!("/characters/{id}"))
        .bearer_auth(bearer)
        .json(body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    send(request).await
}

async fn read(app: &TestApp, bearer: &str, id: &str) -> Reply {
    app.get(&format!("/characters/{id}"), Some(bearer)).await
}

fn names(reply: &Reply) -> Vec<&str> {
    reply
        .items()
        .iter()
        .map(|c| c["name"].as_str().expect("a name"))
        .collect()
}

async fn list(app: &TestApp, bearer: &str, query: &str) -> Reply {
    let reply = app.get(&format!("/characters?{query}"), Some(bearer)).await;
    reply.expect_status(StatusCode::OK);
    reply
}

async fn audit_of(app: &TestApp, bearer: &str, id: &str) -> Vec<Value> {
    app.get(
        &format!("/audit?resourceType=character&resourceId={id}"),
        Some(bearer),
    )
    .await
    .items()
    .clone()
}

// --- Creating and reading ------------------------------------------------------

#[tokio::test]
async fn creating_a_character_answers_201_with_catalog_names_and_an_etag() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let (class, server) = (&catalog.classes[1], &catalog.servers[1]);
    let now = app.clock.now();

    let reply = app
        .post_json_as(
            "/characters",
            &p.user.access_token,
            &character_body(&p, " Ana ", 42, class, server),
        )
        .await;

    reply.expect_status(StatusCode::CREATED);
    let data = reply.data().as_object().expect("a character object");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "account",
            "classId",
            "className",
            "createdAt",
            "id",
            "level",
            "name",
            "serverId",
            "serverName",
            "updatedAt"
        ]
    );
    assert_eq!(data["name"], "Ana");
    assert_eq!(data["level"], 42);
    assert_eq!(data["classId"], class.id);
    assert_eq!(data["className"], class.name.as_str());
    assert_eq!(data["serverId"], server.id);
    assert_eq!(data["serverName"], server.name.as_str());
    assert_eq!(data["account"], json!({"id": p.account, "name": "Main"}));
    assert_eq!(timestamp(&data["createdAt"]), now);
    assert_eq!(timestamp(&data["updatedAt"]), now);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let id = data["id"].as_str().expect("id");
    let got = read(&app, &p.user.access_token, id).await;
    got.expect_status(StatusCode::OK);
    assert_eq!(got.data(), reply.data());
    assert_eq!(got.header("etag"), Some("\"1\""));
}

#[tokio::test]
async fn invalid_characters_are_refused_naming_the_field() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let good = character_body(&p, "Good", 1, &catalog.classes[0], &catalog.servers[0]);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(field);
        body
    };
    let cases = [
        (with("name", json!("A")), "name"),
        (with("name", json!("n".repeat(51))), "name"),
        (with("name", json!(42)), "name"),
        (with("level", json!(0)), "level"),
        (with("level", json!(201)), "level"),
        (with("level", json!("5")), "level"),
        (with("level", json!(1.5)), "level"),
        (with("classId", json!(catalog.unknown_class())), "classId"),
        (with("classId", json!("1")), "classId"),
        (
            with("serverId", json!(catalog.unknown_server())),
            "serverId",
        ),
        (with("accountId", json!("not-a-uuid")), "accountId"),
        (with("accountId", json!(7)), "accountId"),
        (without("level"), "level"),
        (without("accountId"), "accountId"),
        (with("className", json!("Iop")), "className"),
        (with("id", json!(p.account)), "id"),
    ];

    for (body, field) in cases {
        let reply = app
            .post_json_as("/characters", &p.user.access_token, &body)
            .await;
        reply.expect_invalid_field(field);
    }
    let edges = [
        character_body(&p, "Lowest", 1, &catalog.classes[0], &catalog.servers[0]),
        character_body(&p, "Highest", 200, &catalog.classes[0], &catalog.servers[0]),
    ];
    for body in edges {
        app.create_as("/characters", &p.user.access_token, &body)
            .await;
    }
    let all = list(&app, &p.user.access_token, "").await;
    assert_eq!(names(&all), ["Highest", "Lowest"]);
}

#[tokio::test]
async fn unknown_class_and_server_are_each_named() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let mut body = character_body(&p, "Good", 1, &catalog.classes[0], &catalog.servers[0]);
    body["classId"] = json!(catalog.unknown_class());
    body["serverId"] = json!(catalog.unknown_server());

    let reply = app
        .post_json_as("/characters", &p.user.access_token, &body)
        .await;

    reply.expect_invalid_field("classId");
    reply.expect_invalid_field("serverId");
}

#[tokio::test]
async fn names_are_unique_per_user_and_server_ignoring_case() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let q = player(&app).await;
    let (class, one, two) = (
        &catalog.classes[0],
        &catalog.servers[0],
        &catalog.servers[1],
    );
    new_character(&app, &p, "Ana", 1, class, one).await;

    let same_server = app
        .post_json_as(
            "/characters",
            &p.user.access_token,
            &character_body(&p, "ANA", 5, class, one),
        )
        .await;
    let other_server = app
        .post_json_as(
            "/characters",
            &p.user.access_token,
            &character_body(&p, "ana", 5, class, two),
        )
        .await;
    let other_user = app
        .post_json_as(
            "/characters",
            &q.user.access_token,
            &character_body(&q, "Ana", 5, class, one),
        )
        .await;

    same_server.expect_error(StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(same_server.error_fields(), ["name"]);
    other_server.expect_status(StatusCode::CREATED);
    other_user.expect_status(StatusCode::CREATED);
}

#[tokio::test]
async fn another_users_account_and_character_are_not_found() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let q = player(&app).await;
    let (class, server) = (&catalog.classes[0], &catalog.servers[0]);
    let theirs = new_character(&app, &q, "Theirs", 1, class, server).await;

    let on_their_account = app
        .post_json_as(
            "/characters",
            &p.user.access_token,
            &character_body(&q, "Sneaky", 1, class, server),
        )
        .await;
    on_their_account.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    read(&app, &p.user.access_token, &theirs)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    patch(
        &app,
        &p.user.access_token,
        &theirs,
        None,
        &json!({"level": 2}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/characters/{theirs}"), &p.user.access_token)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let mine = new_character(&app, &p, "Mine", 1, class, server).await;
    patch(
        &app,
        &p.user.access_token,
        &mine,
        None,
        &json!({"accountId": q.account}),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    read(&app, &p.user.access_token, "nope")
        .await
        .expect_invalid_field("id");
    app.get("/characters", None).await.expect_unauthenticated();

    let still = read(&app, &q.user.access_token, &theirs).await;
    assert_eq!(still.data()["level"], 1);
    assert_eq!(list(&app, &q.user.access_token, "").await.items().len(), 1);
}

// --- Listing -------------------------------------------------------------------

/// Four characters on two accounts, two classes, two servers.
struct Fixture {
    p: Player,
    second_account: String,
    catalog: Catalog,
}

async fn fixture(app: &TestApp) -> Fixture {
    let catalog = Catalog::read(app).await;
    let p = player(app).await;
    let second_account = app
        .create_as(
            "/accounts",
            &p.user.access_token,
            &json!({"name": "Second"}),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (c0, c1) = (&catalog.classes[0], &catalog.classes[1]);
    let (s0, s1) = (&catalog.servers[0], &catalog.servers[1]);
    new_character(app, &p, "bravo", 50, c0, s0).await;
    app.clock.advance(time::Duration::seconds(1));
    new_character(app, &p, "Alpha", 120, c1, s0).await;
    app.clock.advance(time::Duration::seconds(1));
    new_character(app, &p, "Delta", 10, c0, s1).await;
    app.clock.advance(time::Duration::seconds(1));
    let mut body = character_body(&p, "charlie", 200, c1, s1);
    body["accountId"] = json!(second_account);
    app.create_as("/characters", &p.user.access_token, &body)
        .await;
    Fixture {
        p,
        second_account,
        catalog,
    }
}

#[tokio::test]
async fn the_list_sorts_by_each_key() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let f = fixture(&app).await;
    let token = &f.p.user.access_token;

    for (sort, expected) in [
        ("", ["Alpha", "bravo", "charlie", "Delta"]),
        ("sort=name", ["Alpha", "bravo", "charlie", "Delta"]),
        ("sort=-name", ["Delta", "charlie", "bravo", "Alpha"]),
        ("sort=level", ["Delta", "bravo", "Alpha", "charlie"]),
        ("sort=-level", ["charlie", "Alpha", "bravo", "Delta"]),
        ("sort=createdAt", ["bravo", "Alpha", "Delta", "charlie"]),
        ("sort=-createdAt", ["charlie", "Delta", "Alpha", "bravo"]),
    ] {
        let reply = list(&app, token, sort).await;
        assert_eq!(names(&reply), expected, "{sort}");
    }
    app.get("/characters?sort=age", Some(token))
        .await
        .expect_invalid_field("sort");
}

#[tokio::test]
async fn the_list_filters_by_each_criterion() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let f = fixture(&app).await;
    let token = &f.p.user.access_token;
    let (c0, c1) = (f.catalog.classes[0].id, f.catalog.classes[1].id);
    let (s0, s1) = (f.catalog.servers[0].id, f.catalog.servers[1].id);
    let unknown = f.catalog.unknown_class();

    for (query, expected) in [
        ("search=HA".to_owned(), vec!["Alpha", "charlie"]),
        (format!("classIds={c0}"), vec!["bravo", "Delta"]),
        (
            format!("classIds={c0}&classIds={c1}"),
            vec!["Alpha", "bravo", "charlie", "Delta"],
        ),
        (format!("classIds={unknown}"), vec![]),
        (format!("serverIds={s1}"), vec!["charlie", "Delta"]),
        (format!("serverIds={s0}&classIds={c1}"), vec!["Alpha"]),
        (format!("accountIds={}", f.second_account), vec!["charlie"]),
        (
            format!("accountIds={}&accountIds={}", f.second_account, f.p.account),
            vec!["Alpha", "bravo", "charlie", "Delta"],
        ),
        ("levelMin=50".to_owned(), vec!["Alpha", "bravo", "charlie"]),
        ("levelMax=50".to_owned(), vec!["bravo", "Delta"]),
        (
            "levelMin=50&levelMax=120".to_owned(),
            vec!["Alpha", "bravo"],
        ),
        ("levelMin=200&levelMax=200".to_owned(), vec!["charlie"]),
    ] {
        let reply = list(&app, token, &query).await;
        assert_eq!(names(&reply), expected, "{query}");
        assert_eq!(reply.body["pagination"]["total"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn bad_list_parameters_are_refused_naming_them() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for (query, field) in [
        ("classIds=iop", "classIds"),
        ("classIds=1&classIds=x", "classIds"),
        ("serverIds=1.5", "serverIds"),
        ("accountIds=123", "accountIds"),
        ("levelMin=0", "levelMin"),
        ("levelMax=201", "levelMax"),
        ("levelMin=abc", "levelMin"),
        ("levelMin=100&levelMax=50", "levelMin"),
        ("sort=", "sort"),
        ("page=0", "page"),
        ("perPage=101", "perPage"),
    ] {
        app.get(&format!("/characters?{query}"), Some(&user.access_token))
            .await
            .expect_invalid_field(field);
    }
}

#[tokio::test]
async fn the_list_pages_with_totals() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let f = fixture(&app).await;
    let token = &f.p.user.access_token;

    let first = list(&app, token, "perPage=3").await;
    let second = list(&app, token, "perPage=3&page=2").await;

    assert_eq!(names(&first), ["Alpha", "bravo", "charlie"]);
    assert_eq!(names(&second), ["Delta"]);
    assert_eq!(
        second.body["pagination"],
        json!({"page": 2, "perPage": 3, "total": 4, "totalPages": 2})
    );
    let account = &first.items()[0]["account"];
    assert_eq!(account["id"], f.p.account.as_str());
    assert_eq!(account["name"], "Main");
}

// --- Updating, ETag and If-Match -----------------------------------------------

#[tokio::test]
async fn patch_changes_the_fields_sent_and_answers_the_new_etag() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let id = new_character(&app, &p, "Ana", 1, &catalog.classes[0], &catalog.servers[0]).await;
    let other_account = app
        .create_as("/accounts", &p.user.access_token, &json!({"name": "Alt"}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.clock.advance(time::Duration::seconds(10));
    let (class, server) = (&catalog.classes[1], &catalog.servers[1]);

    let reply = patch(
        &app,
        &p.user.access_token,
        &id,
        Some("\"1\""),
        &json!({"name": "Ana Two", "level": 2, "classId": class.id, "serverId": server.id, "accountId": other_account}),
    )
    .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let data = reply.data();
    assert_eq!(data["name"], "Ana Two");
    assert_eq!(data["level"], 2);
    assert_eq!(data["className"], class.name.as_str());
    assert_eq!(data["serverName"], server.name.as_str());
    assert_eq!(data["account"], json!({"id": other_account, "name": "Alt"}));
    assert_eq!(
        timestamp(&data["updatedAt"]) - timestamp(&data["createdAt"]),
        time::Duration::seconds(10)
    );
    let again = read(&app, &p.user.access_token, &id).await;
    assert_eq!(again.data(), data);
    assert_eq!(again.header("etag"), Some("\"2\""));
    let level_only = patch(&app, &p.user.access_token, &id, None, &json!({"level": 3})).await;
    assert_eq!(level_only.data()["name"], "Ana Two");
    assert_eq!(level_only.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_changes_nothing() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let id = new_character(&app, &p, "Ana", 1, &catalog.classes[0], &catalog.servers[0]).await;
    let token = &p.user.access_token;
    patch(&app, token, &id, Some("\"1\""), &json!({"level": 2}))
        .await
        .expect_status(StatusCode::OK);

    for stale in ["\"1\"", "W/\"2\"", "2", "\"2", "garbage", "\"1\", W/\"2\""] {
        patch(&app, token, &id, Some(stale), &json!({"level": 99}))
            .await
            .expect_error(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    }

    let current = read(&app, token, &id).await;
    assert_eq!(current.data()["level"], 2);
    assert_eq!(current.header("etag"), Some("\"2\""));
    let updates: Vec<Value> = audit_of(&app, token, &id)
        .await
        .into_iter()
        .filter(|e| e["action"] == "character.updated")
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
}

#[tokio::test]
async fn if_match_star_or_a_list_holding_the_current_tag_succeeds() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let id = new_character(&app, &p, "Ana", 1, &catalog.classes[0], &catalog.servers[0]).await;
    let token = &p.user.access_token;

    let star = patch(&app, token, &id, Some("*"), &json!({"level": 2})).await;
    let listed = patch(&app, token, &id, Some("\"7\", \"2\""), &json!({"level": 3})).await;

    star.expect_status(StatusCode::OK);
    assert_eq!(star.header("etag"), Some("\"2\""));
    listed.expect_status(StatusCode::OK);
    assert_eq!(listed.header("etag"), Some("\"3\""));
    assert_eq!(listed.data()["level"], 3);
}

#[tokio::test]
async fn of_concurrent_patches_with_one_if_match_exactly_one_wins() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let id = new_character(&app, &p, "Ana", 1, &catalog.classes[0], &catalog.servers[0]).await;
    let token = &p.user.access_token;
    let tag = read(&app, token, &id)
        .await
        .header("etag")
        .expect("an etag")
        .to_owned();

    let bodies: Vec<Value> = (2..10).map(|level| json!({"level": level})).collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|body| patch(&app, token, &id, Some(&tag), body)),
    )
    .await;

    let won: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    for lost in replies.iter().filter(|r| r.status != StatusCode::OK) {
        lost.expect_error(StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    }
    let current = read(&app, token, &id).await;
    assert_eq!(current.data()["level"], won[0].data()["level"]);
    assert_eq!(current.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn bad_patches_are_refused_and_change_nothing() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let token = &p.user.access_token;
    let (class, server) = (&catalog.classes[0], &catalog.servers[0]);
    let id = new_character(&app, &p, "Ana", 1, class, server).await;
    new_character(&app, &p, "Taken", 1, class, server).await;
    let before = read(&app, token, &id).await;

    for (body, field) in [
        (json!({"level": 0}), "level"),
        (json!({"level": null}), "level"),
        (json!({"level": "2"}), "level"),
        (json!({"name": "x"}), "name"),
        (json!({"classId": catalog.unknown_class()}), "classId"),
        (json!({"serverId": catalog.unknown_server()}), "serverId"),
        (json!({"accountId": "zzz"}), "accountId"),
        (json!({"serverName": "Mine"}), "serverName"),
        (json!({"version": 9}), "version"),
    ] {
        let reply = patch(&app, token, &id, None, &body).await;
        reply.expect_invalid_field(field);
    }
    patch(&app, token, &id, None, &json!({"name": "TAKEN"}))
        .await
        .expect_error(StatusCode::CONFLICT, "CONFLICT");

    let after = read(&app, token, &id).await;
    assert_eq!(after.data(), before.data());
    assert_eq!(after.header("etag"), Some("\"1\""));
}

// --- Deleting ------------------------------------------------------------------

#[tokio::test]
async fn a_deleted_character_is_gone_from_every_answer() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let token = &p.user.access_token;
    let (class, server) = (&catalog.classes[0], &catalog.servers[0]);
    let id = new_character(&app, &p, "Ana", 1, class, server).await;

    let reply = app.delete(&format!("/characters/{id}"), token).await;

    reply.expect_status(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    read(&app, token, &id)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    patch(&app, token, &id, None, &json!({"level": 5}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.delete(&format!("/characters/{id}"), token)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(list(&app, token, "").await.items().is_empty());
    let account = app
        .get(&format!("/accounts/{}", p.account), Some(token))
        .await;
    assert_eq!(account.data()["characterCount"], 0);
    // The name is free again on that server.
    new_character(&app, &p, "Ana", 1, class, server).await;
}

#[tokio::test]
async fn bulk_delete_counts_only_the_callers_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let q = player(&app).await;
    let (class, server) = (&catalog.classes[0], &catalog.servers[0]);
    let one = new_character(&app, &p, "One", 1, class, server).await;
    let two = new_character(&app, &p, "Two", 1, class, server).await;
    let kept = new_character(&app, &p, "Kept", 1, class, server).await;
    let theirs = new_character(&app, &q, "Theirs", 1, class, server).await;
    let unknown = fresh_uuid();

    let reply = app
        .post_json_as(
            "/characters/bulk-delete",
            &p.user.access_token,
            &json!({"ids": [one, two, theirs, unknown, one]}),
        )
        .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data(), &json!({"deleted": 2}));
    assert_eq!(names(&list(&app, &p.user.access_token, "").await), ["Kept"]);
    assert_eq!(
        names(&list(&app, &q.user.access_token, "").await),
        ["Theirs"]
    );
    let again = app
        .post_json_as(
            "/characters/bulk-delete",
            &p.user.access_token,
            &json!({"ids": [one, kept]}),
        )
        .await;
    assert_eq!(again.data()["deleted"], 1);
    let deletions: Vec<Value> = audit_of(&app, &p.user.access_token, &two)
        .await
        .into_iter()
        .filter(|e| e["action"] == "character.deleted")
        .collect();
    assert_eq!(deletions.len(), 1);
}

#[tokio::test]
async fn bulk_delete_takes_one_to_a_hundred_uuids() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let many: Vec<String> = (0..101).map(|_| fresh_uuid()).collect();
    let hundred = &many[..100];

    for (body, field) in [
        (json!({"ids": []}), "ids"),
        (json!({"ids": many}), "ids"),
        (json!({"ids": ["nope"]}), "ids"),
        (json!({"ids": "x"}), "ids"),
        (json!({}), "ids"),
        (json!({"ids": [hundred[0]], "all": true}), "all"),
    ] {
        let reply = app
            .post_json_as("/characters/bulk-delete", &user.access_token, &body)
            .await;
        reply.expect_invalid_field(field);
    }
    let reply = app
        .post_json_as(
            "/characters/bulk-delete",
            &user.access_token,
            &json!({"ids": hundred}),
        )
        .await;
    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["deleted"], 0);
}

// --- Credentials and audit -----------------------------------------------------

#[tokio::test]
async fn an_api_key_acts_as_its_owner_on_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let key = app.new_api_key(&p.user.access_token, "script").await;
    let body = character_body(&p, "Scripted", 1, &catalog.classes[0], &catalog.servers[0]);

    let created = app.post_json_as("/characters", &key.key, &body).await;
    created.expect_status(StatusCode::CREATED);
    let id = created.data()["id"].as_str().expect("id").to_owned();
    patch(&app, &key.key, &id, Some("\"1\""), &json!({"level": 5}))
        .await
        .expect_status(StatusCode::OK);

    let listed = list(&app, &key.key, "").await;
    assert_eq!(names(&listed), ["Scripted"]);
    assert_eq!(
        read(&app, &p.user.access_token, &id).await.data()["level"],
        5
    );
    app.post_json_as("/characters/bulk-delete", &key.key, &json!({"ids": [id]}))
        .await
        .expect_status(StatusCode::OK);
    assert!(
        list(&app, &p.user.access_token, "")
            .await
            .items()
            .is_empty()
    );
}

#[tokio::test]
async fn every_change_of_a_character_is_audited_with_its_changes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let catalog = Catalog::read(&app).await;
    let p = player(&app).await;
    let token = &p.user.access_token;
    let id = new_character(&app, &p, "Ana", 1, &catalog.classes[0], &catalog.servers[0]).await;
    patch(&app, token, &id, None, &json!({"level": 2}))
        .await
        .expect_status(StatusCode::OK);
    // The same level again is no change: no entry, no new version.
    let same = patch(&app, token, &id, None, &json!({"level": 2})).await;
    assert_eq!(same.header("etag"), Some("\"2\""));
    app.delete(&format!("/characters/{id}"), token)
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let entries = audit_of(&app, token, &id).await;

    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "character.deleted",
            "character.updated",
            "character.created"
        ]
    );
    assert_eq!(
        entries[1]["changes"],
        json!({"level": {"from": 1, "to": 2}})
    );
    assert_eq!(entries[1]["resourceType"], "character");
    assert_eq!(entries[1]["resourceId"], id.as_str());
    assert_eq!(entries[1]["actorId"], p.user.user_id.as_str());
    let created = &entries[2]["changes"];
    assert_eq!(created["name"], json!({"from": null, "to": "Ana"}));
    assert_eq!(created["level"], json!({"from": null, "to": 1}));
    assert_eq!(created["accountId"]["to"], p.account.as_str());
}
