//! The rules of API.md "Admin", pinned through HTTP: `GET /admin/users`,
//! `PATCH /admin/users/{id}` and `GET /admin/audit` answer administrators
//! only (403 for anyone else, and for API keys), disabling a user locks
//! them out at once, a new role comes with the user's next token, and every
//! change is in the audit trail. The first administrator is made with
//! `ROSTER_ADMIN_EMAILS`. Every test has its own server.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, send, unique_email};

/// A well-formed id that no user has.
const NOBODY: &str = "01900000-0000-7000-8000-000000000000";

/// A server whose `ROSTER_ADMIN_EMAILS` names one user, registered.
async fn spawn_with_admin() -> Option<(TestApp, SignedIn)> {
    let email = unique_email("admin");
    let app = TestApp::spawn_with(&[("ROSTER_ADMIN_EMAILS", email.as_str())]).await?;
    let reply = app.register(&email, PASSWORD, "The Admin").await;
    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.data()["user"]["role"], "admin", "{}", reply.text);
    let admin = SignedIn::from_reply(&email, &reply);
    Some((app, admin))
}

async fn users(app: &TestApp, query: &str, bearer: &str) -> Reply {
    app.get(&format!("/admin/users{query}"), Some(bearer)).await
}

async fn admin_audit(app: &TestApp, query: &str, bearer: &str) -> Reply {
    app.get(&format!("/admin/audit{query}"), Some(bearer)).await
}

async fn patch(app: &TestApp, id: &str, bearer: &str, body: &Value) -> Reply {
    send(
        app.api(Method::PATCH, &format!("/admin/users/{id}"))
            .bearer_auth(bearer)
            .json(body),
    )
    .await
}

/// A user registered with `display_name`.
async fn user_named(app: &TestApp, tag: &str, display_name: &str) -> SignedIn {
    let email = unique_email(tag);
    let reply = app.register(&email, PASSWORD, display_name).await;
    reply.expect_status(StatusCode::CREATED);
    SignedIn::from_reply(&email, &reply)
}

fn ids(reply: &Reply) -> Vec<String> {
    reply
        .items()
        .iter()
        .map(|item| item["id"].as_str().expect("an id").to_owned())
        .collect()
}

// --- Who may call ----------------------------------------------------------------

#[tokio::test]
async fn a_user_without_the_admin_role_gets_403_on_every_admin_route() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;

    let list = users(&app, "", &user.access_token).await;
    let change = patch(
        &app,
        &admin.user_id,
        &user.access_token,
        &json!({"role": "user"}),
    )
    .await;
    let promote_self = patch(
        &app,
        &user.user_id,
        &user.access_token,
        &json!({"role": "admin"}),
    )
    .await;
    let trail = admin_audit(&app, "", &user.access_token).await;

    for reply in [&list, &change, &promote_self, &trail] {
        reply.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let me = app.me(&admin.access_token).await;
    assert_eq!(me.data()["role"], "admin", "the admin was not demoted");
}

#[tokio::test]
async fn an_unknown_id_answers_403_not_404_to_a_user_without_the_admin_role() {
    let Some((app, _admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = patch(&app, NOBODY, &user.access_token, &json!({"disabled": true})).await;

    reply.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
}

#[tokio::test]
async fn the_admin_routes_need_credentials() {
    let Some((app, _admin)) = spawn_with_admin().await else {
        return;
    };

    let list = app.get("/admin/users", None).await;
    let trail = app.get("/admin/audit", Some("v4.public.garbage")).await;
    let change = send(
        app.api(Method::PATCH, &format!("/admin/users/{NOBODY}"))
            .json(&json!({"disabled": true})),
    )
    .await;

    list.expect_unauthenticated();
    trail.expect_unauthenticated();
    change.expect_unauthenticated();
}

#[tokio::test]
async fn an_admins_api_key_is_refused_with_403_on_every_admin_route() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&admin.access_token, "admin tool").await;

    let list = users(&app, "", &key.key).await;
    let change = patch(&app, &user.user_id, &key.key, &json!({"disabled": true})).await;
    let trail = admin_audit(&app, "", &key.key).await;

    for reply in [&list, &change, &trail] {
        reply.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
}

// --- The user list -------------------------------------------------------------

#[tokio::test]
async fn the_list_shows_every_user_with_disabled_and_last_login_and_no_secret() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    let again = app.another_session(&user).await;

    let reply = users(&app, "", &admin.access_token).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(ids(&reply), [admin.user_id.clone(), user.user_id.clone()]);
    let listed = &reply.items()[1];
    let mut fields: Vec<&str> = listed
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "createdAt",
            "disabled",
            "displayName",
            "email",
            "id",
            "lastLoginAt",
            "role"
        ]
    );
    assert_eq!(listed["email"], user.email.as_str());
    assert_eq!(listed["role"], "user");
    assert_eq!(listed["disabled"], false);
    assert!(listed["lastLoginAt"].is_string(), "{listed}");
    assert_eq!(reply.body["pagination"]["perPage"], 50);
    assert_eq!(reply.body["pagination"]["nextCursor"], Value::Null);
    for secret in [
        PASSWORD,
        "$argon2",
        &again.refresh_token,
        &again.access_token,
    ] {
        assert!(!reply.text.contains(secret), "a secret: {}", reply.text);
    }
}

#[tokio::test]
async fn search_matches_a_substring_of_the_email_or_display_name_ignoring_case() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let iop = user_named(&app, "first", "Grand IOP").await;
    let by_email = user_named(&app, "iop-fan", "Someone").await;
    let _other = user_named(&app, "second", "Cra").await;

    let found = users(&app, "?search=iOp", &admin.access_token).await;
    let percent = users(&app, "?search=%25", &admin.access_token).await;

    found.expect_status(StatusCode::OK);
    assert_eq!(ids(&found), [iop.user_id, by_email.user_id]);
    assert!(percent.items().is_empty(), "{}", percent.text);
}

#[tokio::test]
async fn paging_by_two_walks_every_user_once_even_while_others_register() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let mut expected = vec![admin.user_id.clone()];
    for _ in 0..4 {
        expected.push(app.new_user().await.user_id);
    }
    let first = users(&app, "?perPage=2", &admin.access_token).await;
    let cursor = first.next_cursor().expect("a next page").to_owned();
    let late = app.new_user().await;
    expected.push(late.user_id);

    let rest = app
        .pages_from(
            "/admin/users?perPage=2",
            Some(&cursor),
            Some(&admin.access_token),
        )
        .await;

    let mut walked = ids(&first);
    walked.extend(rest.iter().flat_map(ids));
    assert_eq!(walked, expected);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), walked.len());
    assert_eq!(rest.last().expect("a page").next_cursor(), None);
}

#[tokio::test]
async fn bad_paging_parameters_are_refused_naming_them() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };

    for per_page in ["0", "101", "many"] {
        users(&app, &format!("?perPage={per_page}"), &admin.access_token)
            .await
            .expect_invalid_field("perPage");
    }
    users(&app, "?cursor=not-a-cursor!", &admin.access_token)
        .await
        .expect_invalid_field("cursor");
    admin_audit(&app, "?actorId=12", &admin.access_token)
        .await
        .expect_invalid_field("actorId");
}

// --- Changing a user -----------------------------------------------------------

#[tokio::test]
async fn a_new_role_is_answered_at_once_and_comes_with_the_users_next_token() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"role": "admin"}),
    )
    .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["id"], user.user_id.as_str());
    assert_eq!(reply.data()["role"], "admin");
    assert_eq!(reply.data()["disabled"], false);
    // The token issued before the change still says `user`.
    users(&app, "", &user.access_token)
        .await
        .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    let refreshed = app.refresh(&user.refresh_token).await;
    refreshed.expect_status(StatusCode::OK);
    assert_eq!(refreshed.data()["user"]["role"], "admin");
    let refreshed = SignedIn::from_reply(&user.email, &refreshed);
    users(&app, "", &refreshed.access_token)
        .await
        .expect_status(StatusCode::OK);
    let login = app.login(&user.email, PASSWORD).await;
    assert_eq!(login.data()["user"]["role"], "admin");
}

#[tokio::test]
async fn disabling_a_user_locks_every_credential_out_at_once() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    let other_session = app.another_session(&user).await;
    let key = app.new_api_key(&user.access_token, "script").await;
    app.get("/audit", Some(&key.key))
        .await
        .expect_status(StatusCode::OK);

    let reply = patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["disabled"], true);
    app.me(&user.access_token).await.expect_unauthenticated();
    app.me(&other_session.access_token)
        .await
        .expect_unauthenticated();
    app.refresh(&user.refresh_token)
        .await
        .expect_unauthenticated();
    app.get("/audit", Some(&key.key))
        .await
        .expect_unauthenticated();
    app.login(&user.email, PASSWORD)
        .await
        .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    let listed = users(&app, "", &admin.access_token).await;
    let row = listed
        .items()
        .iter()
        .find(|u| u["id"] == user.user_id.as_str())
        .expect("the user is listed");
    assert_eq!(row["disabled"], true);
}

#[tokio::test]
async fn a_re_enabled_user_can_log_in_again() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await
    .expect_status(StatusCode::OK);

    let reply = patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"disabled": false}),
    )
    .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["disabled"], false);
    let login = app.login(&user.email, PASSWORD).await;
    login.expect_status(StatusCode::OK);
    let again = SignedIn::from_reply(&user.email, &login);
    app.me(&again.access_token)
        .await
        .expect_status(StatusCode::OK);
    // The sessions ended by the disabling stay ended.
    app.me(&user.access_token).await.expect_unauthenticated();
}

#[tokio::test]
async fn every_change_is_audited_with_its_fields_and_the_admin_as_actor() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"role": "admin"}),
    )
    .await
    .expect_status(StatusCode::OK);
    patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"role": "admin", "disabled": true}),
    )
    .await
    .expect_status(StatusCode::OK);
    // Nothing changes: nothing is recorded.
    patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await
    .expect_status(StatusCode::OK);

    let trail = admin_audit(
        &app,
        &format!("?resourceType=user&resourceId={}", user.user_id),
        &admin.access_token,
    )
    .await;

    trail.expect_status(StatusCode::OK);
    let entries = trail.items();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(actions, ["user.updated", "user.updated", "auth.register"]);
    assert_eq!(
        entries[0]["changes"],
        json!({"disabled": {"from": false, "to": true}})
    );
    assert_eq!(
        entries[1]["changes"],
        json!({"role": {"from": "user", "to": "admin"}})
    );
    for entry in &entries[..2] {
        assert_eq!(entry["actorId"], admin.user_id.as_str(), "{entry}");
        assert_eq!(entry["resourceId"], user.user_id.as_str(), "{entry}");
    }
    assert_eq!(entries[2]["actorId"], user.user_id.as_str());
    for secret in [
        PASSWORD,
        "$argon2",
        &user.access_token,
        &user.refresh_token,
        &admin.access_token,
    ] {
        assert!(!trail.text.contains(secret), "a secret: {}", trail.text);
    }
}

#[tokio::test]
async fn the_admin_trail_lists_everyones_entries_and_filters_by_actor() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;
    patch(
        &app,
        &user.user_id,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await
    .expect_status(StatusCode::OK);

    let everyone = admin_audit(&app, "", &admin.access_token).await;
    let by_admin = admin_audit(
        &app,
        &format!("?actorId={}", admin.user_id),
        &admin.access_token,
    )
    .await;
    let pages = app
        .all_pages("/admin/audit?perPage=1", Some(&admin.access_token))
        .await;

    everyone.expect_status(StatusCode::OK);
    let actors: HashSet<&str> = everyone
        .items()
        .iter()
        .filter_map(|e| e["actorId"].as_str())
        .collect();
    assert_eq!(
        actors,
        HashSet::from([admin.user_id.as_str(), user.user_id.as_str()])
    );
    let admin_actions: Vec<&str> = by_admin
        .items()
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(admin_actions, ["user.updated", "auth.register"]);
    let walked: Vec<String> = pages.iter().flat_map(ids).collect();
    assert_eq!(walked, ids(&everyone), "newest first, every entry once");
}

// --- Refusals ---------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_user_is_404_and_a_malformed_id_is_400_naming_id() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };

    let unknown = patch(
        &app,
        NOBODY,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await;
    let malformed = patch(
        &app,
        "not-a-uuid",
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await;

    unknown.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    malformed.expect_invalid_field("id");
}

#[tokio::test]
async fn a_bad_body_is_refused_and_changes_nothing() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let user = app.new_user().await;

    for body in [
        json!({}),
        json!({"role": null, "disabled": null}),
        json!({"role": "god"}),
        json!({"role": 1}),
        json!({"disabled": "yes"}),
        json!({"disabled": true, "email": "new@example.com"}),
        json!([]),
    ] {
        let reply = patch(&app, &user.user_id, &admin.access_token, &body).await;

        reply.expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let not_json = send(
        app.api(Method::PATCH, &format!("/admin/users/{}", user.user_id))
            .bearer_auth(&admin.access_token)
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    not_json.expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn an_admin_cannot_demote_or_disable_themself() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };

    let demote = patch(
        &app,
        &admin.user_id,
        &admin.access_token,
        &json!({"role": "user"}),
    )
    .await;
    let disable = patch(
        &app,
        &admin.user_id,
        &admin.access_token,
        &json!({"disabled": true}),
    )
    .await;
    let unchanged = patch(
        &app,
        &admin.user_id,
        &admin.access_token,
        &json!({"role": "admin", "disabled": false}),
    )
    .await;

    demote.expect_error(StatusCode::CONFLICT, "CONFLICT");
    disable.expect_error(StatusCode::CONFLICT, "CONFLICT");
    unchanged.expect_status(StatusCode::OK);
    assert_eq!(unchanged.data()["role"], "admin");
    users(&app, "", &admin.access_token)
        .await
        .expect_status(StatusCode::OK);
    let login = app.login(&admin.email, PASSWORD).await;
    assert_eq!(login.data()["user"]["role"], "admin");
}

#[tokio::test]
async fn one_admin_may_demote_another() {
    let Some((app, admin)) = spawn_with_admin().await else {
        return;
    };
    let second = app.new_user().await;
    patch(
        &app,
        &second.user_id,
        &admin.access_token,
        &json!({"role": "admin"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let second = app.another_session(&second).await;

    let reply = patch(
        &app,
        &admin.user_id,
        &second.access_token,
        &json!({"role": "user"}),
    )
    .await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["role"], "user");
}
