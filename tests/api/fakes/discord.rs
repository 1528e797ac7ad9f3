//! A Discord execute-webhook fake (`POST /api/v10/webhooks/{id}/{token}`) that enforces the
//! message limits, `User-Agent` and JSON content type, refuses unknown webhooks with 404
//! and answers 429 / 5xx on demand. It can be down for a while (503 until a deadline), or
//! accept a message and then never answer (the "crash mid-POST" case), and it serves the
//! channel the webhook posts to (`GET /api/v10/channels/{id}/messages`, newest first, with a
//! `Bot` token only).

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{Fault, Faults, Shared};

/// The webhook the fake knows (tests configure `DISCORD_SYNC_WEBHOOK` to match).
pub const WEBHOOK_ID: &str = "123456789012345678";
pub const WEBHOOK_TOKEN: &str = "fake-webhook-token";
/// The channel the webhook posts to, and the bot token that may read it.
pub const CHANNEL_ID: &str = "555000111222333444";
pub const BOT_TOKEN: &str = "fake-bot-token";

#[derive(Debug, Default)]
pub struct DiscordState {
    /// Accepted message bodies, in order.
    pub messages: Vec<Value>,
    /// Why each refused request was refused.
    pub rejections: Vec<String>,
    pub requests: usize,
    faults: Faults,
    /// Answer successes with `X-RateLimit-Remaining: 0` and this `Reset-After` (s).
    pub exhaust_bucket: Option<f64>,
    /// Every request before this instant gets 503 (an outage).
    pub down_until: Option<std::time::Instant>,
    /// Accept the next message, then hold the answer this long (the caller gives up first).
    pub hang_next: Option<std::time::Duration>,
    /// Channel reads served.
    pub channel_reads: usize,
}

#[derive(Clone)]
pub struct DiscordFake(pub Shared<DiscordState>);

impl DiscordFake {
    pub async fn mount(server: &MockServer) -> Self {
        let fake = Self(Shared::new(DiscordState::default()));
        Mock::given(any())
            .respond_with(fake.clone())
            .mount(server)
            .await;
        fake
    }

    pub fn fail(&self, f: Fault) {
        self.0.lock().faults.push(f);
    }

    pub fn messages(&self) -> Vec<Value> {
        self.0.lock().messages.clone()
    }

    pub fn requests(&self) -> usize {
        self.0.lock().requests
    }

    pub fn rejections(&self) -> Vec<String> {
        self.0.lock().rejections.clone()
    }

    /// Answers 503 to everything for `d` from now.
    pub fn down_for(&self, d: std::time::Duration) {
        self.0.lock().down_until = Some(std::time::Instant::now() + d);
    }
}

/// `GET /channels/{id}/messages`: the bot's view of the channel, newest first.
fn channel_messages(s: &mut DiscordState, req: &Request) -> ResponseTemplate {
    if super::authorization(req) != format!("Bot {BOT_TOKEN}") {
        return ResponseTemplate::new(401)
            .set_body_json(json!({"message": "401: Unauthorized", "code": 0}));
    }
    s.channel_reads += 1;
    let limit: usize = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"message": "Invalid Form Body", "code": 50035}));
    }
    let recent: Vec<Value> = s.messages.iter().rev().take(limit).cloned().collect();
    ResponseTemplate::new(200).set_body_json(recent)
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's checks on a webhook message body; `Err` names the first violation.
fn validate(body: &Value) -> Result<(), String> {
    let over = |what: &str, n: usize, max: usize| {
        if n > max {
            Err(format!("{what} is {n} > {max}"))
        } else {
            Ok(())
        }
    };
    let content = body.get("content").cloned().unwrap_or(Value::Null);
    over("content", chars(&content), 2000)?;
    let embeds = body
        .get("embeds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if chars(&content) == 0 && embeds.is_empty() {
        return Err("empty message".into());
    }
    over("embeds", embeds.len(), 10)?;
    let mut total = 0;
    for e in &embeds {
        let title = chars(&e["title"]);
        over("embed title", title, 256)?;
        let desc = chars(&e["description"]);
        over("embed description", desc, 4096)?;
        let footer = chars(&e["footer"]["text"]);
        over("embed footer", footer, 2048)?;
        total += title + desc + footer + chars(&e["author"]["name"]);
        let fields = e
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        over("embed fields", fields.len(), 25)?;
        for f in &fields {
            let (n, v) = (chars(&f["name"]), chars(&f["value"]));
            if n == 0 || v == 0 {
                return Err("field name and value must be non-empty".into());
            }
            over("field name", n, 256)?;
            over("field value", v, 1024)?;
            total += n + v;
        }
        if let Some(url) = e.get("url").and_then(Value::as_str) {
            if !url.starts_with("http") {
                return Err(format!("embed url {url:?} is not a URL"));
            }
        }
    }
    over("total embed text", total, 6000)?;
    if let Some(am) = body.get("allowed_mentions") {
        let parse = am["parse"].as_array().cloned().unwrap_or_default();
        let roles = am["roles"].as_array().cloned().unwrap_or_default();
        if parse.contains(&json!("roles")) && !roles.is_empty() {
            return Err("allowed_mentions: parse roles and roles are mutually exclusive".into());
        }
        over("allowed_mentions.roles", roles.len(), 100)?;
    }
    Ok(())
}

impl Respond for DiscordFake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock();
        s.requests += 1;
        let path = req.url.path().to_owned();
        if s.down_until.is_some_and(|t| std::time::Instant::now() < t) {
            return ResponseTemplate::new(503)
                .set_body_json(json!({"message": "service unavailable", "code": 0}));
        }
        if path == format!("/api/v10/channels/{CHANNEL_ID}/messages")
            && req.method.as_str() == "GET"
        {
            return channel_messages(&mut s, req);
        }
        if let Some(f) = s.faults.take(req.method.as_str(), &path) {
            let mut t = ResponseTemplate::new(f.status);
            if f.status == 429 {
                let secs = f.retry_after.unwrap_or(0.05);
                t = t
                    .insert_header("retry-after", secs.ceil().to_string())
                    .set_body_json(json!({"message": "You are being rate limited.", "retry_after": secs, "global": false}));
            } else {
                t = t.set_body_json(json!({"message": "upstream trouble", "code": 0}));
            }
            return t;
        }
        let unknown = || {
            ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Unknown Webhook", "code": 10015}))
        };
        let expected = format!("/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}");
        if path != expected {
            s.rejections.push(format!("unknown webhook path {path}"));
            return unknown();
        }
        let mut reject = |why: String| {
            s.rejections.push(why.clone());
            ResponseTemplate::new(400).set_body_json(
                json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": [why]}}),
            )
        };
        if req.method.as_str() != "POST" {
            return reject(format!("method {}", req.method));
        }
        if !req.headers.contains_key("user-agent") {
            return reject("missing User-Agent".into());
        }
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return reject(format!("content type {ct:?}"));
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => return reject(format!("invalid JSON: {e}")),
        };
        if let Err(why) = validate(&body) {
            return reject(why);
        }
        let wait = req
            .url
            .query_pairs()
            .any(|(k, v)| k == "wait" && v == "true");
        let id = format!("99{:016}", s.messages.len() + 1);
        let mut message = body.clone();
        message["id"] = json!(id);
        message["webhook_id"] = json!(WEBHOOK_ID);
        message["channel_id"] = json!(CHANNEL_ID);
        s.messages.push(message.clone());
        let remaining = if s.exhaust_bucket.is_some() { "0" } else { "4" };
        let mut t = if wait {
            ResponseTemplate::new(200).set_body_json(message)
        } else {
            ResponseTemplate::new(204)
        };
        t = t
            .insert_header("x-ratelimit-limit", "5")
            .insert_header("x-ratelimit-remaining", remaining);
        if let Some(secs) = s.exhaust_bucket {
            t = t.insert_header("x-ratelimit-reset-after", secs.to_string());
        }
        if let Some(d) = s.hang_next.take() {
            t = t.set_delay(d);
        }
        t
    }
}
