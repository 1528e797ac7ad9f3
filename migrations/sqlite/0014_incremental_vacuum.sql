-- no-transaction
-- Give pruned space back to the file system. With auto_vacuum=INCREMENTAL, pages freed by
-- retention are handed back a few at a time (`PRAGMA incremental_vacuum(N)` after each
-- pruning pass) instead of only being reused. Switching an existing database to it needs
-- one VACUUM, which rewrites the file once (free disk of about the database's size, and
-- time proportional to it): this is that one time. A fresh database is empty here.
PRAGMA auto_vacuum = INCREMENTAL;
VACUUM;
