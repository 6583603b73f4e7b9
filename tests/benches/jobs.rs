//! Figures for the job queue and the catalog sync, each beside a baseline
//! measured in the same run (the machine is shared: only ratios travel).
//!
//! - Throughput: no-op jobs per second drained by a worker of 1 and of 4
//!   slots, on PostgreSQL, beside the same drain on memory storage (the
//!   worker's own ceiling).
//! - Enqueue-to-start latency, p50 and p99: woken by `LISTEN/NOTIFY`,
//!   beside polling only (a bell that never rings, 1 s poll).
//! - Size of the jobs table with 100,000 finished jobs, after a prune, and
//!   after `VACUUM`.
//! - A full sync of a fake source of 5,000 items (limit cap 50, as the real
//!   service): time and requests, at the default 5 requests per second and
//!   unthrottled; then a second sync of the same data.
//!
//! `cargo bench -p tests --bench jobs` (PostgreSQL on 127.0.0.1:5432).

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use adapter_memory::MemoryStorage;
use adapter_system::{OsRandom, SystemClock};
use adapter_worker::{Worker, WorkerConfig};
use application::jobs::{self, JobContext, JobError, JobHandler, JobKind, JobRegistry};
use async_trait::async_trait;
use domain::ports::{JobSignal, Storage};
use domain::{JobFilter, JobStatus};
use tokio::sync::mpsc;

const NOOP: JobKind = JobKind::new("bench.noop");

/// Reports when each job starts, and counts the runs.
struct Noop(
    Option<mpsc::UnboundedSender<Instant>>,
    Arc<std::sync::atomic::AtomicUsize>,
);

#[async_trait]
impl JobHandler for Noop {
    fn kind(&self) -> JobKind {
        NOOP
    }
    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(started) = &self.0 {
            let _ = started.send(Instant::now());
        }
        Ok(())
    }
}

/// A bell that never rings: the worker finds jobs by polling only.
struct Silent;

#[async_trait]
impl JobSignal for Silent {
    async fn wait(&self, max: StdDuration) {
        tokio::time::sleep(max).await;
    }
}

fn worker(
    storage: Arc<dyn Storage>,
    signal: Arc<dyn JobSignal>,
    handler: Noop,
    concurrency: usize,
    poll: StdDuration,
) -> Worker {
    Worker::new(
        storage,
        signal,
        Arc::new(JobRegistry::default().with(Arc::new(handler))),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        WorkerConfig {
            concurrency,
            poll,
            ..WorkerConfig::default()
        },
    )
}

async fn enqueue_many(storage: &Arc<dyn Storage>, n: usize) {
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let storage = Arc::clone(storage);
            tokio::spawn(async move {
                for _ in (t..n).step_by(8) {
                    jobs::enqueue(storage.as_ref(), &NOOP, &(), &SystemClock, &OsRandom)
                        .await
                        .expect("enqueue");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("enqueuer");
    }
}

async fn succeeded(storage: &Arc<dyn Storage>) -> usize {
    let filter = JobFilter {
        kind: None,
        status: Some(JobStatus::Succeeded),
    };
    storage
        .jobs()
        .list(&filter, None, 1_000_000)
        .await
        .expect("list")
        .len()
}

/// Jobs per second for a worker of `concurrency` slots draining `n` jobs.
async fn drain_rate(
    storage: Arc<dyn Storage>,
    signal: Arc<dyn JobSignal>,
    n: usize,
    concurrency: usize,
) -> f64 {
    enqueue_many(&storage, n).await;
    let already = succeeded(&storage).await;
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worker = worker(
        Arc::clone(&storage),
        signal,
        Noop(None, Arc::clone(&runs)),
        concurrency,
        StdDuration::from_millis(50),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    // Watch a counter, not the table: listing it while it drains would
    // load the database the figure is about.
    while runs.load(std::sync::atomic::Ordering::Relaxed) < n {
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    while succeeded(&storage).await < already + n {
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    let _ = task.await;
    n as f64 / elapsed.as_secs_f64()
}

/// Enqueue-to-start latencies of `samples` jobs enqueued one at a time.
async fn latencies(
    storage: Arc<dyn Storage>,
    signal: Arc<dyn JobSignal>,
    samples: usize,
    poll: StdDuration,
) -> Vec<StdDuration> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let worker = worker(Arc::clone(&storage), signal, Noop(Some(tx), runs), 1, poll);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let mut measured = Vec::with_capacity(samples);
    for i in 0..samples {
        // Spread the enqueues over the poll period.
        tokio::time::sleep(poll.mul_f64((i % 7) as f64 / 7.0) / 3).await;
        let sent = Instant::now();
        jobs::enqueue(storage.as_ref(), &NOOP, &(), &SystemClock, &OsRandom)
            .await
            .expect("enqueue");
        let began = rx.recv().await.expect("the job starts");
        measured.push(began.saturating_duration_since(sent));
    }
    let _ = stop.send(());
    let _ = task.await;
    measured.sort();
    measured
}

fn percentile(sorted: &[StdDuration], p: f64) -> StdDuration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

fn ms(d: StdDuration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(database) = tests::pg::TestDatabase::create().await else {
        println!("PostgreSQL unreachable: no figures");
        return;
    };
    let pg = database.storage().await;
    let pg_signal = pg.job_signal();
    let pg: Arc<dyn Storage> = Arc::new(pg);
    let memory = MemoryStorage::new();
    let memory_signal = memory.job_signal();
    let memory: Arc<dyn Storage> = Arc::new(memory);

    println!("== throughput: no-op jobs drained per second (2,000 jobs) ==");
    for concurrency in [1, 4] {
        let on_memory = drain_rate(
            Arc::clone(&memory),
            Arc::clone(&memory_signal),
            2000,
            concurrency,
        )
        .await;
        let on_pg = drain_rate(Arc::clone(&pg), Arc::clone(&pg_signal), 2000, concurrency).await;
        println!(
            "{concurrency} slot(s): PostgreSQL {on_pg:.0}/s, memory {on_memory:.0}/s, ratio pg/memory {:.2}",
            on_pg / on_memory
        );
    }

    println!("== enqueue-to-start latency on PostgreSQL ==");
    let notified = latencies(
        Arc::clone(&pg),
        Arc::clone(&pg_signal),
        200,
        StdDuration::from_secs(5),
    )
    .await;
    let polled = latencies(
        Arc::clone(&pg),
        Arc::new(Silent),
        30,
        StdDuration::from_secs(1),
    )
    .await;
    println!(
        "LISTEN/NOTIFY (200 jobs): p50 {}, p99 {}; polling only every 1 s (30 jobs): p50 {}, p99 {}; p50 ratio {:.0}x",
        ms(percentile(&notified, 0.5)),
        ms(percentile(&notified, 0.99)),
        ms(percentile(&polled, 0.5)),
        ms(percentile(&polled, 0.99)),
        percentile(&polled, 0.5).as_secs_f64() / percentile(&notified, 0.5).as_secs_f64()
    );

    println!("== table size: 100,000 finished jobs, then a prune ==");
    let admin = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .map(|(client, connection)| {
            tokio::spawn(connection);
            client
        })
        .expect("connect");
    let size = |label: &'static str| {
        let admin = &admin;
        async move {
            let row = admin
                .query_one(
                    "SELECT pg_total_relation_size('jobs') + pg_total_relation_size('job_steps'), \
                            (SELECT count(*) FROM jobs)",
                    &[],
                )
                .await
                .expect("size");
            let bytes: i64 = row.get(0);
            let rows: i64 = row.get(1);
            println!(
                "{label}: {rows} rows, {:.1} MiB (jobs + job_steps, indexes included)",
                bytes as f64 / 1048576.0
            );
        }
    };
    let started = Instant::now();
    enqueue_many(&pg, 100_000).await;
    println!(
        "enqueued 100,000 jobs in {:.1} s ({:.0}/s, 8 enqueuers)",
        started.elapsed().as_secs_f64(),
        100_000.0 / started.elapsed().as_secs_f64()
    );
    // Finished two days ago, as a worker would have left them.
    admin
        .batch_execute(
            "UPDATE jobs SET status = 'succeeded', attempts = 1, \
             finished_at = now() - interval '2 days', started_at = now() - interval '2 days'",
        )
        .await
        .expect("finish them");
    size("100,000 succeeded").await;
    let pruned = jobs::prune(pg.as_ref(), domain::ports::Clock::now(&SystemClock))
        .await
        .expect("prune");
    size(if pruned == 0 {
        "prune deleted nothing"
    } else {
        "after the prune"
    })
    .await;
    admin
        .batch_execute("VACUUM jobs, job_steps")
        .await
        .expect("vacuum");
    size("after VACUUM (autovacuum does this by itself)").await;

    println!("== catalog sync: a fake source of 5,000 items, limit cap 50 ==");
    sync_figures().await;
}

async fn sync_figures() {
    use tests::app::TestApp;
    use tests::dofusdb::{FakeCounts, FakeData, FakeDofusDb};
    let data = FakeData::generated(FakeCounts {
        classes: 19,
        servers: 20,
        quests: 2180,
        achievements: 2700,
        dungeons: 120,
    })
    .with_limit_cap(50);
    for rps in ["5", "100"] {
        let source = FakeDofusDb::start(data.clone()).await;
        let email = tests::app::unique_email("bench");
        let Some(app) = TestApp::spawn_with(&[
            ("ROSTER_CATALOG_SOURCE", source.url()),
            ("ROSTER_CATALOG_RPS", rps),
            ("ROSTER_ADMIN_EMAILS", &email),
        ])
        .await
        else {
            return;
        };
        let admin = app.register(&email, tests::app::PASSWORD, "Bench").await;
        let token = admin.data()["accessToken"].as_str().unwrap().to_owned();
        for round in ["first", "second (same data)"] {
            source.clear_requests();
            let started = Instant::now();
            let reply = app
                .post_json_as("/admin/catalog/sync", &token, &serde_json::Value::Null)
                .await;
            let id = reply.data()["jobId"].as_str().unwrap().to_owned();
            let job = loop {
                let job = app.get(&format!("/admin/jobs/{id}"), Some(&token)).await;
                let status = job.data()["status"].as_str().unwrap().to_owned();
                if status == "succeeded" || status == "dead" {
                    break job;
                }
                tokio::time::sleep(StdDuration::from_millis(20)).await;
            };
            let etag = app.get("/catalog/items?perPage=1", None).await;
            println!(
                "rps {rps}, {round} sync: {} in {:.2} s, {} requests, {}, catalog ETag {}",
                job.data()["status"],
                started.elapsed().as_secs_f64(),
                source.requests().len(),
                job.data()["progress"]["message"],
                etag.header("etag").unwrap_or("?")
            );
        }
        let _ = app.stop().await;
    }
}
