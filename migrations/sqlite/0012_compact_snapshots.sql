-- Compact snapshots (src/store/snapshots.rs): a snapshot is stored either whole (`zstd`) or
-- as a zstd delta against an earlier snapshot of the same chain (`zstd-delta`, the base's
-- bytes as the dictionary). Rows from before this migration are whole and gzip-compressed
-- (`gzip`, the default here) and each is a chain of its own (`chain_root` NULL = itself).
-- Retention deletes a chain only as a whole, so no kept snapshot ever loses its base.
ALTER TABLE snapshots ADD COLUMN codec TEXT NOT NULL DEFAULT 'gzip';
ALTER TABLE snapshots ADD COLUMN base_run_id TEXT;
ALTER TABLE snapshots ADD COLUMN chain_root TEXT;
ALTER TABLE snapshots ADD COLUMN chain_depth INTEGER NOT NULL DEFAULT 0;
CREATE INDEX snapshots_chain ON snapshots (chain_root);
-- "The newest snapshot" is asked on every run; without this it was a scan of the table.
CREATE INDEX snapshots_created ON snapshots (created_at, run_id);
