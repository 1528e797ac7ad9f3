//! MCP at the protocol level, as raw JSON-RPC: what a client sees for bad messages, session
//! ends and unknown sessions (HTTP and the real binary's stdio), the protected-resource
//! metadata, resources, and the notifications a subscribed session gets when a run finishes.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::on_fresh_store;
use crate::helpers::{spawn_app, TestApp, API_TOKEN};

/// One legacy (2025-06-18) Streamable HTTP session (the versions tests call tools with it).
pub(crate) struct Session<'a> {
    app: &'a TestApp,
    id: String,
}

impl<'a> Session<'a> {
    pub(crate) async fn open(app: &'a TestApp) -> Session<'a> {
        let res = post(app, None, &initialize()).await;
        assert_eq!(res.status(), 200);
        let id = res.headers()["mcp-session-id"].to_str().unwrap().to_owned();
        let s = Session { app, id };
        let res = s
            .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        s
    }

    async fn send(&self, body: &Value) -> reqwest::Response {
        post(self.app, Some(&self.id), body).await
    }

    /// A request and its one JSON-RPC answer (from JSON or an SSE body).
    pub(crate) async fn call(&self, id: i64, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let res = self.send(&body).await;
        let text = res.text().await.unwrap();
        messages(&text)
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {method} in {text}"))
    }
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}})
}

async fn post(app: &TestApp, session: Option<&str>, body: &Value) -> reqwest::Response {
    post_raw(app, session, body.to_string()).await
}

async fn post_raw(app: &TestApp, session: Option<&str>, body: String) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(API_TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body);
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    req.send().await.unwrap()
}

/// The JSON-RPC messages of a body: plain JSON, or the `data:` lines of an SSE stream.
fn messages(text: &str) -> Vec<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return vec![v];
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

#[tokio::test]
async fn bad_messages_get_json_rpc_errors_and_the_session_survives() {
    let app = spawn_app().await;
    let s = Session::open(&app).await;

    let res = s.send_raw("this is not json").await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");

    let res = s.send_raw(r#"{"id": 6}"#).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600, "{body}");

    let bad_args = s
        .call(
            3,
            "tools/call",
            json!({"name": "helix-sync-status", "arguments": "x"}),
        )
        .await;
    assert_eq!(bad_args["error"]["code"], -32602, "{bad_args}");
    assert!(bad_args["error"]["message"]
        .as_str()
        .unwrap()
        .contains("arguments"));
    let no_name = s.call(4, "tools/call", json!({})).await;
    assert_eq!(no_name["error"]["code"], -32602, "{no_name}");
    assert!(no_name["error"]["message"]
        .as_str()
        .unwrap()
        .contains("name"));
    let unknown = s.call(5, "no/such/method", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");

    let ping = s.call(7, "ping", json!({})).await;
    assert_eq!(ping["result"], json!({}), "the session survives: {ping}");
}

impl Session<'_> {
    async fn send_raw(&self, body: &str) -> reqwest::Response {
        post_raw(self.app, Some(&self.id), body.to_owned()).await
    }
}

#[tokio::test]
async fn sessions_end_with_204_and_unknown_ones_are_404() {
    let app = spawn_app().await;
    let s = Session::open(&app).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    assert_eq!(
        post(&app, Some("no-such-session"), &ping).await.status(),
        404
    );

    // Resumption of a stream with Last-Event-ID: a clean answer, never a 5xx.
    let res = app
        .client
        .get(app.url("/mcp"))
        .bearer_auth(API_TOKEN)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &s.id)
        .header("last-event-id", "garbage")
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    if let Ok(res) = res {
        assert!(res.status().as_u16() < 500, "{}", res.status());
    }

    let delete = |id: String| {
        app.client
            .delete(app.url("/mcp"))
            .bearer_auth(API_TOKEN)
            .header("mcp-session-id", id)
            .send()
    };
    assert_eq!(delete(s.id.clone()).await.unwrap().status(), 204);
    assert_eq!(delete(s.id.clone()).await.unwrap().status(), 404);
    assert_eq!(
        s.send(&ping).await.status(),
        404,
        "an ended session is gone"
    );
}

#[tokio::test]
async fn a_401_points_at_the_protected_resource_metadata() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/mcp"))
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let expected = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        app.address
    );
    assert_eq!(challenge, expected);

    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let meta = app.get_json(path).await;
        assert_eq!(meta["resource"], format!("{}/mcp", app.address), "{meta}");
        assert_eq!(meta["bearer_methods_supported"], json!(["header"]));
        assert!(
            meta.get("authorization_servers").is_none(),
            "no OAuth server to find"
        );
        // The documentation it points at is there.
        let docs = meta["resource_documentation"].as_str().unwrap();
        let res = app.client.get(docs).send().await.unwrap();
        assert_eq!(res.status(), 200, "{docs}");
        assert!(res.json::<serde_json::Value>().await.unwrap()["openapi"].is_string());
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(API_TOKEN)
        .header("host", "evil.example")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn resources_list_read_and_notify_subscribers_when_a_run_finishes() {
    let app = spawn_app().await;
    let s = Session::open(&app).await;

    let listed = s.call(1, "resources/list", json!({})).await;
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    for uri in [
        "helix://exports/latest/json",
        "helix://runs/latest/snapshot",
        "helix://runs/latest/changes",
    ] {
        assert!(uris.contains(&uri), "{uris:?}");
    }
    let templates = s.call(2, "resources/templates/list", json!({})).await;
    assert!(
        templates.to_string().contains("helix://runs/{id}/snapshot"),
        "{templates}"
    );

    let missing = s
        .call(
            3,
            "resources/read",
            json!({"uri": "helix://runs/latest/snapshot"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], -32002, "no run yet: {missing}");

    // Subscribe, open the session's stream, and make a run finish.
    let sub = s
        .call(
            4,
            "resources/subscribe",
            json!({"uri": "helix://runs/latest/changes"}),
        )
        .await;
    assert_eq!(sub["result"], json!({}), "{sub}");
    let quiet = s
        .call(5, "logging/setLevel", json!({"level": "error"}))
        .await;
    assert_eq!(quiet["result"], json!({}), "{quiet}");
    let mut stream = open_stream(&s).await;

    let first = trigger_and_run(&app).await;
    let update = stream
        .until(|m| m["method"] == "notifications/resources/updated")
        .await;
    assert_eq!(update["params"]["uri"], "helix://runs/latest/changes");

    s.call(6, "logging/setLevel", json!({"level": "info"}))
        .await;
    let second = trigger_and_run(&app).await;
    let log = stream
        .until(|m| m["method"] == "notifications/message")
        .await;
    assert_eq!(log["params"]["data"]["run_id"], second, "{log}");
    assert!(
        !stream
            .seen
            .iter()
            .any(|m| m["params"]["data"]["run_id"] == first),
        "the run finished under level `error` was not logged at `info`"
    );

    let read = s
        .call(
            7,
            "resources/read",
            json!({"uri": format!("helix://runs/{second}/snapshot")}),
        )
        .await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/json", "{read}");
    let snapshot: Value = serde_json::from_str(contents["text"].as_str().unwrap()).unwrap();
    assert!(
        snapshot.get("ucf").is_some() || snapshot.is_object(),
        "{snapshot}"
    );
    let latest = s
        .call(
            8,
            "resources/read",
            json!({"uri": "helix://exports/latest/markdown"}),
        )
        .await;
    assert_eq!(
        latest["result"]["contents"][0]["mimeType"],
        "text/markdown; charset=utf-8"
    );
}

#[tokio::test]
async fn the_analytics_tool_serves_the_numbers_the_api_serves() {
    let app = spawn_app().await;
    let s = Session::open(&app).await;
    let before = s
        .call(
            1,
            "tools/call",
            json!({"name": "helix-analytics", "arguments": {}}),
        )
        .await;
    assert_eq!(before["result"]["isError"], true, "no run yet: {before}");
    let mut last = String::new();
    for _ in 0..3 {
        last = trigger_and_run(&app).await;
    }
    let res = s
        .call(
            2,
            "tools/call",
            json!({"name": "helix-analytics", "arguments": {"scope": "ucf"}}),
        )
        .await;
    let tool = &res["result"]["structuredContent"];
    assert_eq!(tool["run_id"], last.as_str(), "{res}");
    assert_eq!(tool["ucf"][0]["forecast"]["kind"], "prediction");
    let api: Value = app
        .get_authed("/api/analytics?scope=ucf")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(*tool, api);
    let bad = s
        .call(
            3,
            "tools/call",
            json!({"name": "helix-analytics", "arguments": {"run_id": "nope"}}),
        )
        .await;
    assert_eq!(bad["result"]["isError"], true, "{bad}");
}

/// Queues a sync through the API, runs it, and returns its run id.
async fn trigger_and_run(app: &TestApp) -> String {
    let job = app
        .trigger(json!({"sources": ["ucf_state"], "targets": ["portal"]}))
        .await;
    app.run_pending_jobs().await;
    let detail: Value = app
        .get_authed(&format!(
            "/api/sync/jobs/{}",
            job["job_id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    detail["run"]["id"]
        .as_str()
        .expect("the job ran")
        .to_owned()
}

/// The session's standalone server-to-client stream (`GET /mcp`).
struct Stream {
    body: reqwest::Response,
    buf: String,
    seen: Vec<Value>,
}

async fn open_stream(s: &Session<'_>) -> Stream {
    let res = s
        .app
        .client
        .get(s.app.url("/mcp"))
        .bearer_auth(API_TOKEN)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &s.id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    Stream {
        body: res,
        buf: String::new(),
        seen: Vec::new(),
    }
}

impl Stream {
    /// The next message matching `wanted`, remembering every one read.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                for m in messages(&event) {
                    self.seen.push(m.clone());
                    if wanted(&m) {
                        return m;
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.chunk())
                .await
                .unwrap_or_else(|_| panic!("no such message; saw {:?}", self.seen))
                .unwrap()
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn the_stdio_server_answers_bad_lines_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_helix-sync"));
    let mut child = on_fresh_store(&mut cmd, dir.path())
        .arg("mcp")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let send = |line: String| {
        let mut line = line.into_bytes();
        line.push(b'\n');
        line
    };
    let script = [
        initialize().to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        "this is not json".to_owned(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "no/such"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "helix-sync-status", "arguments": "x"}})
        .to_string(),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {}}).to_string(),
        r#"{"id": 5}"#.to_owned(),
        json!({"jsonrpc": "2.0", "id": 6, "method": "ping"}).to_string(),
    ];
    for line in script {
        stdin.write_all(&send(line)).await.unwrap();
    }
    stdin.flush().await.unwrap();

    // rmcp answers requests concurrently, so answers come in any order: read until every
    // request (and the line that was not JSON) has one.
    let mut answers: Vec<Value> = Vec::new();
    let complete = |answers: &[Value]| {
        [0, 2, 3, 4, 5, 6]
            .iter()
            .all(|id| answers.iter().any(|a| a["id"] == *id))
            && answers.iter().any(|a| a["id"].is_null())
    };
    while !complete(&answers) {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("the server is still running");
        answers.push(serde_json::from_str(&line).unwrap());
    }
    let code_of = |pred: &dyn Fn(&Value) -> bool| {
        answers
            .iter()
            .find(|a| pred(a))
            .map(|a| a["error"]["code"].clone())
            .unwrap_or_else(|| panic!("missing answer in {answers:?}"))
    };
    assert_eq!(
        code_of(&|a| a["id"].is_null() && a["error"]["code"] == -32700),
        -32700
    );
    assert_eq!(code_of(&|a| a["id"] == 2), -32601);
    assert_eq!(code_of(&|a| a["id"] == 3), -32602);
    assert_eq!(code_of(&|a| a["id"] == 4), -32602);
    assert_eq!(code_of(&|a| a["id"] == 5), -32600);
    let ping = answers.iter().find(|a| a["id"] == 6).unwrap();
    assert_eq!(ping["result"], json!({}), "the session carried on");
    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    assert!(status.is_ok(), "the server exits when stdin closes");
}

/// The PDF report over MCP: the tool returns it base64 (`encoding: base64`) and the resource
/// as a `blob` of type `application/pdf`, both the bytes of `GET /api/export/pdf`.
#[cfg(feature = "pdf")]
#[tokio::test]
async fn the_pdf_report_comes_back_base64_from_the_tool_and_the_resource() {
    use base64::Engine;
    let app = spawn_app().await;
    trigger_and_run(&app).await;
    let api = app
        .get_authed("/api/export/pdf")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(api.starts_with(b"%PDF-"));
    let decode = |text: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(text.as_str().expect("base64 text"))
            .unwrap()
    };
    let s = Session::open(&app).await;
    let res = s
        .call(
            1,
            "tools/call",
            json!({"name": "helix-export", "arguments": {"format": "pdf"}}),
        )
        .await;
    let out = &res["result"]["structuredContent"];
    assert_eq!(out["encoding"], "base64", "{res}");
    assert_eq!(out["content_type"], "application/pdf");
    assert!(decode(&out["text"]) == api.as_ref());
    let read = s
        .call(
            2,
            "resources/read",
            json!({"uri": "helix://exports/latest/pdf"}),
        )
        .await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/pdf", "{read}");
    assert!(decode(&contents["blob"]) == api.as_ref());
}
