-- The job queue: background work, claimed by workers under leases.
--
-- A job is one row, updated in place through its life (queued → running →
-- succeeded | failed → … | dead): `fillfactor` leaves room on each page so
-- those updates stay HOT (no index churn), and autovacuum visits the table
-- early, since a busy queue turns rows over quickly. Finished jobs are
-- deleted by `roster cron jobs.prune` (succeeded after a day, dead after
-- 30 days), so the table holds the live work and a short history.
--
-- Workers are woken by `NOTIFY roster_jobs`, sent by the enqueue itself so
-- it is delivered only if the enqueuing transaction commits.

CREATE TABLE jobs (
    id               uuid        NOT NULL,
    -- The handler: `catalog.sync`, `sessions.purge`, …
    kind             text        NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 100),
    payload          jsonb       NOT NULL,
    status           text        NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    attempts         integer     NOT NULL CHECK (attempts >= 0),
    max_attempts     integer     NOT NULL CHECK (max_attempts >= 1),
    last_error       text,
    progress_done    bigint      CHECK (progress_done >= 0),
    progress_total   bigint      CHECK (progress_total >= 0),
    progress_message text,
    -- At most one live job per (kind, unique_key): see jobs_unique_live.
    unique_key       text,
    run_at           timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    created_at       timestamptz NOT NULL,
    -- The current claim: a fencing token and its expiry, set exactly while
    -- the job runs.
    lease_id         uuid,
    lease_expires_at timestamptz,
    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    CONSTRAINT jobs_lease_while_running CHECK (
        (status = 'running') = (lease_id IS NOT NULL AND lease_expires_at IS NOT NULL)
    ),
    CONSTRAINT jobs_progress_whole CHECK (
        (progress_done IS NULL) = (progress_total IS NULL)
    )
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);

-- Uniqueness among live jobs only: a finished sync does not block the next.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (kind, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'running', 'failed');

-- What a claim scans: jobs waiting for their turn, and leases to check.
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE status IN ('queued', 'failed');
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running';

-- What the prune deletes.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'dead');

-- The admin listing, newest first, by kind or by status.
CREATE INDEX jobs_kind ON jobs (kind, id);
CREATE INDEX jobs_status ON jobs (status, id);

-- The finished steps of a job, with what each produced, so a retry resumes
-- after the last one that succeeded.
CREATE TABLE job_steps (
    job_id      uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    output      jsonb       NOT NULL,
    finished_at timestamptz NOT NULL,
    CONSTRAINT job_steps_pkey PRIMARY KEY (job_id, name)
);
