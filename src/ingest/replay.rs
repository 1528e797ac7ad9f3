//! Replaying a stored event: the job it would queue if it arrived now.
//!
//! The event was verified when it arrived, and what is stored is exactly what was signed, so
//! it is decoded and routed again by the same functions as a live request (with today's
//! routing rules: an event that queued nothing then may queue a sync now, and the other way
//! round). Nothing is verified again, and nothing is written here.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::{discord, github, ritual, IngestError};
use crate::config::Config;
use crate::ingest::manual::TriggerRequest;
use crate::queue::JobPayload;
use crate::store::EventRow;

/// The job a stored event asks for now, if any. (A Discord `/helix sync` is queued again
/// for the operator who replays it, whatever the member's roles are today; its deferred
/// answer is not edited again: that token has long expired.)
pub fn job_for(event: &EventRow, config: &Config) -> Result<Option<JobPayload>, IngestError> {
    let schedule = &config.file.sync_schedule;
    match event.source.as_str() {
        "github" => {
            let headers = stored_headers(&event.headers);
            let delivery =
                github::decode(&headers, github::BodyKind::Json, event.payload.as_bytes())?;
            Ok(github::route(&delivery, schedule, &config.github_repos).job)
        }
        "ritual" => {
            let envelope = ritual::decode(event.payload.as_bytes())?;
            Ok(ritual::route(&envelope, schedule))
        }
        "discord" => discord::job_for(config, event.payload.as_bytes()),
        "manual" => {
            let req: TriggerRequest = serde_json::from_str(&event.payload)
                .map_err(|e| IngestError::BadRequest(format!("stored trigger: {e}")))?;
            Ok(Some(req.into_job()?))
        }
        other => Err(IngestError::BadRequest(format!(
            "events from {other:?} cannot be replayed"
        ))),
    }
}

/// The kept headers of a stored event (a JSON object of strings) as a header map.
fn stored_headers(json: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(json) else {
        return map;
    };
    for (k, v) in obj {
        let (Ok(name), Some(Ok(value))) = (
            HeaderName::try_from(k.as_str()),
            v.as_str().map(HeaderValue::from_str),
        ) else {
            continue;
        };
        map.insert(name, value);
    }
    map
}
