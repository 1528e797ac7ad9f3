//! GitHub webhooks: `X-Hub-Signature-256` verification, payload decoding, event routing.
//!
//! The signature is an HMAC-SHA256 of the raw body (for form-encoded deliveries, of the raw
//! form body, not of the decoded JSON). Several secrets may be configured during a rotation;
//! any one matching is enough. `Mac::verify_slice` does the constant-time comparison.

use std::borrow::Cow;

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::{required_header, Inbound, IngestError, Scheme, Verdict};
use crate::config::{Config, RepoSelection, Secret, SyncSchedule};
use crate::queue::{JobPayload, SyncJob, SyncScope, Trigger};
use crate::store::Compressed;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// GitHub's webhooks, as an ingest [`Scheme`].
pub struct GitHub;

impl Scheme for GitHub {
    const SOURCE: &'static str = "github";
    /// GitHub caps webhook payloads at 25 MB.
    const BODY_LIMIT: usize = 25 * 1024 * 1024;
    const CLAIMED: (Option<&'static str>, Option<&'static str>) =
        (Some("x-github-delivery"), Some("x-github-event"));
    type Body = BodyKind;

    fn admit(config: &Config, headers: &HeaderMap) -> Result<BodyKind, IngestError> {
        if config.secrets.github_webhook.is_empty() {
            return Err(IngestError::NotConfigured("GITHUB_WEBHOOK_SECRET"));
        }
        body_kind(headers)
    }

    fn verify(config: &Config, headers: &HeaderMap, raw: &[u8], _: i64) -> Result<(), IngestError> {
        let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        verify_signature(&config.secrets.github_webhook, raw, sig)
    }

    fn decode(
        config: &Config,
        headers: &HeaderMap,
        kind: BodyKind,
        raw: &[u8],
        now: i64,
    ) -> Result<Verdict, IngestError> {
        let delivery = decode(headers, kind, raw)?;
        if delivery.event == "ping" {
            let zen = delivery.payload.zen.clone();
            return Ok(Verdict::Reply(
                serde_json::json!({"zen": zen, "hook_id": delivery.hook_id}),
            ));
        }
        let route = route(&delivery, &config.file.sync_schedule, &config.github_repos);
        let mut headers = delivery.headers;
        if let Some(flag) = route.default_branch {
            headers.insert("default_branch".into(), Value::Bool(flag));
        }
        Ok(Verdict::Store(Inbound {
            source: Self::SOURCE,
            delivery_id: delivery.delivery_id,
            event_type: delivery.event,
            hook_id: delivery.hook_id,
            repo: route.repo,
            headers,
            payload: delivery.document,
            received_at: now,
            job: route.job,
        }))
    }
}

/// Events that change what a repository sync would collect, and so queue one.
const SYNC_EVENTS: [&str; 4] = ["push", "release", "issues", "pull_request"];
const DEPLOY_EVENTS: [&str; 2] = ["deployment", "deployment_status"];
/// A GitHub App's installation changed (created, deleted, suspended) or its repositories did
/// (added, removed): a full GitHub sync finds the new set, without a restart.
const INSTALLATION_EVENTS: [&str; 2] = ["installation", "installation_repositories"];

/// Headers kept on the stored event.
const KEPT_HEADERS: [&str; 7] = [
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "user-agent",
    "content-type",
];

/// Checks `sha256=<hex>` against every configured secret.
pub fn verify_signature(
    secrets: &[Secret],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), IngestError> {
    let header = header.ok_or(IngestError::MissingSignature("X-Hub-Signature-256"))?;
    let sig = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(IngestError::InvalidSignature)?;
    let ok = secrets.iter().any(|s| {
        let mut mac = Hmac::<Sha256>::new_from_slice(s.expose().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(IngestError::InvalidSignature)
    }
}

/// The body's media type, if it is one GitHub sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// Accepts `application/json` and `application/x-www-form-urlencoded` (with parameters).
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, IngestError> {
    match super::media_type(headers).as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        _ => Err(super::unsupported(headers)),
    }
}

/// The few payload fields ingest routes on. Decoding into this instead of a whole
/// `serde_json::Value` still checks the entire document's syntax, but skips building a tree
/// of a payload that is only stored (a push can be megabytes).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Head {
    /// The `ping` event's proverb.
    pub zen: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub repository: Option<RepositoryHead>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct RepositoryHead {
    pub full_name: Option<String>,
    pub default_branch: Option<String>,
}

/// A verified, decoded delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: String,
    pub delivery_id: String,
    pub hook_id: Option<String>,
    pub payload: Head,
    /// The JSON text as GitHub sent it (the `payload` field for form bodies), compressed
    /// for the events table.
    pub document: Compressed,
    pub headers: serde_json::Map<String, Value>,
}

/// Decodes an already verified body.
pub fn decode(headers: &HeaderMap, kind: BodyKind, body: &[u8]) -> Result<Delivery, IngestError> {
    let event = required_header(headers, "x-github-event")?.to_owned();
    let delivery_id = required_header(headers, "x-github-delivery")?.to_owned();
    if delivery_id.len() > 200 {
        return Err(IngestError::BadRequest(
            "X-GitHub-Delivery is too long".into(),
        ));
    }
    let hook_id = headers
        .get("x-github-hook-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let payload_text: Cow<'_, str> = match kind {
        BodyKind::Json => std::str::from_utf8(body)
            .map_err(|_| IngestError::BadRequest("body is not UTF-8".into()))?
            .into(),
        BodyKind::Form => form_urlencoded::parse(body)
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v)
            .ok_or_else(|| IngestError::BadRequest("form body has no `payload` field".into()))?,
    };
    // A struct also deserializes from a JSON array; only an object is a payload.
    if !payload_text.trim_start().starts_with('{') {
        return Err(IngestError::BadRequest(
            "payload must be a JSON object".into(),
        ));
    }
    let payload: Head = serde_json::from_str(&payload_text)
        .map_err(|e| IngestError::BadRequest(format!("payload is not valid JSON: {e}")))?;
    Ok(Delivery {
        event,
        delivery_id,
        hook_id,
        payload,
        document: Compressed::new(&payload_text),
        headers: super::keep_headers(headers, &KEPT_HEADERS),
    })
}

/// Where a delivery goes: the repository it concerns and the job it queues, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub repo: Option<String>,
    /// For a push: whether it went to the repository's default branch.
    pub default_branch: Option<bool>,
    pub job: Option<JobPayload>,
}

/// Where a delivery goes. A repository event queues a sync of that repository when
/// `GITHUB_REPOS` selects it (an organisation's webhook sends every repository's events);
/// an installation event queues a full GitHub sync.
pub fn route(d: &Delivery, schedule: &SyncSchedule, repos: &RepoSelection) -> Route {
    let repository = d.payload.repository.as_ref();
    let repo = repository.and_then(|r| r.full_name.clone());
    let default_branch = (d.event == "push").then(|| {
        let branch = repository.and_then(|r| r.default_branch.as_deref());
        matches!((branch, d.payload.git_ref.as_deref()), (Some(b), Some(r)) if r == format!("refs/heads/{b}"))
    });
    let wants_sync = SYNC_EVENTS.contains(&d.event.as_str())
        || (schedule.on_deploy && DEPLOY_EVENTS.contains(&d.event.as_str()));
    let sync = |scope| {
        Some(JobPayload::Sync(SyncJob {
            scope,
            sources: Some(vec!["github".into()]),
            targets: None,
            trigger: Trigger::Webhook {
                event: d.event.clone(),
            },
        }))
    };
    let job = match (&repo, wants_sync) {
        _ if INSTALLATION_EVENTS.contains(&d.event.as_str()) => sync(SyncScope::Full),
        // With no selection configured the sync is queued as always (it then reads nothing).
        (Some(repo), true) if repos.is_empty() || repos.selects(repo) => {
            sync(SyncScope::Repo { repo: repo.clone() })
        }
        _ => None,
    };
    Route {
        repo,
        default_branch,
        job,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn githubs_published_test_vector() {
        let secret = "It's a Secret to Everybody";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(secret, b"Hello, World!"), header);
        verify_signature(&[Secret::new(secret)], b"Hello, World!", Some(header)).unwrap();
    }

    #[test]
    fn rejects_wrong_missing_and_malformed_signatures() {
        let s = [Secret::new("k")];
        let good = sign("k", b"body");
        assert!(matches!(
            verify_signature(&s, b"body", None),
            Err(IngestError::MissingSignature(_))
        ));
        assert!(matches!(
            verify_signature(&s, b"body2", Some(&good)),
            Err(IngestError::InvalidSignature)
        ));
        assert!(matches!(
            verify_signature(&s, b"body", Some("sha1=abc")),
            Err(IngestError::InvalidSignature)
        ));
        assert!(matches!(
            verify_signature(&s, b"body", Some("sha256=zz")),
            Err(IngestError::InvalidSignature)
        ));
    }

    #[test]
    fn any_rotated_secret_verifies() {
        let s = [Secret::new("old"), Secret::new("new")];
        verify_signature(&s, b"x", Some(&sign("new", b"x"))).unwrap();
        verify_signature(&s, b"x", Some(&sign("old", b"x"))).unwrap();
    }

    fn delivery(event: &str, payload: Value) -> Delivery {
        Delivery {
            event: event.into(),
            delivery_id: "d".into(),
            hook_id: None,
            document: Compressed::new(&payload.to_string()),
            payload: serde_json::from_value(payload).unwrap(),
            headers: Default::default(),
        }
    }

    fn all() -> RepoSelection {
        RepoSelection::parse(&["*".into()], None).unwrap()
    }

    #[test]
    fn routing_flags_the_default_branch_and_queues_repo_syncs() {
        let s = SyncSchedule::default();
        let push = |r: &str| {
            delivery(
                "push",
                serde_json::json!({"ref": r, "repository": {"full_name": "o/r", "default_branch": "main"}}),
            )
        };
        let main = route(&push("refs/heads/main"), &s, &all());
        assert_eq!(main.default_branch, Some(true));
        assert!(
            matches!(&main.job, Some(JobPayload::Sync(j)) if j.scope == SyncScope::Repo { repo: "o/r".into() })
        );
        let feature = route(&push("refs/heads/feature"), &s, &all());
        assert_eq!(feature.default_branch, Some(false));
        assert!(feature.job.is_some());
        let star = route(
            &delivery(
                "star",
                serde_json::json!({"repository": {"full_name": "o/r"}}),
            ),
            &s,
            &all(),
        );
        assert!(star.job.is_none() && star.repo.as_deref() == Some("o/r"));
        let deploy = delivery(
            "deployment",
            serde_json::json!({"repository": {"full_name": "o/r"}}),
        );
        assert!(route(&deploy, &s, &all()).job.is_some());
        let no_deploy = SyncSchedule {
            on_deploy: false,
            ..s.clone()
        };
        assert!(route(&deploy, &no_deploy, &all()).job.is_none());
        // An organisation's webhook sends every repository's events: only selected ones sync.
        let only = RepoSelection::parse(&["other/*".into()], None).unwrap();
        assert!(route(&push("refs/heads/main"), &s, &only).job.is_none());
        // An installation's repositories changed: a full GitHub sync finds the new set.
        let added = delivery(
            "installation_repositories",
            serde_json::json!({"action": "added", "installation": {"id": 7}}),
        );
        assert!(
            matches!(route(&added, &s, &only).job, Some(JobPayload::Sync(j)) if j.scope == SyncScope::Full)
        );
    }
}
