-- The claim scans runnable jobs in (priority, run_at, id) order and stops at the first it may
-- take. Without this partial index it sorted every waiting job on each claim (O(n) per claim).
CREATE INDEX jobs_runnable ON jobs (priority, run_at, id) WHERE state IN ('queued', 'failed');
