//! The middleware stack, exercised in-process with poem's test client.

use std::sync::Arc;

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_memory::{InProcessRateLimiter, MemoryStorage};
use adapter_paseto::PasetoSigner;
use adapter_system::{OsRandom, SystemClock};
use application::auth::{AuthPolicy, AuthPorts, AuthService, TokenSealer};
use domain::ports::Storage;
use poem::endpoint::make_sync;
use poem::test::TestClient;
use secrecy::SecretBox;

use super::*;

fn deps() -> HttpDeps {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limiter: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::new(Arc::clone(&clock)));
    let params = Argon2Params {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    let ports = AuthPorts {
        storage: Arc::clone(&storage),
        hasher: Arc::new(
            Argon2Hasher::new(
                params,
                1,
                std::time::Duration::from_secs(1),
                Arc::clone(&random),
            )
            .expect("argon2"),
        ),
        signer: Arc::new(
            PasetoSigner::ephemeral(random.as_ref(), "http://test", "http://test/api/v1")
                .expect("signer"),
        ),
        clock: Arc::clone(&clock),
        random: Arc::clone(&random),
        limiter: Arc::clone(&limiter),
    };
    let sealer = TokenSealer::new(&SecretBox::new(Box::new([1; 32])));
    HttpDeps {
        auth: Arc::new(AuthService::new(ports, sealer, AuthPolicy::default())),
        api_keys: Arc::new(application::api_keys::ApiKeyService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
        )),
        roster: Arc::new(Roster::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
        )),
        admin: Arc::new(AdminService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
        )),
        jobs: Arc::new(application::jobs::JobsService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
            false,
        )),
        audit: Arc::new(AuditLog::new(Arc::clone(&storage))),
        catalog: Arc::new(CatalogService::new(Arc::clone(&storage))),
        health: Arc::new(Health::new(storage, Arc::clone(&limiter))),
        clock,
        random,
        limiter,
        metrics: None,
    }
}

fn config() -> HttpConfig {
    HttpConfig {
        public_url: "http://test".into(),
        body_limit: 1024,
        cors_origins: Vec::new(),
        rate_limits: RateLimits::default(),
        trusted_proxies: Vec::new(),
    }
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_500_envelope_that_shows_nothing_internal() {
    let endpoint = wrap(
        make_sync(|_| -> &'static str { panic!("secret internals") }),
        &deps(),
        &config(),
        Default::default(),
        Default::default(),
        Default::default(),
    );

    let response = TestClient::new(endpoint)
        .get("/")
        .header("x-request-id", "req-1")
        .send()
        .await;

    response.assert_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.assert_header("x-request-id", "req-1");
    let body = response.json().await;
    let body = body.value().object();
    body.get("success").assert_bool(false);
    body.get("error")
        .object()
        .get("code")
        .assert_string("INTERNAL_ERROR");
    body.get("error")
        .object()
        .get("message")
        .assert_string("internal error");
    body.get("meta")
        .object()
        .get("requestId")
        .assert_string("req-1");
}

#[tokio::test]
async fn the_openapi_document_declares_the_bearer_scheme_and_error_answers() {
    let document: serde_json::Value =
        serde_json::from_str(&openapi_document(&deps(), &config())).expect("json");

    assert!(
        document["components"]["securitySchemes"]["BearerAuth"].is_object(),
        "{document:#}"
    );
    let me = &document["paths"]["/api/v1/auth/me"]["get"];
    for status in ["200", "401", "500", "503"] {
        assert!(
            me["responses"][status].is_object(),
            "GET /auth/me declares {status}"
        );
    }
}

/// The bound `keyword` that the document declares on `property` of the
/// request body schema `schema` (possibly inside an `allOf`).
fn declared_bound(
    document: &serde_json::Value,
    schema: &str,
    property: &str,
    keyword: &str,
) -> u64 {
    fn find(value: &serde_json::Value, keyword: &str) -> Option<u64> {
        match value {
            serde_json::Value::Object(map) => map
                .get(keyword)
                .and_then(serde_json::Value::as_u64)
                .or_else(|| map.values().find_map(|v| find(v, keyword))),
            serde_json::Value::Array(items) => items.iter().find_map(|v| find(v, keyword)),
            _ => None,
        }
    }
    let declared = &document["components"]["schemas"][schema]["properties"][property];
    find(declared, keyword)
        .unwrap_or_else(|| panic!("{schema}.{property} declares no {keyword}: {declared:#}"))
}

/// The `maxLength` the document declares on the query parameter `name` of
/// the operation `operation_id`.
fn declared_query_bound(document: &serde_json::Value, operation_id: &str, name: &str) -> u64 {
    let operation = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|path| path.as_object().expect("path").values())
        .find(|op| op["operationId"] == operation_id)
        .unwrap_or_else(|| panic!("no operation {operation_id}"));
    let parameter = operation["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{operation_id} has no parameter {name}"));
    parameter["schema"]["maxLength"]
        .as_u64()
        .unwrap_or_else(|| panic!("{operation_id}?{name} declares no maxLength"))
}

/// poem-openapi's validators take literals only, so each bound the
/// document declares is tied here to the domain constant it documents: a
/// change of one without the other fails this test.
#[test]
fn the_documents_bounds_are_the_domains() {
    use domain::query::SearchText;
    use domain::{ApiKeyName, DisplayName, Email, Notes, Password, RosterName, Team};

    let document: serde_json::Value =
        serde_json::from_str(&openapi_document(&deps(), &config())).expect("json");
    let as_u64 = |n: usize| n as u64;
    let name = |schema: &str| {
        (
            declared_bound(&document, schema, "name", "minLength"),
            declared_bound(&document, schema, "name", "maxLength"),
        )
    };
    let roster_name = (as_u64(RosterName::MIN_CHARS), as_u64(RosterName::MAX_CHARS));
    for schema in [
        "CreateCharacterRequest",
        "UpdateCharacterRequest",
        "CreateAccountRequest",
        "UpdateAccountRequest",
        "CreateTeamRequest",
        "UpdateTeamRequest",
    ] {
        assert_eq!(name(schema), roster_name, "{schema}.name");
    }
    for (schema, property) in [
        ("CreateAccountRequest", "notes"),
        ("UpdateAccountRequest", "notes"),
        ("CreateTeamRequest", "description"),
        ("UpdateTeamRequest", "description"),
    ] {
        assert_eq!(
            declared_bound(&document, schema, property, "maxLength"),
            as_u64(Notes::MAX_CHARS),
            "{schema}.{property}"
        );
    }
    for schema in ["CreateTeamRequest", "UpdateTeamRequest"] {
        assert_eq!(
            declared_bound(&document, schema, "memberIds", "maxItems"),
            as_u64(Team::MAX_MEMBERS),
            "{schema}.memberIds"
        );
    }
    assert_eq!(
        declared_bound(&document, "BulkDeleteRequest", "ids", "maxItems"),
        as_u64(application::characters::MAX_IDS)
    );
    for schema in ["RegisterRequest", "LoginRequest"] {
        assert_eq!(
            declared_bound(&document, schema, "email", "maxLength"),
            as_u64(Email::MAX_CHARS),
            "{schema}.email"
        );
        assert_eq!(
            declared_bound(&document, schema, "password", "maxLength"),
            as_u64(Password::MAX_CHARS),
            "{schema}.password"
        );
    }
    assert_eq!(
        declared_bound(&document, "RegisterRequest", "password", "minLength"),
        as_u64(Password::MIN_CHARS)
    );
    assert_eq!(
        declared_bound(&document, "RegisterRequest", "displayName", "maxLength"),
        as_u64(DisplayName::MAX_CHARS)
    );
    for (property, min) in [
        ("currentPassword", None),
        ("newPassword", Some(Password::MIN_CHARS)),
    ] {
        assert_eq!(
            declared_bound(&document, "ChangePasswordRequest", property, "maxLength"),
            as_u64(Password::MAX_CHARS),
            "{property}"
        );
        if let Some(min) = min {
            assert_eq!(
                declared_bound(&document, "ChangePasswordRequest", property, "minLength"),
                as_u64(min),
                "{property}"
            );
        }
    }
    assert_eq!(
        declared_bound(&document, "CreateKeyRequest", "name", "maxLength"),
        as_u64(ApiKeyName::MAX_CHARS)
    );
    for operation in ["teams.list", "catalog.items"] {
        assert_eq!(
            declared_query_bound(&document, operation, "search"),
            as_u64(SearchText::MAX_CHARS),
            "{operation}?search"
        );
    }
}

/// The committed document, `openapi.json` at the project's root, is what
/// the server serves: a change to a route or a DTO that changes the
/// document fails here until the file is regenerated and the diff reviewed
/// (`UPDATE_SNAPSHOTS=1 cargo test --workspace --lib`, then `git diff
/// openapi.json`). Clients can generate from the file without running the
/// server.
#[test]
fn the_committed_openapi_document_is_the_one_served() {
    // As `roster openapi` prints it with no configuration.
    let defaults = HttpConfig {
        public_url: "http://127.0.0.1:8080".into(),
        ..config()
    };
    let served: serde_json::Value =
        serde_json::from_str(&openapi_document(&deps(), &defaults)).expect("json");
    let mut served = serde_json::to_string_pretty(&served).expect("pretty");
    served.push('\n');
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &served).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != served {
        let line = committed
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(served.lines().count()));
        panic!(
            "openapi.json differs from the served document from line {}:\n  committed: {}\n  served:    {}\n\
             Regenerate with UPDATE_SNAPSHOTS=1 cargo test --workspace --lib, and review the diff.",
            line + 1,
            committed.lines().nth(line).unwrap_or("(end of file)"),
            served.lines().nth(line).unwrap_or("(end of file)"),
        );
    }
}
