-- The "one running job per coalesce key" rule and the per-kind and per-lane bounds read a
-- small table of the jobs running right now instead of `jobs` (issue 19), so that a claim
-- reads as much with a million finished jobs as with none. `running_jobs` holds one row per
-- running job, kept by the triggers below on every state change whatever statement makes
-- it; its unique `coalesce_key` is the lock per key that used to be the partial unique
-- index on `jobs`, and it still refuses a second running job of a key from another process.
CREATE TABLE running_jobs (
    job_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    lane         TEXT,
    coalesce_key TEXT UNIQUE
);
CREATE INDEX running_jobs_kind ON running_jobs (kind);
CREATE INDEX running_jobs_lane ON running_jobs (lane);
INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
    SELECT id, kind, lane, coalesce_key FROM jobs WHERE state = 'running';

-- Only transitions into or out of `running` fire them: a heartbeat changes no state.
CREATE TRIGGER running_jobs_start AFTER UPDATE OF state ON jobs
    WHEN NEW.state = 'running' AND OLD.state <> 'running'
BEGIN
    INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
        VALUES (NEW.id, NEW.kind, NEW.lane, NEW.coalesce_key);
END;
CREATE TRIGGER running_jobs_stop AFTER UPDATE OF state ON jobs
    WHEN OLD.state = 'running' AND NEW.state <> 'running'
BEGIN
    DELETE FROM running_jobs WHERE job_id = OLD.id;
END;
CREATE TRIGGER running_jobs_insert AFTER INSERT ON jobs WHEN NEW.state = 'running'
BEGIN
    INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
        VALUES (NEW.id, NEW.kind, NEW.lane, NEW.coalesce_key);
END;
CREATE TRIGGER running_jobs_delete AFTER DELETE ON jobs WHEN OLD.state = 'running'
BEGIN
    DELETE FROM running_jobs WHERE job_id = OLD.id;
END;

DROP INDEX jobs_one_running_per_key;
