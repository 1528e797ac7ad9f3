//! The optional model-written change summary: `HELIX_SUMMARY_URL` (an OpenAI-compatible
//! chat-completions endpoint), `HELIX_SUMMARY_MODEL`, `HELIX_SUMMARY_TIMEOUT_MS`. The key,
//! `HELIX_SUMMARY_API_KEY`, is a secret and lives in `Secrets`. No URL, no feature.

use std::time::Duration;

use serde::Serialize;

use super::ConfigError;

/// Where and how to ask for the paragraph.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryConfig {
    /// `HELIX_SUMMARY_URL`: the full chat-completions URL (e.g.
    /// `http://localhost:11434/v1/chat/completions` for Ollama).
    pub url: String,
    /// `HELIX_SUMMARY_MODEL` (default `gpt-4o-mini`).
    pub model: String,
    /// `HELIX_SUMMARY_TIMEOUT_MS` (default 8000, at most 60000): the whole exchange, connect
    /// to last byte. Publishing waits at most this long for the paragraph.
    pub timeout: Duration,
}

/// Reads the settings; `None` when `HELIX_SUMMARY_URL` is unset.
pub fn from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<SummaryConfig>, ConfigError> {
    let Some(url) = get("HELIX_SUMMARY_URL") else {
        return Ok(None);
    };
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url::Url::parse(&url).is_err()
    {
        return Err(ConfigError::Env {
            name: "HELIX_SUMMARY_URL",
            message: "expected an http(s) URL of a chat-completions endpoint".into(),
        });
    }
    let ms = match get("HELIX_SUMMARY_TIMEOUT_MS") {
        None => 8000,
        Some(v) => match v.parse::<u64>() {
            Ok(ms @ 1..=60_000) => ms,
            _ => {
                return Err(ConfigError::Env {
                    name: "HELIX_SUMMARY_TIMEOUT_MS",
                    message: format!("expected milliseconds between 1 and 60000, got {v:?}"),
                })
            }
        },
    };
    Ok(Some(SummaryConfig {
        url,
        model: get("HELIX_SUMMARY_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
        timeout: Duration::from_millis(ms),
    }))
}
