-- Event payloads are stored zstd-compressed (src/store/payload.rs), as on SQLite. Rows from
-- before this migration keep their text in `payload`; newer rows leave `payload` empty and
-- hold the compressed text here. EXTERNAL storage: the bytes are already compressed, so
-- TOAST should not try again.
ALTER TABLE events ADD COLUMN payload_zstd BYTEA;
ALTER TABLE events ALTER COLUMN payload_zstd SET STORAGE EXTERNAL;
