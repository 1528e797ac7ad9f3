//! Logins, sessions, cookies, rate limiting, API tokens with roles, the CLI.

use super::{add, csrf_of, no_redirects, set_cookie, Console, PASSWORD};
use crate::helpers::{error_code, spawn_app, spawn_with, Spawn, API_TOKEN};

#[tokio::test]
async fn pages_need_a_login_and_the_session_cookie_is_locked_down() {
    let app = spawn_app().await;
    let res = no_redirects()
        .get(app.url("/console/events?source=github"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/console/login?next=%2Fconsole%2Fevents%3Fsource%3Dgithub"
    );

    add(&app, "alice", "viewer").await;
    let client = no_redirects();
    let page = client.get(app.url("/console/login")).send().await.unwrap();
    let login = set_cookie(&page, "helix_login").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let body = super::encode(&[
        ("username", "alice"),
        ("password", PASSWORD),
        ("csrf", &csrf),
        ("next", "/console/jobs"),
    ]);
    let res = client
        .post(app.url("/console/login"))
        .header("cookie", format!("helix_login={login}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/console/jobs");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("helix_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure ({cookie})"
    );
    // The database holds the hash of the cookie's value, not the value.
    let value = set_cookie(&res, "helix_session").unwrap();
    let now = helix_sync::store::now_ms();
    assert!(app.store.session(&value, now).await.unwrap().is_none());
    let found = helix_sync::auth::session::find(&app.store, &value, now)
        .await
        .unwrap();
    assert_eq!(found.unwrap().0.name, "alice");
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_host_prefixed() {
    let app =
        spawn_with(Spawn::default().env("HELIX_PUBLIC_URL", "https://helix.example.org")).await;
    add(&app, "alice", "viewer").await;
    let client = no_redirects();
    let page = client.get(app.url("/console/login")).send().await.unwrap();
    let login = set_cookie(&page, "helix_login").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let res = client
        .post(app.url("/console/login"))
        .header("cookie", format!("helix_login={login}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(super::encode(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("__Host-helix_session="))
        .expect("the __Host- cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/;"),
        "{cookie}"
    );
}

#[tokio::test]
async fn wrong_passwords_read_the_same_and_are_rate_limited() {
    let app = spawn_app().await;
    add(&app, "alice", "admin").await;
    let unknown = Console::login(&app, "nobody", "whatever-pass")
        .await
        .err()
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    let wrong = Console::login(&app, "alice", "wrong-password")
        .await
        .err()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    assert!(
        wrong.contains("wrong user name or password")
            && unknown.contains("wrong user name or password")
    );
    for _ in 0..4 {
        let _ = Console::login(&app, "alice", "wrong-password").await;
    }
    // Five failures: now even the right password is refused, without being checked.
    let limited = Console::login(&app, "alice", PASSWORD)
        .await
        .err()
        .expect("limited");
    assert_eq!(limited.status(), 429);
    assert!(limited
        .text()
        .await
        .unwrap()
        .contains("too many failed logins"));
}

#[tokio::test]
async fn a_fresh_install_login_page_says_how_to_make_the_first_admin() {
    let app = spawn_app().await;
    let hint = "helix-sync user add NAME --role admin";
    let page = |app: &crate::helpers::TestApp| {
        let url = app.url("/console/login");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    assert!(
        page(&app).await.contains(hint),
        "no user yet: the hint shows"
    );
    add(&app, "ada", "admin").await;
    assert!(
        !page(&app).await.contains(hint),
        "once a user exists it is gone"
    );
}

#[tokio::test]
async fn a_login_post_without_its_csrf_cookie_is_403() {
    let app = spawn_app().await;
    add(&app, "alice", "admin").await;
    let res = no_redirects()
        .post(app.url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(super::encode(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("csrf", "forged"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let c = Console::as_role(&app, "alice", "viewer").await;
    let res = c.post("/console/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        c.get("/console").await.status(),
        303,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn api_tokens_carry_their_users_role_and_are_shown_once() {
    let app = spawn_app().await;
    let admin = Console::as_role(&app, "root", "admin").await;
    add(&app, "vera", "viewer").await;
    add(&app, "otto", "operator").await;
    let mut tokens = Vec::new();
    for user in ["vera", "otto"] {
        let res = admin
            .post("/console/tokens", &[("username", user), ("name", "ci")])
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        let at = html.find("hxs_").expect("the token is shown");
        tokens.push(html[at..at + 47].to_owned());
    }
    let listing = admin.page("/console/users").await;
    assert!(!listing.contains(&tokens[0]), "a token is shown only once");

    let trigger = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/sync"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    // Both read; only the operator triggers.
    for t in &tokens {
        let res = app
            .client
            .get(app.url("/api/sync/status"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        error_code(trigger(tokens[0].clone()).await, 403).await,
        "forbidden"
    );
    assert_eq!(trigger(tokens[1].clone()).await.status(), 202);
    assert_eq!(
        trigger(API_TOKEN.to_owned()).await.status(),
        202,
        "the bootstrap token stays admin"
    );
    assert_eq!(
        error_code(trigger("hxs_made_up".into()).await, 401).await,
        "unauthorized"
    );

    // Revoked: gone.
    let page = admin.page("/console/users").await;
    let at = page.find("name=\"id\" value=\"").unwrap() + "name=\"id\" value=\"".len();
    let id = page[at..at + 36].to_owned();
    assert_eq!(
        admin
            .post("/console/tokens/revoke", &[("id", &id)])
            .await
            .status(),
        303
    );
    let still = app
        .client
        .get(app.url("/api/sync/status"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    let other = app
        .client
        .get(app.url("/api/sync/status"))
        .bearer_auth(&tokens[1])
        .send()
        .await
        .unwrap();
    // Tokens are listed by user name: the first is otto's.
    assert_eq!(still.status(), 200, "vera's token still works");
    assert_eq!(other.status(), 401, "otto's token is revoked");

    // The audit log says who did it.
    let audit = admin.page("/console/audit").await;
    for action in [
        "token.create",
        "token.revoke",
        "sync.trigger",
        "otto (API token)",
    ] {
        assert!(audit.contains(action), "{action} not in the audit log");
    }
}

#[tokio::test]
async fn the_user_command_adds_lists_changes_and_removes() {
    let app = spawn_app().await;
    let db = app.state.config.database_url.clone();
    let run = |args: &[&str], stdin: &str| {
        let out = crate::process::helix()
            .env("DATABASE_URL", &db)
            .env(
                "HELIX_CONFIG",
                format!("{}/config/sync_config.json", env!("CARGO_MANIFEST_DIR")),
            )
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    assert_eq!(
        run(
            &["user", "add", "carol", "--role", "operator"],
            "s3cret-pass\n"
        )
        .0,
        Some(0)
    );
    let (code, out) = run(&["user", "add", "carol"], "s3cret-pass\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("exists"), "{out}");
    assert_eq!(
        run(&["user", "add", "bad", "--role", "root"], "s3cret-pass\n").0,
        Some(1)
    );
    assert_eq!(run(&["user", "add", "short"], "abc\n").0, Some(1));
    let (_, list) = run(&["user", "list"], "");
    assert!(
        list.contains("carol") && list.contains("operator"),
        "{list}"
    );
    assert!(Console::login(&app, "carol", "s3cret-pass").await.is_ok());
    assert_eq!(
        run(&["user", "passwd", "carol"], "n3w-password\n").0,
        Some(0)
    );
    assert!(Console::login(&app, "carol", "s3cret-pass").await.is_err());
    assert!(Console::login(&app, "carol", "n3w-password").await.is_ok());
    assert_eq!(run(&["user", "remove", "carol"], "").0, Some(0));
    assert_eq!(run(&["user", "remove", "carol"], "").0, Some(1));
}
