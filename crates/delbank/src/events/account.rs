//! Accounts: white-label onboarding outcomes, status changes, internal transfers.

use providers::{
    AccountData, AccountHolder, AccountStatus, AccountStatusUpdatedData, AccountTransferData,
    EventData, EventType, PartyDocument, ResourceKind, ResourceRef,
};

use crate::events::{
    Mapped, account_state, dedup, event, hash_hex, need, occurred, party, settlement,
};
use crate::wire;

/// `WHITELABEL_CUSTOMER_APPROVED` (`approved`) and `_DOCUMENTATION_REJECTED`: `account.approved`
/// and `account.documentation_rejected`. The document is in the data only: the dedup key and the
/// resource id of an account not yet numbered carry its hash.
pub(super) fn onboarding(
    approved: bool,
    provider_type: &str,
    payload: wire::WhitelabelPayload,
) -> Mapped {
    let document = need(payload.document, "document")?;
    let (event_type, status, status_text, registration) = match approved {
        true => (
            EventType::AccountApproved,
            AccountStatus::Approved,
            "approved",
            "WHITELABEL_CUSTOMER_APPROVED",
        ),
        false => (
            EventType::AccountDocumentationRejected,
            AccountStatus::DocumentationRejected,
            "documentation_rejected",
            "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
        ),
    };
    let document_hash = hash_hex(document.as_bytes());
    let holder_ref = format!("holder-{}", document_hash.get(..24).unwrap_or_default());
    let data = AccountData {
        account: payload.bank_account_number.clone(),
        holder: AccountHolder {
            document: PartyDocument::from_sent(&document),
            name: payload.name,
        },
        status,
    };
    Ok(event(
        event_type,
        provider_type,
        dedup(&[registration, &document_hash, status_text])?,
        ResourceRef {
            kind: ResourceKind::Account,
            id: payload.bank_account_number.unwrap_or(holder_ref),
            correlation_id: None,
        },
        None,
        EventData::Account(data),
    ))
}

/// `TRANSFER_INTERNAL_CREDITED` (`credited`) and `_DEBITED`: `account.transfer.credited` and
/// `account.transfer.debited`.
pub(super) fn internal_transfer(
    credited: bool,
    provider_type: &str,
    payload: wire::InternalTransferPayload,
) -> Mapped {
    let id = need(payload.id, "id")?;
    let amount = need(payload.amount, "amount")?;
    let (event_type, registration) = match credited {
        true => (
            EventType::AccountTransferCredited,
            "TRANSFER_INTERNAL_CREDITED",
        ),
        false => (
            EventType::AccountTransferDebited,
            "TRANSFER_INTERNAL_DEBITED",
        ),
    };
    let data = AccountTransferData {
        amount,
        beneficiary: party(payload.beneficiary),
        external_id: payload.external_id.clone(),
        payer: party(payload.payer),
        status: payload.status.as_ref().map(settlement),
        transfer_id: id.clone(),
    };
    Ok(event(
        event_type,
        provider_type,
        dedup(&[registration, &id])?,
        ResourceRef {
            kind: ResourceKind::Transfer,
            id,
            correlation_id: payload.external_id,
        },
        occurred(payload.created_at, None),
        EventData::AccountTransfer(data),
    ))
}

/// `ACCOUNT_STATUS_UPDATED`: `account.status_updated`, keyed by the account, the status and the
/// time of the change.
pub(super) fn status(provider_type: &str, payload: wire::AccountStatusPayload) -> Mapped {
    let account = need(payload.bank_account, "bankAccount")?;
    let status = need(payload.status, "status")?;
    let updated_at = payload.updated_at.unwrap_or_default();
    let dedup_key = dedup(&[
        "ACCOUNT_STATUS_UPDATED",
        &account,
        status.as_str(),
        &updated_at,
    ])?;
    let data = AccountStatusUpdatedData {
        account: account.clone(),
        status: account_state(&status),
    };
    Ok(event(
        EventType::AccountStatusUpdated,
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Account,
            id: account,
            correlation_id: None,
        },
        occurred(wire::parse_lenient_time(&updated_at), None),
        EventData::AccountStatusUpdated(data),
    ))
}
