//! Ritual-system events, signed per the Standard Webhooks specification.
//!
//! Signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the
//! base64 key after `whsec_`; `webhook-signature` holds one or more space-separated
//! `v1,<base64>` entries (key rotation), any of which may match. A timestamp more than five
//! minutes from now, either way, is refused: that bounds replays to the dedupe window.

use axum::http::HeaderMap;
use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use super::{keep_headers, required_header, Inbound, IngestError, Scheme, Verdict};
use crate::config::{Config, Secret, SyncSchedule, UCF_METRICS};
use crate::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use crate::store::Compressed;

/// Allowed clock difference between sender and us, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// The event types the ritual system sends.
pub const EVENT_TYPES: [&str; 3] = ["ritual.completed", "ritual.started", "ucf.updated"];

/// The ritual system's events, as an ingest [`Scheme`].
pub struct Ritual;

impl Scheme for Ritual {
    const SOURCE: &'static str = "ritual";
    /// Ritual events are small documents.
    const BODY_LIMIT: usize = 1024 * 1024;
    const CLAIMED: (Option<&'static str>, Option<&'static str>) = (Some("webhook-id"), None);
    type Body = ();

    fn admit(config: &Config, headers: &HeaderMap) -> Result<(), IngestError> {
        if config.secrets.ritual_webhook.is_empty() {
            return Err(IngestError::NotConfigured("RITUAL_WEBHOOK_SECRET"));
        }
        super::json_only(headers)
    }

    fn verify(
        config: &Config,
        headers: &HeaderMap,
        raw: &[u8],
        now: i64,
    ) -> Result<(), IngestError> {
        verify(&config.secrets.ritual_webhook, headers, raw, now / 1000).map(drop)
    }

    fn decode(
        config: &Config,
        headers: &HeaderMap,
        _: (),
        raw: &[u8],
        now: i64,
    ) -> Result<Verdict, IngestError> {
        let envelope = decode(raw)?;
        let payload = std::str::from_utf8(raw)
            .map(Compressed::new)
            .map_err(|_| IngestError::BadRequest("body is not UTF-8".into()))?;
        Ok(Verdict::Store(Inbound {
            source: Self::SOURCE,
            // `verify` held it: present and visible ASCII.
            delivery_id: required_header(headers, "webhook-id")?.to_owned(),
            job: route(&envelope, &config.file.sync_schedule),
            event_type: envelope.event_type,
            hook_id: None,
            repo: None,
            headers: keep_headers(headers, &["webhook-id", "webhook-timestamp", "user-agent"]),
            payload,
            received_at: now,
        }))
    }
}

/// Verifies the three Standard Webhooks headers; returns the message id on success.
pub fn verify(
    keys: &[Secret],
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<String, IngestError> {
    let missing = |name: &'static str| match headers.get(name) {
        None => IngestError::MissingSignature(name),
        Some(_) => IngestError::InvalidSignature,
    };
    let id = required_header(headers, "webhook-id").map_err(|_| missing("webhook-id"))?;
    let ts_text =
        required_header(headers, "webhook-timestamp").map_err(|_| missing("webhook-timestamp"))?;
    let sigs =
        required_header(headers, "webhook-signature").map_err(|_| missing("webhook-signature"))?;
    super::check_timestamp("webhook-timestamp", ts_text, now_secs, TOLERANCE_SECS)?;
    let candidates: Vec<Vec<u8>> = sigs
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| STANDARD.decode(b).ok())
        .collect();
    let ok = keys.iter().filter_map(Secret::whsec_key).any(|key| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts_text.as_bytes());
        mac.update(b".");
        mac.update(body);
        candidates
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
    });
    if ok {
        Ok(id.to_owned())
    } else {
        Err(IngestError::InvalidSignature)
    }
}

/// The envelope every ritual event has.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: String,
    pub data: Map<String, Value>,
}

/// Parses and validates a verified body.
pub fn decode(body: &[u8]) -> Result<Envelope, IngestError> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| IngestError::BadRequest(format!("invalid ritual envelope: {e}")))?;
    if !EVENT_TYPES.contains(&env.event_type.as_str()) {
        return Err(IngestError::BadRequest(format!(
            "unknown type {:?}; valid: {}",
            env.event_type,
            EVENT_TYPES.join(", ")
        )));
    }
    crate::timestamp::parse(&env.timestamp).ok_or_else(|| {
        IngestError::BadRequest(
            "timestamp must be an ISO 8601 date-time (RFC 3339, or without a zone for UTC)".into(),
        )
    })?;
    for key in ["ucf_before", "ucf_after"] {
        if let Some(v) = env.data.get(key) {
            check_ucf(key, v)?;
        }
    }
    if env.event_type == "ritual.completed" && !env.data.contains_key("ucf_after") {
        return Err(IngestError::BadRequest(
            "ritual.completed needs data.ucf_after".into(),
        ));
    }
    Ok(env)
}

/// A UCF object must carry the six metrics as finite numbers.
fn check_ucf(key: &str, v: &Value) -> Result<(), IngestError> {
    let obj = v
        .as_object()
        .ok_or_else(|| IngestError::BadRequest(format!("data.{key} must be an object")))?;
    for m in UCF_METRICS {
        match obj.get(m).and_then(Value::as_f64) {
            Some(x) if x.is_finite() => {}
            _ => {
                return Err(IngestError::BadRequest(format!(
                    "data.{key}.{m} must be a number"
                )))
            }
        }
    }
    Ok(())
}

/// A completed ritual or a UCF update queues a full sync when `on_ritual` is set.
pub fn route(env: &Envelope, schedule: &SyncSchedule) -> Option<JobPayload> {
    (schedule.on_ritual && env.event_type != "ritual.started").then(|| {
        JobPayload::Sync(SyncJob {
            scope: SyncScope::Full,
            sources: None,
            targets: None,
            trigger: Trigger::Ritual {
                event: env.event_type.clone(),
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn sign(key: &str, id: &str, ts: i64, body: &str) -> String {
        let k = Secret::new(key).whsec_key().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&k).unwrap();
        mac.update(format!("{id}.{ts}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert(
            "webhook-timestamp",
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification's reference libraries.
        let body = r#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1614265330;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(sign(KEY, id, ts, body), expected);
        let keys = [Secret::new(KEY)];
        assert_eq!(
            verify(&keys, &headers(id, ts, expected), body.as_bytes(), ts).unwrap(),
            id
        );
    }

    #[test]
    fn several_signatures_and_tolerance() {
        let keys = [Secret::new(KEY)];
        let now = 1_700_000_000;
        let good = sign(KEY, "m", now, "{}");
        let both = format!("v1,AAAA {good}");
        verify(&keys, &headers("m", now, &both), b"{}", now).unwrap();
        let stale = now - TOLERANCE_SECS - 1;
        let h = headers("m", stale, &sign(KEY, "m", stale, "{}"));
        assert!(matches!(
            verify(&keys, &h, b"{}", now),
            Err(IngestError::InvalidTimestamp(_))
        ));
        let future = now + TOLERANCE_SECS + 1;
        let h = headers("m", future, &sign(KEY, "m", future, "{}"));
        assert!(matches!(
            verify(&keys, &h, b"{}", now),
            Err(IngestError::InvalidTimestamp(_))
        ));
        for extreme in [
            now.wrapping_sub(i64::MIN),
            i64::MIN,
            i64::MAX,
            now - (1i64 << 62) - (1i64 << 62) + 1,
        ] {
            let h = headers("m", extreme, &sign(KEY, "m", extreme, "{}"));
            assert!(
                matches!(
                    verify(&keys, &h, b"{}", now),
                    Err(IngestError::InvalidTimestamp(_))
                ),
                "{extreme}"
            );
        }
        assert!(matches!(
            verify(&keys, &headers("m", now, &good), b"{ }", now),
            Err(IngestError::InvalidSignature)
        ));
        assert!(matches!(
            verify(&keys, &HeaderMap::new(), b"{}", now),
            Err(IngestError::MissingSignature(_))
        ));
    }

    #[test]
    fn envelope_validation() {
        let ucf = r#"{"harmony":0.9,"resilience":1.1,"prana":0.6,"drishti":0.7,"klesha":0.02,"zoom":1.0}"#;
        let ok = format!(
            r#"{{"type":"ritual.completed","timestamp":"2026-01-01T00:00:00Z","data":{{"ucf_after":{ucf}}}}}"#
        );
        assert!(decode(ok.as_bytes()).is_ok());
        for bad in [
            r#"{"type":"ritual.exploded","timestamp":"2026-01-01T00:00:00Z","data":{}}"#,
            r#"{"type":"ritual.started","timestamp":"yesterday","data":{}}"#,
            r#"{"type":"ritual.completed","timestamp":"2026-01-01T00:00:00Z","data":{}}"#,
            r#"{"type":"ucf.updated","timestamp":"2026-01-01T00:00:00Z","data":{"ucf_after":{"harmony":"high"}}}"#,
            r#"[1,2]"#,
        ] {
            assert!(
                matches!(decode(bad.as_bytes()), Err(IngestError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
