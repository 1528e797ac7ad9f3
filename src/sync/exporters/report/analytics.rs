//! The analytics section of the HTML and PDF reports as display text: the numbers come from
//! `sync::analytics` and only get formatted here, so the reports and the JSON export cannot
//! disagree. A forecast is always written as a prediction, with its interval.

use serde::Serialize;

use super::{number, signed};
use crate::sync::analytics::{Analytics, Direction};

#[derive(Debug, Serialize)]
pub struct View {
    pub moving_average_runs: usize,
    pub slope_runs: usize,
    pub weeks: usize,
    pub confidence: String,
    pub metrics: Vec<MetricRow>,
    pub repos: Vec<RepoRow>,
    pub agents: Vec<AgentRow>,
}

#[derive(Debug, Serialize)]
pub struct MetricRow {
    pub name: String,
    pub latest: String,
    pub moving_average: String,
    pub slope: String,
    pub direction: &'static str,
    pub prediction: String,
    pub anomaly: String,
    pub anomalous: bool,
}

#[derive(Debug, Serialize)]
pub struct RepoRow {
    pub name: String,
    pub commits: String,
    pub prs_opened: String,
    pub prs_merged: String,
    /// Commits per week, oldest first, as text (`3 · 0 · 7 …`).
    pub weekly: String,
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct AgentRow {
    pub name: String,
    pub latest: String,
    pub moving_average: String,
    pub slope: String,
    pub direction: &'static str,
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Rising => "rising",
        Direction::Falling => "falling",
        Direction::Flat => "flat",
        Direction::InsufficientData => "too few runs",
    }
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn slope(v: Option<f64>, unit: fn(f64) -> String) -> String {
    v.map_or_else(|| "—".to_owned(), |s| format!("{} / run", unit(s)))
}

pub fn view(a: &Analytics) -> View {
    let metrics = a
        .ucf
        .iter()
        .map(|m| MetricRow {
            name: m.metric.clone(),
            latest: number(m.latest),
            moving_average: number(m.moving_average),
            slope: slope(m.slope_per_run, signed),
            direction: direction(m.direction),
            prediction: m.forecast.as_ref().map_or_else(
                || "— (fewer than 3 runs)".to_owned(),
                |f| {
                    format!(
                        "{} ({} to {})",
                        number(f.value),
                        number(f.lower),
                        number(f.upper)
                    )
                },
            ),
            anomaly: match (m.anomaly.flagged, m.anomaly.robust_z) {
                (true, Some(z)) => format!("anomaly (z {})", number(z)),
                (true, None) => "anomaly (departs from a constant level)".to_owned(),
                (false, Some(z)) => format!("normal (z {})", number(z)),
                (false, None) => m.anomaly.note.clone().unwrap_or_default(),
            },
            anomalous: m.anomaly.flagged,
        })
        .collect();
    let repos = a
        .repos
        .iter()
        .map(|r| RepoRow {
            name: r.repo.clone(),
            commits: number(r.commits_per_week),
            prs_opened: number(r.prs_opened_per_week),
            prs_merged: number(r.prs_merged_per_week),
            weekly: r
                .weeks
                .iter()
                .map(|w| w.commits.to_string())
                .collect::<Vec<_>>()
                .join(" · "),
            complete: r.complete,
        })
        .collect();
    let agents = a
        .agents
        .iter()
        .map(|t| AgentRow {
            name: t.agent.clone(),
            latest: percent(t.latest),
            moving_average: percent(t.moving_average),
            slope: slope(t.slope_per_run, |s| format!("{:+.1} pp", s * 100.0)),
            direction: match t.direction {
                Direction::Rising => "improving",
                Direction::Falling => "declining",
                other => direction(other),
            },
        })
        .collect();
    View {
        moving_average_runs: a.methods.moving_average_runs,
        slope_runs: a.methods.slope_runs,
        weeks: a.methods.velocity_weeks,
        confidence: format!("{:.0}%", a.methods.forecast_confidence * 100.0),
        metrics,
        repos,
        agents,
    }
}
