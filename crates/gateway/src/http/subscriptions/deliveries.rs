//! A subscription's deliveries and their attempts; retrying a dead letter.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use providers::{DeliveryId, SubscriptionId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::find;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::pagination::{ListBody, PageParams};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};
use crate::store::deliveries::{self, AttemptRow, DeliveryRow};

/// A delivery of an event to a subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    /// `dlv_` id.
    pub id: String,
    /// `sub_` id.
    pub subscription_id: Option<String>,
    /// `evt_` id (also the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `delivering`, `succeeded`, `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending ones).
    pub next_attempt_at: DateTime<Utc>,
    /// Last HTTP status from the endpoint.
    pub last_response_status: Option<i16>,
    /// Last error.
    pub last_error: Option<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Success time.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first (only on `GET /v1/deliveries/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptBody>>,
}

/// One attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptBody {
    /// `att_` id.
    pub id: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// Latency in milliseconds.
    pub latency_ms: i32,
    /// HTTP status, when the endpoint answered.
    pub response_status: Option<i16>,
    /// The start of the response body.
    pub response_body: Option<String>,
    /// What went wrong.
    pub error: Option<String>,
}

impl DeliveryBody {
    fn from_row(row: DeliveryRow, attempts: Option<Vec<AttemptRow>>) -> DeliveryBody {
        DeliveryBody {
            id: row.id().to_string(),
            subscription_id: row
                .subscription_id
                .map(|id| SubscriptionId::from_uuid(id).to_string()),
            event_id: providers::EventId::from_uuid(row.event_id).to_string(),
            event_type: row.event_type,
            status: row.status.as_str().to_owned(),
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_response_status: row.last_response_status,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
            attempt_log: attempts.map(|attempts| {
                attempts
                    .into_iter()
                    .map(|attempt| AttemptBody {
                        id: providers::AttemptId::from_uuid(attempt.attempt_id).to_string(),
                        started_at: attempt.started_at,
                        latency_ms: attempt.latency_ms,
                        response_status: attempt.response_status,
                        response_body: attempt.response_body,
                        error: attempt.error,
                    })
                    .collect()
            }),
        }
    }
}

/// Filters for listing deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `pending`, `delivering`, `succeeded`, `dead`.
    #[param(pattern = "^(pending|delivering|succeeded|dead)$")]
    pub status: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(pattern = "^dlv_[0-9a-f]{32}$")]
    pub starting_after: Option<String>,
}

/// A subscription's deliveries, newest first.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}/deliveries", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id"), DeliveriesQuery),
    security(("api_key" = ["subscriptions:read"])),
    responses((status = 200, body = ListBody<DeliveryBody>), (status = 404, body = crate::http::error::Problem))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<ListBody<DeliveryBody>>, ApiError> {
    caller.require(Scope::SubscriptionsRead)?;
    let row = find(&state, &id).await?;
    let page = PageParams::<DeliveryId>::parse(query.limit, query.starting_after.as_deref())?;
    if let Some(status) = query.status.as_deref()
        && status
            .parse::<crate::store::deliveries::DeliveryStatus>()
            .is_err()
    {
        return Err(ApiError::InvalidQuery(
            "status: expected pending, delivering, succeeded or dead".into(),
        ));
    }
    let found = deliveries::list_for_subscription(
        &state.pool,
        row.id(),
        query.status.as_deref(),
        page.starting_after,
        page.limit,
    )
    .await?;
    let data = found
        .items
        .into_iter()
        .map(|row| DeliveryBody::from_row(row, None))
        .collect();
    Ok(Json(ListBody::new(data, found.has_more)))
}

fn delivery_id(id: &str) -> Result<DeliveryId, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound {
        resource: format!("delivery {id}"),
    })
}

/// One delivery with its attempts.
#[utoipa::path(
    get, path = "/v1/deliveries/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "dlv_ id")),
    security(("api_key" = ["subscriptions:read"])),
    responses((status = 200, body = DeliveryBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn delivery(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeliveryBody>, ApiError> {
    caller.require(Scope::SubscriptionsRead)?;
    let parsed = delivery_id(&id)?;
    let row = deliveries::get(&state.pool, parsed)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("delivery {id}"),
        })?;
    let attempts = deliveries::attempts(&state.pool, parsed).await?;
    Ok(Json(DeliveryBody::from_row(row, Some(attempts))))
}

/// Makes a dead or pending delivery due now, with a fresh schedule.
#[utoipa::path(
    post, path = "/v1/deliveries/{id}/retry", tag = "subscriptions",
    params(("id" = String, Path, description = "dlv_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 202, body = DeliveryBody), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem))
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryBody>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(retry_one(&state, &caller, &id).await?),
    ))
}

/// Makes a dead (or pending) delivery due now. Shared by the API and the console.
pub(crate) async fn retry_one(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<DeliveryBody, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let parsed = delivery_id(id)?;
    let Some(row) = deliveries::retry_now(&state.pool, parsed).await? else {
        return match deliveries::get(&state.pool, parsed).await? {
            None => Err(ApiError::NotFound {
                resource: format!("delivery {id}"),
            }),
            Some(row) => Err(ApiError::DeliveryNotRetryable {
                status: row.status.as_str().to_owned(),
            }),
        };
    };
    Ok(DeliveryBody::from_row(row, None))
}

/// How many dead deliveries a bulk retry scheduled again.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetriedBody {
    /// The subscription.
    pub subscription_id: String,
    /// Dead deliveries made due now (with a fresh schedule).
    pub retried: u64,
}

/// Retries every dead delivery of a subscription: each is due now with a fresh schedule. A
/// rate-limited subscription's retried backlog is sent at its rate without holding back other
/// subscriptions' deliveries.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/deliveries/retry-dead", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 202, body = RetriedBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn retry_dead(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<RetriedBody>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(retry_every_dead(&state, &caller, &id).await?),
    ))
}

/// Retries every dead delivery of a subscription. Shared by the API and the console.
pub(crate) async fn retry_every_dead(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<RetriedBody, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let row = find(state, id).await?;
    let retried = deliveries::retry_dead(&state.pool, row.id()).await?;
    tracing::info!(subscription = %row.id(), retried, api_key = %caller.api_key_id, "dead deliveries retried");
    Ok(RetriedBody {
        subscription_id: row.id().to_string(),
        retried,
    })
}
