//! Who the GitHub source asks as: nobody, a personal token, or a GitHub App.
//!
//! A GitHub App proves itself with a JWT signed RS256 by its private key (`iat` 60 s in the
//! past for clock drift, `exp` 9 minutes ahead: GitHub refuses more than 10), and trades it
//! for an installation token per installation (`POST /app/installations/{id}/access_tokens`),
//! valid an hour. Tokens are cached per installation and renewed when less than
//! [`RENEW_BEFORE_MS`] is left (half the life of a token issued for less), so a cycle never
//! starts with one about to expire. Two things
//! GitHub does that a naive client trips over are handled here: a freshly minted token can
//! answer 401 for a moment (replication lag), so a 401 within [`FRESH_MS`] of minting is
//! retried ([`Auth::retry_401`]); and a JWT refused for its `iat`/`exp` means our clock is off,
//! so the skew is learnt from the refusal's `Date` header and the JWT made again once.
//! A token's length is never assumed. Nothing here logs a token or the key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{ACCEPT, AUTHORIZATION, DATE, USER_AGENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::GithubError;
use crate::config::{GithubApp, Secret};

/// An installation token is renewed when less than this is left of its hour.
pub const RENEW_BEFORE_MS: i64 = 10 * 60 * 1000;
/// A 401 this soon after minting is GitHub's replication lag, not a bad token.
pub const FRESH_MS: i64 = 5_000;
/// How far back `iat` is set, for clocks that run a little ahead of GitHub's.
const IAT_BACK_SECS: i64 = 60;
/// How far ahead `exp` is set (GitHub refuses more than 10 minutes).
const EXP_AHEAD_SECS: i64 = 9 * 60;

/// The credential a request goes out with.
#[derive(Clone)]
pub struct Credential {
    /// The `Authorization` token, when there is one.
    pub token: Option<Secret>,
    /// Whose rate budget the request spends: `token`, `installation:<id>` or `anonymous`.
    pub budget: String,
    /// When an installation token was minted (unix ms), for the 401 retry.
    pub minted_at: Option<i64>,
}

/// How the source authenticates.
pub enum Auth {
    Anonymous,
    Token(Secret),
    App(AppAuth),
}

impl Auth {
    /// From the configuration: the App when `GITHUB_APP_ID` is set (config checked the key
    /// at start), else the personal token, else nothing.
    pub fn new(
        app: Option<&GithubApp>,
        token: Option<&Secret>,
        http: reqwest::Client,
        base: &str,
    ) -> Result<Self, String> {
        Ok(match (app, token) {
            (Some(app), _) => Auth::App(AppAuth::new(app, http, base)?),
            (None, Some(t)) => Auth::Token(t.clone()),
            (None, None) => Auth::Anonymous,
        })
    }

    pub fn is_app(&self) -> bool {
        matches!(self, Auth::App(_))
    }

    /// The credential for a request about a repository of `installation` (ignored unless
    /// this is an App; an App needs one).
    pub async fn credential(
        &self,
        installation: Option<u64>,
        now: i64,
    ) -> Result<Credential, GithubError> {
        match self {
            Auth::Anonymous => Ok(Credential {
                token: None,
                budget: "anonymous".into(),
                minted_at: None,
            }),
            Auth::Token(t) => Ok(Credential {
                token: Some(t.clone()),
                budget: "token".into(),
                minted_at: None,
            }),
            Auth::App(app) => {
                let id = installation.ok_or_else(|| GithubError::Status {
                    what: "GitHub App".into(),
                    status: 404,
                    message: "the repository is in no installation of this App (install the \
                              App on its owner, or add the repository to the installation)"
                        .into(),
                })?;
                let (token, minted_at) = app.token(id, now).await?;
                Ok(Credential {
                    token: Some(token),
                    budget: format!("installation:{id}"),
                    minted_at: Some(minted_at),
                })
            }
        }
    }

    /// Whether a 401 for `credential` should be tried again after a short wait: an
    /// installation token that was minted a moment ago. A stale one is dropped from the
    /// cache instead, so the next request mints a new one.
    pub fn retry_401(&self, credential: &Credential, installation: Option<u64>, now: i64) -> bool {
        let Auth::App(app) = self else { return false };
        match credential.minted_at {
            Some(at) if now - at <= FRESH_MS => true,
            _ => {
                if let Some(id) = installation {
                    app.forget(id);
                }
                false
            }
        }
    }

    /// The App, when this is one.
    pub fn app(&self) -> Option<&AppAuth> {
        match self {
            Auth::App(a) => Some(a),
            _ => None,
        }
    }
}

/// A GitHub App's identity and its installation tokens.
pub struct AppAuth {
    app_id: String,
    key: EncodingKey,
    http: reqwest::Client,
    base: String,
    /// Seconds to add to our clock to get GitHub's (learnt from a refused JWT's `Date`).
    skew_secs: AtomicI64,
    tokens: Mutex<HashMap<u64, Minted>>,
    /// Held while a token is minted.
    minting: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Minted {
    token: Secret,
    expires_at: i64,
    minted_at: i64,
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a str,
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
}

/// An installation of the App: its id and the account it is installed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub id: u64,
    pub account: String,
}

impl AppAuth {
    fn new(app: &GithubApp, http: reqwest::Client, base: &str) -> Result<Self, String> {
        let key = EncodingKey::from_rsa_pem(app.private_key.expose().as_bytes())
            .map_err(|_| "GITHUB_APP_PRIVATE_KEY: not an RSA private key in PEM form".to_owned())?;
        Ok(Self {
            app_id: app.app_id.trim().to_owned(),
            key,
            http,
            base: base.trim_end_matches('/').to_owned(),
            skew_secs: AtomicI64::new(0),
            tokens: Mutex::default(),
            minting: tokio::sync::Mutex::new(()),
        })
    }

    /// The App's JWT at `now` (unix ms), corrected by the learnt clock skew.
    pub fn jwt(&self, now: i64) -> Result<String, GithubError> {
        let at = now / 1000 + self.skew_secs.load(Ordering::Relaxed);
        let claims = Claims {
            iat: at - IAT_BACK_SECS,
            exp: at + EXP_AHEAD_SECS,
            iss: &self.app_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| GithubError::decode("GitHub App JWT", e))
    }

    /// The token of `installation`, from the cache or minted; with when it was minted.
    pub async fn token(&self, installation: u64, now: i64) -> Result<(Secret, i64), GithubError> {
        if let Some(fresh) = self.fresh(installation, now) {
            return Ok(fresh);
        }
        // One mint at a time: the requests a cycle starts at once would otherwise each mint a
        // token of their own for the same installation.
        let _minting = self.minting.lock().await;
        if let Some(fresh) = self.fresh(installation, now) {
            return Ok(fresh);
        }
        let m = self.mint(installation, now).await?;
        lock(&self.tokens).insert(installation, m.clone());
        Ok((m.token, m.minted_at))
    }

    /// The cached token of `installation` while it is not due for renewal. GitHub's tokens
    /// last an hour; a shorter one is renewed at half its life, so a short-lived token is
    /// never minted again on every request.
    fn fresh(&self, installation: u64, now: i64) -> Option<(Secret, i64)> {
        let m = lock(&self.tokens).get(&installation).cloned()?;
        let renew_before = RENEW_BEFORE_MS.min((m.expires_at - m.minted_at) / 2);
        (m.expires_at - now > renew_before).then_some((m.token, m.minted_at))
    }

    /// Drops a token GitHub no longer takes.
    pub fn forget(&self, installation: u64) {
        lock(&self.tokens).remove(&installation);
    }

    async fn mint(&self, installation: u64, now: i64) -> Result<Minted, GithubError> {
        let what = format!("GitHub App installation {installation} token");
        let url = format!(
            "{}/app/installations/{installation}/access_tokens",
            self.base
        );
        let (_, text) = self.send(reqwest::Method::POST, &url, &what, now).await?;
        let t: AccessToken =
            serde_json::from_str(&text).map_err(|e| GithubError::decode(&what, e))?;
        let expires_at = crate::timestamp::parse(&t.expires_at)
            .map(|d| d.timestamp_millis())
            // An hour, as GitHub documents, when the answer does not say.
            .unwrap_or(now + 3_600_000);
        Ok(Minted {
            token: Secret::new(t.token),
            expires_at,
            minted_at: now,
        })
    }

    /// Every installation of the App (`GET /app/installations`, paginated).
    pub async fn installations(&self, now: i64) -> Result<Vec<Installation>, GithubError> {
        let what = "GitHub App installations";
        let mut next = Some(format!("{}/app/installations?per_page=100", self.base));
        let mut out = Vec::new();
        while let Some(url) = next.take() {
            let (headers, text) = self.send(reqwest::Method::GET, &url, what, now).await?;
            next = headers
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(super::client::next_link);
            let page: Vec<Value> =
                serde_json::from_str(&text).map_err(|e| GithubError::decode(what, e))?;
            for i in page {
                let id = i["id"]
                    .as_u64()
                    .ok_or_else(|| GithubError::decode(what, "an installation without an id"))?;
                let account = i["account"]["login"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                out.push(Installation { id, account });
            }
        }
        Ok(out)
    }

    /// One request as the App (a JWT), its headers and body when it succeeded. A JWT refused
    /// for its times means our clock is off: the skew is learnt from the refusal's `Date`
    /// and the request made once more with a corrected JWT.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        what: &str,
        now: i64,
    ) -> Result<(reqwest::header::HeaderMap, String), GithubError> {
        let mut corrected = false;
        loop {
            let res = self
                .app_request(method.clone(), url, now)?
                .send()
                .await
                .map_err(|e| transport(what, e))?;
            let status = res.status();
            let headers = res.headers().clone();
            let text = res.text().await.map_err(|e| transport(what, e))?;
            let date = headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                .map(|d| d.timestamp());
            if status == reqwest::StatusCode::UNAUTHORIZED && !corrected {
                if let Some(theirs) = date.filter(|_| claims_refused(&text)) {
                    let skew = theirs - now / 1000;
                    self.skew_secs.store(skew, Ordering::Relaxed);
                    tracing::warn!(
                        skew_secs = skew,
                        "GitHub refused the App's JWT for its times; correcting for the clock skew"
                    );
                    corrected = true;
                    continue;
                }
            }
            if !status.is_success() {
                return Err(GithubError::Status {
                    what: what.to_owned(),
                    status: status.as_u16(),
                    message: message_of(&text),
                });
            }
            return Ok((headers, text));
        }
    }

    fn app_request(
        &self,
        method: reqwest::Method,
        url: &str,
        now: i64,
    ) -> Result<reqwest::RequestBuilder, GithubError> {
        Ok(self
            .http
            .request(method, url)
            .header(
                USER_AGENT,
                concat!("helix-sync/", env!("CARGO_PKG_VERSION")),
            )
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(AUTHORIZATION, format!("Bearer {}", self.jwt(now)?)))
    }
}

/// Whether a 401's body says the JWT's `iat` or `exp` was refused.
fn claims_refused(body: &str) -> bool {
    let m = message_of(body).to_ascii_lowercase();
    m.contains("'iat'")
        || m.contains("'exp'")
        || m.contains("expiration time")
        || m.contains("issued at")
}

fn message_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

fn transport(what: &str, e: reqwest::Error) -> GithubError {
    GithubError::Transport {
        what: what.to_owned(),
        message: e.without_url().to_string(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../../tests/data/github-app-test-key.pem");
    const PUBLIC: &str = include_str!("../../../../tests/data/github-app-test-key.pub.pem");

    fn app() -> AppAuth {
        let app = GithubApp {
            app_id: "12345".into(),
            private_key: Secret::new(KEY),
        };
        AppAuth::new(&app, reqwest::Client::new(), "http://127.0.0.1:9").unwrap()
    }

    #[derive(Deserialize)]
    struct Seen {
        iat: i64,
        exp: i64,
        iss: String,
    }

    #[test]
    fn the_jwt_is_rs256_with_iat_a_minute_back_and_exp_under_ten_minutes() {
        let a = app();
        let now = 1_800_000_000_000;
        let jwt = a.jwt(now).unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let seen = jsonwebtoken::decode::<Seen>(&jwt, &key, &v).unwrap().claims;
        assert_eq!(seen.iss, "12345");
        assert_eq!(seen.iat, now / 1000 - 60);
        assert!(seen.exp - now / 1000 <= 600 && seen.exp > seen.iat);
        // A learnt skew moves both.
        a.skew_secs.store(-300, Ordering::Relaxed);
        let later = jsonwebtoken::decode::<Seen>(&a.jwt(now).unwrap(), &key, &v)
            .unwrap()
            .claims;
        assert_eq!(later.iat, seen.iat - 300);
    }

    #[test]
    fn a_refusal_for_its_times_is_told_from_other_401s() {
        assert!(claims_refused(
            r#"{"message":"'Issued at' claim ('iat') must be an Integer representing a time in the past"}"#
        ));
        assert!(claims_refused(
            r#"{"message":"Expiration time' claim ('exp') is too far in the future"}"#
        ));
        assert!(!claims_refused(
            r#"{"message":"A JSON web token could not be decoded"}"#
        ));
    }
}
