//! White-label accounts: opening, KYC documents, balance and statement.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use providers::{
    Account, AccountDocument, AccountDocumentKind, AccountStatus, Balance, Document,
    EntryDirection, NewAccount, StatementEntry,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::ListBody;
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

use super::{MoneyBody, PageQuery, invalid, page, provider_key};

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
    #[schema(value_type = String, example = "selfie", pattern = "^(selfie|id_card_full|id_card_front|id_card_back|driver_license_full|driver_license_front|driver_license_back|articles_of_association)$")]
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
            available: MoneyBody::from(&balance.available),
            blocked: MoneyBody::from(&balance.blocked),
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
            amount: MoneyBody::from(&entry.amount),
            kind: entry.kind,
            description: entry.description,
            end_to_end_id: entry.end_to_end_id,
            created_at: entry.created_at,
        }
    }
}

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
    post, path = "/v1/accounts/{id}/documents", operation_id = "upload_account_document", tag = "banking",
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
    // A new round of onboarding: a rejection after it is a new fact, not a redelivery.
    crate::store::onboarding::next_round(
        &state.pool,
        &state.settings.routing.banking,
        &crate::store::onboarding::holder_hash(account.holder.expose()),
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
    responses((status = 200, body = ListBody<StatementEntryBody>), (status = 404, body = Problem), (status = 502, body = Problem))
)]
pub async fn statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ListBody<StatementEntryBody>>, ApiError> {
    caller.require(Scope::BankingRead)?;
    let entries = state.banking()?.statement(&id, query.to_request()?).await?;
    Ok(Json(page(entries, StatementEntryBody::from)))
}
