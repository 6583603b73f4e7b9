//! Ownership, through HTTP: another user's objects answer exactly like
//! unknown ones, on every roster route — by path, inside bodies
//! (`accountId`, `memberIds`, bulk `ids`) and in list filters — whether the
//! intruder comes with an access token or with an API key, and the owner's
//! data is untouched afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{Reply, TestApp, send};

/// What the owner holds: one of everything.
struct Holdings {
    account: String,
    character: String,
    team: String,
    item: i64,
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<&Value>,
) -> Reply {
    let mut request = app.api(method, path).bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(body);
    }
    send(request).await
}

async fn created(app: &TestApp, path: &str, bearer: &str, body: Value) -> String {
    let reply = app.post_json_as(path, bearer, &body).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "POST {path}: {}",
        reply.text
    );
    reply.data()["id"].as_str().expect("an id").to_owned()
}

async fn first_quest(app: &TestApp) -> i64 {
    let reply = app.get("/catalog/items?kind=quest&perPage=1", None).await;
    reply.expect_status(StatusCode::OK);
    reply.items()[0]["id"].as_i64().expect("an item id")
}

/// An account, a character with a progression, and a team holding it.
async fn hold_one_of_everything(app: &TestApp, bearer: &str) -> Holdings {
    let account = created(app, "/accounts", bearer, json!({"name": "Main account"})).await;
    let character = created(
        app,
        "/characters",
        bearer,
        json!({"name": "Owned", "level": 50, "classId": 1, "serverId": 1, "accountId": account}),
    )
    .await;
    let team = created(
        app,
        "/teams",
        bearer,
        json!({"name": "Owned team", "memberIds": [character]}),
    )
    .await;
    let item = first_quest(app).await;
    call(
        app,
        Method::PUT,
        &format!("/characters/{character}/progressions/{item}"),
        bearer,
        Some(&json!({"status": "done"})),
    )
    .await
    .expect_status(StatusCode::OK);
    Holdings {
        account,
        character,
        team,
        item,
    }
}

/// Everything the owner can read of their holdings, to compare before and
/// after the intrusions.
async fn everything(app: &TestApp, bearer: &str, h: &Holdings) -> Vec<Value> {
    let paths = [
        format!("/accounts/{}", h.account),
        "/accounts".to_owned(),
        format!("/characters/{}", h.character),
        "/characters".to_owned(),
        format!("/teams/{}", h.team),
        "/teams".to_owned(),
        format!("/characters/{}/progressions", h.character),
        format!("/characters/{}/progressions/summary", h.character),
        format!("/teams/{}/progressions/{}", h.team, h.item),
    ];
    let mut seen = Vec::new();
    for path in paths {
        let reply = app.get(&path, Some(bearer)).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text);
        let mut body: Value = serde_json::from_str(&reply.text).expect("a JSON body");
        body["meta"] = Value::Null;
        seen.push(body);
    }
    seen
}

#[tokio::test]
async fn every_roster_route_hides_another_users_objects() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let owner = app.new_user().await;
    let holdings = hold_one_of_everything(&app, &owner.access_token).await;
    let before = everything(&app, &owner.access_token, &holdings).await;

    let intruder = app.new_user().await;
    let intruder_key = app.new_api_key(&intruder.access_token, "walker").await.key;
    // The intruder's own objects, to carry the owner's ids inside bodies.
    let own_account = created(
        &app,
        "/accounts",
        &intruder.access_token,
        json!({"name": "Intruder account"}),
    )
    .await;
    let own_character = created(
        &app,
        "/characters",
        &intruder.access_token,
        json!({"name": "Intruder", "level": 10, "classId": 1, "serverId": 1, "accountId": own_account}),
    )
    .await;
    let own_team = created(
        &app,
        "/teams",
        &intruder.access_token,
        json!({"name": "Intruder team", "memberIds": [own_character]}),
    )
    .await;

    let Holdings {
        account,
        character,
        team,
        item,
    } = &holdings;
    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/accounts/{account}"), None),
        (
            Method::PATCH,
            format!("/accounts/{account}"),
            Some(json!({"name": "Taken over"})),
        ),
        (Method::DELETE, format!("/accounts/{account}"), None),
        (
            Method::DELETE,
            format!("/accounts/{account}?cascade=true"),
            None,
        ),
        (Method::GET, format!("/characters/{character}"), None),
        (
            Method::PATCH,
            format!("/characters/{character}"),
            Some(json!({"level": 200})),
        ),
        (Method::DELETE, format!("/characters/{character}"), None),
        (
            Method::POST,
            "/characters".to_owned(),
            Some(
                json!({"name": "Smuggled", "level": 1, "classId": 1, "serverId": 1, "accountId": account}),
            ),
        ),
        (
            Method::PATCH,
            format!("/characters/{own_character}"),
            Some(json!({"accountId": account})),
        ),
        (Method::GET, format!("/teams/{team}"), None),
        (
            Method::PATCH,
            format!("/teams/{team}"),
            Some(json!({"name": "Taken over"})),
        ),
        (Method::DELETE, format!("/teams/{team}"), None),
        (
            Method::POST,
            "/teams".to_owned(),
            Some(json!({"name": "Smuggling team", "memberIds": [character]})),
        ),
        (
            Method::PATCH,
            format!("/teams/{own_team}"),
            Some(json!({"memberIds": [own_character, character]})),
        ),
        (
            Method::GET,
            format!("/characters/{character}/progressions"),
            None,
        ),
        (
            Method::GET,
            format!("/characters/{character}/progressions/summary"),
            None,
        ),
        (
            Method::PUT,
            format!("/characters/{character}/progressions/{item}"),
            Some(json!({"status": "todo"})),
        ),
        (
            Method::GET,
            format!("/teams/{team}/progressions/{item}"),
            None,
        ),
    ];

    for bearer in [&intruder.access_token, &intruder_key] {
        for (method, path, body) in &not_found {
            let reply = call(&app, method.clone(), path, bearer, body.as_ref()).await;
            assert_eq!(
                (reply.status, reply.error_code()),
                (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
                "{method} {path}: {}",
                reply.text
            );
        }

        let reply = app
            .post_json_as(
                "/characters/bulk-delete",
                bearer,
                &json!({"ids": [character]}),
            )
            .await;
        reply.expect_status(StatusCode::OK);
        assert_eq!(reply.data()["deleted"], 0, "{}", reply.text);

        for list in [
            format!("/characters?accountIds={account}"),
            format!("/audit?resourceType=character&resourceId={character}"),
        ] {
            let reply = app.get(&list, Some(bearer)).await;
            reply.expect_status(StatusCode::OK);
            assert!(reply.items().is_empty(), "{list}: {}", reply.text);
        }
        for (list, own) in [
            ("/accounts", &own_account),
            ("/characters", &own_character),
            ("/teams", &own_team),
        ] {
            let reply = app.get(list, Some(bearer)).await;
            reply.expect_status(StatusCode::OK);
            let ids: Vec<&str> = reply
                .items()
                .iter()
                .filter_map(|item| item["id"].as_str())
                .collect();
            assert_eq!(ids, [own.as_str()], "{list}: {}", reply.text);
        }
    }

    assert_eq!(
        everything(&app, &owner.access_token, &holdings).await,
        before,
        "the owner's data changed"
    );
}
