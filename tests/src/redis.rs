//! Redis for tests: the machine's server, with a fresh key prefix per test
//! so tests run in parallel without seeing each other, and keys removed
//! when the test ends.
//!
//! The server is found through `TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). When it cannot be reached the tests fail,
//! saying how to start it — unless a developer opted out for a local run
//! with `TEST_SKIP_UNREACHABLE=1` (never set by `.ci/run`, and ignored when
//! `CI=true`), in which case they say so loudly and skip.

use adapter_redis::{Redis, RedisConfig};
use adapter_system::{OsRandom, SystemClock};
use domain::ports::Clock;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// A prefix owned by one test on the machine's Redis.
#[derive(Debug)]
pub struct TestRedis {
    pub config: RedisConfig,
}

impl TestRedis {
    /// A new prefix, or `None` (after a loud notice) when Redis cannot be
    /// reached and skipping is allowed.
    pub async fn create() -> Option<Self> {
        let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let prefix = format!(
            "test:{}:",
            domain::ids::new_v7(SystemClock.now(), &OsRandom).simple()
        );
        let config = RedisConfig { url, prefix };
        let redis = Redis::new(&config).expect("a valid Redis URL");
        if let Err(error) = redis.ping().await {
            let url = &config.url;
            if !crate::skip::allowed() {
                panic!(
                    "Redis at {url} is unreachable: {error}. Start it with \
                     `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` \
                     or set TEST_REDIS_URL; to skip these tests on purpose in a local run, set \
                     TEST_SKIP_UNREACHABLE=1"
                );
            }
            crate::skip::record(&format!("Redis at {url} is unreachable ({error})"));
            return None;
        }
        Some(Self { config })
    }

    /// A new handle (its own connection) on this test's prefix.
    pub fn handle(&self) -> Redis {
        Redis::new(&self.config).expect("a valid Redis URL")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // Keys expire by themselves (buckets when full, cache entries by
        // TTL); sweep what is left on a thread of our own, since the test's
        // runtime may be shutting down.
        let config = self.config.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(config.url.as_str()) else {
                return;
            };
            let Ok(mut connection) = client.get_connection() else {
                return;
            };
            let pattern = format!("{}*", config.prefix);
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut connection)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut connection);
            }
        });
        let _ = cleanup.join();
    }
}

/// A Redis server of the test's own, on a spare port, that the test may
/// stop and start again (to play an outage).
#[derive(Debug)]
pub struct OwnRedis {
    pub port: u16,
    child: Option<std::process::Child>,
    /// Where a persistent server keeps its append-only file.
    dir: Option<std::path::PathBuf>,
}

impl OwnRedis {
    /// Starts `redis-server` on a free port; `None` (after a loud notice)
    /// when it is not installed and skipping is allowed.
    pub async fn start() -> Option<Self> {
        Self::started(None).await
    }

    /// As [`OwnRedis::start`], but the server writes every command to an
    /// append-only file before answering, so a kill loses nothing: a
    /// restart finds every key as it was.
    pub async fn start_persistent() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "roster-redis-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        Self::started(Some(dir)).await
    }

    async fn started(dir: Option<std::path::PathBuf>) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            child: None,
            dir,
        };
        if let Err(error) = server.restart().await {
            if !crate::skip::allowed() {
                panic!(
                    "could not start redis-server: {error}; install it (apt-get install redis-server)"
                );
            }
            crate::skip::record(&format!("could not start redis-server ({error})"));
            return None;
        }
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would: no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, and waits until it
    /// answers: empty, or for a persistent one, as it was killed.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        let mut command = std::process::Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", ""]);
        match &self.dir {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command.stdout(std::process::Stdio::null()).spawn()?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(std::io::Error::other(
            "redis-server did not listen within 2 s",
        ))
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
