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
