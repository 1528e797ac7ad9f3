//! The operator console under `/console`: server-rendered pages (minijinja, one layout, one
//! stylesheet, a few lines of vanilla JS, nothing loaded from elsewhere), behind a login.
//!
//! Every page calls `service` and renders what it returns; nothing here touches the store.
//! The order of checks on a request that changes something is fixed, and is the same in
//! every handler, through [`Form`]: session (else to the login page) → CSRF token (else 403)
//! → role (else 403, in `service`) → the change → audit (in `service`) → redirect with a
//! flash message (post/redirect/get, so a reload never repeats an action).
//!
//! Sessions are cookies (`HttpOnly`, `SameSite=Strict`, and `Secure` with the `__Host-`
//! prefix when `HELIX_PUBLIC_URL` is `https://`; see [`session`] for why the public URL and
//! not `X-Forwarded-Proto` decides). CSRF protection is a synchronizer token per session in a
//! hidden field of every form, compared in constant time; `SameSite=Strict` is the second
//! layer. Bad input never changes anything: an unknown id is a 404 page, a bad filter value
//! is shown beside its field.

mod admin;
mod assets;
mod events;
mod jobs;
mod login;
mod overview;
mod page;
pub mod session;

use axum::routing::{get, post};
use axum::Router;

use crate::http::AppState;
pub use page::PageError;
pub use session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::dashboard))
        .route("/console/deliveries", get(overview::deliveries))
        .route("/console/runs/{id}", get(overview::run))
        .route("/console/runs/{id}/rollback", post(overview::rollback))
        .route("/console/runs/{id}/exports/{format}", get(overview::export))
        .route("/console/schedules", get(overview::schedules))
        .route("/console/schedules/run", post(overview::run_now))
        .route("/console/events", get(events::list))
        .route(
            "/console/events/replay",
            get(events::confirm_replay).post(events::replay_matching),
        )
        .route("/console/events/{id}", get(events::show))
        .route("/console/events/{id}/replay", post(events::replay))
        .route("/console/rejected", get(events::rejected))
        .route("/console/jobs", get(jobs::list))
        .route(
            "/console/jobs/bulk",
            get(jobs::confirm_bulk).post(jobs::bulk),
        )
        .route("/console/jobs/{id}", get(jobs::show))
        .route("/console/jobs/{id}/{action}", post(jobs::act))
        .route("/console/users", get(admin::users).post(admin::add_user))
        .route("/console/users/update", post(admin::update_user))
        .route("/console/users/remove", post(admin::remove_user))
        .route("/console/tokens", post(admin::create_token))
        .route("/console/tokens/revoke", post(admin::revoke_token))
        .route("/console/audit", get(admin::audit))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/static/console.css", get(assets::css))
        .route("/console/static/console.js", get(assets::js))
}
