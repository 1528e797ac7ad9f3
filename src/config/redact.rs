//! Making an error message safe to log, store or show: no configured secret, no bearer token.
//!
//! An upstream can quote our request back (a Discord or proxy 4xx whose body names the path
//! `/webhooks/<id>/<TOKEN>`; a reqwest error with the URL in it). Every such text is passed
//! through one [`Redactor`] where it enters the service, at the boundary of the stage that
//! called the upstream (a source's result in the sync cycle, a publisher's result in
//! `deliver`, the job error the worker logs and stores), so it is clean before any log line
//! or row sees it. `/health` and the status page redact again with a length cap (`service::redact`).
//! A secret can surface in pieces (the token segment of the Discord webhook URL under a
//! different host, the base64 part of a `whsec_` key), so every such piece is scrubbed, not
//! only the whole value. This module must never log what it is given.

use super::{Secrets, REDACTED};

/// Pieces shorter than this are not treated as secrets on their own (they would match
/// ordinary words, e.g. `api` or `webhooks` in a URL path; real tokens are far longer).
const MIN_FRAGMENT: usize = 16;

/// Every text that must never be shown, longest first.
pub fn secret_fragments(secrets: &Secrets) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = secrets
        .github_webhook
        .iter()
        .chain(&secrets.ritual_webhook)
        .chain(&secrets.api_token)
        .chain(&secrets.github_token)
        .chain(&secrets.discord_webhook)
        .chain(&secrets.notion_api_key)
        .chain(&secrets.discord_bot_token)
        .chain(&secrets.summary_api_key)
        .chain(&secrets.github_app_key);
    for secret in all {
        let value = secret.expose();
        out.push(value.to_owned());
        // A PEM key quoted in part: each line of it.
        out.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= MIN_FRAGMENT && !l.starts_with("-----"))
                .map(String::from),
        );
        if let Some(key) = value.strip_prefix("whsec_") {
            out.push(key.to_owned());
        }
        if let Some((_, rest)) = value.split_once("://") {
            // A URL carrying a token: its path segments and query values are secrets too.
            let rest = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
            out.extend(
                rest.split(['/', '?', '&', '='])
                    .filter(|p| p.len() >= MIN_FRAGMENT)
                    .map(String::from),
            );
        }
    }
    out.retain(|f| !f.trim().is_empty());
    out.sort_by_key(|f| std::cmp::Reverse(f.len()));
    out.dedup();
    out
}

/// The configured secrets' fragments, computed once; cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    fragments: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: &Secrets) -> Self {
        Self {
            fragments: secret_fragments(secrets),
        }
    }

    /// `text` with every secret fragment and bearer token replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for fragment in &self.fragments {
            if s.contains(fragment.as_str()) {
                s = s.replace(fragment.as_str(), REDACTED);
            }
        }
        redact_bearer(&s)
    }
}

/// Replaces the token after any `Bearer ` (case-insensitive) with `[redacted]`.
fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("bearer ") {
        let start = pos + found + "bearer ".len();
        out.push_str(&text[pos..start]);
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
            .map_or(text.len(), |e| start + e);
        if end > start {
            out.push_str(REDACTED);
        }
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn secrets() -> Secrets {
        Secrets {
            github_webhook: vec![
                Secret::new("gh-hook-secret-1"),
                Secret::new("gh-hook-secret-2"),
            ],
            ritual_webhook: vec![Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
            api_token: Some(Secret::new("api-token-value")),
            github_token: Some(Secret::new("ghp_abcdefghijklmnop")),
            discord_webhook: Some(Secret::new(
                "https://discord.com/api/webhooks/123456789012/tok-ABCDEFGHIJKLMNOP",
            )),
            notion_api_key: Some(Secret::new("ntn_secretsecretsecret")),
            discord_bot_token: Some(Secret::new("bot-token-abcdefghijklmnop")),
            summary_api_key: Some(Secret::new("sk-summary-key-abcdefghijklmnop")),
            github_app_key: Some(Secret::new(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----",
            )),
        }
    }

    #[test]
    fn scrubs_whole_secrets_and_their_pieces() {
        let s = secrets();
        let text =
            "POST http://127.0.0.1:9/api/webhooks/123456789012/tok-ABCDEFGHIJKLMNOP failed; \
                    key MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw; token ghp_abcdefghijklmnop; \
                    Authorization: Bearer whatever-it-was, ntn_secretsecretsecret gh-hook-secret-2 \
                    key line MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo";
        let out = Redactor::new(&s).redact(text);
        for f in secret_fragments(&s) {
            assert!(!out.contains(&f), "{f} leaked in {out}");
        }
        assert!(!out.contains("whatever-it-was"), "{out}");
        assert!(out.contains("Bearer [redacted]"), "{out}");
        assert!(
            out.contains("/api/webhooks/"),
            "ordinary path words stay: {out}"
        );
    }
}
