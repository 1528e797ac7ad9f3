//! A secret value from the environment.
//!
//! `Secret` exists so that a token can be passed around without ever being printed: its
//! `Debug`, `Display` and `Serialize` all write `[redacted]`, and the only way to read it is
//! the deliberately loud `expose()`. Comparison against untrusted input goes through
//! [`Secret::matches`], which is constant time in the content.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The text every secret prints as.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The raw value, for building a request header or a MAC key. Never log the result.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The raw HMAC key of a Standard Webhooks secret (`whsec_<base64>`); `None` when the
    /// value is not in that form (config refuses such a `RITUAL_WEBHOOK_SECRET` at start).
    pub fn whsec_key(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let b64 = self.expose().strip_prefix("whsec_")?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .filter(|k| !k.is_empty())
    }

    /// Constant-time equality with a candidate (e.g. a bearer token). Both sides are hashed
    /// first so that neither the content nor the length leaks through timing.
    pub fn matches(&self, candidate: &str) -> bool {
        let a = Sha256::digest(self.expose().as_bytes());
        let b = Sha256::digest(candidate.as_bytes());
        a.ct_eq(&b).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
    }

    #[test]
    fn matches_only_the_same_value() {
        let s = Secret::new("token-a");
        assert!(s.matches("token-a"));
        assert!(!s.matches("token-b"));
        assert!(!s.matches("token-a "));
        assert!(!s.matches(""));
    }
}
