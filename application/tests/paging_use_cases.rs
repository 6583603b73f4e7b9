//! Keyset paging as the use cases hand it out: the audit trail and the
//! catalog's items, walked page by page. A page one short of full, exactly
//! full and one over, and the cursor of each page leading to the next, so
//! that the whole comes back once and in order; the catalog through its
//! cache as well, where two searches must not share a value.

mod support;

use std::sync::Arc;

use adapter_memory::InProcessCache;
use application::audit::AuditLog;
use application::cache::ReadCache;
use application::catalog::CatalogService;
use domain::ports::Repositories;
use domain::{AuditFilter, CatalogItem, ItemKind};
use support::Harness;

/// Every page of `user`'s own trail, `per_page` at a time: the sizes of
/// the pages and the resources they name, newest first.
async fn walk_audit(
    h: &Harness,
    user: domain::UserId,
    per_page: usize,
) -> (Vec<usize>, Vec<String>) {
    let log = AuditLog::new(h.storage.clone());
    let (mut sizes, mut resources, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        // A filter naming someone else is overruled: the trail is the caller's.
        let filter = AuditFilter {
            actor_id: Some(h.user()),
            ..AuditFilter::default()
        };
        let page = log
            .own(user, filter, cursor.as_deref(), per_page)
            .await
            .expect("a page");
        sizes.push(page.entries.len());
        assert!(page.entries.iter().all(|e| e.actor_id == Some(user)));
        resources.extend(page.entries.into_iter().map(|e| e.resource_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (sizes, resources),
        }
    }
}

#[tokio::test]
async fn the_audit_trail_comes_back_whole_and_once_at_any_page_size() {
    let h = Harness::new().await;
    let (user, other) = (h.user(), h.user());
    let mut accounts = Vec::new();
    for n in 0..5 {
        accounts.push(h.account(user, &format!("Main {n}")).await.to_string());
    }
    h.account(other, "Theirs").await;
    accounts.reverse();

    for (per_page, sizes) in [
        (1, vec![1, 1, 1, 1, 1]),
        (2, vec![2, 2, 1]),
        (4, vec![4, 1]),
        (5, vec![5]),
        (6, vec![5]),
    ] {
        let (seen, resources) = walk_audit(&h, user, per_page).await;
        assert_eq!(seen, sizes, "{per_page} a page");
        assert_eq!(resources, accounts, "{per_page} a page");
    }
}

/// Every page of `kind`'s items, `per_page` at a time, through `catalog`.
async fn walk_items(
    catalog: &CatalogService,
    kind: ItemKind,
    per_page: usize,
) -> (Vec<usize>, Vec<CatalogItem>) {
    let (mut sizes, mut items, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let page = catalog
            .items(Some(kind), None, cursor.as_deref(), per_page)
            .await
            .expect("a page");
        sizes.push(page.items.len());
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (sizes, items),
        }
    }
}

#[tokio::test]
async fn the_catalog_items_come_back_whole_and_once_with_the_cache_off_or_on() {
    let h = Harness::new().await;
    let dungeons = h.items(ItemKind::Dungeon).await;
    let count = dungeons.len();
    assert!(count > 3, "the bundled catalog has dungeons");
    let off = CatalogService::new(h.storage.clone());
    let on = CatalogService::new(h.storage.clone())
        .with_cache(ReadCache::new(Arc::new(InProcessCache::default())));

    for catalog in [&off, &on] {
        for per_page in [count - 1, count, count + 1] {
            let (sizes, items) = walk_items(catalog, ItemKind::Dungeon, per_page).await;
            let expected = if per_page < count {
                vec![count - 1, 1]
            } else {
                vec![count]
            };
            assert_eq!(sizes, expected, "{per_page} a page");
            assert_eq!(items, dungeons, "{per_page} a page");
        }
    }
}

#[tokio::test]
async fn two_searches_through_the_cache_each_get_their_own_items() {
    let h = Harness::new().await;
    let off = CatalogService::new(h.storage.clone());
    let on = CatalogService::new(h.storage.clone())
        .with_cache(ReadCache::new(Arc::new(InProcessCache::default())));
    let everything = h
        .storage
        .catalog()
        .items(None, None, None, 1_000)
        .await
        .unwrap();
    let mut answers = Vec::new();
    for search in [None, Some("dungeon"), Some("crypt")] {
        let cached = on.items(None, search, None, 100).await.unwrap().items;
        let direct = off.items(None, search, None, 100).await.unwrap().items;
        assert_eq!(cached, direct, "{search:?}");
        answers.push(cached.len());
    }
    assert_eq!(answers[0], everything.len().min(100));
    assert!(answers[1] > answers[2] && answers[2] > 0, "{answers:?}");
}
