//! What recording the request metrics costs on the hot path: the whole
//! HTTP application (shell, routing, handler), called in process without a
//! socket so that nothing drowns a few hundred nanoseconds, with metrics on
//! and off in one run, in interleaved rounds.
//!
//! - on: the Prometheus recorder `bootstrap` installs (a counter increment
//!   and a histogram sample per request);
//! - off: the same application with no recorder (the `metrics` facade's
//!   no-op, as in a process that installed none).
//!
//! Two routes: `GET /health/live` (the cheapest route, so the overhead is
//! at its largest share) and an authenticated `GET /api/v1/characters/{id}`
//! on memory (the read every client makes).
//!
//! Run with `cargo bench -p tests --bench metrics`.

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use adapter_system::SystemClock;
use bootstrap::{App, Config};
use poem::http::{Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request};
use serde_json::{Value, json};

const PER_ROUND: usize = 20_000;
const ROUNDS: usize = 15;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = Config::from_vars([("ROSTER_ARGON2".to_owned(), "1024,1,1".to_owned())])
        .expect("configuration");
    let build = || {
        // Memory storage, with the bundled catalog loaded.
        let storage = runtime
            .block_on(bootstrap::open_storage(&config))
            .expect("storage");
        let app = App::build(&config, storage, Arc::new(SystemClock)).expect("app");
        app.endpoint()
    };
    // The recorder is installed by the first build; the `off` app answers
    // inside a no-op recorder scope, so its series are registered there
    // (current-thread runtime: the scope covers every poll).
    let on = build();
    let off = build();
    let off_scope = metrics::NoopRecorder;
    let on_path = runtime.block_on(character_path(&on));
    let off_path =
        metrics::with_local_recorder(&off_scope, || runtime.block_on(character_path(&off)));

    for (route, on_target, off_target) in [
        (
            "GET /health/live",
            ("/health/live".to_owned(), None),
            ("/health/live".to_owned(), None),
        ),
        ("GET /api/v1/characters/{id}", on_path, off_path),
    ] {
        let (mut on_ns, mut off_ns) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let time_on = || runtime.block_on(batch(&on, &on_target));
            let time_off = || {
                metrics::with_local_recorder(&off_scope, || {
                    runtime.block_on(batch(&off, &off_target))
                })
            };
            // Alternate which goes first, so neither always runs warm.
            if round % 2 == 0 {
                on_ns.push(time_on());
                off_ns.push(time_off());
            } else {
                off_ns.push(time_off());
                on_ns.push(time_on());
            }
        }
        let (on_median, off_median) = (median(&mut on_ns), median(&mut off_ns));
        let (on_best, off_best) = (on_ns[0], off_ns[0]);
        println!(
            "{route}: metrics on {on_median:.0} ns/request, off {off_median:.0} | recording costs \
             {:.0} ns ({:+.1}%) by the medians of {ROUNDS} rounds of {PER_ROUND}, {:.0} ns \
             ({:+.1}%) by the best rounds ({on_best:.0} vs {off_best:.0})",
            on_median - off_median,
            (on_median / off_median - 1.0) * 100.0,
            on_best - off_best,
            (on_best / off_best - 1.0) * 100.0,
        );
    }
}

type Target = (String, Option<String>);

/// Mean nanoseconds per request over `PER_ROUND` requests to `target`.
async fn batch(app: &impl Endpoint, (path, token): &Target) -> f64 {
    let started = Instant::now();
    for _ in 0..PER_ROUND {
        let mut request = Request::builder().method(Method::GET).uri_str(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .call(request.finish())
            .await
            .map(IntoResponse::into_response)
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
        drop(response.into_body());
    }
    started.elapsed().as_nanos() as f64 / PER_ROUND as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A user with one character on `app`: the character's path and the
/// user's access token.
async fn character_path(app: &impl Endpoint) -> Target {
    let registered = call(
        app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": "bench@example.com", "password": "correct horse battery staple", "displayName": "Bench"})),
    )
    .await;
    let token = registered["accessToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let account = call(
        app,
        Method::POST,
        "/api/v1/accounts",
        Some(&token),
        Some(json!({"name": "Main"})),
    )
    .await;
    let first = |list: Value| list[0]["id"].as_i64().expect("an id");
    let class = first(call(app, Method::GET, "/api/v1/catalog/classes", None, None).await);
    let server = first(call(app, Method::GET, "/api/v1/catalog/servers", None, None).await);
    let character = call(
        app,
        Method::POST,
        "/api/v1/characters",
        Some(&token),
        Some(json!({
            "name": "Measured", "level": 50, "classId": class, "serverId": server,
            "accountId": account["id"],
        })),
    )
    .await;
    let id = character["id"].as_str().expect("an id");
    (format!("/api/v1/characters/{id}"), Some(token))
}

/// One request; the envelope's `data`.
async fn call(
    app: &impl Endpoint,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut request = Request::builder().method(method).uri_str(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .content_type("application/json")
            .body(Body::from_json(body).expect("JSON")),
        None => request.finish(),
    };
    let response = app
        .call(request)
        .await
        .map(IntoResponse::into_response)
        .expect("an answer");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let body: Value = response
        .into_body()
        .into_json()
        .await
        .expect("a JSON envelope");
    body["data"].clone()
}
