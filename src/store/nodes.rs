//! The node registry: every process that runs workers registers a row and heartbeats it.
//!
//! A job's `locked_by` starts with its node's id, so the jobs of a node that stopped
//! heartbeating — or of an earlier incarnation of a node that has since restarted under the
//! same name — can be handed back at once instead of when their leases run out. A node never
//! declares itself dead; a rescued job that was in fact still running finds its lease gone at
//! its next heartbeat (at-least-once, as with lease expiry).

use serde::Serialize;
use sqlx::FromRow;

use super::jobs::RESCUE_OF_NODE;
use super::{Result, Store};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub name: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
}

impl Store {
    /// Registers this incarnation of node `name`.
    pub async fn register_node(&self, id: &str, name: &str, now: i64) -> Result<()> {
        let _turn = self.gate().await;
        sqlx::query(
            "INSERT INTO nodes (id, name, started_at, heartbeat_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&self.lease_pool)
        .await?;
        Ok(())
    }

    /// Heartbeats node `id`; false when its row is gone (another node took it for dead).
    pub async fn node_heartbeat(&self, id: &str, now: i64) -> Result<bool> {
        let _turn = self.gate().await;
        Ok(
            sqlx::query("UPDATE nodes SET heartbeat_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.lease_pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Removes node `id` (clean shutdown, after its workers released their jobs).
    pub async fn remove_node(&self, id: &str) -> Result<()> {
        let _turn = self.gate().await;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&self.lease_pool)
            .await?;
        Ok(())
    }

    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        Ok(sqlx::query_as("SELECT * FROM nodes ORDER BY started_at")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Rescues the running jobs of every node other than `me` that is dead: its heartbeat is
    /// older than `dead_before`, or it is an earlier incarnation of `my_name`. Their rows are
    /// removed. Returns the rescued job ids.
    pub async fn rescue_dead_nodes(
        &self,
        me: &str,
        my_name: &str,
        dead_before: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let dead: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM nodes WHERE id <> $1 AND (heartbeat_at < $2 OR name = $3)",
        )
        .bind(me)
        .bind(dead_before)
        .bind(my_name)
        .fetch_all(&self.pool)
        .await?;
        let mut rescued = Vec::new();
        for (id, name) in dead {
            let (_turn, mut tx) = self.tx_on(&self.lease_pool).await?;
            let reason = format!("node {name} ({id}) stopped: rescued before its lease expired");
            let ids: Vec<String> = sqlx::query_scalar(RESCUE_OF_NODE)
                .bind(now)
                .bind(&reason)
                .bind(format!("{id}/%"))
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM nodes WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            if !ids.is_empty() {
                tracing::warn!(node = %name, node_id = %id, jobs = ids.len(), "rescued the jobs of a dead node");
            }
            rescued.extend(ids);
        }
        Ok(rescued)
    }
}
