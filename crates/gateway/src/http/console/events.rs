//! Events: search by type pattern, provider, resource id and time; an event with its deliveries
//! and their attempts, and (with `pii`) the provider's raw payload.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use providers::EventId;
use serde::{Deserialize, Serialize};

use super::session::{Session, SessionView, require};
use super::view::{self, Page, Refusal};
use crate::http::events::{self as api, EventsQuery};
use crate::http::state::AppState;
use crate::keys::Scope;
use crate::store::confirmations;
use crate::store::deliveries;
use crate::store::events::{self, EventFilter, StoredEvent};

/// Events per page.
const PAGE: u32 = 50;
/// Deliveries shown on an event's page.
const DELIVERIES: u32 = 50;

/// The search form, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Search {
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    starting_after: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    event_type: String,
    provider: String,
    resource: String,
    resource_id: String,
    occurred_at: String,
    received_at: String,
}

#[derive(Serialize)]
struct ListContext<'a> {
    session: SessionView,
    nav: &'static str,
    search: &'a Search,
    error: Option<String>,
    events: Vec<Row>,
    next: Option<String>,
}

fn row(event: &StoredEvent) -> Row {
    Row {
        id: event.id().to_string(),
        event_type: event.event_type.clone(),
        provider: event.provider.clone(),
        resource: format!("{} {}", event.resource_kind, event.resource_id),
        resource_id: event.resource_id.clone(),
        occurred_at: view::time(event.occurred_at),
        received_at: view::time(event.received_at),
    }
}

fn filter_of(search: &Search) -> Result<(EventFilter, Option<EventId>), String> {
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let query = EventsQuery {
        event_type: text(&search.event_type),
        provider: text(&search.provider),
        resource_id: text(&search.resource_id),
        from: view::parse_time("from", &search.from)?,
        to: view::parse_time("to", &search.to)?,
        limit: None,
        starting_after: None,
    };
    let filter = api::filter_of(query).map_err(|error| error.detail())?;
    let starting_after = text(&search.starting_after)
        .map(|id| id.parse::<EventId>())
        .transpose()
        .map_err(|_| "starting_after: not an event id".to_owned())?;
    Ok((filter, starting_after))
}

/// `GET /console/events`: newest first, [`PAGE`] per page.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(search): Query<Search>,
) -> Page {
    require(&session, Scope::EventsRead)?;
    let (filter, starting_after) = match filter_of(&search) {
        Ok(parsed) => parsed,
        Err(error) => {
            let context = ListContext {
                session: session.view(),
                nav: "events",
                search: &search,
                error: Some(error),
                events: Vec::new(),
                next: None,
            };
            return Ok(view::render_with(
                StatusCode::BAD_REQUEST,
                "events.html",
                context,
            ));
        }
    };
    let page = events::list(&state.pool, &filter, starting_after, PAGE).await?;
    let next = page
        .has_more
        .then(|| page.items.last().map(|event| event.id().to_string()))
        .flatten()
        .map(|last| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("type", &search.event_type)
                .append_pair("provider", &search.provider)
                .append_pair("resource_id", &search.resource_id)
                .append_pair("from", &search.from)
                .append_pair("to", &search.to)
                .append_pair("starting_after", &last);
            format!("/console/events?{}", query.finish())
        });
    let context = ListContext {
        session: session.view(),
        nav: "events",
        search: &search,
        error: None,
        events: page.items.iter().map(row).collect(),
        next,
    };
    Ok(view::render("events.html", context))
}

#[derive(Serialize)]
pub(super) struct AttemptView {
    started_at: String,
    latency_ms: i32,
    response_status: Option<i16>,
    response_body: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct DeliveryView {
    id: String,
    subscription_id: Option<String>,
    status: String,
    attempts: Vec<AttemptView>,
    next_attempt_at: String,
}

#[derive(Serialize)]
struct DetailContext {
    session: SessionView,
    nav: &'static str,
    event: Row,
    provider_event_type: String,
    dedup_key: String,
    correlation_id: Option<String>,
    occurred_at_source: String,
    data: String,
    raw: Option<String>,
    deliveries: Vec<DeliveryView>,
    /// How the webhook was authenticated (`credential+fetch` once confirmed).
    verification: Option<String>,
    /// The confirmation by fetch, on events that need one.
    confirmation: Option<ConfirmationView>,
}

/// An event's confirmation by fetch, as the event page shows it.
#[derive(Serialize)]
struct ConfirmationView {
    state: &'static str,
    reason: Option<String>,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: String,
}

/// The attempts of each delivery, as the delivery and event pages show them.
pub(super) async fn attempts_of(
    state: &AppState,
    delivery: providers::DeliveryId,
) -> Result<Vec<AttemptView>, sqlx::Error> {
    Ok(deliveries::attempts(&state.pool, delivery)
        .await?
        .into_iter()
        .map(|attempt| AttemptView {
            started_at: view::time(attempt.started_at),
            latency_ms: attempt.latency_ms,
            response_status: attempt.response_status,
            response_body: attempt.response_body,
            error: attempt.error,
        })
        .collect())
}

/// `GET /console/events/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Page {
    require(&session, Scope::EventsRead)?;
    let not_found = || Refusal::not_found(&format!("event {id}"));
    let parsed = id.parse::<EventId>().map_err(|_| not_found())?;
    let event = events::get(&state.pool, parsed)
        .await?
        .ok_or_else(not_found)?;
    let pii = session.pii();
    let mut data = event.data.clone();
    if !pii {
        view::mask_personal_data(&mut data);
    }
    let raw = match pii {
        true => events::raw(&state.pool, parsed).await?.map(|bytes| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|value| serde_json::to_string_pretty(&value).ok())
                .unwrap_or(text)
        }),
        false => None,
    };
    let rows = deliveries::for_event(&state.pool, event.event_id, DELIVERIES).await?;
    let mut delivery_views = Vec::with_capacity(rows.len());
    for delivery in rows {
        let attempts = attempts_of(&state, delivery.id()).await?;
        delivery_views.push(DeliveryView {
            id: delivery.id().to_string(),
            subscription_id: delivery
                .subscription_id
                .map(|id| providers::SubscriptionId::from_uuid(id).to_string()),
            status: delivery.status.as_str().to_owned(),
            attempts,
            next_attempt_at: view::time(delivery.next_attempt_at),
        });
    }
    let found = confirmations::of_events(&state.pool, &[event.event_id])
        .await?
        .remove(&event.event_id);
    let verification = found.as_ref().map_or_else(
        || event.verification.clone(),
        |found| found.verification.clone(),
    );
    let confirmation = found.map(|found| ConfirmationView {
        state: found.state().as_str(),
        next_attempt_at: view::time(found.next_attempt_at),
        reason: found.reason,
        attempts: found.attempts,
        last_error: found.last_error,
    });
    let context = DetailContext {
        session: session.view(),
        nav: "events",
        event: row(&event),
        provider_event_type: event.provider_event_type.clone(),
        dedup_key: event.dedup_key.clone(),
        correlation_id: event.correlation_id.clone(),
        occurred_at_source: event.occurred_at_source.clone(),
        data: serde_json::to_string_pretty(&data).unwrap_or_default(),
        raw,
        deliveries: delivery_views,
        verification,
        confirmation,
    };
    Ok(view::render("event.html", context))
}
