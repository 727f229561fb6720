//! `POST /v1/subscriptions/{id}/test`: sends one event type's example, marked as a test, to the
//! subscription through the signed delivery path, and answers with what the partner answered.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use providers::EventType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::delivery::payload::EventBody;
use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

use super::find;

/// What to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSendBody {
    /// A type of the catalogue (`GET /v1/event-types`): its example is sent.
    #[schema(example = "pix.received")]
    pub event_type: String,
}

/// What was sent and what the partner answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSendResult {
    /// Whether the partner answered 2xx.
    pub delivered: bool,
    /// The partner's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// The start of the partner's answer.
    pub response_body: Option<String>,
    /// What went wrong: no answer (timeout, connection), a non-2xx, or a refused URL.
    pub error: Option<String>,
    /// How long the POST took, in milliseconds.
    pub latency_ms: u64,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The body that was sent (`"test": true`; its `evt_` id is not a stored event).
    pub event: EventBody,
}

/// Sends `event_type`'s example to the subscription now, signed and with its headers; answers 200
/// with the partner's answer, whatever it was. Nothing is stored.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/test", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = TestSendBody,
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 200, body = TestSendResult), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem))
)]
pub async fn test_send(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestSendBody>,
) -> Result<Json<TestSendResult>, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let subscription = find(&state, &id).await?;
    let event_type = body
        .event_type
        .parse::<EventType>()
        .ok()
        .filter(|event_type| EventType::all_known().contains(event_type))
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldProblem {
                pointer: "/event_type".into(),
                message: "not a type of the catalogue (GET /v1/event-types)".into(),
            }])
        })?;
    let sent_at = Utc::now();
    let sent = state.sender.send_test(&subscription, &event_type).await;
    Ok(Json(TestSendResult {
        delivered: sent.error.is_none(),
        response_status: sent.response_status,
        response_body: sent.response_body,
        error: sent.error,
        latency_ms: u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX),
        sent_at,
        event: sent.event,
    }))
}
