//! How long `CharacterRepository::list` takes for one owner on PostgreSQL
//! when the database holds 100,000 characters (1,000 users × 100) next to
//! one that holds only that owner's 100: the same call, through the
//! adapter, in alternating rounds (this machine is shared and noisy, so
//! the ratio says more than the absolute figures). With the indexes of the
//! roster migration the ratio stays near 1: a list reads one owner's rows,
//! however many others there are.
//!
//! Run with `cargo bench -p tests --bench roster` (PostgreSQL from
//! `TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`);
//! `--profile dev` reuses the test build instead of a release one (the
//! time is nearly all PostgreSQL's and the round trips).

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::time::{Duration, Instant};

use adapter_postgres::PgStorage;
use domain::ports::Repositories;
use domain::{CharacterFilter, CharacterSort, Level, PageRequest, UserId};
use tests::pg::TestDatabase;
use tests::roster_seed::seed_sql;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Calls per round and database, and rounds.
const CALLS: usize = 200;
const ROUNDS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

/// A seeded schema, its storage, and the first seeded user.
struct Seeded {
    storage: PgStorage,
    owner: UserId,
    _database: TestDatabase,
}

async fn seeded(users: i64) -> Option<Seeded> {
    let database = TestDatabase::create().await?;
    let storage = database.storage().await;
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls)
        .await
        .expect("a connection to the test schema");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
        .batch_execute(&seed_sql(users, 100))
        .await
        .expect("the seed loads");
    let owner: Uuid = client
        .query_one("SELECT id FROM users ORDER BY email LIMIT 1", &[])
        .await
        .expect("a seeded user")
        .get(0);
    Some(Seeded {
        storage,
        owner: UserId::from_uuid(owner),
        _database: database,
    })
}

/// The lists a user's pages issue most: the first page by name, and a
/// filtered one by level.
fn lists() -> Vec<(&'static str, CharacterFilter, CharacterSort)> {
    vec![
        (
            "name, no filter",
            CharacterFilter::default(),
            CharacterSort::NameAsc,
        ),
        (
            "-level, search + levelMin",
            CharacterFilter {
                search: Some("a".to_owned()),
                level_min: Some(Level::new("level", 50).expect("a level")),
                ..CharacterFilter::default()
            },
            CharacterSort::LevelDesc,
        ),
    ]
}

async fn time_calls(
    seeded: &Seeded,
    filter: &CharacterFilter,
    sort: CharacterSort,
    samples: &mut Vec<Duration>,
) {
    let page = PageRequest::default();
    for _ in 0..CALLS {
        let started = Instant::now();
        let listed = seeded
            .storage
            .characters()
            .list(seeded.owner, filter, sort, page)
            .await
            .expect("the list");
        samples.push(started.elapsed());
        assert!(!listed.items.is_empty(), "the owner has characters");
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn run() {
    let Some(small) = seeded(1).await else {
        return;
    };
    let Some(large) = seeded(1_000).await else {
        return;
    };
    for (name, filter, sort) in lists() {
        // Warm up both: prepared statements cached, pages in memory.
        let (mut small_samples, mut large_samples) = (Vec::new(), Vec::new());
        time_calls(&small, &filter, sort, &mut Vec::new()).await;
        time_calls(&large, &filter, sort, &mut Vec::new()).await;
        for _ in 0..ROUNDS {
            time_calls(&small, &filter, sort, &mut small_samples).await;
            time_calls(&large, &filter, sort, &mut large_samples).await;
        }
        let (at_100, at_100k) = (median(&mut small_samples), median(&mut large_samples));
        println!(
            "characters().list ({name}), one owner, page of 20: median {:.3} ms at 100 characters, \
             {:.3} ms at 100,000 | ratio {:.2}x (n = {} each)",
            at_100.as_secs_f64() * 1e3,
            at_100k.as_secs_f64() * 1e3,
            at_100k.as_secs_f64() / at_100.as_secs_f64(),
            small_samples.len(),
        );
    }
}
