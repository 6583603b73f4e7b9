-- Users and their login sessions.
--
-- Constraint names are part of the contract: the adapter turns a unique
-- violation into the domain's `Duplicate { constraint }` by name
-- (users_pkey, users_email, sessions_pkey, sessions_token_hash).

CREATE TABLE users (
    id            uuid        NOT NULL,
    -- The domain stores e-mails trimmed and lower-cased, so a plain unique
    -- index is a case-insensitive one; the check keeps it that way.
    email         text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name  text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 50),
    role          text        NOT NULL CHECK (role IN ('user', 'admin')),
    -- A PHC string ($argon2id$v=19$...): never the password.
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_login_at timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
    id                   uuid        NOT NULL,
    user_id              uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id            uuid        NOT NULL,
    -- SHA-256 of the refresh token: the token itself is never stored.
    refresh_token_hash   bytea       NOT NULL CHECK (length(refresh_token_hash) = 32),
    created_at           timestamptz NOT NULL,
    last_used_at         timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    family_expires_at    timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoke_reason        text CHECK (revoke_reason IN ('rotated', 'logout', 'password_changed', 'reuse_detected', 'admin')),
    -- The successor of a rotation. No foreign key: the rotation revokes the
    -- old session (a compare-and-set that must come first, to lock the row)
    -- before the successor is inserted in the same transaction.
    replaced_by          uuid,
    -- The refresh token encrypted for the reuse grace window only; erased
    -- by a periodic purge once the window is over.
    sealed_refresh_token bytea,
    user_agent           text,
    ip                   text,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_hash UNIQUE (refresh_token_hash),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL)),
    CHECK (expires_at <= family_expires_at)
);

-- The session list, and "revoke all" (by owner).
CREATE INDEX sessions_user_created ON sessions (user_id, created_at DESC);
-- Family revocation when a rotated token is reused.
CREATE INDEX sessions_family ON sessions (family_id);
-- The purge only looks at the few sessions that still hold a sealed copy.
CREATE INDEX sessions_sealed_created ON sessions (created_at) WHERE sealed_refresh_token IS NOT NULL;
