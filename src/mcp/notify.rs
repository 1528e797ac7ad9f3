//! What one MCP session asked to be told: resource subscriptions and its log level.
//!
//! A finished run changes the `latest` resources and its own `helix://runs/{id}/…` ones.
//! Each session that subscribed (`resources/subscribe`, the 2025 protocols) or set a log
//! level (`logging/setLevel`) gets one watcher task on the run-event bus; the task sends
//! `notifications/resources/updated` for every subscribed URI the run changed, and a log
//! message at or above the session's level. 2026-07-28 sessions use `subscriptions/listen`
//! instead, served by [`listen`] on the same bus. Runs finished by another process (the
//! stdio server beside a `serve` process) reach the bus through `mcp::stdio`'s poll.
//!
//! MCP logging is deprecated by SEP-2577 (hence the `allow(deprecated)`), but the 2025
//! clients still in use rely on it. Nothing here may block a run: the bus is a broadcast,
//! and a session that falls behind skips events rather than holding anyone up.

#![allow(deprecated)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ResourceUpdatedNotificationParam,
};
use rmcp::service::{Peer, RoleServer, SubscriptionContext};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::resources::Target;
use crate::service::App;
use crate::sync::RunEvent;

/// A run id seen from two paths (our workers and the store poll) is told once.
const REMEMBERED_RUNS: usize = 32;

/// One session's wishes.
#[derive(Default)]
pub struct Session {
    /// URIs from `resources/subscribe`. Any URI is accepted (a client may watch one that
    /// does not exist yet); only ours are ever notified.
    subscriptions: Mutex<HashSet<String>>,
    /// `None` until `logging/setLevel`: no log messages are sent unasked.
    level: Mutex<Option<LoggingLevel>>,
    /// The session's peer, once a request gave it to us; starting the watcher sets it.
    peer: OnceLock<Peer<RoleServer>>,
}

impl Session {
    pub fn subscribe(&self, uri: String) {
        lock(&self.subscriptions).insert(uri);
    }

    pub fn unsubscribe(&self, uri: &str) {
        lock(&self.subscriptions).remove(uri);
    }

    pub fn set_level(&self, level: LoggingLevel) {
        *lock(&self.level) = Some(level);
    }

    /// Starts this session's watcher, once.
    pub fn watch(self: &std::sync::Arc<Self>, app: &App, peer: Peer<RoleServer>) {
        if self.peer.set(peer.clone()).is_err() {
            return;
        }
        let session = self.clone();
        let mut events = app.run_events.subscribe();
        let shutdown = app.shutdown.clone();
        tokio::spawn(async move {
            let mut seen = VecDeque::with_capacity(REMEMBERED_RUNS);
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = shutdown.cancelled() => return,
                };
                let (run_id, status) = match event {
                    Ok(RunEvent::Finished { run_id, status }) => (run_id, status),
                    Ok(RunEvent::Started { .. }) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                if !first_sighting(&mut seen, &run_id) {
                    continue;
                }
                if session.tell(&peer, &run_id, &status).await.is_err() {
                    return; // the client is gone
                }
            }
        });
    }

    /// Sends what a finished run means to this session.
    async fn tell(&self, peer: &Peer<RoleServer>, run_id: &str, status: &str) -> Result<(), ()> {
        let uris: Vec<String> = lock(&self.subscriptions)
            .iter()
            .filter(|u| Target::parse(u).is_some_and(|t| t.changed_by(run_id)))
            .cloned()
            .collect();
        for uri in uris {
            peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .map_err(drop)?;
        }
        let level = match status {
            "succeeded" => LoggingLevel::Info,
            "partial" => LoggingLevel::Warning,
            _ => LoggingLevel::Error,
        };
        self.log(
            level,
            json!({ "event": "run_finished", "run_id": run_id, "status": status }),
        )
        .await
    }

    /// Sends a log message if the session asked for this level or a lower one.
    pub async fn log(&self, level: LoggingLevel, data: serde_json::Value) -> Result<(), ()> {
        let wanted = *lock(&self.level);
        let (Some(wanted), Some(peer)) = (wanted, self.peer.get()) else {
            return Ok(());
        };
        if rank(level) < rank(wanted) {
            return Ok(());
        }
        peer.notify_logging_message(
            LoggingMessageNotificationParam::new(level, data).with_logger("helix-sync"),
        )
        .await
        .map_err(drop)
    }
}

/// A 2026-07-28 `subscriptions/listen` stream: resource updates for the accepted URIs
/// until the client cancels it or the server shuts down.
pub async fn listen(app: &App, context: SubscriptionContext) {
    let uris: Vec<String> = context
        .accepted()
        .resource_subscriptions
        .clone()
        .unwrap_or_default();
    let mut events = app.run_events.subscribe();
    let mut seen = VecDeque::with_capacity(REMEMBERED_RUNS);
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = context.cancelled() => return,
            _ = app.shutdown.cancelled() => return,
        };
        let run_id = match event {
            Ok(RunEvent::Finished { run_id, .. }) => run_id,
            Ok(RunEvent::Started { .. }) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if !first_sighting(&mut seen, &run_id) {
            continue;
        }
        for uri in &uris {
            if Target::parse(uri).is_some_and(|t| t.changed_by(&run_id))
                && context
                    .sink()
                    .notify_resource_updated(uri.clone())
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}

fn first_sighting(seen: &mut VecDeque<String>, run_id: &str) -> bool {
    if seen.iter().any(|s| s == run_id) {
        return false;
    }
    if seen.len() == REMEMBERED_RUNS {
        seen.pop_front();
    }
    seen.push_back(run_id.to_owned());
    true
}

/// Severity order of RFC 5424, which MCP's levels follow.
fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// A poisoned lock only means another task panicked mid-update of a set; the set is
/// still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_seen_twice_is_told_once() {
        let mut seen = VecDeque::new();
        assert!(first_sighting(&mut seen, "r1"));
        assert!(!first_sighting(&mut seen, "r1"));
        for i in 0..REMEMBERED_RUNS {
            first_sighting(&mut seen, &format!("x{i}"));
        }
        assert_eq!(seen.len(), REMEMBERED_RUNS);
        assert!(
            first_sighting(&mut seen, "r1"),
            "forgotten after the window"
        );
    }

    #[test]
    fn levels_are_ordered_by_severity() {
        assert!(rank(LoggingLevel::Debug) < rank(LoggingLevel::Info));
        assert!(rank(LoggingLevel::Warning) < rank(LoggingLevel::Error));
        assert!(rank(LoggingLevel::Alert) < rank(LoggingLevel::Emergency));
    }
}
