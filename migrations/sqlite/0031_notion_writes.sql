-- What helix-sync last wrote to each Notion page it updates, and when Notion says that write
-- happened (its last_edited_time / last_edited_by after our request): the baseline against
-- which a person's later edit is recognised (src/sync/publishers/notion/conflicts.rs).
-- `properties` maps each of our properties to its plain value as Notion stored it; `held`
-- lists the properties left to a person's edit (policy theirs or flag).
CREATE TABLE notion_writes (
    page_id     TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    edited_time TEXT NOT NULL,
    edited_by   TEXT NOT NULL,
    properties  TEXT NOT NULL,
    held        TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL
);
