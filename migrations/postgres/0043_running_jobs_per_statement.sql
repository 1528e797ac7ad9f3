-- `running_jobs` followed `jobs` one row at a time: a claim or an acknowledgement of 500 jobs
-- ran the trigger function 500 times, each with its own DELETE or INSERT. One trigger per
-- statement reads the statement's old and new rows (transition tables) and moves them all in
-- two statements (issue 19: server CPU per job in a batched burn-down). Every check and the
-- unique key per `coalesce_key` stay as they were; a second running job of a key still fails
-- the statement that starts it. Inserts and deletes of running jobs are rare (a restore, a
-- purge) and keep their row triggers. SQLite has no statement triggers; its row triggers stay.
CREATE FUNCTION running_jobs_follow_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM running_jobs r
        USING old_jobs o JOIN new_jobs n ON n.id = o.id
        WHERE r.job_id = o.id AND o.state = 'running' AND n.state <> 'running';
    INSERT INTO running_jobs (job_id, kind, lane, coalesce_key)
        SELECT n.id, n.kind, n.lane, n.coalesce_key
        FROM new_jobs n JOIN old_jobs o ON o.id = n.id
        WHERE n.state = 'running' AND o.state <> 'running';
    RETURN NULL;
END $$;
DROP TRIGGER running_jobs_on_update ON jobs;
CREATE TRIGGER running_jobs_on_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION running_jobs_follow_updates();
