//! Normalization of Delbank's webhooks into the gateway's events, one per body.
//!
//! What a body is comes from the registration it arrived at first (several payloads carry no
//! `eventType`, see [`webhook`](crate::webhook)), from its own `eventType` second. Each family has
//! its converter into [`EventData`]: `pix` (received, sent, refunded, infractions), `charge`, and
//! `account` (onboarding, status, internal transfers). A verified body no rule maps, or one that
//! lacks what its type needs, is kept as `delbank.unrecognized` with the reason, never dropped.
//!
//! # Dedup keys
//! From the natural keys, never from the random path part (a hand-made and a gateway-made
//! registration for the same type yield the same key): `PIX_RECEIVED:{endToEndId}`,
//! `PIX_PAYMENT_UPDATED:{endToEndId or idempotencyKey}:{status}`, `CHARGE_PAID:{correlationId}:{nsu}`,
//! `{WHITELABEL type}:{sha256(document)}:{status}`, ...; an unrecognized body is keyed by the SHA-256
//! of its bytes.
//!
//! # Data
//! Parties are [`EventParty`]s (documents flagged when masked), statuses Delbank's own
//! ([`SettlementStatus`], [`AccountState`]), kept as sent when unknown.

mod account;
mod charge;
mod pix;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use providers::{
    AccountKind, AccountState, DedupKey, EventData, EventParty, EventType, NormalizeError,
    NormalizedEvent, PartyDocument, PixEndToEndId, Reported, ResourceKind, ResourceRef,
    SettlementStatus, Unmapped, UnrecognizedData,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::PROVIDER;
use crate::wire::{self, AccountType, CustomerStatus, TransferStatus, WireAccount};

/// What a payload is, from its registration first and its own `eventType` second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PixReceived,
    PixPaymentUpdated,
    PixRefunded,
    PixRefundPaymentUpdated,
    ChargePaid,
    WhitelabelApproved,
    WhitelabelRejected,
    TransferCredited,
    TransferDebited,
    AccountStatus,
    Infraction,
}

fn kind_of_registration(event_type: &str) -> Option<Kind> {
    let kind = match event_type {
        "PIX_RECEIVED" => Kind::PixReceived,
        "PIX_PAYMENT_UPDATED" => Kind::PixPaymentUpdated,
        "PIX_REFUNDED" => Kind::PixRefunded,
        "PIX_REFUND_PAYMENT_UPDATED" => Kind::PixRefundPaymentUpdated,
        "CHARGE_PAID" => Kind::ChargePaid,
        "WHITELABEL_CUSTOMER_APPROVED" => Kind::WhitelabelApproved,
        "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED" => Kind::WhitelabelRejected,
        "TRANSFER_INTERNAL_CREDITED" => Kind::TransferCredited,
        "TRANSFER_INTERNAL_DEBITED" => Kind::TransferDebited,
        "ACCOUNT_STATUS_UPDATED" => Kind::AccountStatus,
        "INFRACTION_NOTIFICATION_CREATED" => Kind::Infraction,
        _ => return None,
    };
    Some(kind)
}

fn kind_of_body(event_type: &str) -> Option<Kind> {
    let kind = match event_type {
        "PIX_RECEIVED" => Kind::PixReceived,
        "PIX_PAYMENT_EFFECTIVE" | "PIX_PAYMENT_ERROR" => Kind::PixPaymentUpdated,
        "PIX_REFUNDED" => Kind::PixRefunded,
        "PIX_REFUND_PAYMENT_EFFECTIVE" | "PIX_REFUND_PAYMENT_ERROR" => {
            Kind::PixRefundPaymentUpdated
        }
        "CHARGE_PAID" | "CHARGE_PAID_V2" => Kind::ChargePaid,
        "TRANSFER_INTERNAL_CREDITED" => Kind::TransferCredited,
        "TRANSFER_INTERNAL_DEBITED" => Kind::TransferDebited,
        "ACCOUNT_STATUS_UPDATED" => Kind::AccountStatus,
        _ => return None,
    };
    Some(kind)
}

/// Why a recognized event could not be mapped; it is then kept as `delbank.unrecognized`.
struct Unmappable(String);

type Mapped = Result<NormalizedEvent, Unmappable>;

/// Normalizes one body received at a registration of `registered` (a Delbank event type).
pub(crate) fn normalize_body(
    registered: Option<&str>,
    body: &[u8],
) -> Result<NormalizedEvent, NormalizeError> {
    let probe: wire::WebhookProbe = serde_json::from_slice(body)
        .map_err(|_| NormalizeError::new("body is not a json object"))?;
    let body_type = probe.event_type.as_deref().map(str::trim);
    let provider_type = body_type.or(registered).unwrap_or("UNSPECIFIED").to_owned();
    let kind = registered
        .and_then(kind_of_registration)
        .or_else(|| body_type.and_then(kind_of_body));
    let mapped = match kind {
        Some(kind) => map_kind(kind, &provider_type, body),
        None => Err(Unmappable("event type not recognized".to_owned())),
    };
    match mapped {
        Ok(event) => Ok(event),
        Err(Unmappable(reason)) => unrecognized(registered, &provider_type, &reason, body),
    }
}

fn map_kind(kind: Kind, provider_type: &str, body: &[u8]) -> Mapped {
    match kind {
        Kind::PixReceived => pix::received(provider_type, parse(body)?),
        Kind::PixPaymentUpdated => pix::payment("PIX_PAYMENT_UPDATED", provider_type, parse(body)?),
        Kind::PixRefundPaymentUpdated => {
            pix::payment("PIX_REFUND_PAYMENT_UPDATED", provider_type, parse(body)?)
        }
        Kind::PixRefunded => pix::refunded(provider_type, parse(body)?),
        Kind::ChargePaid => charge::paid(provider_type, parse(body)?),
        Kind::WhitelabelApproved => account::onboarding(true, provider_type, parse(body)?),
        Kind::WhitelabelRejected => account::onboarding(false, provider_type, parse(body)?),
        Kind::TransferCredited => account::internal_transfer(true, provider_type, parse(body)?),
        Kind::TransferDebited => account::internal_transfer(false, provider_type, parse(body)?),
        Kind::AccountStatus => account::status(provider_type, parse(body)?),
        Kind::Infraction => pix::infraction(provider_type, parse(body)?),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Unmappable> {
    serde_json::from_slice(body).map_err(|error| {
        Unmappable(format!(
            "unexpected shape at line {} column {}",
            error.line(),
            error.column()
        ))
    })
}

fn need<T>(value: Option<T>, field: &str) -> Result<T, Unmappable> {
    value.ok_or_else(|| Unmappable(format!("missing {field}")))
}

fn dedup(parts: &[&str]) -> Result<DedupKey, Unmappable> {
    DedupKey::parse(&parts.join(":")).map_err(|error| Unmappable(error.to_string()))
}

fn hash_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A party from Delbank's account object, provider-neutral.
fn party(account: Option<WireAccount>) -> Option<EventParty> {
    let account = account?;
    let holder = account.holder.unwrap_or_default();
    let participant = account.participant.unwrap_or_default();
    Some(EventParty {
        account: account.number,
        account_type: account.account_type.map(account_kind),
        branch: account.branch,
        document: holder.document.as_deref().map(PartyDocument::from_sent),
        institution: participant.name,
        ispb: participant.ispb,
        name: holder.name,
    })
}

/// The kind of an account; one Delbank adds later is kept, lowercased.
fn account_kind(kind: AccountType) -> Reported<AccountKind> {
    let known = match kind {
        AccountType::Current => AccountKind::Current,
        AccountType::Payment => AccountKind::Payment,
        AccountType::Saving => AccountKind::Saving,
        AccountType::Salary => AccountKind::Salary,
        AccountType::Unknown(text) => return Reported::Other(text.to_ascii_lowercase()),
    };
    Reported::Known(known)
}

/// The status of a Pix, a refund or a transfer; an unknown one is kept as sent.
fn settlement(status: &TransferStatus) -> Reported<SettlementStatus> {
    let known = match status {
        TransferStatus::PixProcessing => SettlementStatus::PixProcessing,
        TransferStatus::PixEffective => SettlementStatus::PixEffective,
        TransferStatus::PixError => SettlementStatus::PixError,
        TransferStatus::Processing => SettlementStatus::Processing,
        TransferStatus::Effective => SettlementStatus::Effective,
        TransferStatus::Error => SettlementStatus::Error,
        TransferStatus::Unknown(text) => return Reported::Other(text.clone()),
    };
    Reported::Known(known)
}

/// The status of an account; an unknown one is kept, lowercased.
fn account_state(status: &CustomerStatus) -> Reported<AccountState> {
    let known = match status {
        CustomerStatus::PendingDocumentation => AccountState::PendingDocumentation,
        CustomerStatus::PendingAnalysis => AccountState::PendingAnalysis,
        CustomerStatus::Approved => AccountState::Approved,
        CustomerStatus::Active => AccountState::Active,
        CustomerStatus::DocumentationRejected => AccountState::DocumentationRejected,
        CustomerStatus::DocumentationDenied => AccountState::DocumentationDenied,
        CustomerStatus::Rejected => AccountState::Rejected,
        CustomerStatus::Blocked => AccountState::Blocked,
        CustomerStatus::Closed => AccountState::Closed,
        CustomerStatus::Unknown(text) => return Reported::Other(text.to_ascii_lowercase()),
    };
    Reported::Known(known)
}

/// When the event happened: its own timestamp, else the end-to-end id's minute, else unknown
/// (`None`: the gateway uses the time it received the event, and says so).
fn occurred(time: Option<DateTime<Utc>>, end_to_end_id: Option<&str>) -> Option<DateTime<Utc>> {
    time.or_else(|| {
        end_to_end_id
            .and_then(|id| PixEndToEndId::parse(id).ok())
            .map(|id| id.timestamp().and_utc())
    })
}

fn event(
    event_type: EventType,
    provider_type: &str,
    dedup_key: DedupKey,
    resource: ResourceRef,
    occurred_at: Option<DateTime<Utc>>,
    data: EventData,
) -> NormalizedEvent {
    NormalizedEvent {
        event_type,
        provider_event_type: provider_type.to_owned(),
        dedup_key,
        resource,
        occurred_at,
        data,
    }
}

/// A verified body no rule maps: kept as `delbank.unrecognized`, keyed by its bytes.
fn unrecognized(
    registered: Option<&str>,
    provider_type: &str,
    reason: &str,
    body: &[u8],
) -> Result<NormalizedEvent, NormalizeError> {
    let hash = hash_hex(body);
    let dedup_key = DedupKey::parse(&format!("unrecognized:{hash}"))
        .map_err(|error| NormalizeError::new(error.to_string()))?;
    let data = UnrecognizedData {
        unmapped: Some(Unmapped {
            reason: reason.to_owned(),
            registered_event_type: registered.map(str::to_owned),
        }),
    };
    Ok(event(
        EventType::Unrecognized(PROVIDER),
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Other,
            id: format!("body-{}", hash.get(..24).unwrap_or_default()),
            correlation_id: None,
        },
        None,
        EventData::Unrecognized(data),
    ))
}
