//! Inbound events: verify, validate, route, and hand to the group-commit writer.
//!
//! One file per signature scheme (`github`: X-Hub-Signature-256, `ritual`: Standard
//! Webhooks, `discord`: Ed25519 interactions; each a [`Scheme`]), plus `manual` (the
//! bearer-authenticated trigger). A scheme takes the raw bytes and verifies *before* it
//! parses, then turns what it verified into an [`Inbound`] event: the one shape every way in
//! produces. [`Ingestor::accept`] is the one path from there to "acknowledged": it builds the
//! store's row and the job, and returns only after the commit, so the caller's 2xx is backed
//! by disk. Nothing here may block on anything but that one store write, and nothing is
//! written for a request that fails verification or validation. (A Discord slash command is the one exception to "the edge
//! commits": what it stores and answers depends on the member's role and on the application,
//! so its [`Verdict::Interaction`] goes to the Discord front end, which commits through the
//! same `accept`.)

pub mod discord;
pub mod github;
pub mod manual;
pub mod rejected;
pub mod replay;
pub mod ritual;
mod writer;

pub use writer::Writer;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::live::{self, LiveEvent, LiveEvents};
use crate::queue::{JobPayload, Queue};
use crate::store::{Compressed, IngestOutcome, NewEvent, StoreError};

/// Why an inbound request was refused. The HTTP edge maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0} is not configured on this server")]
    NotConfigured(&'static str),
    #[error("missing signature header {0}")]
    MissingSignature(&'static str),
    #[error("signature does not match")]
    InvalidSignature,
    #[error("{0}")]
    InvalidTimestamp(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    #[error("body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("the event store is unavailable")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ingest's handle: builds jobs with the queue's settings and commits through the writer.
#[derive(Clone)]
pub struct Ingestor {
    writer: Writer,
    queue: Queue,
    /// Told about each committed (non-duplicate) event.
    live: LiveEvents,
}

impl Ingestor {
    pub fn new(writer: Writer, queue: Queue) -> Self {
        Self {
            writer,
            queue,
            live: crate::live::channel(1),
        }
    }

    /// Announces committed events on `live` (the application's bus).
    pub fn with_live(mut self, live: LiveEvents) -> Self {
        self.live = live;
        self
    }

    /// Commits one verified event (and the job it asks for, if any) and returns once both
    /// are on disk. A repeated delivery id of the same source is a duplicate: nothing new is
    /// written and the first event's id comes back.
    pub async fn accept(&self, inbound: Inbound) -> Result<IngestOutcome, IngestError> {
        let job = inbound
            .job
            .map(|p| self.queue.new_job(&p, inbound.received_at));
        // Only the announcement needs these; they are copied only when someone listens.
        let announce = (self.live.receiver_count() > 0).then(|| {
            (
                inbound.source,
                inbound.event_type.clone(),
                inbound.repo.clone(),
            )
        });
        let event = NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            source: inbound.source,
            delivery_id: inbound.delivery_id,
            event_type: inbound.event_type,
            hook_id: inbound.hook_id,
            repo: inbound.repo,
            headers: Value::Object(inbound.headers).to_string(),
            payload: inbound.payload,
            received_at: inbound.received_at,
            job,
        };
        let outcome = self.writer.write(event).await?;
        if outcome.job_created {
            self.queue.notify();
        }
        if let (Some((source, event_type, repo)), false) = (announce, outcome.duplicate) {
            live::send(&self.live, || LiveEvent::Received {
                id: outcome.id.clone(),
                source: source.to_owned(),
                event_type,
                repo,
                job_id: outcome.job_id.clone(),
            });
        }
        Ok(outcome)
    }
}

/// A verified event, decoded: what every way in (a webhook scheme, a manual trigger) hands
/// to [`Ingestor::accept`].
#[derive(Debug)]
pub struct Inbound {
    /// One of `store::SOURCES`.
    pub source: &'static str,
    /// The sender's id of this delivery: the dedupe key within the source.
    pub delivery_id: String,
    pub event_type: String,
    pub hook_id: Option<String>,
    /// The repository it concerns, when it names one.
    pub repo: Option<String>,
    /// The request headers kept with the event (see each scheme).
    pub headers: Map<String, Value>,
    /// The exact signed document.
    pub payload: Compressed,
    pub received_at: i64,
    /// The job it asks for under today's routing rules.
    pub job: Option<JobPayload>,
}

/// What a scheme makes of a verified request.
// Made once per request and moved once: boxing the large variant would add an allocation
// to ingest's path and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Verdict {
    /// Commit this event (and its job), then acknowledge it.
    Store(Inbound),
    /// Answer 200 with this body at once and store nothing (GitHub's `ping`, Discord's).
    Reply(Value),
    /// A Discord slash command: the Discord front end (`crate::discord`) decides who may do
    /// what, commits through the service operations and answers 200 with Discord's response.
    Interaction(discord::Interaction),
}

/// One signature scheme. The HTTP edge runs every scheme through the same steps, in this
/// order: [`Scheme::admit`] (configured? content type?) → read the body within
/// [`Scheme::BODY_LIMIT`] → [`Scheme::verify`] → [`Scheme::decode`] → [`Ingestor::accept`]
/// → answer. A scheme never reads the body before `admit` and never parses it before
/// `verify` succeeded.
pub trait Scheme: Send + Sync + 'static {
    /// The `source` its events are stored under.
    const SOURCE: &'static str;
    /// Largest body read.
    const BODY_LIMIT: usize;
    /// The headers that name a delivery and its type, read (unverified) for the log of
    /// refused requests (Discord names neither in a header).
    const CLAIMED: (Option<&'static str>, Option<&'static str>);
    /// What `admit` learnt about the body from its headers (its media type).
    type Body: Copy + Send;

    /// Refuses a request before its body is read: not configured here (503), a content type
    /// the scheme does not take (415).
    fn admit(config: &Config, headers: &HeaderMap) -> Result<Self::Body, IngestError>;

    /// Checks the signature over the raw bytes (401 when it does not hold). `now` is unix ms.
    fn verify(
        config: &Config,
        headers: &HeaderMap,
        raw: &[u8],
        now: i64,
    ) -> Result<(), IngestError>;

    /// Decodes and routes a verified body (400 when it is malformed).
    fn decode(
        config: &Config,
        headers: &HeaderMap,
        body: Self::Body,
        raw: &[u8],
        now: i64,
    ) -> Result<Verdict, IngestError>;
}

/// The request's media type, lowercased and without parameters (empty when there is none).
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `Ok` for a JSON body (`application/json`, parameters allowed), else the 415.
pub(crate) fn json_only(headers: &HeaderMap) -> Result<(), IngestError> {
    if media_type(headers) == "application/json" {
        Ok(())
    } else {
        Err(unsupported(headers))
    }
}

/// The 415 for a request's content type, naming it as sent.
pub(crate) fn unsupported(headers: &HeaderMap) -> IngestError {
    let raw = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    IngestError::UnsupportedMediaType(raw.to_owned())
}

/// A JSON object of selected headers, for the event row.
pub(crate) fn keep_headers(headers: &HeaderMap, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|n| {
            let v = headers.get(*n)?.to_str().ok()?;
            Some(((*n).to_owned(), Value::String(v.to_owned())))
        })
        .collect()
}

/// Refuses a signed timestamp (unix seconds, the text of header `name`) more than
/// `tolerance` seconds from `now_secs`, either way: that bounds replays to the dedupe window.
pub(crate) fn check_timestamp(
    name: &str,
    text: &str,
    now_secs: i64,
    tolerance: i64,
) -> Result<(), IngestError> {
    let ts: i64 = text
        .parse()
        .map_err(|_| IngestError::InvalidTimestamp(format!("{name} is not an integer")))?;
    // Checked: a timestamp near i64::MIN or MAX must not wrap into the window.
    let skew = now_secs.checked_sub(ts).and_then(i64::checked_abs);
    if skew.is_none_or(|d| d > tolerance) {
        return Err(IngestError::InvalidTimestamp(format!(
            "{name} is more than {tolerance} seconds from the server's clock"
        )));
    }
    Ok(())
}

/// A required, non-empty, visible-ASCII header.
pub(crate) fn required_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a str, IngestError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| IngestError::BadRequest(format!("missing header {name}")))
}
