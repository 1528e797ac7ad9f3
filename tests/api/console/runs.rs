//! A run's page: its Notion conflicts, analytics (labelled predictions), links to its exports
//! (the PDF report among them), and a rollback to it for operators — the same rollback as the
//! API's, audited; a viewer gets no button and a forged post changes nothing.

use helix_sync::sync::exporters::FORMATS;
use serde_json::json;

use super::{flash, Console};
use crate::versions_support::{text, versions_app, versions_app_with};

#[tokio::test]
async fn a_runs_page_shows_conflicts_and_analytics_and_operators_roll_back_to_it() {
    let v = versions_app(json!({"conflicts": {"properties": {"Role": "flag"}}})).await;
    let first = v.sync().await;
    let kael = v.agent_page("Kael");
    let ours = text(&kael.properties["Role"]);
    v.notion.edit_page(
        &kael.id,
        "Role",
        json!({"rich_text": [{"text": {"content": "Ethics lead"}}]}),
        "user-ada",
    );
    let second = v.sync().await;
    let app = &v.app;

    let viewer = Console::as_role(app, "vera", "viewer").await;
    let page = viewer.page(&format!("/console/runs/{}", second.id)).await;
    assert!(page.contains("Notion edits kept (conflicts)"), "{page}");
    assert!(page.contains("Ethics lead") && page.contains(&ours) && page.contains("user-ada"));
    assert!(page.contains("Analytics") && page.contains("harmony") && page.contains("predictions"));
    assert!(
        !page.contains("Roll back to this run"),
        "a viewer gets no button"
    );
    let runs_before = app.store.list_runs(50).await.unwrap().len();
    let forged = viewer
        .post(&format!("/console/runs/{}/rollback", first.id), &[])
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.store.list_runs(50).await.unwrap().len(),
        runs_before,
        "nothing changed"
    );

    let op = Console::as_role(app, "otto", "operator").await;
    let page = op.page(&format!("/console/runs/{}", first.id)).await;
    assert!(page.contains("Roll back to this run"));
    let no_csrf = op
        .post_raw(&format!("/console/runs/{}/rollback", first.id), &[])
        .await;
    assert_eq!(no_csrf.status(), 403);
    let missing = op.post("/console/runs/no-such-run/rollback", &[]).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(app.store.list_runs(50).await.unwrap().len(), runs_before);

    let res = op
        .post(&format!("/console/runs/{}/rollback", first.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(flash(&res).contains(&format!("Rolled back to run {}", first.id)));
    let runs = app.store.list_runs(50).await.unwrap();
    assert_eq!(runs.len(), runs_before + 1);
    let rollback = runs
        .iter()
        .find(|r| r.trigger == "rollback")
        .expect("a rollback run");
    let page = op.page(&format!("/console/runs/{}", rollback.id)).await;
    assert!(
        page.contains("by otto") && page.contains(&first.id),
        "{page}"
    );
    let audit = app.store.audit_page(None, 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "run.rollback" && a.actor == "otto" && a.target == rollback.id),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_runs_page_links_its_exports_and_each_downloads_the_bytes_the_run_wrote() {
    let formats = FORMATS.join(",");
    let v = versions_app_with(json!({}), &[("EXPORT_FORMATS", &formats)]).await;
    let run = v.sync().await;
    let app = &v.app;
    let viewer = Console::as_role(app, "vera", "viewer").await;
    let page = viewer.page(&format!("/console/runs/{}", run.id)).await;
    let written: Vec<serde_json::Value> = serde_json::from_str(&run.exports).unwrap();
    assert_eq!(written.len(), FORMATS.len());
    for file in written {
        let format = file["format"].as_str().unwrap();
        let link = format!("/console/runs/{}/exports/{format}", run.id);
        assert!(
            page.contains(&format!("href=\"{link}\"")),
            "{link} in {page}"
        );
        let res = viewer.get(&link).await;
        assert_eq!(res.status(), 200, "{link}");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        if format == "pdf" {
            assert_eq!(res.headers()["content-type"], "application/pdf");
        }
        let bytes = res.bytes().await.unwrap();
        let on_disk = std::fs::read(
            app.dir
                .path()
                .join("exports")
                .join(file["path"].as_str().unwrap()),
        )
        .unwrap();
        assert!(
            bytes.as_ref() == on_disk,
            "{format}: the bytes the run wrote"
        );
    }
    let unknown = viewer
        .get(&format!("/console/runs/{}/exports/docx", run.id))
        .await;
    assert_eq!(unknown.status(), 400);
    let missing = viewer.get("/console/runs/no-such-run/exports/pdf").await;
    assert_eq!(missing.status(), 404);
}
