//! The DofusDB adapter against the fake DofusDB service: paging, languages,
//! skipped rows, levels, politeness (pace, retries, `Retry-After`,
//! `User-Agent`) and distrust (wrong answers, huge bodies, no server).

use std::time::{Duration, Instant};

use adapter_dofusdb::{DofusDbConfig, DofusDbSource, Language, default_user_agent};
use domain::catalog::ItemKind;
use domain::ports::{CatalogSource, SourceEntry, SourceError, SourcePage, SourceResource};
use serde_json::{Value, json};
use tests::dofusdb::{FakeCounts, FakeData, FakeDofusDb, FakeRow, Fault};

const QUESTS: SourceResource = SourceResource::Items(ItemKind::Quest);
const ACHIEVEMENTS: SourceResource = SourceResource::Items(ItemKind::Achievement);
const DUNGEONS: SourceResource = SourceResource::Items(ItemKind::Dungeon);

/// Settings for tests: no pace to speak of, short waits between attempts.
fn config(fake: &FakeDofusDb) -> DofusDbConfig {
    let mut config = DofusDbConfig::new(fake.url());
    config.requests_per_second = 1000;
    config.backoff_base = Duration::from_millis(10);
    config.max_retry_wait = Duration::from_secs(3);
    config.connect_timeout = Duration::from_secs(2);
    config.timeout = Duration::from_secs(5);
    config
}

fn source(config: DofusDbConfig) -> DofusDbSource {
    DofusDbSource::new(config).expect("the test configuration is valid")
}

/// Every page of `resource`, following `next` from 0.
async fn read_all(
    source: &DofusDbSource,
    resource: SourceResource,
) -> (Vec<SourceEntry>, u64, Vec<SourcePage>) {
    let mut entries = Vec::new();
    let mut skipped = 0;
    let mut pages = Vec::new();
    let mut skip = Some(0);
    while let Some(at) = skip {
        let page = source.page(resource, at).await.expect("the page reads");
        entries.extend(page.entries.iter().cloned());
        skipped += page.skipped;
        skip = page.next;
        pages.push(page);
        assert!(pages.len() < 1000, "paging does not end");
    }
    (entries, skipped, pages)
}

fn entry(source_id: i64, name: &str, level: i16) -> SourceEntry {
    SourceEntry {
        source_id,
        name: name.to_owned(),
        level,
    }
}

#[tokio::test]
async fn every_row_of_every_resource_is_read_once_paging_by_the_echoed_limit() {
    let data = FakeData::generated(FakeCounts::small()).with_limit_cap(20);
    let fake = FakeDofusDb::start(data.clone()).await;
    let source = source(config(&fake));

    for resource in SourceResource::ALL {
        let (entries, skipped, pages) = read_all(&source, resource).await;

        let (expected, expected_skipped) = data.expected(resource, "en");
        assert_eq!(entries, expected, "{resource}");
        assert_eq!(skipped, expected_skipped, "{resource}");
        let rows = data.rows(resource).len() as u64;
        assert_eq!(entries.len() as u64 + skipped, rows, "{resource}");
        assert!(pages.iter().all(|p| p.total == rows), "{resource}");

        // Asked 50, answered 20: the pages start every 20 rows, each once.
        let skips: Vec<u64> = fake
            .requests_for(resource)
            .iter()
            .map(|r| r.skip.expect("a $skip"))
            .collect();
        let expected_skips: Vec<u64> = (0..rows.div_ceil(20)).map(|p| p * 20).collect();
        assert_eq!(skips, expected_skips, "{resource}");
        for request in fake.requests_for(resource) {
            assert_eq!(request.path, format!("/{resource}"));
            assert_eq!(
                request.query,
                format!("$limit=50&$skip={}&lang=en", request.skip.unwrap_or(0))
            );
        }
    }
    // The generated items skip rows 25 and 45 of every 50.
    let (_, quests_skipped, _) = read_all(&source, QUESTS).await;
    assert_eq!(quests_skipped, 5, "130 quests: rows 25, 45, 75, 95 and 125");
}

#[tokio::test]
async fn item_ids_collide_across_kinds_and_each_kind_keeps_its_own() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let source = source(config(&fake));

    let quest = &source.page(QUESTS, 0).await.unwrap().entries[0];
    let achievement = &source.page(ACHIEVEMENTS, 0).await.unwrap().entries[0];
    let dungeon = &source.page(DUNGEONS, 0).await.unwrap().entries[0];

    assert_eq!(quest, &entry(1, "Quest 1", 7));
    assert_eq!(achievement, &entry(1, "Achievement 1", 7));
    assert_eq!(dungeon, &entry(1, "Dungeon 1", 7));
}

#[tokio::test]
async fn names_come_in_the_chosen_language_then_english_then_french() {
    let rows = vec![
        FakeRow::translated(1, "Everywhere", Some(10)),
        FakeRow::translated(2, "Only English", Some(10)).only(&["en"]),
        FakeRow::with_names(Some(3), &[("fr", "Seulement français")], None),
        FakeRow::with_names(Some(4), &[("fr", "   "), ("en", "Blank French")], None),
        FakeRow::with_names(Some(5), &[("de", "Nur Deutsch")], None),
    ];
    let data = FakeData::empty().with_rows(QUESTS, rows);
    let fake = FakeDofusDb::start(data).await;

    let mut french = config(&fake);
    french.language = Language::Fr;
    let page = source(french).page(QUESTS, 0).await.unwrap();
    assert_eq!(
        page.entries,
        vec![
            entry(1, "Everywhere [fr]", 10),
            entry(2, "Only English", 10),
            entry(3, "Seulement français", 1),
            entry(4, "Blank French", 1),
        ]
    );
    assert_eq!(page.skipped, 1, "German only: no name in fr, en or fr");
    assert_eq!(fake.requests()[0].lang.as_deref(), Some("fr"));

    let page = source(config(&fake)).page(QUESTS, 0).await.unwrap();
    let names: Vec<&str> = page.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Everywhere",
            "Only English",
            "Seulement français",
            "Blank French"
        ]
    );
}

#[tokio::test]
async fn rows_without_id_or_any_name_are_skipped_and_counted() {
    let rows = vec![
        FakeRow::translated(1, "Kept", None),
        FakeRow::with_names(None, &[("en", "No id")], None),
        FakeRow::with_names(Some(3), &[], None),
        FakeRow::with_names(Some(4), &[("en", " "), ("fr", "")], None),
        FakeRow::translated(5, "Kept too", None),
    ];
    let fake = FakeDofusDb::start(FakeData::empty().with_rows(SourceResource::Servers, rows)).await;

    let page = source(config(&fake))
        .page(SourceResource::Servers, 0)
        .await
        .unwrap();

    assert_eq!(
        page.entries,
        vec![entry(1, "Kept", 1), entry(5, "Kept too", 1)]
    );
    assert_eq!((page.skipped, page.total, page.next), (3, 5, None));
}

#[tokio::test]
async fn levels_come_from_each_kinds_field_clamped_and_missing_is_one() {
    let levels: [Option<Value>; 6] = [
        Some(json!(0)),
        Some(json!(250)),
        Some(json!(-3)),
        None,
        Some(json!("60")),
        Some(json!(77)),
    ];
    let rows = |label: &str| -> Vec<FakeRow> {
        levels
            .iter()
            .enumerate()
            .map(|(i, level)| {
                let mut row = FakeRow::translated(i as i64 + 1, &format!("{label} {i}"), None);
                row.level = level.clone();
                row
            })
            .collect()
    };
    let data = FakeData::empty()
        .with_rows(QUESTS, rows("q"))
        .with_rows(ACHIEVEMENTS, rows("a"))
        .with_rows(DUNGEONS, rows("d"))
        .with_rows(SourceResource::Classes, rows("c"));
    let fake = FakeDofusDb::start(data).await;
    let source = source(config(&fake));

    for resource in [QUESTS, ACHIEVEMENTS, DUNGEONS] {
        let page = source.page(resource, 0).await.unwrap();
        let read: Vec<i16> = page.entries.iter().map(|e| e.level).collect();
        assert_eq!(read, [1, 200, 1, 1, 1, 77], "{resource}");
    }
    // The fake serves no level field on classes: their level is always 1.
    let page = source.page(SourceResource::Classes, 0).await.unwrap();
    assert!(page.entries.iter().all(|e| e.level == 1));
    assert_eq!(page.entries.len(), 6);
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_with_no_next() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;

    let page = source(config(&fake)).page(DUNGEONS, 500).await.unwrap();

    assert_eq!(
        page,
        SourcePage {
            entries: vec![],
            skipped: 0,
            total: 41,
            next: None
        }
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults().once(
        QUESTS,
        20,
        Fault::TooManyRequests {
            retry_after: "1".to_owned(),
        },
    );
    let source = source(config(&fake));

    let started = Instant::now();
    let page = source.page(QUESTS, 20).await.unwrap();
    let took = started.elapsed();

    assert_eq!(page.next, Some(40));
    assert!(took >= Duration::from_secs(1), "waited only {took:?}");
    let requests = fake.requests_for(QUESTS);
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_waits_only_the_cap() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults().once(
        QUESTS,
        0,
        Fault::TooManyRequests {
            retry_after: "3600".to_owned(),
        },
    );
    let mut config = config(&fake);
    config.max_retry_wait = Duration::from_millis(200);

    let started = Instant::now();
    let page = source(config).page(QUESTS, 0).await.unwrap();

    assert_eq!(page.next, Some(20));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(30),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_then_the_page_comes() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults().times(ACHIEVEMENTS, 40, 2, Fault::Status(500));

    let page = source(config(&fake)).page(ACHIEVEMENTS, 40).await.unwrap();

    assert_eq!((page.total, page.next), (75, Some(60)));
    assert_eq!(fake.requests_for(ACHIEVEMENTS).len(), 3);
}

#[tokio::test]
async fn a_page_that_keeps_failing_is_unavailable_after_the_attempts() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults().always(QUESTS, 60, Fault::Status(503));
    let mut config = config(&fake);
    config.max_attempts = 3;

    let err = source(config).page(QUESTS, 60).await.unwrap_err();

    assert_eq!(
        err,
        SourceError::Unavailable(
            "quests at skip 60: HTTP 503 Service Unavailable (after 3 attempts)".to_owned()
        )
    );
    assert_eq!(fake.requests_for(QUESTS).len(), 3);
}

#[tokio::test]
async fn html_instead_of_json_is_invalid_and_names_the_page() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults().once(QUESTS, 100, Fault::Html);

    let err = source(config(&fake)).page(QUESTS, 100).await.unwrap_err();

    assert_eq!(
        err,
        SourceError::Invalid("quests at skip 100: expected JSON, got text/html".to_owned())
    );
    assert_eq!(fake.requests().len(), 1, "an invalid answer is not retried");
}

#[tokio::test]
async fn a_wrong_envelope_or_a_client_error_is_invalid_without_retry() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let source = source(config(&fake));
    let raw = |body: &str| Fault::Raw {
        status: 200,
        content_type: "application/json".to_owned(),
        body: body.to_owned(),
    };
    let cases = [
        (
            raw(r#"{"limit": 50, "skip": 0, "data": []}"#),
            "servers at skip 0: the answer has no `total`",
        ),
        (
            raw(r#"{"total": 3, "limit": 50, "skip": 0}"#),
            "servers at skip 0: the answer has no `data`",
        ),
        (
            raw(r#"{"total": 3, "data": {"id": 1}}"#),
            "servers at skip 0: `data` is an object, not an array",
        ),
        (
            raw(r#"{"total": 3.5, "data": []}"#),
            "servers at skip 0: `total` is not a non-negative integer: 3.5",
        ),
        (
            raw(r#"{"total": 30, "skip": 20, "data": []}"#),
            "servers at skip 0: the answer is for skip 20",
        ),
        (Fault::Status(404), "servers at skip 0: HTTP 404 Not Found"),
        (
            Fault::Status(401),
            "servers at skip 0: HTTP 401 Unauthorized",
        ),
    ];
    for (fault, message) in cases {
        fake.clear_requests();
        fake.faults().once(SourceResource::Servers, 0, fault);

        let err = source.page(SourceResource::Servers, 0).await.unwrap_err();

        assert_eq!(err, SourceError::Invalid(message.to_owned()));
        assert_eq!(fake.requests().len(), 1, "{message}: not retried");
    }
}

#[tokio::test]
async fn a_request_timeout_status_is_retried() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults()
        .once(SourceResource::Classes, 0, Fault::Status(408));

    let page = source(config(&fake))
        .page(SourceResource::Classes, 0)
        .await
        .unwrap();

    assert_eq!(page.entries.len(), 19);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_slow_page_times_out_and_is_fetched_again() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults()
        .once(DUNGEONS, 0, Fault::Delay(Duration::from_secs(3)));
    let mut config = config(&fake);
    config.timeout = Duration::from_millis(300);

    let started = Instant::now();
    let page = source(config).page(DUNGEONS, 0).await.unwrap();

    assert_eq!(page.next, Some(20));
    assert_eq!(fake.requests_for(DUNGEONS).len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn requests_keep_to_the_rate_even_when_concurrent() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let mut config = config(&fake);
    config.requests_per_second = 10;
    let source = source(config);

    let started = Instant::now();
    let pages =
        futures::future::join_all((0..20).map(|_| source.page(SourceResource::Classes, 0))).await;
    let took = started.elapsed();

    assert!(
        pages
            .iter()
            .all(|p| p.as_ref().is_ok_and(|p| p.entries.len() == 19))
    );
    assert_eq!(fake.requests().len(), 20);
    // 20 requests 100 ms apart: the last leaves 1.9 s after the first.
    assert!(took >= Duration::from_millis(1900), "took only {took:?}");
}

#[tokio::test]
async fn every_request_names_roster_in_its_user_agent() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let source = source(config(&fake));

    source.page(SourceResource::Servers, 0).await.unwrap();
    source.page(SourceResource::Classes, 0).await.unwrap();

    let expected = format!("Roster/{} (catalog sync)", env!("CARGO_PKG_VERSION"));
    assert_eq!(default_user_agent(), expected);
    let agents: Vec<Option<String>> = fake.requests().into_iter().map(|r| r.user_agent).collect();
    assert_eq!(agents, vec![Some(expected.clone()), Some(expected)]);
}

#[tokio::test]
async fn a_body_larger_than_the_cap_is_refused_while_streaming() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    // A valid page padded to 9 MiB, sent without a Content-Length.
    fake.faults().once(
        QUESTS,
        0,
        Fault::Oversized {
            bytes: 9 * 1024 * 1024,
        },
    );

    let err = source(config(&fake)).page(QUESTS, 0).await.unwrap_err();

    assert_eq!(
        err,
        SourceError::Invalid(
            "quests at skip 0: the answer is larger than 8388608 bytes".to_owned()
        )
    );
}

#[tokio::test]
async fn a_padded_body_under_the_cap_is_a_page() {
    // The same fault under the cap reads as a page: the refusal above is the cap's.
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    fake.faults()
        .once(QUESTS, 0, Fault::Oversized { bytes: 200 * 1024 });

    let page = source(config(&fake)).page(QUESTS, 0).await.unwrap();

    assert_eq!((page.entries.len(), page.total, page.next), (0, 0, None));
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let mut config = config(&fake);
    config.max_body_bytes = 2048;

    let err = source(config).page(QUESTS, 0).await.unwrap_err();

    assert_eq!(
        err,
        SourceError::Invalid("quests at skip 0: the answer is larger than 2048 bytes".to_owned())
    );
}

#[tokio::test]
async fn no_server_is_unavailable_quickly() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = DofusDbConfig::new(format!("http://127.0.0.1:{port}"));
    config.max_attempts = 2;
    config.backoff_base = Duration::from_millis(10);

    let started = Instant::now();
    let err = source(config)
        .page(SourceResource::Classes, 0)
        .await
        .unwrap_err();

    let SourceError::Unavailable(message) = err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(
        message.starts_with("breeds at skip 0: cannot connect"),
        "{message}"
    );
    assert!(message.ends_with("(after 2 attempts)"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

// The fake itself: what the lead's sync tests rely on.

#[tokio::test]
async fn the_fake_counts_with_limit_zero_and_caps_the_limit() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let client = reqwest::Client::new();
    let get = |query: &str| {
        let url = format!("{}/quests?{query}", fake.url());
        let client = client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };

    assert_eq!(
        get("$limit=0").await,
        json!({"total": 130, "limit": 0, "skip": 0, "data": []})
    );
    let page = get("$limit=50&$skip=120").await;
    assert_eq!(
        (page["limit"].clone(), page["data"].as_array().map(Vec::len)),
        (json!(20), Some(10))
    );
    assert!(page["data"][0]["_id"].is_string());
    assert!(page["data"][0]["name"]["id"].is_string());

    let missing = client
        .get(format!("{}/monsters", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_fake_serves_changed_data_from_the_next_request() {
    let fake = FakeDofusDb::start(FakeData::generated(FakeCounts::small())).await;
    let source = source(config(&fake));
    let before = source.page(DUNGEONS, 0).await.unwrap();

    fake.update_data(|data| {
        assert!(data.rename(DUNGEONS, 1, "en", "Renamed Dungeon"));
        assert!(data.remove(DUNGEONS, 2).is_some());
        data.push(DUNGEONS, FakeRow::translated(500, "New Dungeon", Some(90)));
    });
    let after = read_all(&source, DUNGEONS).await.0;

    assert_eq!(before.entries[0], entry(1, "Dungeon 1", 7));
    assert_eq!(after[0], entry(1, "Renamed Dungeon", 7));
    assert!(after.iter().all(|e| e.source_id != 2));
    assert_eq!(after.last(), Some(&entry(500, "New Dungeon", 90)));
    assert_eq!(fake.data().rows(DUNGEONS).len(), 41);
}
