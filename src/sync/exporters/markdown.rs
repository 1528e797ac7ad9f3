//! The `markdown` export: a GitHub-flavoured Markdown report written with a `String` writer.
//!
//! Every piece of data goes through [`escape`], which backslash-escapes Markdown punctuation,
//! turns `<`, `>` and `&` into entities and newlines into spaces, so no commit message can end
//! a table row, open a code span, or inject HTML. Heading anchors are computed with GitHub's
//! slug rule ([`Slugger`]) as the body is written, so every table-of-contents link resolves.
//! Nothing here does I/O.

use std::fmt::Write as _;

use super::report::{self, Link, Report};
use super::{Artifact, ExportError, ExportInput, Scope};

mod text;

pub use text::{escape, escape_into, Slugger};
use text::{link, url_into, Writer};

pub fn export(input: &ExportInput<'_>, scope: Scope) -> Result<Artifact, ExportError> {
    Ok(Artifact {
        format: "markdown",
        extension: "md",
        content_type: "text/markdown; charset=utf-8",
        bytes: render(&report::build(input, scope)).into_bytes(),
    })
}

/// The whole document.
pub fn render(r: &Report<'_>) -> String {
    let mut w = Writer {
        body: String::with_capacity(64 * 1024),
        slugs: Slugger::default(),
        toc: Vec::new(),
    };
    // The title and the contents heading come first in the document, so they take their
    // slugs first.
    w.slugs.slug(r.title);
    w.slugs.slug("Contents");
    summary(&mut w, r);
    if r.show_repos {
        repos(&mut w, r);
    }
    if r.show_ucf {
        ucf(&mut w, r);
    }
    if r.show_agents {
        agents(&mut w, r);
    }
    changes(&mut w, r);
    sources(&mut w, r);

    let mut out = String::with_capacity(w.body.len() + 2048);
    let _ = write!(out, "# {}\n\nRun `", r.title);
    // Run ids are ours (UUIDs), but keep code spans safe regardless.
    out.push_str(&r.run_id.replace('`', "'"));
    out.push_str("` · trigger ");
    escape_into(&mut out, r.trigger);
    out.push_str(" · status **");
    escape_into(&mut out, r.status);
    let _ = write!(
        out,
        "** · generated {} · scope {}\n\n## Contents\n\n",
        r.generated_at, r.scope
    );
    for (level, text, slug) in &w.toc {
        for _ in 2..*level {
            out.push_str("  ");
        }
        out.push_str("- ");
        out.push_str(&link(text, &format!("#{slug}")));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&w.body);
    out
}

fn summary(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "Summary", true);
    w.table_head(&["Metric", "Value"]);
    for (label, value) in &r.summary {
        w.row(&[label, &escape(value)]);
    }
    w.body.push('\n');
}

fn repos(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "Repositories", true);
    if r.repos.is_empty() {
        w.body.push_str("No repositories are configured.\n\n");
    }
    if r.indexed {
        repo_index(w, r);
    }
    for repo in &r.repos {
        let about = &repo.about;
        w.heading(3, about.name, true);
        if let Some(d) = about.description.as_deref().filter(|d| !d.is_empty()) {
            // In emphasis, so that a leading `-` or `1.` cannot start a list.
            w.body.push('*');
            escape_into(&mut w.body, d);
            w.body.push_str("*\n\n");
        }
        w.link("View on GitHub", &about.url);
        if let (Some(stars), Some(forks)) = (about.stars, about.forks) {
            let _ = write!(w.body, " · ★ {stars} · forks {forks}");
        }
        if let Some(lang) = about.top_language {
            w.body.push_str(" · ");
            escape_into(&mut w.body, lang);
        }
        if let Some(p) = &about.pushed_at {
            let _ = write!(w.body, " · last push {p}");
        }
        w.body.push_str("\n\n");

        w.heading(4, "Recent commits", false);
        if repo.commits.is_empty() {
            w.body.push_str("No commits recorded.\n\n");
        } else {
            w.table_head(&["Commit", "Message", "Author", "Date"]);
            for c in &repo.commits {
                let mut sha = format!("[`{}`](", c.short.replace('`', ""));
                url_into(&mut sha, c.url);
                sha.push(')');
                w.row(&[&sha, &escape(&c.message), &escape(c.author), &c.date]);
            }
            w.showing(repo.commits.len(), about.commits_total, "commits");
        }
        for (title, rows, total, what) in [
            (
                "Open issues",
                &repo.open_issues,
                about.open_issues_total,
                "open issues",
            ),
            (
                "Open pull requests",
                &repo.open_pulls,
                about.open_pulls_total,
                "open pull requests",
            ),
        ] {
            w.heading(4, title, false);
            if rows.is_empty() {
                let _ = writeln!(w.body, "No {what}.\n");
                continue;
            }
            for i in rows {
                w.body.push_str("- ");
                w.link(&format!("#{}", i.number), i.url);
                w.body.push(' ');
                escape_into(&mut w.body, &i.title);
                if i.draft {
                    w.body.push_str(" (draft)");
                }
                w.body.push_str(" — ");
                escape_into(&mut w.body, i.author);
                if !i.labels.is_empty() {
                    w.body.push_str(" · ");
                    escape_into(&mut w.body, &i.labels);
                }
                let _ = writeln!(w.body, " · updated {}", i.updated);
            }
            w.showing(rows.len(), total, what);
        }
        if !repo.releases.is_empty() {
            w.heading(4, "Releases", false);
            w.table_head(&["Tag", "Name", "Kind", "Published"]);
            for x in &repo.releases {
                w.row(&[&link(x.tag, x.url), &escape(&x.name), x.kind, &x.published]);
            }
            w.showing(repo.releases.len(), repo.releases_total, "releases");
        }
        if !repo.deployments.is_empty() {
            w.heading(4, "Deployments", false);
            w.table_head(&["Id", "Environment", "Ref", "State", "By", "Created"]);
            for d in &repo.deployments {
                w.row(&[
                    &link(&d.id.to_string(), d.url),
                    &escape(d.environment),
                    &escape(d.git_ref),
                    &escape(d.state),
                    &escape(d.creator),
                    &d.created,
                ]);
            }
            w.showing(
                repo.deployments.len(),
                repo.deployments_total,
                "deployments",
            );
        }
    }
}

/// One line per repository, the ones with a section marked.
fn repo_index(w: &mut Writer, r: &Report<'_>) {
    escape_into(&mut w.body, &r.index_note);
    w.body.push_str("\n\n");
    w.table_head(&[
        "Repository",
        "New commits",
        "Commits",
        "Open issues",
        "Open PRs",
        "Last push",
    ]);
    for i in &r.repo_index {
        let mark = if i.detailed {
            report::DETAILED_MARK
        } else {
            ""
        };
        let name = format!("{mark}{}", link(i.name, &i.url));
        let nums =
            [i.commits_total, i.open_issues_total, i.open_pulls_total].map(|n| n.to_string());
        let pushed = i.pushed_at.as_deref().unwrap_or("—");
        w.row(&[
            &name,
            &i.new_commits.to_string(),
            &nums[0],
            &nums[1],
            &nums[2],
            pushed,
        ]);
    }
    w.body.push('\n');
}

fn ucf(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "UCF metrics", true);
    let Some(u) = &r.ucf else {
        w.body.push_str("No UCF state was collected.\n\n");
        return;
    };
    w.body.push_str("Status **");
    escape_into(&mut w.body, u.status);
    w.body.push_str("**");
    if let Some(p) = u.phase {
        w.body.push_str(" · phase ");
        escape_into(&mut w.body, p);
    }
    if let Some(t) = u.timestamp {
        w.body.push_str(" · recorded ");
        escape_into(&mut w.body, t);
    }
    w.body.push_str("\n\n");
    w.table_head(&["Metric", "Value", "Target", "Status", "Change"]);
    for m in &u.metrics {
        let status = match m.grade {
            Some(report::Grade::Good) => "🟢 Good",
            Some(report::Grade::Warning) => "🟡 Warning",
            Some(report::Grade::Critical) => "🔴 Critical",
            None => "—",
        };
        let delta = m.delta_text.as_deref().unwrap_or("—");
        w.row(&[
            &escape(m.name),
            &m.value_text,
            &m.target_text,
            status,
            delta,
        ]);
    }
    w.body.push('\n');
}

fn agents(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "Agents", true);
    let t = r.agent_totals;
    let _ = writeln!(
        w.body,
        "{} of {} agents active · {} tasks ({} succeeded) · {} collaborations\n",
        t.active, t.agents, t.tasks_total, t.tasks_succeeded, t.collaborations
    );
    if r.agents.is_empty() {
        return;
    }
    w.table_head(&[
        "Agent",
        "Role",
        "Layer",
        "Active",
        "Tasks",
        "Success",
        "Collaborations",
        "Last active",
    ]);
    for a in &r.agents {
        let name = escape(format!("{} {}", a.emoji, a.name).trim_start());
        let tasks = a.tasks_total.to_string();
        let collab = a.collaborations.to_string();
        w.row(&[
            &name,
            &escape(a.role),
            &escape(a.layer),
            if a.active { "yes" } else { "no" },
            &tasks,
            &a.success_text,
            &collab,
            &escape(a.last_active),
        ]);
    }
    w.body.push('\n');
}

fn links(w: &mut Writer, links: &[Link]) {
    for (i, l) in links.iter().enumerate() {
        if i > 0 {
            w.body.push_str(", ");
        }
        w.link(&l.label, &l.url);
    }
}

fn changes(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "Changes", true);
    if let Some(g) = &r.generated {
        w.body.push_str("> *");
        escape_into(&mut w.body, &g.label);
        w.body.push_str(":* ");
        escape_into(&mut w.body, g.text);
        w.body.push_str("\n\n");
    }
    let c = &r.changes;
    if c.empty {
        w.body.push_str("No changes since the previous run.\n\n");
        return;
    }
    for rc in &c.repos {
        w.body.push_str("**");
        escape_into(&mut w.body, rc.repo);
        w.body.push_str("**\n\n");
        if rc.new_commits > 0 {
            let _ = write!(w.body, "- {} by ", rc.new_commits_text);
            escape_into(&mut w.body, &rc.authors);
            if let Some(url) = &rc.compare {
                w.body.push_str(" (");
                w.link("compare", url);
                w.body.push(')');
            }
            w.body.push('\n');
            for l in &rc.commits {
                w.body.push_str("  - ");
                w.link(&l.label, &l.url);
                w.body.push(' ');
                escape_into(&mut w.body, &l.text);
                w.body.push('\n');
            }
        }
        for (what, refs) in &rc.refs {
            let _ = write!(w.body, "- {what}: ");
            links(w, refs);
            w.body.push('\n');
        }
        if !rc.releases.is_empty() {
            w.body.push_str("- New releases: ");
            escape_into(&mut w.body, &rc.releases.join(", "));
            w.body.push('\n');
        }
        if !rc.deployments.is_empty() {
            let ids: Vec<String> = rc.deployments.iter().map(u64::to_string).collect();
            let _ = writeln!(w.body, "- New deployments: {}", ids.join(", "));
        }
        w.body.push('\n');
    }
    if !c.more_note.is_empty() {
        w.body.push('_');
        escape_into(&mut w.body, &c.more_note);
        w.body.push_str("_\n\n");
    }
    if !c.ucf.is_empty() {
        w.body.push_str("**UCF**\n\n");
        for d in &c.ucf {
            w.body.push_str("- ");
            escape_into(&mut w.body, d.metric);
            let _ = writeln!(w.body, ": {} → {} ({})", d.before, d.after, d.delta);
        }
        w.body.push('\n');
    }
    if !(c.activated.is_empty() && c.deactivated.is_empty() && c.task_deltas.is_empty()) {
        w.body.push_str("**Agents**\n\n");
        for (what, names) in [("Activated", c.activated), ("Deactivated", c.deactivated)] {
            if !names.is_empty() {
                let _ = write!(w.body, "- {what}: ");
                escape_into(&mut w.body, &names.join(", "));
                w.body.push('\n');
            }
        }
        for (name, delta) in &c.task_deltas {
            w.body.push_str("- ");
            escape_into(&mut w.body, name);
            let _ = writeln!(w.body, ": {delta} tasks");
        }
        w.body.push('\n');
    }
}

fn sources(w: &mut Writer, r: &Report<'_>) {
    w.heading(2, "Sources", true);
    w.table_head(&[
        "Source",
        "Status",
        "Items",
        "Requests",
        "Not modified",
        "Error",
    ]);
    for s in &r.sources {
        let nums = [s.items, s.requests, s.not_modified].map(|n| n.to_string());
        let err = s.error.as_deref().map(escape).unwrap_or_default();
        w.row(&[
            &escape(s.name),
            &escape(s.status),
            &nums[0],
            &nums[1],
            &nums[2],
            &err,
        ]);
    }
    w.body.push('\n');
}

#[cfg(test)]
mod tests;
