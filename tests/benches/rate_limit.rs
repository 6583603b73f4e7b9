//! The rate limiter's figures, each beside a baseline in the same run (the
//! machine is shared: only ratios travel).
//!
//! Decisions per second and latency (p50, p99) from one process with 64
//! concurrent callers, over 2,000 keys: the in-process buckets (the
//! ceiling), Redis (one Lua script per decision on the shared multiplexed
//! connection), and, for scale, a bare Redis `PING` on the same
//! connection (the round trip no script can beat). Interleaved rounds.
//!
//! `cargo bench -p tests --bench rate_limit` (Redis on 127.0.0.1:6379).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_memory::InProcessRateLimiter;
use adapter_redis::{Redis, RedisRateLimiter};
use adapter_system::SystemClock;
use domain::ports::RateLimiter;
use domain::rate_limit::Quota;
use tests::redis::TestRedis;

const CALLERS: usize = 64;
const KEYS: usize = 2_000;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;

/// Runs `decide` from `CALLERS` tasks for `ROUND`; decisions per second
/// and the latencies' p50 and p99.
async fn measure<F, Fut>(decide: F) -> (f64, Duration, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let decide = Arc::new(decide);
    let started = Instant::now();
    let tasks = (0..CALLERS).map(|caller| {
        let decide = Arc::clone(&decide);
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = caller;
            while started.elapsed() < ROUND {
                let at = Instant::now();
                decide(i % KEYS).await;
                latencies.push(at.elapsed());
                i += CALLERS;
            }
            latencies
        })
    });
    let mut all: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flat_map(|t| t.expect("a caller"))
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
    (all.len() as f64 / elapsed, at(0.5), at(0.99))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let Some(test) = TestRedis::create().await else {
            println!("Redis is unreachable; nothing measured");
            return;
        };
        let quota = Quota::new(1_000_000, Duration::from_secs(60)).expect("a quota");
        let in_process: Arc<dyn RateLimiter> =
            Arc::new(InProcessRateLimiter::new(Arc::new(SystemClock)));
        let redis: Redis = test.handle();
        let shared: Arc<dyn RateLimiter> =
            Arc::new(RedisRateLimiter::new(redis.clone(), Arc::clone(&in_process)));
        println!("{CALLERS} callers, {KEYS} keys, {ROUNDS} interleaved rounds of {ROUND:?}");
        for round in 1..=ROUNDS {
            let limiter = Arc::clone(&in_process);
            let local = measure(move |k| {
                let limiter = Arc::clone(&limiter);
                async move {
                    limiter.take(&format!("bench:{k}"), quota).await;
                }
            })
            .await;
            let limiter = Arc::clone(&shared);
            let remote = measure(move |k| {
                let limiter = Arc::clone(&limiter);
                async move {
                    limiter.take(&format!("bench:{k}"), quota).await;
                }
            })
            .await;
            let handle = redis.clone();
            let ping = measure(move |_| {
                let handle = handle.clone();
                async move {
                    let _ = handle.ping().await;
                }
            })
            .await;
            assert!(redis.healthy(), "Redis failed during the round");
            println!(
                "round {round}: in-process {:>9.0}/s p50 {:>7.1?} p99 {:>7.1?} | redis {:>7.0}/s p50 {:>7.1?} p99 {:>7.1?} | PING {:>7.0}/s p50 {:>7.1?} p99 {:>7.1?} | redis/PING {:.2}",
                local.0, local.1, local.2, remote.0, remote.1, remote.2, ping.0, ping.1, ping.2,
                remote.0 / ping.0
            );
        }
    });
}
