-- The operator console (issue 17): users, sessions, API tokens, the audit log, the attempt
-- history of jobs, and indexes for the console's event filters.

-- Local users. `role` is viewer | operator | admin; `password_hash` is an argon2id PHC string.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Console sessions. Only the SHA-256 of the cookie value is stored, so a copy of the database
-- does not log anyone in; `csrf` is the session's synchronizer token.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Per-user API tokens, stored as the SHA-256 of the token (shown once, at creation).
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Who did what, when: replays, retries, cancels, runs, user and token changes, logins.
CREATE TABLE audit_log (
    id     TEXT PRIMARY KEY,              -- UUIDv7: time-ordered
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Every failed attempt of a job (the job row keeps only the last error).
CREATE TABLE job_attempts (
    job_id      TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT NOT NULL,
    outcome     TEXT NOT NULL,            -- retrying | dead
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
);

-- The console's event filters, each in keyset order (newest first, ties by id), so that a
-- page is one index walk with no sort. `(received_at, id)` replaces `(received_at)` (retention
-- uses it just as well). Source has three values: its filter walks the time index. Each index
-- costs ingest an entry per event, so only the selective filters get one.
DROP INDEX events_received;
CREATE INDEX events_received_id ON events (received_at, id);
CREATE INDEX events_type_received ON events (event_type, received_at, id);
CREATE INDEX events_repo_received ON events (repo, received_at, id);
-- "Delivery id starts with": a range on this index (byte order, as on SQLite, so that a prefix is one contiguous range).
CREATE INDEX events_delivery ON events (delivery_id COLLATE "C");

-- The console's job list, newest first. `created_at` never changes, so this index costs the
-- queue one entry per enqueue and nothing per state transition.
CREATE INDEX jobs_created ON jobs (created_at);
