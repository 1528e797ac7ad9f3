//! Analytics: what the run history says about where things are going. Per UCF metric a moving
//! average, a least-squares slope, a forecast of the next run with a 95% prediction interval
//! and an anomaly flag; per repository commit and pull-request velocity per week; per agent
//! the success-rate trend.
//!
//! [`compute`] is a pure function of an exporter's input (the snapshot and the trend history
//! that ends with it): no clock, no I/O, fixed iteration order and numbers rounded to six
//! decimals, so the JSON and HTML exports that embed it stay golden-testable and a past run's
//! analytics can be recomputed exactly. It must never present a forecast as a measurement:
//! every forecast carries `kind: "prediction"`. The methods, and why they suit short noisy
//! series, are in the README ("Analytics"); `schemas/analytics.schema.json` is the shape.

pub mod stats;
mod velocity;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::input::{ExportInput, HistoryPoint, Scope};
use super::snapshot::UCF_METRICS;
use stats::{fit, moving_average, robust_z, round6};
pub use velocity::{RepoVelocity, WeekCount, WEEKS};

/// Version of the analytics shape (`schemas/analytics.schema.json`).
pub const ANALYTICS_VERSION: u32 = 1;

/// The JSON Schema of [`Analytics`] (served at `GET /api/schema/analytics.json`).
pub const ANALYTICS_SCHEMA: &str = include_str!("../../../schemas/analytics.schema.json");

/// Runs the moving average covers.
pub const MOVING_AVERAGE_RUNS: usize = 5;
/// Runs the slope, the forecast and the anomaly reference cover (the latest included).
pub const SLOPE_RUNS: usize = 10;
/// |robust z| above which the latest value is flagged (Iglewicz & Hoaglin's cut-off).
pub const ANOMALY_THRESHOLD: f64 = 3.5;
/// Confidence of the forecast interval.
pub const CONFIDENCE: f64 = 0.95;

/// Trends and predictions for one run (and scope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Analytics {
    pub analytics_version: u32,
    pub run_id: String,
    /// When the run's data was collected (the newest point of every series).
    #[schemars(with = "String")]
    pub as_of: DateTime<Utc>,
    pub methods: Methods,
    /// One entry per UCF metric the run has, in report order; empty outside the ucf scope.
    pub ucf: Vec<MetricAnalytics>,
    /// One entry per repository, by name; empty outside the repos scope.
    pub repos: Vec<RepoVelocity>,
    /// One entry per agent with tasks, by name; empty outside the agents scope.
    pub agents: Vec<AgentTrend>,
}

/// The parameters the numbers were computed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Methods {
    pub moving_average_runs: usize,
    pub slope_runs: usize,
    /// `ordinary least squares over run index`.
    pub slope: String,
    /// `OLS prediction interval from the residual standard error, Student t`.
    pub forecast: String,
    pub forecast_confidence: f64,
    /// `modified z-score (median, MAD) of the latest value against the runs before it`.
    pub anomaly: String,
    pub anomaly_threshold: f64,
    pub velocity_weeks: usize,
}

impl Default for Methods {
    fn default() -> Self {
        Self {
            moving_average_runs: MOVING_AVERAGE_RUNS,
            slope_runs: SLOPE_RUNS,
            slope: "ordinary least squares over run index".into(),
            forecast: "OLS prediction interval from the residual standard error, Student t".into(),
            forecast_confidence: CONFIDENCE,
            anomaly:
                "modified z-score (median, MAD) of the latest value against the runs before it"
                    .into(),
            anomaly_threshold: ANOMALY_THRESHOLD,
            velocity_weeks: WEEKS,
        }
    }
}

/// Direction of a series over the slope window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Rising,
    Falling,
    /// The slope is not distinguishable from zero at the 5% level.
    Flat,
    /// Fewer than three runs.
    InsufficientData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricAnalytics {
    pub metric: String,
    /// Runs in the series (at most `slope_runs`, ending with this run).
    pub runs: usize,
    pub latest: f64,
    pub moving_average: f64,
    /// Change per run of the least-squares line; `null` under three runs.
    pub slope_per_run: Option<f64>,
    pub direction: Direction,
    /// The next run's value as the line predicts it; `null` under three runs.
    pub forecast: Option<Forecast>,
    pub anomaly: Anomaly,
}

/// A predicted value: an extrapolation, not a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Forecast {
    /// Always `prediction`.
    pub kind: String,
    /// Runs ahead (1: the next run).
    pub horizon_runs: u32,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Anomaly {
    pub flagged: bool,
    /// The modified z-score; `null` without enough history or spread.
    pub robust_z: Option<f64>,
    /// Why there is no score, when there is none.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentTrend {
    pub agent: String,
    pub runs: usize,
    /// Success rate in [0, 1] in this run.
    pub latest: f64,
    pub moving_average: f64,
    pub slope_per_run: Option<f64>,
    pub direction: Direction,
}

/// The history an exporter was given, ending with this run's own point (added when the
/// caller's history does not already end with it). The HTML trend charts read the same.
pub fn series_points(input: &ExportInput<'_>) -> Vec<HistoryPoint> {
    let mut history = input.history.to_vec();
    if history.last().is_none_or(|p| p.run_id != input.run.id) {
        history.push(super::history::point(&input.run.id, input.snapshot));
    }
    history
}

/// The analytics of an (already scoped) exporter input.
pub fn compute(input: &ExportInput<'_>, scope: Scope) -> Analytics {
    let points = series_points(input);
    let window = &points[points.len().saturating_sub(SLOPE_RUNS)..];
    let ucf = match (&input.snapshot.ucf, scope.has_ucf()) {
        (Some(u), true) => UCF_METRICS
            .iter()
            .filter(|m| u.metrics.contains_key(**m))
            .map(|m| metric(m, &series(window, |p| p.ucf.get(*m).copied())))
            .collect(),
        _ => Vec::new(),
    };
    let agents = if scope.has_agents() {
        input
            .snapshot
            .agents
            .iter()
            .filter_map(|(name, a)| {
                a.success_rate?;
                let s = series(window, |p| p.agents.get(name).copied());
                (!s.is_empty()).then(|| agent(name, &s))
            })
            .collect()
    } else {
        Vec::new()
    };
    let repos = if scope.has_repos() {
        let end = input.snapshot.taken_at;
        input
            .snapshot
            .repos
            .iter()
            .map(|(name, r)| velocity::of(name, r, end))
            .collect()
    } else {
        Vec::new()
    };
    Analytics {
        analytics_version: ANALYTICS_VERSION,
        run_id: input.run.id.clone(),
        as_of: input.snapshot.taken_at,
        methods: Methods::default(),
        ucf,
        repos,
        agents,
    }
}

/// The values a series has in `window`, oldest first (runs without a value are skipped).
fn series(window: &[HistoryPoint], value: impl Fn(&HistoryPoint) -> Option<f64>) -> Vec<f64> {
    window.iter().filter_map(value).collect()
}

fn direction(line: Option<&stats::Line>) -> Direction {
    match line {
        None => Direction::InsufficientData,
        Some(l) if !l.slope_is_significant() => Direction::Flat,
        Some(l) if l.slope > 0.0 => Direction::Rising,
        Some(_) => Direction::Falling,
    }
}

fn metric(name: &str, s: &[f64]) -> MetricAnalytics {
    let latest = s.last().copied().unwrap_or_default();
    let line = fit(s);
    let forecast = line.as_ref().map(|l| {
        let (value, lower, upper) = l.forecast_next();
        Forecast {
            kind: "prediction".into(),
            horizon_runs: 1,
            value: round6(value),
            lower: round6(lower),
            upper: round6(upper),
            confidence: CONFIDENCE,
        }
    });
    let reference = &s[..s.len().saturating_sub(1)];
    let z = robust_z(latest, reference);
    let note = match z {
        Some(_) => None,
        None if reference.len() < 4 => Some("fewer than 4 earlier runs".into()),
        None => Some("earlier runs are all equal".into()),
    };
    // With no spread at all, any departure from the constant level is the anomaly.
    let flagged = match z {
        Some(z) => z.abs() > ANOMALY_THRESHOLD,
        None => reference.len() >= 4 && reference.iter().any(|r| *r != latest),
    };
    MetricAnalytics {
        metric: name.to_owned(),
        runs: s.len(),
        latest: round6(latest),
        moving_average: round6(moving_average(s, MOVING_AVERAGE_RUNS).unwrap_or(latest)),
        slope_per_run: line.map(|l| round6(l.slope)),
        direction: direction(line.as_ref()),
        forecast,
        anomaly: Anomaly {
            flagged,
            robust_z: z.map(round6),
            note,
        },
    }
}

fn agent(name: &str, s: &[f64]) -> AgentTrend {
    let latest = s.last().copied().unwrap_or_default();
    let line = fit(s);
    AgentTrend {
        agent: name.to_owned(),
        runs: s.len(),
        latest: round6(latest),
        moving_average: round6(moving_average(s, MOVING_AVERAGE_RUNS).unwrap_or(latest)),
        slope_per_run: line.map(|l| round6(l.slope)),
        direction: direction(line.as_ref()),
    }
}

#[cfg(test)]
mod tests;
