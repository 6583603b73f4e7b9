//! The rules of API.md "Jobs", "Admin" (the job and sync routes) and
//! "The DofusDB-compatible source", pinned through HTTP against a fake
//! DofusDB service that speaks the real protocol: a sync end to end, one at
//! a time, resumed at the page that failed, a broken source that leaves the
//! catalog as it was, an unchanged source that changes nothing, and the
//! admin-only routes. The server's worker runs embedded, polling every
//! 50 ms so a test that moves the server's clock past a backoff does not
//! wait for the default 5 s.

use std::time::{Duration as StdDuration, Instant};

use domain::ItemKind;
use domain::ports::SourceResource;
use reqwest::StatusCode;
use serde_json::Value;
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, send, unique_email};
use tests::dofusdb::{FakeCounts, FakeData, FakeDofusDb, Fault};

const QUESTS: SourceResource = SourceResource::Items(ItemKind::Quest);
const DUNGEONS: SourceResource = SourceResource::Items(ItemKind::Dungeon);

/// A server syncing from `source` (if any), with one administrator.
async fn spawn(source: Option<&FakeDofusDb>) -> Option<(TestApp, SignedIn)> {
    let email = unique_email("admin");
    let mut vars = vec![
        ("ROSTER_ADMIN_EMAILS", email.clone()),
        ("ROSTER_WORKER_POLL", "0.05".to_owned()),
        ("ROSTER_CATALOG_RPS", "100".to_owned()),
        // The tests move the server's clock by hours past backoffs: the
        // administrator's token must outlive that.
        ("ROSTER_ACCESS_TTL", "86400".to_owned()),
    ];
    if let Some(source) = source {
        vars.push(("ROSTER_CATALOG_SOURCE", source.url().to_owned()));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&vars).await?;
    let reply = app.register(&email, PASSWORD, "The Admin").await;
    reply.expect_status(StatusCode::CREATED);
    Some((app, SignedIn::from_reply(&email, &reply)))
}

async fn start_sync(app: &TestApp, admin: &SignedIn) -> String {
    let reply = app
        .post_json_as("/admin/catalog/sync", &admin.access_token, &Value::Null)
        .await;
    reply.expect_status(StatusCode::ACCEPTED);
    reply.data()["jobId"].as_str().expect("a job id").to_owned()
}

async fn job(app: &TestApp, admin: &SignedIn, id: &str) -> Value {
    let reply = app
        .get(&format!("/admin/jobs/{id}"), Some(&admin.access_token))
        .await;
    reply.expect_status(StatusCode::OK);
    reply.data().clone()
}

/// Waits (at most 30 s) until the job is in one of `statuses`.
async fn until(app: &TestApp, admin: &SignedIn, id: &str, statuses: &[&str]) -> Value {
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        let job = job(app, admin, id).await;
        if statuses.contains(&job["status"].as_str().unwrap_or_default()) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job never became {statuses:?}: {job}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

/// Every item of `kind` the catalog lists, by name.
async fn item_names(app: &TestApp, kind: &str) -> Vec<String> {
    app.all_pages(&format!("/catalog/items?kind={kind}&perPage=100"), None)
        .await
        .iter()
        .flat_map(|page| page.items().clone())
        .map(|item| item["name"].as_str().expect("a name").to_owned())
        .collect()
}

async fn catalog_etag(app: &TestApp) -> String {
    let reply = app.get("/catalog/items?perPage=1", None).await;
    reply.expect_status(StatusCode::OK);
    reply.header("etag").expect("an ETag").to_owned()
}

fn small() -> FakeData {
    FakeData::generated(FakeCounts::small())
}

#[tokio::test]
async fn a_sync_replaces_the_catalog_with_the_sources_and_reports_its_pages() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let before = catalog_etag(&app).await;

    let id = start_sync(&app, &admin).await;
    let done = until(&app, &admin, &id, &["succeeded", "dead"]).await;

    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["kind"], "catalog.sync");
    assert_eq!(done["attempts"], 1);
    let requests = source.requests().len() as u64;
    assert_eq!(done["progress"]["done"], requests);
    assert_eq!(done["progress"]["total"], requests);
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let requested: Vec<String> = source
        .requests()
        .iter()
        .map(|r| format!("{}@{}", r.resource.unwrap(), r.skip.unwrap()))
        .collect();
    assert_eq!(steps, requested);

    let data = source.data();
    for (resource, kind) in [
        (QUESTS, "quest"),
        (SourceResource::Items(ItemKind::Achievement), "achievement"),
        (DUNGEONS, "dungeon"),
    ] {
        let (expected, _) = data.expected(resource, "en");
        let mut expected: Vec<String> = expected.into_iter().map(|e| e.name).collect();
        let mut listed = item_names(&app, kind).await;
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected, "{kind}");
    }
    assert_ne!(catalog_etag(&app).await, before);
}

#[tokio::test]
async fn a_second_sync_of_the_same_data_changes_nothing() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let first = start_sync(&app, &admin).await;
    until(&app, &admin, &first, &["succeeded"]).await;
    let etag = catalog_etag(&app).await;

    let second = start_sync(&app, &admin).await;
    assert_ne!(second, first, "a finished sync does not block the next");
    let done = until(&app, &admin, &second, &["succeeded"]).await;

    assert_eq!(catalog_etag(&app).await, etag);
    assert!(
        done["progress"]["message"]
            .as_str()
            .unwrap()
            .starts_with("catalog unchanged"),
        "{done}"
    );
}

#[tokio::test]
async fn a_sync_asked_for_while_one_is_queued_or_running_answers_that_one() {
    let source = FakeDofusDb::start(small()).await;
    // The first page is slow, so the sync is still running when asked again.
    source.faults().once(
        SourceResource::Classes,
        0,
        Fault::Delay(StdDuration::from_millis(700)),
    );
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let first = start_sync(&app, &admin).await;
    let again = start_sync(&app, &admin).await;
    assert_eq!(again, first);
    until(&app, &admin, &first, &["running", "succeeded"]).await;
    assert_eq!(start_sync(&app, &admin).await, first);
    until(&app, &admin, &first, &["succeeded"]).await;
}

#[tokio::test]
async fn a_retry_resumes_at_the_page_that_failed_without_fetching_the_others_again() {
    let source = FakeDofusDb::start(small()).await;
    source.faults().once(QUESTS, 40, Fault::Html);
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let id = start_sync(&app, &admin).await;
    let failed = until(&app, &admin, &id, &["failed"]).await;
    assert_eq!(failed["attempts"], 1);
    let error = failed["lastError"].as_str().unwrap();
    assert!(error.contains("quests at skip 40"), "{error}");
    let fetched_before = source.requests().len();

    // Past the backoff, as the server sees time.
    app.clock.advance(time::Duration::hours(1));
    let done = until(&app, &admin, &id, &["succeeded"]).await;

    assert_eq!(done["attempts"], 2);
    let requests = source.requests();
    let again: Vec<String> = requests[fetched_before..]
        .iter()
        .map(|r| format!("{}@{}", r.resource.unwrap(), r.skip.unwrap()))
        .collect();
    assert_eq!(again.first().map(String::as_str), Some("quests@40"));
    for earlier in ["breeds@0", "servers@0", "quests@0", "quests@20"] {
        let times = requests
            .iter()
            .filter(|r| format!("{}@{}", r.resource.unwrap(), r.skip.unwrap()) == earlier)
            .count();
        assert_eq!(times, 1, "{earlier} was fetched {times} times");
    }
}

#[tokio::test]
async fn a_source_that_stays_broken_leaves_the_catalog_untouched_and_the_job_dead() {
    let source = FakeDofusDb::start(small()).await;
    source.faults().always(DUNGEONS, 0, Fault::Html);
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let etag = catalog_etag(&app).await;
    let quests = item_names(&app, "quest").await;

    let id = start_sync(&app, &admin).await;
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let dead = loop {
        let job = until(&app, &admin, &id, &["failed", "dead"]).await;
        if job["status"] == "dead" {
            break job;
        }
        assert!(Instant::now() < deadline, "{job}");
        app.clock.advance(time::Duration::hours(2));
        until(
            &app,
            &admin,
            &id,
            &["running", "succeeded", "dead", "failed"],
        )
        .await;
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };

    assert_eq!(dead["attempts"], 8);
    assert!(
        dead["lastError"]
            .as_str()
            .unwrap()
            .contains("dungeons at skip 0"),
        "{dead}"
    );
    assert_eq!(catalog_etag(&app).await, etag);
    assert_eq!(item_names(&app, "quest").await, quests);

    // An administrator can give it another go once the source is mended.
    source.faults().clear();
    let retried = send(
        app.api(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry"))
            .bearer_auth(&admin.access_token),
    )
    .await;
    retried.expect_status(StatusCode::ACCEPTED);
    assert_eq!(retried.data()["status"], "queued");
    assert_eq!(retried.data()["attempts"], 0);
    let done = until(&app, &admin, &id, &["succeeded"]).await;
    assert_eq!(done["attempts"], 1);
    assert_ne!(catalog_etag(&app).await, etag);
}

#[tokio::test]
async fn an_entry_gone_from_the_source_leaves_the_lists_at_the_next_sync() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let first = start_sync(&app, &admin).await;
    until(&app, &admin, &first, &["succeeded"]).await;
    let before = item_names(&app, "dungeon").await;
    let (expected, _) = source.data().expected(DUNGEONS, "en");
    let gone = expected[0].clone();
    source.update_data(|data| {
        data.remove(DUNGEONS, gone.source_id);
    });

    let second = start_sync(&app, &admin).await;
    until(&app, &admin, &second, &["succeeded"]).await;

    let after = item_names(&app, "dungeon").await;
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.contains(&gone.name));
}

#[tokio::test]
async fn without_a_source_a_sync_is_not_found() {
    let Some((app, admin)) = spawn(None).await else {
        return;
    };
    app.post_json_as("/admin/catalog/sync", &admin.access_token, &Value::Null)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[tokio::test]
async fn the_job_routes_answer_administrators_only() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let id = start_sync(&app, &admin).await;
    let user = app.new_user().await;
    let key = app.new_api_key(&admin.access_token, "admin's key").await;
    for bearer in [user.access_token.as_str(), key.key.as_str()] {
        app.post_json_as("/admin/catalog/sync", bearer, &Value::Null)
            .await
            .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
        for path in ["/admin/jobs".to_owned(), format!("/admin/jobs/{id}")] {
            app.get(&path, Some(bearer))
                .await
                .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
        }
        send(
            app.api(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry"))
                .bearer_auth(bearer),
        )
        .await
        .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    app.get("/admin/jobs", None).await.expect_unauthenticated();
}

#[tokio::test]
async fn the_job_list_is_newest_first_filtered_and_paged() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let first = start_sync(&app, &admin).await;
    until(&app, &admin, &first, &["succeeded"]).await;
    let second = start_sync(&app, &admin).await;
    until(&app, &admin, &second, &["succeeded"]).await;

    let list = |query: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let reply: Reply = app
                .get(&format!("/admin/jobs{query}"), Some(&admin.access_token))
                .await;
            reply.expect_status(StatusCode::OK);
            reply
        }
    };
    let syncs = list("?kind=catalog.sync").await;
    let ids: Vec<&str> = syncs
        .items()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    assert!(
        syncs
            .items()
            .iter()
            .all(|j| j["steps"] == Value::Array(vec![]))
    );

    let page = list("?kind=catalog.sync&perPage=1").await;
    assert_eq!(page.items()[0]["id"], second.as_str());
    let cursor = page.next_cursor().expect("a second page").to_owned();
    let next = app
        .get(
            &format!("/admin/jobs?kind=catalog.sync&perPage=1&cursor={cursor}"),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(next.items()[0]["id"], first.as_str());
    assert_eq!(next.next_cursor(), None);

    assert!(list("?status=dead").await.items().is_empty());
    let succeeded = list("?status=succeeded&kind=catalog.sync").await;
    assert_eq!(succeeded.items().len(), 2);
}

#[tokio::test]
async fn bad_job_requests_get_clear_errors() {
    let source = FakeDofusDb::start(small()).await;
    let Some((app, admin)) = spawn(Some(&source)).await else {
        return;
    };
    let bearer = Some(admin.access_token.as_str());
    app.get("/admin/jobs/not-a-uuid", bearer)
        .await
        .expect_invalid_field("id");
    app.get("/admin/jobs/01900000-0000-7000-8000-000000000000", bearer)
        .await
        .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    app.get("/admin/jobs?status=done", bearer)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    app.get("/admin/jobs?cursor=nope", bearer)
        .await
        .expect_invalid_field("cursor");
    // PostgreSQL refuses a NUL in text: it must be a 400, not a 500.
    app.get("/admin/jobs?kind=a%00b", bearer)
        .await
        .expect_invalid_field("kind");
    // A job that is not dead cannot be retried, and stays as it was.
    let id = start_sync(&app, &admin).await;
    let done = until(&app, &admin, &id, &["succeeded"]).await;
    send(
        app.api(reqwest::Method::POST, &format!("/admin/jobs/{id}/retry"))
            .bearer_auth(&admin.access_token),
    )
    .await
    .expect_error(StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(job(&app, &admin, &id).await, done);
    send(
        app.api(
            reqwest::Method::POST,
            "/admin/jobs/01900000-0000-7000-8000-000000000000/retry",
        )
        .bearer_auth(&admin.access_token),
    )
    .await
    .expect_error(StatusCode::NOT_FOUND, "NOT_FOUND");
}
