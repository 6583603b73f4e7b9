//! What the DofusDB adapter needs to know: where the source is, which
//! language to read names in, and how polite to be. It reads no environment
//! variable itself; `bootstrap` fills it from `ROSTER_CATALOG_SOURCE`,
//! `ROSTER_CATALOG_LANG` and `ROSTER_CATALOG_RPS`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The languages a DofusDB-compatible source translates names into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    En,
    Fr,
    De,
    Es,
    Pt,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::En,
        Language::Fr,
        Language::De,
        Language::Es,
        Language::Pt,
    ];

    /// The code the source uses as a key of its name objects and as `lang=`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::De => "de",
            Language::Es => "es",
            Language::Pt => "pt",
        }
    }

    /// The keys tried, in order, for a row's name: this language, then `en`,
    /// then `fr` (a recent entry is often translated into those first).
    pub(crate) fn fallbacks(self) -> impl Iterator<Item = &'static str> {
        [self.as_str(), "en", "fr"].into_iter()
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown catalog language {0:?} (expected one of en, fr, de, es, pt)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownLanguage(s.to_owned()))
    }
}

/// The adapter's settings. `DofusDbConfig::new` gives the defaults for the
/// real service; tests lower the waits.
#[derive(Clone)]
pub struct DofusDbConfig {
    /// The service's base URL (`https://api.dofusdb.fr`); a resource is
    /// fetched at `{base_url}/{resource}`.
    pub base_url: String,
    /// The language of names (`en` by default).
    pub language: Language,
    /// At most this many requests per second, retries included (default 5).
    pub requests_per_second: u32,
    /// Sent with every request, so the source's operators know who asks.
    pub user_agent: String,
    /// Time allowed to open a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included (default 30 s).
    pub timeout: Duration,
    /// Attempts per page before giving up with `Unavailable` (default 4).
    pub max_attempts: u32,
    /// The first wait between attempts; each later one doubles (default 1 s).
    pub backoff_base: Duration,
    /// No wait between attempts is longer than this, whatever the source's
    /// `Retry-After` asks (default 60 s).
    pub max_retry_wait: Duration,
    /// An answer larger than this is refused (default 8 MiB).
    pub max_body_bytes: usize,
    /// The `$limit` asked for; the source may answer with fewer (default 50).
    pub page_size: u32,
}

/// `Roster/<version> (catalog sync)`.
pub fn default_user_agent() -> String {
    format!("Roster/{} (catalog sync)", env!("CARGO_PKG_VERSION"))
}

impl DofusDbConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        DofusDbConfig {
            base_url: base_url.into(),
            language: Language::En,
            requests_per_second: 5,
            user_agent: default_user_agent(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            backoff_base: Duration::from_secs(1),
            max_retry_wait: Duration::from_secs(60),
            max_body_bytes: 8 * 1024 * 1024,
            page_size: 50,
        }
    }
}

impl fmt::Debug for DofusDbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DofusDbConfig")
            .field("base_url", &redacted_url(&self.base_url))
            .field("language", &self.language)
            .field("requests_per_second", &self.requests_per_second)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// The URL without credentials or query (a base URL may carry an API key in
/// either), for `Debug` and messages.
pub(crate) fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                let _ = parsed.set_username("***");
                let _ = parsed.set_password(None);
            }
            if parsed.query().is_some() {
                parsed.set_query(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// A setting the adapter cannot work with; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog source: {0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_from_their_codes_and_nothing_else() {
        assert_eq!("fr".parse::<Language>(), Ok(Language::Fr));
        assert_eq!(" PT ".parse::<Language>(), Ok(Language::Pt));
        assert_eq!(
            "it".parse::<Language>(),
            Err(UnknownLanguage("it".to_owned()))
        );
        assert_eq!(Language::default(), Language::En);
    }

    #[test]
    fn debug_hides_credentials_and_query_of_the_base_url() {
        let config = DofusDbConfig::new("https://user:hunter2@source.test/api?key=s3cret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("user:"), "{shown}");
        assert!(shown.contains("source.test/api"), "{shown}");
    }

    #[test]
    fn the_default_user_agent_names_roster_and_its_version() {
        assert_eq!(
            DofusDbConfig::new("http://x").user_agent,
            format!("Roster/{} (catalog sync)", env!("CARGO_PKG_VERSION"))
        );
    }
}
