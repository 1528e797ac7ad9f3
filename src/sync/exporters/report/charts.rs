//! The geometry of the reports' charts: a semicircle gauge per UCF metric and a trend line per
//! metric over the last runs, as numbers written in fixed drawing boxes. The HTML report draws
//! them as inline SVG and the PDF report as vector curves, from the same numbers, so the two
//! cannot disagree. Coordinates are text made only of digits, a sign and a dot, so nothing
//! from the data reaches a drawing unescaped.
//!
//! A trend can end with the next run's prediction (the PDF report draws it): a point apart
//! from the measured line, with its interval, labelled as a prediction, never joined to the
//! measurements. Without one the geometry is exactly the HTML report's.

use serde::Serialize;

use super::{number, Grade, Report};
use crate::sync::analytics::{self, Analytics};
use crate::sync::exporters::{ExportInput, HistoryPoint, Scope};

/// One semicircle gauge: `percent` of the arc filled, the target at `target_x/y`.
#[derive(Debug, Serialize)]
pub struct Gauge {
    pub name: String,
    pub value_text: String,
    pub target_text: String,
    pub grade: &'static str,
    pub grade_text: &'static str,
    pub percent: String,
    /// Where the target sits along the scale, in percent (straight gauges).
    pub target_percent: String,
    pub target_x: String,
    pub target_y: String,
}

/// One metric's trend across runs: a polyline and its points.
#[derive(Debug, Serialize)]
pub struct Trend {
    pub name: String,
    pub points: String,
    pub dots: Vec<Dot>,
    pub min: String,
    pub max: String,
    pub last: String,
    /// The next run as the analytics predict it, when asked for and known.
    pub prediction: Option<Prediction>,
}

#[derive(Debug, Serialize)]
pub struct Dot {
    pub x: String,
    pub y: String,
    pub label: String,
}

/// A predicted next point: `y` the value, `low`/`high` its interval, in the chart's box.
#[derive(Debug, Serialize)]
pub struct Prediction {
    pub x: String,
    pub y: String,
    pub low: String,
    pub high: String,
    /// `prediction 0.87 (0.81 to 0.93)`.
    pub label: String,
}

/// The charts of one report.
#[derive(Debug, Serialize)]
pub struct Charts {
    pub gauges: Vec<Gauge>,
    pub trends: Vec<Trend>,
    /// Runs the trends cover.
    pub trend_runs: usize,
}

/// Size of a trend chart's drawing area (the SVG viewBox).
pub const TREND_W: f64 = 300.0;
pub const TREND_H: f64 = 80.0;
const TREND_PAD: f64 = 6.0;

fn fmt1(v: f64) -> String {
    format!("{v:.1}")
}

/// The full scale of a metric's gauge: room past the target, or four times a ceiling.
fn gauge_max(metric: &str, value: f64) -> f64 {
    match super::ucf_target(metric) {
        Some((t, true)) => t * 4.0,
        Some((t, false)) => (t * 1.5).max(1.0),
        None => value.abs().max(1.0),
    }
}

fn gauges(r: &Report<'_>) -> Vec<Gauge> {
    let Some(u) = &r.ucf else {
        return Vec::new();
    };
    u.metrics
        .iter()
        .map(|m| {
            let max = gauge_max(m.name, m.value);
            let frac = (m.value / max).clamp(0.0, 1.0);
            // The arc runs from (10,50) over the top to (90,50), centre (50,50), radius 40.
            let t = m.target.map_or(0.0, |t| (t / max).clamp(0.0, 1.0));
            let angle = std::f64::consts::PI * (1.0 - t);
            Gauge {
                name: m.name.to_owned(),
                value_text: m.value_text.clone(),
                target_text: m.target_text.clone(),
                grade: match m.grade {
                    Some(Grade::Good) => "good",
                    Some(Grade::Warning) => "warning",
                    Some(Grade::Critical) => "critical",
                    None => "unknown",
                },
                grade_text: m.grade_text,
                percent: fmt1(frac * 100.0),
                target_percent: fmt1(t * 100.0),
                target_x: fmt1(50.0 + 40.0 * angle.cos()),
                target_y: fmt1(50.0 - 40.0 * angle.sin()),
            }
        })
        .collect()
}

fn trend(
    name: &str,
    history: &[HistoryPoint],
    forecast: Option<&analytics::Forecast>,
) -> Option<Trend> {
    let series: Vec<(&HistoryPoint, f64)> = history
        .iter()
        .filter_map(|p| p.ucf.get(name).map(|v| (p, *v)))
        .collect();
    if series.is_empty() {
        return None;
    }
    let measured = series.iter().map(|s| s.1);
    let lo = measured.clone().fold(f64::INFINITY, f64::min);
    let hi = measured.fold(f64::NEG_INFINITY, f64::max);
    // The scale holds the prediction's interval too, when there is one.
    let (scale_lo, scale_hi) = forecast.map_or((lo, hi), |f| (lo.min(f.lower), hi.max(f.upper)));
    let span = if scale_hi - scale_lo < 1e-9 {
        1.0
    } else {
        scale_hi - scale_lo
    };
    let slots = series.len() + usize::from(forecast.is_some());
    let step = if slots > 1 {
        (TREND_W - 2.0 * TREND_PAD) / (slots - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| fmt1(TREND_PAD + step * i as f64);
    let y =
        |v: f64| fmt1(TREND_H - TREND_PAD - (v - scale_lo) / span * (TREND_H - 2.0 * TREND_PAD));
    let dots: Vec<Dot> = series
        .iter()
        .enumerate()
        .map(|(i, (p, v))| Dot {
            x: x(i),
            y: y(*v),
            label: format!("{} · {}", p.at.format("%Y-%m-%d %H:%M"), number(*v)),
        })
        .collect();
    let points = dots
        .iter()
        .map(|d| format!("{},{}", d.x, d.y))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Trend {
        name: name.to_owned(),
        points,
        dots,
        min: number(lo),
        max: number(hi),
        last: number(series[series.len() - 1].1),
        prediction: forecast.map(|f| Prediction {
            x: x(series.len()),
            y: y(f.value),
            low: y(f.lower),
            high: y(f.upper),
            label: format!(
                "prediction {} ({} to {})",
                number(f.value),
                number(f.lower),
                number(f.upper)
            ),
        }),
    })
}

/// The gauges and trends of report `r` over the last `trend_runs` runs (this run's own values
/// last); with `predictions`, each trend ends with its metric's forecast.
pub fn of(
    input: &ExportInput<'_>,
    r: &Report<'_>,
    scope: Scope,
    trend_runs: usize,
    predictions: Option<&Analytics>,
) -> Charts {
    let history = analytics::series_points(input);
    let keep = history.len().saturating_sub(trend_runs.max(1));
    let trends = if scope.has_ucf() {
        r.ucf
            .iter()
            .flat_map(|u| u.metrics.iter())
            .filter_map(|m| {
                let forecast = predictions
                    .and_then(|a| a.ucf.iter().find(|f| f.metric == m.name))
                    .and_then(|f| f.forecast.as_ref());
                trend(m.name, &history[keep..], forecast)
            })
            .collect()
    } else {
        Vec::new()
    };
    Charts {
        gauges: gauges(r),
        trends,
        trend_runs: history.len() - keep,
    }
}
