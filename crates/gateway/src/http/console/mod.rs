//! The operations and finance console at `/console`: server-rendered HTML over the same store and
//! the same scope checks as the API, in the same binary, with every asset embedded.
//!
//! # Layout
//! - `session`: sign-in with an API key, the session cookie, CSRF tokens on every form.
//! - `view`: the templates (minijinja, embedded), formatting of money and time, masking of
//!   personal data, the error page and the security headers.
//! - `charts`: server-rendered SVG charts.
//! - one module per page group: `events`, `subscriptions`, `reconciliation`, `intake`.
//!
//! Every page is read with bounded queries: lists are cursor-paginated like the API's, and
//! summaries read bounded windows (see each module).

pub mod charts;
pub mod events;
pub mod intake;
pub mod reconciliation;
pub mod session;
pub mod subscriptions;
pub mod view;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::state::AppState;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's routes, under `/console`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/events") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css", CSS) }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript", JS) }),
        )
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::detail))
        .route("/subscriptions", get(subscriptions::list))
        .route("/subscriptions/{id}", get(subscriptions::detail))
        .route(
            "/subscriptions/{id}/retry-dead",
            post(subscriptions::retry_dead),
        )
        .route("/subscriptions/{id}/replay", post(subscriptions::replay))
        .route("/subscriptions/{id}/rotate", post(subscriptions::rotate))
        .route("/deliveries/{id}", get(subscriptions::delivery))
        .route("/deliveries/{id}/retry", post(subscriptions::retry))
        .route("/replays/{id}", get(subscriptions::replay_page))
        .route(
            "/replays/{id}/progress",
            get(subscriptions::replay_progress),
        )
        .route("/reconciliation", get(reconciliation::summary))
        .route("/reconciliation/export.csv", get(reconciliation::export))
        .route("/reconciliation/items/{id}", get(reconciliation::item))
        .route(
            "/reconciliation/items/{id}/resolve",
            post(reconciliation::resolve),
        )
        .route("/intake", get(intake::page))
        .fallback(|| async {
            view::error_page(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "No such page.",
            )
        })
        .layer(axum::middleware::map_response(view::security_headers))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
