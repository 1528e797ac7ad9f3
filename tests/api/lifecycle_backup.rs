//! Backup and restore with the real binary: a backup taken while webhooks keep arriving,
//! restored into a fresh directory, starts, and holds every event acknowledged before the
//! backup began. Restore refuses a foreign file, a newer schema and a running service, and
//! then changes nothing. An older binary on a newer database says so in one line.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use helix_sync::store::{binary_schema_version, Backend, Store};
use sha2::{Digest, Sha256};

use crate::helpers::*;
use crate::lifecycle_history::store_run;
use crate::process::start_serve;

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/helix.db", dir.display())
}

/// Runs `helix-sync <args>` against `database_url`, off the async runtime.
async fn cli(database_url: &str, args: &[&str]) -> Output {
    let mut cmd = crate::process::helix();
    cmd.args(args)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env(
            "HELIX_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/defaults.json"),
        )
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || cmd.output().expect("the binary runs"))
        .await
        .unwrap()
}

/// Every file in `dir` with a digest of its content.
fn state_of(dir: &Path) -> Vec<(String, [u8; 32])> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                Sha256::digest(&bytes).into(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A stopped helix-sync database in `dir` with one run, and a backup of it at the returned path.
async fn database_with_backup(dir: &Path) -> PathBuf {
    let store = Store::connect(&sqlite_url(dir)).await.unwrap();
    store_run(&store, "r1", "manual", 1, Some(b"{}"), &[]).await;
    let backup = dir.join("backup.db");
    store.backup_to(&backup).await.unwrap();
    store.close().await;
    drop(store);
    backup
}

fn add_future_migration(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer helix-sync', 1, X'00', 0)",
        [],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_ingest_load_restores_with_every_acknowledged_event() {
    let live = tempfile::tempdir().unwrap();
    let app = spawn_with(Spawn::default().env("DATABASE_URL", &sqlite_url(live.path()))).await;
    let app = Arc::new(app);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (app, acked, stop) = (app.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body =
                    serde_json::to_vec(&push_payload("o/r", "main", &format!("c{i}"))).unwrap();
                let res = app.post_github("push", &format!("load-{i}"), &body).await;
                assert_eq!(res.status(), 202);
                let v: serde_json::Value = res.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(v["id"].as_str().unwrap().to_owned());
            }
        })
    };
    while acked.lock().unwrap().len() < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let backup = live.path().join("helix-backup.db");
    let out = cli(
        &sqlite_url(live.path()),
        &["backup", backup.to_str().unwrap()],
    )
    .await;
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        during > before.len(),
        "ingest kept answering while the backup ran"
    );

    let fresh = tempfile::tempdir().unwrap();
    let target = sqlite_url(&fresh.path().join("data"));
    let out = cli(&target, &["restore", backup.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no database there before"));

    let (mut child, base) = start_serve(&target, fresh.path(), &[]).await;
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), 200, "the restored database serves");
    child.kill().unwrap();
    child.wait().unwrap();

    let restored = Store::connect(&target).await.unwrap();
    for id in &before {
        assert!(
            restored.get_event(id).await.unwrap().is_some(),
            "event {id} was acknowledged before the backup"
        );
    }
    restored.close().await;
}

#[tokio::test]
async fn restore_refuses_foreign_files_newer_schemas_and_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let good = database_with_backup(dir.path()).await;
    let db = dir.path().join("helix.db");
    let url = sqlite_url(dir.path());

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello, not a database").unwrap();
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE recipes (name TEXT)")
        .unwrap();
    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    add_future_migration(&newer);

    for (file, expected) in [
        (&text, "not a helix-sync database"),
        (&foreign, "not a helix-sync database"),
        (&newer, "schema version 9999"),
    ] {
        let before = state_of(dir.path());
        let out = cli(&url, &["restore", file.to_str().unwrap()]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} must be refused", file.display());
        assert!(stderr.contains(expected), "{}: {stderr}", file.display());
        assert!(stderr.contains("nothing was changed"), "{stderr}");
        assert_eq!(
            state_of(dir.path()),
            before,
            "a refused restore changes nothing"
        );
    }

    // While a process has the database open, restore refuses too.
    let open = Store::connect(&url).await.unwrap();
    let before = state_of(dir.path());
    let out = cli(&url, &["restore", good.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop it"));
    assert_eq!(state_of(dir.path()), before);
    open.close().await;
    drop(open);

    // Stopped: it goes ahead and keeps the database it replaces.
    let out = cli(&url, &["restore", good.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("before-restore-"));
    assert!(db.exists());
    let store = Store::connect(&url).await.unwrap();
    assert!(store.get_run("r1").await.unwrap().is_some());
    store.close().await;
}

#[tokio::test]
async fn an_older_binary_on_a_newer_database_says_so_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    Store::connect(&url).await.unwrap().close().await;
    add_future_migration(&dir.path().join("helix.db"));

    let out = cli(&url, &["migrate"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    let binary = binary_schema_version(Backend::Sqlite);
    for part in [
        "schema version 9999".to_owned(),
        format!("up to {binary}"),
        "run the newer helix-sync".to_owned(),
        "helix-sync restore".to_owned(),
    ] {
        assert!(stderr.contains(&part), "{part:?} in {stderr}");
    }
    assert!(
        !stderr.contains("previously applied"),
        "not sqlx's message: {stderr}"
    );
}

#[tokio::test]
async fn backup_refuses_postgresql_at_once_and_makes_its_folder() {
    // A "server" on loopback that takes the connection and never answers: a backup that
    // tried to reach it would hang; it is refused before any connection is made.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://nobody@{}/none", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = cli(&url, &["backup", "x.db"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "at once"
    );

    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let target = dir.path().join("backups/nested/helix.db");
    let out = cli(&url, &["backup", target.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(target.exists());
}
