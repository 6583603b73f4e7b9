//! Rate limits through HTTP (`API.md`, "Rate limits"): the presets, the
//! IETF draft's headers, 429 envelopes, the client address behind trusted
//! proxies, and limits shared by two instances through Redis — which may
//! die mid-run without a single 5xx.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::app::{PASSWORD, Reply, TestApp, send, unique_email};
use tests::redis::{OwnRedis, TestRedis};

/// A `Retry-After` that is a whole number of seconds.
fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .expect("a Retry-After")
        .parse()
        .expect("seconds")
}

fn expect_limited(reply: &Reply) {
    reply.expect_error(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(retry_after(reply) >= 1);
    assert!(reply.header("ratelimit-policy").is_some(), "{reply:?}");
    assert!(reply.header("ratelimit").is_some(), "{reply:?}");
}

#[tokio::test]
async fn every_api_answer_carries_the_draft_headers_and_the_quota_ends_in_a_429() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_RATE_LIMIT_API", "5/60")]).await else {
        return;
    };
    let user = app.new_user().await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let reply = app.me(&user.access_token).await;
        reply.expect_status(StatusCode::OK);
        assert_eq!(reply.header("ratelimit-policy"), Some(r#""api";q=5;w=60"#));
        seen.push(reply.header("ratelimit").unwrap().to_owned());
    }
    // One request back every 12 s; the bucket is full again 12 s after
    // each request, times the requests taken.
    assert_eq!(
        seen,
        [
            r#""api";r=4;t=12"#,
            r#""api";r=3;t=24"#,
            r#""api";r=2;t=36"#,
            r#""api";r=1;t=48"#,
            r#""api";r=0;t=60"#,
        ]
    );
    let refused = app.me(&user.access_token).await;
    expect_limited(&refused);
    assert_eq!(retry_after(&refused), 12);
    let scraped = send(app.request(Method::GET, "/metrics")).await.text;
    let scraped = tests::exposition::Exposition::parse(&scraped).expect("Prometheus text");
    assert!(scraped.value("roster_rate_limited_total", &[("preset", "api")]) >= 1.0);
    assert_eq!(refused.header("ratelimit"), Some(r#""api";r=0;t=60"#));
    // Errors of a limited route carry the headers too.
    app.clock.advance(time::Duration::seconds(12));
    let missing = app
        .get(
            "/characters/01890000-0000-7000-8000-000000000000",
            Some(&user.access_token),
        )
        .await;
    missing.expect_status(StatusCode::NOT_FOUND);
    assert_eq!(missing.header("ratelimit"), Some(r#""api";r=0;t=60"#));
    // The probes are not limited.
    for _ in 0..10 {
        let live = send(app.request(Method::GET, "/health/live")).await;
        live.expect_status(StatusCode::OK);
        assert_eq!(live.header("ratelimit"), None);
    }
}

#[tokio::test]
async fn the_api_preset_is_per_user_and_per_address_when_anonymous() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_RATE_LIMIT_API", "2/60")]).await else {
        return;
    };
    let (ana, bo) = (app.new_user().await, app.new_user().await);
    for _ in 0..2 {
        app.me(&ana.access_token)
            .await
            .expect_status(StatusCode::OK);
    }
    expect_limited(&app.me(&ana.access_token).await);
    // Another user has a bucket of their own.
    app.me(&bo.access_token).await.expect_status(StatusCode::OK);
    // So does the address, for anonymous reads of the catalog.
    for _ in 0..2 {
        app.get("/catalog/classes", None)
            .await
            .expect_status(StatusCode::OK);
    }
    expect_limited(&app.get("/catalog/classes", None).await);
    // A bad token counts against the address: guessing tokens is limited.
    expect_limited(&app.me("v4.public.not-a-token").await);
}

#[tokio::test]
async fn the_auth_preset_limits_sign_ins_per_address_right_password_or_not() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_RATE_LIMIT_AUTH", "3/60")]).await else {
        return;
    };
    let email = unique_email("auth");
    // The registration is the first of three.
    app.register(&email, PASSWORD, "Ana")
        .await
        .expect_status(StatusCode::CREATED);
    app.login(&email, "wrong password!")
        .await
        .expect_status(StatusCode::UNAUTHORIZED);
    let ok = app.login(&email, PASSWORD).await;
    ok.expect_status(StatusCode::OK);
    assert_eq!(ok.header("ratelimit-policy"), Some(r#""auth";q=3;w=60"#));
    assert_eq!(ok.header("ratelimit"), Some(r#""auth";r=0;t=60"#));
    let refused = app.login(&email, PASSWORD).await;
    expect_limited(&refused);
    assert_eq!(retry_after(&refused), 20);
    expect_limited(&app.refresh("anything").await);
    // The window allows again.
    app.clock.advance(time::Duration::seconds(20));
    app.login(&email, PASSWORD)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_lock_the_account_whatever_the_password_alike_for_unknown_accounts() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_RATE_LIMIT_LOGIN_ACCOUNT", "3/3600")]).await
    else {
        return;
    };
    let email = unique_email("locked");
    app.register(&email, PASSWORD, "Ana")
        .await
        .expect_status(StatusCode::CREATED);
    let unknown = unique_email("nobody");
    for address in [&email, &unknown] {
        for _ in 0..3 {
            app.login(address, "not the password")
                .await
                .expect_unauthenticated();
        }
    }
    // The right password too, while the account is limited.
    let known = app.login(&email, PASSWORD).await;
    expect_limited(&known);
    let absent = app.login(&unknown, PASSWORD).await;
    expect_limited(&absent);
    // Nothing tells an existing account from an absent one.
    assert_eq!(known.error_message(), absent.error_message());
    assert_eq!(known.header("retry-after"), absent.header("retry-after"));
    let account_item = |reply: &Reply| {
        let header = reply.header("ratelimit").unwrap_or_default().to_owned();
        header
            .split(", ")
            .find(|item| item.starts_with(r#""login-account""#))
            .map(str::to_owned)
    };
    assert_eq!(
        account_item(&known),
        Some(r#""login-account";r=0;t=3600"#.to_owned())
    );
    assert_eq!(account_item(&known), account_item(&absent));
    assert_eq!(retry_after(&known), 1_200);
    assert!(
        known
            .header("ratelimit-policy")
            .unwrap()
            .contains(r#""login-account";q=3;w=3600"#),
        "{known:?}"
    );
    // Another account is not affected; the e-mail is not in any header.
    app.login(&unique_email("other"), PASSWORD)
        .await
        .expect_unauthenticated();
    assert!(!known.text.contains(&email));
    // Once the window allows one more, the right password works again.
    app.clock.advance(time::Duration::seconds(1_200));
    app.login(&email, PASSWORD)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let login = |app: &TestApp, forwarded: &str| {
        send(
            app.api(Method::POST, "/auth/login")
                .header("x-forwarded-for", forwarded)
                .json(&json!({"email": "a@example.com", "password": "nope nope nope"})),
        )
    };
    // Untrusted: whatever the client forwards, it is one address.
    let Some(direct) = TestApp::spawn_with(&[("ROSTER_RATE_LIMIT_AUTH", "2/60")]).await else {
        return;
    };
    login(&direct, "198.51.100.1")
        .await
        .expect_unauthenticated();
    login(&direct, "198.51.100.2")
        .await
        .expect_unauthenticated();
    expect_limited(&login(&direct, "198.51.100.3").await);

    // Behind a trusted proxy (the test client's loopback), each forwarded
    // client has its own bucket, and a client cannot pick its address by
    // prepending one: the right-most untrusted entry is the client.
    let Some(proxied) = TestApp::spawn_with(&[
        ("ROSTER_RATE_LIMIT_AUTH", "2/60"),
        ("ROSTER_TRUSTED_PROXIES", "127.0.0.0/8,10.0.0.0/8"),
    ])
    .await
    else {
        return;
    };
    for _ in 0..2 {
        login(&proxied, "198.51.100.1")
            .await
            .expect_unauthenticated();
    }
    expect_limited(&login(&proxied, "198.51.100.1").await);
    expect_limited(&login(&proxied, "203.0.113.50, 198.51.100.1, 10.0.0.7").await);
    login(&proxied, "198.51.100.2")
        .await
        .expect_unauthenticated();

    // The sessions and the audit trail record the client, not the proxy.
    let email = unique_email("behind");
    let registered = send(
        proxied
            .api(Method::POST, "/auth/register")
            .header("x-forwarded-for", "198.51.100.9")
            .json(&json!({"email": email, "password": PASSWORD, "displayName": "Ana"})),
    )
    .await;
    registered.expect_status(StatusCode::CREATED);
    let token = registered.data()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = proxied.sessions(&token).await;
    assert_eq!(sessions.items()[0]["ip"], "198.51.100.9", "{sessions:?}");
}

#[tokio::test]
async fn two_instances_share_their_limits_through_redis() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let vars = [
        ("REDIS_URL", redis.config.url.as_str()),
        ("ROSTER_REDIS_PREFIX", redis.config.prefix.as_str()),
        ("ROSTER_RATE_LIMIT_AUTH", "3/60"),
    ];
    let (Some(one), Some(two)) = (
        TestApp::spawn_with(&vars).await,
        TestApp::spawn_with(&vars).await,
    ) else {
        return;
    };
    one.login("a@example.com", "nope nope nope")
        .await
        .expect_unauthenticated();
    two.login("a@example.com", "nope nope nope")
        .await
        .expect_unauthenticated();
    let third = one.login("a@example.com", "nope nope nope").await;
    assert_eq!(third.header("ratelimit"), Some(r#""auth";r=0;t=60"#));
    expect_limited(&two.login("a@example.com", "nope nope nope").await);
    let ready = send(one.request(Method::GET, "/health/ready")).await;
    ready.expect_status(StatusCode::OK);
    assert_eq!(ready.data()["checks"]["cache"], "ok");
}

#[tokio::test]
async fn a_redis_that_dies_mid_run_costs_no_request_and_is_rejoined() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let url = redis.url();
    let Some(app) = TestApp::spawn_with(&[
        ("REDIS_URL", url.as_str()),
        ("ROSTER_RATE_LIMIT_API", "1000/60"),
    ])
    .await
    else {
        return;
    };
    let user = app.new_user().await;
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);

    redis.kill();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let reply = app.me(&user.access_token).await;
        reply.expect_status(StatusCode::OK);
        assert!(reply.header("ratelimit").is_some());
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "50 requests took {:?} with Redis down",
        started.elapsed()
    );
    let ready = send(app.request(Method::GET, "/health/ready")).await;
    ready.expect_status(StatusCode::OK);
    assert_eq!(ready.data()["status"], "degraded");
    // `/metrics` says so too (a recorder is shared by the servers of one
    // test binary, so the figures are lower bounds).
    let scraped = send(app.request(Method::GET, "/metrics")).await.text;
    let scraped = tests::exposition::Exposition::parse(&scraped).expect("Prometheus text");
    assert!(scraped.value("roster_rate_limit_fallbacks_total", &[]) >= 50.0);
    assert_eq!(ready.data()["checks"]["cache"], "degraded");
    assert_eq!(ready.data()["checks"]["database"], "ok");

    redis.restart().await.expect("redis restarts");
    let mut cache = String::new();
    for _ in 0..40 {
        let ready = send(app.request(Method::GET, "/health/ready")).await;
        ready.expect_status(StatusCode::OK);
        cache = ready.data()["checks"]["cache"].as_str().unwrap().to_owned();
        if cache == "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cache, "ok", "readiness never saw Redis again");
    app.me(&user.access_token)
        .await
        .expect_status(StatusCode::OK);
}
