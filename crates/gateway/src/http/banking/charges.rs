//! Charges (Pix QR codes and boletos): create, list, read, cancel.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use providers::{ChargeKind, ChargeStatus, Money, NewCharge, Party};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

use super::{MoneyBody, PageQuery, PartyRequest, invalid, page, provider_key};

/// A charge to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChargeRequest {
    /// `pix_dynamic`, `pix_static`, `bankslip`, `bankslip_pix`.
    #[schema(value_type = String, example = "pix_dynamic", pattern = "^(pix_dynamic|pix_static|bankslip|bankslip_pix)$")]
    pub kind: ChargeKind,
    /// The amount to charge.
    #[serde(deserialize_with = "providers::money::payment_amount::deserialize")]
    #[schema(schema_with = crate::http::money::payment_amount_schema, example = "150.00")]
    pub amount: Money,
    /// Who pays (required for bank slips).
    pub payer: Option<PartyRequest>,
    /// Due date (required for bank slips).
    pub due_date: Option<NaiveDate>,
    /// Shown to the payer.
    pub description: Option<String>,
    /// Your id for the charge, echoed in its events.
    pub correlation_id: Option<String>,
}

/// A charge.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChargeBody {
    /// The charge's id.
    pub id: String,
    /// How it is paid.
    pub kind: &'static str,
    /// `pending`, `paid`, `expired`, `cancelled`.
    pub status: &'static str,
    /// Amount.
    pub amount: MoneyBody,
    /// The Pix "copia e cola" text.
    pub pix_copy_paste: Option<String>,
    /// The bank slip's digitable line.
    pub digitable_line: Option<String>,
    /// Due or expiry date.
    pub due_date: Option<NaiveDate>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

fn charge_kind(kind: ChargeKind) -> &'static str {
    match kind {
        ChargeKind::PixDynamic => "pix_dynamic",
        ChargeKind::PixStatic => "pix_static",
        ChargeKind::Bankslip => "bankslip",
        ChargeKind::BankslipPix => "bankslip_pix",
    }
}

impl From<providers::Charge> for ChargeBody {
    fn from(charge: providers::Charge) -> ChargeBody {
        ChargeBody {
            id: charge.id,
            kind: charge_kind(charge.kind),
            status: match charge.status {
                ChargeStatus::Pending => "pending",
                ChargeStatus::Paid => "paid",
                ChargeStatus::Expired => "expired",
                ChargeStatus::Cancelled => "cancelled",
            },
            amount: MoneyBody::from(&charge.amount),
            pix_copy_paste: charge.pix_copy_paste,
            digitable_line: charge.digitable_line,
            due_date: charge.due_date,
            created_at: charge.created_at,
        }
    }
}

/// Creates a charge: a Pix QR code (dynamic or static) or a bank slip.
#[utoipa::path(
    post, path = "/v1/charges", tag = "banking",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = CreateChargeRequest,
    security(("api_key" = ["banking:write"])),
    responses(
        (status = 201, body = ChargeBody),
        (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem), (status = 504, body = Problem),
    )
)]
pub async fn create_charge(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateChargeRequest>,
) -> Result<(StatusCode, Json<ChargeBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    let amount = request.amount;
    let is_slip = matches!(request.kind, ChargeKind::Bankslip | ChargeKind::BankslipPix);
    if is_slip && request.payer.is_none() {
        return Err(invalid("/payer", "a bank slip needs a payer"));
    }
    if is_slip && request.due_date.is_none() {
        return Err(invalid("/due_date", "a bank slip needs a due date"));
    }
    let key = provider_key(&caller, &headers)?;
    let charge = state
        .banking()?
        .create_charge(
            NewCharge {
                kind: request.kind,
                amount,
                payer: request.payer.map(Party::from),
                due_date: request.due_date,
                description: request.description,
                correlation_id: request.correlation_id,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(charge.into())))
}

/// Lists charges.
#[utoipa::path(
    get, path = "/v1/charges", tag = "banking",
    params(PageQuery),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = ListBody<ChargeBody>), (status = 400, body = Problem), (status = 502, body = Problem))
)]
pub async fn list_charges(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ListBody<ChargeBody>>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let charges = state.banking()?.list_charges(query.to_request()?).await?;
    Ok(Json(page(charges, ChargeBody::from)))
}

/// One charge.
#[utoipa::path(
    get, path = "/v1/charges/{id}", tag = "banking",
    params(("id" = String, Path, description = "charge id")),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = ChargeBody), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn get_charge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ChargeBody>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let charge = state.banking()?.get_charge(&id).await?;
    Ok(Json(charge.into()))
}

/// Cancels an unpaid charge.
#[utoipa::path(
    post, path = "/v1/charges/{id}/cancel", tag = "banking",
    params(("id" = String, Path, description = "charge id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["banking:write"])),
    responses((status = 200, body = ChargeBody), (status = 404, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem))
)]
pub async fn cancel_charge(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ChargeBody>, ApiError> {
    caller.require(Scope::BankingWrite)?;
    let charge = state.banking()?.cancel_charge(&id).await?;
    Ok(Json(charge.into()))
}
