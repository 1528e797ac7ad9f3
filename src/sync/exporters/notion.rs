//! The `notion` export: JSON ready for the Notion API (`Notion-Version: 2025-09-03`).
//!
//! Shape (a contract with the Notion publisher): `{"notion_version", "databases": {sync_runs,
//! repositories, ucf_metrics, agents: {"title", "properties": <property schema>}}, "run_page":
//! {"properties", "children": [blocks]}, "repo_pages": [{"key", "properties"}], "ucf_page":
//! {"key", "properties"} | null, "agent_pages": [{"key", "properties"}]}`.
//!
//! Notion's limits are enforced here, where the values are made, not by the publisher: a rich
//! text item holds at most 2,000 characters (counted in UTF-16 units, as the API does; longer
//! text becomes several items), a rich text array at most 100 items, a URL at most 2,000
//! characters, a table at most 100 rows (longer tables are split), and blocks nest at most two
//! levels (only `table` → `table_row`). Appending at most 100 blocks per request is the
//! publisher's job, with [`chunk_blocks`]. Nothing here does I/O.

mod pages;

use serde_json::{json, Map, Value};

use super::report::{self, Report};
use super::{Artifact, ExportError, ExportInput, Scope};

pub const NOTION_VERSION: &str = "2025-09-03";
/// Longest `text.content` of one rich text item, in UTF-16 units.
pub const TEXT_LIMIT: usize = 2000;
/// Most items in one rich text array, and most children in one request.
pub const ARRAY_LIMIT: usize = 100;
/// Longest URL Notion accepts.
pub const URL_LIMIT: usize = 2000;

/// Splits `blocks` into runs of at most 100, one per "append block children" request.
pub fn chunk_blocks(blocks: &[Value]) -> Vec<&[Value]> {
    blocks.chunks(ARRAY_LIMIT).collect()
}

/// Splits `text` into pieces of at most [`TEXT_LIMIT`] UTF-16 units, never inside a character.
pub fn split_text(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (i, c) in text.char_indices() {
        let n = c.len_utf16();
        if units + n > TEXT_LIMIT {
            pieces.push(&text[start..i]);
            (start, units) = (i, 0);
        }
        units += n;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// A rich text array under construction; [`Rich::done`] caps it at [`ARRAY_LIMIT`] items.
#[derive(Default)]
pub struct Rich(Vec<Value>);

impl Rich {
    pub fn text(mut self, text: &str) -> Self {
        self.push(text, None, false);
        self
    }

    pub fn bold(mut self, text: &str) -> Self {
        self.push(text, None, true);
        self
    }

    pub fn link(mut self, text: &str, url: &str) -> Self {
        self.push(text, Some(url), false);
        self
    }

    fn push(&mut self, text: &str, url: Option<&str>, bold: bool) {
        let link = url
            .filter(|u| u.len() <= URL_LIMIT && u.starts_with("http"))
            .map(|u| json!({ "url": u }));
        for piece in split_text(text) {
            let mut t = Map::new();
            t.insert("content".into(), piece.into());
            if let Some(l) = &link {
                t.insert("link".into(), l.clone());
            }
            let mut item = Map::new();
            item.insert("type".into(), "text".into());
            item.insert("text".into(), Value::Object(t));
            if bold {
                item.insert("annotations".into(), json!({ "bold": true }));
            }
            self.0.push(Value::Object(item));
        }
    }

    pub fn done(mut self) -> Value {
        self.0.truncate(ARRAY_LIMIT);
        Value::Array(self.0)
    }
}

/// Plain rich text.
pub fn rich(text: &str) -> Value {
    Rich::default().text(text).done()
}

fn block(kind: &str, body: Value) -> Value {
    json!({ "object": "block", "type": kind, kind: body })
}

fn heading(level: u8, text: &str) -> Value {
    block(
        &format!("heading_{level}"),
        json!({ "rich_text": rich(text) }),
    )
}

fn paragraph(text: Rich) -> Value {
    block("paragraph", json!({ "rich_text": text.done() }))
}

fn bullet(text: Rich) -> Value {
    block("bulleted_list_item", json!({ "rich_text": text.done() }))
}

fn code(text: &str) -> Value {
    block(
        "code",
        json!({ "rich_text": rich(text), "language": "plain text" }),
    )
}

/// A table with a header row; split into several tables when it exceeds 100 rows.
fn table(out: &mut Vec<Value>, header: &[&str], rows: Vec<Value>) {
    let header_row = Value::Array(header.iter().map(|h| rich(h)).collect());
    let row = |cells: Value| block("table_row", json!({ "cells": cells }));
    for part in rows.chunks(ARRAY_LIMIT - 1) {
        let mut children = Vec::with_capacity(part.len() + 1);
        children.push(row(header_row.clone()));
        children.extend(part.iter().cloned().map(row));
        out.push(block(
            "table",
            json!({
                "table_width": header.len(),
                "has_column_header": true,
                "has_row_header": false,
                "children": children,
            }),
        ));
    }
}

/// One table row from cells.
fn cells<const N: usize>(c: [Value; N]) -> Value {
    Value::Array(c.into())
}

pub fn export(input: &ExportInput<'_>, scope: Scope) -> Result<Artifact, ExportError> {
    let report = report::build(input, scope);
    let doc = json!({
        "notion_version": NOTION_VERSION,
        "databases": pages::databases(),
        "run_page": {
            "properties": pages::run_properties(input, &report),
            "children": blocks(&report),
        },
        "repo_pages": pages::repo_pages(input, &report),
        "ucf_page": pages::ucf_page(input),
        "agent_pages": pages::agent_pages(input),
    });
    let mut bytes = serde_json::to_vec_pretty(&doc)
        .map_err(|e| ExportError::Invalid(format!("notion document: {e}")))?;
    bytes.push(b'\n');
    Ok(Artifact {
        format: "notion",
        extension: "json",
        content_type: "application/json",
        bytes,
    })
}

/// The run page's body.
pub fn blocks(r: &Report<'_>) -> Vec<Value> {
    let mut b = Vec::new();
    b.push(paragraph(
        Rich::default()
            .text(&format!(
                "Run {} · trigger {} · status ",
                r.run_id, r.trigger
            ))
            .bold(r.status)
            .text(&format!(
                " · generated {} · scope {}",
                r.generated_at, r.scope
            )),
    ));
    b.push(heading(2, "Summary"));
    let rows = r
        .summary
        .iter()
        .map(|(k, v)| cells([rich(k), rich(v)]))
        .collect();
    table(&mut b, &["Metric", "Value"], rows);
    if r.show_repos {
        repos(&mut b, r);
    }
    if r.show_ucf {
        b.push(heading(2, "UCF metrics"));
        match &r.ucf {
            None => b.push(paragraph(
                Rich::default().text("No UCF state was collected."),
            )),
            Some(u) => {
                let mut line = Rich::default().text("Status ").bold(u.status);
                if let Some(p) = u.phase {
                    line = line.text(&format!(" · phase {p}"));
                }
                b.push(paragraph(line));
                let rows = u
                    .metrics
                    .iter()
                    .map(|m| {
                        let delta = m.delta_text.as_deref().unwrap_or("—");
                        cells([
                            rich(m.name),
                            rich(&m.value_text),
                            rich(&m.target_text),
                            rich(m.grade_text),
                            rich(delta),
                        ])
                    })
                    .collect();
                table(
                    &mut b,
                    &["Metric", "Value", "Target", "Status", "Change"],
                    rows,
                );
            }
        }
    }
    if r.show_agents {
        agents(&mut b, r);
    }
    changes(&mut b, r);
    b.push(heading(2, "Sources"));
    let lines: Vec<String> = r
        .sources
        .iter()
        .map(|s| {
            let err = s
                .error
                .as_deref()
                .map(|e| format!(" · {e}"))
                .unwrap_or_default();
            format!(
                "{}: {} · {} items · {} requests · {} not modified{err}",
                s.name, s.status, s.items, s.requests, s.not_modified
            )
        })
        .collect();
    b.push(code(&lines.join("\n")));
    b
}

fn repos(b: &mut Vec<Value>, r: &Report<'_>) {
    b.push(heading(2, "Repositories"));
    if r.indexed {
        repo_index(b, r);
    }
    for repo in &r.repos {
        let about = &repo.about;
        b.push(block(
            "heading_3",
            json!({ "rich_text": Rich::default().link(about.name, &about.url).done() }),
        ));
        if let Some(d) = &about.description {
            b.push(paragraph(Rich::default().text(d)));
        }
        let rows = repo
            .commits
            .iter()
            .map(|c| {
                cells([
                    Rich::default().link(c.short, c.url).done(),
                    rich(&c.message),
                    rich(c.author),
                    rich(&c.date),
                ])
            })
            .collect();
        let heading = format!(
            "Recent commits ({} of {})",
            repo.commits.len(),
            about.commits_total
        );
        b.push(paragraph(Rich::default().bold(&heading)));
        if !repo.commits.is_empty() {
            table(b, &["Commit", "Message", "Author", "Date"], rows);
        }
        for (title, list, total) in [
            ("Open issues", &repo.open_issues, about.open_issues_total),
            (
                "Open pull requests",
                &repo.open_pulls,
                about.open_pulls_total,
            ),
        ] {
            let heading = format!("{title} ({} of {total})", list.len());
            b.push(paragraph(Rich::default().bold(&heading)));
            for i in list {
                let draft = if i.draft { " (draft)" } else { "" };
                b.push(bullet(
                    Rich::default()
                        .link(&format!("#{}", i.number), i.url)
                        .text(&format!(
                            " {}{draft} — {} · updated {}",
                            i.title, i.author, i.updated
                        )),
                ));
            }
        }
        if !repo.releases.is_empty() {
            b.push(paragraph(Rich::default().bold("Releases")));
            let rows = repo
                .releases
                .iter()
                .map(|x| {
                    cells([
                        Rich::default().link(x.tag, x.url).done(),
                        rich(&x.name),
                        rich(x.kind),
                        rich(&x.published),
                    ])
                })
                .collect();
            table(b, &["Tag", "Name", "Kind", "Published"], rows);
        }
        if !repo.deployments.is_empty() {
            b.push(paragraph(Rich::default().bold("Deployments")));
            let rows = repo
                .deployments
                .iter()
                .map(|d| {
                    cells([
                        Rich::default().link(&d.id.to_string(), d.url).done(),
                        rich(d.environment),
                        rich(d.state),
                        rich(d.creator),
                        rich(&d.created),
                    ])
                })
                .collect();
            table(b, &["Id", "Environment", "State", "By", "Created"], rows);
        }
    }
}

/// One table row per repository (the table splits at Notion's 100 children), the ones with
/// a section marked.
fn repo_index(b: &mut Vec<Value>, r: &Report<'_>) {
    b.push(paragraph(Rich::default().text(&r.index_note)));
    let rows = r
        .repo_index
        .iter()
        .map(|i| {
            let mark = if i.detailed {
                report::DETAILED_MARK
            } else {
                ""
            };
            cells([
                Rich::default().text(mark).link(i.name, &i.url).done(),
                rich(&i.new_commits.to_string()),
                rich(&i.commits_total.to_string()),
                rich(&i.open_issues_total.to_string()),
                rich(&i.open_pulls_total.to_string()),
                rich(i.pushed_at.as_deref().unwrap_or("—")),
            ])
        })
        .collect();
    let head = [
        "Repository",
        "New commits",
        "Commits",
        "Open issues",
        "Open PRs",
        "Last push",
    ];
    table(b, &head, rows);
}

fn agents(b: &mut Vec<Value>, r: &Report<'_>) {
    b.push(heading(2, "Agents"));
    let t = r.agent_totals;
    b.push(paragraph(Rich::default().text(&format!(
        "{} of {} agents active · {} tasks ({} succeeded) · {} collaborations",
        t.active, t.agents, t.tasks_total, t.tasks_succeeded, t.collaborations
    ))));
    if r.agents.is_empty() {
        return;
    }
    let rows = r
        .agents
        .iter()
        .map(|a| {
            cells([
                rich(format!("{} {}", a.emoji, a.name).trim_start()),
                rich(a.role),
                rich(a.layer),
                rich(if a.active { "yes" } else { "no" }),
                rich(&a.tasks_total.to_string()),
                rich(&a.success_text),
                rich(a.last_active),
            ])
        })
        .collect();
    table(
        b,
        &[
            "Agent",
            "Role",
            "Layer",
            "Active",
            "Tasks",
            "Success",
            "Last active",
        ],
        rows,
    );
}

fn changes(b: &mut Vec<Value>, r: &Report<'_>) {
    b.push(heading(2, "Changes"));
    if let Some(g) = &r.generated {
        b.push(block(
            "quote",
            json!({"rich_text": Rich::default().bold(&format!("{}: ", g.label)).text(g.text).done()}),
        ));
    }
    let c = &r.changes;
    if c.empty {
        b.push(paragraph(
            Rich::default().text("No changes since the previous run."),
        ));
        return;
    }
    for rc in &c.repos {
        let mut line = Rich::default().bold(rc.repo);
        if rc.new_commits > 0 {
            line = line.text(&format!(": {} by {}", rc.new_commits_text, rc.authors));
            if let Some(url) = &rc.compare {
                line = line.text(" (").link("compare", url).text(")");
            }
        }
        b.push(bullet(line));
        for l in &rc.commits {
            b.push(bullet(
                Rich::default()
                    .link(&l.label, &l.url)
                    .text(&format!(" {}", l.text)),
            ));
        }
        for (what, refs) in &rc.refs {
            let mut line = Rich::default().text(&format!("{what}: "));
            for (i, l) in refs.iter().enumerate() {
                line = line
                    .text(if i > 0 { ", " } else { "" })
                    .link(&l.label, &l.url);
            }
            b.push(bullet(line));
        }
        if !rc.releases.is_empty() {
            b.push(bullet(
                Rich::default().text(&format!("New releases: {}", rc.releases.join(", "))),
            ));
        }
    }
    if !c.more_note.is_empty() {
        b.push(paragraph(Rich::default().text(&c.more_note)));
    }
    for d in &c.ucf {
        b.push(bullet(Rich::default().text(&format!(
            "UCF {}: {} → {} ({})",
            d.metric, d.before, d.after, d.delta
        ))));
    }
    for (what, names) in [("Activated", c.activated), ("Deactivated", c.deactivated)] {
        if !names.is_empty() {
            b.push(bullet(
                Rich::default().text(&format!("{what}: {}", names.join(", "))),
            ));
        }
    }
    for (name, delta) in &c.task_deltas {
        b.push(bullet(
            Rich::default().text(&format!("{name}: {delta} tasks")),
        ));
    }
}

#[cfg(test)]
mod tests;
