//! Incremental-fetch cursors and ETags, per (repo, resource).
//!
//! Cursors are only ever written inside `finish_run`'s transaction (never while a run is in
//! flight), so a failed run cannot move them.

use serde::Serialize;
use sqlx::{Any, FromRow, Transaction};

use super::{Result, Store};

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct CursorRow {
    pub repo: String,
    /// `commits`, `issues`, `prs`, `releases`, `deployments`, `stats`.
    pub resource: String,
    /// Resource-specific position, e.g. the newest `updated_at` seen.
    pub position: Option<String>,
    /// ETag of page 1 at that position.
    pub etag: Option<String>,
    pub updated_at: i64,
}

impl Store {
    pub async fn cursors_for(&self, repo: &str) -> Result<Vec<CursorRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM cursors WHERE repo = $1 ORDER BY resource")
                .bind(repo)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Every cursor (a cycle reads them all at once instead of one query per repository).
    pub async fn cursors_all(&self) -> Result<Vec<CursorRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM cursors ORDER BY repo, resource")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Removes a repository's cursors (and with them its ETags), in a run's transaction.
    pub(super) async fn forget_repo_in(
        tx: &mut Transaction<'static, Any>,
        repo: &str,
    ) -> Result<()> {
        sqlx::query("DELETE FROM cursors WHERE LOWER(repo) = LOWER($1)")
            .bind(repo)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(super) async fn put_cursor_in(
        tx: &mut Transaction<'static, Any>,
        c: &CursorRow,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO cursors (repo, resource, position, etag, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (repo, resource) DO UPDATE SET position = excluded.position, \
                 etag = excluded.etag, updated_at = excluded.updated_at",
        )
        .bind(&c.repo)
        .bind(&c.resource)
        .bind(&c.position)
        .bind(&c.etag)
        .bind(c.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
