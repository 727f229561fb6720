//! Pix transfers out and refunds of Pix received.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use providers::{
    Money, PixDestination, PixEndToEndId, PixRefund, PixRefundRequest, PixTransfer,
    PixTransferRequest, PixTransferStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

use super::{MoneyBody, PageQuery, PartyRequest, invalid, page, provider_key};

/// Where a Pix goes: exactly one of `key` and `account`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationRequest {
    /// A Pix key (CPF, CNPJ, e-mail, phone or random key).
    pub key: Option<String>,
    /// Account data.
    pub account: Option<PartyRequest>,
}

/// A Pix to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendPixRequest {
    /// The amount to send.
    #[serde(deserialize_with = "providers::money::payment_amount::deserialize")]
    #[schema(schema_with = crate::http::money::payment_amount_schema, example = "12.12")]
    pub amount: Money,
    /// Where to.
    pub destination: DestinationRequest,
    /// Shown to the receiver.
    pub description: Option<String>,
}

/// A Pix we sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct PixTransferBody {
    /// The transfer's id.
    pub id: String,
    /// The SPI end-to-end id.
    pub end_to_end_id: Option<String>,
    /// `processing`, `completed`, `failed`.
    pub status: &'static str,
    /// Amount.
    pub amount: MoneyBody,
    /// Why it failed (an SPI code such as `AC06`).
    pub failure_code: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

fn transfer_status(status: PixTransferStatus) -> &'static str {
    match status {
        PixTransferStatus::Processing => "processing",
        PixTransferStatus::Completed => "completed",
        PixTransferStatus::Failed => "failed",
    }
}

impl From<PixTransfer> for PixTransferBody {
    fn from(transfer: PixTransfer) -> PixTransferBody {
        PixTransferBody {
            id: transfer.id,
            end_to_end_id: transfer.end_to_end_id.map(|id| id.as_str().to_owned()),
            status: transfer_status(transfer.status),
            amount: MoneyBody::from(&transfer.amount),
            failure_code: transfer.failure_code,
            created_at: transfer.created_at,
        }
    }
}

/// A refund of a received Pix.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// How much to give back (all or part of what remains).
    #[serde(deserialize_with = "providers::money::payment_amount::deserialize")]
    #[schema(schema_with = crate::http::money::payment_amount_schema, example = "10.00")]
    pub amount: Money,
    /// Why, shown to the payer.
    pub reason: Option<String>,
}

/// A refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct PixRefundBody {
    /// The refund's id.
    pub id: String,
    /// The refund's own end-to-end id (`D…`).
    pub end_to_end_id: Option<String>,
    /// `processing`, `completed`, `failed`.
    pub status: &'static str,
    /// Amount.
    pub amount: MoneyBody,
}

impl From<PixRefund> for PixRefundBody {
    fn from(refund: PixRefund) -> PixRefundBody {
        PixRefundBody {
            id: refund.id,
            end_to_end_id: refund.end_to_end_id.map(|id| id.as_str().to_owned()),
            status: transfer_status(refund.status),
            amount: MoneyBody::from(&refund.amount),
        }
    }
}

/// Sends a Pix to a key or to account data. Answers `processing`; the outcome arrives as a
/// `pix.transfer.completed` or `pix.transfer.failed` event.
#[utoipa::path(
    post, path = "/v1/pix/transfers", tag = "banking",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request; a retry never pays twice")),
    request_body = SendPixRequest,
    security(("api_key" = ["banking:write"])),
    responses(
        (status = 201, body = PixTransferBody),
        (status = 422, body = Problem), (status = 502, body = Problem), (status = 504, body = Problem),
    )
)]
pub async fn send_pix(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SendPixRequest>,
) -> Result<(StatusCode, Json<PixTransferBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    let amount = request.amount;
    let destination = match (request.destination.key, request.destination.account) {
        (Some(key), None) if !key.trim().is_empty() => PixDestination::Key(key.trim().to_owned()),
        (None, Some(account)) => {
            if account.ispb.is_none() || account.branch.is_none() || account.account.is_none() {
                return Err(invalid(
                    "/destination/account",
                    "needs ispb, branch and account",
                ));
            }
            PixDestination::Account(account.into())
        }
        _ => {
            return Err(invalid(
                "/destination",
                "give exactly one of key and account",
            ));
        }
    };
    let key = provider_key(&caller, &headers)?;
    let transfer = state
        .banking()?
        .send_pix(
            PixTransferRequest {
                amount,
                destination,
                description: request.description,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(transfer.into())))
}

/// Lists the Pix transfers we sent, newest first.
#[utoipa::path(
    get, path = "/v1/pix/transfers", tag = "banking",
    params(PageQuery),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = ListBody<PixTransferBody>), (status = 502, body = Problem))
)]
pub async fn list_transfers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ListBody<PixTransferBody>>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let transfers = state
        .banking()?
        .list_pix_transfers(query.to_request()?)
        .await?;
    Ok(Json(page(transfers, PixTransferBody::from)))
}

/// One Pix transfer, by id or end-to-end id.
#[utoipa::path(
    get, path = "/v1/pix/transfers/{id}", tag = "banking",
    params(("id" = String, Path, description = "transfer id or end-to-end id")),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = PixTransferBody), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn get_transfer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PixTransferBody>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let transfer = state.banking()?.get_pix_transfer(&id).await?;
    Ok(Json(transfer.into()))
}

/// Refunds (all or part of) a Pix we received, named by its end-to-end id.
#[utoipa::path(
    post, path = "/v1/pix/transfers/{id}/refund", tag = "banking",
    params(("id" = String, Path, description = "end-to-end id of the received Pix"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = RefundRequest,
    security(("api_key" = ["banking:write"])),
    responses((status = 201, body = PixRefundBody), (status = 404, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem))
)]
pub async fn refund(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RefundRequest>,
) -> Result<(StatusCode, Json<PixRefundBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    let end_to_end_id = PixEndToEndId::parse(&id).map_err(|_| ApiError::NotFound {
        resource: format!("pix {id}"),
    })?;
    let amount = request.amount;
    let key = provider_key(&caller, &headers)?;
    let refund = state
        .banking()?
        .refund_pix(
            PixRefundRequest {
                end_to_end_id,
                amount,
                reason: request.reason,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(refund.into())))
}
