-- Versions and rollback (issue 18): a rollback is a run of its own (trigger 'rollback') that
-- publishes an earlier run's snapshot again; these say which run it restored, which run was
-- published before it, and who asked. NULL on every other run. `conflicts` holds the Notion
-- edits a run's delivery kept and flagged (JSON array), written when Notion is published.
ALTER TABLE sync_runs ADD COLUMN rollback_to TEXT;
ALTER TABLE sync_runs ADD COLUMN rollback_from TEXT;
ALTER TABLE sync_runs ADD COLUMN requested_by TEXT;
ALTER TABLE sync_runs ADD COLUMN conflicts TEXT;
