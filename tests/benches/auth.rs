//! How long one login and one authenticated `GET /auth/me` take, each next
//! to a baseline measured in the same run (this machine is shared and
//! noisy, so ratios say more than absolute figures):
//!
//! - login (argon2id at the default parameters) against one bare argon2
//!   verification with the same parameters;
//! - `GET /auth/me` (token check + session lookup + user read) against
//!   `GET /health/live`, which crosses the same HTTP stack and middleware.
//!
//! Run with `cargo bench -p tests --bench auth`.

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_system::{OsRandom, SystemClock};
use bootstrap::{App, Config, RunningServer};
use domain::Password;
use domain::ports::PasswordHasher;
use secrecy::SecretString;
use serde_json::{Value, json};

const LOGINS: usize = 40;
const READS: usize = 3000;
const PASSWORD: &str = "correct horse battery staple";

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let config = Config::from_vars(Vec::new()).expect("default configuration");
    let app = App::build(&config, Arc::new(SystemClock)).expect("app");
    let server = RunningServer::start(app).await.expect("server");
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url);

    let registered: Value = client
        .post(url("/api/v1/auth/register"))
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
    server.stop().await.expect("stop");
}

fn report(name: &str, samples: &mut [Duration], baseline_name: &str, baseline: &mut [Duration]) {
    let (median, p99) = stats(samples);
    let (base_median, base_p99) = stats(baseline);
    println!(
        "{name:<20} median {:>9.3} ms  p99 {:>9.3} ms   | baseline {baseline_name:<20} median {:>9.3} ms  p99 {:>9.3} ms | ratio {:.2}×  (n = {})",
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
