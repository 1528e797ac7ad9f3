-- Two index entries fewer per job run (issue 19: a batched burn-down spent about 40% of the
-- PostgreSQL server's CPU inserting index entries, and graphile-worker, which deletes a job
-- when it is done, gives each job two or three).
--
-- `jobs_key_updated` (coalesce_key, updated_at) answers debounce's "when did this key last
-- see activity?". `updated_at` changes at every transition, so a claim gave it an entry (no
-- PostgreSQL update of `state` is in place) and the completion another. It now leaves out
-- running jobs: the activity of a key's running job (there is at most one) is read through
-- `running_jobs`, one probe of its unique key and one of `jobs`' primary key (see
-- `store::coalesce::LAST_ACTIVITY`).
DROP INDEX jobs_key_updated;
CREATE INDEX jobs_key_updated ON jobs (coalesce_key, updated_at) WHERE state <> 'running';
-- The per-lane bound counts the running jobs of one lane, never of no lane; syncs have
-- none, so a running sync need not be in this index.
DROP INDEX running_jobs_lane;
CREATE INDEX running_jobs_lane ON running_jobs (lane) WHERE lane IS NOT NULL;
