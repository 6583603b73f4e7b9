//! The character list at scale: with 1,000 users holding 100,000
//! characters, every list the adapter can issue for one owner — each
//! filter alone, all of them at once, in each order — is planned with an
//! index on `characters`, never a sequential scan of everyone's rows.
//!
//! The statements are the adapter's own (`character_list_sql`), not copies.
//! Its latency at this size next to a tiny database is measured by the
//! `roster` bench, not asserted here.

use adapter_postgres::{StatementSql, character_list_sql};
use domain::{
    AccountId, CharacterFilter, CharacterSort, ClassId, Level, PageRequest, ServerId, UserId,
};
use serde_json::Value;
use tests::pg::TestDatabase;
use tests::roster_seed::seed_sql;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use uuid::Uuid;

const SORTS: [CharacterSort; 6] = [
    CharacterSort::NameAsc,
    CharacterSort::NameDesc,
    CharacterSort::LevelAsc,
    CharacterSort::LevelDesc,
    CharacterSort::CreatedAtAsc,
    CharacterSort::CreatedAtDesc,
];

async fn sql(database: &TestDatabase) -> Client {
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls)
        .await
        .expect("a connection to the test schema");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn level(value: i64) -> Level {
    Level::new("level", value).expect("a valid level")
}

/// Every filter the list takes, alone, then all together, with values that
/// match some of the owner's characters.
fn filters(account: AccountId) -> Vec<(&'static str, CharacterFilter)> {
    let none = CharacterFilter::default();
    vec![
        ("none", none.clone()),
        (
            "search",
            CharacterFilter {
                search: Some("a".to_owned()),
                ..none.clone()
            },
        ),
        (
            "classIds",
            CharacterFilter {
                class_ids: vec![ClassId(3), ClassId(7)],
                ..none.clone()
            },
        ),
        (
            "serverIds",
            CharacterFilter {
                server_ids: vec![ServerId(2)],
                ..none.clone()
            },
        ),
        (
            "accountIds",
            CharacterFilter {
                account_ids: vec![account],
                ..none.clone()
            },
        ),
        (
            "levelMin",
            CharacterFilter {
                level_min: Some(level(150)),
                ..none.clone()
            },
        ),
        (
            "levelMax",
            CharacterFilter {
                level_max: Some(level(20)),
                ..none.clone()
            },
        ),
        (
            "combined",
            CharacterFilter {
                search: Some("a".to_owned()),
                class_ids: vec![ClassId(3), ClassId(7), ClassId(11)],
                server_ids: vec![ServerId(2), ServerId(5)],
                account_ids: vec![account],
                level_min: Some(level(10)),
                level_max: Some(level(190)),
            },
        ),
    ]
}

/// Every node of a JSON plan, depth first.
fn nodes<'a>(plan: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(plan);
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// The plan of `statement`, prepared as the adapter prepares it and
/// executed with its own arguments.
async fn plan(client: &Client, name: &str, statement: &StatementSql) -> Value {
    let explain = format!(
        "EXPLAIN (FORMAT JSON) EXECUTE {name}({})",
        statement.arguments.join(", ")
    );
    let text = client
        .simple_query(&explain)
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN of {name} fails: {e}"))
        .iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("EXPLAIN answers one row");
    let json: Value = serde_json::from_str(&text).expect("EXPLAIN (FORMAT JSON) is JSON");
    json[0]["Plan"].clone()
}

/// What is wrong with the way `plan` reads `characters`, if anything: a
/// sequential scan of it, or no scan of it through an index at all.
fn characters_access(plan: &Value) -> Option<String> {
    let mut all = Vec::new();
    nodes(plan, &mut all);
    let scans: Vec<&str> = all
        .iter()
        .filter(|n| n["Relation Name"] == "characters")
        .filter_map(|n| n["Node Type"].as_str())
        .collect();
    if scans.contains(&"Seq Scan") {
        return Some(format!("a Seq Scan on characters ({scans:?})"));
    }
    let indexed = all.iter().any(|n| {
        n["Node Type"]
            .as_str()
            .is_some_and(|t| t.contains("Index") || t.starts_with("Bitmap"))
            && n["Index Name"]
                .as_str()
                .is_some_and(|i| i.starts_with("characters_"))
    });
    (!indexed).then(|| format!("no index of characters used ({scans:?})"))
}

/// The indexes of `characters` a plan reads, for the test's report.
fn characters_indexes(plan: &Value) -> Vec<&str> {
    let mut all = Vec::new();
    nodes(plan, &mut all);
    let mut names: Vec<&str> = all
        .iter()
        .filter_map(|n| n["Index Name"].as_str())
        .filter(|i| i.starts_with("characters_"))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[tokio::test]
async fn every_character_list_of_one_owner_is_planned_with_an_index_among_100_000_characters() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;
    client
        .batch_execute(&seed_sql(1_000, 100))
        .await
        .expect("the seed loads");
    let seeded: i64 = client
        .query_one("SELECT count(*) FROM characters", &[])
        .await
        .expect("a count")
        .get(0);
    assert_eq!(seeded, 100_000);
    let row = client
        .query_one(
            "SELECT owner_id, id FROM game_accounts ORDER BY owner_id, name LIMIT 1",
            &[],
        )
        .await
        .expect("a seeded account");
    let owner = UserId::from_uuid(row.get::<_, Uuid>(0));
    let account = AccountId::from_uuid(row.get::<_, Uuid>(1));
    let page = PageRequest::parse(Some(2), Some(20)).expect("a valid page");

    let mut statements = Vec::new();
    for (filter_name, filter) in filters(account) {
        for sort in SORTS {
            let (items, count) = character_list_sql(owner, &filter, sort, page);
            statements.push((format!("{filter_name} / {sort:?} / page"), items));
            statements.push((format!("{filter_name} / {sort:?} / count"), count));
        }
    }
    for (i, (label, statement)) in statements.iter().enumerate() {
        client
            .batch_execute(&format!("PREPARE list_{i} AS {}", statement.sql))
            .await
            .unwrap_or_else(|e| panic!("{label} does not prepare: {e}"));
    }

    // The adapter's statements are prepared and cached: the first runs get
    // plans for their values, later ones may get the generic plan. Both
    // must read the owner's rows through an index.
    let mut failures = Vec::new();
    let mut checked = 0;
    for mode in ["force_custom_plan", "force_generic_plan"] {
        client
            .batch_execute(&format!("SET plan_cache_mode = {mode}"))
            .await
            .expect("plan_cache_mode is settable");
        for (i, (label, statement)) in statements.iter().enumerate() {
            let plan = plan(&client, &format!("list_{i}"), statement).await;
            checked += 1;
            if mode == "force_custom_plan" {
                eprintln!("{label}: {}", characters_indexes(&plan).join(", "));
            }
            if let Some(problem) = characters_access(&plan) {
                failures.push(format!("{label} ({mode}): {problem}\n{plan:#}"));
            }
        }
    }

    assert_eq!(
        checked,
        8 * 6 * 2 * 2,
        "every filter, sort, statement and mode"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} list plans read characters without an index:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
