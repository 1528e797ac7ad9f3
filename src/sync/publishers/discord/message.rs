//! The Discord message for a run: a content line with the configured role mentions and one
//! rich embed (status colour, quick stats, change summary with GitHub links, version
//! footer), cut to Discord's limits. Pure: no I/O. It must never say something the run did
//! not learn: a part the run did not collect is shown as "last known" or left out.

use serde::Serialize;
use serde_json::{json, Value};

use super::super::limits::{self, discord as lim, truncate};
use super::super::stats::{change_lines_within, QuickStats};
use super::super::PublishContext;
use crate::config::Config;
use crate::sync::exporters::markdown::escape;
use crate::sync::exporters::report::{count, number, GeneratedView};
use crate::sync::narrate::Narration;

#[derive(Debug, Serialize)]
struct Embed {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    description: String,
    color: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    fields: Vec<Field>,
    footer: Footer,
}

#[derive(Debug, Serialize)]
struct Field {
    name: String,
    value: String,
    inline: bool,
}

#[derive(Debug, Serialize)]
struct Footer {
    text: String,
}

impl Embed {
    fn text_len(&self) -> usize {
        let fields: usize = self
            .fields
            .iter()
            .map(|f| limits::chars(&f.name) + limits::chars(&f.value))
            .sum();
        limits::chars(&self.title)
            + limits::chars(&self.description)
            + limits::chars(&self.footer.text)
            + fields
    }

    /// Cuts every part to its limit, then the description and, if need be, trailing
    /// fields until the whole embed is within the 6,000-character total.
    fn fit(&mut self) {
        self.title = truncate(&self.title, lim::TITLE);
        self.description = truncate(&self.description, lim::DESCRIPTION);
        self.footer.text = truncate(&self.footer.text, lim::FOOTER);
        self.fields.truncate(lim::FIELDS);
        for f in &mut self.fields {
            f.name = truncate(&f.name, lim::FIELD_NAME);
            f.value = truncate(&f.value, lim::FIELD_VALUE);
        }
        let over = self.text_len().saturating_sub(lim::EMBED_TOTAL);
        if over > 0 {
            let keep = limits::chars(&self.description).saturating_sub(over).max(1);
            self.description = truncate(&self.description, keep);
        }
        while self.text_len() > lim::EMBED_TOTAL && self.fields.pop().is_some() {}
    }
}

fn colour(status: &str) -> u32 {
    match status {
        "succeeded" => 0x2ECC71,
        "partial" => 0xF1C40F,
        "failed" => 0xE74C3C,
        _ => 0x95A5A6,
    }
}

/// Role ids that are real snowflakes; anything else (`everyone`, names) is dropped so a
/// config typo can never ping everyone.
fn mention_roles(config: &Config) -> Vec<String> {
    config
        .file
        .publishers
        .discord
        .mention_roles
        .iter()
        .map(|r| r.trim().trim_start_matches("<@&").trim_end_matches('>'))
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
        .collect()
}

/// How a source stands in a run: collected now, carried over from an earlier run, or never
/// known. A field is shown only when there is something to show, and marked "last known"
/// when this run did not collect it (a push-triggered run collects GitHub only).
fn field_name(cx: &PublishContext<'_>, source: &str, name: &str) -> String {
    match cx.snapshot.sources.get(source).map(|s| s.status.as_str()) {
        Some("ok") | None => name.to_owned(),
        Some(_) => format!("{name} (last known)"),
    }
}

/// The inline fields: GitHub, UCF and agents, each left out when the snapshot has nothing
/// for it (rather than "no data" or "0/0 active", which read as an outage).
fn stat_fields(cx: &PublishContext<'_>, stats: &QuickStats) -> Vec<Field> {
    let mut fields = Vec::new();
    let g = &stats.github;
    if g.repos > 0 {
        fields.push(Field {
            name: field_name(cx, "github", "GitHub"),
            value: format!(
                "{} · {}\n★ {} · {} · {}",
                count(g.repos, "repo"),
                count(g.new_commits, "new commit"),
                g.stars,
                count(g.open_issues, "open issue"),
                count(g.open_pulls, "open PR"),
            ),
            inline: true,
        });
    }
    if let Some(u) = &stats.ucf {
        fields.push(Field {
            name: field_name(cx, "ucf_state", "UCF"),
            value: match u.harmony {
                Some(h) => format!("harmony {}\n{}", number(h), u.status),
                None => u.status.clone(),
            },
            inline: true,
        });
    }
    let a = &stats.agents;
    if a.agents > 0 {
        fields.push(Field {
            name: field_name(cx, "agent_metrics", "Agents"),
            value: format!(
                "{}/{} active\n{}",
                a.active,
                a.agents,
                count(a.tasks_total, "task")
            ),
            inline: true,
        });
    }
    fields
}

/// Room kept in the description for a rollback's opening sentence.
const SENTENCE: usize = 200;

/// Room for the lines a rollback takes back (the description less its opening sentence).
pub(super) const UNDONE_CHARS: usize = lim::DESCRIPTION - SENTENCE;

/// The webhook body for a run, within every limit. Export files are not listed: their paths
/// are the server's and the export API needs the bearer token, so neither is a link a
/// Discord reader could follow; the embed links to the run's status page instead (under
/// `HELIX_PUBLIC_URL`).
///
/// A rollback run's message says what was rolled back, to which run and by whom; `undone`
/// lists the changes since the restored run that it takes back.
pub(super) fn message(cx: &PublishContext<'_>, undone: &[String]) -> Value {
    let run = &cx.run;
    let stats = QuickStats::of(&cx.snapshot, &cx.changes);
    let rollback = Rollback::of(cx);
    let mut fields = stat_fields(cx, &stats);
    if let Some(g) = cx
        .run
        .generated_summary
        .as_ref()
        .and_then(Narration::generated)
    {
        let view = GeneratedView::of(g);
        fields.push(Field {
            name: view.label,
            value: escape(view.text),
            inline: false,
        });
    }
    let conflicts = conflict_lines(cx);
    if !conflicts.is_empty() {
        fields.push(Field {
            name: "Notion edits kept (conflicts)".into(),
            value: conflicts.join("\n"),
            inline: false,
        });
    }
    let failing: Vec<String> = cx
        .snapshot
        .sources
        .iter()
        .filter(|(_, s)| s.status == "error")
        .map(|(n, s)| format!("{n}: {}", s.error.as_deref().unwrap_or("failed")))
        .collect();
    if !failing.is_empty() {
        fields.push(Field {
            name: "Source errors".into(),
            value: failing.join("\n"),
            inline: false,
        });
    }
    let title = match &rollback {
        Some(r) => format!("Helix sync rolled back to run {}", r.to),
        None => format!("Helix sync {}: {}", run.status, run.trigger),
    };
    let footer = format!("helix-sync v{} · run {}", env!("CARGO_PKG_VERSION"), run.id);
    // What the embed's 6,000 characters leave for the description once everything else is
    // in (an organisation's first sync changes hundreds of repositories).
    let others: usize = [&title, &footer]
        .iter()
        .map(|t| limits::chars(t))
        .sum::<usize>()
        + fields
            .iter()
            .map(|f| limits::chars(&f.name) + limits::chars(&f.value).min(lim::FIELD_VALUE))
            .sum::<usize>();
    let budget = lim::DESCRIPTION.min(lim::EMBED_TOTAL.saturating_sub(others));
    let lines = change_lines_within(&cx.changes, &cx.snapshot, budget.saturating_sub(SENTENCE));
    let description = match (&rollback, lines.is_empty()) {
        (Some(r), _) if !undone.is_empty() => format!(
            "{}\nTaken back (changes since run `{}`):\n{}",
            r.sentence(),
            r.to,
            undone.join("\n")
        ),
        (Some(r), true) => format!("{}\nThe published data does not change.", r.sentence()),
        (Some(r), false) => format!("{}\n{}", r.sentence(), lines.join("\n")),
        (None, true) => "No changes since the last run.".to_owned(),
        (None, false) => lines.join("\n"),
    };
    let public = cx
        .config()
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'));
    let mut embed = Embed {
        title,
        url: public.map(|u| format!("{u}/?run={}", run.id)),
        description,
        color: colour(&run.status),
        timestamp: run.finished_at.map(crate::timestamp::secs),
        fields,
        footer: Footer { text: footer },
    };
    embed.fit();
    let roles = mention_roles(cx.config());
    let mentions: String = roles.iter().map(|r| format!("<@&{r}> ")).collect();
    let commits = match stats.github.new_commits {
        0 => String::new(),
        n => format!(" ({})", count(n, "new commit")),
    };
    let content = match &rollback {
        Some(r) => format!("{mentions}{}", r.sentence()),
        None => format!(
            "{mentions}Helix sync run `{}` {}{commits}",
            run.id, run.status
        ),
    };
    json!({
        "content": truncate(&content, lim::CONTENT),
        "embeds": [embed],
        // Nothing is pinged unless listed here: never @everyone, only the configured roles.
        "allowed_mentions": {"parse": [], "roles": roles},
    })
}

/// A rollback run's facts, for its one message: what was rolled back, to which run, by whom.
struct Rollback<'a> {
    to: &'a str,
    from: Option<&'a str>,
    by: &'a str,
}

impl<'a> Rollback<'a> {
    fn of(cx: &'a PublishContext<'_>) -> Option<Self> {
        Some(Self {
            to: cx.meta.rollback_to.as_deref()?,
            from: cx.meta.rollback_from.as_deref(),
            by: cx.meta.requested_by.as_deref().unwrap_or("unknown"),
        })
    }

    fn sentence(&self) -> String {
        match self.from {
            Some(from) => format!(
                "Helix sync rolled back from run `{from}` to run `{}` by {}.",
                self.to, self.by
            ),
            None => format!(
                "Helix sync rolled back to run `{}` by {}.",
                self.to, self.by
            ),
        }
    }
}

/// One line per Notion conflict the run's Notion delivery flagged (it goes first when both
/// are due; see `publishers::deliver`).
fn conflict_lines(cx: &PublishContext<'_>) -> Vec<String> {
    let conflicts: Vec<crate::sync::publishers::notion::conflicts::Conflict> = cx
        .meta
        .conflicts
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    conflicts.iter().map(|c| c.line()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_embed_fits_every_limit() {
        let mut e = Embed {
            title: "t".repeat(400),
            url: None,
            description: "d".repeat(9000),
            color: 0,
            timestamp: None,
            fields: (0..30)
                .map(|i| Field {
                    name: format!("{i}").repeat(300),
                    value: "v".repeat(2000),
                    inline: true,
                })
                .collect(),
            footer: Footer {
                text: "f".repeat(3000),
            },
        };
        e.fit();
        assert!(e.text_len() <= lim::EMBED_TOTAL);
        assert!(e.fields.len() <= lim::FIELDS);
        assert!(limits::chars(&e.title) <= lim::TITLE);
        assert!(e
            .fields
            .iter()
            .all(|f| limits::chars(&f.value) <= lim::FIELD_VALUE));
    }

    #[test]
    fn only_numeric_roles_are_mentioned() {
        let mut c = Config::load(
            &[(
                "HELIX_CONFIG".to_owned(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json").to_owned(),
            )]
            .into(),
        )
        .unwrap();
        c.file.publishers.discord.mention_roles = vec![
            "123".into(),
            "<@&456>".into(),
            "everyone".into(),
            "@here".into(),
        ];
        assert_eq!(mention_roles(&c), ["123", "456"]);
    }
}
