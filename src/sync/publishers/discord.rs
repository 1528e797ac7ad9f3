//! Discord: one webhook message per run (a content line and one rich embed).
//!
//! The webhook URL carries its token, so it is a secret: it is never logged, never put in
//! an error (reqwest errors are stripped of their URL) and only its hash names the durable
//! facts kept about it in `kv` — the rate-limit reset time and "this webhook was rejected
//! (401/403/404), stay off until the URL changes". Every text is fitted to Discord's limits
//! before sending (see `limits`), so a long change summary can never earn a 400. A sent
//! message is recorded on the delivery (its id from `?wait=true`), which is what keeps a
//! retry from posting twice.

use async_trait::async_trait;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::limits::{self, discord as lim, truncate};
use super::stats::{change_lines, QuickStats};
use super::{PublishContext, PublishError, Publisher, Receipt};
use crate::config::{Config, Secret};
use crate::store::now_ms;
use crate::sync::SyncDeps;

/// Longest wait for a rate-limit bucket we sit out inside one attempt; longer ones go back
/// to the queue as a rate-limited retry.
const MAX_INLINE_WAIT_MS: i64 = 2_000;

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
        let body = message(cx);
        let res = cx
            .deps
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| PublishError::Retryable(format!("Discord: {}", e.without_url())))?;
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
        let err = classify(status, &headers, &answer);
        if let PublishError::Disabled(reason) = &err {
            store
                .kv_set(&fact_key("rejected", secret), reason, now_ms())
                .await?;
        }
        Err(err)
    }
}

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

/// Sits out a short exhausted bucket; hands a long one back to the queue.
async fn wait_for_bucket(reset_at: i64) -> Result<(), PublishError> {
    let wait = reset_at - now_ms();
    if wait <= 0 {
        return Ok(());
    }
    if wait > MAX_INLINE_WAIT_MS {
        return Err(PublishError::RateLimited {
            message: format!("Discord rate-limit bucket empty for {wait} ms"),
            retry_at: reset_at,
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    Ok(())
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

#[derive(Debug, Serialize)]
struct Embed {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    description: String,
    color: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    fields: Vec<Field>,
    footer: Footer,
}

#[derive(Debug, Serialize)]
struct Field {
    name: String,
    value: String,
    inline: bool,
}

#[derive(Debug, Serialize)]
struct Footer {
    text: String,
}

impl Embed {
    fn text_len(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|f| limits::chars(&f.name) + limits::chars(&f.value))
            .sum();
        limits::chars(&self.title)
            + limits::chars(&self.description)
            + limits::chars(&self.footer.text)
            + fields
    }

    /// Cuts every part to its limit, then the description and, if need be, trailing
    /// fields until the whole embed is within the 6,000-character total.
    fn fit(&mut self) {
        self.title = truncate(&self.title, lim::TITLE);
        self.description = truncate(&self.description, lim::DESCRIPTION);
        self.footer.text = truncate(&self.footer.text, lim::FOOTER);
        self.fields.truncate(lim::FIELDS);
        for f in &mut self.fields {
            f.name = truncate(&f.name, lim::FIELD_NAME);
            f.value = truncate(&f.value, lim::FIELD_VALUE);
        }
        let over = self.text_len().saturating_sub(lim::EMBED_TOTAL);
        if over > 0 {
            let keep = limits::chars(&self.description).saturating_sub(over).max(1);
            self.description = truncate(&self.description, keep);
        }
        while self.text_len() > lim::EMBED_TOTAL && self.fields.pop().is_some() {}
    }
}

fn colour(status: &str) -> u32 {
    match status {
        "succeeded" => 0x2ECC71,
        "partial" => 0xF1C40F,
        "failed" => 0xE74C3C,
        _ => 0x95A5A6,
    }
}

/// Role ids that are real snowflakes; anything else (`everyone`, names) is dropped so a
/// config typo can never ping everyone.
fn mention_roles(config: &Config) -> Vec<String> {
    config
        .file
        .publishers
        .discord
        .mention_roles
        .iter()
        .map(|r| r.trim().trim_start_matches("<@&").trim_end_matches('>'))
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
        .collect()
}

/// The webhook body for a run, within every limit.
fn message(cx: &PublishContext<'_>) -> Value {
    let run = &cx.run;
    let stats = QuickStats::of(&cx.snapshot, &cx.changes);
    let lines = change_lines(&cx.changes, 5);
    let description = if lines.is_empty() {
        "No changes since the last run.".to_owned()
    } else {
        lines.join("\n")
    };
    let g = &stats.github;
    let ucf = match &stats.ucf {
        Some(u) => match u.harmony {
            Some(h) => format!("harmony {h:.3}\n{}", u.status),
            None => u.status.clone(),
        },
        None => "no data".into(),
    };
    let a = &stats.agents;
    let mut fields = vec![
        Field {
            name: "GitHub".into(),
            value: format!(
                "{} repos · {} new commits\n★ {} · {} open issues",
                g.repos, g.new_commits, g.stars, g.open_issues
            ),
            inline: true,
        },
        Field {
            name: "UCF".into(),
            value: ucf,
            inline: true,
        },
        Field {
            name: "Agents".into(),
            value: format!("{}/{} active\n{} tasks", a.active, a.agents, a.tasks_total),
            inline: true,
        },
    ];
    let failing: Vec<String> = cx
        .snapshot
        .sources
        .iter()
        .filter(|(_, s)| s.status == "error")
        .map(|(n, s)| format!("{n}: {}", s.error.as_deref().unwrap_or("failed")))
        .collect();
    if !failing.is_empty() {
        fields.push(Field {
            name: "Source errors".into(),
            value: failing.join("\n"),
            inline: false,
        });
    }
    if !cx.exports.is_empty() {
        let files: Vec<String> = cx
            .exports
            .iter()
            .map(|e| format!("`{}` {}", e.format, e.path))
            .collect();
        fields.push(Field {
            name: "Exports".into(),
            value: files.join("\n"),
            inline: false,
        });
    }
    let public = cx
        .config()
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'));
    let mut embed = Embed {
        title: format!("Helix sync {}: {}", run.status, run.trigger),
        url: public.map(|u| format!("{u}/?run={}", run.id)),
        description,
        color: colour(&run.status),
        timestamp: run.finished_at.map(|t| t.to_rfc3339()),
        fields,
        footer: Footer {
            text: format!("helix-sync v{} · run {}", env!("CARGO_PKG_VERSION"), run.id),
        },
    };
    embed.fit();
    let roles = mention_roles(cx.config());
    let mentions: String = roles.iter().map(|r| format!("<@&{r}> ")).collect();
    let content = format!(
        "{mentions}Helix sync run `{}` {} ({} new commits)",
        run.id, run.status, g.new_commits
    );
    json!({
        "content": truncate(&content, lim::CONTENT),
        "embeds": [embed],
        // Nothing is pinged unless listed here: never @everyone, only the configured roles.
        "allowed_mentions": {"parse": [], "roles": roles},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn oversized_embed_fits_every_limit() {
        let mut e = Embed {
            title: "t".repeat(400),
            url: None,
            description: "d".repeat(9000),
            color: 0,
            timestamp: None,
            fields: (0..30)
                .map(|i| Field {
                    name: format!("{i}").repeat(300),
                    value: "v".repeat(2000),
                    inline: true,
                })
                .collect(),
            footer: Footer {
                text: "f".repeat(3000),
            },
        };
        e.fit();
        assert!(e.text_len() <= lim::EMBED_TOTAL);
        assert!(e.fields.len() <= lim::FIELDS);
        assert!(limits::chars(&e.title) <= lim::TITLE);
        assert!(e
            .fields
            .iter()
            .all(|f| limits::chars(&f.value) <= lim::FIELD_VALUE));
    }

    #[test]
    fn only_numeric_roles_are_mentioned() {
        let mut c =
            Config::load(&[("HELIX_CONFIG".to_owned(), "/nonexistent".to_owned())].into()).unwrap();
        c.file.publishers.discord.mention_roles = vec![
            "123".into(),
            "<@&456>".into(),
            "everyone".into(),
            "@here".into(),
        ];
        assert_eq!(mention_roles(&c), ["123", "456"]);
    }
}
