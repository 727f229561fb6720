//! Subscriptions and their deliveries: each subscription's health, its deliveries and attempts,
//! retrying one dead letter or every one, replaying a window with live progress, and rotating a
//! secret (shown once). Writes go through the same functions, and scope checks, as the API's.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use providers::{DeliveryId, SubscriptionId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::events::{AttemptView, attempts_of};
use super::session::{CsrfForm, Empty, Session, SessionView, require};
use super::view::{self, NoticeQuery, Page, Refusal, with_notice};
use crate::http::state::AppState;
use crate::http::subscriptions::replays::{self, ReplayBody, ReplayRequest};
use crate::http::subscriptions::{self as api, deliveries as api_deliveries};
use crate::keys::Scope;
use crate::store::deliveries::{self, DeliveryRow, DeliveryStatus, HealthRow};
use crate::store::subscriptions::{self as store, SubscriptionRow};

/// Subscriptions per page.
const PAGE: u32 = 50;
/// Deliveries per page on a subscription's page.
const DELIVERIES: u32 = 50;
/// Health is computed over the attempts of this many latest deliveries per subscription.
pub const HEALTH_WINDOW: u32 = 1_000;

#[derive(Serialize)]
struct HealthView {
    attempts: i64,
    success_rate: String,
    p50_latency_ms: String,
    p95_latency_ms: String,
    dead: i64,
    last_failure_at: String,
    last_failure: String,
}

fn health_view(row: Option<&HealthRow>) -> HealthView {
    let Some(row) = row else {
        return HealthView {
            attempts: 0,
            success_rate: "—".into(),
            p50_latency_ms: "—".into(),
            p95_latency_ms: "—".into(),
            dead: 0,
            last_failure_at: String::new(),
            last_failure: String::new(),
        };
    };
    let success_rate = match row.attempts {
        0 => "—".to_owned(),
        attempts => {
            let rate = Decimal::from(row.succeeded * 100) / Decimal::from(attempts);
            format!("{}%", rate.round_dp(1).normalize())
        }
    };
    let millis =
        |value: Option<f64>| value.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.0} ms"));
    let last_failure = match (&row.last_failure_status, &row.last_failure_error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => String::new(),
    };
    HealthView {
        attempts: row.attempts,
        success_rate,
        p50_latency_ms: millis(row.p50_latency_ms),
        p95_latency_ms: millis(row.p95_latency_ms),
        dead: row.dead,
        last_failure_at: view::time_opt(row.last_failure_at),
        last_failure,
    }
}

#[derive(Serialize)]
struct SubscriptionView {
    id: String,
    url: String,
    event_types: String,
    status: String,
    disabled_reason: Option<String>,
    failing_since: String,
    rate_limit: Option<i32>,
    ordered: bool,
    signature_scheme: String,
    description: Option<String>,
    health: HealthView,
}

fn subscription_view(row: &SubscriptionRow, health: Option<&HealthRow>) -> SubscriptionView {
    SubscriptionView {
        id: row.id().to_string(),
        url: row.url.clone(),
        event_types: row.event_types.join(", "),
        status: row.status.as_str().to_owned(),
        disabled_reason: row.disabled_reason.clone(),
        failing_since: view::time_opt(row.failing_since),
        rate_limit: row.rate_limit_per_second,
        ordered: row.ordered,
        signature_scheme: row.signature_scheme.as_str().to_owned(),
        description: row.description.clone(),
        health: health_view(health),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    starting_after: String,
}

#[derive(Serialize)]
struct ListContext {
    session: SessionView,
    nav: &'static str,
    subscriptions: Vec<SubscriptionView>,
    next: Option<String>,
}

/// `GET /console/subscriptions`: each with its health.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Page {
    require(&session, Scope::SubscriptionsRead)?;
    let starting_after = cursor::<SubscriptionId>(&query.starting_after, "a subscription")?;
    let page = store::list(&state.pool, None, starting_after, PAGE).await?;
    let ids: Vec<uuid::Uuid> = page.items.iter().map(|row| row.subscription_id).collect();
    let health = deliveries::health(&state.pool, &ids, HEALTH_WINDOW).await?;
    let subscriptions = page
        .items
        .iter()
        .map(|row| {
            let found = health
                .iter()
                .find(|h| h.subscription_id == row.subscription_id);
            subscription_view(row, found)
        })
        .collect();
    let next = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(format!(
            "/console/subscriptions?starting_after={}",
            last.id()
        )),
        _ => None,
    };
    Ok(view::render(
        "subscriptions.html",
        ListContext {
            session: session.view(),
            nav: "subscriptions",
            subscriptions,
            next,
        },
    ))
}

/// A list's `starting_after`: empty for the first page, else an id of type `T`.
fn cursor<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, Refusal> {
    match text.trim() {
        "" => Ok(None),
        id => id
            .parse::<T>()
            .map(Some)
            .map_err(|_| Refusal::invalid_query(&format!("starting_after: not {what} id"))),
    }
}

#[derive(Serialize)]
struct DeliveryLine {
    id: String,
    event_id: String,
    event_type: String,
    status: String,
    attempts: i32,
    last_response_status: Option<i16>,
    last_error: Option<String>,
    created_at: String,
    retryable: bool,
}

fn delivery_line(row: &DeliveryRow) -> DeliveryLine {
    DeliveryLine {
        id: row.id().to_string(),
        event_id: providers::EventId::from_uuid(row.event_id).to_string(),
        event_type: row.event_type.clone(),
        status: row.status.as_str().to_owned(),
        attempts: row.attempts,
        last_response_status: row.last_response_status,
        last_error: row.last_error.clone(),
        created_at: view::time(row.created_at),
        retryable: matches!(row.status, DeliveryStatus::Dead | DeliveryStatus::Pending),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    starting_after: String,
    #[serde(default)]
    notice: String,
}

#[derive(Serialize)]
struct DetailContext {
    session: SessionView,
    nav: &'static str,
    subscription: SubscriptionView,
    status: String,
    deliveries: Vec<DeliveryLine>,
    next: Option<String>,
    notice: String,
    can_write: bool,
    replay_since: String,
    replay_until: String,
}

/// `GET /console/subscriptions/{id}`: health, deliveries (by status), and the actions.
pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<DetailQuery>,
) -> Page {
    require(&session, Scope::SubscriptionsRead)?;
    let row = api::find(&state, &id).await?;
    let status = query.status.trim();
    if !status.is_empty() && status.parse::<DeliveryStatus>().is_err() {
        return Err(Refusal::invalid_query(
            "status: expected pending, delivering, succeeded or dead",
        ));
    }
    let starting_after = cursor::<DeliveryId>(&query.starting_after, "a delivery")?;
    let status_filter = Some(status).filter(|s| !s.is_empty());
    let page = deliveries::list_for_subscription(
        &state.pool,
        row.id(),
        status_filter,
        starting_after,
        DELIVERIES,
    )
    .await?;
    let health = deliveries::health(&state.pool, &[row.subscription_id], HEALTH_WINDOW).await?;
    let next = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(format!(
            "/console/subscriptions/{}?status={status}&starting_after={}",
            row.id(),
            last.id()
        )),
        _ => None,
    };
    let now = chrono::Utc::now();
    Ok(view::render(
        "subscription.html",
        DetailContext {
            session: session.view(),
            nav: "subscriptions",
            subscription: subscription_view(&row, health.first()),
            status: status.to_owned(),
            deliveries: page.items.iter().map(delivery_line).collect(),
            next,
            notice: query.notice,
            can_write: session.caller.has(Scope::SubscriptionsWrite),
            replay_since: view::local_input(Some(now - chrono::Duration::hours(1))),
            // Empty: until the moment the form is sent (a minute-precision "now" would leave out
            // this minute's events).
            replay_until: String::new(),
        },
    ))
}

#[derive(Serialize)]
struct DeliveryContext {
    session: SessionView,
    nav: &'static str,
    delivery: DeliveryLine,
    subscription_id: Option<String>,
    attempts: Vec<AttemptView>,
    next_attempt_at: String,
    delivered_at: String,
    notice: String,
    can_write: bool,
}

/// `GET /console/deliveries/{id}`: a delivery and every attempt, with codes and bodies.
pub async fn delivery(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Page {
    require(&session, Scope::SubscriptionsRead)?;
    let not_found = || Refusal::not_found(&format!("delivery {id}"));
    let parsed = id.parse::<DeliveryId>().map_err(|_| not_found())?;
    let row = deliveries::get(&state.pool, parsed)
        .await?
        .ok_or_else(not_found)?;
    let attempts = attempts_of(&state, parsed).await?;
    Ok(view::render(
        "delivery.html",
        DeliveryContext {
            session: session.view(),
            nav: "subscriptions",
            delivery: delivery_line(&row),
            subscription_id: row
                .subscription_id
                .map(|id| SubscriptionId::from_uuid(id).to_string()),
            attempts,
            next_attempt_at: view::time(row.next_attempt_at),
            delivered_at: view::time_opt(row.delivered_at),
            notice: query.notice,
            can_write: session.caller.has(Scope::SubscriptionsWrite),
        },
    ))
}

/// `POST /console/deliveries/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> Page {
    api_deliveries::retry_one(&state, &session.caller, &id).await?;
    tracing::info!(delivery = %id, api_key = %session.caller.api_key_id, "console retry");
    Ok(with_notice(
        &format!("/console/deliveries/{id}"),
        "Retry scheduled: the delivery is due now.",
    ))
}

/// `POST /console/subscriptions/{id}/retry-dead`: every dead letter of the subscription (the
/// API's `POST /v1/subscriptions/{id}/deliveries/retry-dead`).
pub async fn retry_dead(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> Page {
    let retried = api_deliveries::retry_every_dead(&state, &session.caller, &id).await?;
    Ok(with_notice(
        &format!("/console/subscriptions/{id}"),
        &format!("{} dead deliveries scheduled again.", retried.retried),
    ))
}

/// The replay form.
#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    event_types: String,
}

/// `POST /console/subscriptions/{id}/replay`: starts a replay and shows its progress.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<ReplayForm>,
) -> Page {
    let since = view::parse_time("since", &form.since)
        .map_err(|error| Refusal::invalid_form(&error))?
        .ok_or_else(|| Refusal::invalid_form("since: required"))?;
    let until =
        view::parse_time("until", &form.until).map_err(|error| Refusal::invalid_form(&error))?;
    let patterns: Vec<String> = form
        .event_types
        .split([',', ' '])
        .map(str::trim)
        .filter(|pattern| !pattern.is_empty())
        .map(str::to_owned)
        .collect();
    let request = ReplayRequest {
        since,
        until,
        event_types: Some(patterns).filter(|patterns| !patterns.is_empty()),
    };
    let job = replays::start(&state, &session.caller, &id, request).await?;
    Ok(Redirect::to(&format!("/console/replays/{}", job.id)).into_response())
}

#[derive(Serialize)]
struct ReplayContext {
    session: SessionView,
    nav: &'static str,
    replay: ReplayView,
}

#[derive(Serialize)]
struct ReplayView {
    id: String,
    subscription_id: String,
    since: String,
    until: String,
    event_types: String,
    status: String,
    enqueued: i64,
    created_at: String,
    completed_at: String,
}

fn replay_view(body: &ReplayBody) -> ReplayView {
    ReplayView {
        id: body.id.clone(),
        subscription_id: body.subscription_id.clone(),
        since: view::time(body.since),
        until: view::time(body.until),
        event_types: body.event_types.join(", "),
        status: body.status.clone(),
        enqueued: body.enqueued,
        created_at: view::time(body.created_at),
        completed_at: view::time_opt(body.completed_at),
    }
}

/// `GET /console/replays/{id}`: the replay, its progress updated live by `console.js`.
pub async fn replay_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Page {
    let body = replays::status(&state, &session.caller, &id).await?;
    Ok(view::render(
        "replay.html",
        ReplayContext {
            session: session.view(),
            nav: "subscriptions",
            replay: replay_view(&body),
        },
    ))
}

/// `GET /console/replays/{id}/progress`: the progress as JSON, polled by the replay page (errors
/// as the API's problem+json).
pub async fn replay_progress(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match replays::status(&state, &session.caller, &id).await {
        Ok(body) => Json(serde_json::json!({
            "status": body.status,
            "enqueued": body.enqueued,
            "completed_at": view::time_opt(body.completed_at),
        }))
        .into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    grace_seconds: String,
}

#[derive(Serialize)]
struct SecretContext {
    session: SessionView,
    nav: &'static str,
    subscription_id: String,
    secret: String,
    public_key: Option<String>,
    grace_seconds: u64,
}

/// `POST /console/subscriptions/{id}/rotate`: a new secret, shown once on the answer page.
pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<RotateForm>,
) -> Page {
    let grace_seconds = match form.grace_seconds.trim() {
        "" => 86_400,
        text => text
            .parse::<u64>()
            .map_err(|_| Refusal::invalid_form("grace_seconds: a whole number of seconds"))?,
    };
    let body = api::rotate(&state, &session.caller, &id, grace_seconds).await?;
    tracing::info!(subscription = %id, api_key = %session.caller.api_key_id, "console secret rotation");
    // The page shows a secret: never stored by a cache (the console's headers say so for every
    // page; this one must not depend on that).
    let mut response = view::render(
        "secret.html",
        SecretContext {
            session: session.view(),
            nav: "subscriptions",
            subscription_id: id,
            secret: body.secret.unwrap_or_default(),
            public_key: body.public_key,
            grace_seconds,
        },
    );
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
