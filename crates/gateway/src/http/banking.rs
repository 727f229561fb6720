//! The banking API (`/v1/accounts`, `/v1/charges`, `/v1/pix/...`): provider-neutral, routed to the
//! banking provider named by `routing.banking`.
//!
//! Bodies are this API's own DTOs, mapped by hand from the `providers` types, so a provider type
//! can change without changing the contract. Money is `{"amount": "12.10", "currency": "BRL"}` on
//! the way out and a decimal string (or exact JSON number) on the way in. Writes need
//! `banking:write`, reads `banking:read`; every POST carries an `Idempotency-Key`, which is also
//! what makes the provider call idempotent: the provider gets a key derived from the caller's API
//! key and its `Idempotency-Key`, so a retry never pays twice and two callers never collide.
//! Provider failures are problem+json: 502 when the provider is down or answers nonsense, 504 when
//! it is too slow, 422 when it refuses the request, 404 when it has no such resource.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use providers::{
    Account, AccountDocument, AccountDocumentKind, AccountStatus, Balance, ChargeKind,
    ChargeStatus, Document, EntryDirection, IdempotencyKey, Money, NewAccount, NewCharge,
    NewPixKey, PageRequest, Party, PixDestination, PixEndToEndId, PixKey, PixKeyKind, PixRefund,
    PixRefundRequest, PixTransfer, PixTransferRequest, PixTransferStatus, StatementEntry,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, FieldProblem, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

/// Default page size of the banking lists.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// Largest page size of the banking lists (the provider's own limit).
pub const MAX_PAGE_SIZE: u32 = 50;

// ---- DTOs. ----

/// An amount of money.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyBody {
    /// Decimal string, at least two decimals: `"12.10"`.
    #[schema(example = "12.10")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "BRL")]
    pub currency: String,
}

fn money(amount: &Money) -> MoneyBody {
    MoneyBody {
        amount: amount.to_minor_units_string(),
        currency: amount.currency().code().to_owned(),
    }
}

/// A page of a banking list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageBody<T> {
    /// Always `list`.
    pub object: &'static str,
    /// The items.
    pub data: Vec<T>,
    /// True when another page follows.
    pub has_more: bool,
    /// Pass as `cursor` to get the next page.
    pub next_cursor: Option<String>,
}

fn page<T, U>(page: providers::Page<T>, map: impl Fn(T) -> U) -> PageBody<U> {
    PageBody {
        object: "list",
        has_more: page.next_cursor.is_some(),
        next_cursor: page.next_cursor,
        data: page.items.into_iter().map(map).collect(),
    }
}

/// Paging of the banking lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 50 (default 10).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    fn to_request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        Ok(PageRequest {
            cursor: self.cursor.clone(),
            limit,
        })
    }
}

/// A white-label account to open.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountRequest {
    /// The holder's CPF (a person) or CNPJ (a company), with or without punctuation.
    #[schema(value_type = String, example = "529.982.247-25")]
    pub holder_document: Document,
    /// The holder's (or company's) name.
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone in E.164, `+55...`.
    pub phone: Option<String>,
}

/// A white-label account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    /// The account's id (use it in `/v1/accounts/{id}/...`).
    pub id: String,
    /// The holder's document (digits).
    pub holder_document: String,
    /// `pending_documentation`, `under_review`, `approved`, `documentation_rejected`,
    /// `blocked`, `closed`.
    pub status: String,
    /// Branch, once approved.
    pub branch: Option<String>,
    /// Account number, once approved.
    pub number: Option<String>,
}

fn account_status(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::PendingDocumentation => "pending_documentation",
        AccountStatus::UnderReview => "under_review",
        AccountStatus::Approved => "approved",
        AccountStatus::DocumentationRejected => "documentation_rejected",
        AccountStatus::Blocked => "blocked",
        AccountStatus::Closed => "closed",
    }
}

impl From<Account> for AccountBody {
    fn from(account: Account) -> AccountBody {
        AccountBody {
            id: account.id,
            holder_document: account.holder.expose().to_owned(),
            status: account_status(account.status).to_owned(),
            branch: account.branch,
            number: account.number,
        }
    }
}

/// One onboarding document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentUploadRequest {
    /// `selfie`, `id_card_full`, `id_card_front`, `id_card_back`, `driver_license_full`,
    /// `driver_license_front`, `driver_license_back`, `articles_of_association`.
    #[schema(value_type = String, example = "selfie")]
    pub kind: AccountDocumentKind,
    /// The file, base64-encoded.
    pub content_base64: String,
}

/// An account's balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceBody {
    /// What can be spent now.
    pub available: MoneyBody,
    /// What is held.
    pub blocked: MoneyBody,
}

impl From<Balance> for BalanceBody {
    fn from(balance: Balance) -> BalanceBody {
        BalanceBody {
            available: money(&balance.available),
            blocked: money(&balance.blocked),
        }
    }
}

/// One statement entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementEntryBody {
    /// The provider's id of the entry.
    pub id: String,
    /// `credit` or `debit`.
    pub direction: &'static str,
    /// Always positive.
    pub amount: MoneyBody,
    /// The provider's kind of transaction, e.g. `DEBIT_PIX`.
    pub kind: String,
    /// Description.
    pub description: Option<String>,
    /// For Pix.
    pub end_to_end_id: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl From<StatementEntry> for StatementEntryBody {
    fn from(entry: StatementEntry) -> StatementEntryBody {
        StatementEntryBody {
            id: entry.id,
            direction: match entry.direction {
                EntryDirection::Credit => "credit",
                EntryDirection::Debit => "debit",
            },
            amount: money(&entry.amount),
            kind: entry.kind,
            description: entry.description,
            end_to_end_id: entry.end_to_end_id,
            created_at: entry.created_at,
        }
    }
}

/// A party (payer or beneficiary).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyRequest {
    /// CPF or CNPJ.
    #[schema(value_type = String, example = "11.222.333/0001-81")]
    pub document: Document,
    /// Name.
    pub name: String,
    /// 8-digit ISPB of the institution (required to send to an account).
    pub ispb: Option<String>,
    /// Branch (required to send to an account).
    pub branch: Option<String>,
    /// Account number (required to send to an account).
    pub account: Option<String>,
}

impl From<PartyRequest> for Party {
    fn from(party: PartyRequest) -> Party {
        Party {
            document: party.document,
            name: party.name,
            ispb: party.ispb,
            branch: party.branch,
            account: party.account,
        }
    }
}

/// A charge to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChargeRequest {
    /// `pix_dynamic`, `pix_static`, `bankslip`, `bankslip_pix`.
    #[schema(value_type = String, example = "pix_dynamic")]
    pub kind: ChargeKind,
    /// Amount, a decimal string with at most two decimals.
    #[schema(value_type = String, example = "150.00")]
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
            amount: money(&charge.amount),
            pix_copy_paste: charge.pix_copy_paste,
            digitable_line: charge.digitable_line,
            due_date: charge.due_date,
            created_at: charge.created_at,
        }
    }
}

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
    /// Amount, a decimal string with at most two decimals.
    #[schema(value_type = String, example = "12.12")]
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
            amount: money(&transfer.amount),
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
    #[schema(value_type = String, example = "10.00")]
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
            amount: money(&refund.amount),
        }
    }
}

/// A Pix key to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePixKeyRequest {
    /// `cpf`, `cnpj`, `email`, `phone`, `evp`.
    #[schema(value_type = String, example = "evp")]
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

// ---- Helpers. ----

fn invalid(pointer: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldProblem {
        pointer: pointer.to_owned(),
        message: message.into(),
    }])
}

/// A payable amount: positive, at most two decimals.
fn payable(amount: Money, pointer: &str) -> Result<Money, ApiError> {
    amount
        .ensure_payment_amount()
        .and_then(|amount| amount.with_max_scale(2))
        .map_err(|error| invalid(pointer, error.to_string()))
}

/// The provider idempotency key of a request: derived from the caller and its `Idempotency-Key`,
/// so that two callers using the same key never share a payment.
fn provider_key(caller: &Caller, headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    let client_key = headers
        .get(idempotency::HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::IdempotencyKeyRequired)?;
    let digest = Sha256::new()
        .chain_update(caller.api_key_id.to_string().as_bytes())
        .chain_update([0])
        .chain_update(client_key.as_bytes())
        .finalize();
    IdempotencyKey::parse(&hex::encode(digest)).map_err(|_| ApiError::IdempotencyKeyInvalid)
}

// ---- Accounts. ----

/// Opens a white-label account (onboarding starts at `pending_documentation`).
#[utoipa::path(
    post, path = "/v1/accounts", tag = "banking",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = OpenAccountRequest,
    security(("api_key" = ["banking:write"])),
    responses(
        (status = 201, body = AccountBody),
        (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 502, body = Problem), (status = 504, body = Problem),
    )
)]
pub async fn open_account(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OpenAccountRequest>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    if request.name.trim().is_empty() {
        return Err(invalid("/name", "must not be empty"));
    }
    let key = provider_key(&caller, &headers)?;
    let account = state
        .banking()?
        .open_account(
            NewAccount {
                holder: request.holder_document,
                name: request.name,
                email: request.email,
                phone: request.phone,
            },
            &key,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// One white-label account, with its onboarding status.
#[utoipa::path(
    get, path = "/v1/accounts/{id}", tag = "banking",
    params(("id" = String, Path, description = "account id")),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = AccountBody), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AccountBody>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let account = state.banking()?.get_account(&id).await?;
    Ok(Json(account.into()))
}

/// Sends one onboarding document; the account moves to `under_review` once the set is complete.
#[utoipa::path(
    post, path = "/v1/accounts/{id}/documents", tag = "banking",
    params(("id" = String, Path, description = "account id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = DocumentUploadRequest,
    security(("api_key" = ["banking:write"])),
    responses((status = 201, body = AccountBody), (status = 404, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem))
)]
pub async fn upload_document(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<DocumentUploadRequest>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    caller.require(Scope::BankingWrite)?;
    if request.content_base64.trim().is_empty() {
        return Err(invalid("/content_base64", "must not be empty"));
    }
    let account = state
        .banking()?
        .upload_account_document(
            &id,
            AccountDocument {
                kind: request.kind,
                content_base64: request.content_base64,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// An account's balance (an account id, or the number of the gateway's own account).
#[utoipa::path(
    get, path = "/v1/accounts/{id}/balance", tag = "banking",
    params(("id" = String, Path, description = "account id or own account number")),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = BalanceBody), (status = 404, body = Problem), (status = 502, body = Problem), (status = 504, body = Problem))
)]
pub async fn balance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<BalanceBody>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let balance = state.banking()?.balance(&id).await?;
    Ok(Json(balance.into()))
}

/// An account's statement, newest first.
#[utoipa::path(
    get, path = "/v1/accounts/{id}/statement", tag = "banking",
    params(("id" = String, Path, description = "account id or own account number"), PageQuery),
    security(("api_key" = ["banking:read"])),
    responses((status = 200, body = PageBody<StatementEntryBody>), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PageBody<StatementEntryBody>>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let entries = state.banking()?.statement(&id, query.to_request()?).await?;
    Ok(Json(page(entries, StatementEntryBody::from)))
}

// ---- Charges. ----

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
    let amount = payable(request.amount, "/amount")?;
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
    responses((status = 200, body = PageBody<ChargeBody>), (status = 400, body = Problem), (status = 502, body = Problem))
)]
pub async fn list_charges(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PageBody<ChargeBody>>, ApiError> {
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

// ---- Pix. ----

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
    let amount = payable(request.amount, "/amount")?;
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
    responses((status = 200, body = PageBody<PixTransferBody>), (status = 502, body = Problem))
)]
pub async fn list_transfers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PageBody<PixTransferBody>>, ApiError> {
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
    let amount = payable(request.amount, "/amount")?;
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
