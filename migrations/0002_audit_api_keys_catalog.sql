-- The audit trail, API keys, and the reference catalog.
--
-- Constraint names are part of the contract: the adapter turns a unique
-- violation into the domain's `Duplicate { constraint }` by name
-- (audit_entries_pkey, api_keys_pkey, api_keys_key_hash).

CREATE TABLE audit_entries (
    id            uuid        NOT NULL,
    -- Who acted; NULL is the system itself (jobs, start-up). No foreign key
    -- on purpose: the trail is append-only and must outlive what it talks
    -- about. `ON DELETE SET NULL` would rewrite a deleted user's actions as
    -- the system's, and `CASCADE` would erase them.
    actor_id      uuid,
    -- `resource.verb` (auth.login, character.created) and the kind of thing
    -- it happened to: open sets the application grows, so no CHECK lists them.
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    -- Each changed field's old and new value:
    -- [{"field": "role", "from": "user", "to": "admin"}, ...], values being
    -- JSON null, booleans, integers or strings. Never a secret.
    changes       jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(changes) = 'array'),
    ip            text,
    request_id    text,
    at            timestamptz NOT NULL,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (id)
);

-- Listings page by id (a UUIDv7, so by time) newest first, with `id < before`
-- as the keyset: one index per filter a listing can start from. A listing
-- with no filter walks the primary key backwards.
CREATE INDEX audit_entries_actor_id ON audit_entries (actor_id, id DESC);
CREATE INDEX audit_entries_resource_id ON audit_entries (resource_type, resource_id, id DESC);

CREATE TABLE api_keys (
    id           uuid        NOT NULL,
    owner_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- `ApiKeyName`: 1–100 characters, trimmed.
    name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100 AND name = btrim(name)),
    -- The first characters of the key, shown so a user can tell keys apart.
    prefix       text        NOT NULL,
    -- SHA-256 of the key: the key itself is never stored.
    key_hash     bytea       NOT NULL CHECK (length(key_hash) = 32),
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_key_hash UNIQUE (key_hash)
);

-- The owner's list (newest first), "revoke all", and the cascade when a
-- user is deleted.
CREATE INDEX api_keys_owner_created ON api_keys (owner_id, created_at DESC, id DESC);

-- The catalog is replaced whole, in one transaction: readers see the old
-- one or the new one. Its ids are the game's own, not ours: integers.

-- The version of the stored snapshot. At most one row (the `id` can only be
-- true); no row while the catalog is empty.
CREATE TABLE catalog_meta (
    id      boolean NOT NULL DEFAULT true CHECK (id),
    version text    NOT NULL CHECK (btrim(version) <> ''),
    CONSTRAINT catalog_meta_pkey PRIMARY KEY (id)
);

CREATE TABLE catalog_classes (
    id   integer NOT NULL,
    name text    NOT NULL CHECK (btrim(name) <> ''),
    CONSTRAINT catalog_classes_pkey PRIMARY KEY (id)
);

CREATE TABLE catalog_servers (
    id   integer NOT NULL,
    name text    NOT NULL CHECK (btrim(name) <> ''),
    CONSTRAINT catalog_servers_pkey PRIMARY KEY (id)
);

-- Quests, dungeons and achievements: ids are unique across kinds.
CREATE TABLE catalog_items (
    id    bigint   NOT NULL,
    kind  text     NOT NULL CHECK (kind IN ('quest', 'achievement', 'dungeon')),
    name  text     NOT NULL CHECK (btrim(name) <> ''),
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 200),
    CONSTRAINT catalog_items_pkey PRIMARY KEY (id)
);

-- Listings of one kind page by id (`id > after`), and counts by kind are
-- index-only. A listing of every kind walks the primary key. A name search
-- (ILIKE '%text%') filters those walks: the catalog holds some thousands of
-- rows, too few to justify pg_trgm, an extension that needs privileges and
-- is shared by every schema of the database.
CREATE INDEX catalog_items_kind_id ON catalog_items (kind, id);
