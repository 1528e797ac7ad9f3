//! The console's dashboard: the health report, the UCF gauges with the harmony status, the
//! agents, the last runs with their per-target delivery state, and the targets' breakers.
//!
//! UCF and agent figures come from the newest stored snapshot (what was last published);
//! everything else from the same report as `/health`.

use crate::timestamp::millis;
use serde::Serialize;
use serde_json::Value;

use super::status::{recent_runs, RunLine};
use super::App;
use super::{Health, ServiceError};
use crate::sync::snapshot::{harmony_status, TARGET_NAMES, UCF_METRICS};

/// Runs the dashboard lists.
pub const RUNS: i64 = 10;

#[derive(Debug, Serialize)]
pub struct Gauge {
    pub name: &'static str,
    pub value: f64,
    /// Where the value sits on its gauge, 0–100 (zoom is open-ended: shown against 2).
    pub percent: f64,
}

#[derive(Debug, Serialize)]
pub struct Ucf {
    pub gauges: Vec<Gauge>,
    /// HARMONIC, COHERENT or FRAGMENTED.
    pub status: String,
    pub timestamp: Option<String>,
    pub run_id: String,
}

#[derive(Debug, Serialize)]
pub struct Agents {
    pub active: u64,
    pub total: u64,
}

#[derive(Debug, Serialize)]
pub struct TargetView {
    pub name: &'static str,
    /// `closed` or `open`.
    pub breaker: String,
    pub failures: i64,
    pub opened_at: Option<String>,
    pub next_probe_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub health: Health,
    pub ucf: Option<Ucf>,
    pub agents: Option<Agents>,
    pub runs: Vec<RunLine>,
    pub targets: Vec<TargetView>,
}

pub async fn dashboard(app: &App) -> Result<Dashboard, ServiceError> {
    let health = super::status(app).await;
    let runs = recent_runs(app, RUNS).await?;
    let snapshot = app.store.latest_snapshot_json().await?;
    let (ucf, agents) = match snapshot {
        Some((run_id, json)) => {
            let doc: Value = serde_json::from_slice(&json).unwrap_or(Value::Null);
            (ucf_of(&doc, run_id), agents_of(&doc))
        }
        None => (None, None),
    };
    Ok(Dashboard {
        health,
        ucf,
        agents,
        runs,
        targets: targets(app).await?,
    })
}

/// Every publish target's breaker.
pub async fn targets(app: &App) -> Result<Vec<TargetView>, ServiceError> {
    let lanes = app.store.lanes().await?;
    Ok(TARGET_NAMES
        .iter()
        .map(|name| {
            let lane = lanes.iter().find(|l| l.name == *name);
            TargetView {
                name,
                breaker: lane.map_or("closed".into(), |l| l.breaker.clone()),
                failures: lane.map_or(0, |l| l.failures),
                opened_at: lane.and_then(|l| l.opened_at).map(millis),
                next_probe_at: lane
                    .filter(|l| l.breaker == "open")
                    .and_then(|l| l.next_probe_at)
                    .map(millis),
            }
        })
        .collect())
}

fn ucf_of(doc: &Value, run_id: String) -> Option<Ucf> {
    let ucf = doc.get("ucf")?.as_object()?;
    let metrics = ucf.get("metrics")?.as_object()?;
    let gauges: Vec<Gauge> = UCF_METRICS
        .iter()
        .filter_map(|name| {
            let value = metrics.get(*name)?.as_f64()?;
            let scale = if *name == "zoom" { 2.0 } else { 1.0 };
            Some(Gauge {
                name,
                value,
                percent: (value / scale * 100.0).clamp(0.0, 100.0),
            })
        })
        .collect();
    let harmony = metrics.get("harmony").and_then(Value::as_f64);
    Some(Ucf {
        status: ucf
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| harmony.map(|h| harmony_status(h).to_owned()))?,
        timestamp: ucf
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned),
        gauges,
        run_id,
    })
}

fn agents_of(doc: &Value) -> Option<Agents> {
    let t = doc.get("agent_totals")?;
    Some(Agents {
        active: t.get("active")?.as_u64()?,
        total: t.get("agents")?.as_u64()?,
    })
}

/// A run with its deliveries, for the console's run page: its record (rollback facts, the
/// Notion conflicts it flagged), its generated summary, and its analytics when it stored a
/// snapshot.
#[derive(Debug, Serialize)]
pub struct RunDeliveries {
    pub run: super::versions::RunRecord,
    pub deliveries: Vec<super::DeliveryView>,
    pub generated_summary: Option<crate::sync::narrate::Narration>,
    pub analytics: Option<crate::sync::analytics::Analytics>,
}

/// One run and its deliveries (each delivery's upstream answer redacted).
pub async fn run(app: &App, id: &str) -> Result<RunDeliveries, ServiceError> {
    let mut run = super::versions::record(app, id).await?;
    let secrets = &app.config.secrets;
    let deliveries = app
        .store
        .deliveries_for_run(id)
        .await?
        .into_iter()
        .map(|d| {
            let mut v: super::DeliveryView = d.into();
            v.last_error = v
                .last_error
                .map(|e| super::redact::redact(&e, secrets, 2000));
            v
        })
        .collect();
    run.run.error = run
        .run
        .error
        .map(|e| super::redact::redact(&e, secrets, 2000));
    let generated = app.store.generated_summary(id).await?;
    // A run without a snapshot (failed, running, or pruned) simply has no analytics.
    let analytics = match run.run.status.as_str() {
        "succeeded" | "partial" => {
            super::analytics::analytics(app, Some(id), crate::sync::exporters::Scope::Full)
                .await
                .ok()
        }
        _ => None,
    };
    Ok(RunDeliveries {
        run,
        deliveries,
        generated_summary: crate::sync::narrate::decode(generated.as_deref()),
        analytics,
    })
}
