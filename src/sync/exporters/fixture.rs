//! A fixed, realistic snapshot for golden tests and the export benchmark.
//!
//! Everything is derived from the item index with plain arithmetic, never from a clock or a
//! random generator, so `snapshot(r, n)` is the same value on every machine and every run.
//! It is compiled only for tests and benchmarks (`cfg(test)`, or the `fixtures` feature that
//! the dev-dependency on this package turns on for the integration tests and `benches/`), so
//! no byte of it reaches the product.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Map};

use super::{HistoryPoint, RunInfo};
use crate::sync::snapshot::{
    AgentData, AgentTotals, ChangeSummary, Commit, Deployment, Issue, PullRequest, Release,
    RepoChanges, RepoData, RepoStats, Snapshot, SourceStatus, UcfDelta, UcfState, SCHEMA_VERSION,
    UCF_METRICS,
};

const REPO_NAMES: [&str; 4] = ["helix-core", "helix-portal", "ucf-engine", "agent-mesh"];
const AUTHORS: [&str; 5] = ["kael-dev", "lumina", "vega-ops", "oracle-bot", "shadow"];
const VERBS: [&str; 6] = ["Fix", "Add", "Refactor", "Document", "Speed up", "Harden"];
const THINGS: [&str; 6] = [
    "webhook retry backoff",
    "UCF gauge rendering",
    "agent heartbeat parsing",
    "release notes generator",
    "Notion block chunking",
    "portal feed cache headers",
];
const LABELS: [&str; 4] = ["bug", "enhancement", "ucf", "good first issue"];

/// The instant the fixture's run finished; everything else is dated relative to it.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 21, 15, 0).unwrap()
}

/// `(snapshot, change summary, run, history)` with `repos` repositories of `items_per_repo`
/// items each (half commits, a fifth issues, a fifth pull requests, the rest releases and
/// deployments), six agents and ten runs of UCF history.
/// A fixture held together, so that a test borrows its `ExportInput` in one line.
pub struct Fixture {
    pub snapshot: Snapshot,
    pub changes: ChangeSummary,
    pub run: RunInfo,
    pub history: Vec<HistoryPoint>,
}

impl Fixture {
    pub fn new(repos: usize, items_per_repo: usize) -> Self {
        let (snapshot, changes, run, history) = snapshot(repos, items_per_repo);
        Self {
            snapshot,
            changes,
            run,
            history,
        }
    }

    pub fn input(&self) -> super::ExportInput<'_> {
        super::ExportInput {
            run: &self.run,
            snapshot: &self.snapshot,
            changes: &self.changes,
            history: &self.history,
        }
    }
}

pub fn snapshot(
    repos: usize,
    items_per_repo: usize,
) -> (Snapshot, ChangeSummary, RunInfo, Vec<HistoryPoint>) {
    let now = base_time();
    let mut snapshot = Snapshot::empty(now - Duration::seconds(20));
    snapshot.schema_version = SCHEMA_VERSION;
    let mut changes = ChangeSummary::default();
    for r in 0..repos {
        let name = match REPO_NAMES.get(r) {
            Some(n) => format!("helix-collective/{n}"),
            None => format!("helix-collective/repo-{r}"),
        };
        let data = repo(&name, r, items_per_repo, now);
        changes.repos.insert(name.clone(), repo_changes(&data));
        snapshot.repos.insert(name, data);
    }
    snapshot.ucf = Some(ucf());
    for (i, agent) in agents().into_iter().enumerate() {
        snapshot.agent_totals.agents += 1;
        snapshot.agent_totals.active += agent.active as u64;
        snapshot.agent_totals.tasks_total += agent.tasks_total;
        snapshot.agent_totals.tasks_succeeded += agent.tasks_succeeded;
        snapshot.agent_totals.collaborations += agent.collaborations;
        if i % 2 == 0 {
            changes.task_deltas.insert(agent.name.clone(), 3 + i as i64);
        }
        snapshot.agents.insert(agent.name.clone(), agent);
    }
    changes.agents_activated = vec!["Oracle".into()];
    changes.agents_deactivated = vec!["Shadow".into()];
    for (name, status) in [
        ("github", ok(repos as u64 * items_per_repo as u64)),
        ("ucf_state", ok(6)),
        ("agent_metrics", ok(6)),
    ] {
        snapshot.sources.insert(name.into(), status);
    }
    let history = history(now);
    let ucf = snapshot.ucf.as_ref().expect("set above");
    let before = &history[history.len() - 2].ucf;
    changes.ucf = UCF_METRICS
        .iter()
        .filter_map(|m| {
            let (b, a) = (*before.get(*m)?, *ucf.metrics.get(*m)?);
            let delta = ((a - b) * 10_000.0).round() / 10_000.0;
            let direction = if delta > 0.0 {
                "up"
            } else if delta < 0.0 {
                "down"
            } else {
                "same"
            };
            Some(UcfDelta {
                metric: m.to_string(),
                before: b,
                after: a,
                delta,
                direction: direction.into(),
            })
        })
        .collect();
    let run = RunInfo {
        id: "0193a5c0-7e11-7000-8000-00000000002a".into(),
        trigger: "schedule".into(),
        status: "succeeded".into(),
        started_at: now - Duration::seconds(25),
        finished_at: Some(now),
        generated_summary: None,
    };
    (snapshot, changes, run, history)
}

fn ok(items: u64) -> SourceStatus {
    SourceStatus {
        status: "ok".into(),
        error: None,
        items,
        requests: items / 50 + 1,
        not_modified: items / 200,
    }
}

fn repo(name: &str, r: usize, items: usize, now: DateTime<Utc>) -> RepoData {
    let url = format!("https://github.com/{name}");
    let n_commits = items / 2;
    let n_issues = items / 5;
    let n_pulls = items / 5;
    let n_rest = items - n_commits - n_issues - n_pulls;
    let at = |i: usize| now - Duration::minutes(37 * i as i64 + 11 * r as i64 + 5);
    let pick = |list: &[&'static str], i: usize| list[(i * 7 + r * 3) % list.len()];
    let commits = (0..n_commits)
        .map(|i| {
            let sha = fake_sha(r * 1_000_003 + i);
            Commit {
                message: format!(
                    "{} {} (#{})\n\nDetails for change {i} in {name}.",
                    pick(&VERBS, i),
                    pick(&THINGS, i + 1),
                    1000 + i
                ),
                author: pick(&AUTHORS, i).into(),
                date: at(i),
                url: format!("{url}/commit/{sha}"),
                sha,
            }
        })
        .collect();
    let issue = |i: usize, base: u64| (base + (n_issues + n_pulls - i) as u64, i % 3 != 2);
    let issues = (0..n_issues)
        .map(|i| {
            let (number, open) = issue(i, 0);
            Issue {
                number,
                title: format!("{} is flaky under load", pick(&THINGS, i)),
                state: if open { "open" } else { "closed" }.into(),
                author: pick(&AUTHORS, i + 2).into(),
                labels: vec![pick(&LABELS, i).into()],
                created_at: at(i * 3 + 40),
                updated_at: at(i),
                closed_at: (!open).then(|| at(i)),
                url: format!("{url}/issues/{number}"),
            }
        })
        .collect();
    let pulls = (0..n_pulls)
        .map(|i| {
            let (number, open) = issue(i, n_issues as u64 + 1);
            PullRequest {
                number,
                title: format!("{} {}", pick(&VERBS, i + 3), pick(&THINGS, i)),
                state: if open { "open" } else { "closed" }.into(),
                author: pick(&AUTHORS, i + 1).into(),
                draft: i % 5 == 4,
                created_at: at(i * 2 + 20),
                updated_at: at(i),
                closed_at: (!open).then(|| at(i)),
                merged_at: (!open && i % 2 == 0).then(|| at(i)),
                url: format!("{url}/pull/{number}"),
            }
        })
        .collect();
    let releases = (0..n_rest / 2)
        .map(|i| {
            let tag = format!("v1.{}.0", n_rest / 2 - i);
            Release {
                id: 9_000_000 + i as u64,
                name: format!("Helix {tag}"),
                draft: false,
                prerelease: i % 4 == 3,
                published_at: Some(at(i * 24)),
                created_at: at(i * 24 + 1),
                url: format!("{url}/releases/tag/{tag}"),
                tag,
            }
        })
        .collect();
    let deployments = (0..n_rest - n_rest / 2)
        .map(|i| Deployment {
            id: 70_000 + i as u64,
            environment: ["production", "staging"][i % 2].into(),
            git_ref: "main".into(),
            sha: fake_sha(7_000_000 + r * 1000 + i),
            creator: pick(&AUTHORS, i).into(),
            state: Some(["success", "failure", "in_progress"][i % 3].into()),
            created_at: at(i * 12),
            updated_at: at(i * 12),
            url: format!("{url}/deployments/{}", 70_000 + i),
        })
        .collect();
    RepoData {
        full_name: name.into(),
        stats: Some(RepoStats {
            description: Some(format!("Helix component {name} — sync & orchestration")),
            html_url: url,
            default_branch: "main".into(),
            stars: 120 + 37 * r as u64,
            forks: 9 + 4 * r as u64,
            open_issues: (n_issues + n_pulls) as u64 * 2 / 3,
            languages: BTreeMap::from([
                ("Rust".into(), 480_000 + 1000 * r as u64),
                ("TypeScript".into(), 91_000),
            ]),
            has_readme: true,
            pushed_at: Some(at(0)),
        }),
        commits,
        issues,
        pulls,
        releases,
        deployments,
    }
}

/// A 40-hex-digit id that looks like a git sha (splitmix64 of `n`).
fn fake_sha(n: usize) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b, c) = (
        mix(n as u64),
        mix(n as u64 ^ 0xffff),
        mix(n as u64 ^ 0xabcdef),
    );
    format!("{a:016x}{b:016x}{:08x}", c as u32)
}

fn repo_changes(data: &RepoData) -> RepoChanges {
    let new = &data.commits[..data.commits.len().min(3)];
    let mut authors: Vec<String> = new.iter().map(|c| c.author.clone()).collect();
    authors.sort();
    authors.dedup();
    RepoChanges {
        new_commits: new.len() as u64,
        authors,
        commit_lines: new
            .iter()
            .map(|c| {
                let line = c.message.lines().next().unwrap_or("").to_owned();
                (c.sha[..7].to_owned(), line)
            })
            .collect(),
        issues_opened: data.issues.iter().take(1).map(|i| i.number).collect(),
        issues_closed: data
            .issues
            .iter()
            .skip(2)
            .take(1)
            .map(|i| i.number)
            .collect(),
        prs_opened: data.pulls.iter().take(1).map(|p| p.number).collect(),
        prs_closed: Vec::new(),
        prs_merged: data
            .pulls
            .iter()
            .skip(2)
            .take(1)
            .map(|p| p.number)
            .collect(),
        new_releases: data
            .releases
            .iter()
            .take(1)
            .map(|r| r.tag.clone())
            .collect(),
        new_deployments: data.deployments.iter().take(1).map(|d| d.id).collect(),
    }
}

fn ucf() -> UcfState {
    let metrics = [
        ("harmony", 0.8734),
        ("resilience", 0.95),
        ("prana", 0.6452),
        ("drishti", 0.3818),
        ("klesha", 0.0612),
        ("zoom", 1.0),
    ];
    let extra: Map<String, serde_json::Value> = [
        ("collective_emotion".to_owned(), json!("serene focus")),
        ("ethical_alignment".to_owned(), json!(0.93)),
    ]
    .into_iter()
    .collect();
    UcfState {
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        status: crate::sync::snapshot::harmony_status(0.8734).into(),
        timestamp: Some("2026-11-25T21:14:07Z".into()),
        phase: Some("integration".into()),
        origin: "file".into(),
        extra,
    }
}

fn agents() -> Vec<AgentData> {
    let rows = [
        (
            "Kael",
            "🜂",
            "Ethical Reasoning",
            "consciousness",
            true,
            214,
            201,
        ),
        (
            "Lumina",
            "🌕",
            "Emotional Intelligence",
            "consciousness",
            true,
            180,
            171,
        ),
        (
            "Vega",
            "✨",
            "Strategic Navigation",
            "operational",
            true,
            342,
            309,
        ),
        ("Shadow", "🌑", "Archivist", "memory", false, 75, 75),
        (
            "Oracle",
            "🔮",
            "Pattern Recognition",
            "integration",
            true,
            128,
            97,
        ),
        ("Echo", "📡", "Signal Relay", "operational", true, 0, 0),
    ];
    rows.iter()
        .enumerate()
        .map(
            |(i, (name, emoji, role, layer, active, total, ok))| AgentData {
                name: name.to_string(),
                emoji: Some(emoji.to_string()),
                role: Some(role.to_string()),
                layer: Some(layer.to_string()),
                capabilities: vec!["reflection".into(), "planning".into()],
                active: *active,
                memory_size: Some(1000 + 317 * i as u64),
                last_heartbeat: Some(format!("2026-11-25T21:1{i}:00Z")),
                tasks_total: *total,
                tasks_succeeded: *ok,
                success_rate: (*total > 0).then(|| *ok as f64 / *total as f64),
                mean_duration_secs: (*total > 0).then_some(1.5 + i as f64 * 0.75),
                collaborations: 12 * i as u64,
                harmony_impact: Some(0.01 * i as f64 - 0.02),
                last_active: Some(format!("2026-11-25T20:{:02}:00Z", 10 + 7 * i)),
            },
        )
        .collect()
}

fn history(now: DateTime<Utc>) -> Vec<HistoryPoint> {
    (0..10)
        .map(|i| {
            let wave = |k: usize| (((i * 7 + k * 3) % 11) as f64 - 5.0) / 100.0;
            let base = [0.82, 0.97, 0.6, 0.42, 0.07, 0.98];
            let ucf = UCF_METRICS
                .iter()
                .zip(base)
                .enumerate()
                .map(|(k, (m, b))| (m.to_string(), ((b + wave(k)) * 1e4).round() / 1e4))
                .collect();
            HistoryPoint {
                run_id: format!("0193a5c0-7e11-7000-8000-0000000000{:02x}", 0x20 + i),
                at: now - Duration::hours(9 - i as i64),
                ucf,
                agents: past_success_rates(i),
            }
        })
        .chain(std::iter::once(HistoryPoint {
            run_id: "0193a5c0-7e11-7000-8000-00000000002a".into(),
            at: now,
            ucf: ucf().metrics,
            agents: agents()
                .into_iter()
                .filter_map(|a| Some((a.name, a.success_rate?)))
                .collect(),
        }))
        .collect()
}

/// Earlier success rates of the fixture's agents with tasks: one improving, one declining,
/// one steady with noise.
fn past_success_rates(i: usize) -> BTreeMap<String, f64> {
    let run = i as f64;
    agents()
        .into_iter()
        .filter(|a| a.tasks_total > 0)
        .enumerate()
        .map(|(k, a)| {
            let rate = match k % 3 {
                0 => 0.55 + 0.03 * run,
                1 => 0.95 - 0.02 * run,
                _ => 0.8 + if i.is_multiple_of(2) { 0.01 } else { -0.01 },
            };
            (a.name, (rate * 1e4_f64).round() / 1e4)
        })
        .collect()
}

/// The agent totals of a set of agents (for tests that edit the fixture).
pub fn totals(agents: &BTreeMap<String, AgentData>) -> AgentTotals {
    agents.values().fold(AgentTotals::default(), |mut t, a| {
        t.agents += 1;
        t.active += a.active as u64;
        t.tasks_total += a.tasks_total;
        t.tasks_succeeded += a.tasks_succeeded;
        t.collaborations += a.collaborations;
        t
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixture_is_deterministic_and_sized() {
        let a = super::snapshot(3, 100);
        let b = super::snapshot(3, 100);
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        let repo = a.0.repos.values().next().unwrap();
        let items = repo.commits.len()
            + repo.issues.len()
            + repo.pulls.len()
            + repo.releases.len()
            + repo.deployments.len();
        assert_eq!(items, 100);
        assert_eq!(a.0.repos.len(), 3);
    }
}
