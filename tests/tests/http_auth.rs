//! The rules of API.md "Authentication", pinned through HTTP: one test per
//! rule, each against its own server. Time is the server's manual clock,
//! moved by the test, never slept on.

use adapter_paseto::{PasetoSigner, generate_paserk_secret};
use adapter_system::OsRandom;
use domain::ports::{Clock, TokenSigner};
use domain::{AccessClaims, Role, SessionId, UserId};
use futures::future::join_all;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, USER_AGENT, send, unique_email};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const APP_ORIGIN: &str = "https://app.example";
const ACCESS_TTL: Duration = Duration::seconds(900);
const IDLE: Duration = Duration::days(7);
const GRACE: Duration = Duration::seconds(10);

fn timestamp(value: &Value) -> OffsetDateTime {
    let text = value.as_str().expect("a timestamp string");
    assert!(text.ends_with('Z'), "{text} is not in UTC");
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 timestamp")
}

fn uuid_v7(value: &Value) -> Uuid {
    let id = Uuid::parse_str(value.as_str().expect("an id string")).expect("a UUID");
    assert_eq!(id.get_version_num(), 7, "{id} is not a UUIDv7");
    id
}

fn session_ids(reply: &Reply) -> Vec<&str> {
    reply
        .data()
        .as_array()
        .expect("a list of sessions")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect()
}

/// `token` with one character of its signed payload changed.
fn tampered(token: &str) -> String {
    let at = "v4.public.".len() + 10;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("still ASCII")
}

/// Claims as the server would make them for `user`'s session, now.
fn claims_for(app: &TestApp, user: &SignedIn) -> AccessClaims {
    let now = app.clock.now();
    AccessClaims {
        user_id: user.user_id.parse::<UserId>().expect("a user id"),
        session_id: user.session_id.parse::<SessionId>().expect("a session id"),
        role: Role::User,
        issued_at: now,
        expires_at: now + ACCESS_TTL,
    }
}

/// A server whose signing key the test knows, so it can forge tokens that
/// differ from genuine ones in exactly one claim.
async fn app_with_known_key() -> Option<(TestApp, String)> {
    let key = generate_paserk_secret(&OsRandom).expect("a key");
    let app = TestApp::spawn_with(&[("ROSTER_TOKEN_KEY", &key)]).await?;
    Some((app, key))
}

fn signer(key: &str, issuer: &str, audience: &str) -> PasetoSigner {
    PasetoSigner::from_paserk_secrets(&[key], issuer, audience).expect("a signer")
}

async fn refresh_with_cookie(app: &TestApp, token: &str, origin: Option<&str>) -> Reply {
    let request = app
        .api(Method::POST, "/auth/refresh")
        .header(COOKIE, format!("roster_refresh={token}"));
    match origin {
        Some(origin) => send(request.header(ORIGIN, origin)).await,
        None => send(request).await,
    }
}

async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Reply {
    app.post_json_as(
        "/auth/password",
        access,
        &json!({"currentPassword": current, "newPassword": new}),
    )
    .await
}

// --- Registration ----------------------------------------------------------

#[tokio::test]
async fn register_answers_201_with_an_auth_session() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let now = app.clock.now();

    let reply = app
        .register("  Mixed.Case@Example.COM ", PASSWORD, "Ada")
        .await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.body["success"], true);
    let data = reply.data();
    let user = &data["user"];
    uuid_v7(&user["id"]);
    assert_eq!(user["email"], "mixed.case@example.com");
    assert_eq!(user["displayName"], "Ada");
    assert_eq!(user["role"], "user");
    assert_eq!(timestamp(&user["createdAt"]), now);
    uuid_v7(&data["sessionId"]);
    let access = data["accessToken"].as_str().expect("an access token");
    assert!(access.starts_with("v4.public."), "{access}");
    assert_eq!(timestamp(&data["accessTokenExpiresAt"]), now + ACCESS_TTL);
    let refresh = data["refreshToken"].as_str().expect("a refresh token");
    assert_eq!(refresh.len(), 43, "32 bytes in base64url: {refresh}");
    assert!(
        refresh
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{refresh} is not base64url"
    );
    assert_eq!(timestamp(&data["refreshTokenExpiresAt"]), now + IDLE);
    assert_eq!(timestamp(&reply.body["meta"]["timestamp"]), now);
}

#[tokio::test]
async fn register_sets_the_refresh_token_in_an_http_only_lax_cookie_scoped_to_auth() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register(&unique_email("c"), PASSWORD, "Ada").await;

    reply.expect_status(StatusCode::CREATED);
    let cookie = reply
        .set_cookie("roster_refresh")
        .expect("the refresh cookie");
    assert_eq!(
        cookie.value,
        reply.data()["refreshToken"].as_str().expect("token")
    );
    assert_eq!(cookie.attribute("HttpOnly"), Some(""));
    assert_eq!(cookie.attribute("SameSite"), Some("Lax"));
    assert_eq!(cookie.attribute("Path"), Some("/api/v1/auth"));
    assert_eq!(cookie.attribute("Secure"), None, "no Secure over http");
    assert_eq!(reply.header("strict-transport-security"), None);
}

#[tokio::test]
async fn with_an_https_public_url_the_cookie_is_secure_and_hsts_is_sent() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_PUBLIC_URL", "https://roster.example")]).await
    else {
        return;
    };

    let reply = app.register(&unique_email("s"), PASSWORD, "Ada").await;

    reply.expect_status(StatusCode::CREATED);
    let cookie = reply
        .set_cookie("roster_refresh")
        .expect("the refresh cookie");
    assert_eq!(cookie.attribute("Secure"), Some(""));
    assert_eq!(cookie.attribute("HttpOnly"), Some(""));
    let hsts = reply.header("strict-transport-security").expect("HSTS");
    assert!(hsts.contains("max-age="), "{hsts}");
}

#[tokio::test]
async fn register_with_an_email_taken_in_another_case_is_409_conflict() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let email = unique_email("taken");
    app.register(&email, PASSWORD, "First")
        .await
        .expect_status(StatusCode::CREATED);

    let reply = app
        .register(&email.to_uppercase(), PASSWORD, "Second")
        .await;

    reply.expect_error(StatusCode::CONFLICT, "CONFLICT");
}

#[tokio::test]
async fn register_refuses_an_invalid_email() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register("not-an-email", PASSWORD, "Ada").await;

    reply.expect_invalid_field("email");
}

#[tokio::test]
async fn register_refuses_a_password_under_eight_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register(&unique_email("p"), "short7!", "Ada").await;

    reply.expect_invalid_field("password");
}

#[tokio::test]
async fn register_refuses_a_common_password() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register(&unique_email("p"), "password123", "Ada").await;

    reply.expect_invalid_field("password");
}

#[tokio::test]
async fn register_refuses_a_password_over_128_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app
        .register(&unique_email("p"), &"x".repeat(129), "Ada")
        .await;

    reply.expect_invalid_field("password");
}

#[tokio::test]
async fn register_counts_password_and_display_name_lengths_in_unicode_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    // 128 and 50 characters, twice as many bytes.
    let reply = app
        .register(&unique_email("u"), &"é".repeat(128), &"é".repeat(50))
        .await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.data()["user"]["displayName"], "é".repeat(50));
}

#[tokio::test]
async fn register_refuses_an_empty_display_name() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register(&unique_email("n"), PASSWORD, "").await;

    reply.expect_invalid_field("displayName");
}

#[tokio::test]
async fn register_refuses_a_display_name_that_is_blank_after_trimming() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.register(&unique_email("n"), PASSWORD, "   ").await;

    reply.expect_invalid_field("displayName");
}

#[tokio::test]
async fn register_refuses_a_display_name_over_50_characters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app
        .register(&unique_email("n"), PASSWORD, &"n".repeat(51))
        .await;

    reply.expect_invalid_field("displayName");
}

#[tokio::test]
async fn register_counts_the_display_name_after_trimming() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let name = "n".repeat(50);

    // 52 characters as sent, 50 once trimmed: within the rule.
    let reply = app
        .register(&unique_email("n"), PASSWORD, &format!(" {name} "))
        .await;

    reply.expect_status(StatusCode::CREATED);
    assert_eq!(reply.data()["user"]["displayName"], name);
}

#[tokio::test]
async fn register_refuses_a_role_in_the_body() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let email = unique_email("role");

    let reply = app
        .post_json(
            "/auth/register",
            &json!({"email": email, "password": PASSWORD, "displayName": "Eve", "role": "admin"}),
        )
        .await;

    reply.expect_invalid_field("role");
    // Refused, not half-done: the address is still free.
    app.register(&email, PASSWORD, "Eve")
        .await
        .expect_status(StatusCode::CREATED);
}

#[tokio::test]
async fn register_refuses_an_id_in_the_body() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app
        .post_json(
            "/auth/register",
            &json!({
                "id": "01900000-0000-7000-8000-000000000001",
                "email": unique_email("id"), "password": PASSWORD, "displayName": "Eve",
            }),
        )
        .await;

    reply.expect_invalid_field("id");
}

#[tokio::test]
async fn an_email_listed_in_roster_admin_emails_registers_as_admin() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_ADMIN_EMAILS", "Boss@Example.com")]).await
    else {
        return;
    };

    let boss = app.register("boss@EXAMPLE.com", PASSWORD, "Boss").await;
    let other = app
        .register(&unique_email("staff"), PASSWORD, "Staff")
        .await;

    boss.expect_status(StatusCode::CREATED);
    assert_eq!(boss.data()["user"]["role"], "admin");
    other.expect_status(StatusCode::CREATED);
    assert_eq!(other.data()["user"]["role"], "user");
}

// --- Login -----------------------------------------------------------------

#[tokio::test]
async fn login_with_the_right_password_answers_200_with_a_new_session() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app
        .login(&format!(" {} ", user.email.to_uppercase()), PASSWORD)
        .await;

    reply.expect_status(StatusCode::OK);
    let data = reply.data();
    assert_eq!(data["user"]["id"], user.user_id.as_str());
    assert_ne!(data["sessionId"], user.session_id.as_str());
    assert!(
        data["accessToken"]
            .as_str()
            .is_some_and(|t| t.starts_with("v4.public."))
    );
    let cookie = reply
        .set_cookie("roster_refresh")
        .expect("the refresh cookie");
    assert_eq!(cookie.value, data["refreshToken"].as_str().expect("token"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let wrong_password = app.login(&user.email, "not the password at all").await;
    let unknown_email = app.login(&unique_email("nobody"), PASSWORD).await;

    wrong_password.expect_unauthenticated();
    unknown_email.expect_unauthenticated();
    assert_eq!(
        wrong_password.error_message(),
        unknown_email.error_message()
    );
    assert_eq!(wrong_password.set_cookie("roster_refresh"), None);
}

// --- Access tokens ---------------------------------------------------------

#[tokio::test]
async fn me_with_an_access_token_answers_the_user() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app.me(&user.access_token).await;

    reply.expect_status(StatusCode::OK);
    let me = reply.data();
    assert_eq!(me["id"], user.user_id.as_str());
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["displayName"], "Test User");
    assert_eq!(me["role"], "user");
    timestamp(&me["createdAt"]);
}

#[tokio::test]
async fn me_without_a_token_is_401_with_a_bearer_challenge() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.get("/auth/me", None).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn a_tampered_access_token_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app.me(&tampered(&user.access_token)).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let stranger = PasetoSigner::ephemeral(&OsRandom, app.issuer(), app.audience())
        .expect("a signer with a fresh key");
    let forged = stranger.sign(&claims_for(&app, &user)).expect("signs");

    let reply = app.me(&forged).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn an_access_token_expires_after_fifteen_minutes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    app.clock.advance(ACCESS_TTL - Duration::seconds(1));
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);

    app.clock.advance(Duration::seconds(2));
    let reply = app.me(&user.access_token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn an_access_token_in_the_query_string_is_not_accepted() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    for query in ["access_token", "token", "bearer"] {
        let path = format!("/auth/me?{query}={}", user.access_token);

        let reply = send(app.api(Method::GET, &path)).await;

        reply.expect_unauthenticated();
    }
}

#[tokio::test]
async fn a_token_with_this_servers_key_and_claims_is_accepted() {
    // The control for the forged-token tests below: forging works, so their
    // refusals come from the one claim each of them spoils.
    let Some((app, key)) = app_with_known_key().await else {
        return;
    };
    let user = app.new_user().await;
    let token = signer(&key, &app.issuer(), &app.audience())
        .sign(&claims_for(&app, &user))
        .expect("signs");

    let reply = app.me(&token).await;

    reply.expect_status(StatusCode::OK);
}

#[tokio::test]
async fn a_token_signed_by_an_older_configured_key_is_accepted_so_keys_can_rotate() {
    let (new_key, old_key) = (
        generate_paserk_secret(&OsRandom).expect("a key"),
        generate_paserk_secret(&OsRandom).expect("a key"),
    );
    let keys = format!("{new_key},{old_key}");
    let Some(app) = TestApp::spawn_with(&[("ROSTER_TOKEN_KEY", &keys)]).await else {
        return;
    };
    let user = app.new_user().await;
    let from_old_key = signer(&old_key, &app.issuer(), &app.audience())
        .sign(&claims_for(&app, &user))
        .expect("signs");

    let reply = app.me(&from_old_key).await;

    reply.expect_status(StatusCode::OK);
    // New tokens name the first key: a verifier holding only it accepts them.
    let only_new = signer(&new_key, &app.issuer(), &app.audience());
    assert!(only_new.verify(&user.access_token, app.clock.now()).is_ok());
}

#[tokio::test]
async fn a_token_for_another_issuer_is_refused() {
    let Some((app, key)) = app_with_known_key().await else {
        return;
    };
    let user = app.new_user().await;
    let token = signer(&key, "https://elsewhere.example", &app.audience())
        .sign(&claims_for(&app, &user))
        .expect("signs");

    let reply = app.me(&token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let Some((app, key)) = app_with_known_key().await else {
        return;
    };
    let user = app.new_user().await;
    let token = signer(&key, &app.issuer(), "https://elsewhere.example/api/v1")
        .sign(&claims_for(&app, &user))
        .expect("signs");

    let reply = app.me(&token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn a_token_that_is_not_yet_valid_is_refused() {
    let Some((app, key)) = app_with_known_key().await else {
        return;
    };
    let user = app.new_user().await;
    let mut claims = claims_for(&app, &user);
    claims.issued_at += Duration::minutes(5);
    claims.expires_at += Duration::minutes(5);
    let token = signer(&key, &app.issuer(), &app.audience())
        .sign(&claims)
        .expect("signs");

    let reply = app.me(&token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn a_token_naming_another_users_session_is_refused() {
    let Some((app, key)) = app_with_known_key().await else {
        return;
    };
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let mut claims = claims_for(&app, &mallory);
    claims.session_id = alice.session_id.parse().expect("a session id");
    let token = signer(&key, &app.issuer(), &app.audience())
        .sign(&claims)
        .expect("signs");

    let reply = app.me(&token).await;

    reply.expect_unauthenticated();
}

// --- Refresh and rotation --------------------------------------------------

#[tokio::test]
async fn refresh_rotates_to_a_new_session_with_new_tokens() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app.refresh(&user.refresh_token).await;

    reply.expect_status(StatusCode::OK);
    let next = SignedIn::from_reply(&user.email, &reply);
    assert_eq!(next.user_id, user.user_id);
    assert_ne!(next.session_id, user.session_id);
    assert_ne!(next.access_token, user.access_token);
    assert_ne!(next.refresh_token, user.refresh_token);
    let cookie = reply
        .set_cookie("roster_refresh")
        .expect("the refresh cookie");
    assert_eq!(cookie.value, next.refresh_token);
    app.me(&next.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn after_a_refresh_the_previous_sessions_access_token_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    app.refresh(&user.refresh_token)
        .await
        .expect_status(StatusCode::OK);

    let reply = app.me(&user.access_token).await;

    reply.expect_unauthenticated();
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app
        .refresh("bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtbm90LW9uZQ")
        .await;

    reply.expect_unauthenticated();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_with_one_token_all_get_the_same_single_new_session() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let replies = join_all((0..16).map(|_| app.refresh(&user.refresh_token))).await;

    for reply in &replies {
        reply.expect_status(StatusCode::OK);
    }
    let first = SignedIn::from_reply(&user.email, &replies[0]);
    for reply in &replies {
        let other = SignedIn::from_reply(&user.email, reply);
        assert_eq!(other.session_id, first.session_id);
        assert_eq!(other.refresh_token, first.refresh_token);
    }
    assert_ne!(first.session_id, user.session_id);
    let sessions = app.sessions(&first.access_token).await;
    sessions.expect_status(StatusCode::OK);
    assert_eq!(session_ids(&sessions), [first.session_id.as_str()]);
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_session_and_refresh_token() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let first = app.refresh(&user.refresh_token).await;
    let first = SignedIn::from_reply(&user.email, first.expect_status(StatusCode::OK));
    app.clock.advance(Duration::seconds(5));

    let retry = app.refresh(&user.refresh_token).await;

    retry.expect_status(StatusCode::OK);
    let retry = SignedIn::from_reply(&user.email, &retry);
    assert_eq!(retry.session_id, first.session_id);
    assert_eq!(retry.refresh_token, first.refresh_token);
    app.me(&retry.access_token)
        .await
        .expect_status(StatusCode::OK);
    let sessions = app.sessions(&first.access_token).await;
    assert_eq!(session_ids(&sessions), [first.session_id.as_str()]);
}

#[tokio::test]
async fn reusing_a_rotated_token_after_the_grace_window_revokes_the_whole_family() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let next = app.refresh(&user.refresh_token).await;
    let next = SignedIn::from_reply(&user.email, next.expect_status(StatusCode::OK));
    app.clock.advance(GRACE + Duration::seconds(1));

    let reuse = app.refresh(&user.refresh_token).await;

    reuse.expect_unauthenticated();
    app.me(&next.access_token).await.expect_unauthenticated();
    app.refresh(&next.refresh_token)
        .await
        .expect_unauthenticated();
}

#[tokio::test]
async fn reusing_an_older_token_revokes_the_family_even_within_the_grace_window() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let second = app.refresh(&user.refresh_token).await;
    let second = SignedIn::from_reply(&user.email, second.expect_status(StatusCode::OK));
    let third = app.refresh(&second.refresh_token).await;
    let third = SignedIn::from_reply(&user.email, third.expect_status(StatusCode::OK));

    let reuse = app.refresh(&user.refresh_token).await;

    reuse.expect_unauthenticated();
    app.me(&third.access_token).await.expect_unauthenticated();
    app.refresh(&third.refresh_token)
        .await
        .expect_unauthenticated();
}

#[tokio::test]
async fn reuse_detection_revokes_only_the_family_of_the_reused_token() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let elsewhere = app.another_session(&user).await;
    app.refresh(&user.refresh_token)
        .await
        .expect_status(StatusCode::OK);
    app.clock.advance(GRACE + Duration::seconds(1));

    app.refresh(&user.refresh_token)
        .await
        .expect_unauthenticated();

    app.me(&elsewhere.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_token_unused_for_seven_days_expires() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let idle = app.new_user().await;
    let used = app.another_session(&idle).await;

    app.clock.advance(IDLE - Duration::seconds(1));
    let just_in_time = app.refresh(&used.refresh_token).await;
    app.clock.advance(Duration::seconds(2));
    let too_late = app.refresh(&idle.refresh_token).await;

    just_in_time.expect_status(StatusCode::OK);
    too_late.expect_unauthenticated();
}

#[tokio::test]
async fn a_family_ends_thirty_days_after_its_login_whatever_its_refreshes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let login_at = app.clock.now();
    let mut current = app.new_user().await;
    for _ in 0..4 {
        app.clock.advance(Duration::days(6));
        let reply = app.refresh(&current.refresh_token).await;
        current = SignedIn::from_reply(&current.email, reply.expect_status(StatusCode::OK));
        let expires = timestamp(&reply.data()["refreshTokenExpiresAt"]);
        assert!(expires <= login_at + Duration::days(30), "{expires}");
    }

    // A second before day 30 (the default, pinned to the second): the
    // last refresh, whose token ends with the family.
    app.clock.advance(Duration::days(6) - Duration::seconds(1));
    let last = app.refresh(&current.refresh_token).await;
    current = SignedIn::from_reply(&current.email, last.expect_status(StatusCode::OK));
    assert_eq!(
        timestamp(&last.data()["refreshTokenExpiresAt"]),
        login_at + Duration::days(30)
    );
    app.clock.advance(Duration::seconds(2)); // a second after day 30
    let reply = app.refresh(&current.refresh_token).await;

    reply.expect_unauthenticated();
}

// --- Refresh through the cookie -------------------------------------------

#[tokio::test]
async fn refresh_with_the_cookie_from_an_allowed_origin_succeeds() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_CORS_ORIGINS", APP_ORIGIN)]).await else {
        return;
    };
    let user = app.new_user().await;

    let reply = refresh_with_cookie(&app, &user.refresh_token, Some(APP_ORIGIN)).await;

    reply.expect_status(StatusCode::OK);
    assert_ne!(reply.data()["sessionId"], user.session_id.as_str());
    let cookie = reply.set_cookie("roster_refresh").expect("a new cookie");
    assert_eq!(
        cookie.value,
        reply.data()["refreshToken"].as_str().expect("token")
    );
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn refresh_with_the_cookie_and_no_origin_is_403() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_CORS_ORIGINS", APP_ORIGIN)]).await else {
        return;
    };
    let user = app.new_user().await;

    let reply = refresh_with_cookie(&app, &user.refresh_token, None).await;

    reply.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn refresh_with_the_cookie_from_another_origin_is_403() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_CORS_ORIGINS", APP_ORIGIN)]).await else {
        return;
    };
    let user = app.new_user().await;

    let reply = refresh_with_cookie(&app, &user.refresh_token, Some("https://evil.example")).await;

    reply.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn refresh_with_an_empty_body_and_no_cookie_is_401() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = send(app.api(Method::POST, "/auth/refresh")).await;

    reply.expect_unauthenticated();
}

// --- Logout ------------------------------------------------------------------

#[tokio::test]
async fn logout_ends_this_session_and_clears_the_cookie() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app.logout(&user.access_token, "local").await;

    reply.expect_status(StatusCode::NO_CONTENT);
    assert_eq!(reply.text, "");
    let cookie = reply
        .set_cookie("roster_refresh")
        .expect("a clearing cookie");
    assert_eq!(cookie.value, "");
    assert_eq!(cookie.attribute("Max-Age"), Some("0"));
    assert_eq!(cookie.attribute("Path"), Some("/api/v1/auth"));
    app.me(&user.access_token).await.expect_unauthenticated();
    app.refresh(&user.refresh_token)
        .await
        .expect_unauthenticated();
}

#[tokio::test]
async fn logout_without_a_body_is_local() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let other = app.another_session(&user).await;

    let reply = send(
        app.api(Method::POST, "/auth/logout")
            .bearer_auth(&user.access_token),
    )
    .await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&user.access_token).await.expect_unauthenticated();
    app.me(&other.access_token)
        .await
        .expect_status(StatusCode::OK);
}

/// What generated clients send for an optional body left out: a JSON
/// content type and no bytes.
#[tokio::test]
async fn logout_and_refresh_with_a_json_content_type_and_no_body_act_as_without_a_body() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_CORS_ORIGINS", APP_ORIGIN)]).await else {
        return;
    };
    let user = app.new_user().await;
    let refreshed = app.another_session(&user).await;

    let logout = send(
        app.api(Method::POST, "/auth/logout")
            .bearer_auth(&user.access_token)
            .header("content-type", "application/json"),
    )
    .await;
    let refresh = send(
        app.api(Method::POST, "/auth/refresh")
            .header("content-type", "application/json")
            .header(
                COOKIE,
                format!("roster_refresh={}", refreshed.refresh_token),
            )
            .header(ORIGIN, APP_ORIGIN),
    )
    .await;

    logout.expect_status(StatusCode::NO_CONTENT);
    app.me(&user.access_token).await.expect_unauthenticated();
    refresh.expect_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_others_ends_every_other_session_and_keeps_this_one() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let this = app.new_user().await;
    let second = app.another_session(&this).await;
    let third = app.another_session(&this).await;

    let reply = app.logout(&this.access_token, "others").await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&second.access_token).await.expect_unauthenticated();
    app.me(&third.access_token).await.expect_unauthenticated();
    app.me(&this.access_token)
        .await
        .expect_status(StatusCode::OK);
    app.refresh(&this.refresh_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_global_ends_every_session_of_the_user() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let this = app.new_user().await;
    let other = app.another_session(&this).await;
    let stranger = app.new_user().await;

    let reply = app.logout(&this.access_token, "global").await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&this.access_token).await.expect_unauthenticated();
    app.me(&other.access_token).await.expect_unauthenticated();
    app.refresh(&other.refresh_token)
        .await
        .expect_unauthenticated();
    app.me(&stranger.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_with_only_a_refresh_token_in_the_body_ends_that_session() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app
        .post_json("/auth/logout", &json!({"refreshToken": user.refresh_token}))
        .await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&user.access_token).await.expect_unauthenticated();
    app.refresh(&user.refresh_token)
        .await
        .expect_unauthenticated();
}

#[tokio::test]
async fn logout_with_the_cookie_is_accepted_only_from_an_allowed_origin() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_CORS_ORIGINS", APP_ORIGIN)]).await else {
        return;
    };
    let user = app.new_user().await;
    let logout = |origin: Option<&'static str>| {
        let request = app
            .api(Method::POST, "/auth/logout")
            .header(COOKIE, format!("roster_refresh={}", user.refresh_token));
        send(match origin {
            Some(origin) => request.header(ORIGIN, origin),
            None => request,
        })
    };

    let without_origin = logout(None).await;
    let from_app = logout(Some(APP_ORIGIN)).await;

    without_origin.expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    from_app.expect_status(StatusCode::NO_CONTENT);
    app.me(&user.access_token).await.expect_unauthenticated();
}

#[tokio::test]
async fn logout_without_any_credential_is_401() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.post_json("/auth/logout", &json!({})).await;

    reply.expect_unauthenticated();
}

// --- Sessions ----------------------------------------------------------------

#[tokio::test]
async fn the_session_list_shows_only_active_sessions_and_marks_the_current_one() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let this = app.new_user().await;
    let other = app.another_session(&this).await;
    let logged_out = app.another_session(&this).await;
    app.logout(&logged_out.access_token, "local")
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let rotated = app.another_session(&this).await;
    let refreshed = app.refresh(&rotated.refresh_token).await;
    let refreshed = SignedIn::from_reply(&this.email, refreshed.expect_status(StatusCode::OK));
    let now = app.clock.now();

    let reply = app.sessions(&this.access_token).await;

    reply.expect_status(StatusCode::OK);
    let mut ids = session_ids(&reply);
    ids.sort_unstable();
    let mut expected = [
        this.session_id.as_str(),
        other.session_id.as_str(),
        refreshed.session_id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for session in reply.data().as_array().expect("a list") {
        let is_this = session["id"] == this.session_id.as_str();
        assert_eq!(session["current"], is_this, "{session}");
        assert_eq!(timestamp(&session["createdAt"]), now);
        timestamp(&session["lastUsedAt"]);
        assert_eq!(timestamp(&session["expiresAt"]), now + IDLE);
        assert_eq!(session["userAgent"], USER_AGENT);
        assert_eq!(session["ip"], "127.0.0.1");
    }
}

#[tokio::test]
async fn a_user_agent_is_kept_to_its_first_512_bytes() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let agent = "x".repeat(64 * 1024);

    let registered = send(
        app.api(Method::POST, "/auth/register")
            .header("user-agent", agent.as_str())
            .json(&json!({"email": unique_email("agent"), "password": PASSWORD, "displayName": "Agent"})),
    )
    .await;

    registered.expect_status(StatusCode::CREATED);
    let token = registered.data()["accessToken"].as_str().expect("a token");
    let sessions = app.sessions(token).await;
    sessions.expect_status(StatusCode::OK);
    assert_eq!(
        sessions.data()[0]["userAgent"],
        agent[..512],
        "{}",
        sessions.text
    );
}

#[tokio::test]
async fn a_session_deleted_from_the_list_is_refused_on_the_very_next_request() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let this = app.new_user().await;
    let other = app.another_session(&this).await;

    let reply = app
        .delete(
            &format!("/auth/sessions/{}", other.session_id),
            &this.access_token,
        )
        .await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&other.access_token).await.expect_unauthenticated();
    app.refresh(&other.refresh_token)
        .await
        .expect_unauthenticated();
    app.me(&this.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn deleting_another_users_session_is_404_and_leaves_it_alone() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bob = app.new_user().await;

    let reply = app
        .delete(
            &format!("/auth/sessions/{}", bob.session_id),
            &alice.access_token,
        )
        .await;

    reply.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.me(&bob.access_token)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_session_with_a_malformed_id_is_400() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = app
        .delete("/auth/sessions/not-a-uuid", &user.access_token)
        .await;

    reply.expect_invalid_field("id");
}

// --- Password change --------------------------------------------------------

#[tokio::test]
async fn changing_the_password_with_a_wrong_current_password_is_400() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = change_password(
        &app,
        &user.access_token,
        "not my password",
        "a brand new secret",
    )
    .await;

    reply.expect_invalid_field("currentPassword");
    app.login(&user.email, PASSWORD)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn changing_to_a_common_password_is_400() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;

    let reply = change_password(&app, &user.access_token, PASSWORD, "password123").await;

    reply.expect_invalid_field("newPassword");
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session_at_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let this = app.new_user().await;
    let other = app.another_session(&this).await;
    let new_password = "a brand new secret";

    let reply = change_password(&app, &this.access_token, PASSWORD, new_password).await;

    reply.expect_status(StatusCode::NO_CONTENT);
    app.me(&other.access_token).await.expect_unauthenticated();
    app.refresh(&other.refresh_token)
        .await
        .expect_unauthenticated();
    app.me(&this.access_token)
        .await
        .expect_status(StatusCode::OK);
    app.login(&this.email, new_password)
        .await
        .expect_status(StatusCode::OK);
    app.login(&this.email, PASSWORD)
        .await
        .expect_unauthenticated();
}
