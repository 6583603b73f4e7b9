//! Black-box tests of the `roster` binary: its commands, its configuration
//! from the environment and `.env`, its logs and its graceful shutdown.
//!
//! Every run gets a cleared environment (plus only what the test sets) and a
//! fresh working directory, so neither the developer's shell nor a stray
//! `.env` leaks in. Every process started here is killed when its test ends,
//! however it ends: a server left behind would hold a port and memory.
//!
//! The PostgreSQL test uses `postgres://postgres@127.0.0.1:5432/test` (or
//! `TEST_DATABASE_URL`) with a schema of its own; when the server cannot be
//! reached it fails, unless a developer opted out with
//! `TEST_SKIP_UNREACHABLE=1` (ignored when `CI=true`): then it says so
//! loudly and skips.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const ROSTER: &str = env!("CARGO_BIN_EXE_roster");
/// How long any one run may take before the test gives up on it.
const TIMEOUT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery staple 42";
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

// ---------------------------------------------------------------- fixtures

/// A name no other test (in this run or a parallel one) uses.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A port nothing listens on right now: the OS picks it, we let it go.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// A fresh, empty working directory, removed on drop.
#[derive(Debug)]
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(unique("roster_cli"));
        std::fs::create_dir_all(&path).expect("create the working directory");
        Self { path }
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path.join(name), contents).expect("write a file");
    }
}

impl AsRef<Path> for WorkDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Everything a stream has printed so far; a reader thread fills it.
#[derive(Debug, Default)]
struct Captured {
    state: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Captured {
    fn collect(stream: impl Read + Send + 'static) -> Arc<Self> {
        let captured = Arc::new(Self::default());
        let filler = Arc::clone(&captured);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut state = filler.state.lock().expect("not poisoned");
                state.0.push_str(&line);
                state.0.push('\n');
                filler.changed.notify_all();
            }
            filler.state.lock().expect("not poisoned").1 = true;
            filler.changed.notify_all();
        });
        captured
    }

    fn text(&self) -> String {
        self.state.lock().expect("not poisoned").0.clone()
    }

    /// Waits until `done` holds for (text, closed), or `TIMEOUT`; returns
    /// whether it held.
    fn wait_until(&self, done: impl Fn(&str, bool) -> bool) -> bool {
        let state = self.state.lock().expect("not poisoned");
        let (state, _) = self
            .changed
            .wait_timeout_while(state, TIMEOUT, |(text, closed)| !done(text, *closed))
            .expect("not poisoned");
        done(&state.0, state.1)
    }
}

/// One `roster` process, killed on drop if it is still running.
#[derive(Debug)]
struct Roster {
    child: Child,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

/// A `roster` run that has ended.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Roster {
    /// Starts `roster args…` in `dir` with only the variables `env`.
    fn spawn(dir: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(ROSTER)
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster");
        let stdout = Captured::collect(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::collect(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the process to exit and for its streams to close.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll roster") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "roster did not exit within {TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout.text(),
                self.stderr.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.stdout.wait_until(|_, closed| closed);
        self.stderr.wait_until(|_, closed| closed);
        Finished {
            status,
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }

    /// Sends a signal (`TERM`, `INT`) with `kill`.
    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} failed");
    }
}

impl Drop for Roster {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `roster args…` to completion.
fn run(dir: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Finished {
    Roster::spawn(dir, args, env).finish()
}

/// `roster serve` on a free port, once it says it listens.
#[derive(Debug)]
struct Server {
    process: Roster,
    base_url: String,
    http: reqwest::Client,
}

impl Server {
    fn start(dir: &WorkDir, env: &[(&str, &str)]) -> Self {
        let bind = format!("127.0.0.1:{}", free_port());
        let mut env = env.to_vec();
        env.push(("ROSTER_BIND", &bind));
        Self::start_at(Roster::spawn(dir, &["serve"], &env), &bind)
    }

    /// Waits for `process`, configured elsewhere to listen on `bind`.
    fn start_at(process: Roster, bind: &str) -> Self {
        let listening = process
            .stdout
            .wait_until(|text, closed| closed || text.contains("roster is listening"))
            && process.stdout.text().contains("roster is listening");
        assert!(
            listening,
            "roster did not start listening\nstdout:\n{}\nstderr:\n{}",
            process.stdout.text(),
            process.stderr.text()
        );
        Self {
            process,
            base_url: format!("http://{bind}"),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("GET reaches roster")
    }

    fn register(
        &self,
        email: &str,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
        self.http
            .post(format!("{}/api/v1/auth/register", self.base_url))
            .json(&json!({ "email": email, "password": PASSWORD, "displayName": "Cli Test" }))
            .send()
    }

    /// Everything printed so far: stdout, then stderr.
    fn output(&self) -> String {
        format!(
            "{}{}",
            self.process.stdout.text(),
            self.process.stderr.text()
        )
    }

    /// Whether the process catches both SIGINT and SIGTERM, read from the
    /// `SigCgt` mask of `/proc/<pid>/status`; `None` where there is no such
    /// file (not Linux).
    fn catches_sigint_and_sigterm(&self) -> Option<bool> {
        const SIGINT_AND_SIGTERM: u64 = (1 << (2 - 1)) | (1 << (15 - 1));
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.process.child.id())).ok()?;
        let mask = status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())?;
        Some(mask & SIGINT_AND_SIGTERM == SIGINT_AND_SIGTERM)
    }

    /// Waits until the process catches SIGINT and SIGTERM (returns at once
    /// where that cannot be seen). `roster` installs its handlers only when
    /// the accept loop first polls the shutdown future, after it has logged
    /// "roster is listening" and possibly after answering requests: a
    /// signal before that kills it outright (see
    /// `a_signal_right_after_roster_is_listening_still_stops_gracefully`).
    /// Tests about what happens once the signal is caught wait here first.
    fn wait_until_catching_signals(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while self.catches_sigint_and_sigterm() == Some(false) {
            assert!(
                Instant::now() < deadline,
                "roster never caught SIGINT and SIGTERM:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `signal` and waits for the process to end.
    fn stop_with(self, signal: &str) -> Finished {
        self.process.signal(signal);
        self.process.finish()
    }
}

fn assert_names(finished: &Finished, variable: &str) {
    assert!(
        finished.stderr.contains(variable),
        "stderr does not name {variable}:\n{}",
        finished.stderr
    );
}

// ---------------------------------------------------------------- commands

#[test]
fn help_lists_every_command_and_exits_0() {
    let dir = WorkDir::new();

    let help = run(&dir, &["--help"], &[]);

    assert!(help.status.success(), "{help:?}");
    for command in ["serve", "openapi", "migrate", "admin", "keygen"] {
        assert!(
            help.stdout
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{command} "))),
            "`{command}` is not listed:\n{}",
            help.stdout
        );
    }
}

#[test]
fn openapi_prints_an_openapi_3_document_without_connecting_to_a_database() {
    let dir = WorkDir::new();

    // Nothing listens on port 1: any attempt to connect would fail.
    let printed = run(
        &dir,
        &["openapi"],
        &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
    );

    assert!(printed.status.success(), "{printed:?}");
    let document: Value = serde_json::from_str(&printed.stdout).expect("stdout is JSON");
    let version = document["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(
        document["paths"]["/api/v1/auth/login"].is_object(),
        "no /api/v1/auth/login in {:?}",
        document["paths"]
            .as_object()
            .map(|paths| paths.keys().collect::<Vec<_>>())
    );
}

#[test]
fn openapi_into_a_pipe_closed_early_ends_quietly_with_status_0() {
    let dir = WorkDir::new();
    let mut child = Command::new(ROSTER)
        .arg("openapi")
        .env_clear()
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roster");

    // What `roster openapi | head -c 100` does: the document (over 200 KB)
    // is far more than a pipe holds, so roster is still writing when the
    // reader goes away.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut start = [0_u8; 100];
    stdout.read_exact(&mut start).expect("the document starts");
    drop(stdout);
    let stderr = child.stderr.take().expect("piped stderr");
    let finished = Roster {
        child,
        stdout: Captured::collect(std::io::empty()),
        stderr: Captured::collect(stderr),
    }
    .finish();

    assert!(String::from_utf8_lossy(&start).contains("openapi"));
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stderr, "", "roster complained");
}

#[test]
fn serve_help_lists_every_setting_the_configuration_accepts_with_its_default() {
    let dir = WorkDir::new();

    let help = run(&dir, &["serve", "--help"], &[]);

    assert!(help.status.success(), "{help:?}");
    // One block per setting: its name alone on a line, then what it is for,
    // the value it takes and its default.
    let mut listed = std::collections::BTreeMap::new();
    let mut current = None;
    for line in help.stdout.lines() {
        let name = line.trim();
        if line.starts_with("  ")
            && !line.starts_with("   ")
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        {
            listed.insert(name.to_owned(), String::new());
            current = Some(name.to_owned());
        } else if let Some(name) = &current {
            let block = listed.get_mut(name).expect("inserted above");
            block.push_str(line.trim());
            block.push('\n');
        }
    }
    let accepted: std::collections::BTreeSet<&str> = bootstrap::config::SETTINGS
        .iter()
        .map(|setting| setting.name)
        .collect();
    assert_eq!(
        listed
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        accepted,
        "the settings listed by `roster serve --help` are not those accepted"
    );
    for name in [
        "DATABASE_URL",
        "REDIS_URL",
        "ROSTER_LOG",
        "ROSTER_ACCESS_TTL",
    ] {
        assert!(listed.contains_key(name), "{name} is not listed");
    }
    // Each listed name is accepted (refused values aside), and a name that
    // is not listed is refused: what is listed is what is accepted.
    for name in listed.keys() {
        if let Err(error) = bootstrap::Config::from_vars([(name.clone(), "x".to_owned())]) {
            assert!(!error.message.contains("unknown"), "{error}");
        }
    }
    assert!(
        bootstrap::Config::from_vars([("ROSTER_UNLISTED".to_owned(), "x".to_owned())]).is_err()
    );
    for (name, block) in &listed {
        assert!(
            block.contains("default: "),
            "{name} has no default:\n{block}"
        );
        assert!(block.contains("value: "), "{name} says no value:\n{block}");
    }
    for (name, default) in [
        ("ROSTER_ACCESS_TTL", "default: 900 seconds"),
        ("ROSTER_REFRESH_TTL", "default: 2592000 seconds"),
        ("ROSTER_BODY_LIMIT", "default: 1048576 bytes"),
        ("ROSTER_RATE_LIMIT_API", "default: 600/60 requests/seconds"),
        ("ROSTER_LOG", "default: info"),
        ("DATABASE_URL", "default: unset (memory storage"),
    ] {
        assert!(listed[name].contains(default), "{name}:\n{}", listed[name]);
    }
}

#[test]
fn keygen_prints_one_fresh_k4_secret_key_per_run() {
    let dir = WorkDir::new();

    let first = run(&dir, &["keygen"], &[]);
    let second = run(&dir, &["keygen"], &[]);

    for run in [&first, &second] {
        assert!(run.status.success(), "{run:?}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{:?}", run.stdout);
        assert!(lines[0].starts_with("k4.secret."), "{:?}", lines[0]);
    }
    assert_ne!(first.stdout, second.stdout);
}

#[test]
fn migrate_without_database_url_fails_naming_it() {
    let dir = WorkDir::new();

    let migrate = run(&dir, &["migrate"], &[]);

    assert!(!migrate.status.success(), "{migrate:?}");
    assert_names(&migrate, "DATABASE_URL");
}

#[test]
fn admin_grant_without_database_url_fails_naming_it() {
    let dir = WorkDir::new();

    let grant = run(&dir, &["admin", "grant", "someone@example.com"], &[]);

    assert!(!grant.status.success(), "{grant:?}");
    assert_names(&grant, "DATABASE_URL");
}

// ----------------------------------------------------------- configuration

// These runs also set a free ROSTER_BIND: should the bad setting pass, the
// server must not take (or fail on) the shared 127.0.0.1:8080.

#[test]
fn an_unknown_roster_variable_exits_2_naming_it() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());

    let refused = run(&dir, &[], &[("ROSTER_BIND", &bind), ("ROSTER_BINDD", "1")]);

    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_names(&refused, "ROSTER_BINDD");
    assert!(
        refused.stderr.contains(
            "ROSTER_BINDD: unknown setting; did you mean ROSTER_BIND? `roster serve --help` lists every setting"
        ),
        "{refused:?}"
    );
    assert!(!refused.stderr.contains(".md"), "{refused:?}");
}

#[test]
fn a_bad_value_says_what_is_expected_with_its_unit_and_an_example() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());

    let refused = run(
        &dir,
        &[],
        &[("ROSTER_BIND", &bind), ("ROSTER_ACCESS_TTL", "15m")],
    );

    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_eq!(
        refused.stderr,
        "roster: invalid configuration: ROSTER_ACCESS_TTL: \"15m\" is not a positive number of seconds (e.g. 900)\n"
    );
}

#[test]
fn a_log_filter_that_is_no_level_nor_directive_exits_2_naming_roster_log() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());

    for filter in ["verbose", "info,adapter_http=loud"] {
        let refused = run(&dir, &[], &[("ROSTER_BIND", &bind), ("ROSTER_LOG", filter)]);

        assert_eq!(refused.status.code(), Some(2), "{filter}: {refused:?}");
        assert_names(&refused, "ROSTER_LOG");
        assert!(
            refused
                .stderr
                .contains("error|warn|info|debug|trace or target=level"),
            "{refused:?}"
        );
    }
}

#[test]
fn an_unusable_token_key_fails_naming_it_and_where_a_key_comes_from() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());

    let refused = run(
        &dir,
        &[],
        &[("ROSTER_BIND", &bind), ("ROSTER_TOKEN_KEY", "nope")],
    );

    assert!(!refused.status.success(), "{refused:?}");
    assert_names(&refused, "ROSTER_TOKEN_KEY");
    assert!(refused.stderr.contains("`roster keygen`"), "{refused:?}");
    assert!(!refused.stderr.contains("nope"), "{refused:?}");
}

#[test]
fn a_bad_value_exits_2_naming_its_variable() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());

    for (variable, value) in [("ROSTER_ACCESS_TTL", "-1"), ("ROSTER_ARGON2", "1,2")] {
        let refused = run(&dir, &[], &[("ROSTER_BIND", &bind), (variable, value)]);

        assert_eq!(refused.status.code(), Some(2), "{variable}: {refused:?}");
        assert_names(&refused, variable);
    }
}

#[test]
fn a_dotenv_file_in_the_working_directory_is_checked_like_the_environment() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());
    dir.write(".env", "ROSTER_BINDD=x\n");

    let refused = run(&dir, &[], &[("ROSTER_BIND", &bind)]);

    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert_names(&refused, "ROSTER_BINDD");
}

#[test]
fn a_dotenv_file_in_a_parent_directory_is_not_read() {
    let dir = WorkDir::new();
    dir.write(".env", "ROSTER_BINDD=x\n");
    let below = dir.path.join("below");
    std::fs::create_dir(&below).expect("create a subdirectory");

    // ARCHITECTURE.md: "a `.env` file in the working directory is read".
    let keygen = run(&below, &["keygen"], &[]);

    assert!(
        keygen.status.success(),
        "the parent directory's .env was read: {keygen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dotenv_bind_address_is_where_the_server_listens() {
    let dir = WorkDir::new();
    let bind = format!("127.0.0.1:{}", free_port());
    dir.write(".env", &format!("ROSTER_BIND={bind}\n"));

    let server = Server::start_at(Roster::spawn(&dir, &[], &[]), &bind);

    assert_eq!(server.get("/health/live").await.status(), 200);
}

// ------------------------------------------------------------------- serve

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_only_a_bind_address_answers_live_logs_json_and_warns_loudly() {
    let dir = WorkDir::new();

    let server = Server::start(&dir, &[]);
    let live = server.get("/health/live").await;

    assert_eq!(live.status(), 200);
    // The warnings come before "roster is listening", so they are all here.
    let stdout = server.process.stdout.text();
    assert!(!stdout.is_empty());
    for line in stdout.lines() {
        let log: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert!(log["level"].is_string(), "no level: {line}");
        assert!(log["message"].is_string(), "no message: {line}");
    }
    let output = server.output();
    for warning in [
        "EMBEDDED MODE",
        "LOST when the process exits",
        "EPHEMERAL SIGNING KEY",
    ] {
        assert!(output.contains(warning), "no {warning:?} in:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_request_is_logged_with_its_path_cut_short_and_without_its_query() {
    let dir = WorkDir::new();
    let server = Server::start(&dir, &[]);
    let long = format!("/{}", "x".repeat(1000));

    let lost = server.get("/no/such/place?token=hunter2").await;
    let long_one = server.get(&long).await;

    assert_eq!(lost.status(), 404);
    assert_eq!(long_one.status(), 404);
    let stdout = &server.process.stdout;
    stdout.wait_until(|text, closed| closed || text.matches("\"unmatched\"").count() >= 2);
    let unmatched: Vec<Value> = stdout
        .text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|log| log["http.route"] == "unmatched")
        .collect();
    let paths: Vec<&str> = unmatched
        .iter()
        .filter_map(|log| log["url.path"].as_str())
        .collect();
    assert_eq!(paths, ["/no/such/place", &long[..256]], "{unmatched:?}");
    assert!(
        !stdout.text().contains("hunter2"),
        "the query string was logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_from_keygen_is_accepted_and_silences_the_ephemeral_key_warning() {
    let dir = WorkDir::new();
    let key = run(&dir, &["keygen"], &[]).stdout.trim().to_owned();

    let server = Server::start(&dir, &[("ROSTER_TOKEN_KEY", &key)]);
    let registered = server.register("keyed@example.com").await.expect("send");

    assert_eq!(registered.status(), 201);
    let output = server.output();
    assert!(!output.contains("EPHEMERAL SIGNING KEY"), "{output}");
    assert!(!output.contains(&key), "the key reached the logs");
}

#[test]
fn serve_on_a_taken_address_fails_instead_of_waiting() {
    let dir = WorkDir::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let bind = taken.local_addr().expect("address").to_string();

    let failed = run(&dir, &["serve"], &[("ROSTER_BIND", &bind)]);

    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(failed.stderr.starts_with("roster: "), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_gracefully_with_status_0() {
    let dir = WorkDir::new();
    let server = Server::start(&dir, &[]);
    server.wait_until_catching_signals();
    assert_eq!(server.get("/health/live").await.status(), 200);

    let stopped = server.stop_with("TERM");

    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert!(
        stopped.stdout.contains("roster stopped gracefully"),
        "{stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_metrics_bind_serves_metrics_there_only_and_stops_with_the_server() {
    let dir = WorkDir::new();
    let metrics_bind = format!("127.0.0.1:{}", free_port());
    let server = Server::start(&dir, &[("ROSTER_METRICS_BIND", &metrics_bind)]);
    server.wait_until_catching_signals();
    assert_eq!(server.get("/health/live").await.status(), 200);

    let scraped = server
        .http
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .expect("GET reaches the metrics address");
    let scraped_status = scraped.status();
    let text = scraped.text().await.expect("a body");
    let on_api = server.get("/metrics").await;
    let on_api_status = on_api.status();
    let envelope: Value = on_api.json().await.expect("a JSON envelope");
    let stopped = server.stop_with("TERM");

    assert_eq!(scraped_status, 200, "{text}");
    assert!(
        text.contains("# TYPE roster_http_requests_total counter")
            && text.contains(r#"route="/health/live""#),
        "{text}"
    );
    assert_eq!(on_api_status, 404);
    assert_eq!(envelope["error"]["code"], "NOT_FOUND", "{envelope}");
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert!(
        std::net::TcpStream::connect(&metrics_bind).is_err(),
        "the metrics address still listens after the server stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_the_server_gracefully_with_status_0() {
    let dir = WorkDir::new();
    let server = Server::start(&dir, &[]);
    server.wait_until_catching_signals();
    assert_eq!(server.get("/health/live").await.status(), 200);

    let stopped = server.stop_with("INT");

    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert!(
        stopped.stdout.contains("roster stopped gracefully"),
        "{stopped:?}"
    );
}

#[test]
fn a_signal_right_after_roster_is_listening_still_stops_gracefully() {
    let dir = WorkDir::new();
    let server = Server::start(&dir, &[]);

    // "roster is listening" is the readiness line an operator (or a test)
    // waits for; from then on a SIGTERM must mean a graceful stop. Read at
    // once, the mask shows the gap every time; the signal, sent a few
    // milliseconds later, falls into it most times.
    let catching = server.catches_sigint_and_sigterm();
    let stopped = server.stop_with("TERM");

    assert_ne!(
        catching,
        Some(false),
        "roster said it is listening before it catches SIGINT and SIGTERM"
    );
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert!(
        stopped.stdout.contains("roster stopped gracefully"),
        "{stopped:?}"
    );
}

/// Argon2 settings that make one registration last about a second (1.3 s
/// on this 2-core machine, debug build), so it is surely still running
/// 150 ms later, when the signal arrives; the test says so if it is not.
const SLOW_ARGON2: &str = "131072,16,1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_an_in_flight_registration_finish() {
    let dir = WorkDir::new();
    let server = Server::start(&dir, &[("ROSTER_ARGON2", SLOW_ARGON2)]);
    server.wait_until_catching_signals();

    let registration = tokio::spawn(server.register("inflight@example.com"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        !registration.is_finished(),
        "the registration ended before the signal: make SLOW_ARGON2 slower"
    );
    server.process.signal("TERM");
    let answered = registration.await.expect("the request task");

    let registered = answered.expect("the in-flight registration gets an answer");
    assert_eq!(registered.status(), 201);
    let stopped = server.process.finish();
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    let position = |needle: &str| {
        stopped
            .stdout
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", stopped.stdout))
    };
    assert!(
        position("shutdown requested") < position("auth.register"),
        "the registration was not in flight when the signal came:\n{}",
        stopped.stdout
    );
    assert!(position("auth.register") < position("roster stopped gracefully"));
}

// -------------------------------------------------------------- PostgreSQL

/// A schema of its own on the test server, dropped (with everything in it)
/// on drop.
#[derive(Debug)]
struct TestSchema {
    admin_url: String,
    name: String,
    /// Connection string whose sessions see only this schema.
    url: String,
    client: tokio_postgres::Client,
}

impl TestSchema {
    /// A new schema, or `None` after a loud notice when PostgreSQL cannot
    /// be reached outside CI.
    async fn create() -> Option<Self> {
        let admin_url =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let client = match connect(&admin_url).await {
            Ok(client) => client,
            Err(error) => {
                assert!(
                    std::env::var("TEST_SKIP_UNREACHABLE").as_deref() == Ok("1")
                        && std::env::var("CI").as_deref() != Ok("true"),
                    "PostgreSQL at {admin_url} is unreachable: {error}. Start it (see the README) \
                     or set TEST_DATABASE_URL; to skip this test on purpose in a local run, set \
                     TEST_SKIP_UNREACHABLE=1"
                );
                eprintln!(
                    "\n!!! SKIPPED (TEST_SKIP_UNREACHABLE=1): PostgreSQL at {admin_url} is unreachable ({error}).\n"
                );
                return None;
            }
        };
        let name = unique("test_cli");
        client
            .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .expect("create the test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-csearch_path%3D{name}");
        Some(Self {
            admin_url,
            name,
            url,
            client,
        })
    }

    async fn role_of(&self, email: &str) -> String {
        let sql = format!("SELECT role FROM \"{}\".users WHERE email = $1", self.name);
        self.client
            .query_one(&sql, &[&email])
            .await
            .expect("the user exists")
            .get(0)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which may be shutting down:
        // clean up on a thread of our own with a runtime of its own.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(client) = connect(&url).await {
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA \"{name}\" CASCADE"))
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_each_migration_once_and_admin_grant_promotes_a_registered_user() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let dir = WorkDir::new();
    let database = [("DATABASE_URL", schema.url.as_str())];

    let first = run(&dir, &["migrate"], &database);
    let second = run(&dir, &["migrate"], &database);

    assert!(first.status.success(), "{first:?}");
    assert!(
        first.stdout.contains("applied 0001_users_and_sessions.sql"),
        "{first:?}"
    );
    assert!(second.status.success(), "{second:?}");
    assert!(
        second.stdout.contains("the database is up to date"),
        "{second:?}"
    );

    let email = "promoted@example.com";
    let server = Server::start(&dir, &database);
    let registered = server.register(email).await.expect("send");
    assert_eq!(registered.status(), 201);
    assert!(!server.output().contains("EMBEDDED MODE"));
    server.wait_until_catching_signals();
    let stopped = server.stop_with("TERM");
    assert_eq!(stopped.status.code(), Some(0), "{stopped:?}");
    assert_eq!(schema.role_of(email).await, "user");

    let grant = run(&dir, &["admin", "grant", email], &database);

    assert!(grant.status.success(), "{grant:?}");
    assert!(grant.stdout.contains("is now an admin"), "{grant:?}");
    assert_eq!(schema.role_of(email).await, "admin");
}
