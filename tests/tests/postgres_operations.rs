//! Running Roster on PostgreSQL, as an operator does: restarts, several
//! instances on one database, a database that goes away and comes back,
//! the admin command. Black-box through HTTP; every server here runs on a
//! fresh schema the test owns, whatever backend this binary would pick.

use std::time::Duration;

use adapter_paseto::generate_paserk_secret;
use adapter_system::{OsRandom, SystemClock};
use application::admin::{AdminError, grant_admin};
use domain::Email;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, send};
use tests::pg::TestDatabase;
use tests::proxy::Proxy;
use tokio::time::{Instant, sleep, timeout};

/// Longer than any answer may take when the database is gone: a request
/// that waits on it must fail fast, not hang.
const PROMPT: Duration = Duration::from_secs(15);
/// How long the service may take to notice the database is back.
const RECOVERY: Duration = Duration::from_secs(10);

/// A signing key for servers that must accept each other's tokens.
fn shared_key() -> String {
    generate_paserk_secret(&OsRandom).expect("a key")
}

fn session_ids(reply: &Reply) -> Vec<&str> {
    reply
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("not a list of sessions: {}", reply.text))
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect()
}

async fn ready(app: &TestApp) -> Reply {
    send(app.request(Method::GET, "/health/ready")).await
}

/// `answer`, or a failure if it takes longer than [`PROMPT`].
async fn promptly<T>(what: &str, answer: impl Future<Output = T>) -> T {
    timeout(PROMPT, answer)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {PROMPT:?}"))
}

// --- Restarts and several instances --------------------------------------------

#[tokio::test]
async fn users_and_sessions_survive_a_restart() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let key = shared_key();
    let first = TestApp::spawn_on(&database.url, &[("ROSTER_TOKEN_KEY", &key)]).await;
    let user = first.new_user().await;
    first.stop().await.expect("the first server stops");

    let second = TestApp::spawn_on(&database.url, &[("ROSTER_TOKEN_KEY", &key)]).await;
    let login = second.login(&user.email, PASSWORD).await;
    let me = second.me(&user.access_token).await;
    let refresh = second.refresh(&user.refresh_token).await;

    login.expect_status(StatusCode::OK);
    assert_eq!(login.data()["user"]["id"], user.user_id.as_str());
    me.expect_status(StatusCode::OK);
    assert_eq!(me.data()["id"], user.user_id.as_str(), "{}", me.text);
    refresh.expect_status(StatusCode::OK);
    assert_ne!(
        SignedIn::from_reply(&user.email, &refresh).refresh_token,
        user.refresh_token,
        "the refresh rotates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_two_instances_all_get_the_same_single_new_session() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let key = shared_key();
    let vars = [("ROSTER_TOKEN_KEY", key.as_str())];
    let servers = [
        TestApp::spawn_on(&database.url, &vars).await,
        TestApp::spawn_on(&database.url, &vars).await,
    ];
    let user = servers[0].new_user().await;

    let replies = join_all((0..16).map(|i| servers[i % 2].refresh(&user.refresh_token))).await;

    for reply in &replies {
        reply.expect_status(StatusCode::OK);
    }
    let first = SignedIn::from_reply(&user.email, &replies[0]);
    assert_ne!(first.session_id, user.session_id);
    for reply in &replies {
        let other = SignedIn::from_reply(&user.email, reply);
        assert_eq!(other.session_id, first.session_id);
        assert_eq!(other.refresh_token, first.refresh_token);
    }
    for server in &servers {
        let sessions = server.sessions(&first.access_token).await;
        sessions.expect_status(StatusCode::OK);
        assert_eq!(session_ids(&sessions), [first.session_id.as_str()]);
    }
}

#[tokio::test]
async fn a_session_logged_out_on_one_instance_is_refused_at_once_by_another() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let key = shared_key();
    let vars = [("ROSTER_TOKEN_KEY", key.as_str())];
    let a = TestApp::spawn_on(&database.url, &vars).await;
    let b = TestApp::spawn_on(&database.url, &vars).await;
    let user = a.new_user().await;
    b.me(&user.access_token).await.expect_status(StatusCode::OK);

    a.logout(&user.access_token, "local")
        .await
        .expect_status(StatusCode::NO_CONTENT);

    b.me(&user.access_token).await.expect_unauthenticated();
}

// --- The database going away and coming back -------------------------------------

/// A server that reaches its database through a [`Proxy`] only.
async fn behind_a_proxy(database: &TestDatabase) -> (Proxy, TestApp) {
    let proxy = Proxy::start(database.server_address()).await;
    let app = TestApp::spawn_on(&database.url_via(&proxy.address.to_string()), &[]).await;
    (proxy, app)
}

fn database_check(body: &Value) -> Option<&str> {
    body["error"]["details"]["checks"]["database"]
        .as_str()
        .or_else(|| body["data"]["checks"]["database"].as_str())
}

#[tokio::test]
async fn readiness_reports_the_database_ok_while_it_answers() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (_proxy, app) = behind_a_proxy(&database).await;

    let reply = ready(&app).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.data()["checks"]["database"], "ok", "{}", reply.text);
}

#[tokio::test]
async fn when_the_database_goes_away_readiness_and_requests_answer_503_promptly() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (mut proxy, app) = behind_a_proxy(&database).await;
    let user = app.new_user().await;
    ready(&app).await.expect_status(StatusCode::OK);

    proxy.cut().await;
    let readiness = promptly("/health/ready", ready(&app)).await;
    let me = promptly("/auth/me", app.me(&user.access_token)).await;

    readiness.expect_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
    assert!(
        readiness.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    assert_eq!(
        database_check(&readiness.body),
        Some("down"),
        "{}",
        readiness.text
    );
    me.expect_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
    assert!(
        me.header("retry-after").is_some(),
        "503 without Retry-After"
    );
}

#[tokio::test]
async fn when_the_database_stops_answering_requests_answer_503_promptly() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (proxy, app) = behind_a_proxy(&database).await;
    let user = app.new_user().await;
    ready(&app).await.expect_status(StatusCode::OK);

    // A partition: connections stay open, nothing answers, no error comes.
    proxy.freeze();
    let (readiness, me) = tokio::join!(
        promptly("/health/ready", ready(&app)),
        promptly("/auth/me", app.me(&user.access_token)),
    );

    readiness.expect_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
    assert_eq!(
        database_check(&readiness.body),
        Some("down"),
        "{}",
        readiness.text
    );
    me.expect_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn when_the_database_comes_back_the_service_recovers_without_a_restart() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (mut proxy, app) = behind_a_proxy(&database).await;
    let user = app.new_user().await;
    proxy.cut().await;
    promptly("/health/ready", ready(&app))
        .await
        .expect_status(StatusCode::SERVICE_UNAVAILABLE);

    proxy.open().await;

    // The pool notices on its own; give it a few seconds.
    let deadline = Instant::now() + RECOVERY;
    let readiness = loop {
        let reply = promptly("/health/ready", ready(&app)).await;
        if reply.status == StatusCode::OK || Instant::now() > deadline {
            break reply;
        }
        sleep(Duration::from_millis(100)).await;
    };
    readiness.expect_status(StatusCode::OK);
    assert_eq!(database_check(&readiness.body), Some("ok"));
    let me = promptly("/auth/me", app.me(&user.access_token)).await;
    me.expect_status(StatusCode::OK);
}

// --- The admin command -----------------------------------------------------------

#[tokio::test]
async fn grant_admin_gives_the_admin_role_from_the_next_login() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let app = TestApp::spawn_on(&database.url, &[]).await;
    let user = app.new_user().await;
    let storage = database.storage().await;
    let email = Email::parse(&user.email).expect("a valid e-mail");

    grant_admin(&storage, &SystemClock, &OsRandom, &email)
        .await
        .expect("the role is granted");

    let login = app.login(&user.email, PASSWORD).await;
    login.expect_status(StatusCode::OK);
    assert_eq!(login.data()["user"]["role"], "admin", "{}", login.text);
    let user_id = login.data()["user"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let filter = domain::AuditFilter {
        resource_id: Some(user_id),
        ..Default::default()
    };
    let trail = domain::ports::Repositories::audit(&storage)
        .list(&filter, None, 10)
        .await
        .expect("the trail");
    let grant = trail
        .iter()
        .find(|e| e.action == "user.updated")
        .expect("the grant is audited");
    assert_eq!(grant.actor_id, None, "the operator acts as the system");
    assert_eq!(grant.changes[0].field, "role");
}

#[tokio::test]
async fn grant_admin_to_an_unknown_email_is_refused() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let storage = database.storage().await;
    let email = Email::parse("nobody@example.com").expect("a valid e-mail");

    let result = grant_admin(&storage, &SystemClock, &OsRandom, &email).await;

    assert!(
        matches!(result, Err(AdminError::NoSuchUser(_))),
        "{result:?}"
    );
}

// --- The catalog when the pool is taken ------------------------------------------

/// Slow requests that hold every pooled connection do not hold up the
/// public catalog: its classes and servers are lookups, answered on the
/// lanes (issue 14: 1.23 s at p99 when the pool was exhausted).
// Two workers: should the catalog wait after all, the test fails instead of
// hanging while its schema is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_answers_while_slow_requests_hold_the_whole_pool() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let app = TestApp::spawn_on(&database.url, &[("ROSTER_DATABASE_POOL", "1")]).await;
    let user = app.new_user().await;
    app.get("/catalog/classes", None)
        .await
        .expect_status(StatusCode::OK);
    // The item search reads storage once, then the reference cache (kept in
    // PostgreSQL on connections of its own) answers the same page.
    let items = app.get("/catalog/items?perPage=5", None).await;
    items.expect_status(StatusCode::OK);
    // Another session locks the characters table, so a character list
    // takes the pool's only connection and waits on the lock.
    let (locker, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("a connection of the test's own");
    tokio::spawn(connection);
    locker
        .batch_execute("BEGIN; LOCK TABLE characters IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("the lock");
    let list = tokio::spawn({
        let request = app
            .api(Method::GET, "/characters")
            .bearer_auth(&user.access_token);
        async move { send(request).await }
    });
    // Watched from a third connection: inside the locker's transaction,
    // pg_stat_activity would show the snapshot of its first read.
    let (watcher, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .expect("a watching connection");
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND query ILIKE '%characters%' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the list never waited on the lock"
        );
        sleep(Duration::from_millis(20)).await;
    }

    // The pool is taken: without the lanes this would wait 5 s for it, then 503.
    let classes = timeout(Duration::from_secs(3), app.get("/catalog/classes", None)).await;
    let servers = timeout(Duration::from_secs(3), app.get("/catalog/servers", None)).await;
    let items_again = timeout(
        Duration::from_secs(3),
        app.get("/catalog/items?perPage=5", None),
    )
    .await;

    locker
        .batch_execute("ROLLBACK")
        .await
        .expect("the lock ends");
    let classes = classes.expect("classes while the pool is taken");
    let servers = servers.expect("servers while the pool is taken");
    classes.expect_status(StatusCode::OK);
    servers.expect_status(StatusCode::OK);
    assert!(!classes.items().is_empty(), "{}", classes.text);
    let items_again = items_again.expect("items while the pool is taken");
    items_again.expect_status(StatusCode::OK);
    assert_eq!(items_again.items(), items.items());
    list.await
        .expect("the list task")
        .expect_status(StatusCode::OK);
}

/// Without `ROSTER_TOKEN_KEY`, instances on one database sign with the key
/// the first of them stored there: each accepts the others' tokens, and a
/// restart keeps them valid.
#[tokio::test]
async fn instances_without_a_configured_key_share_the_one_the_database_keeps() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (one, two) = (
        TestApp::spawn_on(&database.url, &[]).await,
        TestApp::spawn_on(&database.url, &[]).await,
    );
    let user = one.new_user().await;
    two.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
    one.stop().await.expect("stops");
    let again = TestApp::spawn_on(&database.url, &[]).await;
    again
        .me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
    // A configured key wins over the database's.
    let key = generate_paserk_secret(&OsRandom).expect("a key");
    let configured = TestApp::spawn_on(&database.url, &[("ROSTER_TOKEN_KEY", key.as_str())]).await;
    configured
        .me(&user.access_token)
        .await
        .expect_unauthenticated();
}
