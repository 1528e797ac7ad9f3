//! Scope filtering: cut the snapshot, change summary and history down to one area before any
//! exporter sees them.
//!
//! Doing it once here (rather than in each format) is what keeps a `repos` JSON export and a
//! `repos` Markdown export about the same data. The full scope borrows; the others copy only
//! the parts they keep. Nothing here formats anything.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{ExportInput, HistoryPoint, RunInfo, Scope};
use crate::sync::snapshot::{AgentTotals, ChangeSummary, Snapshot};

/// The filtered input; call [`Scoped::input`] to read it as an [`ExportInput`].
pub struct Scoped<'a> {
    snapshot: Cow<'a, Snapshot>,
    changes: Cow<'a, ChangeSummary>,
    history: &'a [HistoryPoint],
}

impl<'a> Scoped<'a> {
    pub fn input<'s>(&'s self, run: &'s RunInfo) -> ExportInput<'s> {
        ExportInput {
            run,
            snapshot: &self.snapshot,
            changes: &self.changes,
            history: self.history,
        }
    }
}

/// The source whose status belongs to each partial scope.
fn source_of(scope: Scope) -> &'static str {
    match scope {
        Scope::Repos => "github",
        Scope::Ucf => "ucf_state",
        Scope::Agents => "agent_metrics",
        Scope::Full => "",
    }
}

/// Keeps only what `scope` covers.
pub fn apply<'a>(input: &ExportInput<'a>, scope: Scope) -> Scoped<'a> {
    if scope == Scope::Full {
        return Scoped {
            snapshot: Cow::Borrowed(input.snapshot),
            changes: Cow::Borrowed(input.changes),
            history: input.history,
        };
    }
    let s = input.snapshot;
    let c = input.changes;
    let source = source_of(scope);
    let snapshot = Snapshot {
        schema_version: s.schema_version,
        taken_at: s.taken_at,
        repos: if scope.has_repos() {
            s.repos.clone()
        } else {
            BTreeMap::new()
        },
        ucf: s.ucf.clone().filter(|_| scope.has_ucf()),
        agents: if scope.has_agents() {
            s.agents.clone()
        } else {
            BTreeMap::new()
        },
        agent_totals: if scope.has_agents() {
            s.agent_totals.clone()
        } else {
            AgentTotals::default()
        },
        sources: s
            .sources
            .iter()
            .filter(|(name, _)| name.as_str() == source)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let changes = ChangeSummary {
        repos: if scope.has_repos() {
            c.repos.clone()
        } else {
            BTreeMap::new()
        },
        ucf: if scope.has_ucf() {
            c.ucf.clone()
        } else {
            Vec::new()
        },
        agents_activated: if scope.has_agents() {
            c.agents_activated.clone()
        } else {
            Vec::new()
        },
        agents_deactivated: if scope.has_agents() {
            c.agents_deactivated.clone()
        } else {
            Vec::new()
        },
        task_deltas: if scope.has_agents() {
            c.task_deltas.clone()
        } else {
            BTreeMap::new()
        },
    };
    Scoped {
        snapshot: Cow::Owned(snapshot),
        changes: Cow::Owned(changes),
        // Trend history is UCF values and agent success rates.
        history: if scope.has_ucf() || scope.has_agents() {
            input.history
        } else {
            &[]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::exporters::fixture;

    #[test]
    fn each_scope_keeps_only_its_area() {
        let fixture = fixture::Fixture::new(2, 20);
        let input = fixture.input();

        let full = apply(&input, Scope::Full);
        assert!(matches!(full.snapshot, Cow::Borrowed(_)));

        let repos = apply(&input, Scope::Repos);
        let r = repos.input(&fixture.run);
        assert_eq!(r.snapshot.repos.len(), 2);
        assert!(r.snapshot.ucf.is_none() && r.snapshot.agents.is_empty());
        assert!(r.history.is_empty() && r.changes.ucf.is_empty());
        assert_eq!(r.snapshot.sources.keys().collect::<Vec<_>>(), ["github"]);

        let ucf = apply(&input, Scope::Ucf);
        let u = ucf.input(&fixture.run);
        assert!(u.snapshot.repos.is_empty() && u.snapshot.agents.is_empty());
        assert!(u.snapshot.ucf.is_some() && !u.history.is_empty());
        assert!(u.changes.repos.is_empty() && u.changes.task_deltas.is_empty());

        let agents = apply(&input, Scope::Agents);
        let a = agents.input(&fixture.run);
        assert!(a.snapshot.repos.is_empty() && a.snapshot.ucf.is_none());
        assert_eq!(a.snapshot.agents.len(), fixture.snapshot.agents.len());
        assert_eq!(a.snapshot.agent_totals, fixture.snapshot.agent_totals);
    }

    #[test]
    fn scope_names_round_trip() {
        for name in Scope::NAMES {
            assert_eq!(Scope::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(Scope::parse("everything"), None);
    }
}
