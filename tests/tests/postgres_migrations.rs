//! The PostgreSQL schema as an operator meets it: migrations applied once
//! and recorded, safe when several instances start at once, refused when a
//! file changed or when they are pending and automatic migration is off;
//! the domain's rules held by constraints; every repository lookup served
//! by an index. Each test runs on a fresh schema of its own.

use adapter_postgres::{MIGRATIONS, MigrationError, PgStorage};
use futures::future::join_all;
use tests::pg::TestDatabase;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A plain connection on the test's schema, for what the adapter never
/// does: reading its bookkeeping, writing rows by hand, asking for plans.
async fn sql(database: &TestDatabase) -> Client {
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls)
        .await
        .expect("a connection to the test schema");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A pool of two on the test's schema, nothing applied yet.
fn pool(database: &TestDatabase) -> PgStorage {
    PgStorage::connect(&database.url, 2).expect("a pool")
}

/// `(version, name, checksum)` of every recorded migration, in order.
async fn recorded(client: &Client) -> Vec<(i64, String, String)> {
    client
        .query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations is readable")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// Whether `table` exists in the test's schema.
async fn table_exists(client: &Client, table: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .expect("to_regclass answers")
        .get(0)
}

/// The SQLSTATE of a statement that must fail.
async fn refusal(client: &Client, statement: &str) -> SqlState {
    let error = client
        .batch_execute(statement)
        .await
        .expect_err("the schema refuses the statement");
    error
        .code()
        .cloned()
        .unwrap_or_else(|| panic!("not a database refusal: {error}"))
}

const USER_ID: &str = "0190a000-0000-7000-8000-000000000001";

/// A valid `users` row with `email` and `role`.
fn insert_user(id: &str, email: &str, role: &str) -> String {
    format!(
        "INSERT INTO users (id, email, display_name, role, password_hash, created_at, updated_at)
         VALUES ('{id}', '{email}', 'Ada', '{role}', '$argon2id$v=19$placeholder', now(), now())"
    )
}

/// A valid, live `sessions` row of `user_id`.
fn insert_session(user_id: &str) -> String {
    format!(
        "INSERT INTO sessions (id, user_id, family_id, refresh_token_hash, created_at,
                               last_used_at, expires_at, family_expires_at)
         VALUES (gen_random_uuid(), '{user_id}', gen_random_uuid(),
                 sha256('a refresh token'::bytea), now(), now(),
                 now() + interval '7 days', now() + interval '30 days')"
    )
}

// --- Applying migrations -------------------------------------------------------

#[tokio::test]
async fn the_migrator_applies_every_migration_once_and_records_its_checksum() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let migrator = pool(&database).migrator();
    let client = sql(&database).await;

    let applied = migrator.run().await.expect("the migrations apply");

    let every: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
    assert_eq!(applied, every);
    let rows = recorded(&client).await;
    assert_eq!(rows.len(), MIGRATIONS.len());
    for (migration, (version, name, checksum)) in MIGRATIONS.iter().zip(&rows) {
        assert_eq!(*version, migration.version);
        assert_eq!(name, migration.name);
        // Computed by the database, so the test does not share the
        // adapter's code for it.
        let expected: String = client
            .query_one(
                "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')",
                &[&migration.sql],
            )
            .await
            .expect("sha256 answers")
            .get(0);
        assert_eq!(*checksum, expected, "checksum of {name}");
    }
    assert!(table_exists(&client, "users").await);
    assert!(table_exists(&client, "sessions").await);
}

#[tokio::test]
async fn running_the_migrator_again_applies_nothing() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let migrator = pool(&database).migrator();
    migrator.run().await.expect("the first run applies");
    let client = sql(&database).await;
    let before = recorded(&client).await;

    let applied = migrator.run().await.expect("the second run succeeds");

    assert!(applied.is_empty(), "applied again: {applied:?}");
    assert_eq!(recorded(&client).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrators_started_at_once_apply_each_migration_exactly_once() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    // Four instances starting together, each with a pool of its own.
    let migrators: Vec<_> = (0..4).map(|_| pool(&database).migrator()).collect();

    let results = join_all(migrators.iter().map(|m| m.run())).await;

    let mut applied: Vec<&str> = Vec::new();
    for result in results {
        applied.extend(result.expect("every migrator succeeds"));
    }
    applied.sort_unstable();
    let mut every: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
    every.sort_unstable();
    assert_eq!(applied, every, "each migration applied by exactly one");
    let client = sql(&database).await;
    let versions: Vec<i64> = recorded(&client).await.iter().map(|r| r.0).collect();
    let expected: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, expected, "one row per version");
    assert!(table_exists(&client, "users").await);
    assert!(table_exists(&client, "sessions").await);
}

#[tokio::test]
async fn an_applied_migration_that_changed_is_refused_by_name() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let migrator = pool(&database).migrator();
    migrator.run().await.expect("the migrations apply");
    let first = &MIGRATIONS[0];
    // As if the file had been edited after it was applied: the record and
    // the file no longer agree.
    sql(&database)
        .await
        .execute(
            "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
            &[&"0".repeat(64), &first.version],
        )
        .await
        .expect("the record is changed");

    let run = migrator.run().await;
    let check = migrator.prepare(false).await;

    for result in [run.map(|_| ()), check] {
        match result {
            Err(MigrationError::Changed { name, recorded, .. }) => {
                assert_eq!(name, first.name);
                assert_eq!(recorded, "0".repeat(64));
            }
            other => panic!("expected Changed naming {}, got {other:?}", first.name),
        }
    }
}

#[tokio::test]
async fn with_automatic_migration_off_pending_migrations_are_refused_until_run() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let migrator = pool(&database).migrator();

    let before = migrator.prepare(false).await;
    migrator.run().await.expect("the migrations apply");
    let after = migrator.prepare(false).await;

    match before {
        Err(MigrationError::Pending { count }) => assert_eq!(count, MIGRATIONS.len()),
        other => panic!("expected Pending on a fresh schema, got {other:?}"),
    }
    after.expect("nothing pending once run");
}

// --- The rules the schema holds ---------------------------------------------------

#[tokio::test]
async fn an_email_that_is_not_lower_case_is_refused_by_the_schema() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;

    let code = refusal(&client, &insert_user(USER_ID, "Ada@Example.com", "user")).await;

    assert_eq!(code, SqlState::CHECK_VIOLATION);
}

#[tokio::test]
async fn a_role_other_than_user_or_admin_is_refused_by_the_schema() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;

    let code = refusal(&client, &insert_user(USER_ID, "ada@example.com", "root")).await;

    assert_eq!(code, SqlState::CHECK_VIOLATION);
}

#[tokio::test]
async fn a_session_of_a_user_that_does_not_exist_is_refused_by_the_foreign_key() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;

    let code = refusal(&client, &insert_session(USER_ID)).await;

    assert_eq!(code, SqlState::FOREIGN_KEY_VIOLATION);
}

#[tokio::test]
async fn a_revoked_session_without_a_reason_is_refused_by_the_schema() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;
    client
        .batch_execute(&insert_user(USER_ID, "ada@example.com", "user"))
        .await
        .expect("a valid user is accepted");
    client
        .batch_execute(&insert_session(USER_ID))
        .await
        .expect("a valid session is accepted");

    let code = refusal(&client, "UPDATE sessions SET revoked_at = now()").await;

    assert_eq!(code, SqlState::CHECK_VIOLATION);
}

#[tokio::test]
async fn deleting_a_user_deletes_its_sessions() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;
    client
        .batch_execute(&insert_user(USER_ID, "ada@example.com", "user"))
        .await
        .expect("a valid user is accepted");
    client
        .batch_execute(&insert_session(USER_ID))
        .await
        .expect("a valid session is accepted");

    client
        .execute("DELETE FROM users WHERE id = $1::text::uuid", &[&USER_ID])
        .await
        .expect("the user is deleted");

    let left: i64 = client
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .expect("sessions are countable")
        .get(0);
    assert_eq!(left, 0);
}

// --- Query plans -----------------------------------------------------------------

const USER_COLUMNS: &str = r#""id", "email", "display_name", "role", "password_hash", "disabled", "created_at", "updated_at", "last_login_at""#;
const SESSION_COLUMNS: &str = r#""id", "user_id", "family_id", "refresh_token_hash", "created_at", "last_used_at", "expires_at", "family_expires_at", "revoked_at", "revoke_reason", "replaced_by", "sealed_refresh_token", "user_agent", "ip""#;

/// 5,000 users with 4 sessions each: a quarter revoked, one in a hundred
/// still holding a sealed grace copy. Then fresh statistics, as autovacuum
/// would leave them.
const SEED: &str = r#"
    INSERT INTO users (id, email, display_name, role, password_hash, created_at, updated_at)
    SELECT gen_random_uuid(), 'user' || n || '@example.com', 'User ' || n, 'user',
           '$argon2id$v=19$placeholder', now(), now()
    FROM generate_series(1, 5000) AS n;

    WITH numbered AS (SELECT id, row_number() OVER (ORDER BY email) AS i FROM users)
    INSERT INTO sessions (id, user_id, family_id, refresh_token_hash, created_at, last_used_at,
                          expires_at, family_expires_at, revoked_at, revoke_reason,
                          sealed_refresh_token)
    SELECT gen_random_uuid(), u.id, gen_random_uuid(), sha256(int8send(n)),
           now() - n * interval '1 minute', now(),
           now() + interval '7 days', now() + interval '30 days',
           CASE WHEN n % 4 = 0 THEN now() END,
           CASE WHEN n % 4 = 0 THEN 'rotated' END,
           CASE WHEN n % 100 = 1 THEN '\x00'::bytea END
    FROM generate_series(1, 20000) AS n
    JOIN numbered u ON u.i = n % 5000 + 1;

    ANALYZE users;
    ANALYZE sessions;
"#;

/// One repository call: the statement the adapter builds (sea-query's
/// PostgreSQL rendering) and arguments that hit a real row.
struct Lookup {
    name: &'static str,
    statement: String,
    arguments: String,
}

/// The statement of every repository call that finds rows, as
/// `adapters/postgres/src/{users,sessions}.rs` build them.
fn lookups(sample: &Sample) -> Vec<Lookup> {
    let Sample {
        user_id,
        email,
        session_id,
        family_id,
        token_hash,
    } = sample;
    let lookup = |name, statement: String, arguments: String| Lookup {
        name,
        statement,
        arguments,
    };
    vec![
        lookup(
            "users.find_by_id",
            format!(r#"SELECT {USER_COLUMNS} FROM "users" WHERE "id" = $1"#),
            format!("'{user_id}'"),
        ),
        lookup(
            "users.find_by_email",
            format!(r#"SELECT {USER_COLUMNS} FROM "users" WHERE "email" = $1"#),
            format!("'{email}'"),
        ),
        lookup(
            "users.replace_password_hash",
            r#"UPDATE "users" SET "password_hash" = $1, "updated_at" = $2 WHERE "id" = $3 AND "password_hash" = $4"#.to_owned(),
            format!("'new', now(), '{user_id}', '$argon2id$v=19$placeholder'"),
        ),
        lookup(
            "users.set_role",
            r#"UPDATE "users" SET "role" = $1, "updated_at" = (CASE WHEN ("role" = $2) THEN "updated_at" ELSE $3 END) WHERE "id" = $4"#.to_owned(),
            format!("'admin', 'admin', now(), '{user_id}'"),
        ),
        lookup(
            "users.record_login",
            r#"UPDATE "users" SET "last_login_at" = $1 WHERE "id" = $2"#.to_owned(),
            format!("now(), '{user_id}'"),
        ),
        lookup(
            "sessions.find",
            format!(r#"SELECT {SESSION_COLUMNS} FROM "sessions" WHERE "id" = $1"#),
            format!("'{session_id}'"),
        ),
        lookup(
            "sessions.find_by_token_hash",
            format!(r#"SELECT {SESSION_COLUMNS} FROM "sessions" WHERE "refresh_token_hash" = $1"#),
            format!("'{token_hash}'"),
        ),
        lookup(
            "sessions.list_active",
            format!(
                r#"SELECT {SESSION_COLUMNS} FROM "sessions" WHERE "user_id" = $1 AND "revoked_at" IS NULL AND "expires_at" > $2 ORDER BY "created_at" DESC, "id" DESC"#
            ),
            format!("'{user_id}', now()"),
        ),
        lookup(
            "sessions.revoke",
            r#"UPDATE "sessions" SET "revoked_at" = $1, "revoke_reason" = $2, "replaced_by" = $3 WHERE "user_id" = $4 AND "revoked_at" IS NULL AND "id" = $5"#.to_owned(),
            format!("now(), 'logout', NULL, '{user_id}', '{session_id}'"),
        ),
        lookup(
            "sessions.revoke_family",
            r#"UPDATE "sessions" SET "revoked_at" = $1, "revoke_reason" = $2 WHERE "user_id" = $3 AND "revoked_at" IS NULL AND "family_id" = $4"#.to_owned(),
            format!("now(), 'reuse_detected', '{user_id}', '{family_id}'"),
        ),
        lookup(
            "sessions.revoke_all",
            r#"UPDATE "sessions" SET "revoked_at" = $1, "revoke_reason" = $2 WHERE "user_id" = $3 AND "revoked_at" IS NULL AND "id" <> $4"#.to_owned(),
            format!("now(), 'logout', '{user_id}', '{session_id}'"),
        ),
        lookup(
            "sessions.touch",
            r#"UPDATE "sessions" SET "last_used_at" = $1 WHERE "id" = $2 AND "last_used_at" < $3"#.to_owned(),
            format!("now(), '{session_id}', now() - interval '1 minute'"),
        ),
        lookup(
            "sessions.purge_sealed_tokens",
            r#"UPDATE "sessions" SET "sealed_refresh_token" = $1 WHERE "sealed_refresh_token" IS NOT NULL AND "created_at" < $2"#.to_owned(),
            "NULL, now() - interval '1 minute'".to_owned(),
        ),
    ]
}

/// Values of one seeded user and one of its sessions.
struct Sample {
    user_id: String,
    email: String,
    session_id: String,
    family_id: String,
    token_hash: String,
}

async fn sample(client: &Client) -> Sample {
    let row = client
        .query_one(
            r"SELECT u.id::text, u.email, s.id::text, s.family_id::text,
                     '\x' || encode(s.refresh_token_hash, 'hex')
              FROM users u JOIN sessions s ON s.user_id = u.id
              ORDER BY u.email LIMIT 1",
            &[],
        )
        .await
        .expect("a seeded user with sessions");
    Sample {
        user_id: row.get(0),
        email: row.get(1),
        session_id: row.get(2),
        family_id: row.get(3),
        token_hash: row.get(4),
    }
}

/// The plan of the prepared statement `name` run with `arguments`.
async fn plan(client: &Client, name: &str, arguments: &str) -> String {
    client
        .simple_query(&format!("EXPLAIN EXECUTE {name}({arguments})"))
        .await
        .expect("EXPLAIN answers")
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_repository_lookup_is_planned_with_an_index() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    database.storage().await;
    let client = sql(&database).await;
    client.batch_execute(SEED).await.expect("the seed loads");
    let lookups = lookups(&sample(&client).await);
    for (i, lookup) in lookups.iter().enumerate() {
        client
            .batch_execute(&format!("PREPARE lookup_{i} AS {}", lookup.statement))
            .await
            .unwrap_or_else(|e| panic!("{} does not prepare: {e}", lookup.name));
    }

    // The adapter's statements are prepared and cached: the first runs get
    // plans for their values, later ones may get the generic plan. Both
    // must use an index.
    let mut seq_scans = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        client
            .batch_execute(&format!("SET plan_cache_mode = {mode}"))
            .await
            .expect("plan_cache_mode is settable");
        for (i, lookup) in lookups.iter().enumerate() {
            let plan = plan(&client, &format!("lookup_{i}"), &lookup.arguments).await;
            if plan.contains("Seq Scan") || !plan.contains("Index") {
                seq_scans.push(format!("{} ({mode}):\n{plan}", lookup.name));
            }
        }
    }

    assert!(
        seq_scans.is_empty(),
        "lookups planned without an index:\n\n{}",
        seq_scans.join("\n\n")
    );
}

// --- Bringing data along -----------------------------------------------------------

const ACCOUNT_ID: &str = "0190a000-0000-7000-8000-0000000000a1";
const CHARACTER_ID: &str = "0190a000-0000-7000-8000-0000000000c1";

/// A catalog, a character on its class 1 and server 1, and progress on
/// items 20001 and 20002, written as a database before 0005 held them.
fn old_roster() -> String {
    format!(
        "{user};
         INSERT INTO catalog_meta (version) VALUES ('2026-11-21');
         INSERT INTO catalog_classes (id, name) VALUES (1, 'Feca'), (2, 'Osamodas');
         INSERT INTO catalog_servers (id, name) VALUES (1, 'Brial');
         INSERT INTO catalog_items (id, kind, name, level)
             VALUES (20001, 'quest', 'Gobball Hunt', 1), (20002, 'quest', 'Kwak Hunt', 30);
         INSERT INTO game_accounts (id, owner_id, name, created_at, updated_at)
             VALUES ('{ACCOUNT_ID}', '{USER_ID}', 'Main', now(), now());
         INSERT INTO characters (id, owner_id, account_id, name, level, class_id, server_id,
                                 version, created_at, updated_at)
             VALUES ('{CHARACTER_ID}', '{USER_ID}', '{ACCOUNT_ID}', 'Hero', 50, 1, 1, 1, now(), now());
         INSERT INTO progressions (character_id, item_id, status, completed_at, updated_at)
             VALUES ('{CHARACTER_ID}', 20001, 'done', now(), now()),
                    ('{CHARACTER_ID}', 20002, 'todo', NULL, now());",
        user = insert_user(USER_ID, "ada@example.com", "user"),
    )
}

#[tokio::test]
async fn a_database_with_a_catalog_and_progress_is_brought_along_by_0005_and_then_synced() {
    use adapter_system::{ManualClock, OsRandom};
    use domain::ports::{Repositories, SourceEntry, SourceResource};
    use domain::{CatalogItem, CharacterId, ItemId, ItemKind, PageRequest, SourceCatalog, UserId};

    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let storage = pool(&database);
    let migrator = storage.migrator();
    let client = sql(&database).await;
    // Arrange: every migration before 0005 applied and recorded, as an
    // older build left them, with data in the old shape.
    migrator.pending().await.expect("the bookkeeping table");
    for migration in MIGRATIONS.iter().filter(|m| m.version < 5) {
        client
            .batch_execute(migration.sql)
            .await
            .unwrap_or_else(|e| panic!("{} applies: {e}", migration.name));
        client
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum)
                 VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                &[&migration.version, &migration.name, &migration.sql],
            )
            .await
            .expect("recorded");
    }
    client
        .batch_execute(&old_roster())
        .await
        .expect("the old roster loads");
    let row = |source_id: i64, name: &str| SourceEntry {
        source_id,
        name: name.to_owned(),
        level: 1,
    };
    // The source lists classes 2–20 (not 1), server 401 (not 1), and one
    // quest named as bundled item 20001, ignoring case.
    let mut source = SourceCatalog {
        classes: (2..=20).map(|id| row(id, &format!("Class {id}"))).collect(),
        servers: vec![row(401, "Draconiros")],
        ..SourceCatalog::default()
    };
    source
        .rows_mut(SourceResource::Items(ItemKind::Quest))
        .push(row(7, "GOBBALL HUNT"));

    // Act
    let applied = migrator.run().await.expect("0005 applies");
    let migrated = storage.catalog().snapshot().await.expect("snapshot");
    let outcome = application::catalog::apply_source(
        &storage,
        &ManualClock::starting_now(),
        &OsRandom,
        &source,
    )
    .await
    .expect("the sync applies");

    // Assert: existing rows are current, with no source id.
    assert_eq!(applied[0], "0005_catalog_sources.sql");
    let migrated = migrated.expect("the catalog");
    assert_eq!(migrated.version, "2026-11-21");
    assert!(migrated.classes.iter().all(|c| !c.retired));
    assert!(migrated.servers.iter().all(|s| !s.retired));
    assert_eq!(
        migrated.items,
        [
            CatalogItem {
                id: ItemId(20001),
                kind: ItemKind::Quest,
                name: "Gobball Hunt".to_owned(),
                level: 1,
                source_id: None,
                retired: false
            },
            CatalogItem {
                id: ItemId(20002),
                kind: ItemKind::Quest,
                name: "Kwak Hunt".to_owned(),
                level: 30,
                source_id: None,
                retired: false
            },
        ]
    );
    assert!(outcome.changed);
    assert_eq!(outcome.matched_by_name, 1);
    // Assert: the character and its progress still read with their names,
    // through retired class 1, server 1 and item 20002.
    let owner = UserId::from_uuid(USER_ID.parse().expect("uuid"));
    let character = CharacterId::from_uuid(CHARACTER_ID.parse().expect("uuid"));
    let shown = storage
        .characters()
        .find(owner, character)
        .await
        .expect("find")
        .expect("the character");
    assert_eq!(
        (shown.class_name.as_str(), shown.server_name.as_str()),
        ("Feca", "Brial")
    );
    let listed = storage
        .progressions()
        .list(
            owner,
            character,
            None,
            None,
            PageRequest::parse(None, None).expect("page"),
        )
        .await
        .expect("list");
    let names: Vec<(i64, &str)> = listed
        .items
        .iter()
        .map(|v| (v.progression.item_id.0, v.item_name.as_str()))
        .collect();
    assert_eq!(names, [(20001, "GOBBALL HUNT"), (20002, "Kwak Hunt")]);
    let quests = storage
        .catalog()
        .count_items(ItemKind::Quest)
        .await
        .expect("count");
    assert_eq!(quests, 1);
    let classes: Vec<i32> = storage
        .catalog()
        .classes()
        .await
        .expect("classes")
        .iter()
        .map(|c| c.id.0)
        .collect();
    assert_eq!(classes, (2..=20).collect::<Vec<_>>());
}
