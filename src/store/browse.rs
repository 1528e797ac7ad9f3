//! The console's questions: events and jobs matching a filter, a page at a time (keyset
//! pagination, newest first), how many match, and the same filters for bulk actions.
//!
//! Each statement is built from the conditions actually given, so the planner sees e.g.
//! `source = $1 ORDER BY received_at DESC` and walks `events_source_received` backwards
//! instead of scanning every event past a `($1 IS NULL OR …)`. Values are always bound,
//! never spliced into the text. Bulk actions are capped at [`BULK_MAX`] rows per request so
//! that one click cannot hold the write lock for minutes.

use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow};

use super::{Backend, Result, Store, SOURCES};

/// The most rows one bulk action touches.
pub const BULK_MAX: i64 = 10_000;

/// Which events to show. Every field is optional; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub source: Option<String>,
    pub event_type: Option<String>,
    pub repo: Option<String>,
    /// The start of the delivery id (a prefix: an index range, where "contains" would scan
    /// every event).
    pub delivery: Option<String>,
    /// Received at or after (unix ms).
    pub from: Option<i64>,
    /// Received before (unix ms).
    pub to: Option<i64>,
    /// The state of the event's job, or `none` for events that queued nothing.
    pub outcome: Option<String>,
}

/// Which jobs to show.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    /// The publish target (lane).
    pub target: Option<String>,
    /// Free text found in the last error.
    pub error: Option<String>,
}

/// An event as a list shows it (no headers or payload).
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct EventLine {
    pub id: String,
    pub source: String,
    pub delivery_id: String,
    pub event_type: String,
    pub repo: Option<String>,
    pub received_at: i64,
    pub job_id: Option<String>,
    /// The job's state (`None`: no job, or it was pruned).
    pub job_state: Option<String>,
}

/// A bound value.
enum Arg {
    Text(String),
    Int(i64),
}

/// `WHERE` conditions and their values, numbered as they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Adds `template` with `$?` replaced by the next placeholder.
    fn push(&mut self, template: &str, arg: Arg) {
        self.args.push(arg);
        self.sql
            .push(template.replace("$?", &format!("${}", self.args.len())));
    }

    fn text(&mut self, template: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.push(template, Arg::Text(v.clone()));
        }
    }

    fn contains(&mut self, column: &str, v: &Option<String>) {
        if let Some(v) = v {
            let escaped = v
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            self.push(
                &format!("{column} LIKE $? ESCAPE '\\'"),
                Arg::Text(format!("%{escaped}%")),
            );
        }
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }

    /// Adds the keyset condition "older than `(at, id)`" on `(at_col, id_col)`.
    fn before(&mut self, at_col: &str, id_col: &str, cursor: &Option<(i64, String)>) {
        if let Some((at, id)) = cursor {
            self.args.push(Arg::Int(*at));
            let a = self.args.len();
            self.args.push(Arg::Text(id.clone()));
            let b = self.args.len();
            // The first conjunct is a plain range, so the planner starts the index walk at
            // the cursor instead of filtering every newer row with the `OR`.
            self.sql.push(format!(
                "{at_col} <= ${a} AND ({at_col} < ${a} OR {id_col} < ${b})"
            ));
        }
    }
}

/// The first text after every text starting with `prefix` (its last character incremented),
/// so that `prefix <= s < upper` holds exactly for the texts starting with it, in byte order.
fn prefix_upper(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn event_conditions(f: &EventFilter, backend: Backend) -> Conditions {
    let mut c = Conditions::default();
    c.text("e.source = $?", &f.source);
    c.text("e.event_type = $?", &f.event_type);
    c.text("e.repo = $?", &f.repo);
    if let Some(p) = &f.delivery {
        // Byte order on both backends (PostgreSQL's index is `COLLATE "C"` to match).
        let col = match backend {
            Backend::Sqlite => "e.delivery_id",
            Backend::Postgres => "e.delivery_id COLLATE \"C\"",
        };
        if backend == Backend::Sqlite && f.source.is_none() {
            // SQLite has no index on the delivery id alone (migration 0046): naming every
            // source lets the range read the dedupe index `(source, delivery_id)`, once per
            // source. (PostgreSQL keeps `events_delivery`: its dedupe index is in the
            // database's collation, and only a `COLLATE "C"` index serves a byte range.)
            c.sql.push(format!("e.source IN ({})", quoted(&SOURCES)));
        }
        c.push(&format!("{col} >= $?"), Arg::Text(p.clone()));
        if let Some(upper) = prefix_upper(p) {
            c.push(&format!("{col} < $?"), Arg::Text(upper));
        }
    }
    if let Some(t) = f.from {
        c.push("e.received_at >= $?", Arg::Int(t));
    }
    if let Some(t) = f.to {
        c.push("e.received_at < $?", Arg::Int(t));
    }
    match f.outcome.as_deref() {
        Some("none") => c.sql.push("e.job_id IS NULL".into()),
        // The common outcome: walk the events newest first and look each one's job up. Asked
        // in a subquery, so that no condition names `j` and the LEFT JOIN keeps the events as
        // the outer loop. With `j.state` (even as `+j.state`) SQLite starts from the jobs
        // once `ANALYZE` has seen them: it scans the covering `jobs_finished`, probes
        // `events_job` per job and sorts every success (console bench, 1,000,000 events:
        // 157-163 ms that way, under 1 ms this way).
        Some(state @ "succeeded") if backend == Backend::Sqlite => c.push(
            "(SELECT s.state FROM jobs s WHERE s.id = e.job_id) = $?",
            Arg::Text(state.to_owned()),
        ),
        Some(state) => c.push("j.state = $?", Arg::Text(state.to_owned())),
        None => {}
    }
    c
}

/// Whether `f` asks for events whose job ended other than in success (or is still waiting):
/// a small share of the events, found from the jobs' side.
fn rare_outcome(f: &EventFilter) -> bool {
    matches!(f.outcome.as_deref(), Some(s) if s != "succeeded" && s != "none")
}

fn job_conditions(f: &JobFilter) -> Conditions {
    let mut c = Conditions::default();
    c.text("state = $?", &f.state);
    c.text("kind = $?", &f.kind);
    c.text("lane = $?", &f.target);
    c.contains("last_error", &f.error);
    c
}

/// The statement with its values bound.
macro_rules! bound {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q
    }};
}

/// [`Store::event_page`]'s statement and its values.
fn event_page_query(
    f: &EventFilter,
    cursor: &Option<(i64, String)>,
    limit: i64,
    backend: Backend,
) -> (String, Vec<Arg>) {
    let mut c = event_conditions(f, backend);
    c.before("e.received_at", "e.id", cursor);
    let (filter, limit) = (c.where_clause(), limit.clamp(1, 1000));
    let sql = if rare_outcome(f) {
        // Few jobs end this way: start from them and pick the page from index entries
        // (`events_job` and `jobs_finished` cover every filter column), then read only
        // the page's rows. Walking the events instead reads a million rows to find none.
        format!(
            "{EVENT_LINE} WHERE e.id IN (SELECT e.id FROM jobs j JOIN events e ON e.job_id = j.id\
             {filter} ORDER BY e.received_at DESC, e.id DESC LIMIT {limit}) \
             ORDER BY e.received_at DESC, e.id DESC"
        )
    } else {
        format!("{EVENT_LINE}{filter} ORDER BY e.received_at DESC, e.id DESC LIMIT {limit}")
    };
    (sql, c.args)
}

const EVENT_LINE: &str = "SELECT e.id, e.source, e.delivery_id, e.event_type, e.repo, \
     e.received_at, e.job_id, j.state AS job_state FROM events e LEFT JOIN jobs j ON j.id = e.job_id";

impl Store {
    /// Up to `limit` events matching `f`, received before `cursor` `(received_at, id)`,
    /// newest first.
    pub async fn event_page(
        &self,
        f: &EventFilter,
        cursor: &Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<EventLine>> {
        let (sql, args) = event_page_query(f, cursor, limit, self.backend);
        Ok(bound!(sqlx::query_as(AssertSqlSafe(sql)), args)
            .fetch_all(&self.pool)
            .await?)
    }

    /// How many events match `f`, counting at most [`BULK_MAX`] + 1.
    pub async fn count_events_matching(&self, f: &EventFilter) -> Result<i64> {
        let c = event_conditions(f, self.backend);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT e.id FROM events e LEFT JOIN jobs j ON j.id = e.job_id{} LIMIT {}) m",
            c.where_clause(),
            BULK_MAX + 1
        );
        Ok(bound!(sqlx::query_scalar(AssertSqlSafe(sql)), c.args)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The ids of the newest [`BULK_MAX`] events matching `f`, oldest first (the order a
    /// replay should follow).
    pub async fn event_ids_matching(&self, f: &EventFilter) -> Result<Vec<String>> {
        let c = event_conditions(f, self.backend);
        let sql = format!(
            "SELECT e.id FROM events e LEFT JOIN jobs j ON j.id = e.job_id{} \
             ORDER BY e.received_at DESC, e.id DESC LIMIT {BULK_MAX}",
            c.where_clause()
        );
        let mut ids: Vec<String> = bound!(sqlx::query_scalar(AssertSqlSafe(sql)), c.args)
            .fetch_all(&self.pool)
            .await?;
        ids.reverse();
        Ok(ids)
    }

    /// Up to `limit` jobs matching `f`, created before `cursor` `(created_at, id)`, newest
    /// first.
    pub async fn job_page(
        &self,
        f: &JobFilter,
        cursor: &Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<super::JobRow>> {
        let mut c = job_conditions(f);
        c.before("created_at", "id", cursor);
        let sql = format!(
            "SELECT * FROM jobs{} ORDER BY created_at DESC, id DESC LIMIT {}",
            c.where_clause(),
            limit.clamp(1, 1000)
        );
        Ok(bound!(sqlx::query_as(AssertSqlSafe(sql)), c.args)
            .fetch_all(&self.pool)
            .await?)
    }

    /// How many jobs match `f` and are in one of `states`, counting at most [`BULK_MAX`] + 1.
    pub async fn count_jobs_matching(&self, f: &JobFilter, states: &[&str]) -> Result<i64> {
        let c = job_conditions(f);
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT id FROM jobs{} LIMIT {}) m",
            with_states(&c, states),
            BULK_MAX + 1
        );
        Ok(bound!(sqlx::query_scalar(AssertSqlSafe(sql)), c.args)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Requeues (retry) or cancels up to [`BULK_MAX`] jobs matching `f` among `states`;
    /// returns their ids.
    pub async fn bulk_jobs(
        &self,
        f: &JobFilter,
        states: &[&str],
        retry: bool,
        now: i64,
    ) -> Result<Vec<String>> {
        let mut c = job_conditions(f);
        let filter = with_states(&c, states);
        c.args.push(Arg::Int(now));
        let n = c.args.len();
        let set = if retry {
            format!("state = 'queued', attempts = 0, run_at = ${n}, finished_at = NULL, updated_at = ${n}")
        } else {
            format!("state = 'cancelled', finished_at = ${n}, updated_at = ${n}")
        };
        let sql = format!(
            "UPDATE jobs SET {set} WHERE id IN (SELECT id FROM jobs{filter} LIMIT {BULK_MAX}) RETURNING id"
        );
        let (_turn, mut tx) = self.write_tx().await?;
        let ids: Vec<String> = bound!(sqlx::query_scalar(AssertSqlSafe(sql)), c.args)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// The distinct values of an event column for the filter form's suggestions (the
    /// newest 2,000 events only, so it stays cheap on a large table).
    pub async fn recent_event_values(&self, column: EventColumn) -> Result<Vec<String>> {
        let col = match column {
            EventColumn::Source => "source",
            EventColumn::Type => "event_type",
            EventColumn::Repo => "repo",
        };
        let sql = format!(
            "SELECT DISTINCT {col} FROM (SELECT {col} FROM events ORDER BY received_at DESC LIMIT 2000) r \
             WHERE {col} IS NOT NULL ORDER BY {col} LIMIT 200"
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }
}

/// Which event column [`Store::recent_event_values`] lists.
#[derive(Debug, Clone, Copy)]
pub enum EventColumn {
    Source,
    Type,
    Repo,
}

/// The filter's `WHERE` with `state IN (…)` added (the states are this crate's constants).
fn with_states(c: &Conditions, states: &[&str]) -> String {
    let mut sql = c.sql.clone();
    sql.push(format!("state IN ({})", quoted(states)));
    format!(" WHERE {}", sql.join(" AND "))
}

/// This crate's constants as an SQL list: `'a', 'b'`.
fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
