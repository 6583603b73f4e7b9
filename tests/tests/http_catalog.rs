//! The rules of API.md "Catalog", pinned through HTTP: public, cacheable
//! answers with an `ETag` and `If-None-Match`, and cursor-paged items. The
//! oracle is the snapshot that ships with the server, read here from its
//! source file, so the tests know what a fresh server must hold.

use std::collections::BTreeSet;

use reqwest::header::IF_NONE_MATCH;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::app::{Reply, TestApp, send};

const CACHE_CONTROL: &str = "public, max-age=3600, stale-while-revalidate=86400";
const SNAPSHOT: &str = include_str!("../../adapters/catalog/data/snapshot.json");
const KINDS: [&str; 3] = ["quest", "achievement", "dungeon"];

fn snapshot() -> Value {
    serde_json::from_str(SNAPSHOT).expect("the bundled snapshot is JSON")
}

/// The snapshot's items, as the API shows them (`{id, kind, name, level}`),
/// by id.
fn snapshot_items() -> Vec<Value> {
    let mut items = snapshot()["items"]
        .as_array()
        .expect("snapshot items")
        .clone();
    items.sort_by_key(|item| item["id"].as_i64());
    items
}

fn item_ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|item| item["id"].as_i64().expect("an item id"))
        .collect()
}

/// Every item over `pages`, in order.
fn items_over(pages: &[Reply]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page.items().iter().cloned())
        .collect()
}

fn etag(reply: &Reply) -> String {
    reply.header("etag").expect("an ETag").to_owned()
}

async fn get_with_tag(app: &TestApp, path: &str, tag: &str) -> Reply {
    send(app.api(Method::GET, path).header(IF_NONE_MATCH, tag)).await
}

// --- Classes and servers ---------------------------------------------------------

#[tokio::test]
async fn classes_are_the_19_playable_classes_and_need_no_credentials() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.get("/catalog/classes", None).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.body["success"], true);
    let ids: Vec<i64> = reply
        .items()
        .iter()
        .map(|class| class["id"].as_i64().expect("a class id"))
        .collect();
    let expected: Vec<i64> = (1..=18).chain([20]).collect();
    assert_eq!(ids, expected);
    assert_eq!(reply.data(), &snapshot()["classes"]);
}

#[tokio::test]
async fn servers_are_listed_and_need_no_credentials() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app.get("/catalog/servers", None).await;

    reply.expect_status(StatusCode::OK);
    assert!(!reply.items().is_empty(), "{}", reply.text);
    for server in reply.items() {
        assert!(server["id"].is_i64(), "{server}");
        assert!(
            server["name"].as_str().is_some_and(|name| !name.is_empty()),
            "{server}"
        );
    }
    assert_eq!(reply.data(), &snapshot()["servers"]);
}

#[tokio::test]
async fn catalog_answers_carry_an_etag_and_a_public_cache_policy() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for path in [
        "/catalog/classes",
        "/catalog/servers",
        "/catalog/items",
        "/catalog/items?kind=quest&perPage=3",
    ] {
        let reply = app.get(path, None).await;

        reply.expect_status(StatusCode::OK);
        let tag = etag(&reply);
        assert!(
            tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"'),
            "{path}: {tag} is not a strong entity tag"
        );
        assert_eq!(reply.header("cache-control"), Some(CACHE_CONTROL), "{path}");
    }
}

#[tokio::test]
async fn the_etag_is_the_same_for_the_same_content() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for path in ["/catalog/classes", "/catalog/servers", "/catalog/items"] {
        let first = app.get(path, None).await;
        let second = app.get(path, None).await;

        assert_eq!(etag(&first), etag(&second), "{path}");
    }
    let classes = app.get("/catalog/classes", None).await;
    let servers = app.get("/catalog/servers", None).await;
    assert_ne!(etag(&classes), etag(&servers));
}

#[tokio::test]
async fn if_none_match_with_the_current_tag_is_304_with_the_tag_and_no_body() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for path in ["/catalog/classes", "/catalog/servers"] {
        let tag = etag(&app.get(path, None).await);

        let reply = get_with_tag(&app, path, &tag).await;

        reply.expect_status(StatusCode::NOT_MODIFIED);
        assert_eq!(reply.header("etag"), Some(tag.as_str()), "{path}");
        assert_eq!(reply.header("cache-control"), Some(CACHE_CONTROL), "{path}");
        assert!(
            reply.text.is_empty(),
            "{path}: a 304 with a body: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn if_none_match_with_a_list_or_a_weak_tag_matches_too() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let tag = etag(&app.get("/catalog/classes", None).await);

    let listed = get_with_tag(&app, "/catalog/classes", &format!("\"other\", {tag}")).await;
    let weak = get_with_tag(&app, "/catalog/classes", &format!("W/{tag}")).await;

    listed.expect_status(StatusCode::NOT_MODIFIED);
    weak.expect_status(StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn if_none_match_with_another_tag_is_200_with_the_content() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for path in ["/catalog/classes", "/catalog/servers"] {
        let fresh = app.get(path, None).await;

        let reply = get_with_tag(&app, path, "\"not-the-current-tag\"").await;

        reply.expect_status(StatusCode::OK);
        assert_eq!(reply.data(), fresh.data(), "{path}");
        assert_eq!(etag(&reply), etag(&fresh), "{path}");
    }
}

#[tokio::test]
async fn if_none_match_star_is_304() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for path in ["/catalog/classes", "/catalog/servers", "/catalog/items"] {
        let reply = get_with_tag(&app, path, "*").await;

        reply.expect_status(StatusCode::NOT_MODIFIED);
        assert!(
            reply.header("etag").is_some(),
            "{path}: a 304 without its tag"
        );
        assert!(reply.text.is_empty(), "{path}: a 304 with a body");
    }
}

// --- Items -------------------------------------------------------------------------

#[tokio::test]
async fn items_are_paged_by_id_fifty_at_a_time_by_default() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let expected = snapshot_items();

    let reply = app.get("/catalog/items", None).await;

    reply.expect_status(StatusCode::OK);
    assert_eq!(reply.body["pagination"]["perPage"], 50);
    assert!(
        reply.next_cursor().is_some(),
        "{} items, one page?",
        expected.len()
    );
    assert_eq!(reply.items().as_slice(), &expected[..50]);
}

#[tokio::test]
async fn walking_every_page_returns_the_whole_catalog_once() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let pages = app.all_pages("/catalog/items?perPage=100", None).await;

    assert_eq!(items_over(&pages), snapshot_items());
}

#[tokio::test]
async fn the_kind_filter_returns_only_that_kind() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for kind in KINDS {
        let pages = app
            .all_pages(&format!("/catalog/items?kind={kind}&perPage=100"), None)
            .await;

        let expected: Vec<Value> = snapshot_items()
            .into_iter()
            .filter(|item| item["kind"] == kind)
            .collect();
        assert!(!expected.is_empty(), "the snapshot has no {kind}");
        assert_eq!(items_over(&pages), expected, "{kind}");
    }
}

#[tokio::test]
async fn walking_the_dungeons_seven_at_a_time_returns_each_once_and_ends_with_a_null_cursor() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let dungeons: Vec<i64> = item_ids(
        &snapshot_items()
            .into_iter()
            .filter(|item| item["kind"] == "dungeon")
            .collect::<Vec<_>>(),
    );

    let pages = app
        .all_pages("/catalog/items?kind=dungeon&perPage=7", None)
        .await;

    assert_eq!(pages.len(), dungeons.len().div_ceil(7));
    for page in &pages[..pages.len() - 1] {
        assert_eq!(page.items().len(), 7, "{}", page.text);
        assert_eq!(page.body["pagination"]["perPage"], 7);
    }
    let last = pages.last().expect("a last page");
    assert_eq!(last.body["pagination"]["nextCursor"], Value::Null);
    let walked = item_ids(&items_over(&pages));
    let distinct: BTreeSet<i64> = walked.iter().copied().collect();
    assert_eq!(distinct.len(), walked.len(), "a dungeon came twice");
    assert_eq!(walked, dungeons);
}

#[tokio::test]
async fn search_is_a_case_insensitive_part_of_the_name() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for (search, part) in [
        ("kArDoRiM", "kardorim"),
        ("DUNGEON", "dungeon"),
        ("lair", "lair"),
    ] {
        let pages = app
            .all_pages(&format!("/catalog/items?search={search}&perPage=100"), None)
            .await;

        let expected: Vec<Value> = snapshot_items()
            .into_iter()
            .filter(|item| {
                item["name"]
                    .as_str()
                    .is_some_and(|name| name.to_lowercase().contains(part))
            })
            .collect();
        assert!(
            !expected.is_empty(),
            "nothing in the snapshot matches {part}"
        );
        assert_eq!(items_over(&pages), expected, "search={search}");
    }
}

#[tokio::test]
async fn search_and_kind_combine() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    let reply = app
        .get("/catalog/items?kind=achievement&search=KARDORIM", None)
        .await;

    reply.expect_status(StatusCode::OK);
    let expected: Vec<Value> = snapshot_items()
        .into_iter()
        .filter(|item| {
            item["kind"] == "achievement"
                && item["name"]
                    .as_str()
                    .is_some_and(|name| name.to_lowercase().contains("kardorim"))
        })
        .collect();
    assert_eq!(expected.len(), 1, "the snapshot changed: pick another name");
    assert_eq!(reply.items(), &expected);
}

#[tokio::test]
async fn search_ignores_the_case_of_non_ascii_letters() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    // "Tanukouï": the upper-case form of ï is Ï.
    let upper = app.get("/catalog/items?search=TANUKOU%C3%8F", None).await;
    let lower = app.get("/catalog/items?search=tanukou%C3%AF", None).await;

    upper.expect_status(StatusCode::OK);
    lower.expect_status(StatusCode::OK);
    assert!(!lower.items().is_empty(), "the snapshot has no Tanukouï");
    assert_eq!(upper.items(), lower.items());
}

#[tokio::test]
async fn search_takes_wildcard_characters_literally() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for search in ["%25", "_", "%5C"] {
        let reply = app
            .get(&format!("/catalog/items?search={search}"), None)
            .await;

        reply.expect_status(StatusCode::OK);
        assert!(reply.items().is_empty(), "search={search}: {}", reply.text);
    }
}

#[tokio::test]
async fn an_unknown_kind_is_refused_naming_kind() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for kind in ["raid", "Dungeon"] {
        let reply = app.get(&format!("/catalog/items?kind={kind}"), None).await;

        reply.expect_invalid_field("kind");
    }
}

#[tokio::test]
async fn per_page_outside_1_to_100_is_refused() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for per_page in ["0", "101", "-1", "lots"] {
        let reply = app
            .get(&format!("/catalog/items?perPage={per_page}"), None)
            .await;

        reply.expect_invalid_field("perPage");
    }
}

#[tokio::test]
async fn a_cursor_the_api_never_gave_out_is_refused_naming_cursor() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };

    for cursor in ["not-a-cursor!", "AAAA", "%00"] {
        let reply = app
            .get(&format!("/catalog/items?cursor={cursor}"), None)
            .await;

        reply.expect_invalid_field("cursor");
    }
}

#[tokio::test]
async fn an_items_page_is_304_for_its_own_tag_and_200_for_another_pages_tag() {
    let Some(app) = TestApp::spawn().await else {
        return;
    };
    let first = app.get("/catalog/items?kind=quest&perPage=5", None).await;
    let cursor = first.next_cursor().expect("a second page").to_owned();
    let second_path = format!("/catalog/items?kind=quest&perPage=5&cursor={cursor}");
    let second = app.get(&second_path, None).await;
    second.expect_status(StatusCode::OK);

    let same = get_with_tag(&app, &second_path, &etag(&second)).await;
    let other = get_with_tag(&app, &second_path, &etag(&first)).await;

    same.expect_status(StatusCode::NOT_MODIFIED);
    assert_eq!(same.header("etag"), Some(etag(&second).as_str()));
    assert!(same.text.is_empty(), "a 304 with a body: {}", same.text);
    other.expect_status(StatusCode::OK);
    assert_eq!(other.items(), second.items());
    assert_ne!(etag(&first), etag(&second));
}
