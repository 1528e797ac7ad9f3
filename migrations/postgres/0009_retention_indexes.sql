-- Retention (src/store/retention.rs) deletes finished jobs by state and age in small
-- batches; each batch must find its rows through an index, not a scan of the queue.
CREATE INDEX jobs_finished ON jobs (state, updated_at);
CREATE INDEX deliveries_state ON deliveries (state, run_id);
CREATE INDEX schedule_firings_created ON schedule_firings (created_at);
