//! The job queue across processes, with the real `roster` binary on
//! PostgreSQL: `serve` with `ROSTER_WORKER=off` leaves jobs to a separate
//! `roster worker`; a worker killed with `kill -9` in the middle of a job
//! loses it to another worker once its lease runs out; SIGTERM lets a
//! running job finish; `roster cron` answers with its exit status.
//!
//! The job that takes time is a catalog sync from the fake DofusDB service,
//! whose pages can be made slow. The binary is the one `cargo test
//! --workspace` builds beside this test (`target/<profile>/roster`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::ItemKind;
use domain::ports::SourceResource;
use reqwest::StatusCode;
use serde_json::Value;
use tests::app::{PASSWORD, unique_email};
use tests::dofusdb::{FakeCounts, FakeData, FakeDofusDb, Fault};
use tests::pg::TestDatabase;

const QUESTS: SourceResource = SourceResource::Items(ItemKind::Quest);

/// A `roster` process, killed when dropped.
struct Process {
    child: Child,
}

impl Process {
    fn spawn(args: &[&str], env: &[(String, String)]) -> Self {
        let child = Command::new(tests::roster_binary())
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start roster");
        Self { child }
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} failed");
    }

    /// Waits for the exit, at most `limit`; its exit code.
    fn wait(mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll roster") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "roster did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A database, a fake source, and `roster serve` on them with the worker
/// off, with a signed-in administrator.
struct Setup {
    _database: TestDatabase,
    source: FakeDofusDb,
    env: Vec<(String, String)>,
    _serve: Process,
    base_url: String,
    http: reqwest::Client,
    token: String,
}

impl Setup {
    async fn start(data: FakeData) -> Option<Self> {
        let database = TestDatabase::create().await?;
        let source = FakeDofusDb::start(data).await;
        let admin = unique_email("admin");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", database.url.as_str()),
            ("ROSTER_CATALOG_SOURCE", source.url()),
            ("ROSTER_CATALOG_RPS", "100"),
            ("ROSTER_ADMIN_EMAILS", admin.as_str()),
            ("ROSTER_ARGON2", "1024,1,1"),
            ("ROSTER_WORKER_POLL", "0.2"),
            ("ROSTER_LOG", "warn"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut serve_env = env.clone();
        serve_env.push(("ROSTER_WORKER".into(), "off".into()));
        serve_env.push(("ROSTER_BIND".into(), format!("127.0.0.1:{port}")));
        let serve = Process::spawn(&["serve"], &serve_env);
        let base_url = format!("http://127.0.0.1:{port}/api/v1");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let registered = loop {
            let sent = http
                .post(format!("{base_url}/auth/register"))
                .json(&serde_json::json!({
                    "email": admin, "password": PASSWORD, "displayName": "Admin"
                }))
                .send()
                .await;
            if let Ok(response) = sent {
                break response;
            }
            assert!(Instant::now() < deadline, "roster serve never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(registered.status(), StatusCode::CREATED);
        let body: Value = registered.json().await.expect("JSON");
        let token = body["data"]["accessToken"]
            .as_str()
            .expect("an access token")
            .to_owned();
        Some(Self {
            _database: database,
            source,
            env,
            _serve: serve,
            base_url,
            http,
            token,
        })
    }

    fn worker(&self) -> Process {
        self.worker_with(&[])
    }

    fn worker_with(&self, extra: &[(&str, &str)]) -> Process {
        let mut env = self.env.clone();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Process::spawn(&["worker"], &env)
    }

    async fn sync(&self) -> String {
        let response = self
            .http
            .post(format!("{}/admin/catalog/sync", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("POST /admin/catalog/sync");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.expect("JSON");
        body["data"]["jobId"].as_str().expect("a job id").to_owned()
    }

    async fn job(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/admin/jobs/{id}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET /admin/jobs/{id}");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON");
        body["data"].clone()
    }

    async fn until(&self, id: &str, status: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let job = self.job(id).await;
            if job["status"] == status {
                return job;
            }
            assert!(Instant::now() < deadline, "never {status}: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the fake has been asked for the quests page at `skip`.
    async fn until_asked(&self, skip: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .source
            .requests_for(QUESTS)
            .iter()
            .any(|r| r.skip == Some(skip))
        {
            assert!(Instant::now() < deadline, "quests@{skip} never asked for");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn small() -> FakeData {
    FakeData::generated(FakeCounts::small())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_worker_off_leaves_jobs_to_a_worker_process() {
    let Some(setup) = Setup::start(small()).await else {
        return;
    };
    let id = setup.sync().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        setup.job(&id).await["status"],
        "queued",
        "serve ran it itself"
    );

    let worker = setup.worker();
    let done = setup.until(&id, "succeeded", Duration::from_secs(30)).await;
    assert_eq!(done["attempts"], 1);

    worker.signal("TERM");
    assert_eq!(worker.wait(Duration::from_secs(25)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_its_metrics_on_roster_metrics_bind() {
    let Some(setup) = Setup::start(small()).await else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let metrics_bind = format!("127.0.0.1:{port}");
    let id = setup.sync().await;

    let worker = setup.worker_with(&[("ROSTER_METRICS_BIND", &metrics_bind)]);
    setup.until(&id, "succeeded", Duration::from_secs(30)).await;
    let scraped = setup
        .http
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .expect("the worker serves /metrics");
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.expect("a body");

    assert!(
        text.contains(r#"roster_job_duration_seconds_count{kind="catalog.sync"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"roster_db_pool_connections{state="max"}"#),
        "{text}"
    );
    worker.signal("TERM");
    assert_eq!(worker.wait(Duration::from_secs(25)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_worker_killed_mid_job_completes_on_another_after_its_lease() {
    let Some(setup) = Setup::start(small()).await else {
        return;
    };
    setup
        .source
        .faults()
        .once(QUESTS, 20, Fault::Delay(Duration::from_secs(120)));
    let id = setup.sync().await;
    let first = setup.worker();
    setup.until_asked(20).await;
    first.signal("KILL");
    assert_eq!(
        first.wait(Duration::from_secs(10)),
        None,
        "killed by a signal"
    );
    let killed_at = Instant::now();

    let _second = setup.worker();
    let done = setup.until(&id, "succeeded", Duration::from_secs(60)).await;

    // Not before the 30 s lease ran out: never on two workers at once.
    assert!(
        killed_at.elapsed() >= Duration::from_secs(20),
        "{:?}",
        killed_at.elapsed()
    );
    assert_eq!(done["attempts"], 2);
    assert!(
        done["lastError"]
            .as_str()
            .unwrap_or_default()
            .contains("lease expired"),
        "{done}"
    );
    // The pages the first worker finished were not fetched again.
    let first_page = setup
        .source
        .requests_for(QUESTS)
        .iter()
        .filter(|r| r.skip == Some(0))
        .count();
    assert_eq!(first_page, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_job_finish_before_the_worker_exits() {
    let Some(setup) = Setup::start(small()).await else {
        return;
    };
    setup
        .source
        .faults()
        .once(QUESTS, 20, Fault::Delay(Duration::from_secs(2)));
    let id = setup.sync().await;
    let worker = setup.worker();
    setup.until_asked(20).await;

    worker.signal("TERM");
    assert_eq!(worker.wait(Duration::from_secs(25)), Some(0));

    let done = setup.job(&id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_cron_answers_with_its_exit_status() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        [
            ("DATABASE_URL", database.url.as_str()),
            ("ROSTER_LOG", "warn"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let run = |args: &[&str], env: Vec<(String, String)>| {
        let output = Command::new(tests::roster_binary())
            .args(args)
            .env_clear()
            .envs(env)
            .output()
            .expect("run roster cron");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let (code, listed, _) = run(&["cron", "--list"], env(&[]));
    assert_eq!(code, Some(0));
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["sessions.purge", "jobs.prune", "catalog.sync"]);

    for task in ["sessions.purge", "jobs.prune"] {
        let (code, _, stderr) = run(&["cron", task], env(&[]));
        assert_eq!(code, Some(0), "{task}: {stderr}");
    }

    let (code, _, stderr) = run(&["cron", "catalog.sync"], env(&[]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("ROSTER_CATALOG_SOURCE"), "{stderr}");

    let source = FakeDofusDb::start(small()).await;
    let (code, _, stderr) = run(
        &["cron", "catalog.sync"],
        env(&[("ROSTER_CATALOG_SOURCE", source.url())]),
    );
    assert_eq!(code, Some(0), "{stderr}");

    let (code, _, stderr) = run(&["cron", "sessions.purj"], env(&[]));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("unknown task \"sessions.purj\""),
        "{stderr}"
    );
}
