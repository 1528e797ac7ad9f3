//! Which repositories the GitHub source reads, and as whom.
//!
//! `GITHUB_REPOS` / `sources.github.repos` is a list of patterns: `owner/name` (one
//! repository), `owner/*` (every repository of an owner), `*` (every repository of every
//! installation of the GitHub App, or every repository a personal token can see), and
//! exclusions `!owner/name` or `!owner/*`. A pattern is matched without regard to case, as
//! GitHub names are. This module only parses and matches; finding what a pattern covers is the
//! GitHub source's discovery. It must never import anything above `config`.

use serde::{Serialize, Serializer};

/// One pattern of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `owner/name`.
    Repo { owner: String, name: String },
    /// `owner/*`.
    Owner(String),
    /// `*`.
    All,
}

impl Pattern {
    fn parse(text: &str, owner: Option<&str>) -> Result<Self, String> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if text == "*" {
            return Ok(Pattern::All);
        }
        let (o, n) = match (text.split_once('/'), owner) {
            (Some(pair), _) => pair,
            (None, Some(o)) => (o, text),
            (None, None) => {
                return Err(format!(
                    "bare repository name {text:?} needs GITHUB_OWNER (or write owner/{text})"
                ))
            }
        };
        if !valid(o) {
            return Err(format!("{text:?}: {o:?} is not a GitHub owner name"));
        }
        match n {
            "*" => Ok(Pattern::Owner(o.to_owned())),
            n if valid(n) => Ok(Pattern::Repo {
                owner: o.to_owned(),
                name: n.to_owned(),
            }),
            n => Err(format!("{text:?}: {n:?} is not a repository name or *")),
        }
    }

    fn matches(&self, full_name: &str) -> bool {
        let (owner, name) = full_name.split_once('/').unwrap_or((full_name, ""));
        match self {
            Pattern::All => true,
            Pattern::Owner(o) => o.eq_ignore_ascii_case(owner),
            Pattern::Repo { owner: o, name: n } => {
                o.eq_ignore_ascii_case(owner) && n.eq_ignore_ascii_case(name)
            }
        }
    }

    fn text(&self) -> String {
        match self {
            Pattern::All => "*".into(),
            Pattern::Owner(o) => format!("{o}/*"),
            Pattern::Repo { owner, name } => format!("{owner}/{name}"),
        }
    }
}

/// The parsed `GITHUB_REPOS` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoSelection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

impl RepoSelection {
    /// Parses the list; a bare name takes `owner` (`GITHUB_OWNER`).
    pub fn parse(list: &[String], owner: Option<&str>) -> Result<Self, String> {
        let mut out = Self::default();
        for entry in list.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            match entry.strip_prefix('!') {
                Some(rest) => match Pattern::parse(rest.trim(), owner)? {
                    Pattern::All => return Err("\"!*\" would exclude everything".into()),
                    p => out.exclude.push(p),
                },
                None => out.include.push(Pattern::parse(entry, owner)?),
            }
        }
        if out.include.is_empty() && !out.exclude.is_empty() {
            return Err("only exclusions: name what to include too (e.g. owner/*)".into());
        }
        Ok(out)
    }

    /// Nothing to read: the GitHub source is off.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty()
    }

    /// Whether `full_name` is selected: some pattern includes it and none excludes it.
    pub fn selects(&self, full_name: &str) -> bool {
        self.include.iter().any(|p| p.matches(full_name))
            && !self.exclude.iter().any(|p| p.matches(full_name))
    }

    /// Whether a pattern needs the repositories found (`owner/*` or `*`), not just named.
    pub fn discovers(&self) -> bool {
        self.include
            .iter()
            .any(|p| matches!(p, Pattern::Owner(_) | Pattern::All))
    }

    /// The repositories named one by one (`owner/name`), minus the excluded ones, as
    /// configured.
    pub fn named(&self) -> Vec<String> {
        self.include
            .iter()
            .filter(|p| matches!(p, Pattern::Repo { .. }))
            .map(Pattern::text)
            .filter(|n| !self.exclude.iter().any(|p| p.matches(n)))
            .collect()
    }

    /// The owners of the `owner/*` patterns, and whether `*` is among them.
    pub fn owners(&self) -> (Vec<String>, bool) {
        let mut owners = Vec::new();
        let mut all = false;
        for p in &self.include {
            match p {
                Pattern::Owner(o) => owners.push(o.clone()),
                Pattern::All => all = true,
                Pattern::Repo { .. } => {}
            }
        }
        (owners, all)
    }

    /// The list as configured (for `check-config` and messages).
    pub fn texts(&self) -> Vec<String> {
        self.include
            .iter()
            .map(Pattern::text)
            .chain(self.exclude.iter().map(|p| format!("!{}", p.text())))
            .collect()
    }
}

impl Serialize for RepoSelection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.texts().serialize(s)
    }
}

/// GitHub App credentials: the app's id and its private key (PEM).
#[derive(Debug, Clone, Serialize)]
pub struct GithubApp {
    /// `GITHUB_APP_ID`: the numeric app id (or the app's client id, `Iv…`), the JWT's `iss`.
    pub app_id: String,
    /// `GITHUB_APP_PRIVATE_KEY` (or the file `GITHUB_APP_PRIVATE_KEY_FILE` names).
    pub private_key: super::Secret,
}

impl GithubApp {
    /// Checks what start-up can check: an id of the right form, a key that is an RSA
    /// private key in PEM form. Names the variable in the message.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let id = self.app_id.trim();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !ok {
            return Err((
                "GITHUB_APP_ID",
                "expected the app's numeric id (or its client id)".into(),
            ));
        }
        jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key.expose().as_bytes()).map_err(
            |_| {
                (
                    "GITHUB_APP_PRIVATE_KEY",
                    "not an RSA private key in PEM form (-----BEGIN RSA PRIVATE KEY----- or \
                     -----BEGIN PRIVATE KEY-----, as GitHub's download)"
                        .into(),
                )
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(list: &[&str]) -> RepoSelection {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        RepoSelection::parse(&list, Some("helix")).unwrap()
    }

    #[test]
    fn patterns_select_repositories_and_exclusions_win() {
        let s = sel(&["helix/*", "!helix/old", "other/one", "core"]);
        assert!(s.selects("helix/portal") && s.selects("Helix/Portal"));
        assert!(!s.selects("helix/old") && !s.selects("HELIX/OLD"));
        assert!(s.selects("other/one") && !s.selects("other/two"));
        assert!(s.selects("helix/core"));
        assert!(s.discovers());
        assert_eq!(s.named(), ["other/one", "helix/core"]);
        assert_eq!(s.owners(), (vec!["helix".to_owned()], false));
        let all = sel(&["*", "!helix/*"]);
        assert!(all.selects("x/y") && !all.selects("helix/y"));
        assert!(all.owners().1);
        assert_eq!(all.texts(), ["*", "!helix/*"]);
        assert!(!sel(&["a/b"]).discovers());
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        let bad = |l: &[&str], owner: Option<&str>| {
            let list: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            RepoSelection::parse(&list, owner).unwrap_err()
        };
        assert!(bad(&["bare"], None).contains("GITHUB_OWNER"));
        assert!(bad(&["!*"], None).contains("exclude everything"));
        assert!(bad(&["!a/b"], None).contains("only exclusions"));
        assert!(bad(&["a b/c"], None).contains("owner name"));
        assert!(bad(&["a/b?"], None).contains("repository name"));
    }
}
