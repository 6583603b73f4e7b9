//! The cache through HTTP (`API.md`, Caching): no answer older than an
//! acknowledged write, on any instance. Memory storage runs with the
//! in-process cache; PostgreSQL with Redis shares one between instances
//! (PostgreSQL alone runs with the cache off: every other `_postgres` suite
//! covers it). Each cached route is read twice before a write, so the read
//! after the write would be a hit were the write not to bump it.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::app::{PASSWORD, Reply, SignedIn, TestApp, send, unique_email};
use tests::dofusdb::{FakeCounts, FakeData, FakeDofusDb};
use tests::exposition::Exposition;
use tests::pg::TestDatabase;
use tests::redis::{OwnRedis, TestRedis};
use tests::roster::{Player, id_of, items, put_json_as, servers};

/// `GET` twice (the second a hit when the cache is on); the second answer.
async fn read_twice(app: &TestApp, path: &str, bearer: &str) -> Reply {
    app.get(path, Some(bearer))
        .await
        .expect_status(StatusCode::OK);
    let reply = app.get(path, Some(bearer)).await;
    reply.expect_status(StatusCode::OK);
    reply
}

fn account_count(reply: &Reply) -> i64 {
    reply.items()[0]["characterCount"]
        .as_i64()
        .expect("a count")
}

async fn cache_requests(app: &TestApp, tier: &str, result: &str) -> f64 {
    let scraped = send(app.request(Method::GET, "/metrics")).await.text;
    Exposition::parse(&scraped).expect("Prometheus text").value(
        "roster_cache_requests_total",
        &[("tier", tier), ("result", result)],
    )
}

#[tokio::test]
async fn every_cached_read_reflects_the_write_acknowledged_before_it() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let player = Player::new(&app).await;
    let token = player.token();
    let server = servers(&app).await[0];
    let character = player.character(&app, "Cached", server).await;
    let character = id_of(&character).to_owned();
    let quest = items(&app, "quest").await[0]["id"].as_i64().unwrap();
    let summary = format!("/characters/{character}/progressions/summary");

    // The progression summary.
    let before = read_twice(&app, &summary, token).await;
    assert_eq!(before.data()["quest"]["done"], 0);
    put_json_as(
        &app,
        &format!("/characters/{character}/progressions/{quest}"),
        token,
        &json!({"status": "done"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let after = app.get(&summary, Some(token)).await;
    assert_eq!(after.data()["quest"]["done"], 1, "{}", after.text);

    // The account list and its counts.
    assert_eq!(
        account_count(&read_twice(&app, "/accounts", token).await),
        1
    );
    let second = player.character(&app, "Another", server).await;
    assert_eq!(account_count(&app.get("/accounts", Some(token)).await), 2);
    read_twice(&app, "/accounts", token).await;
    app.delete(&format!("/characters/{}", id_of(&second)), token)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(account_count(&app.get("/accounts", Some(token)).await), 1);
    read_twice(&app, "/accounts", token).await;
    app.patch_json_as(
        &format!("/accounts/{}", player.account),
        token,
        &json!({"name": "Renamed"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let accounts = app.get("/accounts", Some(token)).await;
    assert_eq!(accounts.items()[0]["name"], "Renamed");

    // A team's progression view: the status and the member's own fields.
    let team = app
        .create_as(
            "/teams",
            token,
            &json!({"name": "Duo", "memberIds": [character]}),
        )
        .await;
    let view = format!("/teams/{}/progressions/{quest}", id_of(&team));
    let before = read_twice(&app, &view, token).await;
    assert_eq!(before.data()[0]["status"], "done");
    put_json_as(
        &app,
        &format!("/characters/{character}/progressions/{quest}"),
        token,
        &json!({"status": "in_progress"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let after = read_twice(&app, &view, token).await;
    assert_eq!(after.data()[0]["status"], "in_progress", "{}", after.text);
    app.patch_json_as(
        &format!("/characters/{character}"),
        token,
        &json!({"name": "Renamed"}),
    )
    .await
    .expect_status(StatusCode::OK);
    let after = app.get(&view, Some(token)).await;
    assert_eq!(
        after.data()[0]["member"]["name"],
        "Renamed",
        "{}",
        after.text
    );

    // The reads above were served from the cache (the recorder is shared
    // by the servers of this test binary: a lower bound).
    assert!(cache_requests(&app, "user", "hit").await >= 3.0);
    assert!(cache_requests(&app, "user", "miss").await >= 3.0);
}

#[tokio::test]
async fn one_users_writes_leave_anothers_cached_reads_in_place_and_unseen() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let (one, two) = (Player::new(&app).await, Player::new(&app).await);
    let server = servers(&app).await[0];
    read_twice(&app, "/accounts", two.token()).await;
    one.character(&app, "Mine", server).await;
    // The other user's list is theirs alone, cached or not.
    let theirs = app.get("/accounts", Some(two.token())).await;
    assert_eq!(account_count(&theirs), 0);
    assert_ne!(theirs.items()[0]["id"], one.account.as_str());
    let mine = app.get("/accounts", Some(one.token())).await;
    assert_eq!(account_count(&mine), 1);
}

/// Two servers on one PostgreSQL schema and one Redis prefix, as two
/// instances behind a load balancer; `None` when either service is
/// unreachable and skipping was asked for.
async fn two_instances(
    database: &TestDatabase,
    redis_url: &str,
    prefix: &str,
    extra: &[(&str, &str)],
) -> (TestApp, TestApp) {
    let key = adapter_paseto::generate_paserk_secret(&adapter_system::OsRandom).expect("a key");
    let mut vars = vec![
        ("ROSTER_TOKEN_KEY", key.as_str()),
        ("REDIS_URL", redis_url),
        ("ROSTER_REDIS_PREFIX", prefix),
    ];
    let one = TestApp::spawn_on(&database.url, &[&vars[..], extra].concat()).await;
    // One worker: the first instance's, which alone knows the catalog source.
    vars.push(("ROSTER_WORKER", "off"));
    let two = TestApp::spawn_on(&database.url, &vars).await;
    (one, two)
}

#[tokio::test]
async fn two_instances_on_postgresql_and_redis_never_serve_a_stale_read() {
    let (Some(database), Some(redis)) = (TestDatabase::create().await, TestRedis::create().await)
    else {
        return;
    };
    let (one, two) = two_instances(&database, &redis.config.url, &redis.config.prefix, &[]).await;
    let player = Player::new(&one).await;
    let token = player.token();
    let server = servers(&one).await[0];
    let character = player.character(&one, "Shared", server).await;
    let character = id_of(&character).to_owned();
    let quests = items(&one, "quest").await;
    let summary = format!("/characters/{character}/progressions/summary");
    let instances = [&one, &two];
    for (round, quest) in quests.iter().take(6).enumerate() {
        // Read (and cache) on both, write on one, read at once on the other.
        let (writer, reader) = (instances[round % 2], instances[(round + 1) % 2]);
        read_twice(reader, &summary, token).await;
        read_twice(writer, "/accounts", token).await;
        put_json_as(
            writer,
            &format!("/characters/{character}/progressions/{}", quest["id"]),
            token,
            &json!({"status": "done"}),
        )
        .await
        .expect_status(StatusCode::OK);
        let read = reader.get(&summary, Some(token)).await;
        assert_eq!(read.data()["quest"]["done"], round + 1, "{}", read.text);

        read_twice(reader, "/accounts", token).await;
        let created = player
            .character(writer, &format!("Extra {round}"), server)
            .await;
        let counted = account_count(&reader.get("/accounts", Some(token)).await);
        assert_eq!(counted, 2, "round {round}");
        read_twice(reader, "/accounts", token).await;
        writer
            .delete(&format!("/characters/{}", id_of(&created)), token)
            .await
            .expect_status(StatusCode::NO_CONTENT);
        assert_eq!(
            account_count(&reader.get("/accounts", Some(token)).await),
            1
        );
    }
    assert!(cache_requests(&one, "user", "hit").await >= 1.0);
}

#[tokio::test]
async fn a_catalog_sync_on_one_instance_is_seen_at_once_on_the_other() {
    let (Some(database), Some(redis)) = (TestDatabase::create().await, TestRedis::create().await)
    else {
        return;
    };
    let source = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let admin = unique_email("admin");
    let (syncing, reading) = two_instances(
        &database,
        &redis.config.url,
        &redis.config.prefix,
        &[
            ("ROSTER_CATALOG_SOURCE", source.url()),
            ("ROSTER_CATALOG_RPS", "100"),
            ("ROSTER_WORKER_POLL", "0.05"),
            ("ROSTER_ADMIN_EMAILS", admin.as_str()),
        ],
    )
    .await;
    let reply = syncing.register(&admin, PASSWORD, "The Admin").await;
    let admin = SignedIn::from_reply(&admin, &reply);
    // Cached on the reading instance, under the catalog's version.
    let dungeons = "/catalog/items?kind=dungeon&perPage=100";
    let before = read_twice(&reading, dungeons, &admin.access_token).await;

    let started = syncing
        .post_json_as("/admin/catalog/sync", &admin.access_token, &Value::Null)
        .await;
    started.expect_status(StatusCode::ACCEPTED);
    let job = format!("/admin/jobs/{}", started.data()["jobId"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = syncing.get(&job, Some(&admin.access_token)).await;
        if status.data()["status"] == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "{}", status.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The job answered `succeeded`: the other instance lists the new catalog.
    let after = reading.get(dungeons, Some(&admin.access_token)).await;
    let (expected, _) = source.data().expected(
        domain::ports::SourceResource::Items(domain::ItemKind::Dungeon),
        "en",
    );
    assert_eq!(after.items().len(), expected.len(), "{}", after.text);
    assert_ne!(after.text, before.text);
}

#[tokio::test]
async fn a_write_made_while_redis_is_down_is_seen_once_it_is_back() {
    // A Redis that keeps its keys through a crash, so the value cached
    // before the outage is still there after it.
    let (Some(database), Some(mut redis)) = (
        TestDatabase::create().await,
        OwnRedis::start_persistent().await,
    ) else {
        return;
    };
    let (one, two) = two_instances(&database, &redis.url(), "outage:", &[]).await;
    let player = Player::new(&one).await;
    let token = player.token();
    assert_eq!(
        account_count(&read_twice(&two, "/accounts", token).await),
        0
    );

    redis.kill();
    // No 5xx while Redis is down: reads and writes go to PostgreSQL.
    let server = servers(&one).await[0];
    player.character(&one, "During", server).await;
    assert_eq!(account_count(&two.get("/accounts", Some(token)).await), 1);

    redis.restart().await.expect("redis restarts");
    for _ in 0..30 {
        let reply = two.get("/accounts", Some(token)).await;
        reply.expect_status(StatusCode::OK);
        assert_eq!(account_count(&reply), 1, "a read after Redis came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(account_count(&one.get("/accounts", Some(token)).await), 1);
}
