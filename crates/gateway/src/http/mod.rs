//! The HTTP surface: the `/v1` REST API, inbound `/webhooks`, operations endpoints, OpenAPI.
//!
//! # Layout
//! - `error`: `ApiError`, the problem+json catalogue.
//! - `extract`: extractors that answer bad input with `ApiError`.
//! - `auth`: API keys and scopes; `idempotency`: `Idempotency-Key` on POST.
//! - `pagination`: cursor pagination.
//! - `console`: the operations and finance console (HTML at `/console`).
//! - one module per resource: `events`, `event_types`, `keys`, `webhooks`, `health`, `credit`
//!   (customers, credit offers, simulations, loans).
//!
//! Layers, outermost first: request id → trace span → catch panic → render problems → timeout →
//! compression → (on `/v1`) authenticate → idempotency → handler.

pub mod auth;
pub mod banking;
pub mod console;
pub mod credit;
pub mod error;
pub mod event_types;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod keys;
pub mod money;
pub mod openapi;
pub mod pagination;
pub mod providers;
pub mod quarantine;
pub mod reconciliation;
pub mod state;
pub mod subscriptions;
pub mod webhooks;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::http::error::ApiError;
use crate::http::openapi::{BearerAuth, EventWebhooks, ProviderCatalogue, SharedResponses};
use crate::http::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "paygate",
        description = "One API in front of payment providers (credit and banking): events, webhooks, reconciliation. \
                       Errors are RFC 9457 problem+json with a stable `code`; every POST takes an `Idempotency-Key`.",
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        events::list, events::get, events::raw, event_types::list, event_types::get,
        quarantine::list, quarantine::get, quarantine::replay,
        keys::create, keys::list, keys::revoke,
        providers::register, providers::rotate,
        credit::customers::create_customer, credit::customers::list_customers, credit::customers::get_customer, credit::customers::upload_document,
        credit::offers::list_credit_offers, credit::offers::get_credit_offer, credit::offers::simulate,
        credit::loans::create_loan, credit::loans::get_loan, credit::loans::list_installments,
        banking::accounts::open_account, banking::accounts::get_account, banking::accounts::upload_document, banking::accounts::balance,
        banking::accounts::statement, banking::charges::create_charge, banking::charges::list_charges, banking::charges::get_charge,
        banking::charges::cancel_charge, banking::pix::send_pix, banking::pix::list_transfers, banking::pix::get_transfer,
        banking::pix::refund, banking::keys::create_key, banking::keys::list_keys, banking::keys::delete_key,
        subscriptions::create, subscriptions::list, subscriptions::get, subscriptions::update,
        subscriptions::delete, subscriptions::rotate_secret, subscriptions::test_send::test_send, subscriptions::deliveries::deliveries,
        subscriptions::replays::replay, subscriptions::deliveries::delivery, subscriptions::deliveries::retry, subscriptions::deliveries::retry_dead, subscriptions::replays::replay_status,
        reconciliation::list, reconciliation::get, reconciliation::resolve, reconciliation::summary,
        reconciliation::report, reconciliation::run, reconciliation::get_run,
        webhooks::receive_root, webhooks::receive_path,
    ),
    components(schemas(error::Problem, error::FieldProblem, crate::keys::Scope)),
    modifiers(&BearerAuth, &SharedResponses, &EventWebhooks, &ProviderCatalogue),
    tags(
        (name = "events", description = "Normalized provider events"),
        (name = "api keys", description = "Keys for internal services"),
        (name = "webhooks", description = "Inbound provider webhooks"),
        (name = "providers", description = "Webhook registration at providers"),
        (name = "credit", description = "Customers, KYC documents, credit offers, simulations and loans at the credit provider"),
        (name = "banking", description = "Accounts, charges, Pix transfers, refunds and keys at the banking provider"),
        (name = "subscriptions", description = "Partner webhooks: subscriptions, deliveries, replays"),
        (name = "webhooks to partners", description = "What the gateway POSTs to partner subscriptions, one typed operation per event type (see `webhooks`)"),
        (name = "reconciliation", description = "Pix receipts against loan disbursements"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let v1 = Router::new()
        .route("/events", get(events::list))
        .merge(credit_routes())
        .merge(banking_routes())
        .merge(subscription_routes())
        .merge(reconciliation_routes())
        .route("/events/{id}", get(events::get))
        .route("/events/{id}/raw", get(events::raw))
        .route("/event-types", get(event_types::list))
        .route("/event-types/{type}", get(event_types::get))
        .route("/quarantine", get(quarantine::list))
        .route("/quarantine/{id}", get(quarantine::get))
        .route("/quarantine/{id}/replay", post(quarantine::replay))
        .route("/api-keys", post(keys::create).get(keys::list))
        .route("/api-keys/{id}/revoke", post(keys::revoke))
        // Dinie has one endpoint ("webhook"), Delbank one per event type ("webhooks"): both spellings.
        .route("/providers/{provider}/webhooks", post(providers::register))
        .route("/providers/{provider}/webhook", post(providers::register))
        .route(
            "/providers/{provider}/webhooks/rotate",
            post(providers::rotate),
        )
        .route(
            "/providers/{provider}/webhook/rotate",
            post(providers::rotate),
        )
        // Innermost first: handler errors are rendered before the idempotency layer stores them, so
        // a replay is byte-identical to the first answer.
        .route_layer(middleware::from_fn(error::render_problem))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent_post,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(settings.server.body_limit_bytes));

    let webhooks = Router::new()
        .route("/{provider}", post(webhooks::receive_root))
        .route("/{provider}/{*path}", post(webhooks::receive_path))
        .layer(DefaultBodyLimit::max(
            settings.server.webhook_body_limit_bytes,
        ));

    let timeout = settings.request_timeout();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest("/v1", v1)
        .nest("/webhooks", webhooks)
        .nest("/console", console::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn_with_state(timeout, enforce_timeout))
        .layer(middleware::from_fn(error::render_problem))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        // Outside every layer that renders or replaces a body (problems, timeouts, panics): a
        // body is compressed only once it is final, so `content-encoding` is always true.
        .layer(CompressionLayer::new())
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .with_state(state)
}

/// `/v1/customers`, `/v1/credit-offers`, `/v1/loans`.
fn credit_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/customers",
            post(credit::customers::create_customer).get(credit::customers::list_customers),
        )
        .route("/customers/{id}", get(credit::customers::get_customer))
        .route(
            "/customers/{id}/documents",
            post(credit::customers::upload_document),
        )
        .route("/credit-offers", get(credit::offers::list_credit_offers))
        .route("/credit-offers/{id}", get(credit::offers::get_credit_offer))
        .route(
            "/credit-offers/{id}/simulations",
            post(credit::offers::simulate),
        )
        .route("/loans", post(credit::loans::create_loan))
        .route("/loans/{id}", get(credit::loans::get_loan))
        .route(
            "/loans/{id}/installments",
            get(credit::loans::list_installments),
        )
}

/// `/v1/accounts`, `/v1/charges`, `/v1/pix/...`.
fn banking_routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", post(banking::accounts::open_account))
        .route("/accounts/{id}", get(banking::accounts::get_account))
        .route(
            "/accounts/{id}/documents",
            post(banking::accounts::upload_document),
        )
        .route("/accounts/{id}/balance", get(banking::accounts::balance))
        .route(
            "/accounts/{id}/statement",
            get(banking::accounts::statement),
        )
        .route(
            "/charges",
            post(banking::charges::create_charge).get(banking::charges::list_charges),
        )
        .route("/charges/{id}", get(banking::charges::get_charge))
        .route(
            "/charges/{id}/cancel",
            post(banking::charges::cancel_charge),
        )
        .route(
            "/pix/transfers",
            post(banking::pix::send_pix).get(banking::pix::list_transfers),
        )
        .route("/pix/transfers/{id}", get(banking::pix::get_transfer))
        .route("/pix/transfers/{id}/refund", post(banking::pix::refund))
        .route(
            "/pix/keys",
            post(banking::keys::create_key).get(banking::keys::list_keys),
        )
        .route(
            "/pix/keys/{id}",
            axum::routing::delete(banking::keys::delete_key),
        )
}

/// `/v1/subscriptions`, `/v1/deliveries`, `/v1/replays`.
fn subscription_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/subscriptions",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/subscriptions/{id}",
            get(subscriptions::get)
                .patch(subscriptions::update)
                .delete(subscriptions::delete),
        )
        .route(
            "/subscriptions/{id}/secret/rotate",
            post(subscriptions::rotate_secret),
        )
        .route(
            "/subscriptions/{id}/test",
            post(subscriptions::test_send::test_send),
        )
        .route(
            "/subscriptions/{id}/deliveries",
            get(subscriptions::deliveries::deliveries),
        )
        .route(
            "/subscriptions/{id}/replay",
            post(subscriptions::replays::replay),
        )
        .route("/deliveries/{id}", get(subscriptions::deliveries::delivery))
        .route(
            "/deliveries/{id}/retry",
            post(subscriptions::deliveries::retry),
        )
        .route(
            "/subscriptions/{id}/deliveries/retry-dead",
            post(subscriptions::deliveries::retry_dead),
        )
        .route("/replays/{id}", get(subscriptions::replays::replay_status))
}

/// `/v1/reconciliation/...`.
fn reconciliation_routes() -> Router<AppState> {
    Router::new()
        .route("/reconciliation/items", get(reconciliation::list))
        .route("/reconciliation/items/{id}", get(reconciliation::get))
        .route(
            "/reconciliation/items/{id}/resolve",
            post(reconciliation::resolve),
        )
        .route("/reconciliation/summary", get(reconciliation::summary))
        .route("/reconciliation/report.csv", get(reconciliation::report))
        .route("/reconciliation/runs", post(reconciliation::run))
        .route("/reconciliation/runs/{id}", get(reconciliation::get_run))
}

/// The request span: method, route template (never the raw path: no ids or PII), request id.
fn make_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "http",
        http.method = %request.method(),
        http.route = route,
        request_id = request_id,
        api_key = tracing::field::Empty,
    )
}

async fn enforce_timeout(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("paygate_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("paygate_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed());
    response
}
