-- A job's attempt history goes with the job: retention deletes jobs in batches, and their
-- attempts must not stay behind as rows nothing shows or prunes. (A trigger rather than a
-- foreign key, as on SQLite: the job may be deleted before its last attempt is written.)
DELETE FROM job_attempts WHERE job_id NOT IN (SELECT id FROM jobs);
CREATE FUNCTION job_attempts_follow_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_attempts WHERE job_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER job_attempts_follow_jobs AFTER DELETE ON jobs FOR EACH ROW
    EXECUTE FUNCTION job_attempts_follow_jobs();
