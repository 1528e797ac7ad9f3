//! How much disk the database takes, and how much is left: for `/metrics`, the status page
//! and `/health`'s size and free-space thresholds.
//!
//! Two questions with different costs, kept apart so the frequent one stays cheap:
//! [`Store::disk_usage`] (sizes and free space: file metadata, one `statvfs`, one catalog
//! query on PostgreSQL) is asked on every health check; [`Store::table_rows`] (rows per
//! table) is asked by scrapes and the status page only. On SQLite rows are exact counts; on
//! PostgreSQL they are the planner's estimates (`pg_class.reltuples`), because an exact
//! count there reads the whole table. PostgreSQL's WAL and free space belong to the server,
//! not to this database: they are `None` here (watch them on the server).

use serde::Serialize;

use super::{sqlite_file, Backend, Result, Store};

/// The tables whose rows are counted, in the order they are shown.
pub const TABLES: [&str; 10] = [
    "events",
    "jobs",
    "job_attempts",
    "sync_runs",
    "deliveries",
    "snapshots",
    "cursors",
    "schedule_firings",
    "audit_log",
    "kv",
];

/// Disk taken and left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    /// The database: the SQLite file, or the total size of our tables on PostgreSQL.
    pub database_bytes: u64,
    /// SQLite's write-ahead log (`None` on PostgreSQL).
    pub wal_bytes: Option<u64>,
    /// Free space for an unprivileged writer on the database's file system (SQLite only).
    pub free_bytes: Option<u64>,
}

fn file_len(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

impl Store {
    pub async fn disk_usage(&self) -> Result<DiskUsage> {
        match self.backend {
            Backend::Sqlite => {
                let Some(path) = sqlite_file(&self.url) else {
                    return Ok(DiskUsage::default());
                };
                let dir = std::path::Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                let free = rustix::fs::statvfs(dir)
                    .ok()
                    .map(|s| s.f_bavail.saturating_mul(s.f_frsize));
                Ok(DiskUsage {
                    database_bytes: file_len(path),
                    wal_bytes: Some(file_len(&format!("{path}-wal"))),
                    free_bytes: free,
                })
            }
            Backend::Postgres => {
                let mut sql = String::from("SELECT CAST(COALESCE(SUM(pg_total_relation_size(to_regclass(t))), 0) AS BIGINT) FROM (VALUES ");
                for (i, _) in TABLES.iter().enumerate() {
                    sql.push_str(&format!(
                        "{}(CAST(${} AS TEXT))",
                        if i == 0 { "" } else { ", " },
                        i + 1
                    ));
                }
                sql.push_str(") AS tables (t)");
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
                for t in TABLES {
                    q = q.bind(t);
                }
                let bytes = q.fetch_one(&self.pool).await?;
                Ok(DiskUsage {
                    database_bytes: bytes.max(0) as u64,
                    wal_bytes: None,
                    free_bytes: None,
                })
            }
        }
    }

    /// Rows per table, in [`TABLES`] order (estimates on PostgreSQL, see the module docs).
    pub async fn table_rows(&self) -> Result<Vec<(&'static str, i64)>> {
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let n: i64 = match self.backend {
                Backend::Sqlite => {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(&self.pool)
                        .await?
                }
                Backend::Postgres => sqlx::query_scalar(
                    "SELECT CAST(GREATEST(COALESCE(MAX(reltuples), 0), 0) AS BIGINT) FROM pg_class \
                     WHERE oid = to_regclass($1)",
                )
                .bind(table)
                .fetch_one(&self.pool)
                .await?,
            };
            out.push((table, n));
        }
        Ok(out)
    }
}
