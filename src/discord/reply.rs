//! What the bot says: the status, history and rollback answers in Discord's plain text
//! (the caller cuts them to Discord's 2,000 characters). Pure functions of what the service
//! operations returned.

use serde::Serialize;

use crate::config::Config;
use crate::service::rollback::RollbackOutcome;
use crate::service::{Health, RunView};

/// A value's serde name (`healthy`, `ok`, `disabled`…).
fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Each part of a struct of parts and its state: `github ok · ucf_state error`.
fn parts<T: Serialize>(v: &T) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(v) else {
        return String::new();
    };
    map.iter()
        .map(|(name, state)| format!("{name} {}", state.as_str().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `/helix status`: the health summary `GET /api/sync/status` returns, in a few lines.
pub fn status(h: &Health, config: &Config) -> String {
    let icon = match word(&h.status).as_str() {
        "healthy" => "🟢",
        "degraded" => "🟡",
        _ => "🔴",
    };
    let mut lines = vec![format!("{icon} **helix-sync is {}**", word(&h.status))];
    lines.push(format!(
        "Last sync: {} · next: {}",
        h.last_sync.as_deref().unwrap_or("never"),
        h.next_sync.as_deref().unwrap_or("none scheduled")
    ));
    if let Some(rate) = h.metrics.success_rate {
        let avg = h
            .metrics
            .avg_duration_seconds
            .map(|s| format!(", {s:.1} s on average"))
            .unwrap_or_default();
        lines.push(format!("Recent runs: {:.0}% succeeded{avg}", rate * 100.0));
    }
    lines.push(format!("Sources: {}", parts(&h.sources)));
    lines.push(format!("Targets: {}", parts(&h.targets)));
    let depth = |state: &str| h.queue.depth.get(state).copied().unwrap_or(0);
    lines.push(format!(
        "Queue: {} queued · {} running · {} waiting to retry · {} dead",
        depth("queued"),
        depth("running"),
        depth("failed"),
        depth("dead")
    ));
    if let Some(e) = &h.metrics.last_error {
        lines.push(format!("Last error: {e}"));
    }
    if let Some(url) = config.link("/console") {
        lines.push(url);
    }
    lines.join("\n")
}

/// `/helix history`: one line per run, newest first.
pub fn history(runs: &[RunView]) -> String {
    if runs.is_empty() {
        return "No sync has run yet.".into();
    }
    let mut lines = vec![format!("Last {} run(s), newest first:", runs.len())];
    for r in runs {
        let took = r
            .duration_seconds
            .map(|s| format!(" · {s:.1} s"))
            .unwrap_or_default();
        lines.push(format!(
            "`{}` {} · {} · {}{took}",
            r.id, r.status, r.trigger, r.started_at
        ));
    }
    lines.join("\n")
}

/// `/helix rollback`: what was published again, by whom, as which run.
pub fn rollback(o: &RollbackOutcome) -> String {
    let targets = if o.targets.is_empty() {
        "no target is enabled".to_owned()
    } else {
        format!("publishing to {}", o.targets.join(", "))
    };
    format!(
        "⏪ Rolled back to run `{}` for {}: new run `{}` ({}), {targets}.",
        o.rollback_to, o.requested_by, o.run_id, o.status
    )
}
