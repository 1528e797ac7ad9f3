-- A job's attempt history goes with the job: retention deletes jobs in batches, and their
-- attempts must not stay behind as rows nothing shows or prunes. (A trigger, because SQLite
-- cannot add ON DELETE CASCADE to an existing table.)
DELETE FROM job_attempts WHERE job_id NOT IN (SELECT id FROM jobs);
CREATE TRIGGER job_attempts_follow_jobs AFTER DELETE ON jobs
BEGIN
    DELETE FROM job_attempts WHERE job_id = OLD.id;
END;
