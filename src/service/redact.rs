//! Error text for `/health`, the status page and the MCP status tool: redacted by the one
//! [`Redactor`] and cut to a length that fits a status line.

pub use crate::config::redact::secret_fragments;
use crate::config::{Redactor, Secrets};

/// `text` with every secret fragment and bearer token replaced by `[redacted]`, cut to at
/// most `max` bytes.
pub fn redact(text: &str, secrets: &Secrets, max: usize) -> String {
    crate::queue::truncate(&Redactor::new(secrets).redact(text), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn redacts_and_truncates_long_bodies() {
        let secrets = Secrets {
            github_webhook: Vec::new(),
            ritual_webhook: Vec::new(),
            api_token: Some(Secret::new("api-token-value-long-enough")),
            github_token: None,
            discord_webhook: None,
            notion_api_key: None,
            discord_bot_token: None,
            summary_api_key: None,
            github_app_key: None,
        };
        let body = format!("{} api-token-value-long-enough", "x".repeat(5000));
        let out = redact(&body, &secrets, 200);
        assert!(out.len() <= 200);
        assert!(out.ends_with("..."));
        assert!(!redact(&body[4990..], &secrets, 200).contains("api-token-value"));
    }
}
