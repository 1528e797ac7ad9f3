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
    /// Notes what an answer for `token` said about its budget.
    pub fn observe(&self, token: &str, headers: &HeaderMap, now: i64) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            num("x-ratelimit-reset"),
        ) else {
            return;
        };
        let resource = headers
            .get("x-ratelimit-resource")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("core")
            .to_owned();
        let budget = Budget {
            token: token.to_owned(),
            resource: resource.clone(),
            limit: limit.max(0) as u64,
            remaining: remaining.max(0) as u64,
            reset_at: reset.saturating_mul(1000),
            seen_at: now,
        };
        metrics::gauge!("helix_github_rate_remaining", "token" => budget.token.clone(), "resource" => resource.clone())
            .set(budget.remaining as f64);
        lock(&self.0).insert((token.to_owned(), resource), budget);
    }

    /// `Err` with the budget when `token`'s `resource` budget is down to `reserve` and does
    /// not refill before `now`.
    pub fn check(&self, token: &str, resource: &str, reserve: u64, now: i64) -> Result<(), Budget> {
        match lock(&self.0).get(&(token.to_owned(), resource.to_owned())) {
            Some(b) if b.remaining <= reserve && b.reset_at > now => Err(b.clone()),
            _ => Ok(()),
        }
    }

    /// Every budget seen, in key order.
    pub fn all(&self) -> Vec<Budget> {
        lock(&self.0).values().cloned().collect()
    }
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
        assert!(
            b.check("installation:1", "core", 100, now).is_ok(),
            "unknown: go"
        );
        b.observe("installation:1", &headers("101", "1000100"), now);
        assert!(b.check("installation:1", "core", 100, now).is_ok());
        b.observe("installation:1", &headers("100", "1000100"), now);
        let spent = b.check("installation:1", "core", 100, now).unwrap_err();
        assert_eq!((spent.remaining, spent.reset_at), (100, 1_000_100_000));
        assert!(
            b.check("installation:2", "core", 100, now).is_ok(),
            "per token"
        );
        assert!(
            b.check("installation:1", "graphql", 100, now).is_ok(),
            "per resource"
        );
        assert!(
            b.check("installation:1", "core", 100, 1_000_100_000)
                .is_ok(),
            "refilled at its reset"
        );
        assert_eq!(b.all().len(), 1);
        assert_eq!(b.all()[0].key(), "github_budget:installation:1:core");
    }
}
