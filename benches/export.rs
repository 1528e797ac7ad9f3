//! Export benchmark: all four formats of a snapshot with 3 repositories × 2,000 items.
//! Target: < 20 ms for all four together (release build). Prints per-format and total times.
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
    let input = fixture.input();
    println!(
        "export benchmark: 3 repos x {items} items, median of {iterations} runs{}",
        if quick { " (quick)" } else { "" }
    );
    let mut total = Duration::ZERO;
    for format in FORMATS {
        // One warm-up: template compilation and allocator growth are not per-export costs.
        let size = export(&config, format, &input, Scope::Full)
            .unwrap()
            .bytes
            .len();
        let samples = (0..iterations)
            .map(|_| {
                let start = Instant::now();
                let a = export(&config, format, &input, Scope::Full).unwrap();
                std::hint::black_box(a);
                start.elapsed()
            })
            .collect();
        let m = median(samples);
        total += m;
        println!(
            "  {format:<9} {:>8.3} ms  ({size} bytes)",
            m.as_secs_f64() * 1000.0
        );
    }
    println!(
        "  {:<9} {:>8.3} ms  (target < 20 ms in release)",
        "total",
        total.as_secs_f64() * 1000.0
    );
}
