//! Rendering: the templates, the headers every page gets (a strict CSP: our own stylesheet
//! and script only; no caching of pages that hold data), and error pages.
//!
//! Errors reuse the HTTP edge's one mapping (`ApiError`: status and code) and only render it
//! as a page instead of JSON; our own faults are logged there and shown as an opaque 500.

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{context, Environment, Value};

use crate::auth::cookie::set_cookie;
use crate::auth::Role;
use crate::http::error::ApiError;
use crate::service::ServiceError;

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names turn on auto-escaping: every stored or upstream value is text.
        for (name, source) in [
            ("layout.html", include_str!("templates/layout.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("error.html", include_str!("templates/error.html")),
            ("login.html", include_str!("templates/login.html")),
            ("dashboard.html", include_str!("templates/dashboard.html")),
            ("events.html", include_str!("templates/events.html")),
            ("event.html", include_str!("templates/event.html")),
            ("rejected.html", include_str!("templates/rejected.html")),
            ("confirm.html", include_str!("templates/confirm.html")),
            ("jobs.html", include_str!("templates/jobs.html")),
            ("job.html", include_str!("templates/job.html")),
            ("deliveries.html", include_str!("templates/deliveries.html")),
            ("run.html", include_str!("templates/run.html")),
            ("schedules.html", include_str!("templates/schedules.html")),
            ("users.html", include_str!("templates/users.html")),
            ("token.html", include_str!("templates/token.html")),
            ("audit.html", include_str!("templates/audit.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} parses: {e:#}"));
        }
        env
    })
}

/// The flash message cookie (one message, shown once on the next page).
pub const FLASH: &str = "helix_flash";

/// Who a page is rendered for: what the layout shows of the signed-in user (a session gives
/// one; the login and error pages have none).
pub struct Viewer<'a> {
    pub name: &'a str,
    pub role: Role,
    /// The session's CSRF token, for the layout's forms (logout).
    pub csrf: &'a str,
    /// The message left by the previous action, shown once.
    pub flash: Option<&'a str>,
    /// Whether cookies are `Secure` here.
    pub secure: bool,
}

/// Renders `name` with `ctx` plus what the layout needs.
pub fn render<'a>(
    status: StatusCode,
    name: &str,
    viewer: Option<impl Into<Viewer<'a>>>,
    ctx: Value,
) -> Response {
    let viewer: Option<Viewer<'_>> = viewer.map(Into::into);
    let me = viewer.as_ref().map(|v| {
        context! {
            name => v.name,
            role => v.role.as_str(),
            can_act => v.role >= Role::Operator,
            is_admin => v.role >= Role::Admin,
        }
    });
    let full = context! {
        me => me,
        csrf => viewer.as_ref().map(|v| v.csrf),
        flash => viewer.as_ref().and_then(|v| v.flash),
        ..ctx
    };
    let html = match templates().get_template(name).and_then(|t| t.render(full)) {
        Ok(h) => h,
        Err(e) => {
            return PageError::from(ApiError::Internal(format!("rendering {name}: {e:#}")))
                .into_response()
        }
    };
    let mut res = (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        Html(html),
    )
        .into_response();
    if let Some(v) = viewer.filter(|v| v.flash.is_some()) {
        // Shown once: the next page does not repeat it.
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(v.secure, FLASH, "", "/console", 0),
        );
    }
    res
}

/// A page that answers 200.
pub fn ok<'a>(name: &str, viewer: impl Into<Viewer<'a>>, ctx: Value) -> Response {
    render(StatusCode::OK, name, Some(viewer), ctx)
}

/// An error as a page.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if let ApiError::Internal(cause) = &self.0 {
            tracing::error!(%cause, "console page failed");
        }
        let ctx = context! {
            status => status.as_u16(),
            code => self.0.code(),
            message => self.0.to_string(),
        };
        let mut res = render(status, "error.html", None::<Viewer>, ctx);
        *res.status_mut() = status;
        res
    }
}
