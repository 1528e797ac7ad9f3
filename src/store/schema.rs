//! Which schema a database has, and refusing one this binary does not know.
//!
//! sqlx refuses a database that has a migration the binary lacks with "migration N was
//! previously applied but is missing in the resolved migrations", which tells an operator
//! who just rolled back a deploy nothing about what to do. Before migrating, [`Store::connect`]
//! compares the versions recorded in `_sqlx_migrations` with the binary's own and, when the
//! database is ahead, says so in one line: the database's version, the binary's, and the two
//! ways out (run the newer binary, or restore the backup taken before the upgrade). The same
//! check vets a backup before `restore` puts it in place (`backup`).

use sqlx::migrate::Migrator;

use super::{Backend, Result, Store, StoreError};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The migrations this binary carries for `backend`.
pub(super) fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// The newest schema version this binary knows for `backend`.
pub fn binary_schema_version(backend: Backend) -> i64 {
    migrator(backend)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Refuses `applied` (a database's migration versions) when it holds any this binary does
/// not know; the error names both versions.
pub(super) fn check_known(backend: Backend, applied: &[i64]) -> Result<()> {
    let known: Vec<i64> = migrator(backend).iter().map(|m| m.version).collect();
    let unknown: Vec<i64> = applied
        .iter()
        .copied()
        .filter(|v| !known.contains(v))
        .collect();
    let Some(&newest) = unknown.iter().max() else {
        return Ok(());
    };
    let binary = binary_schema_version(backend);
    Err(if newest > binary {
        StoreError::SchemaTooNew {
            database: applied.iter().copied().max().unwrap_or(newest),
            binary,
        }
    } else {
        StoreError::SchemaUnknown {
            versions: unknown
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            binary,
        }
    })
}

impl Store {
    /// The migration versions applied to this database (empty for a new one).
    pub async fn applied_schema_versions(&self) -> Result<Vec<i64>> {
        let exists: Option<Option<String>> = sqlx::query_scalar(match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => "SELECT CAST(to_regclass('_sqlx_migrations') AS TEXT)",
        })
        .fetch_optional(&self.pool)
        .await?;
        // `to_regclass` answers NULL for a missing table, SQLite no row.
        if exists.flatten().is_none() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The database's schema version: its newest applied migration.
    pub async fn schema_version(&self) -> Result<i64> {
        Ok(self
            .applied_schema_versions()
            .await?
            .last()
            .copied()
            .unwrap_or(0))
    }

    /// Refuses a database written by a newer (or another) build, before sqlx would.
    pub(super) async fn check_schema(&self) -> Result<()> {
        check_known(self.backend, &self.applied_schema_versions().await?)
    }
}
