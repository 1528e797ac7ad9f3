//! Each token's rate budget, as GitHub last reported it.
//!
//! Every answer carries `x-ratelimit-limit`, `-remaining`, `-reset` and `-resource` (`core`
//! for REST, `graphql`, …); [`Budgets::observe`] keeps the newest per (token, resource). A
//! token is the personal token, the anonymous caller, or one installation of the App, each
//! with a budget of its own. [`Budgets::check`] is asked before a request: once a budget is
//! down to the configured reserve and its reset is still ahead, the request is not made, so a
//! cycle stops early (a `partial` run that names the budget and resumes after the reset)
//! instead of running the budget out for everything else that token does. The figures are
//! published through the store (`kv`, one row per budget), so `/health`, `/metrics` and the
//! console of every replica show them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// The `kv` prefix of published budgets.
pub const KV_PREFIX: &str = "github_budget:";

/// One budget as GitHub last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Budget {
    /// Whose: `token`, `installation:<id>` or `anonymous`.
    pub token: String,
    /// GitHub's `x-ratelimit-resource`: `core` (REST), `graphql`, `search`, …
    pub resource: String,
    pub limit: u64,
    pub remaining: u64,
    /// When it refills (unix ms).
    pub reset_at: i64,
    /// When GitHub said so (unix ms).
    pub seen_at: i64,
    /// Requests taken from it and not answered yet (this process's).
    #[serde(skip)]
    #[schemars(skip)]
    pub in_flight: u64,
}

impl Budget {
    /// Its `kv` key.
    pub fn key(&self) -> String {
        format!("{KV_PREFIX}{}:{}", self.token, self.resource)
    }
}

/// The budgets this process has seen.
#[derive(Debug, Default)]
pub struct Budgets(Mutex<BTreeMap<(String, String), Budget>>);

impl Budgets {
    /// Takes one request from `token`'s `resource` budget before it is sent, or `Err` with
    /// the budget when what is left, less the requests already in flight, is down to
    /// `reserve` and does not refill before `now`. Counting the requests in flight keeps a
    /// burst of them from all passing on the same figure. Every taken request is settled
    /// ([`Budgets::settle`]) when its answer (or its failure) comes back.
    pub fn take(&self, token: &str, resource: &str, reserve: u64, now: i64) -> Result<(), Budget> {
        match lock(&self.0).get_mut(&(token.to_owned(), resource.to_owned())) {
            Some(b) if b.reset_at <= now => {
                b.in_flight += 1;
                Ok(())
            }
            Some(b) if b.remaining.saturating_sub(b.in_flight) <= reserve => Err(b.clone()),
            Some(b) => {
                b.in_flight += 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Settles a request taken with [`Budgets::take`] and notes what its answer (`None`: it
    /// got none) said about the budget. Within one window GitHub's figure only goes down, so
    /// an answer that was overtaken by a later one cannot raise it again.
    pub fn settle(&self, token: &str, resource: &str, headers: Option<&HeaderMap>, now: i64) {
        let mut all = lock(&self.0);
        let key = (token.to_owned(), resource.to_owned());
        if let Some(b) = all.get_mut(&key) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
        let Some(reported) = headers.and_then(|h| reported(token, h, now)) else {
            return;
        };
        let in_flight = all.get(&key).map_or(0, |b| b.in_flight);
        let remaining = match all.get(&key) {
            Some(b) if b.reset_at == reported.reset_at => b.remaining.min(reported.remaining),
            _ => reported.remaining,
        };
        metrics::gauge!("helix_github_rate_remaining", "token" => token.to_owned(), "resource" => reported.resource.clone())
            .set(remaining as f64);
        all.insert(
            (token.to_owned(), reported.resource.clone()),
            Budget {
                remaining,
                in_flight,
                ..reported
            },
        );
    }

    /// Every budget seen, in key order.
    pub fn all(&self) -> Vec<Budget> {
        lock(&self.0).values().cloned().collect()
    }
}

/// The budget an answer reports, when it carries the figures.
fn reported(token: &str, headers: &HeaderMap, now: i64) -> Option<Budget> {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    Some(Budget {
        token: token.to_owned(),
        resource: headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core")
            .to_owned(),
        limit: num("x-ratelimit-limit")?.max(0) as u64,
        remaining: num("x-ratelimit-remaining")?.max(0) as u64,
        reset_at: num("x-ratelimit-reset")?.saturating_mul(1000),
        seen_at: now,
        in_flight: 0,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(remaining: &str, reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", "5000".parse().unwrap());
        h.insert("x-ratelimit-remaining", remaining.parse().unwrap());
        h.insert("x-ratelimit-reset", reset.parse().unwrap());
        h
    }

    #[test]
    fn a_budget_down_to_the_reserve_stops_requests_until_its_reset() {
        let b = Budgets::default();
        let now = 1_000_000_000;
        let take = |token: &str, resource: &str, at: i64| b.take(token, resource, 100, at);
        assert!(take("installation:1", "core", now).is_ok(), "unknown: go");
        b.settle(
            "installation:1",
            "core",
            Some(&headers("102", "1000100")),
            now,
        );
        // Two in flight at once: 102 - 2 is the reserve, so a third may not go.
        assert!(take("installation:1", "core", now).is_ok());
        assert!(take("installation:1", "core", now).is_ok());
        let spent = take("installation:1", "core", now).unwrap_err();
        assert_eq!((spent.remaining, spent.in_flight), (102, 2));
        // A 304 (GitHub counts none) gives its request back.
        b.settle(
            "installation:1",
            "core",
            Some(&headers("102", "1000100")),
            now,
        );
        assert!(take("installation:1", "core", now).is_ok());
        // An overtaken answer cannot raise the figure within its window.
        b.settle(
            "installation:1",
            "core",
            Some(&headers("101", "1000100")),
            now,
        );
        b.settle(
            "installation:1",
            "core",
            Some(&headers("102", "1000100")),
            now,
        );
        assert_eq!(b.all()[0].remaining, 101);
        assert!(take("installation:2", "core", now).is_ok(), "per token");
        assert!(
            take("installation:1", "graphql", now).is_ok(),
            "per resource"
        );
        assert!(
            take("installation:1", "core", 1_000_100_000).is_ok(),
            "refilled at its reset"
        );
        assert_eq!(b.all()[0].key(), "github_budget:installation:1:core");
    }
}
