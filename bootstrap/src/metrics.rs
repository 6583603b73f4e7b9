//! The process's metrics: the Prometheus recorder every crate records
//! into through the `metrics` facade, and what `/metrics` reads when it is
//! scraped.
//!
//! Recorded as they happen (by the crates that see them):
//! `roster_http_requests_total` and `roster_http_request_duration_seconds`
//! (adapter-http), `roster_argon2_queue` (adapter-argon2),
//! `roster_job_duration_seconds` (adapter-worker).
//!
//! Read at each scrape (here): `roster_db_pool_connections{state}` from
//! the PostgreSQL pool, `roster_jobs{kind,status}` from the job table, and
//! the process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`…) from `/proc/self`
//! ([`crate::process`]).
//!
//! The recorder is global to the process and installed once: a test
//! binary builds many apps, and they share it (each app still reads its
//! own pool and job table when it is scraped).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use adapter_http::MetricsSource;
use adapter_postgres::PgStorage;
use domain::JobStatus;
use domain::ports::Storage;
use futures::future::BoxFuture;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Connections of the PostgreSQL pool, by `state`: `idle`, `in_use`, `max`.
pub const DB_POOL: &str = "roster_db_pool_connections";
/// Jobs in the queue's table, by `kind` and `status`.
pub const JOBS: &str = "roster_jobs";

/// Request latencies: from a cached read (tens of microseconds) to a slow
/// page of PostgreSQL (seconds).
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Job attempts: from a purge (milliseconds) to a catalog sync (minutes).
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// How often histogram samples are folded into their buckets between two
/// scrapes, so memory stays bounded however long nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, installed as the global `metrics` recorder the
/// first time it is asked for.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(adapter_http::metrics::DURATION.to_owned()),
                HTTP_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(adapter_worker::JOB_DURATION.to_owned()),
                    JOB_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "another metrics recorder was installed first: /metrics shows only what is read at scrape time"
            );
        }
        describe();
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = started {
            tracing::warn!(%error, "no metrics upkeep thread: histograms are folded at scrapes only");
        }
        handle
    })
}

fn describe() {
    adapter_http::metrics::describe();
    adapter_argon2::describe_metrics();
    adapter_worker::describe_metrics();
    metrics::describe_gauge!(
        DB_POOL,
        Unit::Count,
        "PostgreSQL connections by state: idle, in_use, max (ROSTER_DATABASE_POOL)"
    );
    metrics::describe_gauge!(JOBS, Unit::Count, "jobs in the queue by kind and status");
}

/// What one app's `/metrics` shows: the recorder's series, after reading
/// this app's pool, job table and the process.
pub(crate) struct Scrape {
    pub(crate) handle: &'static PrometheusHandle,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) postgres: Option<PgStorage>,
    /// The kinds this build runs: their gauges show 0 rather than nothing.
    pub(crate) kinds: Vec<&'static str>,
    /// Kinds shown before, so a kind whose last job was pruned drops to 0
    /// instead of keeping its last count.
    pub(crate) shown: Mutex<BTreeSet<String>>,
}

impl MetricsSource for Scrape {
    fn render(&self) -> BoxFuture<'_, String> {
        Box::pin(async move {
            if let Some(postgres) = &self.postgres {
                let pool = postgres.pool_status();
                for (state, value) in [
                    ("idle", pool.idle),
                    ("in_use", pool.in_use()),
                    ("max", pool.max),
                ] {
                    metrics::gauge!(DB_POOL, "state" => state).set(value as f64);
                }
            }
            self.read_jobs().await;
            let mut text = self.handle.render();
            text.push_str(&crate::process::exposition());
            text
        })
    }
}

impl Scrape {
    async fn read_jobs(&self) {
        let counts = match self.storage.jobs().counts().await {
            Ok(counts) => counts,
            Err(error) => {
                // The gauges keep their last values; the log says why.
                tracing::warn!(%error, "metrics: cannot count the jobs");
                return;
            }
        };
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.extend(self.kinds.iter().map(|k| (*k).to_owned()));
        shown.extend(counts.iter().map(|c| c.kind.clone()));
        for kind in shown.iter() {
            for status in JobStatus::ALL {
                let count = counts
                    .iter()
                    .find(|c| c.kind == *kind && c.status == status)
                    .map_or(0, |c| c.count);
                metrics::gauge!(JOBS, "kind" => kind.clone(), "status" => status.as_str())
                    .set(count as f64);
            }
        }
    }
}
