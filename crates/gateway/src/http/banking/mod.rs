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
//!
//! # Layout
//! - `accounts`, `charges`, `pix` (transfers and refunds), `keys` (Pix keys): one resource each;
//!   this module holds what they share (money, paging, parties, idempotency keys for the provider).

use axum::http::HeaderMap;
use providers::{Document, IdempotencyKey, PageRequest, Party};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, FieldProblem};
use crate::http::idempotency;
pub use crate::http::money::MoneyBody;
use crate::http::pagination::ListBody;
use crate::keys::Caller;

pub mod accounts;
pub mod charges;
pub mod keys;
pub mod pix;

/// Default page size of the banking lists.
pub const DEFAULT_PAGE_SIZE: u32 = 10;
/// Largest page size of the banking lists (the provider's own limit).
pub const MAX_PAGE_SIZE: u32 = 50;

// ---- DTOs. ----

fn page<T, U>(page: providers::Page<T>, map: impl Fn(T) -> U) -> ListBody<U> {
    ListBody::with_cursor(page.items.into_iter().map(map).collect(), page.next_cursor)
}

/// Paging of the banking lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
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

// ---- Helpers. ----

fn invalid(pointer: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldProblem {
        pointer: pointer.to_owned(),
        message: message.into(),
    }])
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

// ---- Charges. ----

// ---- Pix. ----
