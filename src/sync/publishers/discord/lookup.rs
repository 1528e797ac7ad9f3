//! Resolving an uncertain Discord attempt: did the message arrive before we lost track?
//!
//! With `DISCORD_BOT_TOKEN` and `DISCORD_CHANNEL_ID` set, the bot reads the channel's recent
//! messages (`GET /channels/{id}/messages`, which needs View Channel and Read Message
//! History) and looks for one our webhook posted that names the run: found, the delivery
//! succeeds with that message's id and nothing is posted; not found, posting again is safe.
//! Without them nothing can be known, so the caller posts again and the metric
//! `helix_delivery_uncertain_total{target="discord",resolution="reposted"}` counts the
//! possible duplicates. The bot token is a secret like the webhook URL: it only ever goes in
//! the `Authorization` header.

use reqwest::Url;
use serde_json::Value;

use super::super::{PublishContext, PublishError, Receipt};
use crate::config::Secret;

/// How many recent messages are searched (Discord's maximum per request).
const RECENT: u32 = 100;

/// `Some(receipt)` when the run's message is already in the channel; `None` when it must be
/// posted (it is not there, or no lookup is possible).
pub async fn resolve(
    cx: &PublishContext<'_>,
    webhook: &Secret,
) -> Result<Option<Receipt>, PublishError> {
    let config = cx.config();
    let count = |resolution: &'static str| {
        metrics::counter!("helix_delivery_uncertain_total", "target" => "discord", "resolution" => resolution)
            .increment(1);
    };
    let (Some(token), Some(channel)) = (
        config.secrets.discord_bot_token.as_ref(),
        config.discord_channel_id.as_deref(),
    ) else {
        count("reposted");
        tracing::warn!(run_id = %cx.run.id, "an earlier Discord attempt may have been delivered; posting again (set DISCORD_BOT_TOKEN and DISCORD_CHANNEL_ID to check first)");
        return Ok(None);
    };
    let base = super::api_base(config);
    let bad = || PublishError::Permanent("DISCORD_CHANNEL_ID is not a channel id".into());
    let mut url =
        Url::parse(&format!("{base}/api/v10/channels/{channel}/messages")).map_err(|_| bad())?;
    url.query_pairs_mut()
        .append_pair("limit", &RECENT.to_string());
    let res = cx
        .deps
        .http
        .get(url)
        .header("authorization", format!("Bot {}", token.expose()))
        .send()
        .await
        .map_err(|e| {
            PublishError::Retryable(format!("Discord channel lookup: {}", e.without_url()))
        })?;
    let status = res.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(PublishError::Retryable(format!(
            "Discord channel lookup answered {}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        // The bot cannot read the channel: as good as no lookup at all.
        count("reposted");
        tracing::warn!(status = status.as_u16(), run_id = %cx.run.id, "the Discord channel lookup was refused; posting again");
        return Ok(None);
    }
    let messages: Vec<Value> = res.json().await.unwrap_or_default();
    let ours = webhook_id(webhook);
    match find(&messages, &cx.run.id, ours.as_deref()) {
        Some(id) => {
            count("found");
            tracing::info!(run_id = %cx.run.id, message_id = %id, "the uncertain Discord attempt had arrived; not posting again");
            Ok(Some(Receipt {
                external_id: Some(id),
            }))
        }
        None => {
            count("not_found");
            Ok(None)
        }
    }
}

/// The id of the webhook in a webhook URL.
fn webhook_id(webhook: &Secret) -> Option<String> {
    let url = Url::parse(webhook.expose()).ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    let at = segments.iter().position(|s| *s == "webhooks")?;
    segments.get(at + 1).map(|s| (*s).to_owned())
}

/// The id of a message our webhook posted that names `run_id`.
fn find(messages: &[Value], run_id: &str, webhook: Option<&str>) -> Option<String> {
    messages
        .iter()
        .filter(|m| webhook.is_none_or(|w| m.get("webhook_id").and_then(Value::as_str) == Some(w)))
        .find(|m| m.to_string().contains(run_id))
        .and_then(|m| m.get("id")?.as_str().map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_our_webhooks_message_naming_the_run_counts() {
        let msgs = [
            json!({"id": "1", "webhook_id": "other", "embeds": [{"footer": {"text": "run r-1"}}]}),
            json!({"id": "2", "webhook_id": "42", "embeds": [{"footer": {"text": "run r-2"}}]}),
            json!({"id": "3", "webhook_id": "42", "embeds": [{"footer": {"text": "run r-1"}}]}),
        ];
        assert_eq!(find(&msgs, "r-1", Some("42")).as_deref(), Some("3"));
        assert_eq!(find(&msgs, "r-9", Some("42")), None);
        let s = Secret::new("https://discord.com/api/webhooks/42/tok?x=1");
        assert_eq!(webhook_id(&s).as_deref(), Some("42"));
    }
}
