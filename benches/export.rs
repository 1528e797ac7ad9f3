//! Export benchmark: the text formats of a snapshot with 3 repositories × 2,000 items (target:
//! < 20 ms for the four together, release build), then the PDF report (a build with the `pdf`
//! feature): of the same snapshot — the first report after start, which parses the fonts and
//! builds typst's library, and then a steady one — (target < 300 ms) and of a 200-repository
//! snapshot (target < 3 s), each with the peak memory of the process while it ran.
//!
//! Peak memory is `VmHWM` from `/proc/self/status`, reset before each PDF phase through
//! `/proc/self/clear_refs`, so each figure is the peak of that phase (the snapshot already
//! built included); the resident size before and after the phase is printed beside it.
//!
//! `HELIX_BENCH_QUICK=1` shrinks the input and iterations so the dev profile can check that it
//! runs: `HELIX_BENCH_QUICK=1 cargo bench --profile dev --bench export`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helix_sync::config::Config;
use helix_sync::sync::exporters::{export, fixture, Scope, FORMATS};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/self/status` figure in MB (`VmRSS`, `VmHWM`).
fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Starts a new peak: `VmHWM` becomes the current resident size.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Times `export(format)` `n` times; the median and the document's size.
fn time(config: &Config, format: &str, input: &fixture::Fixture, n: usize) -> (Duration, usize) {
    let mut size = 0;
    let samples = (0..n)
        .map(|_| {
            let start = Instant::now();
            let a = export(config, format, &input.input(), Scope::Full).unwrap();
            let took = start.elapsed();
            size = a.bytes.len();
            std::hint::black_box(a);
            took
        })
        .collect();
    (median(samples), size)
}

fn main() {
    let quick = std::env::var("HELIX_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (items, iterations) = if quick { (50, 3) } else { (2_000, 30) };
    let env: HashMap<String, String> = [(
        "HELIX_CONFIG".to_owned(),
        format!("{}/config/sync_config.json", env!("CARGO_MANIFEST_DIR")),
    )]
    .into();
    let config = Config::load(&env).expect("the repository config is valid");
    let fixture = fixture::Fixture::new(3, items);
    println!(
        "export benchmark: 3 repos x {items} items, median of {iterations} runs{}",
        if quick { " (quick)" } else { "" }
    );

    if FORMATS.contains(&"pdf") {
        // First, before anything else: the first PDF after start pays for the fonts and
        // typst's library, once per process.
        pdf_phase(&config, "pdf, first after start", &fixture, 1, "");
    }

    let mut total = Duration::ZERO;
    for format in FORMATS.iter().filter(|f| **f != "pdf") {
        // One warm-up: template compilation and allocator growth are not per-export costs.
        time(&config, format, &fixture, 1);
        let (m, size) = time(&config, format, &fixture, iterations);
        total += m;
        println!("  {format:<9} {:>8.3} ms  ({size} bytes)", ms(m));
    }
    println!(
        "  {:<9} {:>8.3} ms  (the four text formats; target < 20 ms in release)",
        "total",
        ms(total)
    );

    if !FORMATS.contains(&"pdf") {
        println!("  pdf: not in this build (the `pdf` feature is off)");
        return;
    }
    let runs = if quick { 2 } else { 10 };
    pdf_phase(&config, "pdf", &fixture, runs, "; target < 300 ms");
    let (repos, per_repo, runs) = if quick { (20, 20, 1) } else { (200, 100, 3) };
    let big = fixture::Fixture::new(repos, per_repo);
    let label = format!("pdf, {repos} repos x {per_repo} items");
    pdf_phase(&config, &label, &big, runs, "; target < 3 s");
}

/// Times `runs` PDFs of `fixture` and prints the median with the peak memory of the phase.
fn pdf_phase(config: &Config, label: &str, fixture: &fixture::Fixture, runs: usize, target: &str) {
    let before = status_mb("VmRSS");
    reset_peak();
    let (m, size) = time(config, "pdf", fixture, runs);
    println!(
        "  {label}: {:.1} ms  ({size} bytes; median of {runs}; memory {before:.1} MB before, \
         peak {:.1} MB, {:.1} MB after{target})",
        ms(m),
        status_mb("VmHWM"),
        status_mb("VmRSS")
    );
}
