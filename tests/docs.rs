//! The documentation holds together: every relative link in `README.md`, `docs/*.md` and the
//! benchmark peers' READMEs names a file of this repository, every `#fragment` names a heading
//! of the file it points into (GitHub's anchors), external links are well-formed `http(s)` URLs
//! (they are not fetched: no network here), and the README stays a short first read.
//!
//! Needs nothing but the Markdown files: it does not use the `helix_sync` crate.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

/// The README is what a newcomer reads first; the rest belongs under `docs/`.
const README_MAX_LINES: usize = 260;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The checked documents: the README, every `docs/*.md`, and the peers' READMEs.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md")];
    let mut in_docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ should exist")
        .map(|entry| entry.expect("docs/ should be readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    in_docs.sort();
    docs.extend(in_docs);
    docs.push(root.join("benches/peers/graphile-worker/README.md"));
    docs
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
}

/// What one Markdown file offers and asks for.
#[derive(Default)]
struct Document {
    /// Destinations of its links and images, in order.
    links: Vec<String>,
    /// The anchors GitHub gives its headings.
    anchors: HashSet<String>,
}

fn parse(markdown: &str) -> Document {
    let mut doc = Document::default();
    // Text of the heading being read, if inside one.
    let mut heading: Option<String> = None;
    // How many headings had each slug so far (GitHub numbers repeats: `a`, `a-1`, `a-2`).
    let mut seen: HashMap<String, usize> = HashMap::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let text = heading.take().unwrap_or_default();
                let slug = slug(&text);
                let count = seen.entry(slug.clone()).or_insert(0);
                let anchor = if *count == 0 {
                    slug.clone()
                } else {
                    format!("{slug}-{count}")
                };
                *count += 1;
                doc.anchors.insert(anchor);
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&text);
                }
            }
            // `<someone@example.com>` is a mail address, not a link to check.
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) if link_type != LinkType::Email => doc.links.push(dest_url.to_string()),
            Event::Start(Tag::Image { dest_url, .. }) => doc.links.push(dest_url.to_string()),
            _ => {}
        }
    }
    doc
}

/// GitHub's anchor for a heading: lowercase, spaces to `-`, every other character that is not
/// a letter, a digit, `-` or `_` removed.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `%20` and friends, as a browser would undo them in a path or fragment.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The scheme of an absolute URL (`https` in `https://…`), if `dest` has one.
fn scheme(dest: &str) -> Option<&str> {
    let colon = dest.find(':')?;
    let candidate = &dest[..colon];
    let before_path = !dest[..colon].contains(['/', '?', '#']);
    let well_formed = candidate
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (before_path && well_formed).then_some(candidate)
}

/// An `http(s)` URL must have a host and no spaces; it is not fetched.
fn check_external(dest: &str) -> Result<(), String> {
    if dest.chars().any(char::is_whitespace) {
        return Err("an external URL with whitespace in it".into());
    }
    let rest = dest
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| "an external URL without `://`".to_string())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err("an external URL without a host".into());
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!(
            "an external URL whose host `{host}` is not a host name"
        ));
    }
    Ok(())
}

/// `path` with `.` and `..` resolved without touching the file system; `None` when `..` climbs
/// above the file system's root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    Some(out)
}

/// A GitHub line anchor into a source file (`#L10`, `#L10-L20`).
fn is_line_anchor(fragment: &str) -> bool {
    let line = |s: &str| {
        s.strip_prefix('L')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    match fragment.split_once('-') {
        Some((from, to)) => line(from) && line(to),
        None => line(fragment),
    }
}

/// Reads and parses Markdown files once each.
struct Library {
    root: PathBuf,
    parsed: HashMap<PathBuf, Result<Document, String>>,
}

impl Library {
    fn document(&mut self, path: &Path) -> &Result<Document, String> {
        self.parsed.entry(path.to_path_buf()).or_insert_with(|| {
            fs::read_to_string(path)
                .map(|text| parse(&text))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
    }

    fn shown<'a>(&self, path: &'a Path) -> std::path::Display<'a> {
        path.strip_prefix(&self.root).unwrap_or(path).display()
    }

    /// Why the link `dest` in `file` is broken, or `Ok`.
    fn check(&mut self, file: &Path, dest: &str) -> Result<(), String> {
        if dest.is_empty() {
            return Err("an empty link".into());
        }
        if dest.starts_with("//") {
            return Err("a scheme-relative URL: write `https://`".into());
        }
        if let Some(scheme) = scheme(dest) {
            return match scheme.to_ascii_lowercase().as_str() {
                "http" | "https" => check_external(dest),
                "mailto" => Ok(()),
                other => Err(format!("a `{other}:` link, which nobody can check")),
            };
        }
        if dest.starts_with('/') {
            return Err("an absolute path: links must be relative to the Markdown file".into());
        }
        let (path_part, fragment) = match dest.split_once('#') {
            Some((path, fragment)) => (path, Some(percent_decode(fragment))),
            None => (dest, None),
        };
        let path_part = path_part.split('?').next().unwrap_or("");
        let target = if path_part.is_empty() {
            file.to_path_buf()
        } else {
            let folder = file.parent().unwrap_or(&self.root);
            let joined = folder.join(percent_decode(path_part));
            match normalize(&joined) {
                Some(target) if target.starts_with(&self.root) => target,
                _ => {
                    return Err(
                        "a path outside the repository (a reader has only the repository)".into(),
                    )
                }
            }
        };
        if !target.exists() {
            return Err(format!("{} does not exist", self.shown(&target)));
        }
        let Some(fragment) = fragment else {
            return Ok(());
        };
        if fragment.is_empty() {
            return Err("an empty `#` fragment".into());
        }
        let is_markdown = target.is_file() && target.extension().is_some_and(|e| e == "md");
        if !is_markdown {
            if target.is_file() && is_line_anchor(&fragment) {
                return Ok(());
            }
            return Err(format!(
                "the fragment `#{fragment}` points into {}, which is not a Markdown file",
                self.shown(&target)
            ));
        }
        let shown = self.shown(&target).to_string();
        match self.document(&target) {
            Err(e) => Err(e.clone()),
            Ok(doc) if doc.anchors.contains(&fragment) => Ok(()),
            Ok(_) => Err(format!(
                "{shown} has no heading with the anchor `#{fragment}`"
            )),
        }
    }
}

#[test]
fn every_link_in_the_documentation_resolves() {
    let root = repo_root();
    let mut library = Library {
        root: root.clone(),
        parsed: HashMap::new(),
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in documents(&root) {
        let links = match library.document(&file) {
            Ok(doc) => doc.links.clone(),
            Err(e) => {
                failures.push(e.clone());
                continue;
            }
        };
        let shown = library.shown(&file).to_string();
        for dest in links {
            checked += 1;
            if let Err(why) = library.check(&file, &dest) {
                failures.push(format!("{shown}: link `{dest}`: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} links in the documentation are broken:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    assert!(checked > 0, "no links found: is the documentation there?");
}

#[test]
fn the_readme_is_a_short_first_read() {
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail to a document under docs/ and link it"
    );
}

#[test]
fn anchors_are_github_s() {
    assert_eq!(
        slug("Notion conflicts: people edit the pages too"),
        "notion-conflicts-people-edit-the-pages-too"
    );
    assert_eq!(
        slug("AI-written change summaries (optional)"),
        "ai-written-change-summaries-optional"
    );
    assert_eq!(
        slug("Settings in sync_config.json"),
        "settings-in-sync_configjson"
    );
    assert_eq!(slug("Ingest: group commit"), "ingest-group-commit");
    assert_eq!(slug("SQLite ÷ PostgreSQL"), "sqlite--postgresql");

    let doc = parse("# A\n\n## `code` and *words*\n\n## A\n\n## A\n\nSee [x](#a-1).\n");
    let mut anchors: Vec<_> = doc.anchors.into_iter().collect();
    anchors.sort();
    assert_eq!(anchors, ["a", "a-1", "a-2", "code-and-words"]);
    assert_eq!(doc.links, ["#a-1"]);
}

#[test]
fn broken_links_are_caught() {
    let root = repo_root();
    let mut library = Library {
        root: root.clone(),
        parsed: HashMap::new(),
    };
    let readme = root.join("README.md");
    assert!(library.check(&readme, "docs/benchmarks.md#queue").is_ok());
    assert!(library
        .check(&readme, "https://www.standardwebhooks.com/")
        .is_ok());
    assert!(library.check(&readme, "docs/no-such-file.md").is_err());
    assert!(library
        .check(&readme, "docs/benchmarks.md#no-such-heading")
        .is_err());
    assert!(library.check(&readme, "#no-such-heading").is_err());
    assert!(library
        .check(&readme, "../shared/bench/graphile_worker_bench.sh")
        .is_err());
    assert!(library.check(&readme, "https:///path").is_err());
    assert_eq!(percent_decode("a%20b"), "a b");
    assert!(is_line_anchor("L10-L20") && !is_line_anchor("queue"));
}
