//! The view model shared by the human-readable formats (Markdown, HTML, PDF, Notion blocks).
//!
//! It decides *what* a report says — which rows, in which order, how many of each list, how
//! numbers and dates read, which UCF grade a value earns — so that the formats only decide
//! *how* to write it and can never disagree. The HTML and PDF reports also share their
//! analytics text (`analytics`) and chart geometry (`charts`). Text here is raw (unescaped);
//! each format escapes for its own syntax (the PDF passes it as data, never as markup). Long
//! lists are capped, and so is the number of repositories detailed and of changed ones spelt
//! out, so a 500-repository organisation still makes a report a person reads (the JSON export
//! carries everything).

use serde::Serialize;

pub mod analytics;
mod changes;
pub mod charts;
mod repos;
use changes::changes_view;
pub use changes::{
    commit_url, compare_url, more_changed, ChangesView, Link, RepoChangeView, UcfDeltaRow,
    CHANGED_REPOS_SHOWN,
};
use repos::repos_part;
pub use repos::{
    CommitRow, DeploymentRow, IssueRow, ReleaseRow, RepoSummary, RepoView, DETAILED_MARK,
    REPOS_IN_FULL,
};

use super::{ExportInput, Scope};
use crate::sync::narrate::{GeneratedSummary, Narration};
use crate::sync::snapshot::{harmony_status, AgentTotals, RepoData, UCF_METRICS};

/// Rows shown per list; the rest is summarised as "showing N of M".
pub const COMMITS_SHOWN: usize = 20;
pub const ISSUES_SHOWN: usize = 25;
pub const PULLS_SHOWN: usize = 25;
pub const RELEASES_SHOWN: usize = 10;
pub const DEPLOYMENTS_SHOWN: usize = 10;
/// Longest one-line text (commit subject, title, description) in characters.
pub const TEXT_MAX: usize = 200;

/// A UCF metric's standing against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Good,
    Warning,
    Critical,
}

impl Grade {
    pub fn label(self) -> &'static str {
        match self {
            Grade::Good => "Good",
            Grade::Warning => "Warning",
            Grade::Critical => "Critical",
        }
    }
}

/// `(target, lower_is_better)` for the known metrics.
pub fn ucf_target(metric: &str) -> Option<(f64, bool)> {
    match metric {
        "harmony" => Some((0.8, false)),
        "resilience" | "zoom" => Some((1.0, false)),
        "prana" | "drishti" => Some((0.5, false)),
        "klesha" => Some((0.05, true)),
        _ => None,
    }
}

/// Good at or past the target; Warning within 80 % of it (150 % for lower-is-better).
/// Harmony is graded by the ecosystem's own bands instead (HARMONIC > 0.7 > COHERENT > 0.3 >
/// FRAGMENTED), so that its grade and its status word can never disagree.
pub fn grade(metric: &str, value: f64) -> Option<Grade> {
    if metric == "harmony" {
        return Some(match harmony_status(value) {
            "HARMONIC" => Grade::Good,
            "COHERENT" => Grade::Warning,
            _ => Grade::Critical,
        });
    }
    let (target, lower) = ucf_target(metric)?;
    // Boundaries are inclusive; the epsilon keeps `0.8 × 0.8` from missing `0.64`.
    const EPS: f64 = 1e-9;
    Some(match lower {
        false if value >= target - EPS => Grade::Good,
        false if value >= 0.8 * target - EPS => Grade::Warning,
        true if value <= target + EPS => Grade::Good,
        true if value <= 1.5 * target + EPS => Grade::Warning,
        _ => Grade::Critical,
    })
}

/// Up to four decimals, trailing zeros dropped (`0.8734`, `1.0`).
pub fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_owned()
    }
}

/// `n` and the noun, plural unless `n` is 1 (`1 repo`, `0 repos`, `3 new commits`).
pub fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A signed change (`+0.012`, `-3`).
pub fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", number(v))
    } else {
        number(v)
    }
}

/// The first line of `text`, trimmed and cut to `max` characters with an ellipsis.
pub fn one_line(text: &str, max: usize) -> String {
    let line = text.split(['\n', '\r']).next().unwrap_or("").trim();
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// `url` when it is an http(s) URL or a fragment, else `#`: data must not be able to make a `javascript:` link.
pub fn safe_url(url: &str) -> &str {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || url.starts_with('#') {
        url
    } else {
        "#"
    }
}

fn date(d: &chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%d %H:%M").to_string()
}

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub title: &'static str,
    pub run_id: &'a str,
    pub trigger: &'a str,
    pub status: &'a str,
    pub generated_at: String,
    pub scope: &'static str,
    pub show_repos: bool,
    pub show_ucf: bool,
    pub show_agents: bool,
    /// `(label, value)` rows of the summary table.
    pub summary: Vec<(&'static str, String)>,
    /// Every repository in a line, in name order.
    pub repo_index: Vec<RepoSummary<'a>>,
    /// Whether the formats show `repo_index` (more repositories than [`REPOS_IN_FULL`]);
    /// otherwise every repository has its section and an index would repeat them.
    pub indexed: bool,
    /// The sentence every format puts before the index (empty when not `indexed`).
    pub index_note: String,
    /// The repositories with a section (see `repos`).
    pub repos: Vec<RepoView<'a>>,
    pub ucf: Option<UcfView<'a>>,
    pub agents: Vec<AgentRow<'a>>,
    pub agent_totals: &'a AgentTotals,
    pub changes: ChangesView<'a>,
    /// The model-written paragraph of the changes, when the run has one.
    pub generated: Option<GeneratedView<'a>>,
    pub sources: Vec<SourceRow<'a>>,
}

/// A model-written paragraph with the label every format shows before it.
#[derive(Debug, Serialize)]
pub struct GeneratedView<'a> {
    /// `Generated summary (model NAME; written by a language model)`.
    pub label: String,
    pub text: &'a str,
}

impl<'a> GeneratedView<'a> {
    pub fn of(g: &'a GeneratedSummary) -> Self {
        Self {
            label: format!(
                "Generated summary (model {}; written by a language model)",
                g.model
            ),
            text: &g.text,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UcfView<'a> {
    pub status: &'a str,
    pub phase: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub origin: &'a str,
    pub metrics: Vec<MetricRow<'a>>,
}

#[derive(Debug, Serialize)]
pub struct MetricRow<'a> {
    pub name: &'a str,
    pub value: f64,
    pub value_text: String,
    pub target: Option<f64>,
    /// `≥ 0.8`, `≤ 0.05` or empty.
    pub target_text: String,
    pub lower_is_better: bool,
    pub grade: Option<Grade>,
    pub grade_text: &'static str,
    /// Change since the previous run, when known.
    pub delta_text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AgentRow<'a> {
    pub name: &'a str,
    pub emoji: &'a str,
    pub role: &'a str,
    pub layer: &'a str,
    pub active: bool,
    pub tasks_total: u64,
    pub success_rate: Option<f64>,
    pub success_text: String,
    pub collaborations: u64,
    pub harmony_impact: Option<f64>,
    pub harmony_text: String,
    pub last_active: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SourceRow<'a> {
    pub name: &'a str,
    pub status: &'a str,
    pub items: u64,
    pub requests: u64,
    pub not_modified: u64,
    pub error: Option<String>,
}

/// Builds the report for an already scope-filtered input.
pub fn build<'a>(input: &ExportInput<'a>, scope: Scope) -> Report<'a> {
    let s = input.snapshot;
    let (repo_index, repos) = repos_part(input);
    let ucf = s.ucf.as_ref().map(|u| {
        let names = UCF_METRICS
            .iter()
            .copied()
            .filter(|m| u.metrics.contains_key(*m))
            .chain(
                u.metrics
                    .keys()
                    .map(String::as_str)
                    .filter(|m| !UCF_METRICS.contains(m)),
            );
        let metrics = names
            .map(|name| {
                let value = u.metrics[name];
                let target = ucf_target(name);
                let g = grade(name, value);
                MetricRow {
                    name,
                    value,
                    value_text: number(value),
                    target: target.map(|t| t.0),
                    target_text: target
                        .map(|(t, lower)| {
                            format!("{} {}", if lower { "≤" } else { "≥" }, number(t))
                        })
                        .unwrap_or_default(),
                    lower_is_better: target.is_some_and(|t| t.1),
                    grade: g,
                    grade_text: g.map_or("—", Grade::label),
                    delta_text: input
                        .changes
                        .ucf
                        .iter()
                        .find(|d| d.metric == name)
                        .map(|d| signed(d.delta)),
                }
            })
            .collect();
        UcfView {
            status: &u.status,
            phase: u.phase.as_deref(),
            timestamp: u.timestamp.as_deref(),
            origin: &u.origin,
            metrics,
        }
    });
    let agents = s
        .agents
        .values()
        .map(|a| AgentRow {
            name: &a.name,
            emoji: a.emoji.as_deref().unwrap_or(""),
            role: a.role.as_deref().unwrap_or(""),
            layer: a.layer.as_deref().unwrap_or(""),
            active: a.active,
            tasks_total: a.tasks_total,
            success_rate: a.success_rate,
            success_text: a
                .success_rate
                .map_or("—".into(), |r| format!("{:.1}%", r * 100.0)),
            collaborations: a.collaborations,
            harmony_impact: a.harmony_impact,
            harmony_text: a.harmony_impact.map_or("—".into(), signed),
            last_active: a
                .last_active
                .as_deref()
                .or(a.last_heartbeat.as_deref())
                .unwrap_or("—"),
        })
        .collect();
    let mut summary: Vec<(&'static str, String)> = vec![
        ("Run status", input.run.status.clone()),
        ("Trigger", input.run.trigger.clone()),
    ];
    if scope.has_repos() {
        let total = |n: fn(&RepoSummary) -> usize| repo_index.iter().map(n).sum::<usize>();
        summary.extend([
            ("Repositories", repo_index.len().to_string()),
            (
                "New commits",
                input
                    .changes
                    .repos
                    .values()
                    .map(|c| c.new_commits)
                    .sum::<u64>()
                    .to_string(),
            ),
            ("Open issues", total(|r| r.open_issues_total).to_string()),
            (
                "Open pull requests",
                total(|r| r.open_pulls_total).to_string(),
            ),
        ]);
    }
    if scope.has_ucf() {
        let (status, harmony) = s.ucf.as_ref().map_or(("no data".into(), "—".into()), |u| {
            let h = u.metrics.get("harmony").map_or("—".into(), |v| number(*v));
            (u.status.clone(), h)
        });
        summary.extend([("UCF status", status), ("Harmony", harmony)]);
    }
    if scope.has_agents() {
        let t = &s.agent_totals;
        summary.extend([
            ("Active agents", format!("{} of {}", t.active, t.agents)),
            ("Agent tasks", t.tasks_total.to_string()),
        ]);
    }
    Report {
        title: "Helix Sync Report",
        run_id: &input.run.id,
        trigger: &input.run.trigger,
        status: &input.run.status,
        generated_at: input.run.generated_at_text(),
        scope: scope.as_str(),
        show_repos: scope.has_repos(),
        show_ucf: scope.has_ucf(),
        show_agents: scope.has_agents(),
        summary,
        indexed: repo_index.len() > REPOS_IN_FULL,
        index_note: repos::index_note(repo_index.len(), repos.len()),
        repo_index,
        repos,
        ucf,
        agents,
        agent_totals: &s.agent_totals,
        changes: changes_view(input),
        generated: input
            .run
            .generated_summary
            .as_ref()
            .and_then(Narration::generated)
            .map(GeneratedView::of),
        sources: s
            .sources
            .iter()
            .map(|(name, st)| SourceRow {
                name,
                status: &st.status,
                items: st.items,
                requests: st.requests,
                not_modified: st.not_modified,
                error: st.error.as_deref().map(|e| one_line(e, TEXT_MAX)),
            })
            .collect(),
    }
}

fn repo_url(r: &RepoData) -> String {
    r.stats
        .as_ref()
        .map(|s| s.html_url.clone())
        .unwrap_or_else(|| format!("https://github.com/{}", r.full_name))
}

#[cfg(test)]
mod tests;
