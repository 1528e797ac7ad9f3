//! Reads the sync sources need: the newest ritual UCF event in our own store, and the
//! ecosystem's agent profiles database (someone else's SQLite file).
//!
//! The profiles database is opened read-only, one connection per read, and closed at once:
//! we never write to it, never migrate it and never hold it open between runs, so the
//! ecosystem can replace or vacuum it at any time. A table it lacks is read as empty (a
//! young installation may not have created all three yet).

use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, FromRow, SqliteConnection};

use super::{EventRow, Result, Store};

/// One agent's row of `agent_stats` (every column may be missing or NULL).
#[derive(Debug, Clone, Default, PartialEq, FromRow)]
pub struct AgentStatsRow {
    pub agent_name: String,
    pub total_tasks: Option<i64>,
    pub successful_tasks: Option<i64>,
    pub total_collaborations: Option<i64>,
    pub average_harmony_impact: Option<f64>,
    pub last_active: Option<String>,
}

/// `task_history` aggregated per agent.
#[derive(Debug, Clone, Default, PartialEq, FromRow)]
pub struct TaskAggregate {
    pub agent_name: String,
    pub tasks: i64,
    pub succeeded: i64,
    pub mean_duration_secs: Option<f64>,
    /// Mean of `harmony_after - harmony_before`.
    pub harmony_impact: Option<f64>,
    pub last_task_at: Option<String>,
}

/// Everything read from the profiles database in one go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentProfiles {
    pub stats: Vec<AgentStatsRow>,
    pub tasks: Vec<TaskAggregate>,
    /// `(agent, collaborations it took part in)`, from the JSON `agents` lists.
    pub collaborations: Vec<(String, i64)>,
    /// Number of rows in `collaborations`.
    pub collaboration_total: i64,
}

impl Store {
    /// The newest ritual event that carried a `ucf_after` state. The JSON test runs here
    /// rather than in SQL so that one query serves both backends; ritual events without a
    /// state (`ucf.updated` may lack one) are rare, so a short window of candidates suffices.
    pub async fn latest_ritual_ucf(&self) -> Result<Option<EventRow>> {
        let candidates: Vec<EventRow> = sqlx::query_as(
            "SELECT * FROM events WHERE source = 'ritual' \
               AND event_type IN ('ritual.completed', 'ucf.updated') \
             ORDER BY received_at DESC, id DESC LIMIT 50",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(candidates.into_iter().find(|e| {
            serde_json::from_str::<serde_json::Value>(&e.payload)
                .is_ok_and(|v| v.pointer("/data/ucf_after").is_some_and(|u| u.is_object()))
        }))
    }
}

/// Reads the agent profiles database at `path` (read-only).
pub async fn read_agent_profiles(path: &str) -> Result<AgentProfiles> {
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .disable_statement_logging();
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await?;
    let has = |t: &str| tables.iter().any(|n| n == t);
    let mut out = AgentProfiles::default();
    if has("agent_stats") {
        // CASTs make the decoding independent of how the ecosystem typed its columns.
        out.stats = sqlx::query_as(
            "SELECT CAST(agent_name AS TEXT) AS agent_name, \
                    CAST(total_tasks AS INTEGER) AS total_tasks, \
                    CAST(successful_tasks AS INTEGER) AS successful_tasks, \
                    CAST(total_collaborations AS INTEGER) AS total_collaborations, \
                    CAST(average_harmony_impact AS REAL) AS average_harmony_impact, \
                    CAST(last_active AS TEXT) AS last_active \
             FROM agent_stats WHERE agent_name IS NOT NULL ORDER BY agent_name",
        )
        .fetch_all(&mut conn)
        .await?;
    }
    if has("task_history") {
        out.tasks = sqlx::query_as(
            "SELECT CAST(agent_name AS TEXT) AS agent_name, COUNT(*) AS tasks, \
                    SUM(CASE WHEN success IN (1, '1', 'true', 'True', 'TRUE') THEN 1 ELSE 0 END) AS succeeded, \
                    AVG(CAST(duration_seconds AS REAL)) AS mean_duration_secs, \
                    AVG(CAST(harmony_after AS REAL) - CAST(harmony_before AS REAL)) AS harmony_impact, \
                    CAST(MAX(timestamp) AS TEXT) AS last_task_at \
             FROM task_history WHERE agent_name IS NOT NULL GROUP BY agent_name ORDER BY agent_name",
        )
        .fetch_all(&mut conn)
        .await?;
    }
    if has("collaborations") {
        out.collaborations = sqlx::query_as(
            "SELECT CAST(j.value AS TEXT), COUNT(*) FROM collaborations c, json_each(c.agents) j \
             WHERE json_valid(c.agents) AND json_type(c.agents) = 'array' \
             GROUP BY j.value ORDER BY j.value",
        )
        .fetch_all(&mut conn)
        .await?;
        out.collaboration_total = sqlx::query_scalar("SELECT COUNT(*) FROM collaborations")
            .fetch_one(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(out)
}
