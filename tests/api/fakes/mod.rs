//! Loopback fakes of the publish targets, mounted as wiremock responders on the test app's
//! `discord` and `notion` servers. Each keeps what it accepted, refuses what the real API
//! refuses (and records why), and can be told to fail the next requests on demand.

pub mod discord;
pub mod discord_bot;
pub mod notion;

use std::sync::{Arc, Mutex, MutexGuard};

/// A failure to inject: the next `remaining` requests matching method and path fragment.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<&'static str>,
    pub path_contains: Option<&'static str>,
    pub remaining: usize,
    /// Matching requests to let through before failing.
    pub pass_first: usize,
    pub status: u16,
    /// Seconds, sent as `Retry-After` (and Discord's `retry_after`).
    pub retry_after: Option<f64>,
}

impl Fault {
    /// Fails the next `n` requests of any kind with `status`.
    pub fn next(n: usize, status: u16) -> Self {
        Self {
            method: None,
            path_contains: None,
            remaining: n,
            pass_first: 0,
            status,
            retry_after: None,
        }
    }

    pub fn on(mut self, method: &'static str, path_contains: &'static str) -> Self {
        self.method = Some(method);
        self.path_contains = Some(path_contains);
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn after(mut self, n: usize) -> Self {
        self.pass_first = n;
        self
    }

    pub fn retry_after(mut self, secs: f64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

/// The pending faults of one fake.
#[derive(Debug, Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    pub fn push(&mut self, f: Fault) {
        self.0.push(f);
    }

    /// The fault this request triggers, if any (using one of its `remaining`).
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let f = self.0.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.is_none_or(|m| m == method)
                && f.path_contains.is_none_or(|p| path.contains(p))
        })?;
        if f.pass_first > 0 {
            f.pass_first -= 1;
            return None;
        }
        f.remaining -= 1;
        Some(f.clone())
    }
}

/// A request's `Authorization` header ("" when it has none).
pub fn authorization(req: &wiremock::Request) -> &str {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Shared state of a fake, cloned into its responder.
#[derive(Debug, Default)]
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Shared<T> {
    pub fn new(v: T) -> Self {
        Self(Arc::new(Mutex::new(v)))
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap()
    }
}
