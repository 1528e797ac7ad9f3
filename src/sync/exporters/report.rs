//! The view model shared by the human-readable formats (Markdown, HTML, Notion blocks).
//!
//! It decides *what* a report says — which rows, in which order, how many of each list, how
//! numbers and dates read, which UCF grade a value earns — so that the three formats only
//! decide *how* to write it and can never disagree. Text here is raw (unescaped); each format
//! escapes for its own syntax. Long lists are capped (the JSON export carries everything).

use serde::Serialize;

use super::{ExportInput, Scope};
use crate::sync::snapshot::{AgentTotals, RepoData, UCF_METRICS};

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
pub fn grade(metric: &str, value: f64) -> Option<Grade> {
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
    pub repos: Vec<RepoView<'a>>,
    pub ucf: Option<UcfView<'a>>,
    pub agents: Vec<AgentRow<'a>>,
    pub agent_totals: &'a AgentTotals,
    pub changes: ChangesView<'a>,
    pub sources: Vec<SourceRow<'a>>,
}

#[derive(Debug, Serialize)]
pub struct RepoView<'a> {
    pub name: &'a str,
    pub url: String,
    pub description: Option<String>,
    pub stars: Option<u64>,
    pub forks: Option<u64>,
    pub default_branch: Option<&'a str>,
    pub top_language: Option<&'a str>,
    pub pushed_at: Option<String>,
    pub commits: Vec<CommitRow<'a>>,
    pub commits_total: usize,
    pub open_issues: Vec<IssueRow<'a>>,
    pub open_issues_total: usize,
    pub open_pulls: Vec<IssueRow<'a>>,
    pub open_pulls_total: usize,
    pub releases: Vec<ReleaseRow<'a>>,
    pub releases_total: usize,
    pub deployments: Vec<DeploymentRow<'a>>,
    pub deployments_total: usize,
}

#[derive(Debug, Serialize)]
pub struct CommitRow<'a> {
    pub short: &'a str,
    pub message: String,
    pub author: &'a str,
    pub date: String,
    /// Sortable form of `date`.
    pub stamp: i64,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct IssueRow<'a> {
    pub number: u64,
    pub title: String,
    pub author: &'a str,
    pub labels: String,
    pub draft: bool,
    pub updated: String,
    pub stamp: i64,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ReleaseRow<'a> {
    pub tag: &'a str,
    pub name: String,
    pub kind: &'static str,
    pub published: String,
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub struct DeploymentRow<'a> {
    pub id: u64,
    pub environment: &'a str,
    pub git_ref: &'a str,
    pub sha: &'a str,
    pub creator: &'a str,
    pub state: &'a str,
    pub created: String,
    pub url: &'a str,
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

#[derive(Debug, Default, Serialize)]
pub struct ChangesView<'a> {
    pub empty: bool,
    pub repos: Vec<RepoChangeView<'a>>,
    pub ucf: Vec<UcfDeltaRow<'a>>,
    pub activated: &'a [String],
    pub deactivated: &'a [String],
    /// `(agent, "+3")`.
    pub task_deltas: Vec<(&'a str, String)>,
}

#[derive(Debug, Serialize)]
pub struct RepoChangeView<'a> {
    pub repo: &'a str,
    pub new_commits: u64,
    pub authors: String,
    pub commits: Vec<Link>,
    /// `(what, links)`, e.g. `("Issues opened", [#12])`; empty groups left out.
    pub refs: Vec<(&'static str, Vec<Link>)>,
    pub releases: &'a [String],
    pub deployments: &'a [u64],
}

/// A reference to something on GitHub: `label` (`#12`, `abc1234`), optional text and URL.
#[derive(Debug, Serialize)]
pub struct Link {
    pub label: String,
    pub text: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct UcfDeltaRow<'a> {
    pub metric: &'a str,
    pub before: String,
    pub after: String,
    pub delta: String,
    pub direction: &'a str,
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
    let repos: Vec<RepoView> = s.repos.values().map(repo_view).collect();
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
        let open = |r: &RepoView| r.open_issues_total;
        summary.extend([
            ("Repositories", repos.len().to_string()),
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
            (
                "Open issues",
                repos.iter().map(open).sum::<usize>().to_string(),
            ),
            (
                "Open pull requests",
                repos
                    .iter()
                    .map(|r| r.open_pulls_total)
                    .sum::<usize>()
                    .to_string(),
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
        repos,
        ucf,
        agents,
        agent_totals: &s.agent_totals,
        changes: changes_view(input),
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

fn repo_view(r: &RepoData) -> RepoView<'_> {
    let stats = r.stats.as_ref();
    let open_issues: Vec<_> = r.issues.iter().filter(|i| i.state == "open").collect();
    let open_pulls: Vec<_> = r.pulls.iter().filter(|p| p.state == "open").collect();
    RepoView {
        name: &r.full_name,
        url: repo_url(r),
        description: stats
            .and_then(|s| s.description.as_deref())
            .map(|d| one_line(d, TEXT_MAX)),
        stars: stats.map(|s| s.stars),
        forks: stats.map(|s| s.forks),
        default_branch: stats.map(|s| s.default_branch.as_str()),
        top_language: stats.and_then(|s| {
            s.languages
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(l, _)| l.as_str())
        }),
        pushed_at: stats.and_then(|s| s.pushed_at.as_ref()).map(date),
        commits: r
            .commits
            .iter()
            .take(COMMITS_SHOWN)
            .map(|c| CommitRow {
                short: c.sha.get(..7).unwrap_or(&c.sha),
                message: one_line(&c.message, TEXT_MAX),
                author: &c.author,
                date: date(&c.date),
                stamp: c.date.timestamp(),
                url: &c.url,
            })
            .collect(),
        commits_total: r.commits.len(),
        open_issues_total: open_issues.len(),
        open_issues: open_issues
            .iter()
            .take(ISSUES_SHOWN)
            .map(|i| IssueRow {
                number: i.number,
                title: one_line(&i.title, TEXT_MAX),
                author: &i.author,
                labels: i.labels.join(", "),
                draft: false,
                updated: date(&i.updated_at),
                stamp: i.updated_at.timestamp(),
                url: &i.url,
            })
            .collect(),
        open_pulls_total: open_pulls.len(),
        open_pulls: open_pulls
            .iter()
            .take(PULLS_SHOWN)
            .map(|p| IssueRow {
                number: p.number,
                title: one_line(&p.title, TEXT_MAX),
                author: &p.author,
                labels: String::new(),
                draft: p.draft,
                updated: date(&p.updated_at),
                stamp: p.updated_at.timestamp(),
                url: &p.url,
            })
            .collect(),
        releases_total: r.releases.len(),
        releases: r
            .releases
            .iter()
            .take(RELEASES_SHOWN)
            .map(|x| ReleaseRow {
                tag: &x.tag,
                name: one_line(&x.name, TEXT_MAX),
                kind: match (x.draft, x.prerelease) {
                    (true, _) => "draft",
                    (_, true) => "pre-release",
                    _ => "release",
                },
                published: date(x.published_at.as_ref().unwrap_or(&x.created_at)),
                url: &x.url,
            })
            .collect(),
        deployments_total: r.deployments.len(),
        deployments: r
            .deployments
            .iter()
            .take(DEPLOYMENTS_SHOWN)
            .map(|d| DeploymentRow {
                id: d.id,
                environment: &d.environment,
                git_ref: &d.git_ref,
                sha: d.sha.get(..7).unwrap_or(&d.sha),
                creator: &d.creator,
                state: d.state.as_deref().unwrap_or("unknown"),
                created: date(&d.created_at),
                url: &d.url,
            })
            .collect(),
    }
}

fn changes_view<'a>(input: &ExportInput<'a>) -> ChangesView<'a> {
    let c = input.changes;
    let repos = c
        .repos
        .iter()
        .filter(|(_, rc)| !rc.is_empty())
        .map(|(name, rc)| {
            let data = input.snapshot.repos.get(name);
            let base = data
                .map(repo_url)
                .unwrap_or_else(|| format!("https://github.com/{name}"));
            let issue_url = |n: u64| {
                data.and_then(|d| d.issues.iter().find(|i| i.number == n))
                    .map_or_else(|| format!("{base}/issues/{n}"), |i| i.url.clone())
            };
            let pull_url = |n: u64| {
                data.and_then(|d| d.pulls.iter().find(|p| p.number == n))
                    .map_or_else(|| format!("{base}/pull/{n}"), |p| p.url.clone())
            };
            let links = |ns: &[u64], url: &dyn Fn(u64) -> String| -> Vec<Link> {
                ns.iter()
                    .map(|n| Link {
                        label: format!("#{n}"),
                        text: String::new(),
                        url: url(*n),
                    })
                    .collect()
            };
            let refs = [
                ("Issues opened", links(&rc.issues_opened, &issue_url)),
                ("Issues closed", links(&rc.issues_closed, &issue_url)),
                ("Pull requests opened", links(&rc.prs_opened, &pull_url)),
                ("Pull requests merged", links(&rc.prs_merged, &pull_url)),
                ("Pull requests closed", links(&rc.prs_closed, &pull_url)),
            ]
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .collect();
            let commits = rc
                .commit_lines
                .iter()
                .map(|(short, line)| Link {
                    label: short.clone(),
                    text: one_line(line, TEXT_MAX),
                    url: data
                        .and_then(|d| d.commits.iter().find(|c| c.sha.starts_with(short.as_str())))
                        .map_or_else(|| format!("{base}/commit/{short}"), |c| c.url.clone()),
                })
                .collect();
            RepoChangeView {
                repo: name,
                new_commits: rc.new_commits,
                authors: rc.authors.join(", "),
                commits,
                refs,
                releases: &rc.new_releases,
                deployments: &rc.new_deployments,
            }
        })
        .collect();
    ChangesView {
        empty: c.is_empty(),
        repos,
        ucf: c
            .ucf
            .iter()
            .map(|d| UcfDeltaRow {
                metric: &d.metric,
                before: number(d.before),
                after: number(d.after),
                delta: signed(d.delta),
                direction: &d.direction,
            })
            .collect(),
        activated: &c.agents_activated,
        deactivated: &c.agents_deactivated,
        task_deltas: c
            .task_deltas
            .iter()
            .map(|(k, v)| (k.as_str(), format!("{v:+}")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_target_rule() {
        assert_eq!(grade("harmony", 0.8), Some(Grade::Good));
        assert_eq!(grade("harmony", 0.64), Some(Grade::Warning));
        assert_eq!(grade("harmony", 0.63), Some(Grade::Critical));
        assert_eq!(grade("resilience", 0.95), Some(Grade::Warning));
        assert_eq!(grade("klesha", 0.05), Some(Grade::Good));
        assert_eq!(grade("klesha", 0.075), Some(Grade::Warning));
        assert_eq!(grade("klesha", 0.076), Some(Grade::Critical));
        assert_eq!(grade("drishti", 0.39), Some(Grade::Critical));
        assert_eq!(grade("mystery", 1.0), None);
    }

    #[test]
    fn numbers_and_lines_read_well() {
        assert_eq!(number(0.8734), "0.8734");
        assert_eq!(number(1.0), "1.0");
        assert_eq!(signed(0.012), "+0.012");
        assert_eq!(signed(-3.0), "-3.0");
        assert_eq!(one_line("  subject \nbody", 50), "subject");
        assert_eq!(one_line("ab🦀cd", 3), "ab🦀…");
    }
}
