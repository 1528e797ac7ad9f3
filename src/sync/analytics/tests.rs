//! The analytics methods on small, exact series: moving average, slope and its t-test,
//! prediction interval, robust anomalies, velocity windows, and scopes.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::sync::exporters::{fixture, ExportInput, HistoryPoint};

fn point(i: usize, harmony: f64) -> HistoryPoint {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(i as i64);
    HistoryPoint {
        run_id: format!("run-{i:02}"),
        at,
        ucf: [("harmony".to_owned(), harmony)].into(),
        agents: Default::default(),
    }
}

/// The fixture's input with its UCF history replaced by `values` (the last one is the run).
fn with_harmony(values: &[f64]) -> Analytics {
    let f = fixture::Fixture::new(1, 10);
    let mut snapshot = f.snapshot.clone();
    let last = *values.last().unwrap();
    snapshot
        .ucf
        .as_mut()
        .unwrap()
        .metrics
        .insert("harmony".into(), last);
    let mut history: Vec<HistoryPoint> = values
        .iter()
        .enumerate()
        .map(|(i, v)| point(i, *v))
        .collect();
    history.last_mut().unwrap().run_id = f.run.id.clone();
    let input = ExportInput {
        run: &f.run,
        snapshot: &snapshot,
        changes: &f.changes,
        history: &history,
    };
    compute(&input, Scope::Ucf)
}

fn harmony(a: &Analytics) -> &MetricAnalytics {
    a.ucf.iter().find(|m| m.metric == "harmony").unwrap()
}

#[test]
fn a_spike_after_a_steady_series_is_an_anomaly_and_the_forecast_is_a_prediction() {
    let a = with_harmony(&[0.80, 0.81, 0.79, 0.80, 0.82, 0.81, 0.80, 0.40]);
    let h = harmony(&a);
    assert!(h.anomaly.flagged, "{h:?}");
    assert!(h.anomaly.robust_z.unwrap() < -3.5);
    let f = h.forecast.as_ref().unwrap();
    assert_eq!(f.kind, "prediction");
    assert!(f.lower < f.value && f.value < f.upper);
    assert_eq!(h.runs, 8);
}

#[test]
fn a_steady_rise_is_rising_and_predicted_to_continue() {
    let a = with_harmony(&[0.50, 0.52, 0.54, 0.56, 0.58, 0.60]);
    let h = harmony(&a);
    assert_eq!(h.direction, Direction::Rising);
    assert!((h.slope_per_run.unwrap() - 0.02).abs() < 1e-9);
    assert!((h.forecast.as_ref().unwrap().value - 0.62).abs() < 1e-9);
    assert!(!h.anomaly.flagged, "a value on the trend is not an anomaly");
    assert_eq!(h.moving_average, 0.56);
}

#[test]
fn short_series_say_so_instead_of_guessing() {
    let a = with_harmony(&[0.5, 0.6]);
    let h = harmony(&a);
    assert_eq!(h.direction, Direction::InsufficientData);
    assert!(h.forecast.is_none() && h.slope_per_run.is_none());
    assert!(!h.anomaly.flagged);
    assert_eq!(h.anomaly.note.as_deref(), Some("fewer than 4 earlier runs"));
}

#[test]
fn only_the_last_slope_runs_count() {
    let mut values: Vec<f64> = (0..20).map(|i| i as f64).collect();
    values.extend([5.0; 10]);
    let h = harmony(&with_harmony(&values[..]).clone()).clone();
    assert_eq!(h.runs, SLOPE_RUNS);
    assert_eq!(h.direction, Direction::Flat);
}

#[test]
fn the_fixture_has_agent_trends_and_weekly_velocity_per_scope() {
    let f = fixture::Fixture::new(2, 40);
    let input = f.input();
    let full = compute(&input, Scope::Full);
    assert_eq!(full.repos.len(), 2);
    assert!(full.repos.iter().all(|r| r.weeks.len() == WEEKS));
    let directions: Vec<Direction> = full.agents.iter().map(|a| a.direction).collect();
    assert!(directions.contains(&Direction::Rising) && directions.contains(&Direction::Falling));
    let agents = crate::sync::exporters::scope::apply(&input, Scope::Agents);
    let only = compute(&agents.input(&f.run), Scope::Agents);
    assert!(only.ucf.is_empty() && only.repos.is_empty());
    assert_eq!(only.agents, full.agents);
    assert_eq!(compute(&input, Scope::Full), full, "deterministic");
}

#[test]
fn velocity_counts_commits_and_prs_in_rolling_weeks() {
    use crate::sync::snapshot::{Commit, PullRequest, RepoData};
    let end = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let commit = |days: i64| Commit {
        sha: "a".repeat(40),
        message: "m".into(),
        author: "x".into(),
        date: end - Duration::days(days),
        url: String::new(),
    };
    let pr = |opened: i64, merged: Option<i64>| PullRequest {
        number: 1,
        title: "t".into(),
        state: "closed".into(),
        author: "x".into(),
        draft: false,
        created_at: end - Duration::days(opened),
        updated_at: end,
        closed_at: None,
        merged_at: merged.map(|d| end - Duration::days(d)),
        url: String::new(),
    };
    let repo = RepoData {
        full_name: "o/r".into(),
        commits: vec![commit(0), commit(1), commit(8), commit(60)],
        pulls: vec![pr(2, Some(1)), pr(9, None), pr(100, Some(3))],
        ..Default::default()
    };
    let v = velocity::of("o/r", &repo, end);
    let last = v.weeks.last().unwrap();
    assert_eq!((last.commits, last.prs_opened, last.prs_merged), (2, 1, 2));
    assert_eq!(v.weeks[WEEKS - 2].commits, 1);
    assert_eq!(v.weeks[WEEKS - 2].prs_opened, 1);
    assert_eq!(v.commits_per_week, 3.0 / WEEKS as f64);
    assert!(v.complete);
    assert_eq!(v.weeks.last().unwrap().end, end);
}
