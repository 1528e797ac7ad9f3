//! AI-written change summaries (issue 18 part 5) against a fake OpenAI-compatible server:
//! a good answer becomes a paragraph marked as generated in Discord, Notion, the exports and
//! the feed; a slow answer, a 500, garbage and an oversized body each fall back to the
//! deterministic summary with their named warning, and the run publishes as usual.

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::end_to_end::{pipeline_app_with, REPO};
use crate::fakes::discord::DiscordFake;
use crate::fakes::notion::NotionFake;
use crate::helpers::*;

const KEY: &str = "sk-fake-summary-key-0123456789abcdef";
const MODEL: &str = "fake-llm-7b";
const PARAGRAPH: &str = "Three commits landed in helix/core while the UCF metrics held steady.";
/// The summary timeout the tests configure, in ms.
const TIMEOUT_MS: u64 = 400;

struct Scenario {
    app: TestApp,
    llm: MockServer,
    discord: DiscordFake,
    notion: NotionFake,
    _dir: tempfile::TempDir,
}

async fn scenario(answer: ResponseTemplate) -> Scenario {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(answer)
        .mount(&llm)
        .await;
    let url = format!("{}/v1/chat/completions", llm.uri());
    let timeout = TIMEOUT_MS.to_string();
    let (app, _github, discord, notion, dir) = pipeline_app_with(&[
        ("HELIX_SUMMARY_URL", &url),
        ("HELIX_SUMMARY_MODEL", MODEL),
        ("HELIX_SUMMARY_API_KEY", KEY),
        ("HELIX_SUMMARY_TIMEOUT_MS", &timeout),
    ])
    .await;
    Scenario {
        app,
        llm,
        discord,
        notion,
        _dir: dir,
    }
}

fn completion(content: &str) -> Value {
    json!({"id": "c1", "object": "chat.completion", "model": MODEL,
           "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content}}]})
}

/// Pushes, runs the sync and its deliveries; returns the run row.
async fn run_push(s: &Scenario) -> helix_sync::store::RunRow {
    let body = serde_json::to_vec(&push_payload(REPO, "main", "Tune the ritual engine")).unwrap();
    assert_eq!(s.app.post_github("push", "ai-1", &body).await.status(), 202);
    assert_eq!(s.app.run_pending_jobs().await, 4);
    let run = s.app.store.list_runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let deliveries = s.app.store.deliveries_for_run(&run.id).await.unwrap();
    assert!(
        deliveries.iter().all(|d| d.state == "succeeded"),
        "a summary never holds up publishing: {deliveries:?}"
    );
    run
}

/// Every file the run exported and the feed, as text.
fn written_files(s: &Scenario) -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(t) = std::fs::read_to_string(&p) {
                out.push_str(&t);
            }
        }
    }
    let mut out = String::new();
    walk(&s.app.dir.path().join("exports"), &mut out);
    out
}

async fn json_export(s: &Scenario, run_id: &str) -> Value {
    s.app
        .get_authed(&format!("/api/export/json?run={run_id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_generated_paragraph_is_shown_everywhere_and_marked_as_generated() {
    let s = scenario(ResponseTemplate::new(200).set_body_json(completion(PARAGRAPH))).await;
    let run = run_push(&s).await;

    // What the model was sent: the structured change summary, our key as the bearer, and
    // nothing secret or raw.
    let requests = s.llm.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(
        req.headers["authorization"].to_str().unwrap(),
        format!("Bearer {KEY}")
    );
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent["model"], MODEL);
    let prompt = sent["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains(&format!("Repository {REPO}")), "{prompt}");
    assert!(req.body.len() <= 8 * 1024, "the request is capped");
    let body = String::from_utf8_lossy(&req.body);
    for secret in [
        API_TOKEN,
        GITHUB_SECRET,
        RITUAL_SECRET,
        crate::fakes::notion::API_KEY,
    ] {
        assert!(!body.contains(secret), "{secret} was sent to the model");
    }
    assert!(!body.contains("\"payload\"") && !body.contains("head_commit"));

    // Stored with the run and in every export, marked as generated.
    let export = json_export(&s, &run.id).await;
    let g = &export["run"]["generated_summary"];
    assert_eq!(g["kind"], "generated");
    assert_eq!(g["model"], MODEL);
    assert_eq!(g["text"], PARAGRAPH);
    for format in ["markdown", "html"] {
        let text = s
            .app
            .get_authed(&format!("/api/export/{format}?run={}", run.id))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("Generated summary (model fake-llm-7b; written by a language model)"),
            "{format}"
        );
    }
    let feed: Value = s.app.get_json("/api/sync/latest.json").await;
    assert_eq!(feed["generated_summary"]["kind"], "generated");

    let messages = s.discord.messages();
    assert_eq!(messages.len(), 1);
    let fields = messages[0]["embeds"][0]["fields"].as_array().unwrap();
    let field = fields
        .iter()
        .find(|f| f["name"].as_str().unwrap().starts_with("Generated summary"))
        .expect("a generated-summary field");
    assert!(field["name"].as_str().unwrap().contains(MODEL));
    assert!(field["value"]
        .as_str()
        .unwrap()
        .contains("Three commits landed"));

    let pages = s.notion.pages();
    let blocks = serde_json::to_string(&pages[0].children).unwrap();
    assert!(
        blocks.contains("Generated summary (model fake-llm-7b"),
        "{blocks}"
    );
    assert!(blocks.contains(PARAGRAPH));

    // The key is a secret: in no file, no status answer.
    assert!(!written_files(&s).contains(KEY));
    let status = s
        .app
        .get_authed("/api/sync/status")
        .await
        .text()
        .await
        .unwrap();
    assert!(!status.contains(KEY));
    assert!(!s.app.get_text("/").await.contains(KEY));
}

/// Runs a push against a fake that answers with `answer`; checks the named warning and
/// that the run published its deterministic summary alone.
async fn falls_back(answer: ResponseTemplate, warning: &str) -> helix_sync::store::RunRow {
    let s = scenario(answer).await;
    let run = run_push(&s).await;
    let export = json_export(&s, &run.id).await;
    let g = &export["run"]["generated_summary"];
    assert_eq!(g["warning"], warning, "{g}");
    assert!(g["message"].as_str().is_some_and(|m| !m.contains(KEY)));
    assert!(g.get("text").is_none());
    let messages = s.discord.messages();
    assert_eq!(messages.len(), 1);
    let text = messages[0].to_string();
    assert!(!text.contains("Generated summary"), "{text}");
    assert!(
        text.contains("new commit"),
        "the deterministic summary is there: {text}"
    );
    let md = s
        .app
        .get_authed(&format!("/api/export/markdown?run={}", run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!md.contains("Generated summary"));
    run
}

#[tokio::test]
async fn a_slow_model_times_out_without_delaying_the_run_beyond_the_timeout() {
    let slow = ResponseTemplate::new(200)
        .set_body_json(completion(PARAGRAPH))
        .set_delay(Duration::from_secs(20));
    let run = falls_back(slow, "summary_timeout").await;
    let took = run.duration_ms.unwrap();
    println!("sync run with a 20 s model and a {TIMEOUT_MS} ms summary timeout: {took} ms");
    assert!(
        took < TIMEOUT_MS as i64 + 5_000,
        "the run took {took} ms with a {TIMEOUT_MS} ms summary timeout"
    );
}

#[tokio::test]
async fn a_500_falls_back_with_a_named_warning() {
    falls_back(
        ResponseTemplate::new(500).set_body_string("upstream exploded"),
        "summary_http_error",
    )
    .await;
}

#[tokio::test]
async fn garbage_falls_back_with_a_named_warning() {
    falls_back(
        ResponseTemplate::new(200).set_body_string("<html>definitely not JSON"),
        "summary_invalid_response",
    )
    .await;
    falls_back(
        ResponseTemplate::new(200).set_body_json(json!({"choices": []})),
        "summary_invalid_response",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_answer_falls_back_with_a_named_warning() {
    let huge = completion(&"word ".repeat(40_000));
    falls_back(
        ResponseTemplate::new(200).set_body_json(huge),
        "summary_too_large",
    )
    .await;
}

#[tokio::test]
async fn a_bad_summary_url_is_a_startup_error() {
    let mut env = base_env(
        std::path::Path::new("/tmp"),
        "http://g",
        "http://d",
        "http://n",
    );
    env.insert("HELIX_SUMMARY_URL".into(), "ftp://example.org".into());
    let e = helix_sync::config::Config::load(&env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("HELIX_SUMMARY_URL"), "{e}");
    env.insert(
        "HELIX_SUMMARY_URL".into(),
        "http://127.0.0.1:9/v1/chat/completions".into(),
    );
    env.insert("HELIX_SUMMARY_TIMEOUT_MS".into(), "0".into());
    let e = helix_sync::config::Config::load(&env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("HELIX_SUMMARY_TIMEOUT_MS"), "{e}");
    env.insert("HELIX_SUMMARY_API_KEY".into(), KEY.into());
    env.remove("HELIX_SUMMARY_TIMEOUT_MS");
    let c = helix_sync::config::Config::load(&env).unwrap();
    assert!(!format!("{c:?}").contains(KEY), "the key never prints");
}
