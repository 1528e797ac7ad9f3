-- The optional model-written paragraph of a run's change summary (or the named warning of why
-- there is none): JSON `{"kind": "generated", "model", "text"}` or `{"warning", "message"}`.
-- NULL when no summary endpoint is configured. Written before the run commits; pruned with
-- the run, since it is a column of it.
ALTER TABLE sync_runs ADD COLUMN generated_summary TEXT;
