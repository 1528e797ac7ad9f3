//! The `pdf` export: the HTML report's content typeset as a multi-page A4 document by typst,
//! a typesetting engine embedded as a library (exact versions pinned in `Cargo.toml`, behind
//! the `pdf` feature, on by default).
//!
//! Data goes to typst as data, never as markup: the report's view — the shared `report` view
//! model, its analytics text and its chart geometry, what the HTML report shows (past
//! `report::REPOS_IN_FULL` repositories, an index of all and sections for the most active) — is
//! serialised to JSON, which the fixed template `pdf/report.typ` reads with
//! `json("data.json")` and places as text. A commit message full of `#`, `$`, `*`, `[`, `\`
//! or `<` is therefore text by construction: no string from a snapshot is ever parsed by
//! typst. The fonts are the ones shipped in `assets/fonts/` (no system font is looked up),
//! parsed once per process (`world`).
//!
//! Deterministic: "today", the PDF's creation date and its document identifier come from the
//! run, never from the clock, so the same run gives the same bytes. The document conforms to
//! PDF/A-2b, which typst checks as it writes. Pure: no I/O. A report that cannot be made —
//! typst's diagnostics, or a panic inside the engine — is an [`ExportError::Pdf`], never a
//! crash and never a partial document.

mod world;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use typst::diag::SourceDiagnostic;
use typst::foundations::{Datetime, Smart};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use super::report::{self, analytics, charts, Report};
use super::{Artifact, ExportError, ExportInput, Scope};
use world::ReportWorld;

/// What the template reads from `data.json`.
#[derive(Serialize)]
struct View<'a> {
    r: Report<'a>,
    charts: charts::Charts,
    analytics: analytics::View,
}

/// The report's view as the JSON the template reads.
fn data(input: &ExportInput<'_>, scope: Scope, trend_runs: usize) -> Result<Vec<u8>, ExportError> {
    let r = report::build(input, scope);
    let computed = crate::sync::analytics::compute(input, scope);
    let view = View {
        charts: charts::of(input, &r, scope, trend_runs, Some(&computed)),
        analytics: analytics::view(&computed),
        r,
    };
    let error = |e: serde_json::Error| ExportError::Pdf(format!("the report's data: {e}"));
    let mut value = serde_json::to_value(&view).map_err(error)?;
    replace_undisplayable(&mut value);
    serde_json::to_vec(&value).map_err(error)
}

/// Replaces every character no shipped font can show (a CJK ideograph, an alchemical symbol,
/// a control character) with U+FFFD: a PDF/A document may not hold text without a glyph, and
/// a report must not fail over one character of a commit message.
fn replace_undisplayable(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if !s.chars().all(world::displayable) => {
            *s = s
                .chars()
                .map(|c| if world::displayable(c) { c } else { '\u{FFFD}' })
                .collect();
        }
        Value::Array(items) => items.iter_mut().for_each(replace_undisplayable),
        Value::Object(fields) => fields.values_mut().for_each(replace_undisplayable),
        _ => {}
    }
}

pub fn export(
    input: &ExportInput<'_>,
    scope: Scope,
    trend_runs: usize,
) -> Result<Artifact, ExportError> {
    let data = data(input, scope, trend_runs)?;
    let at = input.run.generated_at();
    let ident = &input.run.id;
    // typst is a large engine: a panic inside it costs this report, not the process.
    let bytes = std::panic::catch_unwind(|| typeset(data, at, ident)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(ExportError::Pdf(format!("the engine panicked: {what}")))
    })?;
    Ok(Artifact {
        format: "pdf",
        extension: "pdf",
        content_type: "application/pdf",
        bytes,
    })
}

/// Lays out the template over `data` and writes the PDF.
fn typeset(data: Vec<u8>, at: DateTime<Utc>, ident: &str) -> Result<Vec<u8>, ExportError> {
    let world = ReportWorld::new(data, at);
    let result = typst::compile::<PagedDocument>(&world).output;
    let pdf = result.map_err(diagnostics).and_then(|document| {
        let standards = PdfStandards::new(&[PdfStandard::A_2b])
            .map_err(|e| ExportError::Pdf(format!("PDF/A-2b: {}", e.message())))?;
        let options = PdfOptions {
            ident: Smart::Custom(ident.to_owned()),
            creator: Smart::Custom(Some("helix-sync".to_owned())),
            timestamp: Some(Timestamp::new_utc(datetime(at))),
            standards,
            ..PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options).map_err(diagnostics)
    });
    // typst memoises layout across compilations; each report's data is new, so keeping
    // those caches would only grow the process. Fonts and the library stay (`world`).
    typst::comemo::evict(0);
    pdf
}

/// The run's time as typst's datetime (the PDF's creation date).
fn datetime(at: DateTime<Utc>) -> Datetime {
    Datetime::from_ymd_hms(
        at.year(),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .expect("a chrono time is a valid date and time")
}

fn diagnostics(errors: typst::ecow::EcoVec<SourceDiagnostic>) -> ExportError {
    let messages: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
    ExportError::Pdf(messages.join("; "))
}

#[cfg(test)]
mod tests;
