//! `GET /v1/events` and `GET /v1/events/{id}`: the stored, normalized events.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use providers::{EventId, EventPattern};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::delivery::payload::{ConfirmationBody, EventBody};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::pagination::{ListBody, PageParams};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};
use crate::store::confirmations;
use crate::store::events::{self, EventFilter, StoredEvent};

/// Filters for listing events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Event type or pattern: `loan.active`, `loan.*`, `*`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Provider name.
    pub provider: Option<String>,
    /// Resource id at the provider (loan id, charge id, endToEndId).
    pub resource_id: Option<String>,
    /// Occurred at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(pattern = "^evt_[0-9a-f]{32}$")]
    pub starting_after: Option<String>,
}

/// Lists events, newest first.
#[utoipa::path(
    get, path = "/v1/events", operation_id = "list_events", tag = "events",
    params(EventsQuery),
    security(("api_key" = ["events:read"])),
    responses(
        (status = 200, body = ListBody<EventBody>),
        (status = 400, body = crate::http::error::Problem),
        (status = 401, body = crate::http::error::Problem),
        (status = 403, body = crate::http::error::Problem),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<ListBody<EventBody>>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let page = PageParams::<EventId>::parse(query.limit, query.starting_after.as_deref())?;
    let filter = filter_of(query)?;
    let found = events::list(&state.pool, &filter, page.starting_after, page.limit).await?;
    let bodies = with_confirmations(&state, found.items).await?;
    Ok(Json(ListBody::new(bodies, found.has_more)))
}

/// The events as the API shows them, each with its confirmation by fetch where it needed one.
async fn with_confirmations(
    state: &AppState,
    events: Vec<StoredEvent>,
) -> Result<Vec<EventBody>, ApiError> {
    let ids: Vec<uuid::Uuid> = events.iter().map(|event| event.event_id).collect();
    let mut found = confirmations::of_events(&state.pool, &ids).await?;
    Ok(events
        .into_iter()
        .map(|event| {
            let confirmation = found.remove(&event.event_id);
            let mut body = EventBody::from(event);
            if let Some(confirmation) = confirmation {
                body.verification.clone_from(&confirmation.verification);
                body.confirmation = Some(ConfirmationBody::from(confirmation));
            }
            body
        })
        .collect())
}

/// The filter a query asks for: the type pattern parsed, the period checked. Shared by the API
/// and the console.
pub(crate) fn filter_of(query: EventsQuery) -> Result<EventFilter, ApiError> {
    let event_type = query
        .event_type
        .as_deref()
        .map(|pattern| pattern.parse::<EventPattern>())
        .transpose()
        .map_err(|error| ApiError::InvalidQuery(format!("type: {error}")))?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(ApiError::InvalidQuery("from must not be after to".into()));
    }
    Ok(EventFilter {
        event_type,
        provider: query.provider,
        resource_id: query.resource_id,
        from: query.from,
        to: query.to,
    })
}

/// One event.
#[utoipa::path(
    get, path = "/v1/events/{id}", operation_id = "get_event", tag = "events",
    params(("id" = String, Path, description = "evt_ id")),
    security(("api_key" = ["events:read"])),
    responses((status = 200, body = EventBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<EventBody>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let id = parse_id(&id)?;
    let event = events::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("event {id}"),
        })?;
    let mut bodies = with_confirmations(&state, vec![event]).await?;
    bodies.pop().map(Json).ok_or_else(|| ApiError::NotFound {
        resource: format!("event {id}"),
    })
}

/// The exact bytes the provider sent (may hold personal data: needs the `pii` scope).
#[utoipa::path(
    get, path = "/v1/events/{id}/raw", tag = "events",
    params(("id" = String, Path, description = "evt_ id")),
    security(("api_key" = ["events:read", "pii"])),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = crate::http::error::Problem))
)]
pub async fn raw(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Scope::EventsRead)?;
    caller.require(Scope::Pii)?;
    let id = parse_id(&id)?;
    let raw = events::raw(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("event {id}"),
        })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], raw))
}

fn parse_id(id: &str) -> Result<EventId, ApiError> {
    // A malformed id cannot name an existing event: 404 rather than 400 keeps ids opaque.
    id.parse::<EventId>().map_err(|_| ApiError::NotFound {
        resource: format!("event {id}"),
    })
}
