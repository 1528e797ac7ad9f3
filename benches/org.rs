//! A whole organisation as a GitHub App sees it: 500 repositories (`HELIX_BENCH_QUICK=1`:
//! 50) in one installation of the fake GitHub (`tests/api/sync_fake.rs` and its organisation
//! side), every answer 50 ms late (`HELIX_BENCH_LATENCY_MS`), synced by the real binary
//! (`helix-sync sync --sources github`, the release build `cargo bench` made) with its
//! shipped settings (8 requests in flight).
//!
//! It prints, each with its time, requests (REST and GraphQL), the REST budget spent and the
//! binary's peak resident set (`VmHWM`):
//! - the first full sync (every repository read from scratch);
//! - a no-change cycle with change markers (the default: one GraphQL query per 100
//!   repositories; target under 3 s and no REST budget spent);
//! - the same no-change cycle with `change_markers: "rest"` (every repository's six
//!   resources asked conditionally: free, but slow), for comparison;
//! - a cycle after one change of each kind (commit, issue, pull request, release,
//!   deployment) in five repositories, which must show all five.
//!
//! Targets (issue 33): no-change cycle < 3 s and free of REST budget; peak RSS < 100 MB.
//! Run: `cargo bench --bench org`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::app::sync_fake::FakeGithub;
use serde_json::Value;
use wiremock::MockServer;

const APP_ID: &str = "424242";
const PUBLIC: &str = include_str!("../tests/data/github-app-test-key.pub.pem");

fn main() {
    let repos = if common::quick() { 50 } else { 500 };
    let latency: u64 = std::env::var("HELIX_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench(repos, Duration::from_millis(latency)));
}

/// What one cycle cost.
struct Cycle {
    elapsed: Duration,
    rest: usize,
    graphql: usize,
    not_modified: usize,
    rest_budget: u64,
    peak_mb: f64,
    run: Value,
}

async fn bench(n: usize, latency: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = MockServer::start().await;
    let fake = FakeGithub::default();
    fake.enable_org(APP_ID, PUBLIC, None);
    let names: Vec<String> = (0..n).map(|i| format!("helix/repo-{i:03}")).collect();
    for (i, repo) in names.iter().enumerate() {
        fake.add_commits(repo, 20, i as i64 * 60);
        fake.add_issues(repo, 5, 0);
        fake.add_pull(repo, "open", false, 10);
        fake.add_release(repo, 1, "v1.0.0", 20);
        fake.add_deployment(repo, 1, "production", 30);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    fake.add_installation(1, "helix", &refs);
    // An installation's budget grows with the organisation: 5,000 an hour plus 50 per
    // repository over 20, up to 12,500 (GitHub's documented rule).
    fake.org(|o| o.budget_limit = (5000 + 50 * n.saturating_sub(20) as u64).min(12_500));
    fake.set_delay(latency);
    fake.mount(&server).await;

    let rest_config = dir.path().join("rest.json");
    std::fs::write(
        &rest_config,
        r#"{"sources": {"github": {"change_markers": "rest"}}}"#,
    )
    .expect("config");
    println!(
        "org bench: {n} repositories in one GitHub App installation, every answer {} ms late, \
         synced by `helix-sync sync --sources github` (8 requests in flight)",
        latency.as_millis()
    );
    let first = cycle(&fake, &server, dir.path(), None);
    report("first full sync", &first);
    let quiet = cycle(&fake, &server, dir.path(), None);
    report("no change (markers)", &quiet);
    let rest = cycle(&fake, &server, dir.path(), Some(&rest_config));
    report("no change (rest)", &rest);

    fake.add_commit(&names[0], "feedface", "A change", "dev", 99_999);
    let issue = fake.add_issue(&names[1], "open", 99_999);
    let pull = fake.add_pull(&names[2], "open", false, 99_999);
    fake.add_release(&names[3], 77, "v2.0.0", 99_999);
    fake.add_deployment(&names[4], 88, "production", 99_999);
    let changed = cycle(&fake, &server, dir.path(), None);
    report("five repositories changed", &changed);
    let changes = &changed.run["change_summary"]["repos"];
    let shows = changes[&names[0]]["new_commits"] == 1
        && changes[&names[1]]["issues_opened"][0] == issue
        && changes[&names[2]]["prs_opened"][0] == pull
        && changes[&names[3]]["new_releases"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        && changes[&names[4]]["new_deployments"]
            .as_array()
            .is_some_and(|d| !d.is_empty());
    println!("  every change shows: {shows}");
    if !shows {
        for name in &names[..5] {
            println!("    {name}: {}", changes[name]);
        }
    }

    let pass = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: no-change cycle {:.2} s < 3 s: {}; no REST budget spent ({}): {}; peak RSS {:.1} MB < 100 MB: {}",
        quiet.elapsed.as_secs_f64(),
        pass(quiet.elapsed < Duration::from_secs(3)),
        quiet.rest_budget,
        pass(quiet.rest_budget == 0),
        first.peak_mb.max(quiet.peak_mb).max(changed.peak_mb),
        pass(first.peak_mb.max(quiet.peak_mb).max(changed.peak_mb) < 100.0),
    );
}

fn report(what: &str, c: &Cycle) {
    println!(
        "{what:<26} {:>8.2} s  {:>5} REST requests ({} answered 304)  {:>3} GraphQL  REST budget spent {:>5}  peak RSS {:>6.1} MB  run {}",
        c.elapsed.as_secs_f64(),
        c.rest,
        c.not_modified,
        c.graphql,
        c.rest_budget,
        c.peak_mb,
        c.run["status"].as_str().unwrap_or("?"),
    );
}

/// One `helix-sync sync --sources github` on the bench's database, watched from outside.
fn cycle(fake: &FakeGithub, server: &MockServer, dir: &Path, config: Option<&Path>) -> Cycle {
    fake.clear_log();
    let budget_before = fake.org(|o| o.spent("installation:1", "core"));
    let root = env!("CARGO_MANIFEST_DIR");
    let defaults = format!("{root}/tests/data/defaults.json");
    // The run record goes to a file: a pipe nobody reads until the end would fill and stop it.
    let record = dir.join("run.json");
    let stdout = std::fs::File::create(&record).expect("the record's file");
    // `HELIX_BENCH_WRAPPER="heaptrack -o /tmp/org"` (or valgrind's massif) profiles each
    // cycle's process.
    let wrapper: Vec<String> = std::env::var("HELIX_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let binary = common::push::service_binary().display().to_string();
    let (program, args) = match wrapper.split_first() {
        Some((w, rest)) => (w.clone(), [rest.to_vec(), vec![binary]].concat()),
        None => (binary, Vec::new()),
    };
    let mut child = Command::new(program)
        .args(args)
        .args([
            "sync",
            "--sources",
            "github",
            "--targets",
            "portal",
            "--json",
        ])
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}/org.db", dir.display()))
        .env("EXPORT_PATH", dir.join("exports"))
        .env(
            "HELIX_CONFIG",
            config.map_or(defaults, |c| c.display().to_string()),
        )
        .env("GITHUB_API_URL", server.uri())
        .env("GITHUB_APP_ID", APP_ID)
        .env(
            "GITHUB_APP_PRIVATE_KEY_FILE",
            format!("{root}/tests/data/github-app-test-key.pem"),
        )
        .env("GITHUB_REPOS", "helix/*")
        .env("RUST_LOG", "warn")
        // As the Docker image runs it (see the memory bench).
        .env(
            "MALLOC_ARENA_MAX",
            std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into()),
        )
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the service binary runs");
    let started = Instant::now();
    let pid = child.id();
    let mut peak_mb: f64 = 0.0;
    // The high-water mark is read until the process is gone (its last reading is the peak).
    while child.try_wait().expect("the child").is_none() {
        peak_mb = peak_mb.max(common::process::status_mb(pid, "VmHWM"));
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let run: Value = std::fs::read(&record)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let log = fake.log();
    Cycle {
        elapsed,
        rest: log.iter().filter(|l| l.path != "/graphql").count(),
        graphql: log.iter().filter(|l| l.path == "/graphql").count(),
        not_modified: log.iter().filter(|l| l.status == 304).count(),
        rest_budget: fake.org(|o| o.spent("installation:1", "core")) - budget_before,
        peak_mb,
        run,
    }
}
