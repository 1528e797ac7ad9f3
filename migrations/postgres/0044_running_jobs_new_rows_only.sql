-- The statement trigger of 0043 joined the old and new rows of every `jobs` update. A
-- `DELETE … USING` a join carries each joined row whole (PostgreSQL keeps it for a
-- concurrent-update recheck), so every acknowledgement flattened and copied the full
-- `jobs` rows twice, and half the server's CPU in a batched burn-down went to the trigger
-- (issue 19: `ExecEvalWholeRowVar` 19%, the trigger 43% of the PostgreSQL processes).
--
-- The new rows alone say everything `running_jobs` needs: a job that is not running now
-- has no row there, and a job
-- that is running has one (inserted unless it is already there). `ON CONFLICT (job_id)`
-- names the one conflict that is expected; a second running job of a key still violates
-- the unique `coalesce_key` and fails the statement that starts it, as before. Keeping no
-- old rows also halves what PostgreSQL stores per updated row for the trigger.
CREATE OR REPLACE FUNCTION running_jobs_follow_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The ids go through a materialised CTE so that the join carries them, not whole rows;
    -- `job_id = ANY (ARRAY(…))` instead was planned as a scan of `running_jobs` testing
    -- every row against the whole list.
    WITH stopped AS MATERIALIZED (SELECT n.id FROM new_jobs n WHERE n.state <> 'running')
    DELETE FROM running_jobs r USING stopped s WHERE r.job_id = s.id;
    INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
        SELECT n.id, n.kind, n.lane, n.coalesce_key FROM new_jobs n WHERE n.state = 'running'
        ON CONFLICT (job_id) DO NOTHING;
    RETURN NULL;
END $$;
DROP TRIGGER running_jobs_on_update ON jobs;
CREATE TRIGGER running_jobs_on_update AFTER UPDATE ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION running_jobs_follow_updates();
