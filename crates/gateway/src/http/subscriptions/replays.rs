//! Durable replays of a time window to a subscription, and their progress.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use providers::{ReplayId, SubscriptionId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Problems, check_patterns, find};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};
use crate::store::replays::{self as replay, ReplayRow};

/// A replay request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Events received at or after this time.
    pub since: DateTime<Utc>,
    /// Events received before this time (default: now).
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Type patterns (default: the subscription's).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

/// A replay job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayBody {
    /// `rpl_` id.
    pub id: String,
    /// `sub_` id.
    pub subscription_id: String,
    /// Window start.
    pub since: DateTime<Utc>,
    /// Window end.
    pub until: DateTime<Utc>,
    /// Patterns.
    pub event_types: Vec<String>,
    /// `running` or `completed`.
    pub status: String,
    /// Deliveries enqueued so far.
    pub enqueued: i64,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<ReplayRow> for ReplayBody {
    fn from(row: ReplayRow) -> ReplayBody {
        ReplayBody {
            id: row.id().to_string(),
            subscription_id: SubscriptionId::from_uuid(row.subscription_id).to_string(),
            since: row.since,
            until: row.until,
            event_types: row.event_types,
            status: row.status.as_str().to_owned(),
            enqueued: row.enqueued,
            created_at: row.created_at,
            completed_at: row.completed_at,
        }
    }
}

/// Starts a durable replay of a time window (progress at `GET /v1/replays/{id}`).
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/replay", operation_id = "replay_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = ReplayRequest,
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 202, body = ReplayBody), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem))
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReplayRequest>,
) -> Result<(StatusCode, Json<ReplayBody>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(start(&state, &caller, &id, body).await?),
    ))
}

/// Starts a durable replay of a window to a subscription. Shared by the API and the console.
pub(crate) async fn start(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: ReplayRequest,
) -> Result<ReplayBody, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let row = find(state, id).await?;
    let until = body.until.unwrap_or_else(Utc::now);
    let mut problems = Problems(Vec::new());
    if body.since > until {
        problems.add("/since", "must not be after until");
    }
    let patterns = body.event_types.unwrap_or_else(|| row.event_types.clone());
    check_patterns(&mut problems, &patterns);
    problems.into_result()?;
    let job = replay::create(&state.pool, row.id(), body.since, until, &patterns).await?;
    Ok(ReplayBody::from(job))
}

/// A replay job's progress.
#[utoipa::path(
    get, path = "/v1/replays/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "rpl_ id")),
    security(("api_key" = ["subscriptions:read"])),
    responses((status = 200, body = ReplayBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn replay_status(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ReplayBody>, ApiError> {
    Ok(Json(status(&state, &caller, &id).await?))
}

/// A replay's progress. Shared by the API and the console.
pub(crate) async fn status(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ReplayBody, ApiError> {
    caller.require(Scope::SubscriptionsRead)?;
    let not_found = || ApiError::NotFound {
        resource: format!("replay {id}"),
    };
    let parsed: ReplayId = id.parse().map_err(|_| not_found())?;
    let job = replay::get(&state.pool, parsed)
        .await?
        .ok_or_else(not_found)?;
    Ok(ReplayBody::from(job))
}
