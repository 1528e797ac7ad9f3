//! Markdown text primitives: escaping of data, link targets, GitHub's heading slugs and the
//! line writer the report is built with. Pure string work, no knowledge of the report.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::report;

/// Writes `text` so that Markdown shows it literally, on one line, inside or outside a table.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '$' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 8);
    escape_into(&mut s, text);
    s
}

/// A URL for `(...)` link syntax: characters that would end or break the link are encoded.
pub(super) fn url_into(out: &mut String, url: &str) {
    for c in report::safe_url(url).chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            '\\' => out.push_str("%5C"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// GitHub's heading anchors: lowercase, punctuation dropped, spaces to `-`, repeats get `-1`, `-2`…
#[derive(Default)]
pub struct Slugger {
    seen: HashMap<String, usize>,
}

impl Slugger {
    pub fn slug(&mut self, heading: &str) -> String {
        let base: String = heading
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .flat_map(char::to_lowercase)
            .collect();
        // The same loop as github-slugger, so repeated and colliding headings match GitHub.
        let mut slug = base.clone();
        while self.seen.contains_key(&slug) {
            let n = self.seen.get_mut(&base).expect("the base was seen first");
            *n += 1;
            slug = format!("{base}-{n}");
        }
        self.seen.insert(slug.clone(), 0);
        slug
    }
}

pub(super) struct Writer {
    pub(super) body: String,
    pub(super) slugs: Slugger,
    /// `(level, text, slug)` of the headings that go into the table of contents.
    pub(super) toc: Vec<(usize, String, String)>,
}

impl Writer {
    /// Writes a heading; headings at level ≤ `toc_level` are listed in the contents.
    pub(super) fn heading(&mut self, level: usize, text: &str, toc: bool) {
        let slug = self.slugs.slug(text);
        for _ in 0..level {
            self.body.push('#');
        }
        self.body.push(' ');
        escape_into(&mut self.body, text);
        self.body.push_str("\n\n");
        if toc {
            self.toc.push((level, text.to_owned(), slug));
        }
    }

    pub(super) fn table_head(&mut self, columns: &[&str]) {
        self.body.push('|');
        for c in columns {
            let _ = write!(self.body, " {c} |");
        }
        self.body.push_str("\n|");
        for _ in columns {
            self.body.push_str(" --- |");
        }
        self.body.push('\n');
    }

    /// One table row; each cell is already Markdown.
    pub(super) fn row(&mut self, cells: &[&str]) {
        self.body.push('|');
        for c in cells {
            self.body.push(' ');
            self.body.push_str(if c.is_empty() { " " } else { c });
            self.body.push_str(" |");
        }
        self.body.push('\n');
    }

    pub(super) fn link(&mut self, label: &str, url: &str) {
        self.body.push('[');
        escape_into(&mut self.body, label);
        self.body.push_str("](");
        url_into(&mut self.body, url);
        self.body.push(')');
    }

    pub(super) fn showing(&mut self, shown: usize, total: usize, what: &str) {
        if total > shown {
            let _ = writeln!(self.body, "\n_Showing {shown} of {total} {what}._");
        }
        self.body.push('\n');
    }
}

pub(super) fn link(label: &str, url: &str) -> String {
    let mut s = String::new();
    s.push('[');
    escape_into(&mut s, label);
    s.push_str("](");
    url_into(&mut s, url);
    s.push(')');
    s
}
