//! Delbank's inbound webhooks: authentication ([`DelbankWebhooks::verify`]), normalization into the
//! gateway's events ([`DelbankWebhooks::normalize`]) and self-registration ([`Registrar`]).
//!
//! # One URL per registration
//! Delbank registers one URL per event type, and several payloads carry no `eventType` (CHARGE_PAID
//! v1, WHITELABEL_*, INFRACTION_NOTIFICATION_CREATED) or a different one (PIX_PAYMENT_UPDATED
//! delivers `PIX_PAYMENT_EFFECTIVE`). So the path after `/webhooks/delbank` names the registration:
//! - registrations the gateway makes are at `/{slug}-{random}`, where the slug is the event type in
//!   lowercase with `-` (`/pix-received-3f2a9c1d7b4e`): the path alone tells `normalize` the event
//!   type, deterministically, without any lookup;
//! - registrations made by hand in Delbank's portal are declared in the configuration with their
//!   path segment and event type, which take precedence over the slug rule.
//!
//! # Authentication
//! No signature exists: Delbank sends back the credential given at registration, per scheme
//! (`Authorization: Basic …`, `Authorization: Bearer …`, or a custom `Name: value` header). The
//! credentials of a path are the configured ones plus those the gateway stored at registration or
//! rotation (through the [`CredentialStore`], each with its `scheme`, `header` and `event_type`
//! attributes); a rotated-out one is accepted until its `not_after`. Comparisons are constant time,
//! and a BASIC or BEARER value sent without its scheme prefix is accepted too.
//!
//! # Dedup keys
//! From the natural keys, never from the random path part (a hand-made and a gateway-made
//! registration for the same type yield the same key): `PIX_RECEIVED:{endToEndId}`,
//! `PIX_PAYMENT_UPDATED:{endToEndId or idempotencyKey}:{status}`, `CHARGE_PAID:{correlationId}:{nsu}`,
//! `{WHITELABEL type}:{sha256(document)}:{status}`, ...; an unrecognized body is keyed by the SHA-256
//! of its bytes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use providers::webhook::constant_time_eq;
use providers::{
    CredentialStore, DedupKey, Document, EventType, InboundRequest, Money, NormalizeError,
    NormalizedEvent, PixEndToEndId, ProviderError, ProviderName, RegisteredWebhook, ResourceKind,
    ResourceRef, VerifyError, WebhookCredential, WebhookRegistration, WebhookSource,
};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::client::{Client, NewWebhook};
use crate::config::{AuthScheme, Config};
use crate::wire::{self, TransferStatus, WireAccount};
use crate::{PROVIDER, PROVIDER_NAME};

/// Every event type the gateway registers at Delbank.
pub const EVENT_TYPES: [&str; 11] = [
    "CHARGE_PAID",
    "PIX_RECEIVED",
    "PIX_PAYMENT_UPDATED",
    "PIX_REFUNDED",
    "PIX_REFUND_PAYMENT_UPDATED",
    "TRANSFER_INTERNAL_CREDITED",
    "TRANSFER_INTERNAL_DEBITED",
    "WHITELABEL_CUSTOMER_APPROVED",
    "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
    "ACCOUNT_STATUS_UPDATED",
    "INFRACTION_NOTIFICATION_CREATED",
];

/// The header of HEADER-scheme registrations the gateway makes.
pub const HEADER_NAME: &str = "x-paygate-webhook-token";

/// The login of BASIC-scheme registrations the gateway makes.
const BASIC_LOGIN: &str = "paygate";

/// How long the previous credential of a registration stays valid when `register` is called again
/// (it replaces every credential).
const REREGISTRATION_GRACE: Duration = Duration::from_secs(600);

/// Attribute names stored with runtime credentials.
const ATTRIBUTE_SCHEME: &str = "scheme";
const ATTRIBUTE_HEADER: &str = "header";
const ATTRIBUTE_EVENT_TYPE: &str = "event_type";

/// The webhook source served at `/webhooks/delbank/{registration}`.
pub struct DelbankWebhooks {
    manual: Vec<ManualCredential>,
    credentials: Arc<dyn CredentialStore>,
}

/// A registration declared in the configuration.
struct ManualCredential {
    path: String,
    event_type: String,
    check: Check,
}

/// One credential to check a request against.
struct Check {
    scheme: AuthScheme,
    header: Option<String>,
    secret: WebhookCredential,
}

impl DelbankWebhooks {
    /// A source accepting the registrations of `config` and those in `credentials`.
    pub fn new(config: &Config, credentials: Arc<dyn CredentialStore>) -> DelbankWebhooks {
        let manual = config
            .webhooks
            .iter()
            .map(|registration| ManualCredential {
                path: registration.inbound_path(),
                event_type: registration.event_type.trim().to_owned(),
                check: Check {
                    scheme: registration.scheme,
                    header: registration.header.clone(),
                    secret: WebhookCredential::new(registration.credential.expose_secret()),
                },
            })
            .collect();
        DelbankWebhooks {
            manual,
            credentials,
        }
    }

    /// The Delbank event type registered at `path`: the configured one, else the path's slug.
    pub fn registered_event_type(&self, path: &str) -> Option<String> {
        if let Some(manual) = self.manual.iter().find(|manual| manual.path == path) {
            return Some(manual.event_type.clone());
        }
        event_type_of_path(path)
    }
}

#[async_trait]
impl WebhookSource for DelbankWebhooks {
    fn provider(&self) -> ProviderName {
        PROVIDER
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let manual: Vec<&Check> = self
            .manual
            .iter()
            .filter(|manual| manual.path == request.path)
            .map(|manual| &manual.check)
            .collect();
        let stored = match self.credentials.credentials(&PROVIDER, request.path).await {
            Ok(stored) => stored,
            // A configured credential can still be checked without the store.
            Err(error) if manual.is_empty() => return Err(VerifyError::Unavailable(error.0)),
            Err(_) => Vec::new(),
        };
        if manual.is_empty() && stored.is_empty() {
            return Err(VerifyError::UnknownRegistration(request.path.to_owned()));
        }
        let stored_checks: Vec<Check> = stored
            .into_iter()
            .filter(|credential| credential.is_valid_at(now))
            .filter_map(|credential| {
                let scheme = AuthScheme::parse(credential.attributes.get(ATTRIBUTE_SCHEME)?)?;
                Some(Check {
                    scheme,
                    header: credential.attributes.get(ATTRIBUTE_HEADER).cloned(),
                    secret: credential.secret,
                })
            })
            .collect();
        check_credentials(
            request.headers,
            manual.into_iter().chain(stored_checks.iter()),
        )
    }

    fn normalize(
        &self,
        request: &InboundRequest<'_>,
    ) -> Result<Vec<NormalizedEvent>, NormalizeError> {
        let registered = self.registered_event_type(request.path);
        normalize_body(registered.as_deref(), request.body).map(|event| vec![event])
    }
}

/// Accepts the request when any valid credential matches; constant time per comparison.
fn check_credentials<'a>(
    headers: &http::HeaderMap,
    checks: impl Iterator<Item = &'a Check>,
) -> Result<(), VerifyError> {
    let mut presented_any = false;
    let mut matched = false;
    for check in checks {
        let header_name = match check.scheme {
            AuthScheme::Basic | AuthScheme::Bearer => http::header::AUTHORIZATION.as_str(),
            AuthScheme::Header => match &check.header {
                Some(name) => name.trim(),
                None => continue,
            },
        };
        let Some(value) = headers.get(header_name) else {
            continue;
        };
        presented_any = true;
        let presented = String::from_utf8_lossy(value.as_bytes());
        let expected = check.secret.expose_secret();
        let ok = match check.scheme {
            AuthScheme::Basic => {
                constant_time_eq(without_prefix(&presented, "basic").as_bytes(), {
                    without_prefix(expected, "basic").as_bytes()
                })
            }
            AuthScheme::Bearer => {
                constant_time_eq(without_prefix(&presented, "bearer").as_bytes(), {
                    without_prefix(expected, "bearer").as_bytes()
                })
            }
            AuthScheme::Header => constant_time_eq(
                header_value(&presented, header_name).as_bytes(),
                header_value(expected, header_name).as_bytes(),
            ),
        };
        matched |= ok;
    }
    match (matched, presented_any) {
        (true, _) => Ok(()),
        (false, true) => Err(VerifyError::InvalidSignature),
        (false, false) => Err(VerifyError::MissingCredential),
    }
}

/// `Basic abc` → `abc`; `abc` → `abc` (a value sent without its scheme is tolerated).
fn without_prefix<'a>(value: &'a str, scheme: &str) -> &'a str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(scheme) => rest.trim(),
        _ => value,
    }
}

/// `x-key: abc` → `abc` when the name is the header's own; `abc` → `abc`.
fn header_value<'a>(value: &'a str, header_name: &str) -> &'a str {
    let value = value.trim();
    match value.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case(header_name) => rest.trim(),
        _ => value,
    }
}

/// `PIX_RECEIVED` → `pix-received`.
pub fn slug(event_type: &str) -> String {
    event_type.to_ascii_lowercase().replace('_', "-")
}

/// The event type a gateway-made path encodes: `/pix-received-3f2a9c1d7b4e` → `PIX_RECEIVED`.
pub fn event_type_of_path(path: &str) -> Option<String> {
    let segment = path.trim_start_matches('/');
    let (slug, random) = segment.rsplit_once('-')?;
    if slug.is_empty() || random.is_empty() || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(slug.to_ascii_uppercase().replace('-', "_"))
}

// ---------------------------------------------------------------------------------------------
// Normalization.

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
        Kind::PixReceived => pix_received(provider_type, parse(body)?),
        Kind::PixPaymentUpdated => pix_payment("PIX_PAYMENT_UPDATED", provider_type, parse(body)?),
        Kind::PixRefundPaymentUpdated => {
            pix_payment("PIX_REFUND_PAYMENT_UPDATED", provider_type, parse(body)?)
        }
        Kind::PixRefunded => pix_refunded(provider_type, parse(body)?),
        Kind::ChargePaid => charge_paid(provider_type, parse(body)?),
        Kind::WhitelabelApproved => whitelabel(true, provider_type, parse(body)?),
        Kind::WhitelabelRejected => whitelabel(false, provider_type, parse(body)?),
        Kind::TransferCredited => internal_transfer(true, provider_type, parse(body)?),
        Kind::TransferDebited => internal_transfer(false, provider_type, parse(body)?),
        Kind::AccountStatus => account_status(provider_type, parse(body)?),
        Kind::Infraction => infraction(provider_type, parse(body)?),
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

fn money(amount: Money) -> Value {
    json!({"amount": amount.to_minor_units_string(), "currency": amount.currency().code()})
}

fn hash_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A document as received: full digits when valid, the masked text otherwise.
fn document_json(document: Option<&str>) -> Value {
    match document {
        None => Value::Null,
        Some(text) => match Document::parse(text) {
            Ok(document) => json!({
                "value": document.expose(),
                "kind": document.kind().as_str(),
                "masked": false,
            }),
            Err(_) => json!({"value": text, "kind": Value::Null, "masked": true}),
        },
    }
}

/// A party from Delbank's account object, provider-neutral.
fn party(account: Option<&WireAccount>) -> Value {
    let Some(account) = account else {
        return Value::Null;
    };
    let holder = account.holder.as_ref();
    let participant = account.participant.as_ref();
    json!({
        "name": holder.and_then(|holder| holder.name.clone()),
        "document": document_json(holder.and_then(|holder| holder.document.as_deref())),
        "ispb": participant.and_then(|participant| participant.ispb.clone()),
        "institution": participant.and_then(|participant| participant.name.clone()),
        "branch": account.branch,
        "account": account.number,
        "account_type": account.account_type.as_ref().map(|kind| kind.as_str().to_ascii_lowercase()),
    })
}

/// When the event happened: its own timestamp, else the end-to-end id's minute, else the Unix
/// epoch (normalization has no clock; the gateway records `received_at` separately).
fn occurred(time: Option<DateTime<Utc>>, end_to_end_id: Option<&str>) -> DateTime<Utc> {
    time.or_else(|| {
        end_to_end_id
            .and_then(|id| PixEndToEndId::parse(id).ok())
            .map(|id| id.timestamp().and_utc())
    })
    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn event(
    event_type: EventType,
    provider_type: &str,
    dedup_key: DedupKey,
    resource: ResourceRef,
    occurred_at: DateTime<Utc>,
    data: Value,
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

fn pix_received(provider_type: &str, payload: wire::PixReceivedPayload) -> Mapped {
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
    let payee = proof.payee.as_ref().or(proof.beneficiary.as_ref());
    Ok(event(
        EventType::PixReceived,
        provider_type,
        dedup(&["PIX_RECEIVED", &end_to_end_id])?,
        ResourceRef {
            kind: ResourceKind::Pix,
            id: end_to_end_id.clone(),
            correlation_id: payload.correlation_id.clone(),
        },
        occurred_at,
        json!({
            "end_to_end_id": end_to_end_id,
            "amount": money(amount),
            "correlation_id": payload.correlation_id,
            "received_at": occurred_at,
            "status": proof.status.as_ref().map(TransferStatus::as_str),
            "payer": party(proof.payer.as_ref()),
            "payee": party(payee),
        }),
    ))
}

fn pix_payment(
    registration: &str,
    provider_type: &str,
    payload: wire::PixPaymentPayload,
) -> Mapped {
    let status = need(payload.status.clone(), "status")?;
    let event_type = match (&status, provider_type) {
        (TransferStatus::PixEffective | TransferStatus::Effective, _) => {
            EventType::PixTransferCompleted
        }
        (TransferStatus::PixError | TransferStatus::Error, _) => EventType::PixTransferFailed,
        (TransferStatus::PixProcessing | TransferStatus::Processing, _) => {
            return Err(Unmappable(
                "an in-progress status is not an outcome".to_owned(),
            ));
        }
        (TransferStatus::Unknown(other), _) => {
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
    let kind = match is_refund {
        true => ResourceKind::PixRefund,
        false => ResourceKind::Pix,
    };
    let amount = need(payload.amount, "amount")?;
    let failure = payload
        .error
        .as_ref()
        .map(|error| json!({"code": error.code, "description": error.description}));
    Ok(event(
        event_type,
        provider_type,
        dedup(&[registration, &natural_key, status.as_str()])?,
        ResourceRef {
            kind,
            id: natural_key,
            correlation_id: payload.idempotency_key.clone(),
        },
        occurred(
            payload.finished_at.or(payload.created_at),
            payload.end_to_end_id.as_deref(),
        ),
        json!({
            "end_to_end_id": payload.end_to_end_id,
            "idempotency_key": payload.idempotency_key,
            "operation": if is_refund { "refund" } else { "payment" },
            "original_end_to_end_id": payload.original_end_to_end_id,
            "amount": money(amount),
            "status": status.as_str(),
            "failure": failure,
            "payer": party(payload.payer.as_ref()),
            "beneficiary": party(payload.beneficiary.as_ref()),
        }),
    ))
}

fn pix_refunded(provider_type: &str, payload: wire::PixRefundedPayload) -> Mapped {
    let proof = payload.proof.unwrap_or_default();
    let end_to_end_id = need(payload.end_to_end_id.or(proof.end_to_end_id), "endToEndId")?;
    let original = payload
        .original_end_to_end_id
        .or(proof.original_end_to_end_id);
    let amount = need(payload.amount.or(proof.amount), "amount")?;
    Ok(event(
        EventType::PixRefundReceived,
        provider_type,
        dedup(&["PIX_REFUNDED", &end_to_end_id])?,
        ResourceRef {
            kind: ResourceKind::PixRefund,
            id: end_to_end_id.clone(),
            correlation_id: original.clone(),
        },
        occurred(
            payload.created_at.or(proof.finished_at),
            Some(&end_to_end_id),
        ),
        json!({
            "end_to_end_id": end_to_end_id,
            "original_end_to_end_id": original,
            "amount": money(amount),
            "refund_code": payload.refund_code,
            "reason": payload.reason_refund,
            "account": payload.bank_account,
            "payer": party(proof.payer.as_ref()),
            "payee": party(proof.beneficiary.as_ref()),
        }),
    ))
}

fn charge_paid(provider_type: &str, payload: wire::ChargePaidPayload) -> Mapped {
    let correlation_id = need(payload.correlation_id.clone(), "correlationId")?;
    let amount = need(payload.amount, "amount")?;
    let is_v2 = payload.event_type.as_deref() == Some("CHARGE_PAID_V2");
    let payment = need(
        payload
            .nsu
            .clone()
            .or(payload.reference_id.clone())
            .or(payload.our_number.clone())
            .or(payload.digitable_line.clone()),
        "nsu, referenceId or ourNumber",
    )?;
    let proof = payload.proof.unwrap_or_default();
    let end_to_end_id = proof
        .end_to_end_id
        .clone()
        .or(match payload.source.as_deref() {
            Some("SPI") => payload.reference_id.clone(),
            _ => None,
        });
    let payer = payload.payer.as_ref();
    Ok(event(
        EventType::ChargePaid,
        provider_type,
        dedup(&["CHARGE_PAID", &correlation_id, &payment])?,
        ResourceRef {
            kind: ResourceKind::Charge,
            id: correlation_id.clone(),
            correlation_id: Some(correlation_id.clone()),
        },
        occurred(
            payload.created_at.or(payload.payment_date),
            end_to_end_id.as_deref(),
        ),
        json!({
            "correlation_id": correlation_id,
            "amount": money(amount),
            "version": if is_v2 { 2 } else { 1 },
            "source": payload.source,
            "payment_id": payment,
            "end_to_end_id": end_to_end_id,
            "our_number": payload.our_number,
            "digitable_line": payload.digitable_line,
            "due_date": payload.due_date.map(|due| due.date_naive()),
            "payer": {
                "name": payer.and_then(|payer| payer.name.clone()),
                "document": document_json(payer.and_then(|payer| payer.document.as_deref())),
                "account": party(proof.payer.as_ref()),
            },
            "payee": party(proof.payee.as_ref()),
        }),
    ))
}

fn whitelabel(approved: bool, provider_type: &str, payload: wire::WhitelabelPayload) -> Mapped {
    let document = need(payload.document, "document")?;
    let (event_type, status, registration) = match approved {
        true => (
            EventType::AccountApproved,
            "approved",
            "WHITELABEL_CUSTOMER_APPROVED",
        ),
        false => (
            EventType::AccountDocumentationRejected,
            "documentation_rejected",
            "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
        ),
    };
    let document_hash = hash_hex(document.as_bytes());
    let holder_ref = format!("holder-{}", document_hash.get(..24).unwrap_or_default());
    Ok(event(
        event_type,
        provider_type,
        dedup(&[registration, &document_hash, status])?,
        ResourceRef {
            kind: ResourceKind::Account,
            id: payload.bank_account_number.clone().unwrap_or(holder_ref),
            correlation_id: None,
        },
        DateTime::<Utc>::UNIX_EPOCH,
        json!({
            "status": status,
            "holder": {"name": payload.name, "document": document_json(Some(&document))},
            "account": payload.bank_account_number,
        }),
    ))
}

fn internal_transfer(
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
    Ok(event(
        event_type,
        provider_type,
        dedup(&[registration, &id])?,
        ResourceRef {
            kind: ResourceKind::Transfer,
            id: id.clone(),
            correlation_id: payload.external_id.clone(),
        },
        occurred(payload.created_at, None),
        json!({
            "transfer_id": id,
            "external_id": payload.external_id,
            "amount": money(amount),
            "status": payload.status.as_ref().map(TransferStatus::as_str),
            "payer": party(payload.payer.as_ref()),
            "beneficiary": party(payload.beneficiary.as_ref()),
        }),
    ))
}

fn account_status(provider_type: &str, payload: wire::AccountStatusPayload) -> Mapped {
    let account = need(payload.bank_account, "bankAccount")?;
    let status = need(payload.status, "status")?;
    let updated_at = payload.updated_at.clone().unwrap_or_default();
    Ok(event(
        EventType::AccountStatusUpdated,
        provider_type,
        dedup(&[
            "ACCOUNT_STATUS_UPDATED",
            &account,
            status.as_str(),
            &updated_at,
        ])?,
        ResourceRef {
            kind: ResourceKind::Account,
            id: account.clone(),
            correlation_id: None,
        },
        occurred(
            payload
                .updated_at
                .as_deref()
                .and_then(wire::parse_lenient_time),
            None,
        ),
        json!({"account": account, "status": status.as_str().to_ascii_lowercase()}),
    ))
}

fn infraction(provider_type: &str, payload: wire::InfractionPayload) -> Mapped {
    let id = need(payload.id, "id")?;
    Ok(event(
        EventType::PixInfractionCreated,
        provider_type,
        dedup(&["INFRACTION_NOTIFICATION_CREATED", &id])?,
        ResourceRef {
            kind: ResourceKind::Infraction,
            id: id.clone(),
            correlation_id: payload.end_to_end_id.clone(),
        },
        occurred(payload.created_at, payload.end_to_end_id.as_deref()),
        json!({
            "infraction_id": id,
            "end_to_end_id": payload.end_to_end_id,
            "reason": payload.reason,
            "type": payload.infraction_type,
            "status": payload.status,
            "debited_ispb": payload.debited_participant.and_then(|participant| participant.ispb),
            "credited_ispb": payload.credited_participant.and_then(|participant| participant.ispb),
        }),
    ))
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
    let mut data = Map::new();
    data.insert("reason".to_owned(), Value::String(reason.to_owned()));
    data.insert(
        "registered_event_type".to_owned(),
        registered.map_or(Value::Null, |text| Value::String(text.to_owned())),
    );
    Ok(event(
        EventType::Unrecognized(PROVIDER),
        provider_type,
        dedup_key,
        ResourceRef {
            kind: ResourceKind::Other,
            id: format!("body-{}", hash.get(..24).unwrap_or_default()),
            correlation_id: None,
        },
        DateTime::<Utc>::UNIX_EPOCH,
        Value::Object(data),
    ))
}

// ---------------------------------------------------------------------------------------------
// Self-registration.

/// Registers and rotates the gateway's endpoints at Delbank, one per event type.
pub struct Registrar {
    client: Client,
    scheme: AuthScheme,
}

impl Registrar {
    /// Registrations through `client`, authenticated with `scheme`.
    pub fn new(client: Client, scheme: AuthScheme) -> Registrar {
        Registrar { client, scheme }
    }
}

/// A fresh credential: what Delbank is given and what the gateway compares.
struct Generated {
    authorization: String,
    inbound: String,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn generate(scheme: AuthScheme) -> Generated {
    let token = random_token();
    match scheme {
        AuthScheme::Basic => {
            let encoded = STANDARD.encode(format!("{BASIC_LOGIN}:{token}"));
            Generated {
                authorization: encoded.clone(),
                inbound: encoded,
            }
        }
        AuthScheme::Bearer => Generated {
            authorization: token.clone(),
            inbound: token,
        },
        AuthScheme::Header => Generated {
            authorization: format!("{HEADER_NAME}: {token}"),
            inbound: token,
        },
    }
}

fn attributes(scheme: AuthScheme, event_type: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert(ATTRIBUTE_SCHEME.to_owned(), scheme.as_str().to_owned());
    attributes.insert(ATTRIBUTE_EVENT_TYPE.to_owned(), event_type.to_owned());
    if scheme == AuthScheme::Header {
        attributes.insert(ATTRIBUTE_HEADER.to_owned(), HEADER_NAME.to_owned());
    }
    attributes
}

/// The path after `/webhooks/delbank` of a registered URL.
fn path_of_url(url: &str) -> Option<String> {
    let marker = format!("/webhooks/{PROVIDER_NAME}/");
    let start = url.find(&marker)?;
    let path = url.get(start + marker.len() - 1..)?;
    Some(path.to_owned())
}

fn random_suffix() -> String {
    let bytes: [u8; 6] = rand::random();
    hex::encode(bytes)
}

#[async_trait]
impl WebhookRegistration for Registrar {
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError> {
        let base = format!(
            "{}/webhooks/{PROVIDER_NAME}/",
            public_base_url.trim_end_matches('/')
        );
        let existing = self.client.list_webhooks().await?;
        let mut registered = Vec::with_capacity(EVENT_TYPES.len());
        for event_type in EVENT_TYPES {
            let prefix = format!("{base}{}-", slug(event_type));
            let reusable = existing.iter().find(|webhook| {
                webhook.event_type == event_type && webhook.url.starts_with(&prefix)
            });
            let generated = generate(self.scheme);
            let (subscription, previous_expires) = match reusable {
                Some(webhook) => {
                    let request = NewWebhook {
                        event_type: event_type.to_owned(),
                        url: webhook.url.clone(),
                        scheme: self.scheme,
                        authorization: WebhookCredential::new(generated.authorization),
                    };
                    let updated = self.client.update_webhook(&webhook.id, &request).await?;
                    let grace = chrono::Duration::from_std(REREGISTRATION_GRACE)
                        .unwrap_or_else(|_| chrono::Duration::zero());
                    (updated, Some(Utc::now() + grace))
                }
                None => {
                    let request = NewWebhook {
                        event_type: event_type.to_owned(),
                        url: format!("{prefix}{}", random_suffix()),
                        scheme: self.scheme,
                        authorization: WebhookCredential::new(generated.authorization),
                    };
                    (self.client.create_webhook(&request).await?, None)
                }
            };
            let path =
                path_of_url(&subscription.url).ok_or_else(|| ProviderError::InvalidResponse {
                    message: "registered webhook url has no /webhooks/delbank/ path".to_owned(),
                })?;
            registered.push(RegisteredWebhook {
                registration_id: subscription.id,
                path,
                url: subscription.url,
                event_types: vec![event_type.to_owned()],
                secret: WebhookCredential::new(generated.inbound),
                attributes: attributes(self.scheme, event_type),
                previous_secret_expires_at: previous_expires,
            });
        }
        Ok(registered)
    }

    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError> {
        let current = self.client.get_webhook(registration_id).await?;
        let path = path_of_url(&current.url).ok_or_else(|| ProviderError::InvalidResponse {
            message: "webhook url has no /webhooks/delbank/ path".to_owned(),
        })?;
        let generated = generate(self.scheme);
        let request = NewWebhook {
            event_type: current.event_type.clone(),
            url: current.url.clone(),
            scheme: self.scheme,
            authorization: WebhookCredential::new(generated.authorization),
        };
        let updated = self
            .client
            .update_webhook(registration_id, &request)
            .await?;
        let grace = chrono::Duration::from_std(grace).unwrap_or_else(|_| chrono::Duration::zero());
        Ok(RegisteredWebhook {
            registration_id: updated.id,
            path,
            url: updated.url,
            event_types: vec![updated.event_type.clone()],
            secret: WebhookCredential::new(generated.inbound),
            attributes: attributes(self.scheme, &updated.event_type),
            previous_secret_expires_at: Some(Utc::now() + grace),
        })
    }
}

#[cfg(test)]
mod tests;
