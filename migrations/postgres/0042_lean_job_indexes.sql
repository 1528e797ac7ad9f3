-- A claim and a completion each change a job's `state`, so every index on `jobs` gets a new
-- entry for each (on PostgreSQL no update of `state` is HOT), except a partial index whose
-- condition the new row does not meet. The indexes that only serve waiting jobs now say so,
-- and a running or finished sync job is in four indexes instead of seven (issue 19: the
-- PostgreSQL server spent ~240 µs of CPU per job, graphile-worker ~23 µs).
--
-- `jobs_claim` (state, priority, run_at) has served no claim since `jobs_runnable`; what
-- still asks by state and run time asks about waiting jobs: the oldest queued job and the
-- next due time.
DROP INDEX jobs_claim;
CREATE INDEX jobs_waiting ON jobs (state, run_at) WHERE state IN ('queued', 'failed');
-- Coalescing joins a queued job of the same key, the oldest first. `state` stays a column
-- so that SQLite's planner, without statistics, sees two equalities here and prefers this
-- index to `jobs_key_updated`, which holds every job the key ever had.
DROP INDEX jobs_coalesce;
CREATE INDEX jobs_coalesce ON jobs (coalesce_key, state, created_at) WHERE state = 'queued';
-- Lanes are publish targets; a sync has none.
DROP INDEX jobs_lane;
CREATE INDEX jobs_lane ON jobs (lane, state) WHERE lane IS NOT NULL;
