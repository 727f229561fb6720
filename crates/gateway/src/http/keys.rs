//! `/v1/api-keys`: create, list and revoke API keys (scope `keys:write`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use providers::ApiKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{self, NewKeyError};
use crate::keys::{Caller, Scope};
use crate::store::api_keys::{self, ApiKeyRecord};

/// A request for a new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Who or what will use it (shown in audit trails).
    #[schema(example = "loan-service")]
    #[schema(max_length = 100)]
    pub name: String,
    /// Scopes granted.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
}

/// An API key (never the key itself, except in the creation answer).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    /// `key_` id.
    pub id: String,
    /// Name.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key: present only in the creation answer. Store it now; it cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl ApiKeyBody {
    fn from_record(record: ApiKeyRecord, key: Option<String>) -> ApiKeyBody {
        ApiKeyBody {
            id: record.id().to_string(),
            name: record.name,
            prefix: record.key_prefix,
            scopes: record.scopes,
            created_at: record.created_at,
            revoked_at: record.revoked_at,
            key,
        }
    }
}

/// Creates a key; the answer shows it once.
#[utoipa::path(
    post, path = "/v1/api-keys", operation_id = "create_api_key", tag = "api keys",
    request_body = NewApiKey,
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["keys:write"])),
    responses((status = 201, body = ApiKeyBody), (status = 422, body = crate::http::error::Problem))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<ApiKeyBody>), ApiError> {
    caller.require(Scope::KeysWrite)?;
    let created = keys::create(&state.pool, &request.name, &request.scopes)
        .await
        .map_err(|error| match error {
            NewKeyError::InvalidName => invalid("/name", &error),
            NewKeyError::NoScopes => invalid("/scopes", &error),
            NewKeyError::Sqlx(error) => ApiError::from(error),
        })?;
    let key = keys::reveal(&created).to_owned();
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyBody::from_record(created.record, Some(key))),
    ))
}

fn invalid(pointer: &str, error: &NewKeyError) -> ApiError {
    ApiError::Validation(vec![FieldProblem {
        pointer: pointer.into(),
        message: error.to_string(),
    }])
}

/// Lists keys, newest first.
#[utoipa::path(
    get, path = "/v1/api-keys", operation_id = "list_api_keys", tag = "api keys",
    security(("api_key" = ["keys:write"])),
    responses((status = 200, body = ListBody<ApiKeyBody>))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ListBody<ApiKeyBody>>, ApiError> {
    caller.require(Scope::KeysWrite)?;
    let records = api_keys::list(&state.pool).await?;
    Ok(Json(ListBody::new(
        records
            .into_iter()
            .map(|record| ApiKeyBody::from_record(record, None))
            .collect(),
        false,
    )))
}

/// Revokes a key; requests with it get 401 `api_key_revoked` from then on. A key cannot revoke
/// itself (409 `api_key_revokes_itself`): an operator revoking keys would otherwise lock
/// themselves out halfway, or revoke the last admin key by mistake.
#[utoipa::path(
    post, path = "/v1/api-keys/{id}/revoke", tag = "api keys",
    params(("id" = String, Path, description = "key_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["keys:write"])),
    responses(
        (status = 200, body = ApiKeyBody),
        (status = 404, body = crate::http::error::Problem),
        (status = 409, body = crate::http::error::Problem, description = "`api_key_revokes_itself`"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApiKeyBody>, ApiError> {
    caller.require(Scope::KeysWrite)?;
    let not_found = || ApiError::NotFound {
        resource: format!("api key {id}"),
    };
    let key_id: ApiKeyId = id.parse().map_err(|_| not_found())?;
    if key_id == caller.api_key_id {
        return Err(ApiError::ApiKeyRevokesItself);
    }
    let record = api_keys::revoke(&state.pool, key_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(ApiKeyBody::from_record(record, None)))
}
