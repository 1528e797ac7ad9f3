//! Markdown checked by a real GFM parser: tables keep their shape, hostile text stays text,
//! and every table-of-contents link points at a heading.

use std::collections::HashSet;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;
use crate::sync::exporters::{fixture, golden::hostile, ExportInput};

/// What the parser saw: heading texts, link targets, and every table as rows of cell texts.
#[derive(Default)]
struct Parsed {
    headings: Vec<String>,
    links: Vec<String>,
    tables: Vec<(usize, Vec<Vec<String>>)>,
    html: Vec<String>,
}

fn parse(md: &str) -> Parsed {
    let mut p = Parsed::default();
    let (mut heading, mut in_heading, mut cell) = (String::new(), false, None::<String>);
    for event in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::Heading { .. }) => (in_heading, heading) = (true, String::new()),
            Event::End(TagEnd::Heading(_)) => {
                in_heading = false;
                p.headings.push(std::mem::take(&mut heading));
            }
            Event::Start(Tag::Link { dest_url, .. }) => p.links.push(dest_url.to_string()),
            Event::Start(Tag::Table(aligns)) => p.tables.push((aligns.len(), Vec::new())),
            Event::Start(Tag::TableHead | Tag::TableRow) => {
                p.tables.last_mut().unwrap().1.push(Vec::new())
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                let row = p.tables.last_mut().unwrap().1.last_mut().unwrap();
                row.push(cell.take().unwrap());
            }
            Event::Text(t) | Event::Code(t) => {
                if in_heading {
                    heading.push_str(&t);
                }
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => p.html.push(h.to_string()),
            _ => {}
        }
    }
    p
}

fn render_fixture(
    (snapshot, changes, run, history): &(
        crate::sync::snapshot::Snapshot,
        crate::sync::snapshot::ChangeSummary,
        crate::sync::exporters::RunInfo,
        Vec<crate::sync::exporters::HistoryPoint>,
    ),
    scope: Scope,
) -> String {
    let input = ExportInput {
        run,
        snapshot,
        changes,
        history,
    };
    String::from_utf8(export(&input, scope).unwrap().bytes).unwrap()
}

fn check_structure(md: &str) -> Parsed {
    let p = parse(md);
    assert!(p.html.is_empty(), "no raw HTML: {:?}", p.html);
    let mut slugger = Slugger::default();
    let anchors: HashSet<String> = p.headings.iter().map(|h| slugger.slug(h)).collect();
    let toc: Vec<&String> = p
        .links
        .iter()
        .filter(|l| l.starts_with('#') && l.len() > 1)
        .collect();
    assert!(toc.len() >= 4, "the contents list links the sections");
    for link in toc {
        assert!(
            anchors.contains(&link[1..]),
            "anchor {link} resolves to a heading"
        );
    }
    for (columns, rows) in &p.tables {
        for row in rows {
            assert_eq!(
                row.len(),
                *columns,
                "every row has the header's cell count: {row:?}"
            );
        }
    }
    p
}

#[test]
fn every_scope_parses_with_working_anchors_and_square_tables() {
    let fx = fixture::snapshot(3, 40);
    for scope in Scope::NAMES.map(|n| Scope::parse(n).unwrap()) {
        let p = check_structure(&render_fixture(&fx, scope));
        assert!(!p.tables.is_empty(), "{scope:?} has a summary table");
    }
    let p = parse(&render_fixture(&fx, Scope::Full));
    assert!(p
        .headings
        .contains(&"helix-collective/helix-core".to_owned()));
    let commits = p.tables.iter().find(|t| t.1[0][0] == "Commit").unwrap();
    assert_eq!(
        commits.1.len(),
        1 + report::COMMITS_SHOWN,
        "header + capped commit rows"
    );
    let ucf = p
        .tables
        .iter()
        .find(|t| t.1[0] == ["Metric", "Value", "Target", "Status", "Change"]);
    assert_eq!(ucf.unwrap().1.len(), 7, "six UCF metrics");
}

#[test]
fn hostile_text_stays_inside_its_cell() {
    let fx = hostile();
    let md = render_fixture(&fx, Scope::Full);
    let p = check_structure(&md);
    let cells: Vec<&String> = p.tables.iter().flat_map(|t| t.1.iter().flatten()).collect();
    let wanted = "Fix | pipe <script>alert(1)</script> ]]> `tick` 🦀🔥 *bold* [x](javascript:alert(1)) & &lt; $x$";
    assert!(
        cells.iter().any(|c| *c == wanted),
        "the commit subject is one cell, verbatim"
    );
    assert!(cells.iter().any(|c| c.contains("<b>Agent|X</b> ]]> 🦀")));
    assert!(cells
        .iter()
        .any(|c| c == &"role `with` | pipes and newline"));
    let long = cells.iter().find(|c| c.starts_with("🦀A🦀A")).unwrap();
    assert_eq!(
        long.chars().count(),
        report::TEXT_MAX + 1,
        "a 10 KB subject is cut with an ellipsis"
    );
    for link in &p.links {
        assert!(
            link.starts_with("https://") || link.starts_with('#'),
            "link {link}"
        );
    }
}

#[test]
fn slugs_match_github() {
    let mut s = Slugger::default();
    assert_eq!(s.slug("UCF metrics"), "ucf-metrics");
    assert_eq!(
        s.slug("helix-collective/helix-core"),
        "helix-collectivehelix-core"
    );
    assert_eq!(s.slug("Recent commits"), "recent-commits");
    assert_eq!(s.slug("Recent commits"), "recent-commits-1");
    assert_eq!(s.slug("Recent commits-1"), "recent-commits-1-1");
    assert_eq!(s.slug("Émoji 🦀 Ünïcode_x"), "émoji--ünïcode_x");
}

#[test]
fn escape_neutralises_markdown_and_html() {
    assert_eq!(escape("a|b"), "a\\|b");
    assert_eq!(escape("<script>"), "&lt;script&gt;");
    assert_eq!(escape("`x`\nnext"), "\\`x\\` next");
    assert_eq!(
        escape("[l](u) *e* _u_ ~s~"),
        "\\[l\\](u) \\*e\\* \\_u\\_ \\~s\\~"
    );
}
