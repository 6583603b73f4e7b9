//! How long one login and one authenticated `GET /auth/me` take, each next
//! to a baseline measured in the same run (this machine is shared and
//! noisy, so ratios say more than absolute figures):
//!
//! - login (argon2id at the default parameters) against one bare argon2
//!   verification with the same parameters;
//! - `GET /auth/me` (token check + session lookup + user read) against
//!   `GET /health/live`, which crosses the same HTTP stack and middleware.
//!
//! And the throughput of `GET /auth/me` on PostgreSQL next to memory: the
//! same load (16 concurrent keep-alive clients in this process) against a
//! server on each backend, in alternating rounds.
//!
//! Run with `cargo bench -p tests --bench auth` (PostgreSQL from
//! `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_system::{OsRandom, SystemClock};
use bootstrap::{App, Config, RunningServer, StorageChoice};
use domain::Password;
use domain::ports::PasswordHasher;
use secrecy::SecretString;
use serde_json::{Value, json};

const LOGINS: usize = 40;
const READS: usize = 3000;
const CLIENTS: usize = 16;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;
const PASSWORD: &str = "correct horse battery staple";

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let client = reqwest::Client::new();
    let (server, access) = server_with_user(StorageChoice::memory(), &client).await;
    let url = |path: &str| format!("{}{path}", server.base_url);

    // Login vs a bare argon2 verification, interleaved.
    let hasher = Argon2Hasher::new(
        Argon2Params::default(),
        1,
        Duration::from_secs(30),
        Arc::new(OsRandom),
    )
    .expect("argon2");
    let hash = hasher
        .hash(&Password::parse(PASSWORD, "password").expect("valid"))
        .await
        .expect("hash");
    let secret = SecretString::from(PASSWORD);
    let (mut logins, mut verifies) = (Vec::new(), Vec::new());
    for _ in 0..LOGINS {
        let started = Instant::now();
        let response = client
            .post(url("/api/v1/auth/login"))
            .json(&json!({"email": "bench@example.com", "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        logins.push(started.elapsed());

        let started = Instant::now();
        hasher.verify(&secret, &hash).await.expect("verify");
        verifies.push(started.elapsed());
    }

    // GET /auth/me vs GET /health/live, interleaved.
    let (mut mes, mut lives) = (Vec::new(), Vec::new());
    for _ in 0..READS {
        let started = Instant::now();
        let response = client
            .get(url("/api/v1/auth/me"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        mes.push(started.elapsed());

        let started = Instant::now();
        let response = client.get(url("/health/live")).send().await.expect("live");
        response.bytes().await.expect("body");
        lives.push(started.elapsed());
    }

    println!("argon2id parameters: {}", Argon2Params::default());
    report(
        "POST /auth/login",
        &mut logins,
        "argon2 verify alone",
        &mut verifies,
    );
    report("GET /auth/me", &mut mes, "GET /health/live", &mut lives);

    // Throughput of GET /auth/me, memory next to PostgreSQL.
    let Some(database) = tests::pg::TestDatabase::create().await else {
        println!("PostgreSQL unreachable: no throughput comparison");
        server.stop().await.expect("stop");
        return;
    };
    let postgres = StorageChoice::postgres(database.storage().await);
    let (pg_server, pg_access) = server_with_user(postgres, &client).await;
    let (mut memory_rates, mut postgres_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        memory_rates.push(throughput(&server.base_url, &access).await);
        postgres_rates.push(throughput(&pg_server.base_url, &pg_access).await);
    }
    let best = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
    println!(
        "GET /auth/me throughput, {CLIENTS} clients, best of {ROUNDS} rounds of {}s: memory {:.0} req/s, \
         PostgreSQL {:.0} req/s | PostgreSQL/memory {:.2}x  (rounds: memory {:?}, PostgreSQL {:?})",
        ROUND.as_secs(),
        best(&memory_rates),
        best(&postgres_rates),
        best(&postgres_rates) / best(&memory_rates),
        memory_rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        postgres_rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
    );
    pg_server.stop().await.expect("stop");
    server.stop().await.expect("stop");
}

/// A server on `storage` with one registered user, and that user's access
/// token.
async fn server_with_user(
    storage: StorageChoice,
    client: &reqwest::Client,
) -> (RunningServer, String) {
    let config = Config::from_vars(Vec::new()).expect("default configuration");
    let app = App::build(&config, storage, Arc::new(SystemClock)).expect("app");
    let server = RunningServer::start(app).await.expect("server");
    let registered: Value = client
        .post(format!("{}/api/v1/auth/register", server.base_url))
        .json(&json!({"email": "bench@example.com", "password": PASSWORD, "displayName": "Bench"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let access = registered["data"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    (server, access)
}

/// Requests per second that `CLIENTS` concurrent clients get from
/// `GET /auth/me` during `ROUND`.
async fn throughput(base_url: &str, access: &str) -> f64 {
    let deadline = Instant::now() + ROUND;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = reqwest::Client::new();
            let url = format!("{base_url}/api/v1/auth/me");
            let access = access.to_owned();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let response = client
                        .get(&url)
                        .bearer_auth(&access)
                        .send()
                        .await
                        .expect("me");
                    assert_eq!(response.status(), 200);
                    response.bytes().await.expect("body");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("client");
    }
    total as f64 / ROUND.as_secs_f64()
}

fn report(name: &str, samples: &mut [Duration], baseline_name: &str, baseline: &mut [Duration]) {
    let (median, p99) = stats(samples);
    let (base_median, base_p99) = stats(baseline);
    println!(
        "{name:<18} median {:>8.3} ms  p99 {:>8.3} ms | baseline {baseline_name:<20} median {:>8.3} ms  p99 {:>8.3} ms | ratio {:.2}x (n = {})",
        ms(median),
        ms(p99),
        ms(base_median),
        ms(base_p99),
        median.as_secs_f64() / base_median.as_secs_f64(),
        samples.len(),
    );
}

fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
