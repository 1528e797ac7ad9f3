//! The optional model-written change summary: when `HELIX_SUMMARY_URL` names an
//! OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, llama.cpp's server, vLLM),
//! each run's change summary is also written as one short paragraph by that model.
//!
//! What goes out is built here and only here, from the structured `ChangeSummary` (counts,
//! authors, issue and PR numbers, first lines of commit messages, UCF deltas, agent names),
//! passed through the redactor and cut to [`MAX_PROMPT_BYTES`]: never a secret, a raw
//! payload or a snapshot. What comes back is read up to [`MAX_RESPONSE_BYTES`] and the whole
//! exchange is bounded by the configured timeout, so a slow, failing or babbling endpoint
//! costs a run at most that long. Any failure is a [`SummaryWarning`] with a stable name: the
//! run carries on with the deterministic summary alone, and nothing here can fail a run. The
//! paragraph is always marked as generated (`kind: "generated"` and the model's name) wherever
//! it is shown.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::snapshot::ChangeSummary;
use super::SyncDeps;
use crate::config::{Redactor, Secret, SummaryConfig};

/// Largest prompt (the user message) sent, in bytes.
pub const MAX_PROMPT_BYTES: usize = 6 * 1024;
/// Largest response body read, in bytes; a longer one is a `summary_too_large` warning.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest paragraph kept, in characters (cut at a word with an ellipsis beyond).
pub const MAX_PARAGRAPH_CHARS: usize = 1200;
/// Commit first-lines per repository in the prompt.
const PROMPT_COMMITS: usize = 5;

const SYSTEM: &str = "You summarise what changed in one sync of a software ecosystem. Write one \
short factual paragraph (at most three sentences) in plain text: no Markdown, no lists, no \
links, no mentions. Use only the facts given; do not speculate.";

/// The model-written paragraph of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedSummary {
    /// Always `generated`: written by a language model, not derived by helix-sync.
    pub kind: String,
    /// The model that wrote it (`HELIX_SUMMARY_MODEL`).
    pub model: String,
    pub text: String,
}

/// What a run records about its paragraph: the paragraph, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Narration {
    Generated(GeneratedSummary),
    Fallback { warning: String, message: String },
}

impl Narration {
    pub fn generated(&self) -> Option<&GeneratedSummary> {
        match self {
            Narration::Generated(g) => Some(g),
            Narration::Fallback { .. } => None,
        }
    }
}

/// Why there is no paragraph; [`SummaryWarning::code`] is its stable name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryWarning {
    #[error("the summary endpoint did not answer within {0} ms")]
    Timeout(u128),
    #[error("the summary endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the summary endpoint answered HTTP {0}")]
    HttpStatus(u16),
    #[error("the summary endpoint's answer exceeds {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the summary endpoint's answer is not a chat completion: {0}")]
    InvalidResponse(String),
    #[error("the summary endpoint returned an empty paragraph")]
    Empty,
}

impl SummaryWarning {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "summary_timeout",
            Self::Unreachable(_) => "summary_unreachable",
            Self::HttpStatus(_) => "summary_http_error",
            Self::TooLarge => "summary_too_large",
            Self::InvalidResponse(_) => "summary_invalid_response",
            Self::Empty => "summary_empty",
        }
    }
}

/// The narration of run `run_id`: `None` without a configured endpoint or when nothing
/// changed. A failure is logged and counted under its warning name and returned as the
/// fallback, never as an error.
pub async fn for_run(deps: &SyncDeps, run_id: &str, changes: &ChangeSummary) -> Option<Narration> {
    let config = deps.config.summary.as_ref()?;
    let key = deps.config.secrets.summary_api_key.as_ref();
    match narrate(&deps.http, config, key, &deps.redactor, changes).await {
        Ok(generated) => generated.map(Narration::Generated),
        Err(w) => {
            tracing::warn!(
                run_id,
                warning = w.code(),
                error = %w,
                "no generated summary; the run keeps its deterministic one"
            );
            metrics::counter!("helix_summary_warnings_total", "warning" => w.code()).increment(1);
            Some(Narration::Fallback {
                warning: w.code().into(),
                message: w.to_string(),
            })
        }
    }
}

/// A stored narration (`Store::generated_summary`); an unreadable one counts as none.
pub fn decode(json: Option<&str>) -> Option<Narration> {
    serde_json::from_str(json?).ok()
}

/// The user message: the change summary as plain lines, cut to [`MAX_PROMPT_BYTES`].
/// `None` when nothing changed (no request is made then).
pub fn prompt(changes: &ChangeSummary, redactor: &Redactor) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let mut lines = Vec::new();
    for (repo, c) in changes.repos.iter().filter(|(_, c)| !c.is_empty()) {
        let mut facts = Vec::new();
        if c.new_commits > 0 {
            facts.push(format!(
                "{} new commits by {}",
                c.new_commits,
                c.authors.join(", ")
            ));
        }
        for (label, list) in c.numbered() {
            if !list.is_empty() {
                let numbers: Vec<String> = list.iter().map(|n| format!("#{n}")).collect();
                facts.push(format!("{label} {}", numbers.join(", ")));
            }
        }
        if !c.new_releases.is_empty() {
            facts.push(format!("released {}", c.new_releases.join(", ")));
        }
        if !c.new_deployments.is_empty() {
            facts.push(format!("{} deployments", c.new_deployments.len()));
        }
        lines.push(format!("Repository {repo}: {}.", facts.join("; ")));
        for (sha, text) in c.commit_lines.iter().take(PROMPT_COMMITS) {
            lines.push(format!("  commit {sha}: {text}"));
        }
    }
    for d in changes.ucf.iter().filter(|d| d.delta != 0.0) {
        lines.push(format!(
            "UCF metric {}: {:.3} to {:.3} ({:+.3}).",
            d.metric, d.before, d.after, d.delta
        ));
    }
    lines.extend(changes.agent_state_lines().into_iter().map(|l| l + "."));
    for (agent, delta) in &changes.task_deltas {
        lines.push(format!("Agent {agent}: {delta:+} tasks."));
    }
    let mut out = String::from("Changes in this sync:\n");
    for (i, line) in lines.iter().enumerate() {
        let line = redactor.redact(line);
        if out.len() + line.len() + 1 > MAX_PROMPT_BYTES - 64 {
            let _ = writeln!(out, "({} more lines left out)", lines.len() - i);
            break;
        }
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

/// Asks the model for the paragraph of `changes`. `Ok(None)` when nothing changed.
pub async fn narrate(
    http: &reqwest::Client,
    config: &SummaryConfig,
    key: Option<&Secret>,
    redactor: &Redactor,
    changes: &ChangeSummary,
) -> Result<Option<GeneratedSummary>, SummaryWarning> {
    let Some(prompt) = prompt(changes, redactor) else {
        return Ok(None);
    };
    let body = json!({
        "model": config.model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt},
        ],
        "temperature": 0.2,
        "max_tokens": 300,
        "stream": false,
    });
    let exchange = async {
        let mut request = http.post(&config.url).json(&body);
        if let Some(key) = key {
            request = request.bearer_auth(key.expose());
        }
        let mut response = request.send().await.map_err(|e| {
            SummaryWarning::Unreachable(redactor.redact(&e.without_url().to_string()))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(SummaryWarning::HttpStatus(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
        {
            return Err(SummaryWarning::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            SummaryWarning::Unreachable(redactor.redact(&e.without_url().to_string()))
        })? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(SummaryWarning::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(config.timeout, exchange)
        .await
        .map_err(|_| SummaryWarning::Timeout(config.timeout.as_millis()))??;
    let text = paragraph(&bytes)?;
    Ok(Some(GeneratedSummary {
        kind: "generated".into(),
        model: config.model.clone(),
        text: redactor.redact(&text),
    }))
}

/// The first choice's message content, as one paragraph of plain text.
fn paragraph(body: &[u8]) -> Result<String, SummaryWarning> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| SummaryWarning::InvalidResponse(format!("not JSON ({e})")))?;
    let content = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SummaryWarning::InvalidResponse("no choices[0].message.content string".into())
        })?;
    // One paragraph: control characters and line breaks become single spaces.
    let words: Vec<&str> = content
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let text = words.join(" ");
    if text.is_empty() {
        return Err(SummaryWarning::Empty);
    }
    if text.chars().count() <= MAX_PARAGRAPH_CHARS {
        return Ok(text);
    }
    let cut: String = text.chars().take(MAX_PARAGRAPH_CHARS - 1).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    Ok(format!("{cut}…"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::fixture;

    #[test]
    fn the_prompt_is_built_from_the_change_summary_only_and_capped() {
        let f = fixture::Fixture::new(2, 40);
        let p = prompt(&f.changes, &Redactor::default()).unwrap();
        assert!(p.starts_with("Changes in this sync:\n"));
        assert!(p.len() <= MAX_PROMPT_BYTES);
        assert!(!p.contains("http"), "no links, no URLs: {p}");
        let mut big = f.changes.clone();
        for i in 0..2000 {
            big.task_deltas.insert(format!("agent-{i}"), 1);
        }
        let p = prompt(&big, &Redactor::default()).unwrap();
        assert!(p.len() <= MAX_PROMPT_BYTES && p.contains("more lines left out"));
        assert!(prompt(&ChangeSummary::default(), &Redactor::default()).is_none());
    }

    #[test]
    fn a_paragraph_is_one_line_and_capped() {
        let body = json!({"choices": [{"message": {"role": "assistant", "content": "  Two commits\n\nlanded.\u{7} "}}]});
        assert_eq!(
            paragraph(body.to_string().as_bytes()).unwrap(),
            "Two commits landed."
        );
        let long = "word ".repeat(1000);
        let body = json!({"choices": [{"message": {"content": long}}]});
        let p = paragraph(body.to_string().as_bytes()).unwrap();
        assert!(p.chars().count() <= MAX_PARAGRAPH_CHARS && p.ends_with('…'));
        assert_eq!(
            paragraph(b"<html>").unwrap_err().code(),
            "summary_invalid_response"
        );
        assert_eq!(
            paragraph(br#"{"choices":[{"message":{"content":"  "}}]}"#)
                .unwrap_err()
                .code(),
            "summary_empty"
        );
    }
}
