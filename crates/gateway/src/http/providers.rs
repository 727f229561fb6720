//! `/v1/providers/{provider}/webhook[s]`: register the gateway's webhook endpoint(s) at a provider
//! and rotate their credentials (scope `providers:write`). Credentials are stored, never returned.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use providers::{ProviderName, RegisteredWebhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::credentials::{self as use_case, RegistrationFailed};
use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

/// Largest rotation grace period: one day.
pub const MAX_GRACE_SECONDS: u64 = 86_400;

/// A webhook registration at a provider (never its credential).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationBody {
    /// The provider's id for the registration.
    pub registration_id: String,
    /// The URL the provider calls.
    pub url: String,
    /// The provider's event types sent there.
    pub event_types: Vec<String>,
    /// After a rotation: until when the previous credential is still accepted.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl From<RegisteredWebhook> for RegistrationBody {
    fn from(registered: RegisteredWebhook) -> RegistrationBody {
        RegistrationBody {
            registration_id: registered.registration_id,
            url: registered.url,
            event_types: registered.event_types,
            previous_secret_expires_at: registered.previous_secret_expires_at,
        }
    }
}

/// A rotation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous credential stays valid, in seconds (default 3600, at most 86400).
    #[serde(
        default = "default_grace",
        deserialize_with = "crate::http::extract::whole_number::deserialize"
    )]
    #[schema(maximum = 86400)]
    pub grace_seconds: u64,
    /// Rotate only this registration; all of the provider's when absent.
    #[serde(default)]
    pub registration_id: Option<String>,
}

fn default_grace() -> u64 {
    3600
}

/// Registers (or re-registers, idempotently) the gateway's endpoint(s) at the provider.
#[utoipa::path(
    post, path = "/v1/providers/{provider}/webhooks", tag = "providers",
    params(("provider" = String, Path, description = "dinie, delbank, ..."), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["providers:write"])),
    responses(
        (status = 200, body = ListBody<RegistrationBody>),
        (status = 404, body = crate::http::error::Problem),
        (status = 502, body = crate::http::error::Problem),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(provider): ApiPath<String>,
) -> Result<Json<ListBody<RegistrationBody>>, ApiError> {
    caller.require(Scope::ProvidersWrite)?;
    let (name, registration) = registration_of(&state, &provider)?;
    let registered = use_case::register(
        &state.credentials,
        &name,
        registration.as_ref(),
        &state.settings.server.public_url,
    )
    .await
    .map_err(failed)?;
    Ok(Json(ListBody::new(
        registered.into_iter().map(RegistrationBody::from).collect(),
        false,
    )))
}

/// Rotates the credential(s), keeping the previous one valid for the grace period.
#[utoipa::path(
    post, path = "/v1/providers/{provider}/webhooks/rotate", tag = "providers",
    params(("provider" = String, Path, description = "dinie, delbank, ..."), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = RotateRequest,
    security(("api_key" = ["providers:write"])),
    responses(
        (status = 200, body = ListBody<RegistrationBody>),
        (status = 404, body = crate::http::error::Problem),
        (status = 422, body = crate::http::error::Problem),
    )
)]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(provider): ApiPath<String>,
    ApiJson(request): ApiJson<RotateRequest>,
) -> Result<Json<ListBody<RegistrationBody>>, ApiError> {
    caller.require(Scope::ProvidersWrite)?;
    if request.grace_seconds > MAX_GRACE_SECONDS {
        return Err(ApiError::Validation(vec![FieldProblem {
            pointer: "/grace_seconds".into(),
            message: format!("must be at most {MAX_GRACE_SECONDS}"),
        }]));
    }
    let (name, registration) = registration_of(&state, &provider)?;
    let rotated = use_case::rotate(
        &state.credentials,
        &name,
        registration.as_ref(),
        request.registration_id.as_deref(),
        Duration::from_secs(request.grace_seconds),
    )
    .await
    .map_err(failed)?;
    Ok(Json(ListBody::new(
        rotated.into_iter().map(RegistrationBody::from).collect(),
        false,
    )))
}

fn registration_of(
    state: &AppState,
    provider: &str,
) -> Result<
    (
        ProviderName,
        std::sync::Arc<dyn providers::WebhookRegistration>,
    ),
    ApiError,
> {
    let registration = state
        .registry
        .webhook_registration(provider)
        .ok_or_else(|| ApiError::RegistrationUnsupported(provider.to_owned()))?;
    let name = ProviderName::parse(provider)
        .map_err(|_| ApiError::RegistrationUnsupported(provider.to_owned()))?;
    Ok((name, registration))
}

fn failed(error: RegistrationFailed) -> ApiError {
    match error {
        RegistrationFailed::Provider(error) => ApiError::Provider(error),
        RegistrationFailed::Storage(error) => ApiError::from(error),
        RegistrationFailed::UnknownRegistration(id) => ApiError::NotFound {
            resource: format!("webhook registration {id}"),
        },
    }
}
