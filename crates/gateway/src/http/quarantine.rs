//! `/v1/quarantine`: authentic webhooks that could not become events, for operations: list them,
//! see why, and replay one once the code can read it.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use providers::{EventId, QuarantineId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, InternalCause, Problem};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::pagination::{ListBody, PageParams};
use crate::http::state::AppState;
use crate::ingest::quarantine::ReplayError;
use crate::keys::{Caller, Scope};
use crate::store::quarantine::{self, QuarantineRow};

/// A quarantined webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinedBody {
    /// `qua_` id.
    pub id: String,
    /// The provider it came from.
    pub provider: String,
    /// The path after `/webhooks/{provider}`.
    pub path: String,
    /// Why it could not become events.
    pub reason: String,
    /// The headers worth debugging (never a credential).
    #[schema(value_type = Object)]
    pub headers: serde_json::Value,
    /// The body as received (lossy UTF-8); only with the `pii` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `quarantined`, or `replayed` once it became events.
    pub status: &'static str,
    /// When it was replayed.
    pub replayed_at: Option<DateTime<Utc>>,
    /// The `evt_` ids it became.
    pub event_ids: Vec<String>,
}

impl QuarantinedBody {
    fn new(row: QuarantineRow, caller: &Caller) -> QuarantinedBody {
        QuarantinedBody {
            id: row.id().to_string(),
            raw: caller
                .has(Scope::Pii)
                .then(|| String::from_utf8_lossy(&row.raw).into_owned()),
            provider: row.provider,
            path: row.path,
            reason: row.reason,
            headers: row.headers,
            received_at: row.received_at,
            status: if row.replayed_at.is_some() {
                "replayed"
            } else {
                "quarantined"
            },
            replayed_at: row.replayed_at,
            event_ids: row
                .event_ids
                .into_iter()
                .map(|id| EventId::from_uuid(id).to_string())
                .collect(),
        }
    }
}

/// Filters for listing quarantined webhooks.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuarantineQuery {
    /// Provider name.
    pub provider: Option<String>,
    /// `quarantined` (the default: still waiting) or `all`.
    #[param(pattern = "^(quarantined|all)$")]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(pattern = "^qua_[0-9a-f]{32}$")]
    pub starting_after: Option<String>,
}

/// Quarantined webhooks, newest first.
#[utoipa::path(
    get, path = "/v1/quarantine", operation_id = "list_quarantined_webhooks", tag = "operations",
    params(QuarantineQuery),
    security(("api_key" = ["events:read"])),
    responses(
        (status = 200, body = ListBody<QuarantinedBody>),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<QuarantineQuery>,
) -> Result<Json<ListBody<QuarantinedBody>>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let page = PageParams::<QuarantineId>::parse(query.limit, query.starting_after.as_deref())?;
    let waiting_only = match query.status.as_deref() {
        None | Some("quarantined") => true,
        Some("all") => false,
        Some(_) => {
            return Err(ApiError::InvalidQuery(
                "status: expected quarantined or all".into(),
            ));
        }
    };
    let found = quarantine::list(
        &state.pool,
        query.provider.as_deref(),
        waiting_only,
        page.starting_after,
        page.limit,
    )
    .await?;
    Ok(Json(ListBody::new(
        found
            .items
            .into_iter()
            .map(|row| QuarantinedBody::new(row, &caller))
            .collect(),
        found.has_more,
    )))
}

fn quarantine_id(id: &str) -> Result<QuarantineId, ApiError> {
    // A malformed id cannot name a quarantined webhook: 404, as for events, keeps ids opaque.
    id.parse().map_err(|_| ApiError::NotFound {
        resource: format!("quarantined webhook {id}"),
    })
}

async fn find(state: &AppState, id: QuarantineId) -> Result<QuarantineRow, ApiError> {
    quarantine::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("quarantined webhook {id}"),
        })
}

/// One quarantined webhook, with its reason (and, with `pii`, its body).
#[utoipa::path(
    get, path = "/v1/quarantine/{id}", operation_id = "get_quarantined_webhook", tag = "operations",
    params(("id" = String, Path, description = "qua_ id")),
    security(("api_key" = ["events:read"])),
    responses((status = 200, body = QuarantinedBody), (status = 404, body = Problem))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<QuarantinedBody>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let row = find(&state, quarantine_id(&id)?).await?;
    Ok(Json(QuarantinedBody::new(row, &caller)))
}

/// Replays a quarantined webhook through its provider's normalizer: once the code can read it,
/// its events are stored (and delivered) like any webhook's. Replaying one already replayed finds
/// the same events as duplicates.
#[utoipa::path(
    post, path = "/v1/quarantine/{id}/replay", operation_id = "replay_quarantined_webhook", tag = "operations",
    params(("id" = String, Path, description = "qua_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["providers:write"])),
    responses(
        (status = 200, body = QuarantinedBody),
        (status = 404, body = Problem),
        (status = 422, body = Problem, description = "still not understood (`quarantine_unreadable`)"),
        (status = 503, body = Problem),
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<QuarantinedBody>, ApiError> {
    caller.require(Scope::ProvidersWrite)?;
    let row = find(&state, quarantine_id(&id)?).await?;
    let source = state
        .registry
        .webhook_source(&row.provider)
        .ok_or_else(|| ApiError::UnknownProvider(row.provider.clone()))?;
    match state.ingestor.replay_quarantined(&source, &row).await {
        Ok((replayed, _)) => Ok(Json(QuarantinedBody::new(replayed, &caller))),
        Err(ReplayError::StillUnreadable(reason)) => Err(ApiError::QuarantineUnreadable(reason)),
        Err(ReplayError::Gone) => Err(ApiError::NotFound {
            resource: format!("quarantined webhook {}", row.id()),
        }),
        Err(ReplayError::Ingest(crate::ingest::IngestError::Storage(error))) => {
            Err(ApiError::from(error))
        }
        Err(ReplayError::Ingest(error)) => Err(ApiError::Internal(InternalCause::new(
            "replaying a quarantined webhook",
            error,
        ))),
    }
}
