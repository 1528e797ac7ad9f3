//! The `html` export: one standalone page (embedded CSS and JS, inline SVG, no external fetch).
//!
//! Rendering goes through minijinja with HTML auto-escaping (the template is named `.html`),
//! so every string from the snapshot is escaped by the engine, never by hand. Geometry for the
//! UCF gauges and trend charts is computed here as plain numbers and path strings made only of
//! digits, so nothing from the data reaches an attribute unescaped. Nothing here does I/O.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{context, Environment, Value};
use serde::Serialize;

mod analytics;

use super::report::{self, Grade};
use super::{Artifact, ExportError, ExportInput, HistoryPoint, Scope};

const TEMPLATE: &str = include_str!("../../../templates/report.html");
const CSS: &str = include_str!("../../../templates/report.css");
const JS: &str = include_str!("../../../templates/report.js");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    // Escaping stops markup, not `javascript:` links: only web URLs become hrefs.
    env.add_filter("safe_url", |u: String| report::safe_url(&u).to_owned());
    env.add_template("report.html", TEMPLATE)
        .expect("the embedded template parses");
    env
});

/// One semicircle gauge: `percent` of the arc filled, the target at `target_x/y`.
#[derive(Debug, Serialize)]
struct Gauge {
    name: String,
    value_text: String,
    target_text: String,
    grade: &'static str,
    grade_text: &'static str,
    percent: String,
    target_x: String,
    target_y: String,
}

/// One metric's trend across runs: an SVG polyline and its points.
#[derive(Debug, Serialize)]
struct Trend {
    name: String,
    points: String,
    dots: Vec<Dot>,
    min: String,
    max: String,
    last: String,
}

#[derive(Debug, Serialize)]
struct Dot {
    x: String,
    y: String,
    label: String,
}

/// Size of a trend chart's drawing area (the SVG viewBox).
const TREND_W: f64 = 300.0;
const TREND_H: f64 = 80.0;
const TREND_PAD: f64 = 6.0;

fn fmt1(v: f64) -> String {
    format!("{v:.1}")
}

/// The full scale of a metric's gauge: room past the target, or four times a ceiling.
fn gauge_max(metric: &str, value: f64) -> f64 {
    match report::ucf_target(metric) {
        Some((t, true)) => t * 4.0,
        Some((t, false)) => (t * 1.5).max(1.0),
        None => value.abs().max(1.0),
    }
}

fn gauges(r: &report::Report<'_>) -> Vec<Gauge> {
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
                target_x: fmt1(50.0 + 40.0 * angle.cos()),
                target_y: fmt1(50.0 - 40.0 * angle.sin()),
            }
        })
        .collect()
}

fn trends(metrics: &[&str], history: &[HistoryPoint]) -> Vec<Trend> {
    metrics
        .iter()
        .filter_map(|name| {
            let series: Vec<(&HistoryPoint, f64)> = history
                .iter()
                .filter_map(|p| p.ucf.get(*name).map(|v| (p, *v)))
                .collect();
            if series.is_empty() {
                return None;
            }
            let lo = series.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
            let hi = series.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
            let span = if hi - lo < 1e-9 { 1.0 } else { hi - lo };
            let step = if series.len() > 1 {
                (TREND_W - 2.0 * TREND_PAD) / (series.len() - 1) as f64
            } else {
                0.0
            };
            let dots: Vec<Dot> = series
                .iter()
                .enumerate()
                .map(|(i, (p, v))| Dot {
                    x: fmt1(TREND_PAD + step * i as f64),
                    y: fmt1(TREND_H - TREND_PAD - (v - lo) / span * (TREND_H - 2.0 * TREND_PAD)),
                    label: format!("{} · {}", p.at.format("%Y-%m-%d %H:%M"), report::number(*v)),
                })
                .collect();
            let points = dots
                .iter()
                .map(|d| format!("{},{}", d.x, d.y))
                .collect::<Vec<_>>()
                .join(" ");
            Some(Trend {
                name: name.to_string(),
                points,
                dots,
                min: report::number(lo),
                max: report::number(hi),
                last: report::number(series[series.len() - 1].1),
            })
        })
        .collect()
}

pub fn export(
    input: &ExportInput<'_>,
    scope: Scope,
    trend_runs: usize,
) -> Result<Artifact, ExportError> {
    let r = report::build(input, scope);
    // The last `trend_runs` points, with this run's own values last.
    let history = crate::sync::analytics::series_points(input);
    let keep = history.len().saturating_sub(trend_runs.max(1));
    let names: Vec<&str> = r
        .ucf
        .iter()
        .flat_map(|u| u.metrics.iter().map(|m| m.name))
        .collect();
    let trends = if scope.has_ucf() {
        trends(&names, &history[keep..])
    } else {
        Vec::new()
    };
    let html = ENV
        .get_template("report.html")
        .and_then(|t| {
            t.render(context! {
                r => Value::from(Serde(&r)),
                gauges => Value::from(Serde(gauges(&r))),
                trends => Value::from(Serde(&trends)),
                trend_runs => history.len() - keep,
                analytics => Value::from(Serde(analytics::view(&crate::sync::analytics::compute(input, scope)))),
                css => Value::from_safe_string(CSS.to_owned()),
                js => Value::from_safe_string(JS.to_owned()),
            })
        })
        .map_err(|e| ExportError::Invalid(format!("html template: {e:#}")))?;
    Ok(Artifact {
        format: "html",
        extension: "html",
        content_type: "text/html; charset=utf-8",
        bytes: html.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::fixture;

    #[test]
    fn gauges_and_trends_cover_every_metric() {
        let fixture = fixture::Fixture::new(1, 10);
        let input = fixture.input();
        let html = String::from_utf8(export(&input, Scope::Full, 30).unwrap().bytes).unwrap();
        assert_eq!(
            html.matches("class=\"gauge ").count(),
            6,
            "one gauge per metric"
        );
        assert_eq!(html.matches("<polyline").count(), 6, "one trend per metric");
        assert!(!html.contains("src=\"http") && !html.contains("href=\"//"));
        assert!(html.contains("prefers-color-scheme: dark"));
    }

    #[test]
    fn trend_is_limited_to_the_configured_runs() {
        let fixture = fixture::Fixture::new(1, 10);
        let input = fixture.input();
        let html = String::from_utf8(export(&input, Scope::Ucf, 3).unwrap().bytes).unwrap();
        assert_eq!(html.matches("class=\"dot\"").count(), 6 * 3);
    }
}
