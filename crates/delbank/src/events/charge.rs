//! Charges: `CHARGE_PAID` (version 1, no `eventType`) and `CHARGE_PAID_V2`.

use providers::{
    ChargeData, ChargePayer, EventData, EventType, PartyDocument, ResourceKind, ResourceRef,
};

use crate::events::{Mapped, dedup, event, need, occurred, party};
use crate::wire;

/// `charge.paid`, keyed by the charge and the payment (NSU, reference, slip number).
pub(super) fn paid(provider_type: &str, payload: wire::ChargePaidPayload) -> Mapped {
    let correlation_id = need(payload.correlation_id, "correlationId")?;
    let amount = need(payload.amount, "amount")?;
    let version = match payload.event_type.as_deref() {
        Some("CHARGE_PAID_V2") => 2,
        _ => 1,
    };
    let payment_id = need(
        payload
            .nsu
            .or(payload.reference_id.clone())
            .or(payload.our_number.clone())
            .or(payload.digitable_line.clone()),
        "nsu, referenceId or ourNumber",
    )?;
    let proof = payload.proof.unwrap_or_default();
    let end_to_end_id = proof.end_to_end_id.or(match payload.source.as_deref() {
        Some("SPI") => payload.reference_id,
        _ => None,
    });
    let payer = payload.payer.unwrap_or_default();
    let dedup_key = dedup(&["CHARGE_PAID", &correlation_id, &payment_id])?;
    let occurred_at = occurred(
        payload.created_at.or(payload.payment_date),
        end_to_end_id.as_deref(),
    );
    let data = ChargeData {
        amount,
        correlation_id: correlation_id.clone(),
        digitable_line: payload.digitable_line,
        due_date: payload.due_date.map(|due| due.date_naive()),
        end_to_end_id,
        our_number: payload.our_number,
        payee: party(proof.payee),
        payer: ChargePayer {
            account: party(proof.payer),
            document: payer.document.as_deref().map(PartyDocument::from_sent),
            name: payer.name,
        },
        payment_id,
        source: payload.source,
        version,
    };
    Ok(event(
        EventType::ChargePaid,
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Charge,
            id: correlation_id.clone(),
            correlation_id: Some(correlation_id),
        },
        occurred_at,
        EventData::Charge(data),
    ))
}
