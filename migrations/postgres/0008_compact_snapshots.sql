-- Compact snapshots (src/store/snapshots.rs), as on SQLite: whole (`zstd`) or a zstd delta
-- against an earlier snapshot of the same chain (`zstd-delta`). Older rows are whole gzip.
ALTER TABLE snapshots ADD COLUMN codec TEXT NOT NULL DEFAULT 'gzip';
ALTER TABLE snapshots ADD COLUMN base_run_id TEXT;
ALTER TABLE snapshots ADD COLUMN chain_root TEXT;
ALTER TABLE snapshots ADD COLUMN chain_depth BIGINT NOT NULL DEFAULT 0;
-- Already compressed: TOAST should not try again.
ALTER TABLE snapshots ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX snapshots_chain ON snapshots (chain_root);
CREATE INDEX snapshots_created ON snapshots (created_at, run_id);
