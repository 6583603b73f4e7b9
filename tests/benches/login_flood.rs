//! What a login flood does to the server's memory, against the real
//! release binary (`cargo build --release` first): `clients` concurrent
//! clients log in as fast as they can for `FLOOD`, then the server idles
//! for `AFTER`; its resident memory is sampled from `/proc` all along. The
//! login rate is given against the baseline of bare argon2 verifications
//! (the server's own hasher and cost, in this process, as many at once as
//! the server runs), measured in the same run.
//!
//! Run with `cargo bench -p tests --bench login_flood` (about 3 minutes).

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_system::OsRandom;
use domain::ports::PasswordHasher;
use secrecy::SecretString;
use serde_json::json;

const FLOOD: Duration = Duration::from_secs(20);
const AFTER: Duration = Duration::from_secs(60);
const PASSWORD: &str = "correct horse battery staple";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run() {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let baseline = bare_verifications(cores).await;
    println!("bare argon2 verifications ({cores} at once): {baseline:.1}/s");
    for clients in [32, 256] {
        flood(clients, baseline).await;
    }
}

/// Verifications per second, `at_once` at a time, for 5 s.
async fn bare_verifications(at_once: usize) -> f64 {
    let hasher = Arc::new(
        Argon2Hasher::new(
            Argon2Params::default(),
            at_once,
            Duration::from_secs(60),
            Arc::new(OsRandom),
        )
        .expect("a hasher"),
    );
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..at_once)
        .map(|_| {
            let (hasher, done) = (Arc::clone(&hasher), Arc::clone(&done));
            tokio::spawn(async move {
                let candidate = SecretString::from(PASSWORD);
                while started.elapsed() < Duration::from_secs(5) {
                    hasher
                        .verify_dummy(&candidate)
                        .await
                        .expect("a verification");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn flood(clients: usize, baseline: f64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let server = Server(
        Command::new(tests::roster_binary())
            .env_clear()
            .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
            .env("ROSTER_LOG", "error")
            .env("ROSTER_RATE_LIMIT_AUTH", "100000000/60")
            .env("ROSTER_RATE_LIMIT_LOGIN_ACCOUNT", "100000000/60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start roster"),
    );
    let pid = server.0.id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let started = Instant::now();
    loop {
        if http
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "roster never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let email = "flood@example.com";
    let registered = http
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "displayName": "Flood"}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status().as_u16(), 201);
    let before = rss_mib(pid);

    let logins = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let flooders: Vec<_> = (0..clients)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            let (logins, refused) = (Arc::clone(&logins), Arc::clone(&refused));
            tokio::spawn(async move {
                while start.elapsed() < FLOOD {
                    let answer = http
                        .post(format!("{base}/auth/login"))
                        .json(&json!({"email": email, "password": PASSWORD}))
                        .send()
                        .await;
                    match answer.map(|a| a.status().as_u16()) {
                        Ok(200) => logins.fetch_add(1, Ordering::Relaxed),
                        _ => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let mut peak: f64 = 0.0;
    while start.elapsed() < FLOOD {
        peak = peak.max(rss_mib(pid));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for flooder in flooders {
        flooder.await.expect("a flooder");
    }
    let flood_secs = start.elapsed().as_secs_f64();
    peak = peak.max(rss_mib(pid));
    let ended = rss_mib(pid);
    tokio::time::sleep(AFTER).await;
    let after = rss_mib(pid);
    let rate = logins.load(Ordering::Relaxed) as f64 / flood_secs;
    println!(
        "{clients} clients: {rate:.1} logins/s ({:.2}x bare verifications), {} not 200; \
         RSS {before:.1} MiB before, peak {peak:.1} MiB during, {ended:.1} MiB at the end, \
         {after:.1} MiB {}s after",
        rate / baseline,
        refused.load(Ordering::Relaxed),
        AFTER.as_secs(),
    );
}
