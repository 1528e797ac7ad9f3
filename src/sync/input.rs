//! What a sync hands to the stages that render it: the run an output belongs to, the scope it
//! covers, the trend history before it, and the bundle of the three with the snapshot
//! ([`ExportInput`]).
//!
//! These types sit below `exporters`, `analytics` and `history`, which all read them, so none
//! of those has to import another to name its input. Nothing here renders or does I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::snapshot::{ChangeSummary, Snapshot};

/// Which part of the snapshot an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Full,
    Ucf,
    Agents,
    Repos,
}

impl Scope {
    /// Every scope's name, for error messages and CLI help.
    pub const NAMES: [&'static str; 4] = ["full", "ucf", "agents", "repos"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Scope::Full),
            "ucf" => Some(Scope::Ucf),
            "agents" => Some(Scope::Agents),
            "repos" => Some(Scope::Repos),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn has_repos(self) -> bool {
        matches!(self, Scope::Full | Scope::Repos)
    }

    pub fn has_ucf(self) -> bool {
        matches!(self, Scope::Full | Scope::Ucf)
    }

    pub fn has_agents(self) -> bool {
        matches!(self, Scope::Full | Scope::Agents)
    }
}

/// The run an export belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The model-written paragraph of the changes, or the named warning of why there is
    /// none; absent when no summary endpoint is configured (or nothing changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_summary: Option<crate::sync::narrate::Narration>,
}

impl RunInfo {
    /// A run's info from its recorded values (times in unix ms). The sync cycle builds it so
    /// when it writes the exports, and everyone who renders a stored run builds it from the
    /// run row (`From<&RunRow>`): the same values, so the same bytes.
    pub fn recorded(
        id: &str,
        trigger: &str,
        status: &str,
        started_ms: i64,
        finished_ms: Option<i64>,
    ) -> Self {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Self {
            id: id.to_owned(),
            trigger: trigger.to_owned(),
            status: status.to_owned(),
            started_at: at(started_ms),
            finished_at: finished_ms.map(at),
            generated_summary: None,
        }
    }

    /// The same run with its model-written paragraph (stored beside the run row).
    pub fn with_summary(
        mut self,
        generated_summary: Option<crate::sync::narrate::Narration>,
    ) -> Self {
        self.generated_summary = generated_summary;
        self
    }

    /// The export's timestamp: when the run finished (or started, while it runs). Never the
    /// wall clock, so exporting the same run twice gives the same bytes.
    pub fn generated_at(&self) -> DateTime<Utc> {
        self.finished_at.unwrap_or(self.started_at)
    }

    /// [`Self::generated_at`] as RFC 3339 with whole seconds.
    pub fn generated_at_text(&self) -> String {
        crate::timestamp::secs(self.generated_at())
    }
}

impl From<&crate::store::RunRow> for RunInfo {
    fn from(row: &crate::store::RunRow) -> Self {
        Self::recorded(
            &row.id,
            &row.trigger,
            &row.status,
            row.started_at,
            row.finished_at,
        )
    }
}

/// One past run's UCF values and agent success rates, for trend charts and analytics
/// (oldest first in a slice).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub ucf: BTreeMap<String, f64>,
    /// Success rate in [0, 1] of each agent that had tasks.
    #[serde(default)]
    pub agents: BTreeMap<String, f64>,
}

/// Everything an exporter reads.
#[derive(Debug, Clone, Copy)]
pub struct ExportInput<'a> {
    pub run: &'a RunInfo,
    pub snapshot: &'a Snapshot,
    pub changes: &'a ChangeSummary,
    pub history: &'a [HistoryPoint],
}
