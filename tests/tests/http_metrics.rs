//! `GET /metrics` (API.md "System"): the Prometheus text exposition, public,
//! outside `/api/v1`, labelled by route template and never by raw path,
//! and moved to an address of its own by `ROSTER_METRICS_BIND`.
//!
//! The recorder is one per process, shared by every server of this test
//! binary, so counts are compared with what this test sent as lower bounds.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tests::app::{Backend, Reply, TestApp, send};
use tests::exposition::Exposition;
use tests::roster::{Player, id_of, servers};

const CHARACTER: &str = "/api/v1/characters/{id}";

async fn scrape_at(app: &TestApp, base_url: &str) -> (Reply, Exposition) {
    let reply = send(app.client.get(format!("{base_url}/metrics"))).await;
    reply.expect_status(StatusCode::OK);
    let exposition = Exposition::parse(&reply.text)
        .unwrap_or_else(|e| panic!("the scrape does not parse: {e}\n{}", reply.text));
    (reply, exposition)
}

async fn scrape(app: &TestApp) -> (Reply, Exposition) {
    scrape_at(app, &app.base_url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_counted_by_route_template_method_and_status_never_by_raw_path() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let server = servers(&app).await[0];
    let character = player.character(&app, "Counted", server).await;
    let id = id_of(&character).to_owned();
    let nobody = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let (_, before) = scrape(&app).await;
    let count = |exposition: &Exposition, status: &str| {
        exposition
            .find(
                "roster_http_requests_total",
                &[("route", CHARACTER), ("method", "GET"), ("status", status)],
            )
            .map(|s| s.value)
            .sum::<f64>()
    };

    for _ in 0..3 {
        app.get(&format!("/characters/{id}"), Some(player.token()))
            .await
            .expect_status(StatusCode::OK);
    }
    app.get(&format!("/characters/{nobody}"), Some(player.token()))
        .await
        .expect_status(StatusCode::NOT_FOUND);
    let (reply, after) = scrape(&app).await;

    assert!(count(&after, "200") - count(&before, "200") >= 3.0);
    assert!(count(&after, "404") - count(&before, "404") >= 1.0);
    let latency = [("route", CHARACTER), ("method", "GET"), ("status", "200")];
    assert!(after.value("roster_http_request_duration_seconds_count", &latency) >= 3.0);
    assert!(
        after
            .find("roster_http_request_duration_seconds_bucket", &latency)
            .any(|bucket| bucket.labels["le"] == "+Inf"),
        "no +Inf bucket"
    );
    assert!(!reply.text.contains(&id), "a raw id is a label");
    assert!(!reply.text.contains(nobody), "a raw id is a label");
    for sample in after.find("roster_http_requests_total", &[]) {
        let route = &sample.labels["route"];
        assert!(
            route == "unmatched" || route.starts_with('/') && !route.contains(&id),
            "{route}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_route_matches_is_counted_as_unmatched_whatever_its_path() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let path = "/no/such/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

    send(app.request(Method::GET, path))
        .await
        .expect_status(StatusCode::NOT_FOUND);
    let (reply, scraped) = scrape(&app).await;

    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert!(scraped.value("roster_http_requests_total", &unmatched) >= 1.0);
    assert!(!reply.text.contains("/no/such"), "a raw path is a label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_parses_and_declares_every_family_this_build_records() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    // A login goes through the argon2 queue; a scrape before this one has
    // been served and counted.
    app.new_user().await;
    // A catalog read goes through the cache where there is one.
    app.get("/catalog/classes", None)
        .await
        .expect_status(StatusCode::OK);
    scrape(&app).await;

    let (reply, scraped) = scrape(&app).await;

    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        reply.header("content-type")
    );
    for (family, kind) in [
        ("roster_http_requests_total", "counter"),
        ("roster_http_request_duration_seconds", "histogram"),
        ("roster_jobs", "gauge"),
        ("roster_argon2_queue", "gauge"),
        ("roster_rate_limited_total", "counter"),
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert_eq!(
            scraped.types.get(family).map(String::as_str),
            Some(kind),
            "# TYPE of {family}"
        );
    }
    assert!(scraped.value("roster_argon2_queue", &[]) >= 0.0);
    assert!(scraped.value("process_resident_memory_bytes", &[]) > 0.0);
    // Every kind this build runs is shown in every status, zeros included.
    for kind in ["jobs.prune", "sessions.purge"] {
        for status in ["queued", "running", "succeeded", "failed", "dead"] {
            scraped.value("roster_jobs", &[("kind", kind), ("status", status)]);
        }
    }
    let pool = scraped.types.get("roster_db_pool_connections");
    match Backend::selected() {
        Backend::Postgres => {
            assert_eq!(pool.map(String::as_str), Some("gauge"));
            let max = scraped.value("roster_db_pool_connections", &[("state", "max")]);
            assert!(max >= 1.0, "max {max}");
            for state in ["idle", "in_use"] {
                let value = scraped.value("roster_db_pool_connections", &[("state", state)]);
                assert!((0.0..=max).contains(&value), "{state} {value}");
            }
        }
        // No pool: no made-up gauge either.
        Backend::Memory => assert_eq!(pool, None, "a pool gauge without a pool"),
    }
    // The reference tier is in process on memory and in PostgreSQL on
    // PostgreSQL alone: either way the catalog's lookups are counted.
    let cache = scraped.types.get("roster_cache_requests_total");
    assert_eq!(cache.map(String::as_str), Some("counter"));
    let lookups = scraped.value("roster_cache_requests_total", &[("tier", "reference")]);
    assert!(lookups >= 1.0, "{lookups} catalog lookups");
    // The families that belong to features this build does not have yet
    // are not faked.
    for absent in ["roster_events_streams", "roster_webhook_deliveries_total"] {
        assert!(!scraped.types.contains_key(absent), "{absent}");
    }
}

/// With memory storage the embedded worker runs its periodic tasks at
/// start: their attempts are timed by kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_job_attempt_is_timed_by_kind() {
    if Backend::selected() != Backend::Memory {
        return;
    }
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let scraped = loop {
        let (_, scraped) = scrape(&app).await;
        let timed = scraped
            .find(
                "roster_job_duration_seconds_count",
                &[("kind", "sessions.purge")],
            )
            .any(|s| s.value >= 1.0);
        if timed {
            break scraped;
        }
        assert!(Instant::now() < deadline, "no sessions.purge attempt timed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(
        scraped
            .types
            .get("roster_job_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_public_outside_the_api_and_not_an_envelope() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let (reply, _) = scrape(&app).await;
    let under_api = app.get("/metrics", None).await;

    assert_eq!(reply.body, serde_json::Value::Null, "an envelope");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    under_api.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_address_of_its_own_serves_them_and_the_api_address_no_longer_does() {
    let Some(app) = TestApp::spawn_with(&[("ROSTER_METRICS_BIND", "127.0.0.1:0")]).await else {
        return;
    };
    let metrics_url = app.metrics_url().expect("a metrics address").to_owned();
    app.get("/catalog/classes", None)
        .await
        .expect_status(StatusCode::OK);

    let (_, scraped) = scrape_at(&app, &metrics_url).await;
    let on_api = send(app.request(Method::GET, "/metrics")).await;
    let api_on_metrics = send(
        app.client
            .get(format!("{metrics_url}/api/v1/catalog/classes")),
    )
    .await;

    let classes = [("route", "/api/v1/catalog/classes"), ("status", "200")];
    assert!(scraped.value("roster_http_requests_total", &classes) >= 1.0);
    on_api.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    api_on_metrics.expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
