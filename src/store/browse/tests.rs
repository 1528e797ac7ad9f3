//! `store::browse`'s tests: the filters' SQL, and the plans SQLite makes of it.

use super::*;

#[test]
fn conditions_number_their_placeholders_and_escape_like() {
    let f = EventFilter {
        source: Some("github".into()),
        delivery: Some("50%_x".into()),
        outcome: Some("none".into()),
        ..Default::default()
    };
    let mut c = event_conditions(&f, Backend::Sqlite);
    c.before("e.received_at", "e.id", &Some((5, "id".into())));
    let w = c.where_clause();
    assert!(w.contains("e.source = $1"), "{w}");
    assert!(
        w.contains("e.delivery_id >= $2 AND e.delivery_id < $3"),
        "{w}"
    );
    assert!(w.contains("e.job_id IS NULL"), "{w}");
    assert!(
        w.contains("e.received_at <= $4 AND (e.received_at < $4"),
        "{w}"
    );
    assert!(w.contains("e.id < $5"), "{w}");
    assert!(matches!(&c.args[2], Arg::Text(s) if s == "50%_y"));
    let pg = event_conditions(&f, Backend::Postgres).where_clause();
    assert!(pg.contains("e.delivery_id COLLATE \"C\" >= $2"), "{pg}");
}

/// A new SQLite store in a temporary directory (kept alive by the returned guard).
async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/plan.db", dir.path().display());
    (dir, Store::connect(&url).await.unwrap())
}

/// The steps of `EXPLAIN QUERY PLAN` for the first event page matching `f`, on SQLite.
async fn page_plan(conn: &mut sqlx::AnyConnection, f: &EventFilter) -> Vec<String> {
    let (sql, args) = event_page_query(f, &None, 50, Backend::Sqlite);
    let plan: Vec<(i64, i64, i64, String)> = bound!(
        sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))),
        args
    )
    .fetch_all(conn)
    .await
    .unwrap();
    plan.into_iter().map(|p| p.3).collect()
}

/// The delivery prefix filter reads the dedupe index, one range per source, not the
/// whole table: SQLite has no index on `delivery_id` alone since migration 0046.
#[tokio::test]
async fn a_delivery_prefix_reads_the_dedupe_index_on_sqlite() {
    let (_dir, store) = sqlite_store().await;
    let mut conn = store.pool.acquire().await.unwrap();
    for source in [None, Some("ritual".to_owned())] {
        let f = EventFilter {
            source,
            delivery: Some("72d3".into()),
            ..Default::default()
        };
        let steps = page_plan(&mut conn, &f).await;
        assert!(
            steps.iter().any(|s| s.contains("sqlite_autoindex_events_2")
                && s.contains("delivery_id>? AND delivery_id<?")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN e")), "{steps:?}");
    }
}

/// The first page of successes walks the events newest first, even with statistics that
/// make the jobs look like the cheaper start (those of the console bench's database).
#[tokio::test]
async fn the_common_outcome_walks_the_events_newest_first_on_sqlite() {
    let (_dir, store) = sqlite_store().await;
    // One connection: `ANALYZE sqlite_schema` reloads the statistics on its own only.
    let mut conn = store.pool.acquire().await.unwrap();
    for sql in [
        "ANALYZE",
        "DELETE FROM sqlite_stat1",
        "INSERT INTO sqlite_stat1 VALUES \
         ('events', 'events_job', '100000 1 1 1 1 1 1'), \
         ('events', 'events_received_id', '1000000 1 1'), \
         ('events', 'events_repo_received', '1000000 47620 1 1'), \
         ('events', 'events_type_received', '1000000 125000 1 1'), \
         ('events', 'sqlite_autoindex_events_1', '1000000 1'), \
         ('events', 'sqlite_autoindex_events_2', '1000000 333334 1'), \
         ('jobs', 'jobs_finished', '100000 20000 1 1'), \
         ('jobs', 'jobs_created', '100000 1'), \
         ('jobs', 'sqlite_autoindex_jobs_1', '100000 1')",
        "ANALYZE sqlite_schema",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.unwrap();
    }
    let f = EventFilter {
        outcome: Some("succeeded".into()),
        ..Default::default()
    };
    let steps = page_plan(&mut conn, &f).await;
    assert!(
        steps[0].starts_with("SCAN e USING INDEX events_received_id"),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.contains("TEMP B-TREE")),
        "{steps:?}"
    );
}

#[test]
fn prefix_upper_bounds_exactly_the_texts_with_the_prefix() {
    assert_eq!(prefix_upper("abc").as_deref(), Some("abd"));
    assert_eq!(prefix_upper("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_upper(""), None);
    let upper = prefix_upper("d-1").unwrap();
    for s in ["d-1", "d-1x", "d-19"] {
        assert!(s >= "d-1" && s < upper.as_str(), "{s}");
    }
    for s in ["d-0", "d-2", "d-"] {
        assert!(!(s >= "d-1" && s < upper.as_str()), "{s}");
    }
}
