//! Notion database property schemas and the page property values that fill them.
//!
//! The two halves must agree (a page may only set properties its database declares, with the
//! declared type); a unit test checks that. Values respect Notion's limits: select names have
//! no commas and at most 100 characters, URLs at most 2,000 characters, rich text is split.

use serde_json::{json, Map, Value};

use super::{rich, URL_LIMIT};
use crate::sync::exporters::report::Report;
use crate::sync::exporters::ExportInput;
use crate::sync::snapshot::UCF_METRICS;

fn title(text: &str) -> Value {
    json!({ "title": rich(text) })
}

fn text(text: &str) -> Value {
    json!({ "rich_text": rich(text) })
}

fn number<N: Into<serde_json::Number>>(n: N) -> Value {
    json!({ "number": Value::Number(n.into()) })
}

fn float(n: Option<f64>) -> Value {
    json!({ "number": n.and_then(serde_json::Number::from_f64).map(Value::Number) })
}

/// Notion rejects commas in select option names and names over 100 characters.
fn select(name: Option<&str>) -> Value {
    let clean = name
        .map(|n| {
            n.replace(',', " ")
                .trim()
                .chars()
                .take(100)
                .collect::<String>()
        })
        .filter(|n| !n.is_empty());
    match clean {
        Some(n) => json!({ "select": { "name": n } }),
        None => json!({ "select": null }),
    }
}

fn date(iso: Option<String>) -> Value {
    match iso {
        Some(start) => json!({ "date": { "start": start } }),
        None => json!({ "date": null }),
    }
}

fn url(u: Option<&str>) -> Value {
    json!({ "url": u.filter(|u| u.len() <= URL_LIMIT) })
}

fn options(names: &[(&str, &str)]) -> Value {
    let opts: Vec<Value> = names
        .iter()
        .map(|(n, c)| json!({ "name": n, "color": c }))
        .collect();
    json!({ "select": { "options": opts } })
}

fn capitalised(metric: &str) -> String {
    let mut c = metric.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The four databases' property schemas.
pub fn databases() -> Value {
    let n = || json!({ "number": { "format": "number" } });
    let t = || json!({ "rich_text": {} });
    let d = || json!({ "date": {} });
    let ucf_status = options(&[
        ("HARMONIC", "green"),
        ("COHERENT", "yellow"),
        ("FRAGMENTED", "red"),
    ]);
    let mut ucf = Map::new();
    ucf.insert("Name".into(), json!({ "title": {} }));
    ucf.insert("Sync ID".into(), t());
    for m in UCF_METRICS {
        ucf.insert(capitalised(m), n());
    }
    ucf.insert("Status".into(), ucf_status.clone());
    ucf.insert("Phase".into(), t());
    ucf.insert("Recorded".into(), d());
    json!({
        "sync_runs": { "title": "Sync Runs", "properties": {
            "Name": { "title": {} },
            "Sync ID": t(),
            "Status": options(&[("running", "blue"), ("succeeded", "green"), ("partial", "yellow"), ("failed", "red")]),
            "Trigger": { "select": {} },
            "Scope": { "select": {} },
            "Started": d(),
            "Finished": d(),
            "Duration (s)": n(),
            "Repositories": n(),
            "New Commits": n(),
            "Harmony": n(),
            "UCF Status": ucf_status,
            "Active Agents": n(),
            "Summary": t(),
        }},
        "repositories": { "title": "Helix Repositories", "properties": {
            "Name": { "title": {} },
            "URL": { "url": {} },
            "Description": t(),
            "Stars": n(),
            "Forks": n(),
            "Open Issues": n(),
            "Open PRs": n(),
            "Default Branch": t(),
            "Language": { "select": {} },
            "Last Push": d(),
            "New Commits": n(),
            "Last Sync": d(),
            "Sync ID": t(),
        }},
        "ucf_metrics": { "title": "UCF Metrics", "properties": Value::Object(ucf) },
        "agents": { "title": "Helix Agents", "properties": {
            "Name": { "title": {} },
            "Emoji": t(),
            "Role": t(),
            "Layer": { "select": {} },
            "Status": options(&[("Active", "green"), ("Inactive", "gray")]),
            "Tasks": n(),
            "Succeeded": n(),
            "Success Rate": { "number": { "format": "percent" } },
            "Mean Duration (s)": n(),
            "Collaborations": n(),
            "Harmony Impact": n(),
            "Capabilities": t(),
            "Last Active": t(),
            "Last Sync": d(),
        }},
    })
}

/// The Sync Runs page of this run.
pub fn run_properties(input: &ExportInput<'_>, r: &Report<'_>) -> Value {
    let run = input.run;
    let s = input.snapshot;
    let summary: Vec<String> = r.summary.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let duration = run
        .finished_at
        .map(|f| (f - run.started_at).num_milliseconds() as f64 / 1000.0);
    let harmony = s
        .ucf
        .as_ref()
        .and_then(|u| u.metrics.get("harmony").copied());
    json!({
        "Name": title(&format!("Helix Sync {}", r.generated_at)),
        "Sync ID": text(&run.id),
        "Status": select(Some(&run.status)),
        "Trigger": select(Some(&run.trigger)),
        "Scope": select(Some(r.scope)),
        "Started": date(Some(crate::timestamp::secs(run.started_at))),
        "Finished": date(run.finished_at.as_ref().map(|t| crate::timestamp::secs(*t))),
        "Duration (s)": float(duration),
        "Repositories": number(s.repos.len() as u64),
        "New Commits": number(input.changes.repos.values().map(|c| c.new_commits).sum::<u64>()),
        "Harmony": float(harmony),
        "UCF Status": select(s.ucf.as_ref().map(|u| u.status.as_str())),
        "Active Agents": number(s.agent_totals.active),
        "Summary": text(&summary.join(" · ")),
    })
}

pub fn repo_pages(input: &ExportInput<'_>, r: &Report<'_>) -> Value {
    let pages: Vec<Value> = input
        .snapshot
        .repos
        .values()
        .zip(&r.repo_index)
        .map(|(repo, view)| {
            let stats = repo.stats.as_ref();
            json!({
                "key": repo.full_name,
                "properties": {
                    "Name": title(&repo.full_name),
                    "URL": url(Some(&view.url)),
                    "Description": text(view.description.as_deref().unwrap_or("")),
                    "Stars": float(stats.map(|s| s.stars as f64)),
                    "Forks": float(stats.map(|s| s.forks as f64)),
                    "Open Issues": number(view.open_issues_total as u64),
                    "Open PRs": number(view.open_pulls_total as u64),
                    "Default Branch": text(view.default_branch.unwrap_or("")),
                    "Language": select(view.top_language),
                    "Last Push": date(stats.and_then(|s| s.pushed_at.as_ref()).map(|t| crate::timestamp::secs(*t))),
                    "New Commits": number(view.new_commits),
                    "Last Sync": date(Some(r.generated_at.clone())),
                    "Sync ID": text(&input.run.id),
                },
            })
        })
        .collect();
    Value::Array(pages)
}

pub fn ucf_page(input: &ExportInput<'_>) -> Value {
    let Some(u) = &input.snapshot.ucf else {
        return Value::Null;
    };
    let mut props = Map::new();
    let generated = input.run.generated_at_text();
    props.insert("Name".into(), title(&format!("UCF {generated}")));
    props.insert("Sync ID".into(), text(&input.run.id));
    for m in UCF_METRICS {
        props.insert(capitalised(m), float(u.metrics.get(m).copied()));
    }
    props.insert("Status".into(), select(Some(&u.status)));
    props.insert("Phase".into(), text(u.phase.as_deref().unwrap_or("")));
    // When the UCF state was recorded (its own timestamp, as Markdown and HTML show it);
    // the sync time only for a state that carries none.
    let recorded = u
        .timestamp
        .as_deref()
        .and_then(crate::timestamp::parse)
        .map(crate::timestamp::secs)
        .unwrap_or(generated);
    props.insert("Recorded".into(), date(Some(recorded)));
    json!({ "key": input.run.id, "properties": props })
}

pub fn agent_pages(input: &ExportInput<'_>) -> Value {
    let generated = input.run.generated_at_text();
    let pages: Vec<Value> = input
        .snapshot
        .agents
        .values()
        .map(|a| {
            json!({
                "key": a.name,
                "properties": {
                    "Name": title(&a.name),
                    "Emoji": text(a.emoji.as_deref().unwrap_or("")),
                    "Role": text(a.role.as_deref().unwrap_or("")),
                    "Layer": select(a.layer.as_deref()),
                    "Status": select(Some(if a.active { "Active" } else { "Inactive" })),
                    "Tasks": number(a.tasks_total),
                    "Succeeded": number(a.tasks_succeeded),
                    "Success Rate": float(a.success_rate),
                    "Mean Duration (s)": float(a.mean_duration_secs),
                    "Collaborations": number(a.collaborations),
                    "Harmony Impact": float(a.harmony_impact),
                    "Capabilities": text(&a.capabilities.join(", ")),
                    "Last Active": text(a.last_active.as_deref().or(a.last_heartbeat.as_deref()).unwrap_or("")),
                    "Last Sync": date(Some(generated.clone())),
                },
            })
        })
        .collect();
    Value::Array(pages)
}
