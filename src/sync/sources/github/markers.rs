//! Change markers: one cheap answer that says whether anything a cycle reads changed in a
//! repository, so an unchanged repository is not asked about six times.
//!
//! A repository's marker is what GitHub reports, in one GraphQL query for up to 100
//! repositories, about the newest of each thing the snapshot holds: `pushedAt` (commits,
//! tags), `updatedAt` (the repository itself: stars, description, default branch), the most
//! recently updated issue and pull request, the newest release and the newest deployment with
//! its latest status. Any commit, issue, pull request, release or deployment created or
//! changed since the last cycle moves one of these, so a repository whose marker equals the
//! stored one has nothing new to read, and is skipped; any other is read as before, every
//! resource from its cursor. The marker is stored as the repository's `markers` cursor, with
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
      issues(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { updatedAt } }
      pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { updatedAt } }
      releases(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { updatedAt } }
      deployments(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { updatedAt latestStatus { createdAt } } }
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

/// One repository's marker: its dates, joined in a fixed order.
fn marker(node: &Value) -> String {
    let first = |connection: &str, field: &str| {
        node[connection]["nodes"][0]
            .pointer(field)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    [
        node["pushedAt"].as_str().unwrap_or("-").to_owned(),
        node["updatedAt"].as_str().unwrap_or("-").to_owned(),
        first("issues", "/updatedAt"),
        first("pullRequests", "/updatedAt"),
        first("releases", "/updatedAt"),
        first("deployments", "/updatedAt"),
        first("deployments", "/latestStatus/createdAt"),
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
            "issues": {"nodes": [{"updatedAt": "2026-01-03T00:00:00Z"}]},
            "pullRequests": {"nodes": []},
            "releases": {"nodes": [{"updatedAt": "2026-01-04T00:00:00Z"}]},
            "deployments": {"nodes": [{"updatedAt": "2026-01-05T00:00:00Z", "latestStatus": {"createdAt": "2026-01-06T00:00:00Z"}}]}
        });
        let m = marker(&node);
        assert_eq!(
            m,
            "2026-01-01T00:00:00Z|2026-01-02T00:00:00Z|2026-01-03T00:00:00Z|-|2026-01-04T00:00:00Z|2026-01-05T00:00:00Z|2026-01-06T00:00:00Z"
        );
        let mut moved = node.clone();
        moved["deployments"]["nodes"][0]["latestStatus"]["createdAt"] =
            json!("2026-01-07T00:00:00Z");
        assert_ne!(marker(&moved), m);
    }
}
