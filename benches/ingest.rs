//! Ingest throughput: signed 7 KB `push` deliveries over HTTP/1.1 keep-alive, 64
//! connections, against the real release binary (its own process, SQLite in a temp dir,
//! synchronous=FULL), next to a bare axum handler answering 202 with no work, measured by the
//! same load generator in the same run. Target: ≥ 60% of the bare handler's rate, p99 < 10 ms.
//!
//! Run: `cargo bench --bench ingest` (HELIX_BENCH_QUICK=1 for a smoke run). With
//! `HELIX_BENCH_DATABASE_URL=postgres://…` the service stores into PostgreSQL instead.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::routing::post;
use helix_sync::config::Secret;
use helix_sync::ingest::github;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 64;

/// A ~7 KB push shaped like GitHub's own: a repository object full of API URLs, the sender,
/// and commits whose SHAs are random hex. Its repetition is a real push's repetition, so
/// the compression the store applies gets no easier a ride here than in production.
fn payload() -> Vec<u8> {
    let sha = |seed: &str| hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_owned();
    let api = "https://api.github.com";
    let user = |login: &str, id: u64| {
        let mut u = serde_json::json!({
            "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "gravatar_id": "", "url": format!("{api}/users/{login}"),
            "html_url": format!("https://github.com/{login}"), "type": "User", "site_admin": false,
        });
        for (k, path) in [
            ("followers_url", "followers"),
            ("following_url", "following{/other_user}"),
            ("gists_url", "gists{/gist_id}"),
            ("starred_url", "starred{/owner}{/repo}"),
            ("subscriptions_url", "subscriptions"),
            ("organizations_url", "orgs"),
            ("repos_url", "repos"),
            ("events_url", "events{/privacy}"),
            ("received_events_url", "received_events"),
        ] {
            u[k] = format!("{api}/users/{login}/{path}").into();
        }
        u
    };
    let repo_url = format!("{api}/repos/helix-collective/helix-core");
    let mut repository = serde_json::json!({
        "id": 718_204_551, "node_id": "R_kgDOKs8xhw", "name": "helix-core",
        "full_name": "helix-collective/helix-core", "private": false,
        "owner": {"login": "helix-collective", "id": 149_210_337, "type": "Organization",
                  "url": format!("{api}/users/helix-collective"), "html_url": "https://github.com/helix-collective"},
        "html_url": "https://github.com/helix-collective/helix-core",
        "description": "Ritual engine, UCF state and agent orchestration for the Helix ecosystem",
        "fork": false, "url": repo_url, "created_at": 1_699_000_000, "updated_at": "2026-11-20T09:58:12Z",
        "pushed_at": 1_763_632_800, "git_url": "git://github.com/helix-collective/helix-core.git",
        "ssh_url": "git@github.com:helix-collective/helix-core.git",
        "clone_url": "https://github.com/helix-collective/helix-core.git",
        "svn_url": "https://github.com/helix-collective/helix-core", "homepage": "https://helix.example.org",
        "size": 48_213, "stargazers_count": 412, "watchers_count": 412, "language": "Rust",
        "has_issues": true, "has_projects": true, "has_downloads": true, "has_wiki": false,
        "has_pages": true, "forks_count": 37, "archived": false, "disabled": false,
        "open_issues_count": 23, "visibility": "public", "forks": 37,
        "open_issues": 23, "watchers": 412, "default_branch": "main", "stargazers": 412,
        "master_branch": "main", "organization": "helix-collective",
    });
    for (k, path) in [
        ("forks_url", "forks"),
        ("keys_url", "keys{/key_id}"),
        ("collaborators_url", "collaborators{/collaborator}"),
        ("teams_url", "teams"),
        ("hooks_url", "hooks"),
        ("issue_events_url", "issues/events{/number}"),
        ("events_url", "events"),
        ("assignees_url", "assignees{/user}"),
        ("branches_url", "branches{/branch}"),
        ("tags_url", "tags"),
        ("blobs_url", "git/blobs{/sha}"),
        ("git_tags_url", "git/tags{/sha}"),
        ("git_refs_url", "git/refs{/sha}"),
        ("trees_url", "git/trees{/sha}"),
        ("statuses_url", "statuses/{sha}"),
        ("languages_url", "languages"),
        ("stargazers_url", "stargazers"),
        ("contributors_url", "contributors"),
        ("subscribers_url", "subscribers"),
        ("subscription_url", "subscription"),
        ("commits_url", "commits{/sha}"),
        ("git_commits_url", "git/commits{/sha}"),
        ("comments_url", "comments{/number}"),
        ("issue_comment_url", "issues/comments{/number}"),
        ("contents_url", "contents/{+path}"),
        ("compare_url", "compare/{base}...{head}"),
        ("merges_url", "merges"),
        ("archive_url", "{archive_format}{/ref}"),
        ("downloads_url", "downloads"),
        ("issues_url", "issues{/number}"),
        ("pulls_url", "pulls{/number}"),
        ("milestones_url", "milestones{/number}"),
        (
            "notifications_url",
            "notifications{?since,all,participating}",
        ),
        ("labels_url", "labels{/name}"),
        ("releases_url", "releases{/id}"),
        ("deployments_url", "deployments"),
    ] {
        repository[k] = format!("{repo_url}/{path}").into();
    }
    let messages = [
        "Ritual engine: replay Z-88 steps from the journal after a restart",
        "UCF: clamp klesha to [0, 1] before the harmony blend",
    ];
    let commits: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let id = sha(&format!("commit-{i}"));
            serde_json::json!({
                "id": id, "tree_id": sha(&format!("tree-{i}")), "distinct": true, "message": message,
                "timestamp": format!("2026-11-20T10:0{i}:17+01:00"),
                "url": format!("https://github.com/helix-collective/helix-core/commit/{id}"),
                "author": {"name": "Ada Okafor", "email": "ada@helix.example.org", "username": "ada-okafor"},
                "added": [], "removed": [], "modified": ["src/ucf/blend.rs", "CHANGELOG.md"],
            })
        })
        .collect();
    let (before, after) = (sha("before"), commits[1]["id"].clone());
    let body = serde_json::json!({
        "ref": "refs/heads/main", "before": before, "after": after,
        "repository": repository,
        "pusher": {"name": "ada-okafor", "email": "ada@helix.example.org"},
        "sender": user("ada-okafor", 88_231_904),
        "created": false, "deleted": false, "forced": false, "base_ref": null,
        "compare": format!("https://github.com/helix-collective/helix-core/compare/{}...{}", &before[..12], &sha("commit-1")[..12]),
        "head_commit": commits[1].clone(), "commits": commits,
    });
    serde_json::to_vec(&body).unwrap()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main]
async fn main() {
    let secs = if common::quick() { 1 } else { 10 };
    let duration = Duration::from_secs(secs);
    let body = payload();
    let sig = sign(&body);
    println!(
        "ingest benchmark: {} byte push payload ({} bytes as stored), {CONNECTIONS} connections, \
         {secs} s per case",
        body.len(),
        helix_sync::store::Compressed::new(std::str::from_utf8(&body).unwrap())
            .as_bytes()
            .len()
    );

    // HELIX_BENCH_PORT=<port>: load an already running service (for profiling it) and stop.
    if let Some(port) = std::env::var("HELIX_BENCH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        run(port, &body, &sig, duration)
            .await
            .report("helix-sync (external)");
        return;
    }

    // Bare handler: same load generator, no work.
    let bare_port = serve_in_thread(axum::Router::new().route(
        "/webhooks/github",
        post(|_b: axum::body::Bytes| async {
            (
                axum::http::StatusCode::ACCEPTED,
                "{\"id\":\"x\",\"duplicate\":false}",
            )
        }),
    ));
    let bare_load = run(bare_port, &body, &sig, duration).await;

    // The durable floor: the least any service that verifies and commits before answering
    // must do (read the body, check the HMAC, append it to a file with one fdatasync per
    // group of concurrent requests). No parsing, no database, no response body.
    let floor_dir = tempfile::tempdir().unwrap();
    let floor_port = serve_in_thread(durable_floor(floor_dir.path().join("log")));
    let floor_load = run(floor_port, &body, &sig, duration).await;

    // The real service.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helix-sync"))
        .arg("serve")
        .env("HELIX_BIND", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bench.db", dir.path().display()),
        )
        .env("HELIX_CONFIG", "/nonexistent.json")
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("HELIX_SYNC_ENABLED", "false")
        .env("HEALTH_CHECK_ENABLED", "false")
        .env("HELIX_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run `cargo bench`, which builds the release binary");
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let helix_load = run(port, &body, &sig, duration).await;
    let _ = child.kill();
    let _ = child.wait();

    bare_load.report("bare axum 202 handler");
    floor_load.report("durable floor (hmac+fsync)");
    helix_load.report("helix-sync /webhooks/github");
    println!(
        "durable floor: {:.0}% of bare; helix-sync: {:.0}% of the floor",
        floor_load.rate() / bare_load.rate() * 100.0,
        helix_load.rate() / floor_load.rate() * 100.0
    );
    let ratio = helix_load.rate() / bare_load.rate();
    let p99 = common::percentile(&helix_load.latencies, 99.0);
    println!(
        "ratio {:.0}% of bare (target >= 60%), p99 {} (target < 10 ms): {}",
        ratio * 100.0,
        common::ms(p99),
        if ratio >= 0.6 && p99 < Duration::from_millis(10) {
            "MET"
        } else {
            "NOT MET"
        }
    );
}

/// Serves `app` on a runtime and port of its own (apart from the load generator's).
fn serve_in_thread(app: axum::Router) -> u16 {
    let port = free_port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    std::thread::sleep(Duration::from_millis(200));
    port
}

type Append = (bytes::Bytes, tokio::sync::oneshot::Sender<()>);

/// A handler that verifies the signature and answers once the body is on disk, with group
/// commit by a writer thread (see the floor case in `main`).
static FLOOR_SECRETS: std::sync::LazyLock<[Secret; 1]> =
    std::sync::LazyLock::new(|| [Secret::new(SECRET)]);

fn durable_floor(path: std::path::PathBuf) -> axum::Router {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Append>(4096);
    std::thread::spawn(move || {
        use std::io::Write;
        let mut file = std::fs::File::create(path).unwrap();
        let mut replies = Vec::new();
        while let Some((body, reply)) = rx.blocking_recv() {
            file.write_all(&body).unwrap();
            replies.push(reply);
            while let Ok((body, reply)) = rx.try_recv() {
                file.write_all(&body).unwrap();
                replies.push(reply);
            }
            file.sync_data().unwrap();
            for r in replies.drain(..) {
                let _ = r.send(());
            }
        }
    });
    axum::Router::new().route(
        "/webhooks/github",
        post(
            |axum::extract::State(tx): axum::extract::State<tokio::sync::mpsc::Sender<Append>>,
             headers: axum::http::HeaderMap,
             body: bytes::Bytes| async move {
                // The service's own check, so the floor verifies exactly as it does.
                let sig = headers
                    .get(github::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok());
                if github::verify_signature(&*FLOOR_SECRETS, &body, sig).is_err() {
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                let (reply, done) = tokio::sync::oneshot::channel();
                tx.send((body, reply)).await.unwrap();
                done.await.unwrap();
                axum::http::StatusCode::ACCEPTED
            },
        )
        .with_state(tx),
    )
}

async fn run(port: u16, body: &[u8], sig: &str, duration: Duration) -> common::Load {
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let (body, sig) = (bytes::Bytes::from(body.to_vec()), sig.to_owned());
    common::closed_loop(CONNECTIONS, duration, move |client, conn, i| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("{port}-{conn}-{i}"))
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
    })
    .await
}
