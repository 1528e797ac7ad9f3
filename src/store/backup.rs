//! Backup and restore of a SQLite database, and the lock that keeps a restore away from a
//! running service.
//!
//! **Backup** is `VACUUM INTO`: one read transaction on the live database, so it sees one
//! consistent moment while ingest keeps committing (WAL readers and writers do not block each
//! other), and it writes a compact, self-contained file (no WAL beside it). The copy is made
//! under a temporary name next to the destination, synced, and only then renamed: a backup
//! cut short never leaves a half file under the name an operator would restore from.
//!
//! **Restore** runs while the service is stopped, and refuses otherwise: every process that
//! opens the database holds a shared `flock` on `<database>.lock` for as long as it has it
//! open, and restore needs that lock exclusively. It copies the backup next to the database,
//! vets the copy (SQLite says it is intact, it has helix-sync's tables, its schema is not
//! newer than this binary's), and only then swaps it in: the old database is checkpointed so
//! nothing lives only in its WAL, kept under `<database>.before-restore-<time>`, and the copy
//! renamed over it. Any refusal happens before the swap and removes the copy, so a refused
//! restore changes nothing.
//!
//! PostgreSQL has standard tools for both (`pg_dump` / `pg_restore`, see the README); these
//! refuse a `postgres://` URL with that pointer rather than half-doing it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::schema::{binary_schema_version, check_known};
use super::{sqlite_file, Backend, Result, Store, StoreError};

/// Tables a helix-sync database has had since its first migration.
const CORE_TABLES: [&str; 5] = ["events", "jobs", "sync_runs", "snapshots", "deliveries"];

const POSTGRES_HINT: &str = "DATABASE_URL is PostgreSQL: back it up with pg_dump and restore \
                             with pg_restore (see the README's Backup section)";

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's schema version.
    pub schema_version: i64,
    /// Where the database that was replaced now is (`None` when there was none).
    pub previous: Option<PathBuf>,
}

fn refused(message: impl Into<String>) -> StoreError {
    StoreError::Refused(message.into())
}

/// The lock file that tells processes on one database file about each other.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the shared lock every process holds while it has the database open.
pub(super) fn hold_shared(db: &str) -> Result<File> {
    let file = open_lock(Path::new(db))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).map_err(|_| {
        refused(format!(
            "{db} is being restored (helix-sync restore holds it); start again once it is done"
        ))
    })?;
    Ok(file)
}

fn open_lock(db: &Path) -> Result<File> {
    let path = lock_path(db);
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| refused(format!("cannot open the lock file {}: {e}", path.display())))
}

/// Writes `bytes`' file to disk, and the directory entry that names it.
fn sync_file_and_dir(path: &Path) -> Result<()> {
    let io = |e: std::io::Error| refused(format!("cannot sync {}: {e}", path.display()));
    File::open(path).and_then(|f| f.sync_all()).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl Store {
    /// Writes a consistent copy of the live database to `dest` (see the module docs).
    pub async fn backup_to(&self, dest: &Path) -> Result<i64> {
        if self.backend == Backend::Postgres {
            return Err(refused(POSTGRES_HINT));
        }
        if dest.exists() {
            return Err(refused(format!(
                "{} already exists; choose a new file name",
                dest.display()
            )));
        }
        let tmp = sibling(dest, &format!(".partial-{}", uuid::Uuid::now_v7().simple()));
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(tmp.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await;
        let finished = copied
            .map_err(StoreError::from)
            .and_then(|_| sync_file_and_dir(&tmp))
            .and_then(|()| {
                fs::rename(&tmp, dest).map_err(|e| {
                    refused(format!("cannot move the copy to {}: {e}", dest.display()))
                })
            })
            .and_then(|()| sync_file_and_dir(dest));
        if let Err(e) = finished {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.schema_version().await
    }
}

/// Puts the backup at `backup` in place of the database `database_url` names, once the
/// service is stopped (see the module docs).
pub fn restore(backup: &Path, database_url: &str) -> Result<Restored> {
    if !database_url.starts_with("sqlite:") {
        return Err(refused(POSTGRES_HINT));
    }
    let db = PathBuf::from(
        sqlite_file(database_url)
            .ok_or_else(|| refused("DATABASE_URL names an in-memory database"))?,
    );
    if !backup.is_file() {
        return Err(refused(format!("{} is not a file", backup.display())));
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let lock = open_lock(&db)?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            refused(format!(
                "{} is open in a running helix-sync (the service or another command): stop it, then restore",
                db.display()
            ))
        },
    )?;
    let copy = sibling(&db, ".restoring");
    let staged = fs::copy(backup, &copy)
        .map_err(|e| refused(format!("cannot copy {}: {e}", backup.display())))
        .and_then(|_| vet(&copy, backup))
        .and_then(|version| sync_file_and_dir(&copy).map(|()| version));
    let schema_version = match staged {
        Ok(v) => v,
        Err(e) => {
            remove_with_sidecars(&copy);
            return Err(e);
        }
    };
    let previous = match set_aside(&db) {
        Ok(p) => p,
        Err(e) => {
            remove_with_sidecars(&copy);
            return Err(e);
        }
    };
    fs::rename(&copy, &db)
        .map_err(|e| refused(format!("cannot move the copy into {}: {e}", db.display())))?;
    sync_file_and_dir(&db)?;
    drop(lock);
    Ok(Restored {
        schema_version,
        previous,
    })
}

/// Checks that `copy` is an intact helix-sync database this binary may open; returns its
/// schema version. `named` is what the operator passed, for the messages.
fn vet(copy: &Path, named: &Path) -> Result<i64> {
    let not_ours = |why: String| {
        refused(format!(
            "{} is not a helix-sync database ({why}); nothing was changed",
            named.display()
        ))
    };
    let conn = rusqlite::Connection::open_with_flags(
        copy,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| not_ours(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_ours(e.to_string()))?;
    if check != "ok" {
        return Err(not_ours(format!("SQLite integrity check: {check}")));
    }
    let has = |table: &str| -> bool {
        conn.query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |_| Ok(()),
        )
        .is_ok()
    };
    if !has("_sqlx_migrations") {
        return Err(not_ours("it has no migration history".into()));
    }
    if let Some(missing) = CORE_TABLES.iter().find(|t| !has(t)) {
        return Err(not_ours(format!("it has no `{missing}` table")));
    }
    let applied: Vec<i64> = conn
        .prepare("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| not_ours(e.to_string()))?;
    check_known(Backend::Sqlite, &applied)
        .map_err(|e| refused(format!("{}: {e}; nothing was changed", named.display())))?;
    let version = applied.last().copied().unwrap_or(0);
    debug_assert!(version <= binary_schema_version(Backend::Sqlite));
    conn.close().map_err(|(_, e)| not_ours(e.to_string()))?;
    Ok(version)
}

/// Moves the current database out of the way, keeping it: its WAL is checkpointed first so
/// nothing lives only there, then the file is kept as `<db>.before-restore-<time>`.
fn set_aside(db: &Path) -> Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    if let Ok(conn) = rusqlite::Connection::open(db) {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|e| {
                refused(format!(
                    "cannot checkpoint the current database {} before replacing it: {e}; nothing was changed",
                    db.display()
                ))
            })?;
        let _ = conn.close();
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = sibling(db, &format!(".before-restore-{stamp}"));
    fs::hard_link(db, &aside).map_err(|e| {
        refused(format!(
            "cannot keep the current database as {}: {e}; nothing was changed",
            aside.display()
        ))
    })?;
    // Empty after the checkpoint; a stale one must never meet the restored file.
    for side in ["-wal", "-shm"] {
        let _ = fs::remove_file(sibling(db, side));
    }
    Ok(Some(aside))
}

fn remove_with_sidecars(path: &Path) {
    for side in ["", "-wal", "-shm", "-journal"] {
        let _ = fs::remove_file(sibling(path, side));
    }
}
