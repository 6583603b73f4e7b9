//! Starting the real server for black-box HTTP tests, and the small
//! vocabulary the tests speak: requests by route, answers read through the
//! envelope, users made by a builder.
//!
//! Every test gets its own server on a free port, its own storage and its
//! own [`ManualClock`], so tests run in parallel and time moves only when a
//! test says so. Which storage backs the server is decided in one place,
//! [`Backend`]; the tests themselves never know.
//!
//! Helpers send and decode; the `expect_*` checks on [`Reply`] only say
//! what every answer of a kind must look like (the envelope, the 401
//! challenge), so that a test states its own rule and nothing more.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use adapter_system::ManualClock;
use bootstrap::{App, Config, RunningServer};

use crate::pg::TestDatabase;
use domain::ports::Clock;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// The API's base path.
pub const API: &str = "/api/v1";

/// A password that meets every rule (length, not a common one).
pub const PASSWORD: &str = "correct horse battery staple";

/// The `User-Agent` the test client sends, so sessions can be recognised.
pub const USER_AGENT: &str = "roster-black-box-tests";

/// The storage a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    /// A fresh schema of the machine's PostgreSQL per test.
    Postgres,
}

impl Backend {
    /// The backend of this test binary: PostgreSQL for test targets whose
    /// name ends in `_postgres` (declared in `tests/Cargo.toml` over the same
    /// source files), memory otherwise. `TEST_BACKEND=postgres` runs a
    /// memory binary on PostgreSQL; `TEST_BACKEND=memory` is refused by a
    /// twin. Not a `ROSTER_*` variable on purpose: the server refuses
    /// unknown `ROSTER_*` settings.
    pub fn selected() -> Self {
        let binary = std::env::current_exe().ok();
        let target = binary
            .as_deref()
            .and_then(|path| path.file_stem())
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.rsplit_once('-').map(|(name, _hash)| name.to_owned()));
        let twin = target.is_some_and(|name| name.ends_with("_postgres"));
        match std::env::var("TEST_BACKEND").as_deref() {
            // A PostgreSQL twin that quietly ran on memory would pass
            // without testing what its name says.
            Ok("memory") if twin => {
                panic!("TEST_BACKEND=memory: this is a PostgreSQL twin; it runs on PostgreSQL only")
            }
            Ok("memory") => return Self::Memory,
            Ok("postgres") => return Self::Postgres,
            Ok(other) if !other.is_empty() => {
                panic!("TEST_BACKEND={other:?}: expected memory or postgres")
            }
            _ => {}
        }
        if twin { Self::Postgres } else { Self::Memory }
    }
}

/// Settings every test server gets unless the test overrides them.
const DEFAULTS: &[(&str, &str)] = &[
    // The smallest argon2 cost: hashing speed is not what these tests pin.
    ("ROSTER_ARGON2", "1024,1,1"),
    // Far above what any test sends, so that rate limiting cannot turn a
    // test about something else into a 429 (the rate-limit tests set
    // their own).
    ("ROSTER_RATE_LIMIT_AUTH", "100000/60"),
    ("ROSTER_RATE_LIMIT_API", "100000/60"),
    ("ROSTER_RATE_LIMIT_LOGIN_ACCOUNT", "100000/60"),
];

/// A running server and a client to talk to it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// No cookie store: a test sends the cookies it means to send.
    pub client: reqwest::Client,
    /// The server's clock; only the test moves it.
    pub clock: Arc<ManualClock>,
    /// The configuration the server was built from.
    pub config: Config,
    server: RunningServer,
    /// The schema a PostgreSQL-backed server uses; dropped after the server.
    _database: Option<TestDatabase>,
}

impl TestApp {
    /// A server with the default test settings; `None` when its backend
    /// cannot be reached and skipping was asked for
    /// (`TEST_SKIP_UNREACHABLE=1`, see `tests::pg`); otherwise it fails.
    pub async fn spawn() -> Option<Self> {
        Self::spawn_with(&[]).await
    }

    /// A server with `vars` on top of the default test settings.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Option<Self> {
        let mut settings = settings(vars);
        let database = match Backend::selected() {
            Backend::Memory => None,
            Backend::Postgres => Some(TestDatabase::create().await?),
        };
        if let Some(database) = &database {
            settings.push(("DATABASE_URL".to_owned(), database.url.clone()));
        }
        Some(Self::start(settings, database).await)
    }

    /// A server on the PostgreSQL database at `database_url`, with `vars` on
    /// top of the default test settings, whatever [`Backend`] this binary
    /// selects. The caller owns the schema (a [`TestDatabase`] that outlives
    /// the server), so several servers can share it, one after the other or
    /// at once.
    pub async fn spawn_on(database_url: &str, vars: &[(&str, &str)]) -> Self {
        let mut settings = settings(vars);
        settings.push(("DATABASE_URL".to_owned(), database_url.to_owned()));
        Self::start(settings, None).await
    }

    async fn start(settings: Vec<(String, String)>, database: Option<TestDatabase>) -> Self {
        let config = Config::from_vars(settings).expect("the test configuration is valid");
        let storage = bootstrap::open_storage(&config)
            .await
            .expect("the storage opens");
        let clock = Arc::new(ManualClock::starting_now());
        let server_clock: Arc<dyn Clock> = clock.clone();
        let app = App::build(&config, storage, server_clock).expect("the app builds");
        let server = RunningServer::start(app).await.expect("the server starts");
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            base_url: server.base_url.clone(),
            client,
            clock,
            config,
            server,
            _database: database,
        }
    }

    /// `http://127.0.0.1:<port>` of the address of its own `/metrics` is
    /// served on, when the server was given one (`ROSTER_METRICS_BIND`).
    pub fn metrics_url(&self) -> Option<&str> {
        self.server.metrics_url.as_deref()
    }

    /// Shuts the server down gracefully.
    pub async fn stop(self) -> std::io::Result<()> {
        self.server.stop().await
    }

    /// The `iss` this server puts in its access tokens.
    pub fn issuer(&self) -> String {
        self.config.public_url.clone()
    }

    /// The `aud` this server puts in its access tokens.
    pub fn audience(&self) -> String {
        format!("{}{API}", self.config.public_url)
    }

    /// A request to `path` (from the root, e.g. `/health/live`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
    }

    /// A request to `path` under `/api/v1`.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("{API}{path}"))
    }

    /// `GET /api/v1{path}`, with a bearer token when one is given.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        send(with_bearer(self.api(Method::GET, path), bearer)).await
    }

    /// `DELETE /api/v1{path}` with a bearer token.
    pub async fn delete(&self, path: &str, bearer: &str) -> Reply {
        send(self.api(Method::DELETE, path).bearer_auth(bearer)).await
    }

    /// `POST /api/v1{path}` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        send(self.api(Method::POST, path).json(body)).await
    }

    /// `POST /api/v1{path}` with a JSON body and a bearer token.
    pub async fn post_json_as(&self, path: &str, bearer: &str, body: &Value) -> Reply {
        send(self.api(Method::POST, path).bearer_auth(bearer).json(body)).await
    }

    /// `PATCH /api/v1{path}` with a JSON body and a bearer token.
    pub async fn patch_json_as(&self, path: &str, bearer: &str, body: &Value) -> Reply {
        send(self.api(Method::PATCH, path).bearer_auth(bearer).json(body)).await
    }

    /// `POST /api/v1{path}` that must answer 201; its `data`. Panics
    /// otherwise: tests that start from an object are not about creating it.
    pub async fn create_as(&self, path: &str, bearer: &str, body: &Value) -> Value {
        let reply = self.post_json_as(path, bearer, body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "creating a fixture at {path} failed: {}",
            reply.text
        );
        reply.data().clone()
    }

    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> Reply {
        self.post_json(
            "/auth/register",
            &json!({"email": email, "password": password, "displayName": display_name}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `POST /auth/refresh` with the token in the body.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post_json("/auth/refresh", &json!({"refreshToken": refresh_token}))
            .await
    }

    /// `GET /auth/me`.
    pub async fn me(&self, access_token: &str) -> Reply {
        self.get("/auth/me", Some(access_token)).await
    }

    /// `GET /auth/sessions`.
    pub async fn sessions(&self, access_token: &str) -> Reply {
        self.get("/auth/sessions", Some(access_token)).await
    }

    /// `POST /auth/logout` with a bearer token and a scope.
    pub async fn logout(&self, access_token: &str, scope: &str) -> Reply {
        self.post_json_as("/auth/logout", access_token, &json!({"scope": scope}))
            .await
    }

    /// Registers a new user with a unique e-mail and [`PASSWORD`]. Panics
    /// if the server refuses: tests that start from a user are not about
    /// registration.
    pub async fn new_user(&self) -> SignedIn {
        let email = unique_email("user");
        let reply = self.register(&email, PASSWORD, "Test User").await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "registering a fixture user failed: {}",
            reply.text
        );
        SignedIn::from_reply(&email, &reply)
    }

    /// Creates an API key named `name` for the holder of `access_token`.
    /// Panics if the server refuses: tests that start from a key are not
    /// about creating one.
    pub async fn new_api_key(&self, access_token: &str, name: &str) -> NewApiKey {
        let reply = self
            .post_json_as("/api-keys", access_token, &json!({"name": name}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "creating a fixture API key failed: {}",
            reply.text
        );
        let text = |field: &str| {
            reply.data()[field]
                .as_str()
                .unwrap_or_else(|| panic!("not a created key: {}", reply.text))
                .to_owned()
        };
        NewApiKey {
            id: text("id"),
            key: text("key"),
        }
    }

    /// Every page of the cursor-paged list at `GET /api/v1{path}` (which may
    /// hold a query), following `nextCursor` from the first page until it is
    /// `null`. Panics on an answer other than 200, or on a cursor that never
    /// ends.
    pub async fn all_pages(&self, path: &str, bearer: Option<&str>) -> Vec<Reply> {
        self.pages_from(path, None, bearer).await
    }

    /// Like [`TestApp::all_pages`], starting at `cursor` (as a page gave
    /// it) instead of the first page.
    pub async fn pages_from(
        &self,
        path: &str,
        cursor: Option<&str>,
        bearer: Option<&str>,
    ) -> Vec<Reply> {
        const MAX_PAGES: usize = 1_000;
        let mut pages: Vec<Reply> = Vec::new();
        let mut cursor: Option<String> = cursor.map(str::to_owned);
        loop {
            let mut request = with_bearer(self.api(Method::GET, path), bearer);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            let page = send(request).await;
            page.expect_status(StatusCode::OK);
            cursor = page.next_cursor().map(str::to_owned);
            pages.push(page);
            if cursor.is_none() {
                return pages;
            }
            assert!(pages.len() < MAX_PAGES, "{path}: the cursor never ends");
        }
    }

    /// Logs `user` in again: a second, independent session (a new family).
    pub async fn another_session(&self, user: &SignedIn) -> SignedIn {
        let reply = self.login(&user.email, PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "logging a fixture user in failed: {}",
            reply.text
        );
        SignedIn::from_reply(&user.email, &reply)
    }
}

/// [`DEFAULTS`] with `vars` on top.
fn settings(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    DEFAULTS
        .iter()
        .filter(|(name, _)| !vars.iter().any(|(n, _)| n == name))
        .chain(vars)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn with_bearer(request: RequestBuilder, bearer: Option<&str>) -> RequestBuilder {
    match bearer {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends `request` and reads the whole answer.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    Reply::read(response).await
}

/// Sends `request`, bytes no HTTP client would send, on a connection of its
/// own and reads until the server closes it (so a request the server would
/// keep alive must say `Connection: close`). The server may answer, and
/// close, before it has read everything.
pub async fn raw(address: &str, request: &[u8]) -> RawReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("a connection");
    let (mut reader, mut writer) = socket.split();
    let send = async {
        let _ = writer.write_all(request).await;
    };
    let mut answer = Vec::new();
    let receive = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reader.read_to_end(&mut answer),
    );
    let ((), received) = tokio::join!(send, receive);
    if let Ok(Err(error)) = received {
        // A reset after the answer was read is fine.
        assert!(!answer.is_empty(), "no answer: {error}");
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    RawReply {
        status: head[9..12].parse().expect("a status"),
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {text:?}")),
    }
}

/// An answer read off a raw socket.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// The status line and headers, lower-cased.
    pub head: String,
    pub body: Value,
}

/// An e-mail address no other call of this process has returned.
pub fn unique_email(tag: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{n}@example.com", std::process::id())
}

/// A whole answer: status, headers and body (decoded when it is JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON; `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the body is readable");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }

    /// The envelope's `data`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The envelope's `error.code`.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// The envelope's `error.message`.
    pub fn error_message(&self) -> Option<&str> {
        self.body["error"]["message"].as_str()
    }

    /// The fields named by `error.details.fields`.
    pub fn error_fields(&self) -> Vec<&str> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|fields| fields.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }

    /// The items of a list answer (`data` as an array). Panics when `data`
    /// is not an array.
    pub fn items(&self) -> &Vec<Value> {
        self.data()
            .as_array()
            .unwrap_or_else(|| panic!("not a list answer: {}", self.text))
    }

    /// A cursor-paged answer's `pagination.nextCursor`; `None` when `null`.
    pub fn next_cursor(&self) -> Option<&str> {
        self.body["pagination"]["nextCursor"].as_str()
    }

    /// The envelope's `meta.requestId`.
    pub fn meta_request_id(&self) -> Option<&str> {
        self.body["meta"]["requestId"].as_str()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks the status, printing the body when it differs.
    #[track_caller]
    pub fn expect_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }

    /// Checks that this is an error envelope with `status` and `code`.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, code: &str) -> &Self {
        self.expect_status(status);
        assert_eq!(
            self.body["success"], false,
            "not an error envelope: {}",
            self.text
        );
        assert_eq!(
            self.error_code(),
            Some(code),
            "wrong error code: {}",
            self.text
        );
        self
    }

    /// Checks that this is the 401 every refused credential gets: the
    /// envelope and the `WWW-Authenticate` challenge.
    #[track_caller]
    pub fn expect_unauthenticated(&self) -> &Self {
        self.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        assert_eq!(
            self.header("www-authenticate"),
            Some(r#"Bearer realm="api""#),
            "401 without the bearer challenge"
        );
        self
    }

    /// Checks that this is a 400 `VALIDATION_ERROR` naming `field`.
    #[track_caller]
    pub fn expect_invalid_field(&self, field: &str) -> &Self {
        self.expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(
            self.error_fields().contains(&field),
            "details.fields does not name {field:?}: {}",
            self.text
        );
        self
    }

    /// The `Set-Cookie` header that sets the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SetCookie::parse)
            .find(|cookie| cookie.name == name)
    }
}

/// One `Set-Cookie` header, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// `(name, value)` of each attribute, names as sent; `value` is empty
    /// for flags such as `HttpOnly`.
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn parse(header: &str) -> Self {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_default();
        let attributes = parts
            .map(|attr| match attr.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (attr.to_owned(), String::new()),
            })
            .collect();
        Self {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes,
        }
    }

    /// The value of attribute `name` (case-insensitive), `Some("")` for a
    /// flag that is present.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A user with one live session, as the `AuthSession` answer gave it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub email: String,
    pub user_id: String,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl SignedIn {
    /// Reads an `AuthSession` answer. Panics when it is not one.
    pub fn from_reply(email: &str, reply: &Reply) -> Self {
        let text = |value: &Value| {
            value
                .as_str()
                .unwrap_or_else(|| panic!("not an AuthSession answer: {}", reply.text))
                .to_owned()
        };
        let data = reply.data();
        Self {
            email: email.to_owned(),
            user_id: text(&data["user"]["id"]),
            session_id: text(&data["sessionId"]),
            access_token: text(&data["accessToken"]),
            refresh_token: text(&data["refreshToken"]),
        }
    }
}

/// An API key as `POST /api-keys` gave it.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    /// The secret, `rk_…`.
    pub key: String,
}
