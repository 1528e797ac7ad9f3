-- helix-sync schema (PostgreSQL; mirrors migrations/sqlite). Times are unix milliseconds (INTEGER) so that
-- the same queries compare correctly on SQLite and PostgreSQL.

-- Every accepted inbound event, verified and deduplicated by (source, delivery_id).
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,            -- github | ritual | manual
    delivery_id TEXT NOT NULL,            -- X-GitHub-Delivery / webhook-id / generated
    event_type  TEXT NOT NULL,
    hook_id     TEXT,
    repo        TEXT,
    headers     TEXT NOT NULL,            -- JSON object of the headers that matter
    payload     TEXT NOT NULL,            -- the JSON document that was signed
    received_at BIGINT  NOT NULL,
    job_id      TEXT,
    UNIQUE (source, delivery_id)
);
CREATE INDEX events_job ON events (job_id);
CREATE INDEX events_received ON events (received_at);

-- The job queue. A job is data: `kind` names it, `payload` is its serde form.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    coalesce_key TEXT,                    -- jobs with the same key merge while waiting, run one at a time
    state        TEXT NOT NULL,           -- queued | running | failed | succeeded | dead | cancelled
    priority     BIGINT  NOT NULL DEFAULT 0,
    run_at       BIGINT  NOT NULL,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    max_attempts BIGINT  NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX jobs_claim ON jobs (state, priority, run_at);
CREATE INDEX jobs_coalesce ON jobs (coalesce_key, state);

-- One row per cron firing ever enqueued: the primary key is what makes a firing run once.
CREATE TABLE schedule_firings (
    schedule   TEXT NOT NULL,
    fire_at    BIGINT  NOT NULL,
    job_id     TEXT NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (schedule, fire_at)
);

-- One row per executed sync cycle.
CREATE TABLE sync_runs (
    id             TEXT PRIMARY KEY,
    job_id         TEXT,
    trigger        TEXT NOT NULL,
    started_at     BIGINT  NOT NULL,
    finished_at    BIGINT,
    duration_ms    BIGINT,
    status         TEXT NOT NULL,         -- running | succeeded | partial | failed
    sources        TEXT NOT NULL DEFAULT '{}',
    change_summary TEXT NOT NULL DEFAULT '{}',
    exports        TEXT NOT NULL DEFAULT '[]',
    error          TEXT
);
CREATE INDEX sync_runs_started ON sync_runs (started_at);
CREATE INDEX sync_runs_job ON sync_runs (job_id);

-- The normalised snapshot of each run, gzip-compressed JSON.
CREATE TABLE snapshots (
    run_id         TEXT PRIMARY KEY,
    schema_version BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    data           BYTEA NOT NULL
);

-- Incremental-fetch position per (repo, resource); moves only after a run's snapshot is stored.
CREATE TABLE cursors (
    repo       TEXT NOT NULL,
    resource   TEXT NOT NULL,
    position   TEXT,
    etag       TEXT,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (repo, resource)
);

-- One row per (run, publish target): each target is retried on its own.
CREATE TABLE deliveries (
    run_id          TEXT NOT NULL,
    target          TEXT NOT NULL,
    state           TEXT NOT NULL,        -- pending | succeeded | failed | dead | disabled
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_error      TEXT,
    external_id     TEXT,
    progress        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (run_id, target)
);

-- Small durable key/value facts (e.g. a resolved Notion data source id).
CREATE TABLE kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- At most one running job per coalesce key, enforced by the database itself.
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (coalesce_key) WHERE state = 'running';
