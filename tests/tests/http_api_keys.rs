//! The rules of API.md "API keys" (and the API-key half of
//! "Authentication"), pinned through HTTP: a key is shown once, acts as its
//! owner on the roster routes, is refused on the routes that manage the
//! account's own security, and stops working when revoked or expired.

use adapter_system::OsRandom;
use domain::ports::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, TestApp, send};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";

fn timestamp(value: &Value) -> OffsetDateTime {
    let text = value.as_str().expect("a timestamp string");
    assert!(text.ends_with('Z'), "{text} is not in UTC");
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 timestamp")
}

/// A UUIDv7 that names nothing on the server.
fn fresh_uuid() -> Uuid {
    domain::ids::new_v7(OffsetDateTime::now_utc(), &OsRandom)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("a formattable time")
}

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn create_key(app: &TestApp, access_token: &str, body: &Value) -> Reply {
    app.post_json_as("/api-keys", access_token, body).await
}

async fn list_keys(app: &TestApp, access_token: &str) -> Reply {
    app.get("/api-keys", Some(access_token)).await
}

async fn read_audit(app: &TestApp, credential: &str) -> Reply {
    app.get("/audit", Some(credential)).await
}

fn listed_ids(reply: &Reply) -> Vec<&str> {
    reply
        .items()
        .iter()
        .filter_map(|key| key["id"].as_str())
        .collect()
}

// --- Creating and listing ------------------------------------------------------

#[tokio::test]
async fn creating_a_key_answers_201_with_the_key_shown_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let now = app.clock.now();

    let reply = create_key(&app, &user.access_token, &json!({"name": "CI script"})).await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.body["success"], true);
    let data = reply.data();
    let key = data["key"].as_str().expect("the key");
    let secret = key.strip_prefix("rk_").expect("a key starting rk_");
    assert!(secret.len() >= 43, "at least 32 random bytes: {key}");
    assert!(is_base64url(secret), "{key} is not base64url");
    assert_eq!(data["prefix"], key[..11]);
    let id = Uuid::parse_str(data["id"].as_str().expect("an id")).expect("a UUID");
    assert_eq!(id.get_version_num(), 7, "{id} is not a UUIDv7");
    assert_eq!(data["name"], "CI script");
    assert_eq!(timestamp(&data["createdAt"]), now);
    assert_eq!(data["expiresAt"], Value::Null);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn two_keys_are_different_secrets() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let first = app.new_api_key(&user.access_token, "one").await;
    let second = app.new_api_key(&user.access_token, "two").await;

    assert_ne!(first.key, second.key);
    assert_ne!(first.id, second.id);
}

#[tokio::test]
async fn listing_keys_shows_each_key_without_its_secret() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let created_at = app.clock.now();
    let key = app.new_api_key(&user.access_token, "laptop").await;

    let reply = list_keys(&app, &user.access_token).await;

    reply.expect_status(StatusCode::OK);
    let keys = reply.items();
    assert_eq!(keys.len(), 1, "{}", reply.text);
    let listed = keys[0].as_object().expect("a key object");
    let mut fields: Vec<&str> = listed.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "createdAt",
            "expiresAt",
            "id",
            "lastUsedAt",
            "name",
            "prefix"
        ]
    );
    assert_eq!(listed["id"], key.id.as_str());
    assert_eq!(listed["name"], "laptop");
    assert_eq!(listed["prefix"], key.key[..11]);
    assert_eq!(timestamp(&listed["createdAt"]), created_at);
    assert_eq!(listed["lastUsedAt"], Value::Null);
    assert_eq!(listed["expiresAt"], Value::Null);
    assert!(!reply.text.contains(&key.key), "the list shows the secret");
}

#[tokio::test]
async fn each_user_lists_only_their_own_keys() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let owner = app.new_user().await;
    let other = app.new_user().await;
    let key = app.new_api_key(&owner.access_token, "mine").await;

    let reply = list_keys(&app, &other.access_token).await;

    reply.expect_status(StatusCode::OK);
    assert!(reply.items().is_empty(), "{}", reply.text);
    assert_eq!(
        listed_ids(&list_keys(&app, &owner.access_token).await),
        [key.id]
    );
}

#[tokio::test]
async fn a_name_is_trimmed_and_may_be_100_characters_long() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let longest = "k".repeat(100);

    let trimmed = create_key(&app, &user.access_token, &json!({"name": "  padded  "})).await;
    let long = create_key(&app, &user.access_token, &json!({"name": longest})).await;

    trimmed.expect_status(StatusCode::CREATED);
    assert_eq!(trimmed.data()["name"], "padded");
    long.expect_status(StatusCode::CREATED);
    assert_eq!(long.data()["name"], longest.as_str());
}

#[tokio::test]
async fn a_name_that_is_missing_blank_or_over_100_characters_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for body in [
        json!({}),
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "k".repeat(101)}),
        json!({"name": 42}),
    ] {
        let reply = create_key(&app, &user.access_token, &body).await;

        reply.expect_invalid_field("name");
    }
    assert!(list_keys(&app, &user.access_token).await.items().is_empty());
}

#[tokio::test]
async fn an_expiry_that_is_not_in_the_future_is_refused_naming_expires_at() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let now = app.clock.now();

    for at in [now - Duration::minutes(1), now] {
        let reply = create_key(
            &app,
            &user.access_token,
            &json!({"name": "stale", "expiresAt": rfc3339(at)}),
        )
        .await;

        reply.expect_invalid_field("expiresAt");
    }
    assert!(list_keys(&app, &user.access_token).await.items().is_empty());
}

#[tokio::test]
async fn an_expiry_that_is_not_a_timestamp_is_refused_naming_expires_at() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for value in [json!("tomorrow"), json!(1_900_000_000), json!(true)] {
        let reply = create_key(
            &app,
            &user.access_token,
            &json!({"name": "odd", "expiresAt": value}),
        )
        .await;

        reply.expect_invalid_field("expiresAt");
    }
}

#[tokio::test]
async fn an_expiry_given_with_an_offset_is_answered_in_utc() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let expires_at = app.clock.now() + Duration::days(30);
    let offset = time::UtcOffset::from_hms(2, 0, 0).expect("an offset");
    let local = rfc3339(expires_at.to_offset(offset));
    assert!(local.ends_with("+02:00"), "{local}");

    let created = create_key(
        &app,
        &user.access_token,
        &json!({"name": "abroad", "expiresAt": local}),
    )
    .await;

    created.expect_status(StatusCode::CREATED);
    let listed = list_keys(&app, &user.access_token).await;
    let answered = [
        ("created", &created.data()["expiresAt"]),
        ("listed", &listed.items()[0]["expiresAt"]),
    ];
    let in_utc = rfc3339(expires_at);
    assert!(
        answered
            .iter()
            .all(|(_, at)| at.as_str() == Some(in_utc.as_str())),
        "expected {in_utc} everywhere, got {answered:?}"
    );
}

#[tokio::test]
async fn an_expiry_with_a_fraction_of_a_second_reads_back_as_it_was_answered() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let expires_at = (app.clock.now() + Duration::days(30))
        .replace_nanosecond(123_456_789)
        .expect("a valid nanosecond");

    let created = create_key(
        &app,
        &user.access_token,
        &json!({"name": "precise", "expiresAt": rfc3339(expires_at)}),
    )
    .await;

    created.expect_status(StatusCode::CREATED);
    let listed = list_keys(&app, &user.access_token).await;
    assert_eq!(
        created.data()["expiresAt"],
        listed.items()[0]["expiresAt"],
        "the key's expiry changed between the answer and the list"
    );
}

#[tokio::test]
async fn server_owned_fields_in_the_body_are_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let chosen = format!("rk_{}", "A".repeat(43));

    for (field, value) in [
        ("role", json!("admin")),
        ("key", json!(chosen)),
        ("prefix", json!("rk_AAAAAAAA")),
        ("id", json!(fresh_uuid().to_string())),
        ("createdAt", json!("2020-01-01T00:00:00Z")),
        ("lastUsedAt", json!("2020-01-01T00:00:00Z")),
    ] {
        let reply = create_key(
            &app,
            &user.access_token,
            &json!({"name": "sneaky", field: value}),
        )
        .await;

        reply.expect_invalid_field(field);
    }
    assert!(list_keys(&app, &user.access_token).await.items().is_empty());
    read_audit(&app, &chosen).await.expect_unauthenticated();
}

// --- Using a key -----------------------------------------------------------------

#[tokio::test]
async fn a_key_reads_the_audit_trail_and_records_when_it_was_last_used() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "reader").await;
    app.clock.advance(Duration::seconds(5));
    let used_at = app.clock.now();

    let reply = read_audit(&app, &key.key).await;

    reply.expect_status(StatusCode::OK);
    // The registration and the key's creation at least: never an empty
    // list that would make the check below vacuous.
    assert!(reply.items().len() >= 2, "{}", reply.text);
    assert!(
        reply
            .items()
            .iter()
            .all(|entry| entry["actorId"] == user.user_id.as_str()),
        "{}",
        reply.text
    );
    let listed = list_keys(&app, &user.access_token).await;
    assert_eq!(timestamp(&listed.items()[0]["lastUsedAt"]), used_at);
}

#[tokio::test]
async fn a_key_is_refused_with_403_on_the_routes_that_manage_the_account() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "script").await;
    let as_key = |method: Method, path: &str| app.api(method, path).bearer_auth(&key.key);

    let answers = [
        ("GET /auth/me", send(as_key(Method::GET, "/auth/me")).await),
        (
            "GET /auth/sessions",
            send(as_key(Method::GET, "/auth/sessions")).await,
        ),
        (
            "POST /auth/logout",
            send(as_key(Method::POST, "/auth/logout").json(&json!({"scope": "global"}))).await,
        ),
        (
            "POST /auth/password",
            send(as_key(Method::POST, "/auth/password").json(
                &json!({"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}),
            ))
            .await,
        ),
        (
            "GET /api-keys",
            send(as_key(Method::GET, "/api-keys")).await,
        ),
        (
            "POST /api-keys",
            send(as_key(Method::POST, "/api-keys").json(&json!({"name": "child"}))).await,
        ),
        (
            "DELETE /api-keys/{id}",
            send(as_key(Method::DELETE, &format!("/api-keys/{}", key.id))).await,
        ),
    ];

    for (route, reply) in &answers {
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{route}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), Some("FORBIDDEN"), "{route}");
    }
    let keys = list_keys(&app, &user.access_token).await;
    assert_eq!(
        listed_ids(&keys),
        [key.id.as_str()],
        "the key made or lost a key"
    );
    read_audit(&app, &key.key)
        .await
        .expect_status(StatusCode::OK);
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
    app.login(&user.email, PASSWORD)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_key_is_401_on_the_audit_route() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let real = app.new_api_key(&user.access_token, "real").await;
    let mut forged = real.key.clone();
    let last = forged.pop().expect("a non-empty key");
    forged.push(if last == 'A' { 'B' } else { 'A' });

    for credential in [forged.as_str(), "rk_", "rk_unknown"] {
        let reply = read_audit(&app, credential).await;

        reply.expect_unauthenticated();
    }
}

#[tokio::test]
async fn a_key_stops_working_once_its_expiry_has_passed() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let expires_at = app.clock.now() + Duration::hours(1);
    let created = create_key(
        &app,
        &user.access_token,
        &json!({"name": "temporary", "expiresAt": rfc3339(expires_at)}),
    )
    .await;
    created.expect_status(StatusCode::CREATED);
    assert_eq!(timestamp(&created.data()["expiresAt"]), expires_at);
    let key = created.data()["key"].as_str().expect("the key").to_owned();
    app.clock.advance(Duration::minutes(59));
    read_audit(&app, &key).await.expect_status(StatusCode::OK);

    app.clock
        .advance(Duration::minutes(1) + Duration::seconds(1));
    let reply = read_audit(&app, &key).await;

    reply.expect_unauthenticated();
}

// --- Revoking ----------------------------------------------------------------------

#[tokio::test]
async fn revoking_a_key_answers_204_and_the_key_stops_working_at_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "to revoke").await;
    read_audit(&app, &key.key)
        .await
        .expect_status(StatusCode::OK);

    let reply = app
        .delete(&format!("/api-keys/{}", key.id), &user.access_token)
        .await;

    reply.expect_status(StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty(), "a 204 with a body: {}", reply.text);
    read_audit(&app, &key.key).await.expect_unauthenticated();
    let keys = list_keys(&app, &user.access_token).await;
    assert!(keys.items().is_empty(), "{}", keys.text);
}

#[tokio::test]
async fn revoking_a_key_twice_is_404_the_second_time() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "once").await;
    let path = format!("/api-keys/{}", key.id);
    app.delete(&path, &user.access_token)
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let reply = app.delete(&path, &user.access_token).await;

    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn revoking_another_users_key_is_404_and_the_key_keeps_working() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let owner = app.new_user().await;
    let intruder = app.new_user().await;
    let key = app.new_api_key(&owner.access_token, "precious").await;

    let reply = app
        .delete(&format!("/api-keys/{}", key.id), &intruder.access_token)
        .await;

    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    read_audit(&app, &key.key)
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(
        listed_ids(&list_keys(&app, &owner.access_token).await),
        [key.id]
    );
}

#[tokio::test]
async fn revoking_an_unknown_key_is_404() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app
        .delete(&format!("/api-keys/{}", fresh_uuid()), &user.access_token)
        .await;

    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn revoking_with_a_malformed_id_is_400_naming_id() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app.delete("/api-keys/not-a-uuid", &user.access_token).await;

    reply.expect_invalid_field("id");
}

#[tokio::test]
async fn the_key_routes_need_an_access_token() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let list = app.get("/api-keys", None).await;
    let create = app
        .post_json("/api-keys", &json!({"name": "anonymous"}))
        .await;
    let revoke = send(app.api(Method::DELETE, &format!("/api-keys/{}", fresh_uuid()))).await;

    list.expect_unauthenticated();
    create.expect_unauthenticated();
    revoke.expect_unauthenticated();
}

// --- The audit trail -------------------------------------------------------------

#[tokio::test]
async fn creating_and_revoking_a_key_is_audited_without_the_key() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let created_at = app.clock.now();
    let created = send(
        app.api(Method::POST, "/api-keys")
            .bearer_auth(&user.access_token)
            .header(REQUEST_ID, "create-the-key")
            .json(&json!({"name": "audited"})),
    )
    .await;
    created.expect_status(StatusCode::CREATED);
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    let secret = created.data()["key"].as_str().expect("the key").to_owned();
    app.clock.advance(Duration::seconds(1));
    let revoked_at = app.clock.now();
    send(
        app.api(Method::DELETE, &format!("/api-keys/{id}"))
            .bearer_auth(&user.access_token)
            .header(REQUEST_ID, "revoke-the-key"),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);

    let trail = read_audit(&app, &user.access_token).await;

    trail.expect_status(StatusCode::OK);
    let entries = trail.items();
    let summary: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .take(2)
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["resourceType"].as_str().unwrap_or_default(),
                e["resourceId"].as_str().unwrap_or_default(),
                e["requestId"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("api_key.revoked", "api_key", id.as_str(), "revoke-the-key"),
            ("api_key.created", "api_key", id.as_str(), "create-the-key"),
        ]
    );
    assert_eq!(timestamp(&entries[0]["at"]), revoked_at);
    assert_eq!(timestamp(&entries[1]["at"]), created_at);
    assert!(!trail.text.contains(&secret), "the trail holds the key");
    assert!(
        !trail.text.contains(&secret[11..]),
        "the trail holds part of the key's secret"
    );
}
