-- The catalog takes syncs from an outside source (API.md, "The
-- DofusDB-compatible source"): an entry the source no longer lists is kept,
-- retired, so the characters and progressions pointing at it still show its
-- name; and an item records the source's id, by which the next sync finds
-- it again.
--
-- Existing rows come along as they are: current (not retired), and, for
-- items, with no source id (the bundled snapshot's items are matched by
-- kind and name at the first sync, see `domain::catalog_sync`).

-- Classes and servers are the source's ids already: only the flag.
ALTER TABLE catalog_classes ADD COLUMN retired boolean NOT NULL DEFAULT false;
ALTER TABLE catalog_servers ADD COLUMN retired boolean NOT NULL DEFAULT false;

-- Items keep Roster's id (`id`, which progressions point at): the source's
-- ids collide across kinds, so `source_id` is unique within a kind only.
-- NULL while unknown; NULLs are distinct, so any number of items may lack
-- one.
ALTER TABLE catalog_items
    ADD COLUMN source_id bigint,
    ADD COLUMN retired   boolean NOT NULL DEFAULT false;
ALTER TABLE catalog_items
    ADD CONSTRAINT catalog_items_kind_source_id UNIQUE (kind, source_id);

-- The lists and counts by kind read current items only: the index that
-- served them becomes partial, so retired items never cost them a row.
-- A listing of every kind still walks the primary key, skipping retired
-- rows; lookups by id (the names of progressions) find both.
DROP INDEX catalog_items_kind_id;
CREATE INDEX catalog_items_current_kind_id ON catalog_items (kind, id) WHERE NOT retired;
