-- As PostgreSQL's 0047: two index entries fewer per job run. SQLite rewrites an index entry
-- only when one of its columns changes, but `updated_at` changes at every transition, so
-- `jobs_key_updated` took a new entry at each claim. The activity of a key's running job is
-- read through `running_jobs` instead (see `store::coalesce::LAST_ACTIVITY`), and a running
-- sync (no lane) is left out of the index of running jobs per lane.
DROP INDEX jobs_key_updated;
CREATE INDEX jobs_key_updated ON jobs (coalesce_key, updated_at) WHERE state <> 'running';
DROP INDEX running_jobs_lane;
CREATE INDEX running_jobs_lane ON running_jobs (lane) WHERE lane IS NOT NULL;
