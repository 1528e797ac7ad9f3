-- Event payloads are stored zstd-compressed (src/store/payload.rs): under sustained ingest
-- the bytes each commit writes, twice (WAL, then the file), were the cost. Rows from before
-- this migration keep their text in `payload`; newer rows leave `payload` empty and hold
-- the compressed text here. Adding a nullable column rewrites nothing.
ALTER TABLE events ADD COLUMN payload_zstd BLOB;
