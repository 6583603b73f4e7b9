//! Rules that hold for every case they name, tested over each case rather
//! than a sample (issue 15): a body over the limit is refused whether its
//! length is declared or chunked; every authenticated answer, success or
//! error, by token or by API key, says `Cache-Control: no-store`; each
//! logout scope writes its audit entry; every code of the error table is
//! answered as its envelope.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use adapter_http::ErrorCode;
use tests::app::{Backend, PASSWORD, Reply, TestApp, raw, send};
use tests::pg::TestDatabase;
use tests::proxy::Proxy;
use tests::roster::{Player, id_of, servers};

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

/// A request as bytes: the API's `path`, an optional bearer token, extra
/// header lines and an optional JSON body; the connection closes after it.
fn http(method: &str, path: &str, token: Option<&str>, extra: &str, body: Option<&str>) -> Vec<u8> {
    let mut request =
        format!("{method} /api/v1{path} HTTP/1.1\r\nHost: roster\r\nConnection: close\r\n{extra}");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    request.into_bytes()
}

fn address(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

/// Sends `request` to `app` and checks the answer is `code`'s envelope
/// with `code`'s status.
async fn expect_envelope(app: &TestApp, code: ErrorCode, request: Vec<u8>) {
    let reply = raw(&address(app), &request).await;
    let name = code.as_str();
    assert_eq!(reply.status, code.status().as_u16(), "{name}: {reply:?}");
    assert_eq!(reply.body["success"], false, "{name}");
    assert_eq!(reply.body["error"]["code"], name, "{reply:?}");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{name}: {reply:?}"
    );
    assert!(
        reply.head.contains("content-type: application/json"),
        "{name}: {}",
        reply.head
    );
    let id = reply.body["meta"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("{name}: no request id: {reply:?}"));
    assert!(
        reply.head.contains(&format!("x-request-id: {id}")),
        "{name}: {}",
        reply.head
    );
}

/// Every code of the server's error table (`ErrorCode::ALL`), provoked
/// through a socket and answered as its envelope with its status. Memory
/// storage cannot fail, so `INTERNAL_ERROR` and `SERVICE_UNAVAILABLE` are
/// provoked in the PostgreSQL twin only: a table dropped under the server,
/// then the database cut off.
#[tokio::test]
async fn every_error_code_of_the_table_is_answered_as_its_envelope() {
    let on_postgres = matches!(Backend::selected(), Backend::Postgres);
    let (database, mut proxy) = if on_postgres {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        let proxy = Proxy::start(database.server_address()).await;
        (Some(database), Some(proxy))
    } else {
        (None, None)
    };
    let app = match (&database, &proxy) {
        (Some(database), Some(proxy)) => {
            TestApp::spawn_on(&database.url_via(&proxy.address.to_string()), &[]).await
        }
        _ => match TestApp::spawn().await {
            Some(app) => app,
            None => return,
        },
    };
    // A body must arrive within a second here, and each user has one API
    // request a minute.
    let Some(strict) = TestApp::spawn_with(&[
        ("ROSTER_BODY_TIMEOUT", "1"),
        ("ROSTER_RATE_LIMIT_API", "1/60"),
    ])
    .await
    else {
        return;
    };

    let player = Player::new(&app).await;
    let token = Some(player.token());
    let server = servers(&app).await[0];
    let character = player.character(&app, "Ana", server).await;
    let character = id_of(&character);
    let limited = strict.new_user().await;
    strict
        .me(&limited.access_token)
        .await
        .expect_status(StatusCode::OK);
    let many_headers: String = (0..200).map(|n| format!("X-Header-{n}: {n}\r\n")).collect();

    let cases: Vec<(ErrorCode, &TestApp, Vec<u8>)> = vec![
        (
            ErrorCode::Validation,
            &app,
            http("POST", "/auth/login", None, "", Some("{")),
        ),
        (
            ErrorCode::Unauthenticated,
            &app,
            http("GET", "/auth/me", None, "", None),
        ),
        (
            ErrorCode::Forbidden,
            &app,
            http("GET", "/admin/users", token, "", None),
        ),
        (
            ErrorCode::NotFound,
            &app,
            http(
                "GET",
                "/characters/0190f7c4-0000-7000-8000-000000000000",
                token,
                "",
                None,
            ),
        ),
        (
            ErrorCode::MethodNotAllowed,
            &app,
            http("PUT", "/auth/login", None, "", None),
        ),
        (
            ErrorCode::Conflict,
            &app,
            http("POST", "/accounts", token, "", Some(r#"{"name":"main"}"#)),
        ),
        (ErrorCode::RequestTimeout, &strict, {
            // Ten bytes of a declared hundred, then nothing.
            let mut request = http("POST", "/auth/login", None, "", Some(&" ".repeat(100)));
            request.truncate(request.len() - 90);
            request
        }),
        (
            ErrorCode::PreconditionFailed,
            &app,
            http(
                "PATCH",
                &format!("/characters/{character}"),
                token,
                "If-Match: \"99\"\r\n",
                Some(r#"{"level":2}"#),
            ),
        ),
        (
            ErrorCode::PayloadTooLarge,
            &app,
            http(
                "POST",
                "/auth/login",
                None,
                "",
                Some(&" ".repeat(1024 * 1024 + 1)),
            ),
        ),
        (
            ErrorCode::UriTooLong,
            &app,
            http(
                "GET",
                &format!("/catalog/items?search={}", "a".repeat(64 * 1024)),
                None,
                "",
                None,
            ),
        ),
        (
            ErrorCode::UnsupportedMediaType,
            &app,
            http(
                "POST",
                "/auth/login",
                None,
                "Content-Type: text/plain\r\nContent-Length: 2\r\n",
                None,
            )
            .into_iter()
            .chain(*b"hi")
            .collect(),
        ),
        (
            ErrorCode::HeadersTooLarge,
            &app,
            http("GET", "/auth/me", None, &many_headers, None),
        ),
        (
            ErrorCode::RateLimited,
            &strict,
            http("GET", "/auth/me", Some(&limited.access_token), "", None),
        ),
    ];
    let mut answered: Vec<ErrorCode> = Vec::new();
    for (code, app, request) in cases {
        expect_envelope(app, code, request).await;
        answered.push(code);
    }

    if let (Some(database), Some(proxy)) = (&database, &mut proxy) {
        let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
            .await
            .expect("a connection of the test's own");
        tokio::spawn(connection);
        client
            .batch_execute("DROP TABLE characters CASCADE")
            .await
            .expect("the table goes");
        expect_envelope(
            &app,
            ErrorCode::Internal,
            http("GET", "/characters", token, "", None),
        )
        .await;
        answered.push(ErrorCode::Internal);

        proxy.cut().await;
        expect_envelope(
            &app,
            ErrorCode::ServiceUnavailable,
            http("GET", "/accounts", token, "", None),
        )
        .await;
        answered.push(ErrorCode::ServiceUnavailable);
    }

    let expected: Vec<ErrorCode> = ErrorCode::ALL
        .iter()
        .copied()
        .filter(|code| {
            on_postgres || !matches!(code, ErrorCode::Internal | ErrorCode::ServiceUnavailable)
        })
        .collect();
    assert_eq!(answered, expected, "a code of the table without its case");
}
