//! Loans and their installments.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use providers::{Installment, Loan, NewLoan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{loan_status, provider_key};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
pub use crate::http::money::MoneyBody;
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

/// A loan to take from a simulation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLoanRequest {
    /// The offer.
    pub credit_offer_id: String,
    /// The offer's latest simulation.
    pub simulation_id: String,
}

/// A loan.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoanBody {
    /// The provider's id.
    pub id: String,
    /// The borrower.
    pub customer_id: String,
    /// The offer it was taken from.
    pub credit_offer_id: String,
    /// `processing`, `contract_generated`, `awaiting_signatures`, `signed`, `disbursing`,
    /// `active`, `finished`, `cancelled` or `error`.
    pub status: String,
    /// The amount requested.
    pub requested_amount: MoneyBody,
    /// What the borrower receives, once known.
    pub net_amount: Option<MoneyBody>,
    /// Where the borrower signs, while signatures are awaited.
    pub signing_url: Option<String>,
    /// When the provider created the loan.
    pub created_at: DateTime<Utc>,
}

impl From<Loan> for LoanBody {
    fn from(loan: Loan) -> LoanBody {
        LoanBody {
            id: loan.id,
            customer_id: loan.customer_id,
            credit_offer_id: loan.credit_offer_id,
            status: loan_status(loan.status).to_owned(),
            requested_amount: loan.requested_amount.into(),
            net_amount: loan.net_amount.map(MoneyBody::from),
            signing_url: loan.signing_url,
            created_at: loan.created_at,
        }
    }
}

/// One installment of a loan.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallmentBody {
    /// The provider's id.
    pub id: String,
    /// Position in the schedule, from 1.
    pub number: u32,
    /// The amount due.
    pub amount: MoneyBody,
    /// When it is due.
    pub due_date: NaiveDate,
    /// The provider's payment status (`pending`, `paid`, `overdue`, `partially_paid`).
    pub status: String,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<Installment> for InstallmentBody {
    fn from(installment: Installment) -> InstallmentBody {
        InstallmentBody {
            id: installment.id,
            number: installment.number,
            amount: installment.amount.into(),
            due_date: installment.due_date,
            status: installment.status,
            paid_at: installment.paid_at,
        }
    }
}

/// Takes a loan from the offer's latest simulation.
#[utoipa::path(
    post, path = "/v1/loans", tag = "credit",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = CreateLoanRequest,
    security(("api_key" = ["credit:write"])),
    responses(
        (status = 201, body = LoanBody),
        (status = 409, body = crate::http::error::Problem, description = "provider_conflict, e.g. provider_code offer_already_accepted"),
        (status = 422, body = crate::http::error::Problem, description = "provider_rejected, e.g. provider_code simulation_mismatch, kyc_incomplete, offer_expired"),
    )
)]
pub async fn create_loan(
    State(state): State<AppState>,
    caller: Caller,
    uri: OriginalUri,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateLoanRequest>,
) -> Result<(StatusCode, Json<LoanBody>), ApiError> {
    caller.require(Scope::CreditWrite)?;
    let key = provider_key(&caller, &headers, &uri)?;
    let credit = state.credit()?;
    let offer = credit.get_credit_offer(&request.credit_offer_id).await?;
    let loan = credit
        .create_loan(
            NewLoan {
                credit_offer_id: request.credit_offer_id,
                simulation_id: request.simulation_id,
                customer_id: offer.customer_id,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(LoanBody::from(loan))))
}

/// One loan.
#[utoipa::path(
    get, path = "/v1/loans/{id}", tag = "credit",
    params(("id" = String, Path, description = "the provider's loan id")),
    security(("api_key" = ["credit:read"])),
    responses((status = 200, body = LoanBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get_loan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<LoanBody>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let loan = state.credit()?.get_loan(&id).await?;
    Ok(Json(LoanBody::from(loan)))
}

/// A loan's installments, in schedule order.
#[utoipa::path(
    get, path = "/v1/loans/{id}/installments", tag = "credit",
    params(("id" = String, Path, description = "the provider's loan id")),
    security(("api_key" = ["credit:read"])),
    responses((status = 200, body = ListBody<InstallmentBody>), (status = 404, body = crate::http::error::Problem))
)]
pub async fn list_installments(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ListBody<InstallmentBody>>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let installments = state.credit()?.list_installments(&id).await?;
    Ok(Json(ListBody::new(
        installments
            .into_iter()
            .map(InstallmentBody::from)
            .collect(),
        false,
    )))
}
