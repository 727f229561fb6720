//! Normalization of the callback `{"pix": [...]}` into the gateway's events.
//!
//! One callback may carry several Pix. Each item gives:
//! - `pix.received` (resource `pix`, id the `endToEndId`, correlation id the `txid`);
//! - `charge.paid` too when it has a `txid` (resource `charge`, id the `txid`): the spec notifies
//!   Pix of charges;
//! - for each entry of `devolucoes` in a final status, the refund's outcome with the same shape as
//!   Delbank's (`pix.transfer.completed` for `DEVOLVIDO`, `pix.transfer.failed` for
//!   `NAO_REALIZADO`, [`PixOperation::Refund`], resource `pix_refund` with the `rtrId`);
//!   `EM_PROCESSAMENTO` is no outcome and gives nothing (the PSP calls again when it ends).
//!
//! The PSP resends a Pix whole when one of its refunds ends, so the dedup keys are natural keys:
//! `pix.received:{e2eid}`, `charge.paid:{txid}:{e2eid}`, `devolucao:{e2eid}:{id}:{status}`. An
//! item that cannot be read becomes `bacen-pix.unrecognized`, keyed by the SHA-256 of its bytes;
//! a body without a `pix` array is a [`NormalizeError`].
//!
//! Statuses are reported with Delbank's words so that both providers look alike to partners: a Pix
//! received and a refund returned are `PIX_EFFECTIVE`, a refund not made `PIX_ERROR`. The payee of
//! a Pix received is the configured account holder (`receiver_document`); the payer comes from the
//! `pagador` object many PSPs add to the spec's `Pix` (the spec's `infoPagador` is free text).

use chrono::{DateTime, Utc};
use providers::{
    ChargeData, ChargePayer, DedupKey, Document, EventData, EventParty, EventType, NormalizeError,
    NormalizedEvent, PartyDocument, PixFailure, PixOperation, PixReceivedData, PixTransferData,
    Reported, ResourceKind, ResourceRef, SettlementStatus, Unmapped, UnrecognizedData,
};
use sha2::{Digest, Sha256};

use crate::PROVIDER;
use crate::banking::money;
use crate::wire;

/// The provider's name for a callback item, kept as `provider_event_type`.
const PROVIDER_TYPE: &str = "pix";

/// Normalizes a callback body; `payee` is the configured account holder.
pub(crate) fn normalize_body(
    body: &[u8],
    payee: &Document,
) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let callback: wire::Callback = serde_json::from_slice(body)
        .map_err(|_| NormalizeError::new("body is not a json object with a pix array"))?;
    let mut events = Vec::new();
    for item in callback.pix {
        match serde_json::from_str::<wire::Pix>(item.get()) {
            Ok(pix) => match pix_events(&pix, payee) {
                Ok(mapped) => events.extend(mapped),
                Err(reason) => events.push(unrecognized(item.get(), &reason)?),
            },
            Err(error) => events.push(unrecognized(
                item.get(),
                &format!(
                    "unexpected pix item shape at line {} column {}",
                    error.line(),
                    error.column()
                ),
            )?),
        }
    }
    Ok(events)
}

fn dedup(parts: &[&str]) -> Result<DedupKey, String> {
    DedupKey::parse(&parts.join(":")).map_err(|error| error.to_string())
}

fn payee_party(payee: &Document) -> EventParty {
    EventParty {
        document: Some(PartyDocument::Valid(payee.clone())),
        ..EventParty::default()
    }
}

fn payer_party(pix: &wire::Pix) -> Option<EventParty> {
    let payer = pix.pagador.as_ref()?;
    let document = payer.cpf.as_deref().or(payer.cnpj.as_deref());
    Some(EventParty {
        document: document.map(PartyDocument::from_sent),
        name: payer.nome.clone(),
        ..EventParty::default()
    })
}

/// The events of one readable item; `Err` with the reason when it lacks what they need.
fn pix_events(pix: &wire::Pix, payee: &Document) -> Result<Vec<NormalizedEvent>, String> {
    let amount = money(&pix.valor, "valor").map_err(|_| "valor is not an amount".to_owned())?;
    let end_to_end_id = pix.end_to_end_id.trim();
    if end_to_end_id.is_empty() {
        return Err("missing endToEndId".to_owned());
    }
    let txid = pix
        .txid
        .as_deref()
        .map(str::trim)
        .filter(|txid| !txid.is_empty());
    let payer = payer_party(pix);
    let mut events = vec![NormalizedEvent {
        event_type: EventType::PixReceived,
        provider_event_type: PROVIDER_TYPE.to_owned(),
        dedup_key: dedup(&["pix.received", end_to_end_id])?,
        resource: ResourceRef {
            kind: ResourceKind::Pix,
            id: end_to_end_id.to_owned(),
            correlation_id: txid.map(str::to_owned),
        },
        occurred_at: Some(pix.horario),
        data: EventData::PixReceived(PixReceivedData {
            amount,
            correlation_id: txid.map(str::to_owned),
            end_to_end_id: end_to_end_id.to_owned(),
            payee: Some(payee_party(payee)),
            payer: payer.clone(),
            received_at: pix.horario,
            status: Some(Reported::Known(SettlementStatus::PixEffective)),
        }),
    }];
    if let Some(txid) = txid {
        let document = payer.as_ref().and_then(|payer| payer.document.clone());
        let name = payer.as_ref().and_then(|payer| payer.name.clone());
        events.push(NormalizedEvent {
            event_type: EventType::ChargePaid,
            provider_event_type: PROVIDER_TYPE.to_owned(),
            dedup_key: dedup(&["charge.paid", txid, end_to_end_id])?,
            resource: ResourceRef {
                kind: ResourceKind::Charge,
                id: txid.to_owned(),
                correlation_id: Some(txid.to_owned()),
            },
            occurred_at: Some(pix.horario),
            data: EventData::Charge(ChargeData {
                amount,
                correlation_id: txid.to_owned(),
                digitable_line: None,
                due_date: None,
                end_to_end_id: Some(end_to_end_id.to_owned()),
                our_number: None,
                payee: Some(payee_party(payee)),
                payer: ChargePayer {
                    account: payer.clone(),
                    document,
                    name,
                },
                payment_id: end_to_end_id.to_owned(),
                source: None,
                version: 2,
            }),
        });
    }
    for devolucao in &pix.devolucoes {
        if let Some(event) = refund_event(pix, devolucao, payee)? {
            events.push(event);
        }
    }
    Ok(events)
}

/// The outcome of one refund; `None` while it is in processing.
fn refund_event(
    pix: &wire::Pix,
    devolucao: &wire::Devolucao,
    payee: &Document,
) -> Result<Option<NormalizedEvent>, String> {
    let (event_type, status, failure) = match &devolucao.status {
        wire::DevolucaoStatus::EmProcessamento => return Ok(None),
        wire::DevolucaoStatus::Devolvido => (
            EventType::PixTransferCompleted,
            SettlementStatus::PixEffective,
            None,
        ),
        wire::DevolucaoStatus::NaoRealizado => (
            EventType::PixTransferFailed,
            SettlementStatus::PixError,
            Some(PixFailure {
                code: None,
                description: devolucao.motivo.clone(),
            }),
        ),
        wire::DevolucaoStatus::Unknown(other) => {
            return Err(format!("unknown devolucao status {other}"));
        }
    };
    let amount = money(&devolucao.valor, "devolucoes.valor")
        .map_err(|_| "devolucoes.valor is not an amount".to_owned())?;
    let end_to_end_id = pix.end_to_end_id.trim();
    let resource_id = devolucao
        .rtr_id
        .clone()
        .unwrap_or_else(|| format!("{end_to_end_id}-{}", devolucao.id));
    let occurred_at: Option<DateTime<Utc>> = devolucao
        .horario
        .liquidacao
        .or(devolucao.horario.solicitacao)
        .or(Some(pix.horario));
    Ok(Some(NormalizedEvent {
        event_type,
        provider_event_type: format!("devolucao.{}", devolucao.status.as_str()),
        dedup_key: dedup(&[
            "devolucao",
            end_to_end_id,
            &devolucao.id,
            devolucao.status.as_str(),
        ])?,
        resource: ResourceRef {
            kind: ResourceKind::PixRefund,
            id: resource_id,
            correlation_id: Some(devolucao.id.clone()),
        },
        occurred_at,
        data: EventData::PixTransfer(PixTransferData {
            amount,
            beneficiary: payer_party(pix),
            end_to_end_id: devolucao.rtr_id.clone(),
            failure,
            idempotency_key: Some(devolucao.id.clone()),
            operation: PixOperation::Refund,
            original_end_to_end_id: Some(end_to_end_id.to_owned()),
            payer: Some(payee_party(payee)),
            status: Reported::Known(status),
        }),
    }))
}

/// An item no rule maps: kept as `bacen-pix.unrecognized`, keyed by its bytes.
fn unrecognized(item: &str, reason: &str) -> Result<NormalizedEvent, NormalizeError> {
    let hash = hex::encode(Sha256::digest(item.as_bytes()));
    let dedup_key = DedupKey::parse(&format!("unrecognized:{hash}"))
        .map_err(|error| NormalizeError::new(error.to_string()))?;
    Ok(NormalizedEvent {
        event_type: EventType::Unrecognized(PROVIDER),
        provider_event_type: PROVIDER_TYPE.to_owned(),
        dedup_key,
        resource: ResourceRef {
            kind: ResourceKind::Other,
            id: format!("item-{}", hash.get(..24).unwrap_or_default()),
            correlation_id: None,
        },
        occurred_at: None,
        data: EventData::Unrecognized(UnrecognizedData {
            unmapped: Some(Unmapped {
                reason: reason.to_owned(),
                registered_event_type: None,
            }),
        }),
    })
}
