//! Console pages on a large database: every page must answer in < 50 ms with 1,000,000 events
//! and 100,000 jobs.
//!
//! The database is seeded with direct SQL (rusqlite, one transaction, a few seconds) after
//! the migrations ran: events from 3 sources over 30 days, 20 repositories and 8 event types,
//! every tenth event with a job; jobs in every state (5% dead, 3% failed, 1% queued); 200 runs
//! with three deliveries each. Then the service is built on it (no workers, no scheduler), an
//! admin logs in, and each page is fetched `HELIX_BENCH_REPEAT` (default 20) times; the
//! median and the slowest are printed, beside `GET /health` on the same database as the
//! reference (the report every console page builds on).
//!
//! Run: `cargo bench --bench console` (`HELIX_BENCH_QUICK=1`: 20,000 events, 2,000 jobs;
//! `HELIX_BENCH_EVENTS` / `HELIX_BENCH_JOBS` to size it).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use helix_sync::auth::Principal;
use helix_sync::config::Config;
use helix_sync::startup::{Application, Options};
use helix_sync::store::{Compressed, Store};

const DAY: i64 = 86_400_000;
const TYPES: [&str; 8] = [
    "push",
    "pull_request",
    "issues",
    "release",
    "star",
    "deployment",
    "ritual.completed",
    "manual.trigger",
];
const STATES: [(&str, u32); 6] = [
    ("succeeded", 90),
    ("dead", 5),
    ("failed", 3),
    ("queued", 1),
    ("cancelled", 1),
    ("running", 0),
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seeds `events` events and `jobs` jobs into the SQLite file at `path`.
fn seed(path: &std::path::Path, events: usize, jobs: usize, now: i64) {
    let mut db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .unwrap();
    let tx = db.transaction().unwrap();
    let payload = Compressed::new(
        &serde_json::json!({"ref": "refs/heads/main", "repository": {"full_name": "helix/repo-0"}, "commits": []})
            .to_string(),
    );
    {
        let mut job = tx
            .prepare(
                "INSERT INTO jobs (id, kind, payload, coalesce_key, state, priority, run_at, attempts, \
                 max_attempts, last_error, created_at, updated_at, finished_at, lane) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 1, 5, ?7, ?6, ?6, ?8, ?9)",
            )
            .unwrap();
        let total: u32 = STATES.iter().map(|(_, w)| w).sum();
        for i in 0..jobs {
            let at = now - 30 * DAY + (i as i64 * 30 * DAY) / jobs as i64;
            let mut pick = (i as u32 * 7919) % total;
            let state = STATES
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap()
                .0;
            let publish = i % 4 == 0;
            let (kind, body, lane) = if publish {
                (
                    "publish",
                    format!(
                        r#"{{"type":"publish","run_id":"run-{}","target":"discord"}}"#,
                        i % 200
                    ),
                    Some("discord"),
                )
            } else {
                (
                    "sync",
                    format!(
                        r#"{{"type":"sync","scope":{{"kind":"repo","repo":"helix/repo-{}"}},"sources":["github"],"targets":null,"trigger":{{"kind":"webhook","event":"push"}}}}"#,
                        i % 20
                    ),
                    None,
                )
            };
            let error =
                matches!(state, "dead" | "failed").then_some("upstream answered 502 Bad Gateway");
            let finished = matches!(state, "succeeded" | "dead" | "cancelled").then_some(at + 1000);
            job.execute(rusqlite::params![
                format!("job-{i:08}"),
                kind,
                body,
                // Unique keys: the seeded history never coalesces.
                format!("seed:{i}"),
                state,
                at,
                error,
                finished,
                lane,
            ])
            .unwrap();
        }
        let mut ev = tx
            .prepare(
                "INSERT INTO events (id, source, delivery_id, event_type, hook_id, repo, headers, payload, \
                 payload_zstd, received_at, job_id) VALUES (?1, ?2, ?3, ?4, NULL, ?5, '{}', '', ?6, ?7, ?8)",
            )
            .unwrap();
        for i in 0..events {
            let at = now - 30 * DAY + (i as i64 * 30 * DAY) / events as i64;
            let ty = TYPES[i % TYPES.len()];
            let source = match ty {
                "ritual.completed" => "ritual",
                "manual.trigger" => "manual",
                _ => "github",
            };
            let job = (i % 10 == 0).then(|| format!("job-{:08}", (i / 10) % jobs.max(1)));
            ev.execute(rusqlite::params![
                // Time-ordered ids like UUIDv7's.
                format!("{at:013}-{i:08}"),
                source,
                format!(
                    "{:08x}-delivery-{i}",
                    (i as u64).wrapping_mul(2_654_435_761) as u32
                ),
                ty,
                (source == "github").then(|| format!("helix/repo-{}", i % 20)),
                payload.as_bytes(),
                at,
                job,
            ])
            .unwrap();
        }
        let mut run = tx
            .prepare(
                "INSERT INTO sync_runs (id, job_id, trigger, started_at, finished_at, duration_ms, status) \
                 VALUES (?1, NULL, 'schedule:hourly', ?2, ?3, 4200, ?4)",
            )
            .unwrap();
        let mut delivery = tx
            .prepare(
                "INSERT INTO deliveries (run_id, target, state, attempts, last_error, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)",
            )
            .unwrap();
        for r in 0..200i64 {
            let at = now - (200 - r) * 3_600_000;
            run.execute(rusqlite::params![
                format!("run-{r}"),
                at,
                at + 4200,
                if r % 10 == 0 { "partial" } else { "succeeded" }
            ])
            .unwrap();
            for (t, state) in [
                ("discord", if r % 17 == 0 { "dead" } else { "succeeded" }),
                ("notion", "disabled"),
                ("portal", "succeeded"),
            ] {
                let err = (state == "dead").then_some("Discord answered 500");
                delivery
                    .execute(rusqlite::params![
                        format!("run-{r}"),
                        t,
                        state,
                        err,
                        at + 5000
                    ])
                    .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    db.execute_batch("ANALYZE;").unwrap();
}

#[tokio::main]
async fn main() {
    let quick = common::quick();
    let events = env_or("HELIX_BENCH_EVENTS", if quick { 20_000 } else { 1_000_000 });
    let jobs = env_or("HELIX_BENCH_JOBS", if quick { 2_000 } else { 100_000 });
    let repeat = env_or("HELIX_BENCH_REPEAT", 20);
    let dir = tempfile::tempdir().unwrap();
    // `HELIX_BENCH_DB=path`: seed that file once and keep it, to look at plans afterwards
    // (`sqlite3 path 'EXPLAIN QUERY PLAN …'`) or to re-run the pages without seeding again.
    let kept = std::env::var("HELIX_BENCH_DB")
        .ok()
        .map(std::path::PathBuf::from);
    let db = kept
        .clone()
        .unwrap_or_else(|| dir.path().join("console.db"));
    let url = format!("sqlite://{}", db.display());
    let seeded = kept.as_ref().is_some_and(|p| p.exists());
    Store::connect(&url).await.unwrap().close().await;
    let now = if seeded {
        // The pages' time filters are relative to when the file was seeded.
        let db = rusqlite::Connection::open(&db).unwrap();
        let first: i64 = db
            .query_row("SELECT MIN(received_at) FROM events", [], |r| r.get(0))
            .unwrap();
        first + 30 * DAY
    } else {
        let now = helix_sync::store::now_ms();
        let started = Instant::now();
        seed(&db, events, jobs, now);
        eprintln!(
            "seeded {events} events and {jobs} jobs in {:.1} s ({:.0} MiB)",
            started.elapsed().as_secs_f64(),
            std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0
        );
        now
    };

    let root = env!("CARGO_MANIFEST_DIR");
    let env: HashMap<String, String> = [
        ("HELIX_CONFIG", format!("{root}/config/sync_config.json")),
        ("HELIX_BIND", "127.0.0.1:0".to_owned()),
        ("HEALTH_CHECK_ENABLED", "false".to_owned()),
        ("DATABASE_URL", url.clone()),
        (
            "EXPORT_PATH",
            dir.path().join("exports").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::load(&env).unwrap();
    let options = Options {
        workers: false,
        scheduler: false,
        runner: None,
    };
    let app = Application::build(config, options).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let context = app.app().clone();
    let added = helix_sync::service::users::add_user(
        &context,
        &Principal::cli(),
        "bench",
        "admin",
        "bench-password",
    )
    .await;
    // A kept database has the user from its first run.
    assert!(added.is_ok() || seeded, "{:?}", added.err());
    let server = tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = login(&client, &base).await;
    let mid = events / 2;
    let mid_at = now - 30 * DAY + (mid as i64 * 30 * DAY) / events as i64;
    let pages = [
        "/health".to_owned(),
        "/console".into(),
        "/console/events".into(),
        "/console/events?source=github&type=push".into(),
        "/console/events?repo=helix%2Frepo-7".into(),
        "/console/events?type=release&outcome=dead".into(),
        "/console/events?outcome=succeeded".into(),
        "/console/events?outcome=dead".into(),
        format!(
            "/console/events?delivery={:08x}",
            (mid as u64).wrapping_mul(2_654_435_761) as u32
        ),
        format!("/console/events?after={mid_at}.{mid_at:013}-{mid:08}"),
        "/console/events?from=2026-11-20T00:00&to=2026-11-21T00:00".into(),
        format!("/console/events/{mid_at:013}-{mid:08}"),
        "/console/events/replay?source=ritual".into(),
        "/console/rejected".into(),
        "/console/jobs".into(),
        "/console/jobs?state=dead".into(),
        "/console/jobs?kind=publish&target=discord&state=failed".into(),
        "/console/jobs?error=Gateway".into(),
        format!("/console/jobs/job-{:08}", jobs / 2),
        "/console/jobs/bulk?state=dead&action=retry".into(),
        "/console/deliveries".into(),
        "/console/runs/run-100".into(),
        "/console/schedules".into(),
        "/console/users".into(),
        "/console/audit".into(),
    ];
    println!(
        "console pages, {events} events, {jobs} jobs, {repeat} requests each (median / slowest):"
    );
    let mut reference = Duration::ZERO;
    let mut worst = (Duration::ZERO, String::new());
    for path in &pages {
        let mut times = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let t = Instant::now();
            let res = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            let status = res.status();
            res.bytes().await.unwrap();
            times.push(t.elapsed());
            assert!(status.is_success(), "{path}: {status}");
        }
        times.sort();
        let median = common::percentile(&times, 50.0);
        let max = *times.last().unwrap();
        if path == "/health" {
            reference = median;
        } else if median > worst.0 {
            worst = (median, path.clone());
        }
        let ratio = median.as_secs_f64() / reference.as_secs_f64().max(1e-9);
        let flag = if median > Duration::from_millis(50) {
            "  OVER 50 ms"
        } else {
            ""
        };
        println!(
            "  {path:<64} {:>9}  {:>9}  {ratio:>5.1}× /health{flag}",
            common::ms(median),
            common::ms(max)
        );
    }
    println!("slowest page (median): {} {}", worst.1, common::ms(worst.0));
    server.abort();
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let page = client
        .get(format!("{base}/console/login"))
        .send()
        .await
        .unwrap();
    let set = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let login_cookie = set.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let body = format!("username=bench&password=bench-password&csrf={csrf}&next=");
    let res = client
        .post(format!("{base}/console/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "login");
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("helix_session="))
        .unwrap();
    session.split(';').next().unwrap().to_owned()
}
