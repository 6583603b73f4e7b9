-- The reference cache of a deployment without Redis (API.md, Caching): the
-- catalog's answers, kept beside the data but read through a small pool of
-- their own, so a public catalog read never waits behind the storage pool.
--
-- Both tables are UNLOGGED: a crash empties them, which only costs misses.
-- A namespace's version comes from a (logged) sequence, so one is never
-- given twice, even after a crash emptied cache_versions: no value stored
-- under an old version can be found again.
CREATE UNLOGGED TABLE cache_versions (
    namespace text PRIMARY KEY,
    version   bigint NOT NULL
);

CREATE UNLOGGED TABLE cache_values (
    slot       text PRIMARY KEY,
    value      bytea NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX cache_values_expiry ON cache_values (expires_at);

CREATE SEQUENCE cache_version_seq;

-- One lookup, one round trip: the versions of `namespaces` (made for those
-- that have none), the slot they name for `name`, and its live value if any.
CREATE FUNCTION cache_lookup(namespaces text[], name text, OUT slot text, OUT value bytea)
LANGUAGE plpgsql AS $$
DECLARE
    stamp text;
    known integer;
BEGIN
    SELECT string_agg(v.version::text, '/' ORDER BY u.ord), count(v.version)
      INTO stamp, known
      FROM unnest(namespaces) WITH ORDINALITY AS u(namespace, ord)
      JOIN cache_versions v ON v.namespace = u.namespace;
    IF known < cardinality(namespaces) THEN
        INSERT INTO cache_versions (namespace, version)
        SELECT u.namespace, nextval('cache_version_seq')
          FROM unnest(namespaces) AS u(namespace)
        ON CONFLICT (namespace) DO NOTHING;
        SELECT string_agg(v.version::text, '/' ORDER BY u.ord)
          INTO stamp
          FROM unnest(namespaces) WITH ORDINALITY AS u(namespace, ord)
          JOIN cache_versions v ON v.namespace = u.namespace;
    END IF;
    slot := namespaces[1] || ':v' || stamp || ':' || name;
    SELECT c.value INTO value
      FROM cache_values c
     WHERE c.slot = cache_lookup.slot AND c.expires_at > clock_timestamp();
END
$$;
