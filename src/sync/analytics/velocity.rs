//! Per-repository velocity: commits, opened and merged pull requests in each of the last
//! [`WEEKS`] seven-day windows ending when the run collected its data (rolling weeks, not
//! calendar weeks, so the newest window is always a whole week and the numbers do not jump on
//! Mondays). Read from the snapshot's own lists; it never asks GitHub.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::stats::{mean, round6};
use crate::sync::snapshot::{RepoData, RECENT_COMMITS};

/// Weeks the velocity covers.
pub const WEEKS: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoVelocity {
    pub repo: String,
    /// Mean per week over the window.
    pub commits_per_week: f64,
    pub prs_opened_per_week: f64,
    pub prs_merged_per_week: f64,
    /// Oldest week first.
    pub weeks: Vec<WeekCount>,
    /// `false` when the snapshot's commit list (the newest 1,000) does not reach back to the
    /// window's start: the commit counts are then lower bounds.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WeekCount {
    /// The window is `(start, end]`.
    #[schemars(with = "String")]
    pub start: DateTime<Utc>,
    #[schemars(with = "String")]
    pub end: DateTime<Utc>,
    pub commits: u64,
    pub prs_opened: u64,
    pub prs_merged: u64,
}

/// The velocity of one repository for the weeks ending at `end`.
pub fn of(name: &str, repo: &RepoData, end: DateTime<Utc>) -> RepoVelocity {
    let start_of = |weeks_ago: usize| end - Duration::weeks(weeks_ago as i64);
    let window_start = start_of(WEEKS);
    // Which week (0 = oldest) a time falls in, if any.
    let week = |t: DateTime<Utc>| -> Option<usize> {
        (t > window_start && t <= end).then(|| {
            let back =
                ((end - t).num_milliseconds() / Duration::weeks(1).num_milliseconds()) as usize;
            WEEKS - 1 - back.min(WEEKS - 1)
        })
    };
    let mut weeks: Vec<WeekCount> = (0..WEEKS)
        .map(|i| WeekCount {
            start: start_of(WEEKS - i),
            end: start_of(WEEKS - i - 1),
            commits: 0,
            prs_opened: 0,
            prs_merged: 0,
        })
        .collect();
    for c in &repo.commits {
        if let Some(w) = week(c.date) {
            weeks[w].commits += 1;
        }
    }
    for p in &repo.pulls {
        if let Some(w) = week(p.created_at) {
            weeks[w].prs_opened += 1;
        }
        if let Some(w) = p.merged_at.and_then(week) {
            weeks[w].prs_merged += 1;
        }
    }
    let per_week = |f: fn(&WeekCount) -> u64| {
        round6(mean(&weeks.iter().map(|w| f(w) as f64).collect::<Vec<_>>()).unwrap_or(0.0))
    };
    let complete = repo.commits.len() < RECENT_COMMITS
        || repo.commits.last().is_some_and(|c| c.date <= window_start);
    RepoVelocity {
        repo: name.to_owned(),
        commits_per_week: per_week(|w| w.commits),
        prs_opened_per_week: per_week(|w| w.prs_opened),
        prs_merged_per_week: per_week(|w| w.prs_merged),
        weeks,
        complete,
    }
}
