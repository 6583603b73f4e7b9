//! A large roster loaded straight into a PostgreSQL test schema, for the
//! plan test and the list-latency bench: many users, each with several
//! accounts and a hundred characters of varied names, levels, classes and
//! servers, some of them soft-deleted. Loaded in a few set-based
//! statements (`generate_series`), then analyzed as autovacuum would.

/// Classes and servers the seeded catalog holds; characters use one more
/// of each, which the catalog lacks (shown with an empty name).
pub const CLASSES: i32 = 19;
pub const SERVERS: i32 = 12;

/// Accounts per user.
pub const ACCOUNTS_PER_USER: i64 = 4;

/// The SQL that seeds `users` users with `per_user` characters each (split
/// over [`ACCOUNTS_PER_USER`] accounts; one in twenty is soft-deleted, and
/// ids are random UUIDs). The schema's migrations must have been applied.
pub fn seed_sql(users: i64, per_user: i64) -> String {
    // Signed `div_ceil` is not stable yet.
    let per_account = (per_user + ACCOUNTS_PER_USER - 1) / ACCOUNTS_PER_USER;
    format!(
        r#"
        INSERT INTO catalog_classes (id, name)
        SELECT n, 'Class ' || n FROM generate_series(1, {CLASSES}) AS n;
        INSERT INTO catalog_servers (id, name)
        SELECT n, 'Server ' || n FROM generate_series(1, {SERVERS}) AS n;

        INSERT INTO users (id, email, display_name, role, password_hash, created_at, updated_at)
        SELECT gen_random_uuid(), 'user' || n || '@example.com', 'User ' || n, 'user',
               '$argon2id$v=19$placeholder', now(), now()
        FROM generate_series(1, {users}) AS n;

        INSERT INTO game_accounts (id, owner_id, name, notes, created_at, updated_at, deleted_at)
        SELECT gen_random_uuid(), u.id, 'Account ' || a, NULL, now(), now(), NULL
        FROM users u CROSS JOIN generate_series(1, {ACCOUNTS_PER_USER}) AS a;

        INSERT INTO characters (id, owner_id, account_id, name, level, class_id, server_id,
                                version, created_at, updated_at, deleted_at)
        SELECT gen_random_uuid(), a.owner_id, a.id,
               -- Mixed case, so lower() matters to the order.
               initcap(substr(md5(a.id::text || c), 1, 3)) || substr(md5(c || a.id::text), 1, 6),
               1 + abs(hashtext(a.id::text || c)) % 200,
               1 + (c + a.k) % ({CLASSES} + 1),
               1 + (c * 7 + a.k) % ({SERVERS} + 1),
               1, now() - (a.k * {per_account} + c) * interval '1 minute', now(),
               CASE WHEN (c + a.k) % 20 = 0 THEN now() END
        FROM (SELECT id, owner_id, row_number() OVER (PARTITION BY owner_id ORDER BY name) AS k
              FROM game_accounts) AS a
        CROSS JOIN generate_series(1, {per_account}) AS c
        WHERE (a.k - 1) * {per_account} + c <= {per_user};

        ANALYZE catalog_classes;
        ANALYZE catalog_servers;
        ANALYZE users;
        ANALYZE game_accounts;
        ANALYZE characters;
        "#
    )
}
