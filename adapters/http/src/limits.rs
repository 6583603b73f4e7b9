//! Rate limits on the request path (`API.md`, "Rate limits"): which preset
//! a request falls under, who the client is, and the IETF draft's
//! `RateLimit-Policy` and `RateLimit` headers.
//!
//! The shell decides what it can before any route runs: the `auth` preset
//! (per client address, on the sign-in routes) and the `api` preset for a
//! request without credentials or to the public catalog (per address).
//! A request with credentials is limited per user, which only the guard
//! knows: it takes from the user's bucket once the credential checks out,
//! and from the address's when it does not. The `login-account` preset is
//! the application's (failed logins per account); its refusal is recorded
//! here for the headers.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use domain::UserId;
use domain::ports::RateLimiter;
use domain::rate_limit::{Applied, Decision, Quota};
use ipnet::IpNet;
use poem::http::HeaderMap;

pub const AUTH: &str = "auth";
pub const API: &str = "api";

/// The routes of the `auth` preset.
const AUTH_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/magic-link",
    "/api/v1/auth/magic-link/verify",
];

/// The quotas of the presets the HTTP layer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub auth: Quota,
    pub api: Quota,
}

impl Default for RateLimits {
    /// `API.md`'s defaults: 10 a minute for `auth`, 600 a minute for `api`.
    fn default() -> Self {
        let minute = std::time::Duration::from_secs(60);
        Self {
            auth: Quota::new(10, minute).expect("a valid quota"),
            api: Quota::new(600, minute).expect("a valid quota"),
        }
    }
}

/// The limiter and the quotas, as the shell and the guard reach them.
pub struct Limits {
    pub limiter: Arc<dyn RateLimiter>,
    pub quotas: RateLimits,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// What the shell does about a request's limit before routing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Not under `/api/v1`: no limit.
    None,
    /// Decided now, per client address.
    ByAddress(&'static str),
    /// Decided by the guard, per user (per address when the credential
    /// fails); by the shell afterwards if no guard ran.
    ByCaller,
}

impl Plan {
    pub fn of(path: &str, headers: &HeaderMap) -> Self {
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Self::None;
        };
        if AUTH_PATHS.contains(&path) {
            Self::ByAddress(AUTH)
        } else if rest.starts_with("catalog/")
            || rest == "catalog"
            || !headers.contains_key(poem::http::header::AUTHORIZATION)
        {
            Self::ByAddress(API)
        } else {
            Self::ByCaller
        }
    }
}

impl Limits {
    pub fn new(limiter: Arc<dyn RateLimiter>, quotas: RateLimits) -> Self {
        // Every preset's refusal count is shown from the start, at zero.
        for preset in [AUTH, API, application::auth::LOGIN_ACCOUNT] {
            refused(preset).increment(0);
        }
        Self { limiter, quotas }
    }

    /// Takes one request of `preset` from the bucket of `subject`, and
    /// records the decision on the current request for its headers.
    pub async fn charge(&self, preset: &'static str, subject: &Subject) -> Decision {
        let applied = self.take(preset, subject).await;
        crate::context::RequestContext::record_limit(applied);
        applied.decision
    }

    /// Takes one request of `preset` from the bucket of `subject`.
    async fn take(&self, preset: &'static str, subject: &Subject) -> Applied {
        let quota = match preset {
            AUTH => self.quotas.auth,
            _ => self.quotas.api,
        };
        let key = subject.key(preset);
        let decision = self.limiter.take(&key, quota).await;
        if !decision.allowed {
            refused(preset).increment(1);
        }
        Applied {
            preset,
            quota,
            decision,
        }
    }
}

/// `roster_rate_limited_total{preset}`: the requests a preset refused.
pub fn refused(preset: &'static str) -> metrics::Counter {
    metrics::counter!("roster_rate_limited_total", "preset" => preset)
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    User(UserId),
    Address(Option<IpAddr>),
}

impl Subject {
    fn key(&self, preset: &str) -> String {
        let mut key = String::with_capacity(64);
        key.push_str(preset);
        let _ = match self {
            Self::User(id) => write!(key, ":user:{id}"),
            // An IPv6 client usually holds a whole /64: limiting each of
            // its addresses apart would let it walk around the limit.
            Self::Address(Some(IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_none() => {
                let [a, b, c, d, ..] = v6.segments();
                write!(key, ":ip:{}", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
            Self::Address(Some(IpAddr::V6(v6))) => {
                write!(
                    key,
                    ":ip:{}",
                    v6.to_ipv4_mapped().map_or(IpAddr::V6(*v6), IpAddr::V4)
                )
            }
            Self::Address(Some(ip)) => write!(key, ":ip:{ip}"),
            Self::Address(None) => write!(key, ":ip:unknown"),
        };
        key
    }
}

/// The client's address: the socket's peer, unless the peer is a trusted
/// proxy; then the right-most `X-Forwarded-For` entry that is not a
/// trusted proxy (entries further left were written by whoever sent the
/// request, and may be anything). Every `X-Forwarded-For` line counts, in
/// order; a malformed entry ends the walk at the last hop read.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer?;
    if !is_trusted(&client) {
        return Some(client);
    }
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    for entry in lines.iter().rev().flat_map(|line| line.rsplit(',')) {
        let Ok(hop) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    Some(client)
}

/// `RateLimit-Policy` and `RateLimit` for the presets that decided the
/// request (draft-ietf-httpapi-ratelimit-headers, revision 11): lists of
/// `"name";q=<quota>;w=<window>` and `"name";r=<remaining>;t=<reset>`.
pub fn headers(applied: &[Applied]) -> Option<(String, String)> {
    if applied.is_empty() {
        return None;
    }
    let mut policy = String::new();
    let mut limit = String::new();
    for (i, item) in applied.iter().enumerate() {
        if i > 0 {
            policy.push_str(", ");
            limit.push_str(", ");
        }
        let window = item.quota.window().as_secs().max(1);
        let _ = write!(
            policy,
            "\"{}\";q={};w={window}",
            item.preset,
            item.quota.limit()
        );
        let _ = write!(
            limit,
            "\"{}\";r={};t={}",
            item.preset,
            item.decision.remaining,
            item.decision.reset_secs()
        );
    }
    Some((policy, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::header::HeaderValue;
    use std::time::Duration;

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &headers, &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &headers, &[]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.0.2.7/32".parse().unwrap(),
        ];
        let peer = Some(ip("10.1.1.1"));
        // The client claims to be 1.1.1.1; the proxy appended what it saw.
        let headers = forwarded(&["1.1.1.1, 198.51.100.4, 192.0.2.7"]);
        assert_eq!(
            client_address(peer, &headers, &trusted),
            Some(ip("198.51.100.4"))
        );
        // Several lines read as one list, in order.
        let headers = forwarded(&["1.1.1.1", "198.51.100.4", "10.2.2.2"]);
        assert_eq!(
            client_address(peer, &headers, &trusted),
            Some(ip("198.51.100.4"))
        );
        // Nothing forwarded: the proxy itself.
        assert_eq!(client_address(peer, &HeaderMap::new(), &trusted), peer);
        // Only trusted hops: the left-most of them.
        let headers = forwarded(&["10.9.9.9, 10.8.8.8"]);
        assert_eq!(
            client_address(peer, &headers, &trusted),
            Some(ip("10.9.9.9"))
        );
        // Garbage ends the walk at the last hop read.
        let headers = forwarded(&["198.51.100.4, not-an-ip, 10.3.3.3"]);
        assert_eq!(
            client_address(peer, &headers, &trusted),
            Some(ip("10.3.3.3"))
        );
    }

    #[test]
    fn the_plan_follows_the_path_and_the_credentials() {
        let none = HeaderMap::new();
        let mut bearer = HeaderMap::new();
        bearer.insert("authorization", HeaderValue::from_static("Bearer x"));
        assert_eq!(Plan::of("/health/live", &none), Plan::None);
        assert_eq!(
            Plan::of("/api/v1/auth/login", &bearer),
            Plan::ByAddress(AUTH)
        );
        assert_eq!(
            Plan::of("/api/v1/catalog/items", &bearer),
            Plan::ByAddress(API)
        );
        assert_eq!(Plan::of("/api/v1/characters", &none), Plan::ByAddress(API));
        assert_eq!(Plan::of("/api/v1/characters", &bearer), Plan::ByCaller);
        assert_eq!(Plan::of("/api/v1/auth/me", &bearer), Plan::ByCaller);
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64_and_a_mapped_v4_as_v4() {
        let a = Subject::Address(Some(ip("2001:db8:1:2:aaaa::1"))).key(API);
        let b = Subject::Address(Some(ip("2001:db8:1:2:bbbb::9"))).key(API);
        assert_eq!(a, b);
        assert_eq!(a, "api:ip:2001:db8:1:2::");
        assert_eq!(
            Subject::Address(Some(ip("::ffff:198.51.100.4"))).key(AUTH),
            "auth:ip:198.51.100.4"
        );
    }

    #[test]
    fn the_headers_follow_the_draft_syntax() {
        let applied = [
            Applied {
                preset: API,
                quota: Quota::new(600, Duration::from_secs(60)).unwrap(),
                decision: Decision {
                    allowed: true,
                    remaining: 599,
                    reset: Duration::from_millis(100),
                    retry_after: Duration::ZERO,
                },
            },
            Applied {
                preset: "login-account",
                quota: Quota::new(100, Duration::from_secs(3_600)).unwrap(),
                decision: Decision {
                    allowed: false,
                    remaining: 0,
                    reset: Duration::from_secs(3_600),
                    retry_after: Duration::from_secs(36),
                },
            },
        ];
        let (policy, limit) = headers(&applied).unwrap();
        assert_eq!(policy, r#""api";q=600;w=60, "login-account";q=100;w=3600"#);
        assert_eq!(limit, r#""api";r=599;t=1, "login-account";r=0;t=3600"#);
        assert_eq!(headers(&[]), None);
    }
}
