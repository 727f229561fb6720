//! `POST /webhooks/{provider}[/...]`: inbound provider webhooks.
//!
//! Authenticated by the provider's own scheme (the registered `WebhookSource` verifies it), not by
//! API keys. Answers 2xx only after the events are committed; 401 when verification fails (nothing
//! stored); 2xx with `quarantined` for authentic but unparseable bodies; 503 when Postgres is down,
//! so that the provider retries.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::{ApiError, InternalCause};
use crate::http::extract::{ApiPath, body_rejection};
use crate::http::state::AppState;
use crate::ingest::{IngestError, Ingested};

/// What the gateway did with a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// `stored` or `quarantined`.
    pub status: &'static str,
    /// The stored events (empty when quarantined).
    pub events: Vec<ReceivedEvent>,
    /// The quarantine entry, when quarantined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_id: Option<String>,
}

/// One normalized event of a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivedEvent {
    /// The event id (the first one's, for a duplicate).
    pub id: String,
    /// True when the provider had already delivered this event.
    pub duplicate: bool,
}

/// Inbound webhook at the provider's root path.
#[utoipa::path(
    post, path = "/webhooks/{provider}", tag = "webhooks",
    params(("provider" = String, Path, description = "registered provider name, e.g. dinie")),
    request_body(content = String, content_type = "application/json"),
    responses(
        (status = 200, body = Receipt),
        (status = 401, body = crate::http::error::Problem),
        (status = 404, body = crate::http::error::Problem),
        (status = 413, body = crate::http::error::Problem),
        (status = 503, body = crate::http::error::Problem),
    )
)]
pub async fn receive_root(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, ApiError> {
    receive(state, &provider, "", &headers, body).await
}

/// Inbound webhook at a sub-path (Delbank: one path per registration).
#[utoipa::path(
    post, path = "/webhooks/{provider}/{path}", tag = "webhooks",
    params(
        ("provider" = String, Path, description = "registered provider name, e.g. delbank"),
        ("path" = String, Path, description = "registration path segment(s)"),
    ),
    request_body(content = String, content_type = "application/json"),
    responses(
        (status = 200, body = Receipt),
        (status = 401, body = crate::http::error::Problem),
        (status = 503, body = crate::http::error::Problem),
    )
)]
pub async fn receive_path(
    State(state): State<AppState>,
    ApiPath((provider, path)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, ApiError> {
    receive(state, &provider, &format!("/{path}"), &headers, body).await
}

async fn receive(
    state: AppState,
    provider: &str,
    path: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Receipt>, ApiError> {
    let source = state
        .registry
        .webhook_source(provider)
        .ok_or_else(|| ApiError::UnknownProvider(provider.to_owned()))?;
    let body = body.map_err(body_rejection)?;
    match state.ingestor.receive(&source, path, headers, &body).await {
        Ok(Ingested::Stored(stored)) => Ok(Json(Receipt {
            status: "stored",
            events: stored
                .into_iter()
                .map(|(id, duplicate)| ReceivedEvent {
                    id: id.to_string(),
                    duplicate,
                })
                .collect(),
            quarantine_id: None,
        })),
        Ok(Ingested::Quarantined(id)) => Ok(Json(Receipt {
            status: "quarantined",
            events: Vec::new(),
            quarantine_id: Some(id.to_string()),
        })),
        Err(IngestError::Rejected(providers::VerifyError::Unavailable(cause))) => {
            tracing::error!(error.message = %cause, "webhook credentials unavailable");
            Err(ApiError::VerifierUnavailable)
        }
        Err(IngestError::Rejected(error)) => Err(ApiError::WebhookRejected { code: error.code() }),
        // Any storage failure: the provider must retry, and nothing half-done was committed.
        Err(IngestError::Storage(error)) => {
            tracing::error!(error.message = %error, "storing a webhook failed");
            Err(ApiError::DatabaseUnavailable)
        }
        // Not acknowledged: the provider retries, and a committed event is then a duplicate.
        Err(error @ IngestError::WriterLost) => Err(ApiError::Internal(InternalCause::new(
            "storing a webhook",
            error,
        ))),
    }
}
