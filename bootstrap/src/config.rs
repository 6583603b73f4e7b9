//! Configuration, read from environment variables (and a `.env` file in the
//! working directory) and validated at start, with a message that names the
//! variable at fault and says what it expects, with its unit and an example.
//!
//! [`SETTINGS`] is the one list of the variables read here: `roster serve
//! --help` prints it ([`help`]), the check for unknown variables uses it, and
//! every read goes through it, so a variable cannot be read without being
//! listed, nor listed without being accepted. Any other `ROSTER_*` variable
//! is an error: a typo must not pass silently.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::str::FromStr;

use adapter_argon2::Argon2Params;
use adapter_http::{IpNet, RateLimits};
use application::auth::AuthPolicy;
use domain::SessionLifetimes;
use domain::rate_limit::Quota;
use secrecy::{ExposeSecret, SecretString};
use time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// What an unset variable means.
#[derive(Debug, Clone, Copy)]
pub enum WhenUnset {
    /// This value is used, parsed like a set one: the default shown is the
    /// default used.
    Value(fn() -> String),
    /// No value takes its place; the text says what happens instead.
    Means(&'static str),
}

/// One setting, as `roster serve --help` shows it and as its errors
/// describe it.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub unset: WhenUnset,
    /// The unit of a value (`seconds`, `bytes`…), shown after the default;
    /// empty when the value has none.
    pub unit: &'static str,
    /// What a value must be; it completes "… is not ___".
    pub expects: &'static str,
    /// A valid value.
    pub example: &'static str,
    /// What the setting is for.
    pub about: &'static str,
    /// The value may hold a password: errors never repeat it.
    pub secret: bool,
}

impl Setting {
    const fn new(name: &'static str, unset: WhenUnset) -> Self {
        Self {
            name,
            unset,
            unit: "",
            expects: "",
            example: "",
            about: "",
            secret: false,
        }
    }

    const fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    const fn expects(mut self, expects: &'static str, example: &'static str) -> Self {
        self.expects = expects;
        self.example = example;
        self
    }

    const fn about(mut self, about: &'static str) -> Self {
        self.about = about;
        self
    }

    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The setting called `name`, if there is one.
    pub fn named(name: &str) -> Option<&'static Self> {
        SETTINGS.iter().find(|s| s.name == name)
    }

    /// The value used when the variable is unset, if one is.
    pub fn default_value(&self) -> Option<String> {
        match self.unset {
            WhenUnset::Value(default) => Some(default()),
            WhenUnset::Means(_) => None,
        }
    }

    /// `raw` cannot be used: says what is expected, with an example.
    fn invalid(&self, raw: &str) -> ConfigError {
        let value = if self.secret {
            "the value".to_owned()
        } else {
            format!("{raw:?}")
        };
        error(
            self.name,
            format!("{value} is not {} (e.g. {})", self.expects, self.example),
        )
    }

    /// [`Self::invalid`], with the reason after it.
    fn invalid_because(&self, raw: &str, reason: impl fmt::Display) -> ConfigError {
        let mut error = self.invalid(raw);
        let _ = write!(error.message, ": {reason}");
        error
    }
}

use WhenUnset::{Means, Value};

/// Every variable this build reads. The defaults that belong to the domain
/// or the application are taken from there, so each is written once.
pub static SETTINGS: &[Setting] = &[
    Setting::new("ROSTER_BIND", Value(|| "127.0.0.1:8080".to_owned()))
        .expects("an IP address and a port", "0.0.0.0:8080")
        .about("address `serve` listens on"),
    Setting::new("ROSTER_METRICS_BIND", Means("/metrics on the API's address"))
        .expects("an IP address and a port", "127.0.0.1:9090")
        .about("a separate address for the Prometheus `/metrics` (then the API's address no longer serves it); `roster worker` serves it there too"),
    Setting::new("ROSTER_PUBLIC_URL", Means("http:// + ROSTER_BIND"))
        .expects("an http:// or https:// URL", "https://roster.example")
        .about("the address clients use: the token issuer and the OpenAPI server; https also turns on HSTS"),
    Setting::new("DATABASE_URL", Means("memory storage, lost on exit"))
        .expects(
            "a postgres:// or postgresql:// URL",
            "postgres://roster:password@127.0.0.1:5432/roster",
        )
        .about("PostgreSQL connection string")
        .secret(),
    Setting::new("ROSTER_DATABASE_POOL", Value(|| "16".to_owned()))
        .unit("connections")
        .expects("a number of connections, at least 1", "16")
        .about("PostgreSQL connections kept open"),
    Setting::new("ROSTER_AUTO_MIGRATE", Value(|| "true".to_owned()))
        .expects("true or false", "false")
        .about("apply pending migrations when `serve` starts"),
    Setting::new(
        "REDIS_URL",
        Means("in-process rate limits; the cache in-process on memory storage, off on PostgreSQL"),
    )
        .expects("a redis:// URL", "redis://127.0.0.1:6379")
        .about("Redis, for the rate limits and the cache every instance shares")
        .secret(),
    Setting::new("ROSTER_REDIS_PREFIX", Value(|| "roster:".to_owned()))
        .expects("1 to 64 characters among letters, digits and : _ - .", "roster-staging:")
        .about("the start of every key Roster writes to Redis, so deployments can share one server"),
    Setting::new("ROSTER_CACHE", Value(|| "on".to_owned()))
        .expects("on or off", "off")
        .about("off: every read goes to storage (to rule the cache out, or to measure it)"),
    Setting::new("ROSTER_TOKEN_KEY", Means("an ephemeral key: tokens stop verifying on exit"))
        .expects(
            "PASERK k4.secret keys, comma-separated",
            "the output of `roster keygen`",
        )
        .about("token signing keys; the first signs, all verify")
        .secret(),
    Setting::new(
        "ROSTER_ACCESS_TTL",
        Value(|| AuthPolicy::DEFAULT_ACCESS_TTL.whole_seconds().to_string()),
    )
    .unit("seconds")
    .expects("a positive number of seconds", "900")
    .about("access token lifetime"),
    Setting::new(
        "ROSTER_REFRESH_TTL",
        Value(|| SessionLifetimes::DEFAULT_ABSOLUTE.whole_seconds().to_string()),
    )
    .unit("seconds")
    .expects("a positive number of seconds", "2592000")
    .about("absolute lifetime of a session, from its login"),
    Setting::new(
        "ROSTER_REFRESH_IDLE",
        Value(|| SessionLifetimes::DEFAULT_IDLE.whole_seconds().to_string()),
    )
    .unit("seconds")
    .expects("a positive number of seconds", "604800")
    .about("a refresh token unused this long expires"),
    Setting::new(
        "ROSTER_REFRESH_REUSE_GRACE",
        Value(|| SessionLifetimes::DEFAULT_REUSE_GRACE.whole_seconds().to_string()),
    )
    .unit("seconds")
    .expects("a positive number of seconds", "10")
    .about("a rotated refresh token used again this soon is taken for a retry"),
    Setting::new("ROSTER_ARGON2", Value(|| Argon2Params::default().to_string()))
        .unit("(memory KiB,iterations,parallelism)")
        .expects("memory KiB,iterations,parallelism", "19456,2,1")
        .about("argon2id cost of a password hash"),
    Setting::new("ROSTER_ARGON2_CONCURRENCY", Value(cores))
        .unit("hashes (the number of cores)")
        .expects("a number of hashes, at least 1", "4")
        .about("password hashes computed at once; more wait"),
    Setting::new("ROSTER_RATE_LIMIT_AUTH", Value(|| RateLimits::default().auth.to_string()))
        .unit("requests/seconds")
        .expects("requests/window in seconds, both positive", "10/60")
        .about("per client address, for the `auth` preset (register, login, refresh)"),
    Setting::new("ROSTER_RATE_LIMIT_API", Value(|| RateLimits::default().api.to_string()))
        .unit("requests/seconds")
        .expects("requests/window in seconds, both positive", "600/60")
        .about("per user (per client address when anonymous), for the `api` preset"),
    Setting::new(
        "ROSTER_RATE_LIMIT_LOGIN_ACCOUNT",
        Value(|| AuthPolicy::default_login_account().to_string()),
    )
        .unit("failed logins/seconds")
        .expects("failed logins/window in seconds, both positive", "100/3600")
        .about("per account, whatever the address: past it every login of the account waits"),
    Setting::new("ROSTER_BODY_LIMIT", Value(|| "1048576".to_owned()))
        .unit("bytes")
        .expects("a number of bytes", "1048576")
        .about("largest request body"),
    Setting::new("ROSTER_HEADER_TIMEOUT", Value(|| "10".to_owned()))
        .unit("seconds")
        .expects("a number of seconds from 0.1 to 3600, decimals allowed", "10")
        .about("how long a connection may take to send a request's head, and stay idle between requests"),
    Setting::new("ROSTER_BODY_TIMEOUT", Value(|| "30".to_owned()))
        .unit("seconds")
        .expects("a number of seconds from 0.1 to 3600, decimals allowed", "30")
        .about("how long a request's body may take to arrive once its head has"),
    Setting::new("ROSTER_MAX_CONNECTIONS", Value(|| "1024".to_owned()))
        .unit("connections")
        .expects("a number of connections, 1 to 1000000", "1024")
        .about("connections served at once; a new one beyond waits 1 s for a slot, then is closed"),
    Setting::new("ROSTER_CORS_ORIGINS", Means("no cross-origin caller"))
        .expects(
            "http:// or https:// origins, comma-separated",
            "https://app.example,https://admin.example",
        )
        .about("browser origins allowed to call the API"),
    Setting::new("ROSTER_TRUSTED_PROXIES", Means("none: the client is the socket's peer"))
        .expects("IP addresses or CIDR ranges, comma-separated", "10.0.0.1,10.1.0.0/16")
        .about("proxies whose X-Forwarded-For names the client (its right-most entry that is not one of them)"),
    Setting::new("ROSTER_ADMIN_EMAILS", Means("none"))
        .expects(
            "e-mail addresses, comma-separated",
            "ana@example.com,bo@example.com",
        )
        .about("these users get the admin role when they register"),
    Setting::new("ROSTER_CATALOG_SOURCE", Means("the bundled snapshot only; no sync"))
        .expects("the http:// or https:// base URL of a DofusDB-compatible API", "https://api.dofusdb.fr")
        .about("where `catalog.sync` reads the catalog"),
    Setting::new("ROSTER_CATALOG_LANG", Value(|| "en".to_owned()))
        .expects("one of en, fr, de, es, pt", "fr")
        .about("language of the catalog's names from the source (missing ones fall back to en, then fr)"),
    Setting::new("ROSTER_CATALOG_RPS", Value(|| "5".to_owned()))
        .unit("requests per second")
        .expects("a number of requests per second, 1 to 100", "5")
        .about("how fast a sync may call the catalog source"),
    Setting::new("ROSTER_WORKER", Value(|| "embedded".to_owned()))
        .expects("embedded or off", "off")
        .about("embedded: `serve` also runs background jobs; off: only `roster worker` does"),
    Setting::new("ROSTER_WORKER_CONCURRENCY", Value(|| "4".to_owned()))
        .unit("jobs")
        .expects("a number of jobs, 1 to 256", "4")
        .about("jobs one worker (`roster worker`, or the one in `serve`) runs at once"),
    Setting::new("ROSTER_WORKER_POLL", Value(|| "5".to_owned()))
        .unit("seconds")
        .expects("a number of seconds from 0.01 to 300, decimals allowed", "5")
        .about("how often an idle worker looks at the queue when no enqueue woke it"),
    Setting::new("ROSTER_LOG", Value(|| "info".to_owned()))
        .expects(
            "a log filter: error|warn|info|debug|trace or target=level,…",
            "info,adapter_http=debug",
        )
        .about("which log lines are written, as JSON lines on stdout (tracing-subscriber's EnvFilter syntax)"),
];

fn cores() -> String {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .to_string()
}

/// The list of settings that `roster serve --help` prints after its usage.
pub fn help() -> String {
    let mut help = String::from(
        "Settings (environment variables, or a .env file in the working directory; \
         any other ROSTER_* variable is an error):\n",
    );
    for setting in SETTINGS {
        let default = match setting.unset {
            Value(default) if setting.unit.is_empty() => default(),
            Value(default) => format!("{} {}", default(), setting.unit),
            Means(text) => format!("unset ({text})"),
        };
        let _ = write!(
            help,
            "\n  {}\n      {}\n      value: {} (e.g. {})\n      default: {default}\n",
            setting.name, setting.about, setting.expects, setting.example
        );
    }
    help
}

/// A variable with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

fn error(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        message: message.into(),
    }
}

#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// Where `/metrics` is served; `None`: on `bind`, with the API.
    pub metrics_bind: Option<SocketAddr>,
    pub public_url: String,
    /// PostgreSQL connection string; `None`: memory storage.
    pub database_url: Option<SecretString>,
    pub database_pool: usize,
    /// Apply pending migrations when `serve` starts.
    pub auto_migrate: bool,
    /// PASERK `k4.secret` keys; the first signs, all verify. Empty: an
    /// ephemeral key.
    pub token_keys: Vec<SecretString>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub refresh_idle: Duration,
    pub refresh_reuse_grace: Duration,
    pub argon2: Argon2Params,
    pub argon2_concurrency: usize,
    pub body_limit: usize,
    /// `ROSTER_HEADER_TIMEOUT` and `ROSTER_MAX_CONNECTIONS`.
    pub connections: adapter_http::server::ConnectionLimits,
    pub cors_origins: Vec<String>,
    pub admin_emails: HashSet<String>,
    /// A filter [`EnvFilter::try_new`] accepts, checked to be one.
    pub log: String,
    /// The DofusDB-compatible source, its language and rate; `None`: no sync.
    pub catalog_source: Option<String>,
    pub catalog_lang: adapter_dofusdb::Language,
    pub catalog_rps: u32,
    /// `serve` also runs a worker.
    pub worker_embedded: bool,
    pub worker_concurrency: usize,
    pub worker_poll: std::time::Duration,
    /// Redis for what instances share; `None`: in-process only.
    pub redis_url: Option<SecretString>,
    pub redis_prefix: String,
    /// Whether reads go through the cache where one can stay true
    /// (`ROSTER_CACHE`).
    pub cache: bool,
    pub rate_limits: RateLimits,
    pub login_account_limit: Quota,
    pub trusted_proxies: Vec<IpNet>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("metrics_bind", &self.metrics_bind)
            .field("public_url", &self.public_url)
            .field(
                "database_url",
                &self
                    .database_url
                    .as_ref()
                    .map(|url| redact_url(url.expose_secret())),
            )
            .field("database_pool", &self.database_pool)
            .field("auto_migrate", &self.auto_migrate)
            .field(
                "token_keys",
                &format_args!("[{} redacted]", self.token_keys.len()),
            )
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_idle", &self.refresh_idle)
            .field("refresh_reuse_grace", &self.refresh_reuse_grace)
            .field("argon2", &self.argon2)
            .field("argon2_concurrency", &self.argon2_concurrency)
            .field("body_limit", &self.body_limit)
            .field("connections", &self.connections)
            .field("cors_origins", &self.cors_origins)
            .field("admin_emails", &self.admin_emails.len())
            .field("log", &self.log)
            .field(
                "catalog_source",
                &self.catalog_source.as_deref().map(redact_url),
            )
            .field("catalog_lang", &self.catalog_lang)
            .field("catalog_rps", &self.catalog_rps)
            .field("worker_embedded", &self.worker_embedded)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("worker_poll", &self.worker_poll)
            .field(
                "redis_url",
                &self
                    .redis_url
                    .as_ref()
                    .map(|url| redact_url(url.expose_secret())),
            )
            .field("redis_prefix", &self.redis_prefix)
            .field("cache", &self.cache)
            .field("rate_limits", &self.rate_limits)
            .field("login_account_limit", &self.login_account_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

/// The variables given, read only through [`SETTINGS`].
struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The setting `name`; reading one that is not listed is a bug.
    fn setting(name: &str) -> &'static Setting {
        Setting::named(name).unwrap_or_else(|| panic!("{name} is read but not in SETTINGS"))
    }

    /// The value set, trimmed; `None` when unset or blank.
    fn get(&self, name: &str) -> Option<&str> {
        Self::setting(name);
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value set, else the default.
    fn value(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::to_owned)
            .or_else(|| Self::setting(name).default_value())
    }

    /// The value set or the default, parsed, and refused unless `valid`.
    fn parse<T: FromStr>(&self, name: &str, valid: impl Fn(&T) -> bool) -> Result<T, ConfigError> {
        let setting = Self::setting(name);
        let raw = self.value(name).ok_or_else(|| error(name, "is required"))?;
        raw.parse()
            .ok()
            .filter(|value| valid(value))
            .ok_or_else(|| setting.invalid(&raw))
    }

    fn seconds(&self, name: &str) -> Result<Duration, ConfigError> {
        self.parse(name, |&seconds: &i64| seconds > 0)
            .map(Duration::seconds)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the given variables; the others keep their defaults.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars = Vars(
            vars.into_iter()
                .filter(|(k, _)| k.starts_with("ROSTER_") || Setting::named(k).is_some())
                .collect(),
        );
        if let Some(unknown) = vars.0.keys().find(|k| Setting::named(k).is_none()) {
            let hint = match closest(unknown) {
                Some(known) => format!("did you mean {known}? "),
                None => String::new(),
            };
            return Err(error(
                unknown,
                format!("unknown setting; {hint}`roster serve --help` lists every setting"),
            ));
        }

        let redis_url = match vars.get("REDIS_URL") {
            Some(url) if url.starts_with("redis://") => Some(SecretString::from(url)),
            Some(url) if url.starts_with("rediss://") => {
                return Err(error(
                    "REDIS_URL",
                    "this build speaks to Redis without TLS only; use redis:// on a private network",
                ));
            }
            Some(url) => return Err(Vars::setting("REDIS_URL").invalid(&redact_url(url))),
            None => None,
        };
        let redis_prefix = vars.value("ROSTER_REDIS_PREFIX").unwrap_or_default();
        if !(1..=64).contains(&redis_prefix.len())
            || !redis_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":_-.".contains(c))
        {
            return Err(Vars::setting("ROSTER_REDIS_PREFIX").invalid(&redis_prefix));
        }
        let cache = match vars.value("ROSTER_CACHE").as_deref() {
            Some("on") | None => true,
            Some("off") => false,
            Some(other) => return Err(Vars::setting("ROSTER_CACHE").invalid(other)),
        };
        let database_url = match vars.get("DATABASE_URL") {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(SecretString::from(url))
            }
            Some(url) => return Err(Vars::setting("DATABASE_URL").invalid(url)),
            None => None,
        };
        let database_pool: usize = vars.parse("ROSTER_DATABASE_POOL", |&n| n > 0)?;
        let auto_migrate: bool = vars.parse("ROSTER_AUTO_MIGRATE", |_| true)?;
        let bind: SocketAddr = vars.parse("ROSTER_BIND", |_| true)?;
        let metrics_bind = match vars.get("ROSTER_METRICS_BIND") {
            Some(raw) => {
                let setting = Vars::setting("ROSTER_METRICS_BIND");
                let address: SocketAddr = raw.parse().map_err(|_| setting.invalid(raw))?;
                if address == bind && address.port() != 0 {
                    return Err(setting.invalid_because(raw, "it is ROSTER_BIND's address"));
                }
                Some(address)
            }
            None => None,
        };
        let public_url = match vars.get("ROSTER_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => return Err(Vars::setting("ROSTER_PUBLIC_URL").invalid(url)),
            None => format!("http://{bind}"),
        };
        let token_keys = list(vars.get("ROSTER_TOKEN_KEY"))
            .into_iter()
            .map(SecretString::from)
            .collect();
        let argon2 = {
            let raw = vars.value("ROSTER_ARGON2").unwrap_or_default();
            Argon2Params::from_str(&raw)
                .map_err(|e| Vars::setting("ROSTER_ARGON2").invalid_because(&raw, e))?
        };
        let argon2_concurrency: usize = vars.parse("ROSTER_ARGON2_CONCURRENCY", |&n| n > 0)?;
        let body_limit: usize = vars.parse("ROSTER_BODY_LIMIT", |_| true)?;
        let header_timeout: f64 = vars.parse("ROSTER_HEADER_TIMEOUT", |&s: &f64| {
            (0.1..=3600.0).contains(&s)
        })?;
        let body_timeout: f64 = vars.parse("ROSTER_BODY_TIMEOUT", |&s: &f64| {
            (0.1..=3600.0).contains(&s)
        })?;
        let connections = adapter_http::server::ConnectionLimits {
            header_timeout: std::time::Duration::from_secs_f64(header_timeout),
            body_timeout: std::time::Duration::from_secs_f64(body_timeout),
            max_connections: vars.parse("ROSTER_MAX_CONNECTIONS", |n: &usize| {
                (1..=1_000_000).contains(n)
            })?,
            ..adapter_http::server::ConnectionLimits::default()
        };
        let cors_origins = list(vars.get("ROSTER_CORS_ORIGINS"));
        if cors_origins
            .iter()
            .any(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            let raw = vars.get("ROSTER_CORS_ORIGINS").unwrap_or_default();
            return Err(Vars::setting("ROSTER_CORS_ORIGINS").invalid(raw));
        }
        let mut admin_emails = HashSet::new();
        for raw in list(vars.get("ROSTER_ADMIN_EMAILS")) {
            let email = domain::Email::parse(&raw).map_err(|e| {
                Vars::setting("ROSTER_ADMIN_EMAILS").invalid_because(
                    vars.get("ROSTER_ADMIN_EMAILS").unwrap_or_default(),
                    format_args!("{raw:?} {}", e.message),
                )
            })?;
            admin_emails.insert(email.as_str().to_owned());
        }
        let quota = |name: &str| -> Result<Quota, ConfigError> {
            let raw = vars.value(name).unwrap_or_default();
            raw.parse().map_err(|_| Vars::setting(name).invalid(&raw))
        };
        let rate_limits = RateLimits {
            auth: quota("ROSTER_RATE_LIMIT_AUTH")?,
            api: quota("ROSTER_RATE_LIMIT_API")?,
        };
        let login_account_limit = quota("ROSTER_RATE_LIMIT_LOGIN_ACCOUNT")?;
        let mut trusted_proxies = Vec::new();
        for raw in list(vars.get("ROSTER_TRUSTED_PROXIES")) {
            let net = raw
                .parse::<IpNet>()
                .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    Vars::setting("ROSTER_TRUSTED_PROXIES").invalid_because(
                        vars.get("ROSTER_TRUSTED_PROXIES").unwrap_or_default(),
                        format_args!("{raw:?} is neither an IP address nor a CIDR range"),
                    )
                })?;
            trusted_proxies.push(net.trunc());
        }
        let worker_embedded = match vars.value("ROSTER_WORKER").as_deref() {
            Some("off") => false,
            Some("embedded") | None => true,
            Some(other) => return Err(Vars::setting("ROSTER_WORKER").invalid(other)),
        };
        let worker_concurrency: usize =
            vars.parse("ROSTER_WORKER_CONCURRENCY", |&n| (1..=256).contains(&n))?;
        let worker_poll: f64 =
            vars.parse("ROSTER_WORKER_POLL", |&s: &f64| (0.01..=300.0).contains(&s))?;
        let worker_poll = std::time::Duration::from_secs_f64(worker_poll);
        let catalog_source = match vars.get("ROSTER_CATALOG_SOURCE") {
            Some(url) => {
                let checked = adapter_dofusdb::DofusDbConfig::new(url);
                adapter_dofusdb::DofusDbSource::new(checked)
                    .map_err(|e| Vars::setting("ROSTER_CATALOG_SOURCE").invalid_because(url, e))?;
                Some(url.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let catalog_lang = {
            let raw = vars.value("ROSTER_CATALOG_LANG").unwrap_or_default();
            raw.parse()
                .map_err(|_| Vars::setting("ROSTER_CATALOG_LANG").invalid(&raw))?
        };
        let catalog_rps: u32 = vars.parse("ROSTER_CATALOG_RPS", |&n| (1..=100).contains(&n))?;
        let log = vars.value("ROSTER_LOG").unwrap_or_default();
        check_log_filter(&log)
            .map_err(|reason| Vars::setting("ROSTER_LOG").invalid_because(&log, reason))?;
        let config = Self {
            bind,
            metrics_bind,
            public_url,
            database_url,
            database_pool,
            auto_migrate,
            token_keys,
            access_ttl: vars.seconds("ROSTER_ACCESS_TTL")?,
            refresh_ttl: vars.seconds("ROSTER_REFRESH_TTL")?,
            refresh_idle: vars.seconds("ROSTER_REFRESH_IDLE")?,
            refresh_reuse_grace: vars.seconds("ROSTER_REFRESH_REUSE_GRACE")?,
            argon2,
            argon2_concurrency,
            body_limit,
            connections,
            cors_origins,
            admin_emails,
            log,
            catalog_source,
            catalog_lang,
            catalog_rps,
            worker_embedded,
            worker_concurrency,
            worker_poll,
            redis_url,
            redis_prefix,
            cache,
            rate_limits,
            login_account_limit,
            trusted_proxies,
        };
        Ok(config)
    }
}

/// Refuses what [`EnvFilter`] refuses, and also a directive without `=`
/// that is not a level: EnvFilter takes `verbose` for a target name,
/// which turns every other log line off, warnings included.
fn check_log_filter(filter: &str) -> Result<(), String> {
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains(['=', '[']) && LevelFilter::from_str(directive).is_err() {
            return Err(format!("{directive:?} is not a level"));
        }
    }
    EnvFilter::try_new(filter)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The known name closest to `unknown` by edit distance (ignoring case and
/// the `ROSTER_` prefix), when it is close enough to be a typo of it.
fn closest(unknown: &str) -> Option<&'static str> {
    fn bare(name: &str) -> &str {
        name.strip_prefix("ROSTER_").unwrap_or(name)
    }
    let wanted = bare(unknown).to_ascii_uppercase();
    let (distance, known) = SETTINGS
        .iter()
        .map(|s| (edit_distance(&wanted, bare(s.name)), s.name))
        .min_by_key(|&(distance, _)| distance)?;
    (distance <= (wanted.len() / 3).max(2)).then_some(known)
}

/// Levenshtein distance: the fewest one-character insertions, deletions and
/// substitutions that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A connection string with its password masked, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn list(raw: Option<&str>) -> Vec<String> {
    raw.map(|r| {
        r.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn no_variables_give_the_embedded_default() {
        let config = Config::from_vars(vars(&[])).expect("defaults");
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(config.token_keys.is_empty());
        assert_eq!(config.access_ttl, Duration::seconds(900));
        assert_eq!(config.refresh_ttl, Duration::days(30));
        assert_eq!(config.refresh_idle, Duration::days(7));
        assert_eq!(config.refresh_reuse_grace, Duration::seconds(10));
        assert_eq!(config.body_limit, 1_048_576);
        assert_eq!(config.argon2, Argon2Params::default());
    }

    #[test]
    fn an_unknown_roster_variable_is_an_error_naming_it() {
        let err = Config::from_vars(vars(&[("ROSTER_BINDD", "x")])).expect_err("typo");
        assert_eq!(err.variable, "ROSTER_BINDD");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("ROSTER_BIND", "nowhere"),
            ("ROSTER_ACCESS_TTL", "-5"),
            ("ROSTER_ARGON2", "1,2"),
            ("ROSTER_ARGON2_CONCURRENCY", "0"),
            ("ROSTER_PUBLIC_URL", "roster.example"),
            ("ROSTER_CORS_ORIGINS", "app.example"),
            ("ROSTER_ADMIN_EMAILS", "not-an-email"),
            ("ROSTER_RATE_LIMIT_API", "600"),
            ("ROSTER_WORKER", "sometimes"),
        ] {
            let err = Config::from_vars(vars(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name, "{err}");
        }
    }

    #[test]
    fn a_bad_value_says_what_is_expected_with_its_unit_and_an_example() {
        let err = Config::from_vars(vars(&[("ROSTER_ACCESS_TTL", "15m")])).expect_err("15m");
        assert_eq!(
            err.to_string(),
            r#"ROSTER_ACCESS_TTL: "15m" is not a positive number of seconds (e.g. 900)"#
        );
        for (name, value) in [
            ("ROSTER_BIND", "nowhere"),
            ("ROSTER_METRICS_BIND", "9090"),
            ("ROSTER_PUBLIC_URL", "roster.example"),
            ("DATABASE_URL", "mysql://x"),
            ("ROSTER_DATABASE_POOL", "0"),
            ("ROSTER_AUTO_MIGRATE", "yes"),
            ("ROSTER_ACCESS_TTL", "-5"),
            ("ROSTER_REFRESH_TTL", "30d"),
            ("ROSTER_REFRESH_IDLE", "0"),
            ("ROSTER_REFRESH_REUSE_GRACE", "1.5"),
            ("ROSTER_ARGON2", "1,2"),
            ("ROSTER_ARGON2_CONCURRENCY", "0"),
            ("ROSTER_RATE_LIMIT_AUTH", "10"),
            ("ROSTER_RATE_LIMIT_API", "600 per minute"),
            ("ROSTER_BODY_LIMIT", "1MB"),
            ("ROSTER_CORS_ORIGINS", "https://a.example,app.example"),
            ("ROSTER_ADMIN_EMAILS", "not-an-email"),
            ("ROSTER_WORKER", "sometimes"),
            ("ROSTER_CACHE", "maybe"),
            ("ROSTER_HEADER_TIMEOUT", "0"),
            ("ROSTER_BODY_TIMEOUT", "1h"),
            ("ROSTER_MAX_CONNECTIONS", "0"),
            ("ROSTER_LOG", "verbose"),
        ] {
            let setting = Setting::named(name).expect("listed");
            let err = Config::from_vars(vars(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name, "{err}");
            assert!(
                err.message.contains(&format!(
                    "is not {} (e.g. {})",
                    setting.expects, setting.example
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn the_example_of_every_setting_is_a_valid_value() {
        for setting in SETTINGS {
            let parsed = Config::from_vars(vars(&[(setting.name, setting.example)]));
            assert!(
                parsed.is_ok(),
                "{}={}: {parsed:?}",
                setting.name,
                setting.example
            );
        }
    }

    #[test]
    fn the_default_shown_is_the_default_used() {
        let unset = format!("{:?}", Config::from_vars(vars(&[])).expect("defaults"));
        for setting in SETTINGS {
            if let Some(default) = setting.default_value() {
                let set = Config::from_vars(vars(&[(setting.name, &default)])).expect(setting.name);
                assert_eq!(format!("{set:?}"), unset, "{}={default}", setting.name);
            }
        }
    }

    #[test]
    fn every_listed_setting_is_accepted_and_no_other_roster_variable() {
        for setting in SETTINGS {
            if let Err(err) = Config::from_vars(vars(&[(setting.name, "x")])) {
                assert!(!err.message.contains("unknown setting"), "{err}");
            }
        }
        let err = Config::from_vars(vars(&[("ROSTER_NOT_A_SETTING", "x")])).expect_err("unlisted");
        assert!(err.message.contains("unknown setting"), "{err}");
    }

    #[test]
    fn a_secret_value_is_never_repeated_in_its_error() {
        let err = Config::from_vars(vars(&[(
            "DATABASE_URL",
            "mysql://roster:hunter2@db/roster",
        )]))
        .expect_err("not postgres");
        assert!(!err.message.contains("hunter2"), "{err}");
        assert!(err.message.contains("postgres://"), "{err}");
    }

    #[test]
    fn an_unknown_variable_suggests_the_closest_known_name_and_the_help() {
        for (typo, known) in [
            ("ROSTER_BINDD", "ROSTER_BIND"),
            ("ROSTER_ACCES_TTL", "ROSTER_ACCESS_TTL"),
            ("ROSTER_REFRESH_IDEL", "ROSTER_REFRESH_IDLE"),
            ("ROSTER_DATABASE_URL", "DATABASE_URL"),
            ("ROSTER_log", "ROSTER_LOG"),
        ] {
            let err = Config::from_vars(vars(&[(typo, "x")])).expect_err(typo);
            assert_eq!(err.variable, typo);
            assert_eq!(
                err.message,
                format!(
                    "unknown setting; did you mean {known}? `roster serve --help` lists every setting"
                )
            );
        }
    }

    #[test]
    fn an_unknown_variable_like_no_known_one_gets_no_suggestion() {
        for far in ["ROSTER_SMTP_URL", "ROSTER_S3_BUCKET", "ROSTER_X"] {
            let err = Config::from_vars(vars(&[(far, "x")])).expect_err(far);
            assert_eq!(
                err.message,
                "unknown setting; `roster serve --help` lists every setting"
            );
        }
    }

    #[test]
    fn the_log_filter_takes_levels_and_target_directives_only() {
        for good in [
            "info",
            "WARN",
            "off",
            "info,adapter_http=debug",
            "poem=warn",
        ] {
            let config = Config::from_vars(vars(&[("ROSTER_LOG", good)])).expect(good);
            assert_eq!(config.log, good);
        }
        for bad in ["verbose", "info,verbose", "adapter_http=verbose", "=info"] {
            let err = Config::from_vars(vars(&[("ROSTER_LOG", bad)])).expect_err(bad);
            assert_eq!(err.variable, "ROSTER_LOG");
            assert!(err.message.contains("error|warn|info|debug|trace"), "{err}");
        }
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let config = Config::from_vars(vars(&[
            (
                "ROSTER_CORS_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("ROSTER_ADMIN_EMAILS", " Boss@Example.com ,"),
        ]))
        .expect("valid");
        assert_eq!(
            config.cors_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(config.admin_emails.contains("boss@example.com"));
    }

    #[test]
    fn database_settings_are_read_and_the_password_never_shown() {
        let config = Config::from_vars(vars(&[
            (
                "DATABASE_URL",
                "postgres://roster:hunter2@db.example:5432/roster",
            ),
            ("ROSTER_DATABASE_POOL", "4"),
            ("ROSTER_AUTO_MIGRATE", "false"),
        ]))
        .expect("valid");
        assert_eq!(config.database_pool, 4);
        assert!(!config.auto_migrate);
        let debug = format!("{config:?}");
        assert!(
            debug.contains("postgres://roster:***@db.example:5432/roster"),
            "{debug}"
        );
        assert!(!debug.contains("hunter2"));
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("ROSTER_AUTO_MIGRATE", "yes"),
            ("REDIS_URL", "http://x"),
            ("REDIS_URL", "rediss://x"),
        ] {
            let err = Config::from_vars(vars(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
        }
    }

    #[test]
    fn the_metrics_address_is_apart_from_the_api_or_unset() {
        let unset = Config::from_vars(vars(&[])).expect("defaults");
        assert_eq!(unset.metrics_bind, None);
        let apart = Config::from_vars(vars(&[("ROSTER_METRICS_BIND", "0.0.0.0:9090")]))
            .expect("an address");
        assert_eq!(apart.metrics_bind, Some("0.0.0.0:9090".parse().unwrap()));
        let same = Config::from_vars(vars(&[
            ("ROSTER_BIND", "127.0.0.1:8080"),
            ("ROSTER_METRICS_BIND", "127.0.0.1:8080"),
        ]))
        .expect_err("the API's address");
        assert_eq!(same.variable, "ROSTER_METRICS_BIND");
        assert!(same.message.contains("ROSTER_BIND"), "{same}");
    }

    #[test]
    fn the_debug_form_hides_the_keys() {
        let config =
            Config::from_vars(vars(&[("ROSTER_TOKEN_KEY", "k4.secret.abc")])).expect("valid");
        assert!(!format!("{config:?}").contains("k4.secret.abc"));
    }
}
