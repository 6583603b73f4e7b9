//! Rules that hold for every case they name, tested over each case rather
//! than a sample (issue 15): a body over the limit is refused whether its
//! length is declared or chunked; every authenticated answer, success or
//! error, by token or by API key, says `Cache-Control: no-store`; each
//! logout scope writes its audit entry.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use tests::app::{PASSWORD, Reply, TestApp, send};

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_like_a_declared_one() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_BODY_LIMIT", "1024")]).await else {
        return;
    };
    let address = app.base_url.trim_start_matches("http://").to_owned();
    for (case, chunks) in [
        ("one chunk over the limit", vec![2048]),
        ("many chunks that add up past it", vec![300; 5]),
    ] {
        let mut socket = TcpStream::connect(&address).await.unwrap();
        let mut request = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: roster\r\n\
            Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
        for size in chunks {
            request.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            request.extend(std::iter::repeat_n(b' ', size));
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        let _ = socket.write_all(&request).await;
        let mut answer = vec![0u8; 4096];
        let read = timeout(Duration::from_secs(5), socket.read(&mut answer))
            .await
            .expect("an answer in time")
            .expect("a read");
        let text = String::from_utf8_lossy(&answer[..read]);
        assert!(text.starts_with("HTTP/1.1 413"), "{case}: {text}");
        assert!(text.contains("\"PAYLOAD_TOO_LARGE\""), "{case}: {text}");
    }
    // Under the limit, chunked or not, the body reaches the route.
    let small = json!({"email": "nobody@example.com", "password": "wrong password here"});
    let reply = app.post_json("/auth/login", &small).await;
    reply.expect_unauthenticated();
}

fn expect_no_store(case: &str, reply: &Reply) {
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{case} answered {} without no-store",
        reply.status
    );
}

#[tokio::test]
async fn every_authenticated_answer_is_no_store_by_token_and_by_key_error_or_not() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let key = app.new_api_key(&user.access_token, "rules").await;
    let unknown = uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001);
    for (credential, secret) in [("token", &user.access_token), ("key", &key.key)] {
        // Each credential creates an account of its own name, then again.
        let name = json!({ "name": format!("Cached by {credential}") });
        let me = if credential == "key" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        let cases: [(&str, Method, String, Option<serde_json::Value>, StatusCode); 7] = [
            // A session-only route: refused to a key.
            ("me", Method::GET, "/auth/me".into(), None, me),
            (
                "a list",
                Method::GET,
                "/accounts".into(),
                None,
                StatusCode::OK,
            ),
            (
                "a create",
                Method::POST,
                "/accounts".into(),
                Some(name.clone()),
                StatusCode::CREATED,
            ),
            (
                "an unknown object",
                Method::GET,
                format!("/accounts/{unknown}"),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                "a bad body",
                Method::POST,
                "/teams".into(),
                Some(json!({"name": 7})),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a conflict",
                Method::POST,
                "/accounts".into(),
                Some(name),
                StatusCode::CONFLICT,
            ),
            (
                "an administrator's route",
                Method::GET,
                "/admin/users".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
        ];
        for (case, method, path, body, status) in cases {
            let mut request = app.api(method, &path).bearer_auth(secret);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let reply = send(request).await;
            assert_eq!(reply.status, status, "{credential}: {case}: {}", reply.text);
            expect_no_store(&format!("{credential}: {case}"), &reply);
        }
    }
    // A credential that fails is an authenticated request too.
    let refused = send(
        app.api(Method::GET, "/accounts")
            .bearer_auth("v4.public.not-a-token"),
    )
    .await;
    refused.expect_unauthenticated();
    expect_no_store("a bad token", &refused);
}

#[tokio::test]
async fn each_logout_scope_writes_its_audit_entry() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let user = app.new_user().await;
    let second = app.another_session(&user).await;

    app.logout(&second.access_token, "others")
        .await
        .expect_status(StatusCode::NO_CONTENT);
    app.logout(&second.access_token, "global")
        .await
        .expect_status(StatusCode::NO_CONTENT);

    let login = app.login(&user.email, PASSWORD).await;
    login.expect_status(StatusCode::OK);
    let token = login.data()["accessToken"].as_str().unwrap().to_owned();
    let trail = app.get("/audit?perPage=100", Some(&token)).await;
    trail.expect_status(StatusCode::OK);
    let entries: Vec<(&str, &str, &str)> = trail
        .items()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["resourceType"].as_str().unwrap(),
                e["resourceId"].as_str().unwrap(),
            )
        })
        .filter(|(action, _, _)| action.starts_with("auth.logout"))
        .collect();
    assert_eq!(
        entries,
        [
            ("auth.logout_global", "user", user.user_id.as_str()),
            ("auth.logout_others", "user", user.user_id.as_str()),
        ]
    );
}
