//! The rules of API.md "Audit", pinned through HTTP: `GET /api/v1/audit`
//! lists the caller's own entries, newest first, cursor-paged, each leading
//! back to the request that caused it. Every test has its own server; time
//! is the server's manual clock, moved by the test.

use domain::ports::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, send, unique_email};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";
const NEW_PASSWORD: &str = "another horse battery staple";
/// A little more than the refresh grace window (10 s by default).
const PAST_GRACE: Duration = Duration::seconds(11);
const STEP: Duration = Duration::seconds(1);

fn timestamp(value: &Value) -> OffsetDateTime {
    let text = value.as_str().expect("a timestamp string");
    assert!(text.ends_with('Z'), "{text} is not in UTC");
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 timestamp")
}

fn ids(reply: &Reply) -> Vec<String> {
    reply
        .items()
        .iter()
        .map(|entry| entry["id"].as_str().expect("an entry id").to_owned())
        .collect()
}

fn actions(reply: &Reply) -> Vec<&str> {
    reply
        .items()
        .iter()
        .map(|entry| entry["action"].as_str().expect("an action"))
        .collect()
}

/// The ids of every entry over `pages`, in order.
fn ids_over(pages: &[Reply]) -> Vec<String> {
    pages.iter().flat_map(ids).collect()
}

async fn audit(app: &TestApp, query: &str, bearer: &str) -> Reply {
    app.get(&format!("/audit{query}"), Some(bearer)).await
}

/// What one entry must say, newest first in `expected` lists.
#[derive(Debug, PartialEq)]
struct Row {
    action: String,
    resource_type: String,
    resource_id: String,
    request_id: String,
    at: OffsetDateTime,
}

impl Row {
    fn new(action: &str, resource: (&str, &str), request_id: &str, at: OffsetDateTime) -> Self {
        Self {
            action: action.to_owned(),
            resource_type: resource.0.to_owned(),
            resource_id: resource.1.to_owned(),
            request_id: request_id.to_owned(),
            at,
        }
    }

    fn of(entry: &Value) -> Self {
        let text = |field: &str| {
            entry[field]
                .as_str()
                .unwrap_or_else(|| panic!("entry without {field}: {entry}"))
                .to_owned()
        };
        Self {
            action: text("action"),
            resource_type: text("resourceType"),
            resource_id: text("resourceId"),
            request_id: text("requestId"),
            at: timestamp(&entry["at"]),
        }
    }
}

/// A user's account history, made through the API one second apart, each
/// request with its own `X-Request-Id`: register, two more logins, a
/// logout of the second session, the third session ended from the first,
/// and a password change. The first session is still live.
struct History {
    user: SignedIn,
    second: SignedIn,
    third: SignedIn,
    /// When each step happened, in order.
    times: Vec<OffsetDateTime>,
    /// Every password and token the history used.
    secrets: Vec<String>,
}

async fn with_request_id(request: reqwest::RequestBuilder, request_id: &str) -> Reply {
    send(request.header(REQUEST_ID, request_id)).await
}

async fn make_history(app: &TestApp, tag: &str) -> History {
    let email = unique_email(tag);
    let mut times = Vec::new();

    times.push(app.clock.now());
    let registered = with_request_id(
        app.api(Method::POST, "/auth/register")
            .json(&json!({"email": email, "password": PASSWORD, "displayName": "Audited"})),
        &format!("{tag}-register"),
    )
    .await;
    registered.expect_status(StatusCode::CREATED);
    let user = SignedIn::from_reply(&email, &registered);

    let mut logins = Vec::new();
    for n in 2..=3 {
        app.clock.advance(STEP);
        times.push(app.clock.now());
        let login = with_request_id(
            app.api(Method::POST, "/auth/login")
                .json(&json!({"email": email, "password": PASSWORD})),
            &format!("{tag}-login-{n}"),
        )
        .await;
        login.expect_status(StatusCode::OK);
        logins.push(SignedIn::from_reply(&email, &login));
    }
    let third = logins.pop().expect("a third session");
    let second = logins.pop().expect("a second session");

    app.clock.advance(STEP);
    times.push(app.clock.now());
    with_request_id(
        app.api(Method::POST, "/auth/logout")
            .bearer_auth(&second.access_token)
            .json(&json!({"scope": "local"})),
        &format!("{tag}-logout"),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);

    app.clock.advance(STEP);
    times.push(app.clock.now());
    with_request_id(
        app.api(
            Method::DELETE,
            &format!("/auth/sessions/{}", third.session_id),
        )
        .bearer_auth(&user.access_token),
        &format!("{tag}-revoke"),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);

    app.clock.advance(STEP);
    times.push(app.clock.now());
    with_request_id(
        app.api(Method::POST, "/auth/password")
            .bearer_auth(&user.access_token)
            .json(&json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})),
        &format!("{tag}-password"),
    )
    .await
    .expect_status(StatusCode::NO_CONTENT);

    let secrets = [&user, &second, &third]
        .iter()
        .flat_map(|s| [s.access_token.clone(), s.refresh_token.clone()])
        .chain([PASSWORD.to_owned(), NEW_PASSWORD.to_owned()])
        .collect();
    History {
        user,
        second,
        third,
        times,
        secrets,
    }
}

// --- What an entry says ------------------------------------------------------

#[tokio::test]
async fn the_trail_lists_the_callers_auth_events_newest_first_with_their_request_ids() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "trail").await;
    let (user, second, third) = (
        h.user.user_id.as_str(),
        h.second.session_id.as_str(),
        h.third.session_id.as_str(),
    );

    let reply = audit(&app, "", &h.user.access_token).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.body["success"], true);
    let rows: Vec<Row> = reply.items().iter().map(Row::of).collect();
    let t = &h.times;
    assert_eq!(
        rows,
        vec![
            Row::new(
                "auth.password_changed",
                ("user", user),
                "trail-password",
                t[5]
            ),
            Row::new(
                "auth.session_revoked",
                ("session", third),
                "trail-revoke",
                t[4]
            ),
            Row::new("auth.logout", ("session", second), "trail-logout", t[3]),
            Row::new("auth.login", ("session", third), "trail-login-3", t[2]),
            Row::new("auth.login", ("session", second), "trail-login-2", t[1]),
            Row::new("auth.register", ("user", user), "trail-register", t[0]),
        ]
    );
    for entry in reply.items() {
        let id = Uuid::parse_str(entry["id"].as_str().expect("an id")).expect("a UUID");
        assert_eq!(id.get_version_num(), 7, "{id} is not a UUIDv7");
        assert_eq!(entry["actorId"], user, "{entry}");
        assert_eq!(entry["ip"], "127.0.0.1", "{entry}");
        assert!(entry["changes"].is_object(), "{entry}");
    }
    assert_eq!(reply.body["pagination"]["perPage"], 50);
    assert_eq!(reply.body["pagination"]["nextCursor"], Value::Null);
}

#[tokio::test]
async fn an_entry_carries_the_request_id_the_server_answered_with_when_the_client_sent_none() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let too_long = "r".repeat(129);
    let email = unique_email("generated");
    let registered = with_request_id(
        app.api(Method::POST, "/auth/register")
            .json(&json!({"email": email, "password": PASSWORD, "displayName": "Generated"})),
        &too_long,
    )
    .await;
    registered.expect_status(StatusCode::CREATED);
    let user = SignedIn::from_reply(&email, &registered);
    let answered_with = registered
        .header(REQUEST_ID)
        .expect("an X-Request-Id")
        .to_owned();
    assert_ne!(answered_with, too_long);

    let reply = audit(&app, "", &user.access_token).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.items()[0]["requestId"], answered_with.as_str());
}

#[tokio::test]
async fn an_overlong_filter_is_refused_naming_it() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let long = "x".repeat(200);

    let by_type = audit(&app, &format!("?resourceType={long}"), &user.access_token).await;
    let by_id = audit(&app, &format!("?resourceId={long}"), &user.access_token).await;

    by_type.expect_invalid_field("resourceType");
    by_id.expect_invalid_field("resourceId");
}

#[tokio::test]
async fn the_trail_never_holds_a_password_or_a_token() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "secret").await;

    let reply = audit(&app, "", &h.user.access_token).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.items().len(), 6, "{}", reply.text);
    for secret in &h.secrets {
        assert!(
            !reply.text.contains(secret.as_str()),
            "the trail holds a secret: {}",
            reply.text
        );
    }
    assert!(
        !reply.text.contains("$argon2"),
        "a password hash: {}",
        reply.text
    );
}

// --- Paging --------------------------------------------------------------------

#[tokio::test]
async fn paging_by_two_walks_every_entry_once_and_the_last_page_has_a_null_cursor() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "pages").await;
    let everything = ids(&audit(&app, "?perPage=100", &h.user.access_token).await);

    let pages = app
        .all_pages("/audit?perPage=2", Some(&h.user.access_token))
        .await;

    assert_eq!(pages.len(), 3, "6 entries, 2 a page");
    for page in &pages {
        assert_eq!(page.items().len(), 2, "{}", page.text);
        assert_eq!(page.body["pagination"]["perPage"], 2);
    }
    let last = pages.last().expect("a last page");
    assert_eq!(last.body["pagination"]["nextCursor"], Value::Null);
    assert_eq!(ids_over(&pages), everything);
}

#[tokio::test]
async fn a_cursor_stays_valid_and_repeats_nothing_after_new_entries_are_written() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "stable").await;
    let before = ids(&audit(&app, "?perPage=100", &h.user.access_token).await);
    let first = audit(&app, "?perPage=2", &h.user.access_token).await;
    let cursor = first.next_cursor().expect("a next page").to_owned();
    app.clock.advance(STEP);
    for _ in 0..2 {
        app.login(&h.user.email, NEW_PASSWORD)
            .await
            .expect_status(StatusCode::OK);
    }

    let rest = app
        .pages_from(
            "/audit?perPage=2",
            Some(&cursor),
            Some(&h.user.access_token),
        )
        .await;

    let mut walked = ids(&first);
    walked.extend(ids_over(&rest));
    assert_eq!(walked, before, "the pages after the cursor moved");
    let newest = audit(&app, "?perPage=2", &h.user.access_token).await;
    assert_eq!(actions(&newest), ["auth.login", "auth.login"]);
    assert!(
        ids(&newest).iter().all(|id| !before.contains(id)),
        "the new entries are not the newest"
    );
}

#[tokio::test]
async fn per_page_outside_1_to_100_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for per_page in ["0", "101", "-1", "many"] {
        let reply = audit(&app, &format!("?perPage={per_page}"), &user.access_token).await;

        reply.expect_invalid_field("perPage");
    }
}

#[tokio::test]
async fn a_cursor_the_api_never_gave_out_is_refused_naming_cursor() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for cursor in ["not-a-cursor!", "AAAA", "%00"] {
        let reply = audit(&app, &format!("?cursor={cursor}"), &user.access_token).await;

        reply.expect_invalid_field("cursor");
    }
}

// --- Filters and ownership ---------------------------------------------------

#[tokio::test]
async fn resource_type_and_resource_id_filter_the_trail() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "filter").await;
    let token = h.user.access_token.as_str();

    let sessions = audit(&app, "?resourceType=session", token).await;
    let second = audit(&app, &format!("?resourceId={}", h.second.session_id), token).await;
    let account = audit(
        &app,
        &format!("?resourceType=user&resourceId={}", h.user.user_id),
        token,
    )
    .await;
    let nothing = audit(&app, "?resourceType=character", token).await;

    assert_eq!(
        actions(&sessions),
        [
            "auth.session_revoked",
            "auth.logout",
            "auth.login",
            "auth.login"
        ]
    );
    assert!(
        sessions
            .items()
            .iter()
            .all(|entry| entry["resourceType"] == "session")
    );
    assert_eq!(actions(&second), ["auth.logout", "auth.login"]);
    assert!(
        second
            .items()
            .iter()
            .all(|entry| entry["resourceId"] == h.second.session_id.as_str())
    );
    assert_eq!(
        actions(&account),
        ["auth.password_changed", "auth.register"]
    );
    nothing.expect_status(StatusCode::OK);
    assert!(nothing.items().is_empty(), "{}", nothing.text);
}

#[tokio::test]
async fn another_users_entries_never_appear() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let mine = make_history(&app, "mine").await;
    let theirs = make_history(&app, "theirs").await;
    let their_ids = [
        theirs.user.user_id.as_str(),
        theirs.second.session_id.as_str(),
        theirs.third.session_id.as_str(),
    ];

    let all = audit(&app, "?perPage=100", &mine.user.access_token).await;
    let by_their_id = audit(
        &app,
        &format!("?resourceId={}", theirs.user.user_id),
        &mine.user.access_token,
    )
    .await;

    assert_eq!(all.items().len(), 6, "{}", all.text);
    for entry in all.items() {
        assert_eq!(entry["actorId"], mine.user.user_id.as_str(), "{entry}");
        let resource = entry["resourceId"].as_str().expect("a resource id");
        assert!(!their_ids.contains(&resource), "{entry}");
        let request = entry["requestId"].as_str().expect("a request id");
        assert!(request.starts_with("mine-"), "{entry}");
    }
    by_their_id.expect_status(StatusCode::OK);
    assert!(by_their_id.items().is_empty(), "{}", by_their_id.text);
    let their_own = audit(&app, "", &theirs.user.access_token).await;
    assert_eq!(their_own.items().len(), 6, "{}", their_own.text);
}

// --- Credentials ---------------------------------------------------------------

#[tokio::test]
async fn the_trail_needs_credentials() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let anonymous = app.get("/audit", None).await;
    let garbage = app.get("/audit", Some("v4.public.garbage")).await;

    anonymous.expect_unauthenticated();
    garbage.expect_unauthenticated();
}

#[tokio::test]
async fn the_trail_refuses_the_access_token_of_a_session_that_logged_out() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    app.logout(&user.access_token, "local")
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let reply = audit(&app, "", &user.access_token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn an_api_key_reads_its_owners_trail() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let h = make_history(&app, "keyed").await;
    let key = app.new_api_key(&h.user.access_token, "reader").await;

    let with_key = audit(&app, "", &key.key).await;

    with_key.expect_status(StatusCode::OK);
    let with_token = audit(&app, "", &h.user.access_token).await;
    assert_eq!(ids(&with_key), ids(&with_token));
    assert_eq!(actions(&with_key)[0], "api_key.created");
    assert_eq!(with_key.items().len(), 7, "{}", with_key.text);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_after_the_grace_window_is_audited() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let observer = app.another_session(&user).await;
    app.refresh(&user.refresh_token)
        .await
        .expect_status(StatusCode::OK);
    app.clock.advance(PAST_GRACE);
    let reused_at = app.clock.now();

    let reuse = with_request_id(
        app.api(Method::POST, "/auth/refresh")
            .json(&json!({"refreshToken": user.refresh_token})),
        "reuse-of-a-rotated-token",
    )
    .await;

    reuse.expect_unauthenticated();
    let trail = audit(&app, "", &observer.access_token).await;
    trail.expect_status(StatusCode::OK);
    let newest = &trail.items()[0];
    assert_eq!(
        Row::of(newest),
        Row::new(
            "auth.refresh_reuse_detected",
            ("session", &user.session_id),
            "reuse-of-a-rotated-token",
            reused_at,
        )
    );
    assert_eq!(newest["actorId"], user.user_id.as_str());
    assert!(
        !trail.text.contains(&user.refresh_token),
        "the trail holds the reused token"
    );
}
