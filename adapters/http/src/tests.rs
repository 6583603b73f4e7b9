//! The middleware stack, exercised in-process with poem's test client.

use std::sync::Arc;

use adapter_argon2::{Argon2Hasher, Argon2Params};
use adapter_memory::MemoryStorage;
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
        audit: Arc::new(AuditLog::new(Arc::clone(&storage))),
        catalog: Arc::new(CatalogService::new(Arc::clone(&storage))),
        health: Arc::new(Health::new(storage)),
        clock,
        random,
    }
}

fn config() -> HttpConfig {
    HttpConfig {
        public_url: "http://test".into(),
        body_limit: 1024,
        cors_origins: Vec::new(),
    }
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_500_envelope_that_shows_nothing_internal() {
    let endpoint = wrap(
        make_sync(|_| -> &'static str { panic!("secret internals") }),
        &deps(),
        &config(),
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
