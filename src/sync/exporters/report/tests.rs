//! The view model's rules, and what they make of an organisation-sized snapshot in every
//! human-readable format.

use super::*;
use crate::sync::exporters::{fixture::Fixture, markdown, notion};

#[test]
fn grades_follow_the_target_rule() {
    assert_eq!(grade("harmony", 0.8), Some(Grade::Good));
    assert_eq!(grade("harmony", 0.71), Some(Grade::Good));
    assert_eq!(grade("harmony", 0.7), Some(Grade::Warning));
    assert_eq!(
        grade("harmony", 0.5),
        Some(Grade::Warning),
        "COHERENT is not critical"
    );
    assert_eq!(grade("harmony", 0.31), Some(Grade::Warning));
    assert_eq!(grade("harmony", 0.3), Some(Grade::Critical));
    assert_eq!(grade("resilience", 0.95), Some(Grade::Warning));
    assert_eq!(grade("klesha", 0.05), Some(Grade::Good));
    assert_eq!(grade("klesha", 0.075), Some(Grade::Warning));
    assert_eq!(grade("klesha", 0.076), Some(Grade::Critical));
    assert_eq!(grade("drishti", 0.39), Some(Grade::Critical));
    assert_eq!(grade("mystery", 1.0), None);
}

#[test]
fn numbers_and_lines_read_well() {
    assert_eq!(number(0.8734), "0.8734");
    assert_eq!(number(1.0), "1.0");
    assert_eq!(signed(0.012), "+0.012");
    assert_eq!(signed(-3.0), "-3.0");
    assert_eq!(one_line("  subject \nbody", 50), "subject");
    assert_eq!(one_line("ab🦀cd", 3), "ab🦀…");
}

/// A fixture of `n` repositories where the last one by name is the busiest of the run.
fn organisation(n: usize) -> (Fixture, String) {
    let mut f = Fixture::new(n, 4);
    let busiest = f.snapshot.repos.keys().last().unwrap().clone();
    f.changes.repos.get_mut(&busiest).unwrap().new_commits = 99;
    (f, busiest)
}

#[test]
fn up_to_the_limit_every_repository_has_its_section_and_no_index() {
    let f = Fixture::new(REPOS_IN_FULL, 4);
    let r = build(&f.input(), Scope::Full);
    assert!(!r.indexed && r.index_note.is_empty());
    assert_eq!(r.repos.len(), REPOS_IN_FULL);
    assert_eq!(r.repo_index.len(), REPOS_IN_FULL);
    assert!(r.repo_index.iter().all(|i| i.detailed));
}

#[test]
fn past_the_limit_every_repository_is_indexed_and_the_most_active_are_detailed() {
    let (f, busiest) = organisation(REPOS_IN_FULL + 5);
    let r = build(&f.input(), Scope::Full);
    assert!(r.indexed);
    assert!(r
        .index_note
        .starts_with("30 repositories, each listed here; the 25 most active"));
    assert_eq!(
        r.repo_index.len(),
        REPOS_IN_FULL + 5,
        "every repository is listed"
    );
    let detailed: Vec<&str> = r.repos.iter().map(|v| v.about.name).collect();
    assert_eq!(detailed.len(), REPOS_IN_FULL);
    assert!(detailed.contains(&busiest.as_str()));
    assert!(detailed.is_sorted(), "sections stay in name order");
    for i in &r.repo_index {
        assert_eq!(i.detailed, detailed.contains(&i.name), "{}", i.name);
    }
    // The summary counts every repository, not only the detailed ones.
    let open: usize = f
        .snapshot
        .repos
        .values()
        .map(|r| r.issues.iter().filter(|i| i.state == "open").count())
        .sum();
    assert!(r.summary.contains(&("Repositories", "30".into())));
    assert!(r.summary.contains(&("Open issues", open.to_string())));
}

#[test]
fn past_the_limit_the_busiest_changed_repositories_are_spelt_out_and_the_rest_counted() {
    let (f, busiest) = organisation(CHANGED_REPOS_SHOWN + 3);
    let c = build(&f.input(), Scope::Full).changes;
    assert_eq!(c.repos.len(), CHANGED_REPOS_SHOWN);
    assert_eq!(c.more_repos, 3);
    assert_eq!(
        c.more_note,
        "…and 3 more repositories changed; the JSON export lists every change."
    );
    assert!(c.repos.iter().any(|rc| rc.repo == busiest));
    assert!(c.repos.iter().map(|rc| rc.repo).is_sorted());

    let few = Fixture::new(3, 4);
    let c = build(&few.input(), Scope::Full).changes;
    assert_eq!(
        (c.repos.len(), c.more_repos, c.more_note.as_str()),
        (3, 0, "")
    );
}

/// A whole organisation: each human format lists 500 repositories in an index and details
/// 25, so its size grows by a line per repository, not a section.
#[test]
fn an_organisation_of_500_makes_reports_a_person_reads() {
    let (f, busiest) = organisation(500);
    let input = f.input();
    let md = String::from_utf8(markdown::export(&input, Scope::Full).unwrap().bytes).unwrap();
    assert!(
        md.contains("500 repositories, each listed here"),
        "markdown index"
    );
    assert_eq!(
        md.matches("\n### ").count(),
        REPOS_IN_FULL,
        "markdown sections"
    );
    assert!(md.contains("475 more repositories changed"));
    assert!(md.len() < 200_000, "markdown is {} bytes", md.len());

    let html = String::from_utf8(
        super::super::html::export(&input, Scope::Full, 30)
            .unwrap()
            .bytes,
    )
    .unwrap();
    assert_eq!(
        html.matches("<article class=\"repo\"").count(),
        REPOS_IN_FULL
    );
    let anchor = format!("id=\"repo-{}\"", busiest.replace('/', "-"));
    assert!(html.contains(&anchor), "the busiest has a section");
    assert!(
        html.contains(&format!("href=\"#repo-{}\"", busiest.replace('/', "-"))),
        "linked from the index"
    );
    assert!(html.len() < 400_000, "html is {} bytes", html.len());

    let doc: serde_json::Value =
        serde_json::from_slice(&notion::export(&input, Scope::Full).unwrap().bytes).unwrap();
    let blocks = doc["run_page"]["children"].as_array().unwrap();
    assert!(blocks.len() < 450, "{} top-level blocks", blocks.len());
    assert_eq!(
        doc["repo_pages"].as_array().unwrap().len(),
        500,
        "every repository keeps its page"
    );
}
