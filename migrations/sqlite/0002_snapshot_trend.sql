-- A small per-snapshot extract for trend charts: `{"at": <taken_at>, "ucf": {metric: value}}`.
-- Reading the last N runs' UCF values from it avoids decompressing and parsing N whole
-- snapshots on every run. NULL for snapshots stored before this column existed (the reader
-- falls back to the snapshot itself and fills the column in).
ALTER TABLE snapshots ADD COLUMN trend TEXT;
