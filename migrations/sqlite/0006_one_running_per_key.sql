-- At most one running job per coalesce key, enforced by the database itself (the claim
-- query already avoids it; this makes a race between processes impossible, not just unlikely).
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (coalesce_key) WHERE state = 'running';
