-- Deliveries that survive outages (issue 14).
-- `lane` names what a job competes for besides a worker: the publish target of a publish job
-- (NULL for syncs). The claim counts running jobs per lane and per kind against `lanes`.
ALTER TABLE jobs ADD COLUMN lane TEXT;
CREATE INDEX jobs_lane ON jobs (lane, state);
-- Debounce asks "when did this key last see activity?": one index lookup, not a history scan.
CREATE INDEX jobs_key_updated ON jobs (coalesce_key, updated_at);

-- One row per lane (a job kind or a publish target), shared by every worker and replica:
-- its concurrency bound, its request-rate token bucket and its circuit breaker.
CREATE TABLE lanes (
    name          TEXT PRIMARY KEY,
    max_running   INTEGER,              -- NULL: bounded by the worker count only
    tokens        REAL,                 -- token bucket (NULL until first used)
    refilled_at   INTEGER,
    breaker       TEXT NOT NULL DEFAULT 'closed',   -- closed | open
    failures      INTEGER NOT NULL DEFAULT 0,       -- consecutive failed attempts
    opened_at     INTEGER,
    next_probe_at INTEGER,
    updated_at    INTEGER NOT NULL
);

-- Every running process (a node) and its heartbeat: jobs leased by a node that stopped
-- heartbeating, or by an earlier incarnation of a restarted node, are rescued at once.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,      -- this incarnation; worker ids start with it
    name         TEXT NOT NULL,         -- stable across restarts (HELIX_NODE_NAME)
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
CREATE INDEX nodes_name ON nodes (name);
