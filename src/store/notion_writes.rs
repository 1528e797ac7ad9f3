//! The baseline of conflict detection: what helix-sync last wrote to each Notion page and
//! when Notion says that write happened (see `sync::publishers::notion::conflicts`).
//!
//! One row per page, replaced after every write of ours. It holds plain values (text,
//! numbers, option names), never a credential or a whole Notion answer.

use sqlx::FromRow;

use super::{Result, Store};

/// Our last write to one page.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct NotionWriteRow {
    pub page_id: String,
    /// The run whose delivery wrote it.
    pub run_id: String,
    /// The page's `last_edited_time` right after our write.
    pub edited_time: String,
    /// The page's `last_edited_by` id right after our write (our integration's user).
    pub edited_by: String,
    /// JSON object: property name → plain value as Notion stored it.
    pub properties: String,
    /// JSON array: properties left to a person's edit.
    pub held: String,
    pub updated_at: i64,
}

impl Store {
    pub async fn notion_write(&self, page_id: &str) -> Result<Option<NotionWriteRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM notion_writes WHERE page_id = $1")
                .bind(page_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn put_notion_write(&self, w: &NotionWriteRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO notion_writes (page_id, run_id, edited_time, edited_by, properties, held, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (page_id) DO UPDATE SET \
             run_id = excluded.run_id, edited_time = excluded.edited_time, edited_by = excluded.edited_by, \
             properties = excluded.properties, held = excluded.held, updated_at = excluded.updated_at",
        )
        .bind(&w.page_id)
        .bind(&w.run_id)
        .bind(&w.edited_time)
        .bind(&w.edited_by)
        .bind(&w.properties)
        .bind(&w.held)
        .bind(w.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
