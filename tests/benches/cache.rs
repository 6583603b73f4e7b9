//! What the cache is worth on PostgreSQL: the cached routes through the
//! whole HTTP application (called in process, without a socket), with the
//! cache on and off, in one run, in interleaved rounds.
//!
//! - `redis`: PostgreSQL + Redis with the cache on (as several instances
//!   run);
//! - `redis, cache off`: the same with `ROSTER_CACHE=off`, so both pay
//!   the same Redis rate limiter and differ by the cache alone;
//! - `postgres`: PostgreSQL alone (the cache is off there by design; the
//!   limiter is in-process).
//!
//! Each round has `CALLERS` concurrent callers share `PER_ROUND` requests;
//! the figures are the rounds' medians. Needs PostgreSQL and Redis (as the
//! tests do: `TEST_DATABASE_URL`, `TEST_REDIS_URL`).
//!
//! Run with `cargo bench -p tests --bench cache`.

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_system::{OsRandom, SystemClock};
use bootstrap::{App, Config};
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response};
use serde_json::{Value, json};
use tests::pg::TestDatabase;
use tests::redis::TestRedis;

const CALLERS: usize = 16;
const PER_ROUND: usize = 4_000;
const ROUNDS: usize = 5;

type Api = Arc<BoxEndpoint<'static, Response>>;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let database = TestDatabase::create().await.expect("PostgreSQL");
    let redis = TestRedis::create().await.expect("Redis");
    let key = adapter_paseto::generate_paserk_secret(&OsRandom).expect("a key");
    let common = [
        ("DATABASE_URL", database.url.as_str()),
        ("ROSTER_TOKEN_KEY", key.as_str()),
        ("ROSTER_ARGON2", "1024,1,1"),
        ("ROSTER_RATE_LIMIT_API", "100000000/60"),
    ];
    let with_redis = [
        ("REDIS_URL", redis.config.url.as_str()),
        ("ROSTER_REDIS_PREFIX", redis.config.prefix.as_str()),
    ];
    let apps: [(&str, Api); 3] = [
        ("redis", build(&[&common[..], &with_redis].concat()).await),
        (
            "redis, cache off",
            build(&[&common[..], &with_redis, &[("ROSTER_CACHE", "off")]].concat()).await,
        ),
        ("postgres", build(&common).await),
    ];
    let routes = seed(&apps[0].1).await;

    for (route, path, token) in &routes {
        let mut figures: Vec<Vec<Round>> = vec![Vec::new(); apps.len()];
        for round in 0..ROUNDS {
            // Rotate which goes first, so none always runs warm.
            for turn in 0..apps.len() {
                let which = (round + turn) % apps.len();
                let measured = batch(&apps[which].1, path, token.as_deref()).await;
                figures[which].push(measured);
            }
        }
        let medians: Vec<Round> = figures.iter_mut().map(|r| Round::median(r)).collect();
        println!("{route}");
        for ((name, _), median) in apps.iter().zip(&medians) {
            println!(
                "  {name:<17} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({:.2}x the cache-off figure)",
                median.per_second,
                median.p50.as_secs_f64() * 1e3,
                median.p99.as_secs_f64() * 1e3,
                median.per_second / medians[1].per_second,
            );
        }
    }
}

async fn build(vars: &[(&str, &str)]) -> Api {
    let config = Config::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        .expect("configuration");
    let storage = bootstrap::open_storage(&config).await.expect("storage");
    let app = App::build(&config, storage, Arc::new(SystemClock)).expect("app");
    Arc::new(app.endpoint().map_to_response().boxed())
}

#[derive(Debug, Clone, Copy)]
struct Round {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Round {
    fn median(rounds: &mut [Round]) -> Round {
        rounds.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        rounds[rounds.len() / 2]
    }
}

/// `PER_ROUND` requests to `path` from `CALLERS` concurrent callers.
async fn batch(api: &Api, path: &str, token: Option<&str>) -> Round {
    let started = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (api, path, token) = (Arc::clone(api), path.to_owned(), token.map(str::to_owned));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PER_ROUND / CALLERS);
                for _ in 0..PER_ROUND / CALLERS {
                    let mut request = Request::builder().method(Method::GET).uri_str(&path);
                    if let Some(token) = &token {
                        request = request.header("authorization", format!("Bearer {token}"));
                    }
                    let sent = Instant::now();
                    let response = api.call(request.finish()).await.expect("an answer");
                    assert_eq!(response.status(), StatusCode::OK, "{path}");
                    response.into_body().into_bytes().await.expect("a body");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(PER_ROUND);
    for caller in callers {
        latencies.extend(caller.await.expect("a caller"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Round {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

/// A player with an account, four characters in a team, progress on 30
/// quests; the cached routes to measure, with their token.
async fn seed(api: &Api) -> Vec<(&'static str, String, Option<String>)> {
    let registered = call(
        api,
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
    let auth = Some(token.as_str());
    let account = call(
        api,
        Method::POST,
        "/api/v1/accounts",
        auth,
        Some(json!({"name": "Main"})),
    )
    .await;
    let first = |list: Value| list[0]["id"].as_i64().expect("an id");
    let class = first(call(api, Method::GET, "/api/v1/catalog/classes", None, None).await);
    let server = first(call(api, Method::GET, "/api/v1/catalog/servers", None, None).await);
    let mut members = Vec::new();
    for n in 0..4 {
        let character = call(
            api,
            Method::POST,
            "/api/v1/characters",
            auth,
            Some(json!({
                "name": format!("Member {n}"), "level": 50 + n, "classId": class,
                "serverId": server, "accountId": account["id"],
            })),
        )
        .await;
        members.push(character["id"].as_str().expect("an id").to_owned());
    }
    let team = call(
        api,
        Method::POST,
        "/api/v1/teams",
        auth,
        Some(json!({"name": "Four", "memberIds": members})),
    )
    .await;
    let quests = call(
        api,
        Method::GET,
        "/api/v1/catalog/items?kind=quest&perPage=30",
        None,
        None,
    )
    .await;
    let quests: Vec<i64> = quests
        .as_array()
        .expect("items")
        .iter()
        .map(|q| q["id"].as_i64().expect("an id"))
        .collect();
    for (n, quest) in quests.iter().enumerate() {
        let status = if n % 2 == 0 { "done" } else { "in_progress" };
        call(
            api,
            Method::PUT,
            &format!("/api/v1/characters/{}/progressions/{quest}", members[n % 4]),
            auth,
            Some(json!({ "status": status })),
        )
        .await;
    }
    let owned = Some(token.clone());
    vec![
        (
            "GET /characters/{id}/progressions/summary",
            format!("/api/v1/characters/{}/progressions/summary", members[0]),
            owned.clone(),
        ),
        (
            "GET /teams/{id}/progressions/{itemId}",
            format!(
                "/api/v1/teams/{}/progressions/{}",
                team["id"].as_str().expect("an id"),
                quests[0]
            ),
            owned.clone(),
        ),
        ("GET /accounts", "/api/v1/accounts".to_owned(), owned),
        (
            "GET /catalog/classes",
            "/api/v1/catalog/classes".to_owned(),
            None,
        ),
        (
            "GET /catalog/items?kind=quest&perPage=50",
            "/api/v1/catalog/items?kind=quest&perPage=50".to_owned(),
            None,
        ),
    ]
}

/// One request; the envelope's `data`.
async fn call(
    api: &Api,
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
    let response = api
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
