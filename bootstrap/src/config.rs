//! Configuration, read from environment variables (and a `.env` file in the
//! working directory) and validated at start, with a message that names the
//! variable at fault.
//!
//! Variables read here:
//! `ROSTER_BIND`, `ROSTER_PUBLIC_URL`, `DATABASE_URL`, `ROSTER_DATABASE_POOL`,
//! `ROSTER_AUTO_MIGRATE`,
//! `REDIS_URL`, `ROSTER_TOKEN_KEY`, `ROSTER_ACCESS_TTL`, `ROSTER_REFRESH_TTL`,
//! `ROSTER_REFRESH_IDLE`, `ROSTER_REFRESH_REUSE_GRACE`, `ROSTER_ARGON2`,
//! `ROSTER_ARGON2_CONCURRENCY`, `ROSTER_RATE_LIMIT_AUTH`, `ROSTER_RATE_LIMIT_API`,
//! `ROSTER_BODY_LIMIT`, `ROSTER_CORS_ORIGINS`, `ROSTER_TRUSTED_PROXIES`,
//! `ROSTER_ADMIN_EMAILS`, `ROSTER_CATALOG_SOURCE`, `ROSTER_WORKER`, `ROSTER_LOG`.
//! Any other `ROSTER_*` variable is an error: a typo must not pass silently.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use adapter_argon2::Argon2Params;
use application::auth::AuthPolicy;
use domain::SessionLifetimes;
use secrecy::{ExposeSecret, SecretString};
use time::Duration;

const KNOWN: &[&str] = &[
    "ROSTER_BIND",
    "ROSTER_PUBLIC_URL",
    "ROSTER_DATABASE_POOL",
    "ROSTER_AUTO_MIGRATE",
    "ROSTER_TOKEN_KEY",
    "ROSTER_ACCESS_TTL",
    "ROSTER_REFRESH_TTL",
    "ROSTER_REFRESH_IDLE",
    "ROSTER_REFRESH_REUSE_GRACE",
    "ROSTER_ARGON2",
    "ROSTER_ARGON2_CONCURRENCY",
    "ROSTER_RATE_LIMIT_AUTH",
    "ROSTER_RATE_LIMIT_API",
    "ROSTER_BODY_LIMIT",
    "ROSTER_CORS_ORIGINS",
    "ROSTER_TRUSTED_PROXIES",
    "ROSTER_ADMIN_EMAILS",
    "ROSTER_CATALOG_SOURCE",
    "ROSTER_WORKER",
    "ROSTER_LOG",
];

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
    pub cors_origins: Vec<String>,
    pub admin_emails: HashSet<String>,
    pub log: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
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
            .field("cors_origins", &self.cors_origins)
            .field("admin_emails", &self.admin_emails.len())
            .field("log", &self.log)
            .finish()
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
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("ROSTER_") || k == "DATABASE_URL" || k == "REDIS_URL")
            .collect();
        if let Some(unknown) = vars
            .keys()
            .find(|k| k.starts_with("ROSTER_") && !KNOWN.contains(&k.as_str()))
        {
            return Err(error(
                unknown,
                "unknown setting (see ARCHITECTURE.md, Configuration)",
            ));
        }
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        // A backend this build does not have is refused rather than silently
        // replaced by the in-process one: a team that sets it expects it.
        if get("REDIS_URL").is_some() {
            return Err(error(
                "REDIS_URL",
                "this build has no Redis adapter yet; unset it to use the in-process one",
            ));
        }
        let database_url = match get("DATABASE_URL") {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(SecretString::from(url))
            }
            Some(_) => {
                return Err(error(
                    "DATABASE_URL",
                    "must be a postgres:// or postgresql:// URL",
                ));
            }
            None => None,
        };
        let database_pool: usize = parse(
            get("ROSTER_DATABASE_POOL"),
            "ROSTER_DATABASE_POOL",
            Some(16),
        )?;
        if database_pool == 0 {
            return Err(error("ROSTER_DATABASE_POOL", "must be at least 1"));
        }
        let auto_migrate = match get("ROSTER_AUTO_MIGRATE") {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(error(
                    "ROSTER_AUTO_MIGRATE",
                    format!("{other:?} is neither true nor false"),
                ));
            }
        };
        let bind: SocketAddr = parse(
            get("ROSTER_BIND"),
            "ROSTER_BIND",
            "127.0.0.1:8080".parse().ok(),
        )?;
        let public_url = match get("ROSTER_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(_) => {
                return Err(error(
                    "ROSTER_PUBLIC_URL",
                    "must start with http:// or https://",
                ));
            }
            None => format!("http://{bind}"),
        };
        let token_keys = list(get("ROSTER_TOKEN_KEY"))
            .into_iter()
            .map(SecretString::from)
            .collect();
        // The defaults are the application's and the domain's own, so each
        // is written once.
        let seconds = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            let default = default.whole_seconds();
            let value: i64 = parse(get(name), name, Some(default))?;
            if value <= 0 {
                return Err(error(name, "must be a positive number of seconds"));
            }
            Ok(Duration::seconds(value))
        };
        let argon2 = match get("ROSTER_ARGON2") {
            Some(raw) => {
                Argon2Params::from_str(raw).map_err(|e| error("ROSTER_ARGON2", e.to_string()))?
            }
            None => Argon2Params::default(),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let argon2_concurrency: usize = parse(
            get("ROSTER_ARGON2_CONCURRENCY"),
            "ROSTER_ARGON2_CONCURRENCY",
            Some(cores),
        )?;
        if argon2_concurrency == 0 {
            return Err(error("ROSTER_ARGON2_CONCURRENCY", "must be at least 1"));
        }
        let body_limit: usize = parse(
            get("ROSTER_BODY_LIMIT"),
            "ROSTER_BODY_LIMIT",
            Some(1_048_576),
        )?;
        let cors_origins = list(get("ROSTER_CORS_ORIGINS"));
        if let Some(bad) = cors_origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(error(
                "ROSTER_CORS_ORIGINS",
                format!("{bad:?} is not an origin like https://app.example"),
            ));
        }
        let mut admin_emails = HashSet::new();
        for raw in list(get("ROSTER_ADMIN_EMAILS")) {
            let email = domain::Email::parse(&raw)
                .map_err(|e| error("ROSTER_ADMIN_EMAILS", format!("{raw:?} {}", e.message)))?;
            admin_emails.insert(email.as_str().to_owned());
        }
        for (name, check) in [
            ("ROSTER_RATE_LIMIT_AUTH", rate as fn(&str) -> bool),
            ("ROSTER_RATE_LIMIT_API", rate),
            ("ROSTER_WORKER", |v: &str| v == "embedded" || v == "off"),
        ] {
            if let Some(value) = get(name)
                && !check(value)
            {
                return Err(error(name, format!("{value:?} is not a valid value")));
            }
        }
        let config = Self {
            bind,
            public_url,
            database_url,
            database_pool,
            auto_migrate,
            token_keys,
            access_ttl: seconds("ROSTER_ACCESS_TTL", AuthPolicy::DEFAULT_ACCESS_TTL)?,
            refresh_ttl: seconds("ROSTER_REFRESH_TTL", SessionLifetimes::DEFAULT_ABSOLUTE)?,
            refresh_idle: seconds("ROSTER_REFRESH_IDLE", SessionLifetimes::DEFAULT_IDLE)?,
            refresh_reuse_grace: seconds(
                "ROSTER_REFRESH_REUSE_GRACE",
                SessionLifetimes::DEFAULT_REUSE_GRACE,
            )?,
            argon2,
            argon2_concurrency,
            body_limit,
            cors_origins,
            admin_emails,
            log: get("ROSTER_LOG").unwrap_or("info").to_owned(),
        };
        Ok(config)
    }

    /// Settings that are read and checked but have no effect in this build;
    /// `serve` says so at start.
    pub fn inert_settings() -> &'static [&'static str] {
        &[
            "ROSTER_RATE_LIMIT_AUTH",
            "ROSTER_RATE_LIMIT_API",
            "ROSTER_TRUSTED_PROXIES",
            "ROSTER_CATALOG_SOURCE",
            "ROSTER_WORKER",
        ]
    }
}

fn parse<T: FromStr>(raw: Option<&str>, name: &str, default: Option<T>) -> Result<T, ConfigError> {
    match (raw, default) {
        (Some(raw), _) => raw
            .parse()
            .map_err(|_| error(name, format!("{raw:?} is not a valid value"))),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(error(name, "is required")),
    }
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

/// `requests/seconds`, both positive.
fn rate(value: &str) -> bool {
    value
        .split_once('/')
        .and_then(|(q, w)| Some(q.parse::<u32>().ok()? > 0 && w.parse::<u32>().ok()? > 0))
        .unwrap_or(false)
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
            ("REDIS_URL", "redis://x"),
        ] {
            let err = Config::from_vars(vars(&[(name, value)])).expect_err(name);
            assert_eq!(err.variable, name);
        }
    }

    #[test]
    fn the_debug_form_hides_the_keys() {
        let config =
            Config::from_vars(vars(&[("ROSTER_TOKEN_KEY", "k4.secret.abc")])).expect("valid");
        assert!(!format!("{config:?}").contains("k4.secret.abc"));
    }
}
