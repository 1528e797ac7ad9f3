//! Inbound events: verify, validate, route, and hand to the group-commit writer.
//!
//! One file per signature scheme (`github`: X-Hub-Signature-256, `ritual`: Standard
//! Webhooks, `manual`: bearer token); each takes the raw bytes and verifies *before* it
//! parses. Nothing here may block on anything but the one store write, and nothing is
//! written for a request that fails verification or validation. The caller answers 2xx only
//! after [`Ingestor::submit`] returns, i.e. after the commit.

pub mod github;
pub mod manual;
pub mod rejected;
pub mod replay;
pub mod ritual;
mod writer;

pub use writer::Writer;

use crate::live::{self, LiveEvent, LiveEvents};
use crate::queue::{JobPayload, Queue};
use crate::store::{IngestOutcome, NewEvent, StoreError};

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

    /// Commits one event (and its job, if any) and returns once it is on disk.
    pub async fn submit(
        &self,
        mut event: NewEvent,
        job: Option<JobPayload>,
    ) -> Result<IngestOutcome, IngestError> {
        event.job = job.map(|p| self.queue.new_job(&p, event.received_at));
        // Only the announcement needs these; they are copied only when someone listens.
        let announce = (self.live.receiver_count() > 0)
            .then(|| (event.source, event.event_type.clone(), event.repo.clone()));
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

/// A JSON object of selected headers, for the event row.
pub(crate) fn keep_headers(
    headers: &axum::http::HeaderMap,
    names: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    names
        .iter()
        .filter_map(|n| {
            let v = headers.get(*n)?.to_str().ok()?;
            Some(((*n).to_owned(), serde_json::Value::String(v.to_owned())))
        })
        .collect()
}

/// A required, non-empty, visible-ASCII header.
pub(crate) fn required_header<'a>(
    headers: &'a axum::http::HeaderMap,
    name: &'static str,
) -> Result<&'a str, IngestError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| IngestError::BadRequest(format!("missing header {name}")))
}
