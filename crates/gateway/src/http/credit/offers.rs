//! Credit offers and simulations.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use providers::{CreditOffer, Money, Simulation, SimulationRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{field, offer_status, provider_key};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
pub use crate::http::money::MoneyBody;
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

/// A credit offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditOfferBody {
    /// The provider's id.
    pub id: String,
    /// The borrower.
    pub customer_id: String,
    /// `available`, `accepted` or `expired`.
    pub status: String,
    /// The most that can be borrowed.
    pub approved_amount: MoneyBody,
    /// The least that can be borrowed.
    pub min_amount: MoneyBody,
    /// Monthly interest in percent, exact, as a decimal string.
    #[schema(example = "3.5")]
    pub monthly_interest_rate: String,
    /// The number of monthly installments.
    pub installments: u32,
    /// When the offer lapses.
    pub valid_until: DateTime<Utc>,
}

impl From<CreditOffer> for CreditOfferBody {
    fn from(offer: CreditOffer) -> CreditOfferBody {
        CreditOfferBody {
            id: offer.id,
            customer_id: offer.customer_id,
            status: offer_status(offer.status).to_owned(),
            approved_amount: offer.approved_amount.into(),
            min_amount: offer.min_amount.into(),
            monthly_interest_rate: offer.monthly_interest_rate.to_string(),
            installments: offer.installments,
            valid_until: offer.valid_until,
        }
    }
}

/// The terms to simulate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The amount to borrow, BRL.
    #[serde(deserialize_with = "providers::money::payment_amount::deserialize")]
    #[schema(schema_with = crate::http::money::payment_amount_schema, example = "25000.00")]
    pub amount: Money,
    /// The number of monthly installments.
    #[serde(deserialize_with = "crate::http::extract::whole_number::deserialize")]
    #[schema(minimum = 1)]
    pub installments: u32,
    /// The first due date, when the borrower chooses it.
    #[serde(default)]
    pub first_due_date: Option<NaiveDate>,
}

/// A priced simulation.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulationBody {
    /// The provider's id; take a loan with it.
    pub id: String,
    /// The offer.
    pub credit_offer_id: String,
    /// The amount borrowed.
    pub amount: MoneyBody,
    /// What the borrower receives after fees and taxes, when known.
    pub net_amount: Option<MoneyBody>,
    /// The number of installments.
    pub installments: u32,
    /// Each installment.
    pub installment_amount: MoneyBody,
    /// The total to repay.
    pub total_amount: MoneyBody,
    /// Annual total effective cost (CET) in percent, exact.
    pub cet_annual_percentage: String,
    /// When the first installment is due, when known.
    pub first_due_date: Option<NaiveDate>,
}

impl From<Simulation> for SimulationBody {
    fn from(simulation: Simulation) -> SimulationBody {
        SimulationBody {
            id: simulation.id,
            credit_offer_id: simulation.credit_offer_id,
            amount: simulation.amount.into(),
            net_amount: simulation.net_amount.map(MoneyBody::from),
            installments: simulation.installments,
            installment_amount: simulation.installment_amount.into(),
            total_amount: simulation.total_amount.into(),
            cet_annual_percentage: simulation.cet_annual_percentage.to_string(),
            first_due_date: simulation.first_due_date,
        }
    }
}

/// The customer whose offers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreditOffersQuery {
    /// The borrower (required).
    #[param(required = true, min_length = 1)]
    pub customer_id: Option<String>,
}

/// A borrower's credit offers, in any status.
#[utoipa::path(
    get, path = "/v1/credit-offers", tag = "credit",
    params(CreditOffersQuery),
    security(("api_key" = ["credit:read"])),
    responses(
        (status = 200, body = ListBody<CreditOfferBody>),
        (status = 400, body = crate::http::error::Problem),
    )
)]
pub async fn list_credit_offers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CreditOffersQuery>,
) -> Result<Json<ListBody<CreditOfferBody>>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let customer_id = query
        .customer_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::InvalidQuery("customer_id is required".into()))?;
    let offers = state.credit()?.list_credit_offers(&customer_id).await?;
    Ok(Json(ListBody::new(
        offers.into_iter().map(CreditOfferBody::from).collect(),
        false,
    )))
}

/// One credit offer.
#[utoipa::path(
    get, path = "/v1/credit-offers/{id}", tag = "credit",
    params(("id" = String, Path, description = "the provider's offer id")),
    security(("api_key" = ["credit:read"])),
    responses((status = 200, body = CreditOfferBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get_credit_offer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CreditOfferBody>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let offer = state.credit()?.get_credit_offer(&id).await?;
    Ok(Json(CreditOfferBody::from(offer)))
}

/// Prices a loan under an offer; only the offer's latest simulation can become a loan.
#[utoipa::path(
    post, path = "/v1/credit-offers/{id}/simulations", tag = "credit",
    params(("id" = String, Path, description = "the provider's offer id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = SimulateRequest,
    security(("api_key" = ["credit:write"])),
    responses(
        (status = 201, body = SimulationBody),
        (status = 422, body = crate::http::error::Problem, description = "provider_rejected, e.g. provider_code amount_out_of_range or offer_expired"),
        (status = 409, body = crate::http::error::Problem, description = "provider_conflict, e.g. provider_code offer_already_accepted"),
    )
)]
pub async fn simulate(
    State(state): State<AppState>,
    caller: Caller,
    uri: OriginalUri,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SimulateRequest>,
) -> Result<(StatusCode, Json<SimulationBody>), ApiError> {
    caller.require(Scope::CreditWrite)?;
    let amount = request.amount;
    if request.installments == 0 {
        return Err(field("/installments", "must be at least 1"));
    }
    let key = provider_key(&caller, &headers, &uri)?;
    let simulation = state
        .credit()?
        .simulate(
            &id,
            SimulationRequest {
                amount,
                installments: request.installments,
                first_due_date: request.first_due_date,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(SimulationBody::from(simulation))))
}
