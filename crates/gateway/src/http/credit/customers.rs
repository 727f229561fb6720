//! Borrowers at the credit provider: create, list, read, KYC documents.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use chrono::{DateTime, Utc};
use providers::{Customer, CustomerQuery, Document, KycDocument, KycDocumentUpload, NewCustomer};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{DOCUMENT_CONTENT_TYPES, customer_status, field, provider_key};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
pub use crate::http::money::MoneyBody;
use crate::http::pagination::{DEFAULT_LIMIT, ListBody, MAX_LIMIT};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};

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
    #[schema(pattern = "^(application/pdf|image/jpeg|image/png)$")]
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

/// Paging and filters of `GET /v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomersQuery {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    pub starting_after: Option<String>,
    /// Only the customer with this `external_id`.
    pub external_id: Option<String>,
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
    post, path = "/v1/customers/{id}/documents", operation_id = "upload_customer_document", tag = "credit",
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
