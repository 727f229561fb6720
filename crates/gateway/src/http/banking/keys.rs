//! Pix keys of the account.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use providers::{IdempotencyKey, NewPixKey, PixKey, PixKeyKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

use super::{invalid, provider_key};

/// A Pix key to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePixKeyRequest {
    /// `cpf`, `cnpj`, `email`, `phone`, `evp`.
    #[schema(value_type = String, example = "evp", pattern = "^(cpf|cnpj|email|phone|evp)$")]
    pub kind: PixKeyKind,
    /// The key, for `email` and `phone`.
    pub value: Option<String>,
}

/// A Pix key of ours.
#[derive(Debug, Serialize, ToSchema)]
pub struct PixKeyBody {
    /// The key's id (use it to delete the key).
    pub id: String,
    /// Kind.
    pub kind: &'static str,
    /// The key.
    pub value: String,
}

impl From<PixKey> for PixKeyBody {
    fn from(key: PixKey) -> PixKeyBody {
        PixKeyBody {
            id: key.id,
            kind: match key.kind {
                PixKeyKind::Cpf => "cpf",
                PixKeyKind::Cnpj => "cnpj",
                PixKeyKind::Email => "email",
                PixKeyKind::Phone => "phone",
                PixKeyKind::Evp => "evp",
            },
            value: key.value,
        }
    }
}

/// Pix keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PixKeyList {
    /// Always `list`.
    pub object: &'static str,
    /// The keys.
    pub data: Vec<PixKeyBody>,
}

/// Registers a Pix key for our account.
#[utoipa::path(
    post, path = "/v1/pix/keys", tag = "banking",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = CreatePixKeyRequest,
    security(("api_key" = ["banking:write"])),
    responses((status = 201, body = PixKeyBody), (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem))
)]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreatePixKeyRequest>,
) -> Result<(StatusCode, Json<PixKeyBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    let needs_value = matches!(request.kind, PixKeyKind::Email | PixKeyKind::Phone);
    if needs_value
        && request
            .value
            .as_deref()
            .is_none_or(|value| value.trim().is_empty())
    {
        return Err(invalid("/value", "an e-mail or phone key needs its value"));
    }
    let key = provider_key(&caller, &headers)?;
    let created = state
        .banking()?
        .register_pix_key(
            NewPixKey {
                kind: request.kind,
                value: request.value,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Our Pix keys.
#[utoipa::path(
    get, path = "/v1/pix/keys", tag = "banking",
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = PixKeyList), (status = 502, body = Problem))
)]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PixKeyList>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let keys = state.banking()?.list_pix_keys().await?;
    Ok(Json(PixKeyList {
        object: "list",
        data: keys.into_iter().map(PixKeyBody::from).collect(),
    }))
}

/// Removes one of our Pix keys.
#[utoipa::path(
    delete, path = "/v1/pix/keys/{id}", tag = "banking",
    params(("id" = String, Path, description = "Pix key id")),
    security(("api_key" = ["banking:write"])),
    responses((status = 204), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn delete_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::BankingWrite)?;
    // A DELETE carries no Idempotency-Key: deleting twice is harmless, so the key is the id.
    let key = IdempotencyKey::parse(&hex::encode(Sha256::digest(
        format!("delete-pix-key:{}:{id}", caller.api_key_id).as_bytes(),
    )))
    .map_err(|_| ApiError::Internal("derived key is invalid".into()))?;
    state.banking()?.delete_pix_key(&id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
