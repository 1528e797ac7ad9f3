//! Issue 17: the operator console, users and roles. One file per capability; the helpers
//! here log in as a role and post forms the way a browser does (session cookie + the CSRF
//! token read from the page).

mod auth;
mod browser;
mod events;
mod jobs;
mod pages;
mod roles;
mod runs;
mod schedules;

use helix_sync::auth::Principal;
use helix_sync::service::users::add_user;

use crate::helpers::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// A browser-like client for one user: no automatic redirects, the session cookie sent.
pub struct Console {
    pub client: reqwest::Client,
    pub base: String,
    pub cookie: String,
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` set by `res`, if any.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap()[name.len() + 1..].to_owned())
}

/// The value of the first `<input … name="csrf" value="…">` in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Adds user `name` with `role` (password [`PASSWORD`]).
pub async fn add(app: &TestApp, name: &str, role: &str) {
    add_user(&app.state, &Principal::cli(), name, role, PASSWORD)
        .await
        .unwrap();
}

impl Console {
    /// Logs in through the form as `name` (adding the user with `role` first).
    pub async fn as_role(app: &TestApp, name: &str, role: &str) -> Console {
        add(app, name, role).await;
        Self::login(app, name, PASSWORD).await.expect("login works")
    }

    /// Logs in through the form; the failed response when it does not work.
    pub async fn login(
        app: &TestApp,
        name: &str,
        password: &str,
    ) -> Result<Console, reqwest::Response> {
        let client = no_redirects();
        let page = client.get(app.url("/console/login")).send().await.unwrap();
        let login_cookie = set_cookie(&page, "helix_login").expect("login cookie");
        let html = page.text().await.unwrap();
        let res = client
            .post(app.url("/console/login"))
            .header("cookie", format!("helix_login={login_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(&[
                ("username", name),
                ("password", password),
                ("csrf", &csrf_of(&html)),
                ("next", ""),
            ]))
            .send()
            .await
            .unwrap();
        // `__Host-` when the app's public URL is https (see `console::session::secure`).
        let session = ["helix_session", "__Host-helix_session"]
            .into_iter()
            .find_map(|name| Some((name, set_cookie(&res, name)?)));
        match session {
            Some((name, s)) if res.status() == 303 => Ok(Console {
                client,
                base: app.address.clone(),
                cookie: format!("{name}={s}"),
            }),
            _ => Err(res),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// GET, expecting 200; the body.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// This session's CSRF token (read from the dashboard's sign-out form).
    pub async fn csrf(&self) -> String {
        csrf_of(&self.page("/console").await)
    }

    /// POSTs a form with this session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post_raw(path, &all).await
    }

    /// POSTs exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(fields))
            .send()
            .await
            .unwrap()
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn encode(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The flash message a 303 left (percent-decoded).
pub fn flash(res: &reqwest::Response) -> String {
    let v = set_cookie(res, "helix_flash").expect("a flash message");
    form_urlencoded_decode(&v)
}

fn form_urlencoded_decode(v: &str) -> String {
    url::form_urlencoded::parse(format!("m={v}").as_bytes())
        .next()
        .map(|(_, m)| m.into_owned())
        .unwrap_or_default()
}
