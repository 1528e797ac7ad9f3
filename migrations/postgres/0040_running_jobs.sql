-- The "one running job per coalesce key" rule and the per-kind and per-lane bounds read a
-- small table of the jobs running right now instead of `jobs` (issue 19). The checks on
-- `jobs` went through indexes that also held the entries of every job that had finished
-- since the last vacuum (an update leaves the old entry behind until vacuum removes it), so
-- a claim read more with every job done. `running_jobs` holds one row per running job, kept
-- by the triggers below on every state change whatever statement makes it; its unique
-- `coalesce_key` is the lock per key that used to be the partial unique index on `jobs`.
CREATE TABLE running_jobs (
    job_id       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    lane         TEXT,
    coalesce_key TEXT UNIQUE
);
CREATE INDEX running_jobs_kind ON running_jobs (kind);
CREATE INDEX running_jobs_lane ON running_jobs (lane);
-- A few rows, rewritten thousands of times a second under load: vacuum it at every
-- autovacuum round that finds it touched, not after 20% of its (tiny) size.
ALTER TABLE running_jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200,
                              autovacuum_vacuum_cost_delay = 0);
INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
    SELECT id, kind, lane, coalesce_key FROM jobs WHERE state = 'running';

CREATE FUNCTION running_jobs_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.state = 'running' THEN
        DELETE FROM running_jobs WHERE job_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.state = 'running' THEN
        INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
            VALUES (NEW.id, NEW.kind, NEW.lane, NEW.coalesce_key);
    END IF;
    RETURN NULL;
END $$;
-- Only transitions into or out of `running` fire it: a heartbeat changes no state.
CREATE TRIGGER running_jobs_on_update AFTER UPDATE OF state ON jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state AND (OLD.state = 'running' OR NEW.state = 'running'))
    EXECUTE FUNCTION running_jobs_track();
CREATE TRIGGER running_jobs_on_insert AFTER INSERT ON jobs FOR EACH ROW
    WHEN (NEW.state = 'running') EXECUTE FUNCTION running_jobs_track();
CREATE TRIGGER running_jobs_on_delete AFTER DELETE ON jobs FOR EACH ROW
    WHEN (OLD.state = 'running') EXECUTE FUNCTION running_jobs_track();

DROP INDEX jobs_one_running_per_key;

-- A claim reads `jobs_runnable` from its start, past the entries that jobs claimed since
-- the last vacuum left behind. With the default (vacuum after 20% of the table changed),
-- a table holding a million finished jobs waited for 200,000 of them, a small one for a few
-- thousand: claims got slower with history. A fixed threshold makes it the same for both.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000);
