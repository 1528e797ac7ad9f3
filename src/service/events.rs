//! Received and refused events for the console: a filtered, keyset-paginated list, one
//! event with what it caused, and replay (one, or every event matching a filter).
//!
//! Filters arrive as the text a form sends; [`EventQuery::parse`] checks every field and
//! names each bad one, so the page can show the errors beside the fields and change nothing.

use crate::timestamp::millis;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::App;
use super::{job_detail, JobDetail, ServiceError};
use crate::auth::{Principal, Role};
use crate::ingest::rejected::RejectedLog;
pub use crate::store::SOURCES;
use crate::store::{now_ms, EventFilter, EventLine, JobState, BULK_MAX};

/// Events per page.
pub const PAGE: i64 = 50;

/// The filter as a form sends it: every field text, empty meaning "any".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct EventQuery {
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub repo: String,
    /// The start of the delivery id.
    pub delivery: String,
    /// `YYYY-MM-DDTHH:MM` (UTC), as `<input type="datetime-local">` sends it.
    pub from: String,
    pub to: String,
    pub outcome: String,
    /// The keyset cursor of the next page (`<received_at>.<id>`).
    pub after: String,
}

/// Field name → what is wrong with it.
pub type FieldErrors = BTreeMap<&'static str, String>;

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// A `datetime-local` value (seconds optional) or RFC 3339, as unix ms.
fn parse_time(s: &str) -> Result<Option<i64>, String> {
    let Some(t) = opt(s) else { return Ok(None) };
    // A `datetime-local` without seconds.
    let full = if t.len() == 16 {
        format!("{t}:00")
    } else {
        t.clone()
    };
    crate::timestamp::parse(&full)
        .map(|d| Some(d.timestamp_millis()))
        .ok_or_else(|| format!("{t:?} is not a date and time (YYYY-MM-DDTHH:MM, UTC)"))
}

impl EventQuery {
    /// The store filter and cursor, or every field's error.
    pub fn parse(&self) -> Result<(EventFilter, Option<(i64, String)>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let source = opt(&self.source);
        if let Some(s) = &source {
            if !SOURCES.contains(&s.as_str()) {
                errors.insert(
                    "source",
                    format!("unknown source {s:?}; valid: {}", SOURCES.join(", ")),
                );
            }
        }
        let outcome = opt(&self.outcome);
        if let Some(o) = &outcome {
            if o != "none" && JobState::parse(o).is_none() {
                errors.insert("outcome", format!("unknown outcome {o:?}"));
            }
        }
        for (field, value) in [
            ("type", &self.event_type),
            ("repo", &self.repo),
            ("delivery", &self.delivery),
        ] {
            if value.len() > 200 {
                errors.insert(field, "at most 200 characters".into());
            }
        }
        let from = parse_time(&self.from).unwrap_or_else(|e| {
            errors.insert("from", e);
            None
        });
        let to = parse_time(&self.to).unwrap_or_else(|e| {
            errors.insert("to", e);
            None
        });
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                errors.insert("to", "must be after \"from\"".into());
            }
        }
        let cursor = parse_cursor(&self.after).unwrap_or_else(|e| {
            errors.insert("after", e);
            None
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((
            EventFilter {
                source,
                event_type: opt(&self.event_type),
                repo: opt(&self.repo),
                delivery: opt(&self.delivery),
                from,
                to,
                outcome,
            },
            cursor,
        ))
    }

    /// The same filter without the cursor (the first page), as a query string.
    pub fn query_string(&self) -> String {
        let q = EventQuery {
            after: String::new(),
            ..self.clone()
        };
        serde_urlencoded_pairs(&q)
    }
}

fn serde_urlencoded_pairs(q: &EventQuery) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("source", &q.source),
        ("type", &q.event_type),
        ("repo", &q.repo),
        ("delivery", &q.delivery),
        ("from", &q.from),
        ("to", &q.to),
        ("outcome", &q.outcome),
        ("after", &q.after),
    ] {
        if !v.trim().is_empty() {
            s.append_pair(k, v.trim());
        }
    }
    s.finish()
}

/// `<ms>.<id>` → `(ms, id)`.
pub fn parse_cursor(s: &str) -> Result<Option<(i64, String)>, String> {
    let Some(t) = opt(s) else { return Ok(None) };
    let (ms, id) = t.split_once('.').ok_or("not a page cursor")?;
    let ms: i64 = ms.parse().map_err(|_| "not a page cursor".to_owned())?;
    if id.is_empty() || id.len() > 64 {
        return Err("not a page cursor".into());
    }
    Ok(Some((ms, id.to_owned())))
}

/// One line of the event list.
#[derive(Debug, Clone, Serialize)]
pub struct EventItem {
    pub id: String,
    pub source: String,
    pub delivery_id: String,
    pub event_type: String,
    pub repo: Option<String>,
    pub received_at: String,
    pub job_id: Option<String>,
    /// The job's state, `none` (queued nothing) or `pruned` (its job is gone).
    pub outcome: String,
}

impl From<EventLine> for EventItem {
    fn from(e: EventLine) -> Self {
        let outcome = match (&e.job_id, e.job_state) {
            (None, _) => "none".to_owned(),
            (Some(_), Some(s)) => s,
            (Some(_), None) => "pruned".to_owned(),
        };
        Self {
            id: e.id,
            source: e.source,
            delivery_id: e.delivery_id,
            event_type: e.event_type,
            repo: e.repo,
            received_at: millis(e.received_at),
            job_id: e.job_id,
            outcome,
        }
    }
}

/// A page of events and the cursor of the next one.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    pub events: Vec<EventItem>,
    pub next: Option<String>,
}

pub async fn events(
    app: &App,
    filter: &EventFilter,
    cursor: &Option<(i64, String)>,
) -> Result<EventPage, ServiceError> {
    let mut rows = app.store.event_page(filter, cursor, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = more
        .then(|| rows.last().map(|e| format!("{}.{}", e.received_at, e.id)))
        .flatten();
    Ok(EventPage {
        events: rows.into_iter().map(Into::into).collect(),
        next,
    })
}

/// How many events match (at most [`BULK_MAX`] + 1: "more than 10,000").
pub async fn count_matching(app: &App, filter: &EventFilter) -> Result<i64, ServiceError> {
    Ok(app.store.count_events_matching(filter).await?)
}

/// Suggestions for the filter form: sources, types and repositories seen recently.
pub async fn filter_values(app: &App) -> Result<BTreeMap<&'static str, Vec<String>>, ServiceError> {
    use crate::store::EventColumn as C;
    let mut out = BTreeMap::new();
    out.insert("type", app.store.recent_event_values(C::Type).await?);
    out.insert("repo", app.store.recent_event_values(C::Repo).await?);
    Ok(out)
}

/// Headers whose values are secrets, whatever the sender.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "cookie",
    "x-hub-signature",
    "x-hub-signature-256",
    "webhook-signature",
    "proxy-authorization",
];

/// One event: its headers (secrets redacted), its payload pretty-printed, and the job it
/// caused with that job's run and deliveries.
#[derive(Debug, Serialize)]
pub struct EventDetail {
    pub id: String,
    pub source: String,
    pub delivery_id: String,
    pub event_type: String,
    pub hook_id: Option<String>,
    pub repo: Option<String>,
    pub received_at: String,
    pub headers: Vec<(String, String)>,
    pub payload: String,
    pub job: Option<JobDetail>,
}

pub async fn event(app: &App, id: &str) -> Result<EventDetail, ServiceError> {
    let e = app
        .store
        .get_event(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no event {id}")))?;
    let redactor = crate::config::Redactor::new(&app.config.secrets);
    let headers = match serde_json::from_str::<Value>(&e.headers) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match &v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let shown = if SECRET_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                    crate::config::REDACTED.to_owned()
                } else {
                    redactor.redact(&text)
                };
                (k, shown)
            })
            .collect(),
        _ => Vec::new(),
    };
    let payload = shown_payload(&e.source, &e.payload)
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| e.payload.clone());
    let job = match &e.job_id {
        Some(j) => job_detail(app, j).await?,
        None => None,
    };
    Ok(EventDetail {
        payload: redactor.redact(&payload),
        headers,
        id: e.id,
        source: e.source,
        delivery_id: e.delivery_id,
        event_type: e.event_type,
        hook_id: e.hook_id,
        repo: e.repo,
        received_at: millis(e.received_at),
        job,
    })
}

/// A stored payload as the console and the API show it (`None` when it is not JSON). A
/// Discord interaction's `token` is a credential for 15 minutes (it edits the bot's answer),
/// kept for the follow-up and never shown.
pub fn shown_payload(source: &str, payload: &str) -> Option<Value> {
    let mut v: Value = serde_json::from_str(payload).ok()?;
    if source == "discord" {
        if let Some(token) = v.get_mut("token") {
            *token = Value::String(crate::config::REDACTED.into());
        }
    }
    Some(v)
}

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// Events replayed.
    pub events: usize,
    /// Jobs queued (or joined, when an equal one was waiting).
    pub jobs: Vec<String>,
    /// Events that ask for no job under today's rules.
    pub nothing_to_do: usize,
}

/// Replays one event: queues the job it asks for now.
pub async fn replay(app: &App, who: &Principal, id: &str) -> Result<Replayed, ServiceError> {
    who.require(Role::Operator)?;
    let e = app
        .store
        .get_event(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no event {id}")))?;
    let out = replay_rows(app, vec![e]).await?;
    super::users::audit(app, who, "event.replay", id, Some(summary(&out))).await;
    Ok(out)
}

/// Replays every event matching `filter` (the newest [`BULK_MAX`]), oldest first.
pub async fn replay_matching(
    app: &App,
    who: &Principal,
    filter: &EventFilter,
    query: &str,
) -> Result<Replayed, ServiceError> {
    who.require(Role::Operator)?;
    let ids = app.store.event_ids_matching(filter).await?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(e) = app.store.get_event(id).await? {
            rows.push(e);
        }
    }
    let out = replay_rows(app, rows).await?;
    let detail = format!("filter {query:?}: {}", summary(&out));
    super::users::audit(app, who, "event.replay_matching", "events", Some(detail)).await;
    Ok(out)
}

fn summary(r: &Replayed) -> String {
    format!(
        "{} event(s), {} job(s) {}, {} with nothing to do",
        r.events,
        r.jobs.len(),
        r.jobs.join(" "),
        r.nothing_to_do
    )
}

/// Queues each event's job, all in one transaction (`Queue::enqueue_many`); equal jobs (the
/// same coalescing key) are queued once.
async fn replay_rows(
    app: &App,
    rows: Vec<crate::store::EventRow>,
) -> Result<Replayed, ServiceError> {
    let mut payloads = Vec::new();
    let mut keys = std::collections::HashSet::new();
    let mut nothing_to_do = 0;
    let events = rows.len();
    for e in rows {
        match crate::ingest::replay::job_for(&e, &app.config)? {
            Some(p) => {
                let key = p.coalesce_key().unwrap_or_else(|| e.id.clone());
                if keys.insert(key) {
                    payloads.push(p);
                }
            }
            None => nothing_to_do += 1,
        }
    }
    let mut jobs = app.queue.enqueue_many(&payloads, now_ms()).await?;
    jobs.dedup();
    Ok(Replayed {
        events,
        jobs,
        nothing_to_do,
    })
}

/// The refused requests of `log` (newest first), optionally of one source. The log belongs
/// to the network edge that refused them, which passes it in.
pub fn rejected(log: &RejectedLog, source: Option<&str>) -> Vec<RejectedItem> {
    log.list(source)
        .into_iter()
        .map(|r| RejectedItem {
            at: millis(r.at),
            source: r.source,
            client: r.client.map(|c| c.to_string()),
            claimed_delivery: r.claimed_delivery,
            event_type: r.event_type,
            code: r.code,
            reason: r.reason,
            body_bytes: r.body_bytes,
        })
        .collect()
}

/// A refused request as the console shows it (see `ingest::rejected::Rejected`).
#[derive(Debug, Clone, Serialize)]
pub struct RejectedItem {
    pub at: String,
    pub source: String,
    pub client: Option<String>,
    pub claimed_delivery: Option<String>,
    pub event_type: Option<String>,
    pub code: String,
    pub reason: String,
    pub body_bytes: Option<u64>,
}

/// The upper bound [`count_matching`] counts to.
pub const COUNT_CAP: i64 = BULK_MAX;
