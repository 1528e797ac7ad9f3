//! Reads the sync sources need: the newest ritual UCF event in our own store, and the
//! ecosystem's agent profiles database (someone else's SQLite file).
//!
//! The profiles database is opened read-only, one connection per read, and closed at once:
//! we never write to it, never migrate it and never hold it open between runs, so the
//! ecosystem can replace or vacuum it at any time. A table it lacks is read as empty (a
//! young installation may not have created all three yet); a column it lacks reads as NULL,
//! except the one that names the agent, without which the table is skipped and named.

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
    /// Tables that could not be read, each naming the table and the missing column.
    pub problems: Vec<String>,
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

/// The profiles database's layout as we read it: per table, each column with the SQL type it
/// is cast to. The first column of each table is required (it names the agent, or the
/// agents); any other column may be missing and then reads as NULL, which accepts the
/// simpler layouts the ecosystem has used. The README's "Agent profiles database" section
/// lists the same tables and columns.
const AGENT_STATS: (&str, &[(&str, &str)]) = (
    "agent_stats",
    &[
        ("agent_name", "TEXT"),
        ("total_tasks", "INTEGER"),
        ("successful_tasks", "INTEGER"),
        ("total_collaborations", "INTEGER"),
        ("average_harmony_impact", "REAL"),
        ("last_active", "TEXT"),
    ],
);
const TASK_HISTORY: (&str, &[(&str, &str)]) = (
    "task_history",
    &[
        ("agent_name", "TEXT"),
        ("success", ""),
        ("duration_seconds", "REAL"),
        ("harmony_before", "REAL"),
        ("harmony_after", "REAL"),
        ("timestamp", "TEXT"),
    ],
);
const COLLABORATIONS: (&str, &[(&str, &str)]) = ("collaborations", &[("agents", "")]);

/// Reads the agent profiles database at `path` (read-only). A table whose required column is
/// missing is skipped and named in [`AgentProfiles::problems`]; the other tables still count.
pub async fn read_agent_profiles(path: &str) -> Result<AgentProfiles> {
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .disable_statement_logging();
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mut out = AgentProfiles::default();
    // One `(table, column, cast)` projection per wanted column: the column itself when the
    // table has it, NULL when it does not. CASTs make the decoding independent of how the
    // ecosystem typed its columns.
    let mut layouts = Vec::new();
    for (table, columns) in [AGENT_STATS, TASK_HISTORY, COLLABORATIONS] {
        let present: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(table)
            .fetch_all(&mut conn)
            .await?;
        if present.is_empty() {
            layouts.push(None); // A young installation may not have created it yet.
            continue;
        }
        let (required, _) = columns[0];
        if !present.iter().any(|c| c == required) {
            out.problems
                .push(format!("table {table} has no column {required}"));
            layouts.push(None);
            continue;
        }
        layouts.push(Some((columns, present)));
    }
    if let Some(layout) = &layouts[0] {
        let col = |name| project(layout, name);
        let sql = format!(
            "SELECT CAST(agent_name AS TEXT) AS agent_name, {} AS total_tasks, \
                    {} AS successful_tasks, {} AS total_collaborations, \
                    {} AS average_harmony_impact, {} AS last_active \
             FROM agent_stats WHERE agent_name IS NOT NULL ORDER BY agent_name",
            col("total_tasks"),
            col("successful_tasks"),
            col("total_collaborations"),
            col("average_harmony_impact"),
            col("last_active"),
        );
        out.stats = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await?;
    }
    if let Some(layout) = &layouts[1] {
        let col = |name| project(layout, name);
        let success = col("success");
        let sql = format!(
            "SELECT CAST(agent_name AS TEXT) AS agent_name, COUNT(*) AS tasks, \
                    SUM(CASE WHEN {success} IN (1, '1', 'true', 'True', 'TRUE') THEN 1 ELSE 0 END) AS succeeded, \
                    AVG({}) AS mean_duration_secs, \
                    AVG({} - {}) AS harmony_impact, \
                    CAST(MAX({}) AS TEXT) AS last_task_at \
             FROM task_history WHERE agent_name IS NOT NULL GROUP BY agent_name ORDER BY agent_name",
            col("duration_seconds"),
            col("harmony_after"),
            col("harmony_before"),
            col("timestamp"),
        );
        out.tasks = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await?;
    }
    if layouts[2].is_some() {
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

/// The projection of column `name`: itself (cast) when the table has it, else `NULL`.
fn project((columns, present): &(&[(&str, &str)], Vec<String>), name: &str) -> String {
    let cast = columns.iter().find(|(c, _)| *c == name).map_or("", |c| c.1);
    match (present.iter().any(|p| p == name), cast) {
        (false, _) => "NULL".to_owned(),
        (true, "") => name.to_owned(),
        (true, t) => format!("CAST({name} AS {t})"),
    }
}
