//! A long, realistic run history for the data-lifecycle tests and `benches/lifecycle.rs`:
//! the export fixture's snapshot, then one run per hour in which a given number of items
//! change (an issue is edited or closed, or a new commit pushes the oldest one out).
//! Deterministic: the same arguments give the same bytes on every machine.

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use helix_sync::store::{RunFinish, RunStart, Store};
use helix_sync::sync::exporters::fixture;
use helix_sync::sync::snapshot::{Commit, Snapshot, SCHEMA_VERSION};

pub struct History {
    snapshot: Snapshot,
    run: u64,
    seed: u64,
}

impl History {
    pub fn new(repos: usize, items_per_repo: usize) -> Self {
        Self {
            snapshot: fixture::snapshot(repos, items_per_repo).0,
            run: 0,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// A deterministic number below `n` (xorshift; only spreads the changes around).
    fn pick(&mut self, n: usize) -> usize {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % n.max(1) as u64) as usize
    }

    /// When run `i` took its snapshot.
    pub fn taken_at(&self, i: u64) -> DateTime<Utc> {
        fixture::base_time() + Duration::hours(i as i64)
    }

    /// The next run's snapshot JSON, with `changes` items changed since the previous one.
    pub fn next(&mut self, changes: usize) -> Vec<u8> {
        self.run += 1;
        let at = self.taken_at(self.run);
        self.snapshot.taken_at = at;
        let names: Vec<String> = self.snapshot.repos.keys().cloned().collect();
        for c in 0..changes {
            let repo = names[self.pick(names.len())].clone();
            let n_issues = self.snapshot.repos[&repo].issues.len();
            let edit_issue = c % 2 == 0 && n_issues > 0;
            let i = self.pick(n_issues);
            let run = self.run;
            let data = self.snapshot.repos.get_mut(&repo).expect("a repo");
            if edit_issue {
                let issue = &mut data.issues[i];
                issue.title = format!("{} (edited in run {run})", issue.title);
                issue.state = if issue.state == "open" {
                    "closed"
                } else {
                    "open"
                }
                .into();
                issue.updated_at = at;
            } else {
                data.commits.insert(
                    0,
                    Commit {
                        sha: format!("{:040x}", run * 1_000_003 + c as u64),
                        message: format!("Change {c} of run {run}"),
                        author: "lumina".into(),
                        date: at,
                        url: format!("https://github.com/{repo}/commit/{run}-{c}"),
                    },
                );
                data.commits.pop();
            }
        }
        serde_json::to_vec(&self.snapshot).expect("a snapshot serializes")
    }

    /// Items across every repository (what "1 % of items" is a share of).
    pub fn items(&self) -> usize {
        self.snapshot
            .repos
            .values()
            .map(|r| {
                r.commits.len()
                    + r.issues.len()
                    + r.pulls.len()
                    + r.releases.len()
                    + r.deployments.len()
            })
            .sum()
    }
}

/// Stores a finished run `id` whose snapshot is `json`, started and finished at `at`
/// (unix ms), with a delivery per `targets` entry (`pending` when enabled).
pub async fn store_run(
    store: &Store,
    id: &str,
    trigger: &str,
    at: i64,
    json: Option<&[u8]>,
    targets: &[(&str, bool)],
) {
    store
        .start_run(&RunStart {
            id: id.into(),
            job_id: None,
            trigger: trigger.into(),
            started_at: at,
        })
        .await
        .unwrap();
    store
        .finish_run(&RunFinish {
            id,
            finished_at: at,
            status: "succeeded",
            sources_json: "{}",
            change_summary_json: "{\"repos\":{}}",
            exports_json: "[]",
            error: None,
            schema_version: i64::from(SCHEMA_VERSION),
            snapshot_json: json,
            cursors: &[],
            forget: &[],
            targets,
            jobs: &[],
        })
        .await
        .unwrap();
}
