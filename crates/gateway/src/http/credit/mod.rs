//! The credit API (`/v1/customers`, `/v1/credit-offers`, `/v1/loans`): provider-neutral, routed to
//! the provider that `routing.credit` names.
//!
//! Reads need the `credit:read` scope, writes `credit:write`. Documents come back masked unless
//! the key also holds `pii`. Every POST carries the client's `Idempotency-Key`; the provider gets a
//! key derived from it (and the API key and the route), so a client's retry reaches the provider
//! with the same key and never creates twice. Provider failures are problem+json with the
//! gateway's `code` (`provider_rejected`, `provider_unavailable`...) and, for refusals, the
//! provider's own `provider_code`; a provider that is down answers 502, one that is too slow 504.
//!
//! # Layout
//! - `customers`, `offers` (and simulations), `loans` (and installments): one resource each.

use axum::extract::OriginalUri;
use axum::http::HeaderMap;
use providers::{CreditOfferStatus, CustomerStatus, IdempotencyKey, LoanStatus};
use sha2::{Digest, Sha256};

use crate::http::error::{ApiError, FieldProblem, InternalCause};
use crate::http::idempotency;
pub use crate::http::money::MoneyBody;
use crate::keys::Caller;

pub mod customers;
pub mod loans;
pub mod offers;

/// File types accepted as KYC documents.
const DOCUMENT_CONTENT_TYPES: [&str; 3] = ["application/pdf", "image/jpeg", "image/png"];

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
        .map_err(|error| ApiError::Internal(InternalCause::new("derived idempotency key", error)))
}
