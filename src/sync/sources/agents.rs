//! The agent metrics source: the agents state JSON (file or URL) and, optionally, the
//! ecosystem's SQLite profiles database, combined into one record per agent plus totals.
//!
//! The JSON says who the agents are and whether they are alive; the database says what they
//! did. The database's own tallies (`agent_stats`) win over recounting `task_history`, which
//! the ecosystem may prune; `task_history` still gives what `agent_stats` lacks (mean
//! duration). The database is read through `store::read_agent_profiles`, read-only.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use super::{read_document, Source, SourceContext, SourceData, SourceError};
use crate::config::Config;
use crate::store::AgentProfiles;
use crate::sync::snapshot::{AgentData, AgentTotals};
use crate::timestamp::normalize;

pub struct AgentsSource {
    /// `AGENT_METRICS_SOURCE`.
    location: Option<String>,
    /// `AGENT_PROFILES_DB`.
    profiles_db: Option<String>,
    /// `["all"]` or agent names.
    filter: Vec<String>,
}

impl AgentsSource {
    pub fn from_config(config: &Config) -> Option<Self> {
        let c = &config.file.sources.agent_metrics;
        let on =
            c.enabled && (config.agents_source.is_some() || config.agent_profiles_db.is_some());
        on.then(|| Self {
            location: config.agents_source.clone(),
            profiles_db: config.agent_profiles_db.clone(),
            filter: c.agents.clone(),
        })
    }

    fn wants(&self, name: &str) -> bool {
        self.filter.iter().any(|f| f == "all" || f == name)
    }
}

#[async_trait]
impl Source for AgentsSource {
    fn name(&self) -> &'static str {
        "agent_metrics"
    }

    async fn collect(&self, cx: &SourceContext<'_>) -> Result<SourceData, SourceError> {
        let mut data = SourceData::default();
        let mut agents = BTreeMap::new();
        if let Some(loc) = &self.location {
            let what = "agent metrics source";
            let (doc, origin) = read_document(cx.deps, what, loc).await?;
            data.requests = u64::from(origin == super::Origin::Url);
            agents = parse_agents(&doc)
                .map_err(|e| SourceError::Invalid(format!("{what} {loc}: {e}")))?;
        }
        let mut distinct_collaborations = None;
        if let Some(path) = &self.profiles_db {
            // The database only enriches: when it cannot be read, the agents from the JSON
            // stay and the run is `partial` with the database (and table, column) named.
            let what = format!("agent profiles database {path}");
            match read_profiles(path).await {
                Ok(profiles) => {
                    data.errors
                        .extend(profiles.problems.iter().map(|p| format!("{what}: {p}")));
                    distinct_collaborations = Some(profiles.collaboration_total);
                    apply_profiles(&mut agents, &profiles);
                }
                Err(e) if self.location.is_none() => return Err(e.into_source_error(&what)),
                Err(e) => data.errors.push(format!("{what}: {e}")),
            }
        }
        let all = self.filter.iter().any(|f| f == "all");
        agents.retain(|name, _| self.wants(name));
        let totals = totals(&agents, distinct_collaborations.filter(|_| all));
        data.items = agents.len() as u64;
        data.agents = Some((agents, totals));
        Ok(data)
    }
}

/// Why the profiles database could not be read at all.
enum ProfilesError {
    Missing,
    Unreadable(String),
}

impl std::fmt::Display for ProfilesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfilesError::Missing => f.write_str("no such file"),
            ProfilesError::Unreadable(e) => f.write_str(e),
        }
    }
}

impl ProfilesError {
    fn into_source_error(self, what: &str) -> SourceError {
        let message = format!("{what}: {self}");
        match self {
            ProfilesError::Missing => SourceError::Missing(message),
            ProfilesError::Unreadable(_) => SourceError::Unavailable(message),
        }
    }
}

async fn read_profiles(path: &str) -> Result<AgentProfiles, ProfilesError> {
    if let Err(e) = tokio::fs::metadata(path).await {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Err(ProfilesError::Missing);
        }
    }
    crate::store::read_agent_profiles(path)
        .await
        .map_err(|e| ProfilesError::Unreadable(e.to_string()))
}

/// Parses `{"timestamp", "agents": {"<Name>": {...}}}`; a wrongly typed field names the agent
/// and the key.
pub fn parse_agents(doc: &Value) -> Result<BTreeMap<String, AgentData>, String> {
    let map = doc
        .get("agents")
        .and_then(Value::as_object)
        .ok_or("expected an object with an \"agents\" object")?;
    let mut out = BTreeMap::new();
    for (key, a) in map {
        let bad = |field: &str, want: &str| format!("agents.{key}.{field} must be {want}");
        let obj = a
            .as_object()
            .ok_or_else(|| format!("agents.{key} must be an object"))?;
        let text = |field: &str| -> Result<Option<String>, String> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(field, "a string")),
            }
        };
        let capabilities = match obj.get("capabilities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|c| c.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("capabilities", "a list of strings"))?,
            Some(_) => return Err(bad("capabilities", "a list of strings")),
        };
        let active = match obj.get("active") {
            None | Some(Value::Null) => false,
            Some(v) => v.as_bool().ok_or_else(|| bad("active", "true or false"))?,
        };
        let memory_size = match obj.get("memory_size") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| bad("memory_size", "a whole number >= 0"))?,
            ),
        };
        let name = text("name")?.unwrap_or_else(|| key.clone());
        out.insert(
            name.clone(),
            AgentData {
                name,
                emoji: text("emoji")?,
                role: text("role")?,
                layer: text("layer")?,
                capabilities,
                active,
                memory_size,
                last_heartbeat: text("last_heartbeat")?.map(|t| normalize(&t)),
                ..AgentData::default()
            },
        );
    }
    Ok(out)
}

/// Folds the profiles database into the agents (adding agents only the database knows).
pub fn apply_profiles(agents: &mut BTreeMap<String, AgentData>, p: &AgentProfiles) {
    fn entry<'a>(agents: &'a mut BTreeMap<String, AgentData>, name: &str) -> &'a mut AgentData {
        agents.entry(name.to_owned()).or_insert_with(|| AgentData {
            name: name.to_owned(),
            ..AgentData::default()
        })
    }
    for t in &p.tasks {
        let a = entry(agents, &t.agent_name);
        a.tasks_total = t.tasks.max(0) as u64;
        a.tasks_succeeded = t.succeeded.max(0) as u64;
        a.mean_duration_secs = t.mean_duration_secs;
        a.harmony_impact = t.harmony_impact;
        a.last_active = t.last_task_at.as_deref().map(normalize);
    }
    for (name, n) in &p.collaborations {
        entry(agents, name).collaborations = (*n).max(0) as u64;
    }
    for s in &p.stats {
        let a = entry(agents, &s.agent_name);
        if let Some(n) = s.total_tasks {
            a.tasks_total = n.max(0) as u64;
        }
        if let Some(n) = s.successful_tasks {
            a.tasks_succeeded = n.max(0) as u64;
        }
        if let Some(n) = s.total_collaborations {
            a.collaborations = n.max(0) as u64;
        }
        a.harmony_impact = s.average_harmony_impact.or(a.harmony_impact);
        a.last_active = s
            .last_active
            .as_deref()
            .map(normalize)
            .or(a.last_active.take());
    }
    for a in agents.values_mut() {
        a.success_rate =
            (a.tasks_total > 0).then(|| (a.tasks_succeeded as f64 / a.tasks_total as f64).min(1.0));
    }
}

/// Totals across agents; `distinct_collaborations` (from the database) avoids counting a
/// collaboration once per participant.
pub fn totals(
    agents: &BTreeMap<String, AgentData>,
    distinct_collaborations: Option<i64>,
) -> AgentTotals {
    AgentTotals {
        agents: agents.len() as u64,
        active: agents.values().filter(|a| a.active).count() as u64,
        tasks_total: agents.values().map(|a| a.tasks_total).sum(),
        tasks_succeeded: agents.values().map(|a| a.tasks_succeeded).sum(),
        collaborations: distinct_collaborations
            .map(|n| n.max(0) as u64)
            .unwrap_or_else(|| agents.values().map(|a| a.collaborations).sum()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AgentStatsRow, TaskAggregate};
    use serde_json::json;

    #[test]
    fn parses_the_shipped_example() {
        let text = include_str!("../../../config/examples/agents_state.json");
        let agents = parse_agents(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(agents.len(), 5);
        assert!(agents["Kael"].active && !agents["Shadow"].active);
        assert_eq!(agents["Vega"].capabilities.len(), 3);
    }

    #[test]
    fn wrong_types_name_agent_and_key() {
        let e = parse_agents(&json!({"agents": {"Kael": {"active": "yes"}}})).unwrap_err();
        assert_eq!(e, "agents.Kael.active must be true or false");
        assert!(parse_agents(&json!({"agents": [1]})).is_err());
    }

    #[test]
    fn stats_win_over_recounted_history() {
        let mut agents = parse_agents(&json!({"agents": {"Kael": {"active": true}}})).unwrap();
        let p = AgentProfiles {
            stats: vec![AgentStatsRow {
                agent_name: "Kael".into(),
                total_tasks: Some(10),
                successful_tasks: Some(8),
                ..Default::default()
            }],
            tasks: vec![
                TaskAggregate {
                    agent_name: "Kael".into(),
                    tasks: 4,
                    succeeded: 2,
                    mean_duration_secs: Some(3.5),
                    harmony_impact: Some(0.02),
                    last_task_at: Some("2026-11-25T10:00:00Z".into()),
                },
                TaskAggregate {
                    agent_name: "Echo".into(),
                    tasks: 2,
                    succeeded: 2,
                    ..Default::default()
                },
            ],
            collaborations: vec![("Kael".into(), 3), ("Echo".into(), 3)],
            collaboration_total: 3,
            problems: Vec::new(),
        };
        apply_profiles(&mut agents, &p);
        let k = &agents["Kael"];
        assert_eq!((k.tasks_total, k.tasks_succeeded), (10, 8));
        assert_eq!(k.success_rate, Some(0.8));
        assert_eq!(k.mean_duration_secs, Some(3.5));
        assert_eq!(k.harmony_impact, Some(0.02));
        assert_eq!(agents["Echo"].success_rate, Some(1.0));
        assert!(!agents["Echo"].active);
        let t = totals(&agents, Some(3));
        assert_eq!(
            (t.agents, t.active, t.tasks_total, t.collaborations),
            (2, 1, 12, 3)
        );
        assert_eq!(totals(&agents, None).collaborations, 6);
    }
}
