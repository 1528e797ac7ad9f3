//! The UCF state source: the ecosystem's `ucf_state.json` (a file or `GET /ucf`), or the
//! `ucf_after` of the newest ritual webhook, whichever is newer.
//!
//! Values are checked, never clamped: a missing metric or one out of its range makes the
//! source fail with the key and the value named, and the run goes on without it (`partial`).
//! Keys we do not model are kept verbatim in `extra`, so nothing the ecosystem adds is lost.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{read_document, Source, SourceContext, SourceData, SourceError};
use crate::config::Config;
use crate::store::EventRow;
use crate::sync::snapshot::{harmony_status, UcfState, UCF_METRICS};
use crate::timestamp::parse as parse_time;

pub struct UcfSource {
    /// `UCF_STATE_SOURCE`; `None` = ritual webhooks only.
    location: Option<String>,
    /// The metrics to carry (`sources.ucf_state.metrics`).
    metrics: Vec<String>,
}

impl UcfSource {
    pub fn from_config(config: &Config) -> Option<Self> {
        let c = &config.file.sources.ucf_state;
        c.enabled.then(|| Self {
            location: config.ucf_source.clone(),
            metrics: c.metrics.clone(),
        })
    }
}

#[async_trait]
impl Source for UcfSource {
    fn name(&self) -> &'static str {
        "ucf_state"
    }

    async fn collect(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError> {
        let mut data = SourceData::default();
        let from_doc = match &self.location {
            Some(loc) => {
                let what = "UCF state source";
                let (doc, origin) = read_document(cx.deps, what, loc).await?;
                if origin == super::Origin::Url {
                    data.requests = 1;
                }
                let state = parse_ucf(&doc, &self.metrics, origin.as_str())
                    .map_err(|e| SourceError::Invalid(format!("{what} {loc}: {e}")))?;
                let at = state.timestamp.as_deref().and_then(parse_time);
                Some((state, at))
            }
            None => None,
        };
        let ritual = cx
            .deps
            .store
            .latest_ritual_ucf()
            .await
            .map_err(|e| SourceError::Unavailable(format!("reading ritual events: {e}")))?;
        let doc_time = from_doc.as_ref().map(|(_, at)| *at);
        let from_ritual = match ritual.map(|ev| ritual_state(&ev, &self.metrics)) {
            None => None,
            Some((at, Ok(state))) => Some((state, at)),
            // A bad ritual state matters only when it is the newest word on UCF: then it is
            // reported, and the older document (if any) is used meanwhile.
            Some((at, Err(e))) => {
                let newest_word = match doc_time {
                    None => true,
                    Some(t) => t.is_some_and(|t| at > t),
                };
                if newest_word {
                    if from_doc.is_none() {
                        return Err(SourceError::Invalid(e));
                    }
                    data.errors.push(e);
                }
                None
            }
        };
        data.ucf = newest(from_doc, from_ritual);
        data.items = u64::from(data.ucf.is_some());
        Ok(data)
    }
}

/// Newest wins; a document without a `timestamp` counts as current (it is the live state).
fn newest(
    doc: Option<(UcfState, Option<DateTime<Utc>>)>,
    ritual: Option<(UcfState, DateTime<Utc>)>,
) -> Option<UcfState> {
    match (doc, ritual) {
        (Some((_, Some(at))), Some((r, r_at))) if r_at > at => Some(r),
        (Some((d, _)), _) => Some(d),
        (None, r) => r.map(|(r, _)| r),
    }
}

/// The `ucf_after` of a stored ritual event, timed by the event's own timestamp.
fn ritual_state(ev: &EventRow, metrics: &[String]) -> (DateTime<Utc>, Result<UcfState, String>) {
    let envelope: Value = serde_json::from_str(&ev.payload).unwrap_or(Value::Null);
    let data = envelope.get("data").cloned().unwrap_or(Value::Null);
    let ritual_id = data
        .get("ritual_id")
        .and_then(Value::as_str)
        .unwrap_or(&ev.id);
    let mut after = data.get("ucf_after").cloned().unwrap_or(Value::Null);
    let at = envelope
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .or_else(|| DateTime::from_timestamp_millis(ev.received_at))
        .unwrap_or_default();
    if let Some(obj) = after.as_object_mut() {
        obj.entry("timestamp")
            .or_insert_with(|| Value::String(crate::timestamp::secs(at)));
        if !obj.contains_key("last_ritual") {
            let keep: Map<String, Value> = ["ritual_id", "name", "steps"]
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), data.get(*k)?.clone())))
                .collect();
            if !keep.is_empty() {
                obj.insert("last_ritual".into(), Value::Object(keep));
            }
        }
    }
    let state = parse_ucf(&after, metrics, &format!("ritual:{ritual_id}"))
        .map_err(|e| format!("ritual event {} (ucf_after): {e}", ev.id));
    (at, state)
}

/// The allowed range of a metric, as text for errors, and the check.
fn range(metric: &str) -> (&'static str, fn(f64) -> bool) {
    match metric {
        "zoom" | "resilience" => (">= 0", |x| x >= 0.0),
        _ => ("[0, 1]", |x| (0.0..=1.0).contains(&x)),
    }
}

/// Validates and normalises a UCF document. Every problem is listed, each naming its key.
pub fn parse_ucf(doc: &Value, selected: &[String], origin: &str) -> Result<UcfState, String> {
    let obj = doc
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {}", kind(doc)))?;
    let mut problems = Vec::new();
    let mut values = std::collections::BTreeMap::new();
    for m in UCF_METRICS {
        match obj.get(m) {
            None | Some(Value::Null) => problems.push(format!("missing required metric \"{m}\"")),
            Some(v) => match v.as_f64() {
                None => problems.push(format!("\"{m}\" must be a number, got {v}")),
                Some(x) => {
                    let (text, ok) = range(m);
                    if ok(x) {
                        values.insert(m.to_owned(), x);
                    } else {
                        problems.push(format!("\"{m}\" = {x} is out of range {text}"));
                    }
                }
            },
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let text = |k: &str| match obj.get(k) {
        Some(Value::String(s)) if k == "timestamp" => Some(crate::timestamp::normalize(s)),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let extra = obj
        .iter()
        .filter(|(k, _)| !UCF_METRICS.contains(&k.as_str()) && k != &"timestamp" && k != &"phase")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(UcfState {
        status: harmony_status(values["harmony"]).to_owned(),
        metrics: values
            .into_iter()
            .filter(|(k, _)| selected.iter().any(|s| s == k))
            .collect(),
        timestamp: text("timestamp"),
        phase: text("phase"),
        origin: origin.to_owned(),
        extra,
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all() -> Vec<String> {
        UCF_METRICS.map(String::from).to_vec()
    }

    fn good() -> Value {
        json!({"harmony": 0.8, "resilience": 1.2, "prana": 0.6, "drishti": 0.7, "klesha": 0.05,
               "zoom": 1, "timestamp": "2026-11-25T21:14:07Z", "phase": "integration",
               "agent_emotions": {"Kael": "calm"}, "brand_new_key": [1, 2]})
    }

    #[test]
    fn keeps_unknown_keys_and_derives_the_status() {
        let s = parse_ucf(&good(), &all(), "file").unwrap();
        assert_eq!(s.status, "HARMONIC");
        assert_eq!(s.metrics["zoom"], 1.0);
        assert_eq!(s.phase.as_deref(), Some("integration"));
        assert!(s.extra.contains_key("brand_new_key") && s.extra.contains_key("agent_emotions"));
        assert!(!s.extra.contains_key("harmony") && !s.extra.contains_key("timestamp"));
    }

    #[test]
    fn selects_metrics_but_still_derives_status_from_harmony() {
        let s = parse_ucf(&good(), &["zoom".into()], "file").unwrap();
        assert_eq!(s.metrics.keys().collect::<Vec<_>>(), ["zoom"]);
        assert_eq!(s.status, "HARMONIC");
    }

    #[test]
    fn names_every_bad_key_and_value_without_clamping() {
        let mut doc = good();
        doc["harmony"] = json!(1.7);
        doc["zoom"] = json!(-0.5);
        doc.as_object_mut().unwrap().remove("prana");
        doc["klesha"] = json!("low");
        let e = parse_ucf(&doc, &all(), "file").unwrap_err();
        for part in [
            "\"harmony\" = 1.7 is out of range [0, 1]",
            "\"zoom\" = -0.5 is out of range >= 0",
            "missing required metric \"prana\"",
            "\"klesha\" must be a number, got \"low\"",
        ] {
            assert!(e.contains(part), "{e}");
        }
        assert!(parse_ucf(&json!([1]), &all(), "file")
            .unwrap_err()
            .contains("an array"));
    }

    #[test]
    fn status_thresholds() {
        let at = |h: f64| {
            let mut d = good();
            d["harmony"] = json!(h);
            parse_ucf(&d, &all(), "file").unwrap().status
        };
        assert_eq!(at(0.71), "HARMONIC");
        assert_eq!(at(0.7), "COHERENT");
        assert_eq!(at(0.31), "COHERENT");
        assert_eq!(at(0.3), "FRAGMENTED");
    }

    #[test]
    fn newest_state_wins() {
        let s = |origin: &str| UcfState {
            origin: origin.into(),
            ..parse_ucf(&good(), &all(), "x").unwrap()
        };
        let t = |s: &str| parse_time(s).unwrap();
        let older = Some(t("2026-01-01T00:00:00Z"));
        let newer = t("2026-01-02T00:00:00Z");
        assert_eq!(
            newest(Some((s("file"), older)), Some((s("ritual:1"), newer)))
                .unwrap()
                .origin,
            "ritual:1"
        );
        assert_eq!(
            newest(
                Some((s("file"), Some(newer))),
                Some((s("ritual:1"), t("2025-12-01T00:00:00Z")))
            )
            .unwrap()
            .origin,
            "file"
        );
        assert_eq!(
            newest(Some((s("file"), None)), Some((s("ritual:1"), newer)))
                .unwrap()
                .origin,
            "file"
        );
        assert_eq!(
            newest(None, Some((s("ritual:1"), newer))).unwrap().origin,
            "ritual:1"
        );
        assert!(newest(None, None).is_none());
    }
}
