//! The PDF report: the same run gives the same bytes, the template compiles without a warning,
//! hostile text comes out literally, long reports paginate with their footer, and tools
//! nobody here wrote accept the file (poppler's `pdftotext`, `pdfinfo`, `pdffonts`; `qpdf
//! --check`). A missing tool skips its check with the reason printed, unless
//! `HELIX_REQUIRE_TOOLS=1` (CI), where it fails the test.

use std::process::Command;

use super::world::{font_count, ReportWorld};
use super::*;
use crate::sync::exporters::{fixture, golden, test_support::tool, ExportInput};

/// The golden tests' snapshot with hostile strings in every kind of text field.
fn hostile() -> fixture::Fixture {
    let (snapshot, changes, run, history) = golden::hostile();
    fixture::Fixture {
        snapshot,
        changes,
        run,
        history,
    }
}

fn pdf(input: &ExportInput<'_>) -> Vec<u8> {
    export(input, Scope::Full, 30).unwrap().bytes
}

/// Runs `program args… FILE` (plus `tail`) on `bytes` written to a file; its stdout.
fn run_on(bytes: &[u8], program: &str, args: &[&str], tail: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(program)
        .args(args)
        .arg(&file)
        .args(tail)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `pdftotext` of the whole document (or page `page`), in reading order.
fn text(bytes: &[u8], page: Option<u32>) -> String {
    let page = page.map(|p| p.to_string());
    let mut args = vec![];
    if let Some(p) = &page {
        args.extend(["-f", p.as_str(), "-l", p.as_str()]);
    }
    run_on(bytes, "pdftotext", &args, &["-"])
}

fn pages(bytes: &[u8]) -> u32 {
    let info = run_on(bytes, "pdfinfo", &[], &[]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints the page count")
}

#[test]
fn the_same_run_gives_the_same_bytes_as_a_pdf_a_document() {
    let fixture = fixture::Fixture::new(2, 12);
    let a = pdf(&fixture.input());
    let b = pdf(&fixture.input());
    assert!(a == b, "two exports of one run differ");
    assert!(a.starts_with(b"%PDF-"));
    let find = |needle: &[u8]| a.windows(needle.len()).any(|w| w == needle);
    assert!(find(b"pdfaid:part"), "declares PDF/A");
    assert!(find(b"helix-sync"), "names its creator");
    // Another run (another id and time) is another document.
    let mut other = fixture::Fixture::new(2, 12);
    other.run.id = "0193a5c0-7e11-7000-8000-00000000002b".into();
    assert!(pdf(&other.input()) != a);
}

#[test]
fn every_font_parses_and_the_template_compiles_without_a_warning() {
    assert_eq!(font_count(), 5, "one face per shipped file");
    let fixture = fixture::Fixture::new(2, 12);
    let data = data(&fixture.input(), Scope::Full, 30).unwrap();
    let world = ReportWorld::new(data, fixture.run.generated_at());
    let warned = typst::compile::<PagedDocument>(&world);
    let messages: Vec<&str> = warned.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(messages.is_empty(), "{messages:?}");
    assert!(warned.output.is_ok());
}

#[test]
fn data_the_template_cannot_read_is_a_named_pdf_error() {
    let err = typeset(b"{not json".to_vec(), fixture::base_time(), "run").unwrap_err();
    assert!(matches!(err, ExportError::Pdf(_)), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("the PDF report cannot be made: "));
    assert!(err.to_string().contains("JSON"), "{err}");
}

/// Every character typst's markup gives a meaning to, and code that would run if the text
/// were evaluated (two commit messages: each fits on one line of its cell).
const HOSTILE: [&str; 2] = [
    r#"#set page(fill: red) $x^2$ *bold* _emph_ [link] = not a heading"#,
    r#"\ "quoted" <label> @ref #eval("1+1") `raw` ~ -- end"#,
];
const ARABIC: &str = "مرحبا بالعالم";
const HEBREW: &str = "שלום עולם";
const EMOJI: &str = "🦀🔥";

#[test]
fn hostile_text_appears_literally() {
    use crate::sync::narrate::{GeneratedSummary, Narration};
    let mut f = hostile();
    f.run.generated_summary = Some(Narration::Generated(GeneratedSummary {
        kind: "generated".into(),
        model: "m-1".into(),
        text: "Calm week *not bold* #strong[x]".into(),
    }));
    let repo = f.snapshot.repos.values_mut().next().unwrap();
    repo.commits[0].message = HOSTILE[0].to_owned();
    repo.commits[1].message = HOSTILE[1].to_owned();
    repo.issues[0].title = format!("{ARABIC} {HEBREW}");
    repo.issues[1].title = format!("emoji {EMOJI} in a title");
    let bytes = pdf(&f.input());
    if !tool("pdftotext", "-v") {
        return;
    }
    let text = text(&bytes, None);
    for hostile in HOSTILE {
        assert!(text.contains(hostile), "{hostile} in {text}");
    }
    assert!(
        text.contains(&format!("emoji {EMOJI} in a title")),
        "emoji are text"
    );
    assert!(
        text.contains("Generated summary (model m-1; written by a language model): Calm week *not bold* #strong[x]"),
        "the generated summary, labelled"
    );
    for word in ARABIC.split(' ').chain(HEBREW.split(' ')) {
        // pdftotext may write right-to-left words in either order; each word is intact.
        let reversed: String = word.chars().rev().collect();
        assert!(
            text.contains(word) || text.contains(&reversed),
            "{word} in {text}"
        );
    }
    // A narrow cell may wrap the agent's name anywhere: compare without white space.
    let solid: String = text.split_whitespace().collect();
    assert!(
        solid.contains("<b>Agent|X</b>]]>🦀"),
        "the hostile agent name"
    );
}

#[test]
fn a_long_report_paginates_with_the_run_and_page_numbers_in_every_footer() {
    let fixture = fixture::Fixture::new(6, 120);
    let bytes = pdf(&fixture.input());
    if !tool("pdfinfo", "-v") || !tool("pdftotext", "-v") {
        return;
    }
    let n = pages(&bytes);
    assert!(n > 3, "{n} pages");
    for page in [1, 2, n] {
        let text = text(&bytes, Some(page));
        assert!(text.contains(&fixture.run.id), "page {page} names the run");
        assert!(
            text.contains("2026-11-25T21:15:00Z"),
            "page {page} has the time"
        );
        assert!(
            text.contains(&format!("Page {page} of {n}")),
            "page {page}: {text}"
        );
    }
    // A table that runs over a page break repeats its header row at the top of the next page.
    let continued = (2..=n)
        .filter(|p| matches!(text(&bytes, Some(*p)).lines().next(), Some("#" | "Commit")))
        .count();
    assert!(
        continued >= 2,
        "{continued} pages open with a repeated table header"
    );
}

#[test]
fn every_font_is_embedded_and_qpdf_finds_no_error() {
    let bytes = pdf(&hostile().input());
    if tool("pdffonts", "-v") {
        let fonts = run_on(&bytes, "pdffonts", &[], &[]);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert!(rows.len() >= 3, "{fonts}");
        for row in rows {
            // Columns: name, type, encoding, then `emb sub uni object generation`.
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[cols.len() - 5], "yes", "not embedded: {row}");
            assert!(
                cols[0].contains("DejaVu") || cols[0].contains("Noto"),
                "only the shipped fonts: {row}"
            );
        }
    }
    if tool("qpdf", "--version") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.pdf");
        std::fs::write(&file, &bytes).unwrap();
        let out = Command::new("qpdf")
            .arg("--check")
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("No syntax or stream encoding errors"),
            "{stdout}"
        );
    }
}

#[test]
fn characters_no_shipped_font_has_become_replacement_marks_not_a_failure() {
    let mut fixture = fixture::Fixture::new(1, 10);
    let repo = fixture.snapshot.repos.values_mut().next().unwrap();
    repo.commits[0].message = "CJK 漢字, alchemy 🜂, a bell \u{7} and 👍🏽 ❤\u{FE0F}".into();
    let bytes = pdf(&fixture.input());
    if tool("pdftotext", "-v") {
        let text = text(&bytes, None);
        assert!(
            text.contains("CJK \u{FFFD}\u{FFFD}, alchemy \u{FFFD}, a bell \u{FFFD} and 👍🏽 ❤"),
            "{text}"
        );
    }
}

#[test]
fn past_the_limit_the_document_carries_the_index_and_the_detailed_sections() {
    use crate::sync::exporters::report::REPOS_IN_FULL;
    let big = fixture::Fixture::new(REPOS_IN_FULL + 5, 4);
    let view: serde_json::Value =
        serde_json::from_slice(&data(&big.input(), Scope::Full, 30).unwrap()).unwrap();
    assert_eq!(view["r"]["indexed"], true);
    assert_eq!(
        view["r"]["repo_index"].as_array().unwrap().len(),
        REPOS_IN_FULL + 5
    );
    assert_eq!(view["r"]["repos"].as_array().unwrap().len(), REPOS_IN_FULL);
    let bytes = export(&big.input(), Scope::Full, 30).unwrap().bytes;
    if tool("pdftotext", "-v") {
        let text = text(&bytes, None);
        assert!(text.contains("30 repositories, each listed here"), "{text}");
    }
}
