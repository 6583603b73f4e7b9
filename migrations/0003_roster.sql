-- The roster: each user's game accounts, characters, teams and progress.
--
-- Constraint names are part of the contract: the adapter turns a unique
-- violation into the domain's `Duplicate { constraint }` by name
-- (game_accounts_pkey, game_accounts_owner_name, characters_pkey,
-- characters_owner_server_name, teams_pkey, teams_owner_name). A unique
-- INDEX reports its own name as the constraint, which is why uniqueness
-- that only holds among live rows (a partial index) can be named too.
--
-- Names compare ignoring case (`lower(name)`), and lists order them
-- lower-cased byte by byte: `lower(name) COLLATE "C"`, whatever the
-- database's collation. An index serves an ORDER BY only when its
-- expression is written the same way, collation included.
--
-- Every query is scoped by its owner, so every index starts with
-- `owner_id`. Soft-deleted rows (`deleted_at` set) are invisible to the
-- application: indexes that serve only live lookups are partial.

CREATE TABLE game_accounts (
    id         uuid        NOT NULL,
    owner_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- `RosterName`: 2–50 characters (trimmed by the domain).
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 2 AND 50),
    -- `Notes`: no text is NULL, never ''.
    notes      text        CHECK (char_length(notes) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    CONSTRAINT game_accounts_pkey PRIMARY KEY (id)
);

-- One live account per name and owner; a deleted account frees its name.
CREATE UNIQUE INDEX game_accounts_owner_name
    ON game_accounts (owner_id, lower(name))
    WHERE deleted_at IS NULL;

-- The owner's list, by name then id. Not partial: it is also the path of
-- the cascade when a user is deleted.
CREATE INDEX game_accounts_owner_name_order
    ON game_accounts (owner_id, (lower(name) COLLATE "C"), id);

CREATE TABLE characters (
    id         uuid        NOT NULL,
    owner_id   uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Accounts are only ever soft-deleted; the cascade only happens when a
    -- user (and so their accounts) is deleted.
    account_id uuid        NOT NULL REFERENCES game_accounts (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 2 AND 50),
    level      smallint    NOT NULL CHECK (level BETWEEN 1 AND 200),
    -- The game's ids. No foreign key to catalog_classes / catalog_servers:
    -- the catalog is replaced whole, and a character outlives an id the new
    -- catalog no longer lists (it is then shown with an empty name).
    class_id   integer     NOT NULL,
    server_id  integer     NOT NULL,
    -- 1 at creation, +1 per update: the ETag, and the compare-and-set of
    -- every update.
    version    bigint      NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    CONSTRAINT characters_pkey PRIMARY KEY (id)
);

-- One live character per name, server and owner.
CREATE UNIQUE INDEX characters_owner_server_name
    ON characters (owner_id, server_id, lower(name))
    WHERE deleted_at IS NULL;

-- The list's orders, each with its tie-breaks, so a page is read in order
-- from the index: name, level (then name, then id), creation.
CREATE INDEX characters_owner_name
    ON characters (owner_id, (lower(name) COLLATE "C"), id)
    WHERE deleted_at IS NULL;
CREATE INDEX characters_owner_level
    ON characters (owner_id, level, (lower(name) COLLATE "C"), id)
    WHERE deleted_at IS NULL;
-- Not partial: also the path of the cascade when a user is deleted.
CREATE INDEX characters_owner_created
    ON characters (owner_id, created_at, id);

-- The list's filters by class, server and account.
CREATE INDEX characters_owner_class
    ON characters (owner_id, class_id)
    WHERE deleted_at IS NULL;
CREATE INDEX characters_owner_server
    ON characters (owner_id, server_id)
    WHERE deleted_at IS NULL;
CREATE INDEX characters_owner_account
    ON characters (owner_id, account_id)
    WHERE deleted_at IS NULL;

-- An account's count of characters, and the cascade from game_accounts:
-- not partial, a foreign key check sees deleted rows too.
CREATE INDEX characters_account_id ON characters (account_id);

CREATE TABLE teams (
    id          uuid        NOT NULL,
    owner_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 2 AND 50),
    description text        CHECK (char_length(description) BETWEEN 1 AND 500),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT teams_pkey PRIMARY KEY (id)
);

-- Teams are deleted for good, so one index is at once the uniqueness of a
-- name (ignoring case), the list's order by name, and the cascade's path.
-- Equality under "C" is byte equality, the same as under any deterministic
-- collation, so the collation changes nothing about what is unique.
CREATE UNIQUE INDEX teams_owner_name
    ON teams (owner_id, (lower(name) COLLATE "C"));

CREATE TABLE team_members (
    team_id      uuid     NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    character_id uuid     NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    -- The member's place in the team, from 0. At most `Team::MAX_MEMBERS`
    -- members is the application's rule, checked before writing. No
    -- uniqueness on it: a reorder rewrites positions row by row.
    position     smallint NOT NULL CHECK (position >= 0),
    CONSTRAINT team_members_pkey PRIMARY KEY (team_id, character_id)
);

-- From a character to its teams (the cascade of a character's deletion).
CREATE INDEX team_members_character_id ON team_members (character_id);

CREATE TABLE progressions (
    character_id uuid        NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    -- A catalog item's id; no foreign key, as for classes and servers.
    -- Items the catalog no longer holds are left out of every answer.
    item_id      bigint      NOT NULL,
    status       text        NOT NULL CHECK (status IN ('todo', 'in_progress', 'done')),
    completed_at timestamptz,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT progressions_pkey PRIMARY KEY (character_id, item_id),
    -- When it was done, and only while it is.
    CONSTRAINT progressions_completed_at CHECK ((status = 'done') = (completed_at IS NOT NULL))
);
-- The primary key serves a character's list (by item id), its counts, and
-- one item's progress among some characters.
