//! The worker on memory storage with the real clock: handlers that succeed,
//! fail, panic, time out, resume at a step, and a shutdown that releases
//! what it holds. (The queue's storage promises are the conformance
//! suite's; these are the worker's.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration as StdDuration, Instant};

use adapter_memory::MemoryStorage;
use adapter_system::{OsRandom, SystemClock};
use adapter_worker::{Stopped, Worker, WorkerConfig};
use application::jobs::{self, JobContext, JobError, JobHandler, JobKind, JobRegistry};
use async_trait::async_trait;
use domain::ports::Repositories;
use domain::{Job, JobId, JobStatus};
use time::Duration;
use tokio::sync::oneshot;

/// What a test handler does on attempt `n` (from 1).
type Script = fn(u32) -> Behaviour;

#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    Fail,
    FailForGood,
    Panic,
    Sleep(StdDuration),
}

struct Scripted {
    kind: JobKind,
    script: Script,
    attempts: AtomicU32,
}

#[async_trait]
impl JobHandler for Scripted {
    fn kind(&self) -> JobKind {
        self.kind
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        match (self.script)(n) {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err(JobError::Retry(format!("attempt {n} failed"))),
            Behaviour::FailForGood => Err(JobError::Permanent("bad input".into())),
            Behaviour::Panic => panic!("attempt {n} panicked"),
            Behaviour::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

const fn quick(name: &'static str) -> JobKind {
    JobKind {
        name,
        max_attempts: 3,
        backoff_base: Duration::milliseconds(40),
        backoff_cap: Duration::seconds(1),
        timeout: Duration::seconds(5),
        one_at_a_time: false,
    }
}

struct Harness {
    storage: Arc<MemoryStorage>,
    worker: Worker,
}

fn harness(handlers: Vec<Arc<dyn JobHandler>>, config: WorkerConfig) -> Harness {
    let storage = Arc::new(MemoryStorage::new());
    let registry = handlers
        .into_iter()
        .fold(JobRegistry::default(), JobRegistry::with);
    let worker = Worker::new(
        storage.clone(),
        storage.job_signal(),
        Arc::new(registry),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        config,
    );
    Harness { storage, worker }
}

fn scripted(kind: JobKind, script: Script) -> Arc<Scripted> {
    Arc::new(Scripted {
        kind,
        script,
        attempts: AtomicU32::new(0),
    })
}

impl Harness {
    async fn enqueue(&self, kind: &JobKind) -> JobId {
        jobs::enqueue(self.storage.as_ref(), kind, &(), &SystemClock, &OsRandom)
            .await
            .expect("enqueue")
            .job()
            .id
    }

    async fn job(&self, id: JobId) -> Job {
        self.storage
            .jobs()
            .find(id)
            .await
            .unwrap()
            .expect("the job")
    }

    /// Starts the worker; the sender stops it.
    fn start(&self) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Stopped>) {
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = self.worker.clone();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        (stop, task)
    }

    /// Waits (at most 10 s) until the job reaches `status`.
    async fn until(&self, id: JobId, status: JobStatus) -> Job {
        let deadline = Instant::now() + StdDuration::from_secs(10);
        loop {
            let job = self.job(id).await;
            if job.status == status {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job still {} ({:?}), never {status}",
                job.status,
                job.last_error
            );
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn a_job_runs_once_and_succeeds() {
    const KIND: JobKind = quick("t.ok");
    let handler = scripted(KIND, |_| Behaviour::Succeed);
    let h = harness(vec![handler.clone()], WorkerConfig::default());
    let id = h.enqueue(&KIND).await;
    let (stop, task) = h.start();
    let job = h.until(id, JobStatus::Succeeded).await;
    assert_eq!(job.attempts, 1);
    assert!(job.finished_at.is_some());
    assert_eq!(job.lease, None);
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::default());
    assert_eq!(handler.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_after_its_backoff_then_dies_after_the_last() {
    const KIND: JobKind = quick("t.fail");
    // A minute's poll: each retry must start when its backoff runs out
    // (well within `until`'s 10 s), not at the next poll.
    let h = harness(
        vec![scripted(KIND, |_| Behaviour::Fail)],
        WorkerConfig {
            poll: StdDuration::from_secs(60),
            ..WorkerConfig::default()
        },
    );
    let (_stop, _task) = h.start();
    let id = h.enqueue(&KIND).await;
    let failed = h.until(id, JobStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("attempt 1 failed"));
    // The first wait is the base (40 ms), jittered to 50–100 % of it.
    let started = failed.started_at.unwrap();
    let wait = failed.run_at - started;
    assert!(
        wait >= Duration::milliseconds(20)
            && wait <= Duration::milliseconds(40) + Duration::seconds(1),
        "{wait}"
    );
    let dead = h.until(id, JobStatus::Dead).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("attempt 3 failed"));
}

#[tokio::test]
async fn a_permanent_failure_dies_at_once() {
    const KIND: JobKind = quick("t.permanent");
    let h = harness(
        vec![scripted(KIND, |_| Behaviour::FailForGood)],
        WorkerConfig::default(),
    );
    let (_stop, _task) = h.start();
    let id = h.enqueue(&KIND).await;
    let dead = h.until(id, JobStatus::Dead).await;
    assert_eq!(dead.attempts, 1);
    assert_eq!(dead.last_error.as_deref(), Some("bad input"));
}

#[tokio::test]
async fn a_panicking_handler_fails_that_attempt_only_and_the_worker_goes_on() {
    const KIND: JobKind = quick("t.panic");
    const OTHER: JobKind = quick("t.after");
    let h = harness(
        vec![
            scripted(KIND, |n| {
                if n == 1 {
                    Behaviour::Panic
                } else {
                    Behaviour::Succeed
                }
            }),
            scripted(OTHER, |_| Behaviour::Succeed),
        ],
        WorkerConfig::default(),
    );
    let (_stop, _task) = h.start();
    let id = h.enqueue(&KIND).await;
    let done = h.until(id, JobStatus::Succeeded).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(
        done.last_error.as_deref(),
        Some("the handler panicked: attempt 1 panicked")
    );
    let other = h.enqueue(&OTHER).await;
    h.until(other, JobStatus::Succeeded).await;
}

#[tokio::test]
async fn an_attempt_past_its_timeout_fails_as_timed_out() {
    const KIND: JobKind = JobKind {
        timeout: Duration::milliseconds(100),
        max_attempts: 1,
        ..quick("t.slow")
    };
    let h = harness(
        vec![scripted(KIND, |_| {
            Behaviour::Sleep(StdDuration::from_secs(30))
        })],
        WorkerConfig::default(),
    );
    let (_stop, _task) = h.start();
    let started = Instant::now();
    let id = h.enqueue(&KIND).await;
    let dead = h.until(id, JobStatus::Dead).await;
    assert_eq!(dead.last_error.as_deref(), Some("timed out after 0 s"));
    assert!(started.elapsed() < StdDuration::from_secs(5));
}

/// A handler of three steps that fails in the second on its first attempt.
struct Stepped {
    runs: [AtomicU32; 3],
}

const STEPPED: JobKind = quick("t.steps");

#[async_trait]
impl JobHandler for Stepped {
    fn kind(&self) -> JobKind {
        STEPPED
    }

    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        let one: u32 = job
            .step("one", async {
                self.runs[0].fetch_add(1, Ordering::SeqCst);
                Ok(41)
            })
            .await?;
        let two: u32 = job
            .step("two", async {
                if self.runs[1].fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(JobError::Retry("step two failed".into()));
                }
                Ok(one + 1)
            })
            .await?;
        job.progress(2, 3, Some("two steps done".into())).await?;
        job.step("three", async {
            self.runs[2].fetch_add(1, Ordering::SeqCst);
            Ok(two)
        })
        .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_retry_resumes_at_the_step_that_failed() {
    let handler = Arc::new(Stepped {
        runs: Default::default(),
    });
    let h = harness(vec![handler.clone()], WorkerConfig::default());
    let (_stop, _task) = h.start();
    let id = h.enqueue(&STEPPED).await;
    let done = h.until(id, JobStatus::Succeeded).await;
    assert_eq!(done.attempts, 2);
    let runs: Vec<u32> = handler
        .runs
        .iter()
        .map(|r| r.load(Ordering::SeqCst))
        .collect();
    assert_eq!(runs, [1, 2, 1]);
    let steps: Vec<(&str, &str)> = done
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.output.as_str()))
        .collect();
    assert_eq!(steps, [("one", "41"), ("two", "42"), ("three", "42")]);
    assert_eq!(done.progress.unwrap().done, 2);
}

#[tokio::test]
async fn shutdown_lets_short_jobs_finish_and_releases_the_rest() {
    const SHORT: JobKind = quick("t.short");
    const LONG: JobKind = quick("t.long");
    let h = harness(
        vec![
            scripted(SHORT, |_| Behaviour::Sleep(StdDuration::from_millis(100))),
            scripted(LONG, |_| Behaviour::Sleep(StdDuration::from_secs(60))),
        ],
        WorkerConfig {
            grace: StdDuration::from_millis(400),
            ..WorkerConfig::default()
        },
    );
    let short = h.enqueue(&SHORT).await;
    let long = h.enqueue(&LONG).await;
    let (stop, task) = h.start();
    h.until(long, JobStatus::Running).await;
    h.until(short, JobStatus::Running).await;
    stop.send(()).unwrap();
    let stopped = task.await.unwrap();
    assert_eq!(
        stopped,
        Stopped {
            finished: 1,
            released: 1
        }
    );
    assert_eq!(h.job(short).await.status, JobStatus::Succeeded);
    let released = h.job(long).await;
    assert_eq!(released.status, JobStatus::Queued);
    assert_eq!((released.attempts, released.lease), (0, None));
}

#[tokio::test]
async fn an_enqueue_starts_an_idle_worker_at_once_not_at_the_next_poll() {
    const KIND: JobKind = quick("t.wake");
    let h = harness(
        vec![scripted(KIND, |_| Behaviour::Succeed)],
        WorkerConfig {
            poll: StdDuration::from_secs(60),
            ..WorkerConfig::default()
        },
    );
    let (_stop, _task) = h.start();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let started = Instant::now();
    let id = h.enqueue(&KIND).await;
    h.until(id, JobStatus::Succeeded).await;
    assert!(started.elapsed() < StdDuration::from_secs(5));
}

#[tokio::test]
async fn concurrency_bounds_the_jobs_running_at_once() {
    const KIND: JobKind = quick("t.many");
    let h = harness(
        vec![scripted(KIND, |_| {
            Behaviour::Sleep(StdDuration::from_millis(200))
        })],
        WorkerConfig {
            concurrency: 2,
            ..WorkerConfig::default()
        },
    );
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.enqueue(&KIND).await);
    }
    let (_stop, _task) = h.start();
    let mut most = 0;
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let mut running = 0;
        let mut done = 0;
        for id in &ids {
            match h.job(*id).await.status {
                JobStatus::Running => running += 1,
                JobStatus::Succeeded => done += 1,
                _ => {}
            }
        }
        most = most.max(running);
        if done == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of 5 done");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    assert_eq!(most, 2);
}

#[tokio::test]
async fn a_schedule_enqueues_its_task_at_start() {
    const KIND: JobKind = JobKind {
        one_at_a_time: true,
        ..quick("t.cron")
    };
    let h = harness(
        vec![scripted(KIND, |_| Behaviour::Succeed)],
        WorkerConfig {
            schedule: vec![(KIND, StdDuration::from_secs(3600))],
            ..WorkerConfig::default()
        },
    );
    let (_stop, _task) = h.start();
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let jobs = h
            .storage
            .jobs()
            .list(&domain::JobFilter::default(), None, 10)
            .await
            .unwrap();
        if let [job] = &jobs[..]
            && job.status == JobStatus::Succeeded
        {
            assert_eq!(job.kind, "t.cron");
            break;
        }
        assert!(Instant::now() < deadline, "{jobs:?}");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}
