//! The credit API (`/v1/customers`, `/v1/credit-offers`, `/v1/loans`): provider-neutral, routed to
//! the provider that `routing.credit` names.
//!
//! Reads need the `credit:read` scope, writes `credit:write`. Documents come back masked unless
//! the key also holds `pii`. Every POST carries the client's `Idempotency-Key`; the provider gets a
//! key derived from it (and the API key and the route), so a client's retry reaches the provider
//! with the same key and never creates twice. Provider failures are problem+json with the
//! gateway's `code` (`provider_rejected`, `provider_unavailable`...) and, for refusals, the
//! provider's own `provider_code`; a provider that is down answers 502, one that is too slow 504.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use providers::{
    CreditOffer, CreditOfferStatus, Customer, CustomerQuery, CustomerStatus, Document,
    IdempotencyKey, Installment, KycDocument, KycDocumentUpload, Loan, LoanStatus, Money,
    NewCustomer, NewLoan, Simulation, SimulationRequest,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency;
pub use crate::http::money::MoneyBody;
use crate::http::pagination::{DEFAULT_LIMIT, ListBody, MAX_LIMIT};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

/// File types accepted as KYC documents.
const DOCUMENT_CONTENT_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

/// A borrower.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBody {
    /// The provider's id.
    #[schema(example = "cust_550e8400e29b41d4a716446655440000")]
    pub id: String,
    /// CPF or CNPJ, masked (`***.456.789-**`) unless the key holds `pii`.
    pub document: String,
    /// `pending_kyc`, `under_review`, `active` or `denied`.
    #[schema(example = "pending_kyc")]
    pub status: String,
    /// The caller's own id for the borrower.
    pub external_id: Option<String>,
    /// When the provider registered the borrower.
    pub created_at: DateTime<Utc>,
}

impl CustomerBody {
    fn new(customer: Customer, caller: &Caller) -> CustomerBody {
        let document = match caller.has(Scope::Pii) {
            true => customer.document.expose_formatted(),
            false => customer.document.masked(),
        };
        CustomerBody {
            id: customer.id,
            document,
            status: customer_status(customer.status).to_owned(),
            external_id: customer.external_id,
            created_at: customer.created_at,
        }
    }
}

fn customer_status(status: CustomerStatus) -> &'static str {
    match status {
        CustomerStatus::PendingKyc => "pending_kyc",
        CustomerStatus::UnderReview => "under_review",
        CustomerStatus::Active => "active",
        CustomerStatus::Denied => "denied",
    }
}

fn offer_status(status: CreditOfferStatus) -> &'static str {
    match status {
        CreditOfferStatus::Available => "available",
        CreditOfferStatus::Accepted => "accepted",
        CreditOfferStatus::Expired => "expired",
    }
}

fn loan_status(status: LoanStatus) -> &'static str {
    match status {
        LoanStatus::Processing => "processing",
        LoanStatus::ContractGenerated => "contract_generated",
        LoanStatus::AwaitingSignatures => "awaiting_signatures",
        LoanStatus::Signed => "signed",
        LoanStatus::Disbursing => "disbursing",
        LoanStatus::Active => "active",
        LoanStatus::Finished => "finished",
        LoanStatus::Cancelled => "cancelled",
        LoanStatus::Error => "error",
    }
}

/// A borrower to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    /// CPF, formatted or bare.
    #[schema(example = "529.982.247-25")]
    pub document: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone in E.164.
    #[serde(default)]
    #[schema(example = "+5511987654321")]
    pub phone: Option<String>,
    /// Your own id for the borrower; registering the same document with the same `external_id`
    /// again returns the existing customer.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A KYC document to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadDocumentRequest {
    /// What the document is: `identity_front`, `identity_back`, `selfie`, `drivers_license`...
    #[schema(example = "identity_front")]
    pub kind: String,
    /// The original file name.
    pub file_name: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The file, base64 (standard alphabet, padded).
    pub content_base64: String,
}

/// An uploaded KYC document.
#[derive(Debug, Serialize, ToSchema)]
pub struct KycDocumentBody {
    /// The provider's id.
    pub id: String,
    /// What the document is.
    pub kind: String,
    /// The provider's review status (`submitted`, `approved`, `rejected`).
    pub status: String,
}

impl From<KycDocument> for KycDocumentBody {
    fn from(document: KycDocument) -> KycDocumentBody {
        KycDocumentBody {
            id: document.id,
            kind: document.kind,
            status: document.status,
        }
    }
}

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
    /// The amount to borrow: a decimal string (`"25000.00"`) or an exact JSON number, BRL, at
    /// most two decimal places.
    #[schema(value_type = String, example = "25000.00")]
    pub amount: Money,
    /// The number of monthly installments.
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

/// Paging and filters of `GET /v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomersQuery {
    /// Page size, 1 to 100 (default 25).
    pub limit: Option<u32>,
    /// The last id of the previous page.
    pub starting_after: Option<String>,
    /// Only the customer with this `external_id`.
    pub external_id: Option<String>,
}

/// The customer whose offers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreditOffersQuery {
    /// The borrower (required).
    pub customer_id: Option<String>,
}

fn field(pointer: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldProblem {
        pointer: pointer.to_owned(),
        message: message.into(),
    }])
}

/// The provider's idempotency key for this request: derived from the API key, the route and the
/// client's `Idempotency-Key`, so the same client request always maps to the same provider key.
fn provider_key(
    caller: &Caller,
    headers: &HeaderMap,
    uri: &OriginalUri,
) -> Result<IdempotencyKey, ApiError> {
    let client_key = headers
        .get(idempotency::HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::IdempotencyKeyRequired)?;
    let mut hasher = Sha256::new();
    hasher.update(caller.api_key_id.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(uri.0.path().as_bytes());
    hasher.update([0]);
    hasher.update(client_key.as_bytes());
    let digest: String = hasher
        .finalize()
        .iter()
        .take(20)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    IdempotencyKey::parse(&format!("paygate-{digest}"))
        .map_err(|error| ApiError::Internal(format!("derived idempotency key: {error}")))
}

fn validate_amount(amount: Money) -> Result<Money, ApiError> {
    let amount = amount
        .ensure_payment_amount()
        .map_err(|error| field("/amount", error.to_string()))?;
    amount
        .with_max_scale(2)
        .map_err(|error| field("/amount", error.to_string()))
}

/// Registers a borrower at the credit provider.
#[utoipa::path(
    post, path = "/v1/customers", tag = "credit",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = CreateCustomerRequest,
    security(("api_key" = ["credit:write"])),
    responses(
        (status = 201, body = CustomerBody),
        (status = 409, body = crate::http::error::Problem, description = "provider_conflict, e.g. provider_code customer_already_exists"),
        (status = 422, body = crate::http::error::Problem),
        (status = 502, body = crate::http::error::Problem),
        (status = 504, body = crate::http::error::Problem),
    )
)]
pub async fn create_customer(
    State(state): State<AppState>,
    caller: Caller,
    uri: OriginalUri,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateCustomerRequest>,
) -> Result<(StatusCode, Json<CustomerBody>), ApiError> {
    caller.require(Scope::CreditWrite)?;
    let document = Document::parse(&request.document)
        .map_err(|error| field("/document", error.to_string()))?;
    if request.name.trim().is_empty() {
        return Err(field("/name", "must not be empty"));
    }
    let key = provider_key(&caller, &headers, &uri)?;
    let customer = state
        .credit()?
        .create_customer(
            NewCustomer {
                document,
                name: request.name,
                email: request.email,
                phone: request.phone,
                external_id: request.external_id,
            },
            &key,
        )
        .await?;
    // The gateway's own customer records: reconciliation finds the borrower's document here.
    if let Ok(provider) = providers::ProviderName::parse(&state.settings.routing.credit) {
        crate::reconcile::items::learn_customer(
            &state.pool,
            &provider,
            &customer.id,
            customer.document.expose(),
            "api",
            &state.settings.reconciliation,
            !state.settings.jetstream.url.is_empty(),
        )
        .await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(CustomerBody::new(customer, &caller)),
    ))
}

/// Lists borrowers, in the provider's order.
#[utoipa::path(
    get, path = "/v1/customers", tag = "credit",
    params(CustomersQuery),
    security(("api_key" = ["credit:read"])),
    responses(
        (status = 200, body = ListBody<CustomerBody>),
        (status = 400, body = crate::http::error::Problem),
        (status = 502, body = crate::http::error::Problem),
    )
)]
pub async fn list_customers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CustomersQuery>,
) -> Result<Json<ListBody<CustomerBody>>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let page = state
        .credit()?
        .list_customers(CustomerQuery {
            external_id: query.external_id,
            limit,
            starting_after: query.starting_after,
        })
        .await?;
    let has_more = page.next_cursor.is_some();
    Ok(Json(ListBody::new(
        page.items
            .into_iter()
            .map(|customer| CustomerBody::new(customer, &caller))
            .collect(),
        has_more,
    )))
}

/// One borrower.
#[utoipa::path(
    get, path = "/v1/customers/{id}", tag = "credit",
    params(("id" = String, Path, description = "the provider's customer id")),
    security(("api_key" = ["credit:read"])),
    responses((status = 200, body = CustomerBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CustomerBody>, ApiError> {
    caller.require(Scope::CreditRead)?;
    let customer = state.credit()?.get_customer(&id).await?;
    Ok(Json(CustomerBody::new(customer, &caller)))
}

/// Uploads one KYC document of a borrower.
#[utoipa::path(
    post, path = "/v1/customers/{id}/documents", tag = "credit",
    params(("id" = String, Path, description = "the provider's customer id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = UploadDocumentRequest,
    security(("api_key" = ["credit:write"])),
    responses(
        (status = 201, body = KycDocumentBody),
        (status = 404, body = crate::http::error::Problem),
        (status = 422, body = crate::http::error::Problem),
    )
)]
pub async fn upload_document(
    State(state): State<AppState>,
    caller: Caller,
    uri: OriginalUri,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UploadDocumentRequest>,
) -> Result<(StatusCode, Json<KycDocumentBody>), ApiError> {
    caller.require(Scope::CreditWrite)?;
    if !DOCUMENT_CONTENT_TYPES.contains(&request.content_type.as_str()) {
        return Err(field(
            "/content_type",
            "must be application/pdf, image/jpeg or image/png",
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(request.content_base64.as_bytes())
        .map_err(|_| field("/content_base64", "is not base64"))?;
    if bytes.is_empty() {
        return Err(field("/content_base64", "the file is empty"));
    }
    if request.kind.trim().is_empty() {
        return Err(field("/kind", "must not be empty"));
    }
    let key = provider_key(&caller, &headers, &uri)?;
    let document = state
        .credit()?
        .upload_kyc_document(
            &id,
            KycDocumentUpload {
                kind: request.kind,
                file_name: request.file_name,
                content_type: request.content_type,
                bytes,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(KycDocumentBody::from(document))))
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
    let amount = validate_amount(request.amount)?;
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
