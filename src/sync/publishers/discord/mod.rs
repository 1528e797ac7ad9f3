//! Discord: one webhook message per run (a content line and one rich embed).
//!
//! The webhook URL carries its token, so it is a secret: it is never logged, never put in
//! an error (reqwest errors are stripped of their URL) and only its hash names the durable
//! facts kept about it in `kv` — the rate-limit reset time and "this webhook was rejected
//! (401/403/404), stay off until the URL changes". Every text is fitted to Discord's limits
//! before sending (see `limits`), so a long change summary can never earn a 400. A sent
//! message is recorded on the delivery (its id from `?wait=true`), which is what keeps a
//! retry from posting twice. What the message says is built in `message`.
//!
//! A webhook takes no idempotency key, so the delivery records "attempt started" before
//! the POST and clears it on a definite answer. An attempt found still marked started was
//! cut off (a crash, a lost answer): `lookup` resolves it by reading the channel when a bot
//! token and channel id are configured, and otherwise it is posted again and counted
//! (`helix_delivery_uncertain_total`).
//!
//! `followup` is the bot's side of the same API: it edits a slash command's deferred answer
//! with what came of it (the `discord_followup` job), through the same base URL and the same
//! reading of Discord's refusals.

pub mod followup;
mod lookup;
mod message;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::limits::truncate;
use super::{PublishContext, PublishError, Publisher, Receipt};
use crate::config::{Config, Secret};
use crate::store::now_ms;
use crate::sync::SyncDeps;

pub struct Discord;

#[async_trait]
impl Publisher for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn unconfigured(&self, config: &Config) -> Option<String> {
        if !config.file.publishers.discord.enabled {
            return Some("switched off (publishers.discord.enabled = false)".into());
        }
        config
            .secrets
            .discord_webhook
            .is_none()
            .then(|| "DISCORD_SYNC_WEBHOOK is not set".into())
    }

    async fn unavailable(&self, deps: &SyncDeps) -> Option<String> {
        if let Some(reason) = self.unconfigured(&deps.config) {
            return Some(reason);
        }
        let key = fact_key("rejected", deps.config.secrets.discord_webhook.as_ref()?);
        deps.store.kv_get(&key).await.ok().flatten()
    }

    async fn publish(&self, cx: &PublishContext<'_>) -> Result<Receipt, PublishError> {
        let secret = cx
            .config()
            .secrets
            .discord_webhook
            .as_ref()
            .ok_or_else(|| PublishError::Permanent("DISCORD_SYNC_WEBHOOK is not set".into()))?;
        let url = endpoint(secret, cx.config().discord_api_url.as_deref())?;
        let store = &cx.deps.store;
        let reset_key = fact_key("reset_at", secret);
        if let Some(reset_at) = store.kv_get(&reset_key).await?.and_then(|v| v.parse().ok()) {
            wait_for_bucket(reset_at).await?;
        }
        if let Some(retry_at) = notion_first(cx).await? {
            return Err(PublishError::RateLimited {
                message:
                    "waiting for the run's Notion delivery, whose conflicts this message lists"
                        .into(),
                retry_at,
            });
        }
        // An earlier attempt started and never learnt its outcome (a crash or a lost answer
        // mid-POST): Discord may already show the message.
        if cx.progress.get(ATTEMPT_STARTED).is_some() {
            if let Some(receipt) = lookup::resolve(cx, secret).await? {
                return Ok(receipt);
            }
        }
        // Webhooks take no idempotency key: record the attempt before sending, so that a
        // crash from here on is known to be uncertain.
        cx.save_progress(&json!({ ATTEMPT_STARTED: now_ms() }), None)
            .await?;
        let body = message::message(cx, &undone(cx).await?);
        let res = match cx.deps.http.post(url).json(&body).send().await {
            Ok(res) => res,
            Err(e) => {
                // Refused before anything was sent: certainly not delivered.
                if e.is_connect() {
                    cx.save_progress(&json!({}), None).await?;
                }
                return Err(PublishError::Retryable(format!(
                    "Discord: {}",
                    e.without_url()
                )));
            }
        };
        let status = res.status();
        if let Some(reset_at) = bucket_reset(res.headers()) {
            store
                .kv_set(&reset_key, &reset_at.to_string(), now_ms())
                .await?;
        }
        let headers = res.headers().clone();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            let id = answer.get("id").and_then(Value::as_str).map(String::from);
            return Ok(Receipt { external_id: id });
        }
        // A definite refusal: nothing was posted.
        cx.save_progress(&json!({}), None).await?;
        let err = classify(status, &headers, &answer);
        if let PublishError::Disabled(reason) = &err {
            let reason = cx.deps.redactor.redact(reason);
            store
                .kv_set(&fact_key("rejected", secret), &reason, now_ms())
                .await?;
        }
        Err(err)
    }
}

/// For a rollback run: the changes since the run it restored that it takes back (what the
/// newest snapshot had when the rollback was asked for), as message lines. Empty when that
/// snapshot is gone (retention) or this is no rollback.
async fn undone(cx: &PublishContext<'_>) -> Result<Vec<String>, PublishError> {
    let Some(from) = cx.meta.rollback_from.as_deref() else {
        return Ok(Vec::new());
    };
    let Some(bytes) = cx.deps.store.snapshot_json(from).await? else {
        return Ok(Vec::new());
    };
    let Ok(newer) = serde_json::from_slice::<crate::sync::snapshot::Snapshot>(&bytes) else {
        return Ok(Vec::new());
    };
    let taken_back = crate::sync::changes::summarize(Some(&cx.snapshot), &newer);
    Ok(super::stats::change_lines_within(
        &taken_back,
        &newer,
        message::UNDONE_CHARS,
    ))
}

/// How long after a run its Discord message waits for the run's Notion delivery.
const NOTION_FIRST_MS: i64 = 30_000;

/// When properties are flagged on conflict, the message lists the conflicts the run's Notion
/// delivery found, so that delivery goes first: while it is still to be tried (and for at
/// most [`NOTION_FIRST_MS`] after the run), the time to look again. Notion being down delays
/// the message by that much at most, never more.
async fn notion_first(cx: &PublishContext<'_>) -> Result<Option<i64>, PublishError> {
    if !cx.config().file.publishers.notion.conflicts.flags_any() {
        return Ok(None);
    }
    let notion = cx.deps.store.get_delivery(&cx.run.id, "notion").await?;
    if !notion.is_some_and(|d| matches!(d.state.as_str(), "pending" | "failed")) {
        return Ok(None);
    }
    let deadline = cx.row.finished_at.unwrap_or(0) + NOTION_FIRST_MS;
    let now = now_ms();
    Ok((now < deadline).then(|| (now + 2_000).min(deadline)))
}

/// The base of every Discord API call: `DISCORD_API_URL` (tests, proxies) or Discord's own.
pub fn api_base(config: &Config) -> &str {
    config
        .discord_api_url
        .as_deref()
        .unwrap_or("https://discord.com")
        .trim_end_matches('/')
}

/// The delivery-progress key that marks an attempt as started and not yet answered.
const ATTEMPT_STARTED: &str = "attempt_started_at";

/// `kv` key of a fact about the configured webhook, named by a hash of its URL so that a
/// new URL starts with a clean slate and the key never reveals the token.
fn fact_key(fact: &str, webhook: &Secret) -> String {
    let digest = Sha256::digest(webhook.expose().as_bytes());
    format!("discord:{fact}:{}", &hex::encode(digest)[..16])
}

/// The v10 execute-webhook URL with `wait=true`, on `api_base` when set (tests, proxies).
fn endpoint(webhook: &Secret, api_base: Option<&str>) -> Result<Url, PublishError> {
    let bad =
        || PublishError::Permanent("DISCORD_SYNC_WEBHOOK is not a Discord webhook URL".into());
    let url = Url::parse(webhook.expose()).map_err(|_| bad())?;
    let segments: Vec<&str> = url.path_segments().ok_or_else(bad)?.collect();
    let at = segments
        .iter()
        .position(|s| *s == "webhooks")
        .ok_or_else(bad)?;
    let (Some(id), Some(token)) = (segments.get(at + 1), segments.get(at + 2)) else {
        return Err(bad());
    };
    let base = match api_base {
        Some(b) => b.trim_end_matches('/').to_owned(),
        None => url.origin().ascii_serialization(),
    };
    let mut out =
        Url::parse(&format!("{base}/api/v10/webhooks/{id}/{token}")).map_err(|_| bad())?;
    {
        let mut q = out.query_pairs_mut();
        for (k, v) in url.query_pairs().filter(|(k, _)| k != "wait") {
            q.append_pair(&k, &v);
        }
        q.append_pair("wait", "true");
    }
    Ok(out)
}

/// Sits out a bucket that refills in a moment; hands a longer wait back to the queue.
async fn wait_for_bucket(reset_at: i64) -> Result<(), PublishError> {
    super::sit_out(reset_at)
        .await
        .map_err(|retry_at| PublishError::RateLimited {
            message: format!(
                "Discord rate-limit bucket empty for {} ms",
                retry_at - now_ms()
            ),
            retry_at,
        })
}

/// When the bucket is exhausted (`X-RateLimit-Remaining: 0`), the time it refills.
fn bucket_reset(headers: &HeaderMap) -> Option<i64> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if header("x-ratelimit-remaining")? != "0" {
        return None;
    }
    let secs: f64 = header("x-ratelimit-reset-after")?.parse().ok()?;
    Some(now_ms() + (secs * 1000.0).ceil() as i64)
}

/// Maps a non-2xx answer to what the queue should do. Keeps Discord's `code` and
/// `message`, never the rest of the body.
fn classify(status: StatusCode, headers: &HeaderMap, body: &Value) -> PublishError {
    let detail = match (
        body.get("code"),
        body.get("message").and_then(Value::as_str),
    ) {
        (Some(code), Some(msg)) => format!(" (code {code}: {})", truncate(msg, 200)),
        (None, Some(msg)) => format!(" ({})", truncate(msg, 200)),
        _ => String::new(),
    };
    let text = format!("Discord answered {}{detail}", status.as_u16());
    match status.as_u16() {
        429 => {
            let secs = body
                .get("retry_after")
                .and_then(Value::as_f64)
                .or_else(|| headers.get(RETRY_AFTER)?.to_str().ok()?.parse().ok())
                .unwrap_or(1.0);
            PublishError::RateLimited {
                message: text,
                retry_at: now_ms() + (secs.max(0.0) * 1000.0).ceil() as i64,
            }
        }
        401 | 403 | 404 => PublishError::Disabled(format!(
            "{text}; the webhook is disabled until DISCORD_SYNC_WEBHOOK changes"
        )),
        408 | 409 | 500..=599 => PublishError::Retryable(text),
        _ => PublishError::Permanent(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoint_uses_v10_wait_and_the_override_base() {
        let s = Secret::new("https://discord.com/api/webhooks/123/tok-en?thread_id=9");
        let u = endpoint(&s, None).unwrap();
        assert_eq!(
            u.as_str(),
            "https://discord.com/api/v10/webhooks/123/tok-en?thread_id=9&wait=true"
        );
        let u = endpoint(&s, Some("http://127.0.0.1:9/")).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/api/v10/webhooks/123/tok-en?thread_id=9&wait=true"
        );
        let err = endpoint(&Secret::new("https://x/y/secret-token"), None).unwrap_err();
        assert!(!err.to_string().contains("secret-token"));
    }

    #[test]
    fn answers_map_to_queue_decisions() {
        let h = HeaderMap::new();
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            &json!({"retry_after": 2.5, "message": "slow down"}),
        );
        let PublishError::RateLimited { retry_at, .. } = e else {
            panic!("{e:?}")
        };
        assert!(retry_at >= now_ms() + 2_000);
        let e = classify(
            StatusCode::NOT_FOUND,
            &h,
            &json!({"code": 10015, "message": "Unknown Webhook"}),
        );
        assert!(matches!(&e, PublishError::Disabled(m) if m.contains("10015")));
        assert!(classify(StatusCode::BAD_GATEWAY, &h, &Value::Null).is_retryable());
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, &h, &Value::Null),
            PublishError::Permanent(_)
        ));
    }
}
