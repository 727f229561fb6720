//! Pix: received, sent (payments and refunds), refunded to the gateway, infractions.

use chrono::{DateTime, Utc};
use providers::{
    EventData, EventType, PixFailure, PixInfractionData, PixOperation, PixReceivedData,
    PixRefundData, PixTransferData, ResourceKind, ResourceRef,
};

use crate::events::{Mapped, Unmappable, dedup, event, need, occurred, party, settlement};
use crate::wire::{self, TransferStatus};

/// `PIX_RECEIVED`: `pix.received`.
pub(super) fn received(provider_type: &str, payload: wire::PixReceivedPayload) -> Mapped {
    let proof = payload.proof.unwrap_or_default();
    let end_to_end_id = need(
        payload
            .end_to_end_id
            .or(proof.end_to_end_id)
            .or(payload.reference_id),
        "endToEndId",
    )?;
    let amount = need(payload.amount.or(proof.amount), "amount")?;
    let occurred_at = occurred(payload.created_at, Some(&end_to_end_id));
    let dedup_key = dedup(&["PIX_RECEIVED", &end_to_end_id])?;
    let data = PixReceivedData {
        amount,
        correlation_id: payload.correlation_id.clone(),
        end_to_end_id: end_to_end_id.clone(),
        payee: party(proof.payee.or(proof.beneficiary)),
        payer: party(proof.payer),
        // Only an id that is not an end-to-end id leaves it unknown; the data keeps its old epoch.
        received_at: occurred_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        status: proof.status.as_ref().map(settlement),
    };
    Ok(event(
        EventType::PixReceived,
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Pix,
            id: end_to_end_id,
            correlation_id: payload.correlation_id,
        },
        occurred_at,
        EventData::PixReceived(data),
    ))
}

/// `PIX_PAYMENT_UPDATED` and `PIX_REFUND_PAYMENT_UPDATED` (`registration`): the outcome of a Pix
/// or a refund the gateway sent, `pix.transfer.completed` or `pix.transfer.failed`. An
/// in-progress or unknown status is no outcome.
pub(super) fn payment(
    registration: &str,
    provider_type: &str,
    payload: wire::PixPaymentPayload,
) -> Mapped {
    let status = need(payload.status, "status")?;
    let event_type = match &status {
        TransferStatus::PixEffective | TransferStatus::Effective => EventType::PixTransferCompleted,
        TransferStatus::PixError | TransferStatus::Error => EventType::PixTransferFailed,
        TransferStatus::PixProcessing | TransferStatus::Processing => {
            return Err(Unmappable(
                "an in-progress status is not an outcome".to_owned(),
            ));
        }
        TransferStatus::Unknown(other) => {
            return Err(Unmappable(format!("unknown status {other}")));
        }
    };
    let natural_key = need(
        payload
            .end_to_end_id
            .clone()
            .or(payload.idempotency_key.clone()),
        "endToEndId or idempotencyKey",
    )?;
    let is_refund = registration == "PIX_REFUND_PAYMENT_UPDATED"
        || payload.operation_type.as_deref() == Some("DEBIT_REFUND")
        || payload.original_end_to_end_id.is_some()
        || natural_key.starts_with('D');
    let (kind, operation) = match is_refund {
        true => (ResourceKind::PixRefund, PixOperation::Refund),
        false => (ResourceKind::Pix, PixOperation::Payment),
    };
    let amount = need(payload.amount, "amount")?;
    let dedup_key = dedup(&[registration, &natural_key, status.as_str()])?;
    let occurred_at = occurred(
        payload.finished_at.or(payload.created_at),
        payload.end_to_end_id.as_deref(),
    );
    let data = PixTransferData {
        amount,
        beneficiary: party(payload.beneficiary),
        end_to_end_id: payload.end_to_end_id,
        failure: payload.error.map(|error| PixFailure {
            code: error.code,
            description: error.description,
        }),
        idempotency_key: payload.idempotency_key.clone(),
        operation,
        original_end_to_end_id: payload.original_end_to_end_id,
        payer: party(payload.payer),
        status: settlement(&status),
    };
    Ok(event(
        event_type,
        provider_type,
        dedup_key,
        ResourceRef {
            kind,
            id: natural_key,
            correlation_id: payload.idempotency_key,
        },
        occurred_at,
        EventData::PixTransfer(data),
    ))
}

/// `PIX_REFUNDED`: `pix.refund.received`, read from the body or its proof.
pub(super) fn refunded(provider_type: &str, payload: wire::PixRefundedPayload) -> Mapped {
    let proof = payload.proof.unwrap_or_default();
    let end_to_end_id = need(payload.end_to_end_id.or(proof.end_to_end_id), "endToEndId")?;
    let original = payload
        .original_end_to_end_id
        .or(proof.original_end_to_end_id);
    let amount = need(payload.amount.or(proof.amount), "amount")?;
    let dedup_key = dedup(&["PIX_REFUNDED", &end_to_end_id])?;
    let occurred_at = occurred(
        payload.created_at.or(proof.finished_at),
        Some(&end_to_end_id),
    );
    let data = PixRefundData {
        account: payload.bank_account,
        amount,
        end_to_end_id: end_to_end_id.clone(),
        original_end_to_end_id: original.clone(),
        payee: party(proof.beneficiary),
        payer: party(proof.payer),
        reason: payload.reason_refund,
        refund_code: payload.refund_code,
    };
    Ok(event(
        EventType::PixRefundReceived,
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::PixRefund,
            id: end_to_end_id,
            correlation_id: original,
        },
        occurred_at,
        EventData::PixRefund(data),
    ))
}

/// `INFRACTION_NOTIFICATION_CREATED`: `pix.infraction.created`.
pub(super) fn infraction(provider_type: &str, payload: wire::InfractionPayload) -> Mapped {
    let id = need(payload.id, "id")?;
    let dedup_key = dedup(&["INFRACTION_NOTIFICATION_CREATED", &id])?;
    let occurred_at = occurred(payload.created_at, payload.end_to_end_id.as_deref());
    let data = PixInfractionData {
        credited_ispb: payload
            .credited_participant
            .and_then(|participant| participant.ispb),
        debited_ispb: payload
            .debited_participant
            .and_then(|participant| participant.ispb),
        end_to_end_id: payload.end_to_end_id.clone(),
        infraction_id: id.clone(),
        reason: payload.reason,
        status: payload.status,
        infraction_type: payload.infraction_type,
    };
    Ok(event(
        EventType::PixInfractionCreated,
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Infraction,
            id,
            correlation_id: payload.end_to_end_id,
        },
        occurred_at,
        EventData::PixInfraction(data),
    ))
}
