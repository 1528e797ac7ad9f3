//! The console in a real browser: `scripts/console_browser.py` drives Debian's chromium
//! through chromedriver with Selenium (PyPI): each role logs in, the operator filters
//! events, replays one, retries a dead letter and runs a schedule now, the viewer finds no
//! button and has a forged POST refused. Screenshots of every page go to a directory the
//! test prints. Skips (with the reason) without the tools, unless `HELIX_REQUIRE_TOOLS=1`.

use std::process::Command;

use super::pages::seeded;
use crate::operate::tool_available;

#[tokio::test]
async fn roles_act_in_a_real_browser() {
    let probe = "import selenium, shutil, sys; sys.exit(0 if shutil.which('chromedriver') and shutil.which('chromium') else 1)";
    if !tool_available(
        "selenium (pip install selenium) with chromium and chromium-driver",
        Command::new("python3").args(["-c", probe]),
    ) {
        return;
    }
    let app = seeded().await;
    let dead = app
        .store
        .list_jobs(Some(helix_sync::store::JobState::Dead), 1)
        .await
        .unwrap()
        .remove(0);
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let script = format!("{}/scripts/console_browser.py", env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&app.address)
        .arg(&shots)
        .arg(super::PASSWORD)
        .arg(&dead.id)
        .env("SE_AVOID_STATS", "true")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(300), child)
        .await
        .expect("the browser run finished within 300 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    let pngs = std::fs::read_dir(&shots).unwrap().count();
    assert!(pngs >= 15, "{pngs} screenshots");
    println!("console screenshots: {}", shots.display());
}
