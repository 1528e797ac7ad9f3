//! Discord's side of the bot, faked: it signs interactions with a test key pair and POSTs
//! them to the app's interactions endpoint as Discord does (validating the endpoint with a
//! good PING and a badly signed one first, like the developer portal), gives an answer up
//! after Discord's 3 seconds, keeps each interaction's token alive for 15 minutes of a clock
//! the test can move, and serves what the app calls back: the follow-up edit
//! (`PATCH /api/v10/webhooks/{application}/{token}/messages/@original`, rate-limited per
//! token like a webhook: 5 per 2 seconds, 429 with `retry_after`) and the command
//! registration (`PUT /api/v10/applications/{application}[/guilds/{id}]/commands`, with the
//! `Bot` token only). Mounted on the test app's `discord` server beside the webhook fake,
//! ahead of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::Shared;

/// The application the fake signs for (tests set `DISCORD_APPLICATION_ID` to it).
pub const APPLICATION_ID: &str = "424242424242424242";
/// The bot token registration takes.
pub const BOT_TOKEN: &str = "fake-bot-token-for-commands";
/// How long an interaction's token lives.
pub const TOKEN_LIFE: Duration = Duration::from_secs(15 * 60);
/// How long Discord waits for the first answer.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(3);
/// A webhook's bucket: this many requests per window.
const BUCKET: usize = 5;
const WINDOW_MS: i64 = 2_000;

/// The application's key pair (fixed, so every run signs the same way).
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// `DISCORD_PUBLIC_KEY` for [`signing_key`].
pub fn public_key_hex() -> String {
    hex::encode(signing_key().verifying_key().as_bytes())
}

/// One interaction Discord sent, and what became of it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub token: String,
    /// The fake's clock when it was sent (ms).
    pub at: i64,
    /// The HTTP status of the answer (`None`: none within 3 s).
    pub status: Option<u16>,
    /// The answer's body.
    pub answer: Value,
}

impl Sent {
    /// The interaction response type of the answer (`4` message, `5` deferred).
    pub fn response_type(&self) -> Option<u64> {
        self.answer["type"].as_u64()
    }

    pub fn content(&self) -> &str {
        self.answer["data"]["content"].as_str().unwrap_or("")
    }

    pub fn ephemeral(&self) -> bool {
        self.answer["data"]["flags"].as_u64() == Some(64)
    }
}

#[derive(Debug, Default)]
pub struct BotState {
    /// The fake's clock is real time moved by this much (ms).
    pub shift_ms: i64,
    /// Interactions by token.
    sent: HashMap<String, Sent>,
    /// Accepted edits: (token, body), in order.
    pub edits: Vec<(String, Value)>,
    /// Accepted edits per token, by the fake's clock (the rate-limit window).
    recent: HashMap<String, Vec<i64>>,
    /// Refused calls: why.
    pub refusals: Vec<String>,
    /// Answer the next this many edits 429 whatever the bucket says.
    pub throttle_next: usize,
    /// Accepted registrations: (path, body).
    pub registrations: Vec<(String, Value)>,
}

impl BotState {
    fn now(&self) -> i64 {
        helix_sync::store::now_ms() + self.shift_ms
    }
}

#[derive(Clone)]
pub struct BotFake {
    pub state: Shared<BotState>,
    /// Where the app's interactions endpoint is.
    endpoint: String,
    client: reqwest::Client,
    ids: Arc<AtomicU64>,
}

impl BotFake {
    /// Mounts the fake on `server` (the app's `DISCORD_API_URL`); interactions go to
    /// `endpoint`.
    pub async fn mount(server: &MockServer, endpoint: String) -> Self {
        let fake = Self {
            state: Shared::new(BotState::default()),
            endpoint,
            client: reqwest::Client::builder()
                .timeout(ANSWER_DEADLINE)
                .build()
                .unwrap(),
            ids: Arc::new(AtomicU64::new(1)),
        };
        for path in [
            format!("^/api/v10/webhooks/{APPLICATION_ID}/"),
            "^/api/v10/applications/".to_owned(),
        ] {
            Mock::given(path_regex(path))
                .respond_with(Responder(fake.state.clone()))
                .with_priority(1)
                .mount(server)
                .await;
        }
        fake
    }

    /// Moves the fake's clock.
    pub fn advance(&self, by: Duration) {
        self.state.lock().shift_ms += by.as_millis() as i64;
    }

    pub fn edits(&self) -> Vec<(String, Value)> {
        self.state.lock().edits.clone()
    }

    /// A fresh snowflake-like id.
    pub fn next_id(&self) -> String {
        format!("9{:017}", self.ids.fetch_add(1, Ordering::SeqCst))
    }

    /// A `/helix <sub>` interaction by a member with `roles`, with a fresh id and token.
    pub fn command(&self, sub: &str, options: Value, roles: &[&str]) -> Value {
        let id = self.next_id();
        json!({
            "id": id,
            "application_id": APPLICATION_ID,
            "type": 2,
            "token": format!("aW50ZXJhY3Rpb246{id}OnNlY3JldA-tok_{id}"),
            "version": 1,
            "guild_id": "700000000000000001",
            "channel_id": "700000000000000002",
            "member": {
                "roles": roles,
                "user": {"id": "800000000000000001", "username": "ada", "global_name": "Ada"},
                "nick": null
            },
            "data": {
                "id": "600000000000000001",
                "name": "helix",
                "type": 1,
                "options": [{"name": sub, "type": 1, "options": options}]
            },
            "locale": "en-GB"
        })
    }

    /// Signs `body` at `ts` with the application's key.
    pub fn headers(ts: i64, body: &[u8]) -> Vec<(&'static str, String)> {
        let mut msg = ts.to_string().into_bytes();
        msg.extend_from_slice(body);
        vec![
            ("content-type", "application/json".into()),
            (
                "user-agent",
                "Discord-Interactions/1.0 (+https://discord.com)".into(),
            ),
            (
                "x-signature-ed25519",
                hex::encode(signing_key().sign(&msg).to_bytes()),
            ),
            ("x-signature-timestamp", ts.to_string()),
        ]
    }

    /// Sends `interaction` signed now, as Discord does, and waits at most 3 s for the answer.
    pub async fn send(&self, interaction: &Value) -> Sent {
        let body = serde_json::to_vec(interaction).unwrap();
        let now_secs = helix_sync::store::now_ms() / 1000;
        self.post(&body, Self::headers(now_secs, &body), interaction)
            .await
    }

    /// POSTs `body` with `headers` and records the interaction it carries.
    pub async fn post(
        &self,
        body: &[u8],
        headers: Vec<(&'static str, String)>,
        interaction: &Value,
    ) -> Sent {
        let mut req = self.client.post(&self.endpoint).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let (status, answer) = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                (Some(status), res.json().await.unwrap_or(Value::Null))
            }
            // No answer within 3 s: Discord tells the member the application did not respond.
            Err(e) if e.is_timeout() => (None, Value::Null),
            Err(e) => panic!("the interactions endpoint is unreachable: {e}"),
        };
        let mut s = self.state.lock();
        let sent = Sent {
            id: interaction["id"].as_str().unwrap_or("").to_owned(),
            token: interaction["token"].as_str().unwrap_or("").to_owned(),
            at: s.now(),
            status,
            answer,
        };
        s.sent.insert(sent.token.clone(), sent.clone());
        sent
    }

    /// What the developer portal does when the Interactions Endpoint URL is saved: a signed
    /// PING must be answered `{"type":1}`, and a PING with a bad signature must be refused
    /// with 401. `Err` says which failed.
    pub async fn validate_endpoint(&self) -> Result<(), String> {
        let ping = json!({"id": self.next_id(), "application_id": APPLICATION_ID, "type": 1,
                          "token": "ping-token", "version": 1});
        let body = serde_json::to_vec(&ping).unwrap();
        let now = helix_sync::store::now_ms() / 1000;
        let good = self.post(&body, Self::headers(now, &body), &ping).await;
        if good.status != Some(200) || good.answer != json!({"type": 1}) {
            return Err(format!("PING answered {:?} {}", good.status, good.answer));
        }
        // The same PING with a signature made for other bytes.
        let forged = Self::headers(now, b"{\"type\":1,\"forged\":true}");
        let bad = self.post(&body, forged, &ping).await;
        if bad.status != Some(401) {
            return Err(format!(
                "a forged PING answered {:?}: Discord would remove this endpoint",
                bad.status
            ));
        }
        Ok(())
    }
}

struct Responder(Shared<BotState>);

impl Responder {
    fn edit(&self, s: &mut BotState, token: &str, req: &Request) -> ResponseTemplate {
        let now = s.now();
        let error = |status: u16, code: u32, message: &str| {
            ResponseTemplate::new(status).set_body_json(json!({"code": code, "message": message}))
        };
        let Some(sent) = s.sent.get(token).cloned() else {
            s.refusals.push(format!("unknown token {token}"));
            return error(401, 50027, "Invalid Webhook Token");
        };
        if now >= sent.at + TOKEN_LIFE.as_millis() as i64 {
            s.refusals.push(format!("token of {} expired", sent.id));
            return error(401, 50027, "Invalid Webhook Token");
        }
        if !matches!(sent.response_type(), Some(4 | 5)) {
            s.refusals.push(format!("{} was never answered", sent.id));
            return error(404, 10008, "Unknown Message");
        }
        let recent = {
            let kept = s.recent.entry(token.to_owned()).or_default();
            kept.retain(|t| now - t < WINDOW_MS);
            kept.clone()
        };
        let throttled = s.throttle_next > 0;
        if throttled || recent.len() >= BUCKET {
            s.throttle_next = s.throttle_next.saturating_sub(1);
            let after = match recent.first() {
                Some(first) if !throttled => (first + WINDOW_MS - now) as f64 / 1000.0,
                _ => 0.25,
            };
            return ResponseTemplate::new(429)
                .insert_header("retry-after", after.ceil().to_string())
                .insert_header("x-ratelimit-remaining", "0")
                .set_body_json(json!({"message": "You are being rate limited.",
                                      "retry_after": after, "global": false}));
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return error(400, 50035, &format!("Invalid Form Body: {e}")),
        };
        let content = body["content"].as_str().unwrap_or("");
        if content.is_empty() || content.chars().count() > 2000 {
            s.refusals
                .push("content empty or over 2000 characters".into());
            return error(400, 50035, "Invalid Form Body");
        }
        s.recent.entry(token.to_owned()).or_default().push(now);
        s.edits.push((token.to_owned(), body.clone()));
        ResponseTemplate::new(200)
            .insert_header("x-ratelimit-limit", BUCKET.to_string())
            .set_body_json(json!({"id": "1", "content": content}))
    }

    fn register(&self, s: &mut BotState, req: &Request) -> ResponseTemplate {
        if super::authorization(req) != format!("Bot {BOT_TOKEN}") {
            s.refusals.push("registration without the bot token".into());
            return ResponseTemplate::new(401)
                .set_body_json(json!({"message": "401: Unauthorized", "code": 0}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let Some(commands) = body.as_array() else {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"message": "Invalid Form Body", "code": 50035}));
        };
        let created: Vec<Value> = commands
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["id"] = json!("500000000000000001");
                c["application_id"] = json!(APPLICATION_ID);
                c
            })
            .collect();
        s.registrations
            .push((req.url.path().to_owned(), body.clone()));
        ResponseTemplate::new(200).set_body_json(created)
    }
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock();
        let path = req.url.path().to_owned();
        let method = req.method.as_str();
        let edit_prefix = format!("/api/v10/webhooks/{APPLICATION_ID}/");
        if let Some(rest) = path.strip_prefix(&edit_prefix) {
            if let (Some(token), "PATCH") = (rest.strip_suffix("/messages/@original"), method) {
                return self.edit(&mut s, token, req);
            }
        }
        let commands = format!("/api/v10/applications/{APPLICATION_ID}/");
        if method == "PUT" && path.starts_with(&commands) && path.ends_with("/commands") {
            return self.register(&mut s, req);
        }
        s.refusals.push(format!("{method} {path}"));
        ResponseTemplate::new(404).set_body_json(json!({"message": "404: Not Found", "code": 0}))
    }
}
