//! Change markers: one cheap answer that says whether anything a cycle reads changed in a
//! repository, so an unchanged repository is not asked about six times.
//!
//! A repository's marker is what GitHub reports, in one GraphQL query for up to 100
//! repositories, about each thing the snapshot holds: `pushedAt` (commits, tags), `updatedAt`
//! (the repository itself: stars, description, default branch), the most recently updated
//! issue and pull request, and for releases and deployments, which cannot be ordered by
//! update, the newest change among the same 100 a REST read polls (page 1, newest first: an
//! edited release, a new status of an older deployment), and each list's total count. Any
//! commit, issue, pull request, release or deployment created or changed since the last
//! cycle moves one of these, so a repository whose marker equals the stored one has nothing
//! new to read, and is skipped; any other is read as before, every resource from its cursor. GraphQL prices a connection by how many parents
//! ask for it, not by `first`, so the longer lists cost no more points. The marker is stored as the repository's `markers` cursor, with
//! the run's other cursors, and only when all of that repository's reads succeeded: a read
//! that failed leaves the old marker, so the next cycle reads it again.
//!
//! A GraphQL query costs points from GraphQL's own budget (about one per 25 repositories
//! here), never from the REST budget the data itself is read with. Repositories GraphQL
//! cannot be asked about (no `node_id`: named ones with a personal token, which no listing
//! showed) simply have no marker and are read every cycle, as with `change_markers: "rest"`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::client::{Client, GithubError};
use super::discover::Found;

/// The cursor resource name of a marker.
pub const RESOURCE: &str = "markers";
/// Repositories per GraphQL query (GitHub's `nodes(ids:)` takes 100).
const PER_QUERY: usize = 100;

const QUERY: &str = "query HelixMarkers($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Repository {
      nameWithOwner
      pushedAt
      updatedAt
      issues(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { updatedAt } }
      pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { updatedAt } }
      releases(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount nodes { updatedAt } }
      deployments(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount nodes { updatedAt latestStatus { createdAt } } }
    }
  }
}";

/// The marker of every repository of `repos` that has a `node_id`, by full name (as GitHub
/// spells it in the answer, matched back case-insensitively by the caller).
pub async fn fetch(
    client: &Client,
    repos: &[&Found],
) -> Result<BTreeMap<String, String>, GithubError> {
    let mut by_installation: BTreeMap<Option<u64>, Vec<&Found>> = BTreeMap::new();
    for r in repos.iter().filter(|r| r.node_id.is_some()) {
        by_installation.entry(r.installation).or_default().push(r);
    }
    let mut out = BTreeMap::new();
    for (installation, repos) in by_installation {
        for chunk in repos.chunks(PER_QUERY) {
            let ids: Vec<&str> = chunk.iter().filter_map(|r| r.node_id.as_deref()).collect();
            let data = client
                .graphql(
                    "GitHub change markers",
                    QUERY,
                    json!({ "ids": ids }),
                    installation,
                )
                .await?;
            for node in data["nodes"].as_array().into_iter().flatten() {
                if let Some(name) = node["nameWithOwner"].as_str() {
                    out.insert(name.to_ascii_lowercase(), marker(node));
                }
            }
        }
    }
    Ok(out)
}

/// One repository's marker: its dates and counts, joined in a fixed order.
fn marker(node: &Value) -> String {
    // A connection's newest date among `fields` of its nodes (RFC 3339 in UTC, as GitHub
    // writes them, orders as text), and its count.
    let newest = |connection: &str, fields: &[&str]| {
        let nodes = node[connection]["nodes"].as_array();
        let date = nodes
            .into_iter()
            .flatten()
            .flat_map(|n| fields.iter().filter_map(|f| n.pointer(f)?.as_str()))
            .max()
            .unwrap_or("-");
        let count = &node[connection]["totalCount"];
        format!("{date}#{count}")
    };
    [
        node["pushedAt"].as_str().unwrap_or("-").to_owned(),
        node["updatedAt"].as_str().unwrap_or("-").to_owned(),
        newest("issues", &["/updatedAt"]),
        newest("pullRequests", &["/updatedAt"]),
        newest("releases", &["/updatedAt"]),
        newest("deployments", &["/updatedAt", "/latestStatus/createdAt"]),
    ]
    .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_moves_with_any_of_its_parts() {
        let node = json!({
            "nameWithOwner": "o/a", "pushedAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z",
            "issues": {"totalCount": 1, "nodes": [{"updatedAt": "2026-01-03T00:00:00Z"}]},
            "pullRequests": {"totalCount": 0, "nodes": []},
            "releases": {"totalCount": 2, "nodes": [{"updatedAt": "2026-01-04T00:00:00Z"}, {"updatedAt": "2026-01-01T00:00:00Z"}]},
            "deployments": {"totalCount": 2, "nodes": [
                {"updatedAt": "2026-01-05T00:00:00Z", "latestStatus": {"createdAt": "2026-01-06T00:00:00Z"}},
                {"updatedAt": "2026-01-01T00:00:00Z", "latestStatus": null}]}
        });
        let m = marker(&node);
        assert_eq!(
            m,
            "2026-01-01T00:00:00Z|2026-01-02T00:00:00Z|2026-01-03T00:00:00Z#1|-#0|2026-01-04T00:00:00Z#2|2026-01-06T00:00:00Z#2"
        );
        let moves = |change: &dyn Fn(&mut Value)| {
            let mut moved = node.clone();
            change(&mut moved);
            assert_ne!(marker(&moved), m, "{moved}");
        };
        // A new status of the newest deployment, and of an older one.
        moves(&|n| {
            n["deployments"]["nodes"][0]["latestStatus"]["createdAt"] =
                json!("2026-01-07T00:00:00Z")
        });
        moves(&|n| {
            n["deployments"]["nodes"][1]["latestStatus"] =
                json!({"createdAt": "2026-01-07T00:00:00Z"})
        });
        // An edit of an older release, and a deleted one.
        moves(&|n| n["releases"]["nodes"][1]["updatedAt"] = json!("2026-01-07T00:00:00Z"));
        moves(&|n| {
            n["releases"]["totalCount"] = json!(1);
            n["releases"]["nodes"].as_array_mut().unwrap().pop();
        });
    }

    #[test]
    fn releases_and_deployments_are_asked_as_far_as_a_rest_read_polls() {
        let first = format!("first: {}", super::super::client::PER_PAGE);
        for list in ["releases(", "deployments("] {
            let asked = &QUERY[QUERY.find(list).unwrap()..];
            assert!(asked.starts_with(&format!("{list}{first}")), "{asked}");
        }
    }
}
