//! The `http` section of `config/sync_config.json`: how long the server waits on a slow or
//! silent client, and how many body bytes it holds before their signature is checked.

use serde::{Deserialize, Serialize};

/// Limits of the HTTP server against slow, idle and hostile clients.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerLimits {
    /// Seconds a client has, once it has started sending a request, to finish its headers;
    /// a connection still sending them then is closed (slowloris).
    pub header_read_timeout_secs: u64,
    /// Seconds an open connection may carry no request (before its first one, or between
    /// kept-alive ones) before it is closed.
    pub idle_timeout_secs: u64,
    /// Bytes of webhook bodies held, across all requests at once, before their signature is
    /// verified. A request that would go over gets 503 with `Retry-After`.
    pub unverified_body_budget_bytes: usize,
    /// The most one client address may hold of that budget (at least GitHub's 25 MB payload
    /// limit, so one maximal delivery fits).
    pub unverified_per_client_bytes: usize,
    /// Bytes of the budget kept for client addresses whose last webhook was correctly signed
    /// (within the last hour): unsigned traffic, however many addresses it comes from,
    /// cannot take them.
    pub unverified_reserved_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        const MIB: usize = 1024 * 1024;
        Self {
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            unverified_body_budget_bytes: 128 * MIB,
            unverified_per_client_bytes: 26 * MIB,
            unverified_reserved_bytes: 52 * MIB,
        }
    }
}

impl ServerLimits {
    /// The first inconsistency, as `(key, message)`.
    pub fn check(&self) -> Result<(), (String, String)> {
        let key = |k: &str| format!("http.{k}");
        for (name, secs) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if secs == 0 {
                return Err((key(name), "must be at least 1 second".into()));
            }
        }
        if self.unverified_per_client_bytes > self.unverified_body_budget_bytes {
            return Err((
                key("unverified_per_client_bytes"),
                "must not exceed unverified_body_budget_bytes".into(),
            ));
        }
        if self.unverified_reserved_bytes >= self.unverified_body_budget_bytes {
            return Err((
                key("unverified_reserved_bytes"),
                "must be less than unverified_body_budget_bytes".into(),
            ));
        }
        Ok(())
    }
}
