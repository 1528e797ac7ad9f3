//! The signed GitHub push the ingest benchmarks send, the load that sends it, and the
//! release binary they send it to.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub const SECRET: &str = "bench-secret";
pub const CONNECTIONS: usize = 64;

/// A ~7 KB push shaped like GitHub's own: a repository object full of API URLs, the sender,
/// and commits whose SHAs are random hex. Its repetition is a real push's repetition, so
/// the compression the store applies gets no easier a ride here than in production.
pub fn payload() -> Vec<u8> {
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

pub fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn run(port: u16, body: &[u8], sig: &str, duration: Duration) -> super::Load {
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let (body, sig) = (bytes::Bytes::from(body.to_vec()), sig.to_owned());
    super::closed_loop(CONNECTIONS, duration, move |client, conn, i| {
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

/// The service binary a bench runs: `HELIX_BENCH_BINARY` when set (e.g. the `dist` build,
/// `target/dist/helix-sync`), else the release binary `cargo bench` built.
pub fn service_binary() -> std::path::PathBuf {
    std::env::var_os("HELIX_BENCH_BINARY")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_helix-sync").into())
}

/// Starts `helix-sync serve` ([`service_binary`]) on `database_url` with `extra`
/// environment, and waits until it answers `/health`.
pub async fn start_service(database_url: &str, extra: &[(&str, &str)]) -> (Child, u16) {
    start_binary(&service_binary(), database_url, extra).await
}

/// [`start_service`] with the binary at `binary`.
pub async fn start_binary(
    binary: &std::path::Path,
    database_url: &str,
    extra: &[(&str, &str)],
) -> (Child, u16) {
    let port = free_port();
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .env("HELIX_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env(
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        )
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("HELIX_SYNC_ENABLED", "false")
        .env("HEALTH_CHECK_ENABLED", "false")
        .env("HELIX_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
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
    (child, port)
}
