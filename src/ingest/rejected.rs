//! The requests ingest refused, for the console: when, from where, which source, the
//! delivery id the sender claimed, and why (bad signature, bad body, too large…).
//!
//! An attacker decides how many of these there are, so the log is a fixed ring of
//! [`CAPACITY`] entries in memory, each of bounded size: the newest push out the oldest,
//! and a flood of forged requests costs neither disk writes nor memory growth. The body of
//! a refused request is never kept (it is unverified: anyone's text), only its length. The
//! claimed delivery id and the reason are cut to a few hundred bytes and are shown as text.
//! The ring is per process and starts empty at each start; the counter
//! `helix_webhooks_rejected_total` keeps the totals.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

use serde::Serialize;

/// Entries kept.
pub const CAPACITY: usize = 500;
/// Longest kept text field, in bytes.
pub const FIELD_MAX: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Unix ms.
    pub at: i64,
    pub source: String,
    pub client: Option<IpAddr>,
    /// The id the request claimed (`X-GitHub-Delivery` / `webhook-id`), unverified.
    pub claimed_delivery: Option<String>,
    pub event_type: Option<String>,
    /// The error code (`unauthorized`, `bad_request`, `payload_too_large`, …).
    pub code: String,
    pub reason: String,
    /// Declared body length, when the request gave one.
    pub body_bytes: Option<u64>,
}

#[derive(Debug, Default)]
pub struct RejectedLog {
    ring: Mutex<VecDeque<Rejected>>,
}

impl RejectedLog {
    pub fn push(&self, mut r: Rejected) {
        for v in [&mut r.claimed_delivery, &mut r.event_type]
            .into_iter()
            .flatten()
        {
            *v = crate::queue::truncate(v, FIELD_MAX);
        }
        r.reason = crate::queue::truncate(&r.reason, FIELD_MAX);
        let mut ring = self.ring.lock().expect("rejected log lock");
        if ring.len() >= CAPACITY {
            ring.pop_front();
        }
        ring.push_back(r);
    }

    /// Newest first, optionally of one source.
    pub fn list(&self, source: Option<&str>) -> Vec<Rejected> {
        let ring = self.ring.lock().expect("rejected log lock");
        ring.iter()
            .rev()
            .filter(|r| source.is_none_or(|s| r.source == s))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_bounded_and_fields_are_cut() {
        let log = RejectedLog::default();
        for i in 0..(CAPACITY + 10) {
            log.push(Rejected {
                at: i as i64,
                source: "github".into(),
                client: None,
                claimed_delivery: Some("d".repeat(10_000)),
                event_type: None,
                code: "unauthorized".into(),
                reason: "signature does not match".into(),
                body_bytes: Some(5),
            });
        }
        let all = log.list(None);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].at, (CAPACITY + 9) as i64);
        assert!(all[0].claimed_delivery.as_ref().unwrap().len() <= FIELD_MAX);
        assert!(log.list(Some("ritual")).is_empty());
    }
}
