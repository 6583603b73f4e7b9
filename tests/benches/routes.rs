//! The character routes measured against the authenticated read, in one
//! run: `GET /characters/{id}` is the baseline, and each of
//! `GET /characters` (a page of 20), `POST /characters` and a name-only
//! `PATCH /characters/{id}` is timed in the same interleaved loop, one
//! client, on memory and on PostgreSQL. On PostgreSQL the server reaches
//! the database through a proxy that counts round trips
//! (`tests::round_trips`), so each route's round trips are reported too.
//!
//! Run with `cargo bench -p tests --bench routes` (PostgreSQL from
//! `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tests::app::TestApp;
use tests::pg::TestDatabase;
use tests::roster::{Player, id_of, servers};
use tests::round_trips::RoundTripProxy;

/// Requests of each route, interleaved.
const ITERATIONS: usize = 400;

const ROUTES: [&str; 4] = [
    "GET /characters/{id}",
    "GET /characters",
    "POST /characters",
    "PATCH /characters/{id}",
];

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    // This target's name selects memory for `spawn`.
    let memory = TestApp::spawn().await.expect("a memory server");
    measure("memory", &memory, None).await;

    let Some(database) = TestDatabase::create().await else {
        println!("PostgreSQL unreachable: memory only");
        return;
    };
    let proxy = RoundTripProxy::start(database.server_address()).await;
    let postgres = TestApp::spawn_on(&database.url_via(&proxy.address.to_string()), &[]).await;
    measure("PostgreSQL", &postgres, Some(&proxy)).await;
}

/// Times every route on `app`, interleaved, and prints each against the
/// read; with `proxy`, the round trips of one request of each too.
async fn measure(backend: &str, app: &TestApp, proxy: Option<&RoundTripProxy>) {
    let player = Player::new(app).await;
    let server = servers(app).await[0];
    for i in 0..50 {
        player.character(app, &format!("Seed {i:03}"), server).await;
    }
    let one = player.character(app, "Measured", server).await;
    let path = format!("/characters/{}", id_of(&one));
    let token = player.token().to_owned();

    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut trips = [0u64; 4];
    for i in 0..ITERATIONS {
        for (route, times) in samples.iter_mut().enumerate() {
            if let Some(proxy) = proxy {
                proxy.take();
            }
            let started = Instant::now();
            let reply = match route {
                0 => app.get(&path, Some(&token)).await,
                1 => app.get("/characters?perPage=20", Some(&token)).await,
                2 => {
                    app.post_json_as(
                        "/characters",
                        &token,
                        &json!({
                            "name": format!("Made {i:04}"),
                            "level": 100,
                            "classId": one["classId"],
                            "serverId": server,
                            "accountId": player.account,
                        }),
                    )
                    .await
                }
                _ => {
                    app.patch_json_as(&path, &token, &json!({"name": format!("Measured {i}")}))
                        .await
                }
            };
            times.push(started.elapsed());
            let expected = if route == 2 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            reply.expect_status(expected);
            if let Some(proxy) = proxy {
                // The last iteration's count: every statement is prepared
                // on the pool's connections by then.
                trips[route] = proxy.take();
            }
        }
    }

    let (base_median, _) = stats(&mut samples[0]);
    println!("{backend}: {ITERATIONS} requests of each route, interleaved, one client");
    for (route, times) in samples.iter_mut().enumerate() {
        let (median, p99) = stats(times);
        let round_trips = match proxy {
            Some(_) => format!(" | {} round trips", trips[route]),
            None => String::new(),
        };
        println!(
            "  {:<24} median {:>7.3} ms  p99 {:>7.3} ms | {:.2}x the read{round_trips}",
            ROUTES[route],
            ms(median),
            ms(p99),
            median.as_secs_f64() / base_median.as_secs_f64(),
        );
    }
}

fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
