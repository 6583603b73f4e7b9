//! The `CatalogSource` port over HTTP, for a service that answers like the
//! public DofusDB API (a Feathers service): `GET {base}/{resource}?$limit=50
//! &$skip=N&lang=en` → `{total, limit, skip, data}`.
//!
//! The adapter is polite (a pace of requests, a `User-Agent` naming Roster,
//! timeouts, retries with backoff on 429, 408, 5xx and failed connections,
//! honouring `Retry-After`) and distrustful (a capped body, a strictly
//! checked envelope, no panic on any input). It turns rows into
//! `SourceEntry`s and nothing more: deciding what a sync keeps is the
//! application's business.

mod config;
mod page;
mod polite;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use domain::ports::{CatalogSource, SourceError, SourcePage, SourceResource};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, StatusCode};

pub use config::{ConfigError, DofusDbConfig, Language, UnknownLanguage, default_user_agent};
use polite::Pacer;

/// A DofusDB-compatible catalog source.
#[derive(Debug)]
pub struct DofusDbSource {
    client: Client,
    /// The base URL without its trailing slashes.
    base: String,
    config: DofusDbConfig,
    pacer: Pacer,
}

impl DofusDbSource {
    /// Checks the settings and builds the HTTP client. Fails with a message
    /// naming the setting that cannot work.
    pub fn new(config: DofusDbConfig) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(config.base_url.trim()).map_err(|e| {
            ConfigError(format!(
                "the base URL {} is not a URL: {e}",
                config::redacted_url(&config.base_url)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(ConfigError(format!(
                "the base URL {} must be an http:// or https:// URL",
                config::redacted_url(&config.base_url)
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError(
                "the base URL must have no query or fragment".to_owned(),
            ));
        }
        for (name, value) in [
            ("requests_per_second", config.requests_per_second),
            ("max_attempts", config.max_attempts),
            ("page_size", config.page_size),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        if config.max_body_bytes == 0 {
            return Err(ConfigError("max_body_bytes must be at least 1".to_owned()));
        }
        let client = Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError(format!("cannot build the HTTP client: {e}")))?;
        Ok(DofusDbSource {
            client,
            base: url.as_str().trim_end_matches('/').to_owned(),
            pacer: Pacer::per_second(config.requests_per_second),
            config,
        })
    }

    pub fn config(&self) -> &DofusDbConfig {
        &self.config
    }

    /// One attempt: the body of a 2xx answer, or why there is none.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let mut response = self
            .client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(Failure::transport)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            return Err(Failure::Retry {
                reason: format!("HTTP {status}"),
                retry_after: polite::retry_after(response.headers(), SystemTime::now()),
            });
        }
        if !status.is_success() {
            return Err(Failure::Invalid(format!("HTTP {status}")));
        }
        check_content_type(response.headers())?;

        let cap = self.config.max_body_bytes;
        let too_large = || Failure::Invalid(format!("the answer is larger than {cap} bytes"));
        if declared_length(response.headers()).is_some_and(|length| length > cap as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Failure::transport)? {
            if body.len().saturating_add(chunk.len()) > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl CatalogSource for DofusDbSource {
    async fn page(&self, resource: SourceResource, skip: u64) -> Result<SourcePage, SourceError> {
        let url = format!(
            "{}/{}?$limit={}&$skip={skip}&lang={}",
            self.base,
            resource.path(),
            self.config.page_size,
            self.config.language
        );
        let mut attempt = 1;
        loop {
            self.pacer.wait().await;
            let (reason, wait) = match self.fetch(&url).await {
                Ok(body) => {
                    return page::parse_page(resource, skip, self.config.language, &body).map_err(
                        |e| SourceError::Invalid(format!("{resource} at skip {skip}: {e}")),
                    );
                }
                Err(Failure::Invalid(e)) => {
                    return Err(SourceError::Invalid(format!(
                        "{resource} at skip {skip}: {e}"
                    )));
                }
                Err(Failure::Retry {
                    reason,
                    retry_after,
                }) => {
                    if attempt >= self.config.max_attempts {
                        return Err(SourceError::Unavailable(format!(
                            "{resource} at skip {skip}: {reason} (after {attempt} attempts)"
                        )));
                    }
                    let wait = retry_after
                        .unwrap_or_else(|| {
                            polite::backoff(
                                self.config.backoff_base,
                                attempt,
                                self.config.max_retry_wait,
                            )
                        })
                        .min(self.config.max_retry_wait);
                    (reason, wait)
                }
            };
            tracing::warn!(
                source.resource = %resource,
                source.skip = skip,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                reason = %reason,
                "catalog source request failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// Why one attempt gave no page.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt (a 429, 408 or 5xx, a timeout, a failed
    /// connection), after `retry_after` when the source said so.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The source answered, wrongly: another attempt would get the same.
    Invalid(String),
}

impl Failure {
    /// A request that failed without an HTTP answer. The message is built
    /// from the error's causes, not its `Display`, which carries the URL
    /// (and so whatever credentials the base URL holds).
    fn transport(error: reqwest::Error) -> Self {
        if error.is_redirect() {
            return Failure::Invalid("too many redirects".to_owned());
        }
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "cannot connect"
        } else if error.is_body() || error.is_decode() {
            "the answer broke off"
        } else {
            "request failed"
        };
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&error);
        let mut innermost = None;
        while let Some(c) = cause {
            innermost = Some(c);
            cause = c.source();
        }
        let reason = match innermost {
            Some(c) => format!("{what}: {c}"),
            None => what.to_owned(),
        };
        Failure::Retry {
            reason,
            retry_after: None,
        }
    }
}

/// A declared content type must be JSON; an absent one is left to the parser.
fn check_content_type(headers: &HeaderMap) -> Result<(), Failure> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let Ok(value) = value.to_str() else {
        return Err(Failure::Invalid(
            "expected JSON, got an unreadable content type".to_owned(),
        ));
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        return Ok(());
    }
    let mut shown: String = mime.chars().take(60).collect();
    if shown.len() < mime.len() {
        shown.push('…');
    }
    Err(Failure::Invalid(format!("expected JSON, got {shown}")))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn the_base_url_must_be_an_http_url_without_query() {
        for bad in [
            "not a url",
            "ftp://x.test",
            "mailto:a@b.c",
            "https://x.test/?key=1",
        ] {
            let err = DofusDbSource::new(DofusDbConfig::new(bad)).unwrap_err();
            assert!(err.0.contains("base URL"), "{bad}: {err}");
        }
        let source = DofusDbSource::new(DofusDbConfig::new("https://api.test/v1//")).unwrap();
        assert_eq!(source.base, "https://api.test/v1");
    }

    #[test]
    fn zero_rates_and_budgets_are_refused() {
        let mut config = DofusDbConfig::new("https://api.test");
        config.requests_per_second = 0;
        assert_eq!(
            DofusDbSource::new(config).unwrap_err(),
            ConfigError("requests_per_second must be at least 1".to_owned())
        );
        let mut config = DofusDbConfig::new("https://api.test");
        config.max_attempts = 0;
        assert!(DofusDbSource::new(config).is_err());
    }

    #[test]
    fn only_json_content_types_pass() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            check_content_type(&headers)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("application/problem+json").is_ok());
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        match with("text/html; charset=utf-8") {
            Err(Failure::Invalid(e)) => assert_eq!(e, "expected JSON, got text/html"),
            other => panic!("{other:?}"),
        }
    }
}
