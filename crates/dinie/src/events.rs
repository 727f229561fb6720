//! Normalization of Dinie's webhook events into the gateway's taxonomy.
//!
//! The body is parsed from its bytes in two steps: the envelope (`type`, `timestamp`, and the SDK's
//! extra fields, ignored), keeping `data` as raw JSON; then `data` with the struct of its family,
//! so amounts are read exactly, and converted into the family's [`EventData`]. Every catalogued
//! event maps to one gateway type:
//!
//! | Dinie | Gateway | Note |
//! |---|---|---|
//! | `customer.{created,under_review,kyc_updated,active}` | same | [D] |
//! | `customer.denied` | `customer.denied` | [S] only |
//! | `credit_offer.{available,expired}` | same | [D] |
//! | `loan.{created,…,error}` (10 events) | same | [D] |
//! | `loan.signature_received` | `loan.awaiting_signatures` | [S] only: a signature arrived, more are awaited |
//! | `loan.processing` | `loan.disbursing` | [S] only: after the signatures, CCB issued, disbursement under way |
//!
//! Any other type is `dinie.unrecognized`, stored with its raw body, never dropped. The dedup key is
//! the `webhook-id` header, the same on every redelivery of an event.
//!
//! Statuses Dinie sends that the gateway does not know are kept as sent ([`Reported::Other`]);
//! times are cut to whole seconds.

use chrono::{DateTime, SubsecRound, Utc};
use providers::{
    CreditOfferData, CustomerData, CustomerStatus, DedupKey, Document, EventData, EventType,
    InboundRequest, KycRequirement, LoanData, LoanPayment, LoanStatus, Money, NormalizeError,
    NormalizedEvent, ProviderName, Reported, ResourceKind, ResourceRef, UnrecognizedData,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::convert;
use crate::wire::{self, Rate, WireTime};

/// The envelope of both variants: `type` and `data` required, the rest optional.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    timestamp: Option<WireTime>,
    #[serde(default)]
    created_at: Option<WireTime>,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The `data` of `customer.*`.
#[derive(Deserialize)]
struct WireCustomer {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    cpf: Option<String>,
    #[serde(default)]
    cnpj: Option<String>,
    #[serde(default)]
    kyc: Option<Vec<wire::KycItem>>,
}

/// The `data` of `credit_offer.*`.
#[derive(Deserialize)]
struct WireOffer {
    id: String,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    approved_amount: Option<Money>,
    #[serde(default)]
    min_amount: Option<Money>,
    #[serde(default, alias = "monthly_interest_rate")]
    interest_rate: Option<Rate>,
    #[serde(default)]
    installments: Option<u32>,
    #[serde(default)]
    max_installments: Option<u32>,
    #[serde(default)]
    valid_until: Option<WireTime>,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
struct WirePayment {
    amount: Money,
    #[serde(default)]
    paid_at: Option<WireTime>,
    #[serde(default)]
    installment_number: Option<u32>,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct WireSigner {
    #[serde(default)]
    signed_at: Option<WireTime>,
}

/// The `data` of `loan.*`.
#[derive(Deserialize)]
struct WireLoan {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    credit_offer_id: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    requested_amount: Option<Money>,
    #[serde(default)]
    net_amount: Option<Money>,
    #[serde(default)]
    principal_amount: Option<Money>,
    #[serde(default, alias = "installment_count")]
    number_of_installments: Option<u32>,
    #[serde(default)]
    ccb_number: Option<String>,
    #[serde(default)]
    signing_url: Option<String>,
    #[serde(default)]
    disbursement_method: Option<String>,
    #[serde(default)]
    payment: Option<WirePayment>,
    #[serde(default)]
    error: Option<WireError>,
    #[serde(default)]
    signer: Option<WireSigner>,
    #[serde(default)]
    signatures_received: Option<u32>,
    #[serde(default)]
    signatures_required: Option<u32>,
}

/// The only field read from the `data` of an unrecognized event.
#[derive(Deserialize)]
struct WireAny {
    #[serde(default)]
    id: Option<String>,
}

/// The gateway type of a Dinie event type, `None` for a type outside the catalogue.
pub(crate) fn gateway_type(dinie_type: &str) -> Option<EventType> {
    let event_type = match dinie_type {
        "customer.created" => EventType::CustomerCreated,
        "customer.under_review" => EventType::CustomerUnderReview,
        "customer.kyc_updated" => EventType::CustomerKycUpdated,
        "customer.active" => EventType::CustomerActive,
        "customer.denied" => EventType::CustomerDenied,
        "credit_offer.available" => EventType::CreditOfferAvailable,
        "credit_offer.expired" => EventType::CreditOfferExpired,
        "loan.created" => EventType::LoanCreated,
        "loan.contract_generated" => EventType::LoanContractGenerated,
        "loan.awaiting_signatures" | "loan.signature_received" => EventType::LoanAwaitingSignatures,
        "loan.signed" => EventType::LoanSigned,
        "loan.disbursing" | "loan.processing" => EventType::LoanDisbursing,
        "loan.active" => EventType::LoanActive,
        "loan.payment_received" => EventType::LoanPaymentReceived,
        "loan.finished" => EventType::LoanFinished,
        "loan.cancelled" => EventType::LoanCancelled,
        "loan.error" => EventType::LoanError,
        _ => return None,
    };
    Some(event_type)
}

fn parse_data<T: DeserializeOwned>(event_type: &str, data: &RawValue) -> Result<T, NormalizeError> {
    serde_json::from_str(data.get()).map_err(|error| {
        NormalizeError::new(format!(
            "{event_type} data is not understood ({:?} at column {})",
            error.classify(),
            error.column()
        ))
    })
}

/// A time cut to whole seconds, as events carry them.
fn whole_seconds(at: WireTime) -> DateTime<Utc> {
    at.0.trunc_subsecs(0)
}

/// Normalizes one verified Dinie webhook into exactly one event.
pub(crate) fn normalize(
    provider: &ProviderName,
    request: &InboundRequest<'_>,
) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let webhook_id =
        header("webhook-id").ok_or_else(|| NormalizeError::new("webhook-id is missing"))?;
    let dedup_key = DedupKey::parse(webhook_id)
        .map_err(|error| NormalizeError::new(format!("webhook-id: {error}")))?;
    let envelope: Envelope<'_> = serde_json::from_slice(request.body).map_err(|error| {
        NormalizeError::new(format!(
            "body is not a Dinie event envelope ({:?} at line {} column {})",
            error.classify(),
            error.line(),
            error.column()
        ))
    })?;
    let header_time = header("webhook-timestamp")
        .and_then(|value| value.parse::<i64>().ok())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    let occurred_at = envelope
        .timestamp
        .or(envelope.created_at)
        .map(|at| at.0)
        .or(header_time)
        .ok_or_else(|| NormalizeError::new("the event has no timestamp"))?;
    let dinie_type = envelope.event_type.as_str();
    let (event_type, resource, data) = match gateway_type(dinie_type) {
        Some(event_type) => {
            let (resource, data) = normalize_data(dinie_type, envelope.data)?;
            (event_type, resource, data)
        }
        None => {
            let (resource, data) = unrecognized(webhook_id, envelope.data);
            (EventType::Unrecognized(provider.clone()), resource, data)
        }
    };
    Ok(vec![NormalizedEvent {
        event_type,
        provider_event_type: envelope.event_type.clone(),
        dedup_key,
        resource,
        occurred_at: Some(occurred_at),
        data,
    }])
}

/// The kind of a resource from its id's prefix.
fn resource_kind_of(id: &str) -> ResourceKind {
    if id.starts_with("cust_") {
        return ResourceKind::Customer;
    }
    if id.starts_with("co_") {
        return ResourceKind::CreditOffer;
    }
    if id.starts_with("ln_") {
        return ResourceKind::Loan;
    }
    ResourceKind::Other
}

/// The data of a catalogued event, by its family (the type's first segment).
fn normalize_data(
    dinie_type: &str,
    raw: &RawValue,
) -> Result<(ResourceRef, EventData), NormalizeError> {
    let family = dinie_type.split('.').next().unwrap_or_default();
    let normalized = match family {
        "customer" => customer(parse_data(dinie_type, raw)?),
        "credit_offer" => credit_offer(parse_data(dinie_type, raw)?),
        _ => loan(parse_data(dinie_type, raw)?),
    };
    Ok(normalized)
}

/// An event outside the catalogue: its resource from its `data`'s `id` when it has one (else
/// the webhook id), and no data (the raw body is stored beside it).
fn unrecognized(webhook_id: &str, raw: &RawValue) -> (ResourceRef, EventData) {
    let any: WireAny = serde_json::from_str(raw.get()).unwrap_or(WireAny { id: None });
    let id = any.id.unwrap_or_else(|| webhook_id.to_owned());
    let resource = ResourceRef {
        kind: resource_kind_of(&id),
        id,
        correlation_id: None,
    };
    (
        resource,
        EventData::Unrecognized(UnrecognizedData::default()),
    )
}

/// The neutral status of a Dinie customer status, or the provider's own text.
fn customer_status(status: String) -> Reported<CustomerStatus> {
    Reported::<wire::CustomerStatus>::parse(status).map(convert::customer_status)
}

/// The neutral status of a Dinie loan status, or the provider's own text.
fn loan_status(status: String) -> Reported<LoanStatus> {
    Reported::<wire::LoanStatus>::parse(status).map(convert::loan_status)
}

fn customer(customer: WireCustomer) -> (ResourceRef, EventData) {
    // A company's CNPJ first; an invalid document is left out, never failed on.
    let document = customer
        .cnpj
        .as_deref()
        .filter(|cnpj| !cnpj.is_empty())
        .or(customer.cpf.as_deref())
        .and_then(|text| Document::parse(text).ok());
    let kyc = customer
        .kyc
        .map(|items| items.into_iter().map(kyc_requirement).collect());
    let resource = ResourceRef {
        kind: ResourceKind::Customer,
        id: customer.id.clone(),
        correlation_id: customer.external_id.clone(),
    };
    let data = CustomerData {
        customer_id: customer.id,
        document,
        external_id: customer.external_id,
        kyc,
        status: customer.status.map(customer_status),
    };
    (resource, EventData::Customer(data))
}

fn kyc_requirement(item: wire::KycItem) -> KycRequirement {
    KycRequirement {
        kind: item.kind,
        status: item.status,
        document_type: item
            .item_type
            .map(|dinie| convert::neutral_document_kind(&dinie).to_owned()),
    }
}

fn credit_offer(offer: WireOffer) -> (ResourceRef, EventData) {
    let resource = ResourceRef {
        kind: ResourceKind::CreditOffer,
        id: offer.id.clone(),
        correlation_id: offer.external_id,
    };
    let data = CreditOfferData {
        approved_amount: offer.approved_amount,
        credit_offer_id: offer.id,
        customer_id: offer.customer_id,
        installments: offer.installments.or(offer.max_installments),
        min_amount: offer.min_amount,
        monthly_interest_rate: offer.interest_rate.map(|rate| rate.0),
        // Dinie's offer statuses are the gateway's: any other is kept as sent.
        status: offer.status.map(Reported::parse),
        valid_until: offer.valid_until.map(whole_seconds),
    };
    (resource, EventData::CreditOffer(data))
}

fn loan(loan: WireLoan) -> (ResourceRef, EventData) {
    let resource = ResourceRef {
        kind: ResourceKind::Loan,
        id: loan.id.clone(),
        correlation_id: None,
    };
    let payment = loan.payment.map(|payment| LoanPayment {
        amount: payment.amount,
        installment_number: payment.installment_number,
        paid_at: payment.paid_at.map(whole_seconds),
    });
    let data = LoanData {
        ccb_number: loan.ccb_number,
        credit_offer_id: loan.credit_offer_id,
        customer_id: loan.customer_id,
        disbursement_method: loan.disbursement_method,
        error_code: loan.error.and_then(|error| error.code),
        installments: loan.number_of_installments,
        loan_id: loan.id,
        net_amount: loan.net_amount,
        payment,
        principal_amount: loan.principal_amount,
        requested_amount: loan.requested_amount,
        signatures_received: loan.signatures_received,
        signatures_required: loan.signatures_required,
        signed_at: loan
            .signer
            .and_then(|signer| signer.signed_at)
            .map(whole_seconds),
        signing_url: loan.signing_url,
        status: loan.status.map(loan_status),
    };
    (resource, EventData::Loan(data))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use http::{HeaderMap, HeaderValue};
    use providers::{EventType, InboundRequest, NormalizedEvent, ProviderName, ResourceKind};
    use serde_json::json;

    use crate::events::normalize;

    const DINIE: ProviderName = ProviderName::from_static("dinie");

    fn check(body: &str) -> NormalizedEvent {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("evt_0123"));
        headers.insert("webhook-timestamp", HeaderValue::from_static("1772625600"));
        let request = InboundRequest {
            path: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let mut events = normalize(&DINIE, &request).unwrap();
        assert_eq!(events.len(), 1);
        let event = events.remove(0);
        // What is stored reads back as the same event, data included.
        let stored = serde_json::to_string(&event).unwrap();
        assert_eq!(
            serde_json::from_str::<NormalizedEvent>(&stored).unwrap(),
            event
        );
        event
    }

    fn brl(amount: &str) -> serde_json::Value {
        json!({"amount": amount, "currency": "BRL"})
    }

    /// A Dinie body, its gateway type, its resource id and the normalized fields to check.
    type Case = (
        String,
        EventType,
        &'static str,
        Vec<(&'static str, serde_json::Value)>,
    );

    /// Every event of the catalogue: its Dinie body, its gateway type, the resource and the
    /// normalized fields that must come out exactly.
    #[test]
    fn every_catalogue_event_normalizes_with_exact_amounts() {
        let customer = r#""id":"cust_1","status":"%S","cpf":"529.982.247-25","cnpj":null,"name":"Maria","email":"m@x.com","phone":"+5511999999999","trading_name":null,"external_id":"user-1","kyc":[{"kind":"document","type":"identity_card_front","description":"RG","message":null,"uploaded_at":null}]"#;
        let cases: Vec<Case> = vec![
            (
                format!(r#"{{"type":"customer.created","timestamp":"2026-03-04T12:00:00Z","data":{{{}}}}}"#, customer.replace("%S", "pending_kyc")),
                EventType::CustomerCreated,
                "cust_1",
                vec![("status", json!("pending_kyc")), ("document", json!("52998224725")), ("external_id", json!("user-1"))],
            ),
            (
                r#"{"type":"customer.under_review","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"under_review","external_id":"user-1"}}"#.into(),
                EventType::CustomerUnderReview,
                "cust_1",
                vec![("status", json!("under_review"))],
            ),
            (
                format!(r#"{{"type":"customer.kyc_updated","timestamp":"2026-03-04T12:00:00Z","data":{{{}}}}}"#, customer.replace("%S", "pending_kyc")),
                EventType::CustomerKycUpdated,
                "cust_1",
                vec![("kyc", json!([{"kind": "document", "type": "identity_front", "status": null}]))],
            ),
            (
                r#"{"type":"customer.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"active","external_id":null}}"#.into(),
                EventType::CustomerActive,
                "cust_1",
                vec![("status", json!("active"))],
            ),
            (
                r#"{"id":"evt_1","type":"customer.denied","api_version":"2026-03-01","created_at":1772625600,"delivery_id":"dlv_1","timestamp":1772625600,"data":{"id":"cust_1","external_id":"user-1","name":"Maria","email":"m@x.com","phone":"+5511999999999","cpf":"52998224725","status":"denied"}}"#.into(),
                EventType::CustomerDenied,
                "cust_1",
                vec![("status", json!("denied")), ("document", json!("52998224725"))],
            ),
            (
                r#"{"type":"credit_offer.available","timestamp":"2026-03-04T12:00:00Z","data":{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":"50000.00","min_amount":"1000.00","interest_rate":3.5,"installments":12,"due_date_rule":null,"valid_until":"2026-04-01T23:59:59Z"}}"#.into(),
                EventType::CreditOfferAvailable,
                "co_1",
                vec![("approved_amount", brl("50000.00")), ("min_amount", brl("1000.00")), ("monthly_interest_rate", json!("3.5")), ("installments", json!(12)), ("valid_until", json!("2026-04-01T23:59:59Z"))],
            ),
            (
                r#"{"type":"credit_offer.expired","timestamp":1772625600,"data":{"id":"co_1","customer_id":"cust_1","status":"expired","approved_amount":50000.1,"min_amount":1000,"monthly_interest_rate":3.5,"max_installments":12,"valid_until":1775087999}}"#.into(),
                EventType::CreditOfferExpired,
                "co_1",
                vec![("approved_amount", brl("50000.10")), ("min_amount", brl("1000.00")), ("status", json!("expired"))],
            ),
            (
                r#"{"type":"loan.created","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","requested_amount":"25000.00","number_of_installments":6}}"#.into(),
                EventType::LoanCreated,
                "ln_1",
                vec![("requested_amount", brl("25000.00")), ("customer_id", json!("cust_1")), ("credit_offer_id", json!("co_1")), ("installments", json!(6)), ("status", json!("processing"))],
            ),
            (
                r#"{"type":"loan.contract_generated","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"contract_generated","ccb_number":"CCB-2026-001234","signing_url":"https://app.clicksign.com/sign/x"}}"#.into(),
                EventType::LoanContractGenerated,
                "ln_1",
                vec![("ccb_number", json!("CCB-2026-001234")), ("signing_url", json!("https://app.clicksign.com/sign/x"))],
            ),
            (
                r#"{"type":"loan.awaiting_signatures","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"awaiting_signatures","signing_url":"https://app.clicksign.com/sign/x"}}"#.into(),
                EventType::LoanAwaitingSignatures,
                "ln_1",
                vec![("status", json!("awaiting_signatures"))],
            ),
            (
                r#"{"type":"loan.signature_received","timestamp":1772625600,"data":{"id":"ln_1","status":"awaiting_signatures","signer":{"name":"Maria","cpf":"52998224725","signed_at":1772625500},"signatures_received":1,"signatures_required":2}}"#.into(),
                EventType::LoanAwaitingSignatures,
                "ln_1",
                vec![("signatures_received", json!(1)), ("signatures_required", json!(2)), ("signed_at", json!("2026-03-04T11:58:20Z"))],
            ),
            (
                r#"{"type":"loan.signed","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"signed","ccb_number":"CCB-2026-001234"}}"#.into(),
                EventType::LoanSigned,
                "ln_1",
                vec![("ccb_number", json!("CCB-2026-001234"))],
            ),
            (
                r#"{"type":"loan.disbursing","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"disbursing","customer_id":"cust_1","disbursement_method":"pix","net_amount":"24250.00"}}"#.into(),
                EventType::LoanDisbursing,
                "ln_1",
                vec![("disbursement_method", json!("pix")), ("net_amount", brl("24250.00")), ("customer_id", json!("cust_1"))],
            ),
            (
                r#"{"type":"loan.processing","timestamp":1772625600,"data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","ccb_number":"CCB-1","disbursement_method":"pix"}}"#.into(),
                EventType::LoanDisbursing,
                "ln_1",
                vec![("disbursement_method", json!("pix")), ("customer_id", json!("cust_1"))],
            ),
            (
                r#"{"type":"loan.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","requested_amount":"25000.00","net_amount":"24250.01"}}"#.into(),
                EventType::LoanActive,
                "ln_1",
                vec![("requested_amount", brl("25000.00")), ("net_amount", brl("24250.01")), ("status", json!("active"))],
            ),
            (
                r#"{"type":"loan.active","timestamp":1772625600,"data":{"id":"ln_1","status":"active","requested_amount":25000,"principal_amount":25000.55}}"#.into(),
                EventType::LoanActive,
                "ln_1",
                vec![("requested_amount", brl("25000.00")), ("principal_amount", brl("25000.55"))],
            ),
            (
                r#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","payment":{"amount":"2291.67","paid_at":"2026-03-04T11:59:58Z","installment_number":1}}}"#.into(),
                EventType::LoanPaymentReceived,
                "ln_1",
                vec![("payment", json!({"amount": brl("2291.67"), "paid_at": "2026-03-04T11:59:58Z", "installment_number": 1}))],
            ),
            (
                r#"{"type":"loan.finished","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"finished"}}"#.into(),
                EventType::LoanFinished,
                "ln_1",
                vec![("status", json!("finished"))],
            ),
            (
                r#"{"type":"loan.cancelled","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"cancelled"}}"#.into(),
                EventType::LoanCancelled,
                "ln_1",
                vec![("status", json!("cancelled"))],
            ),
            (
                r#"{"type":"loan.error","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"error","error":{"code":"disbursement_failed","message":"x"}}}"#.into(),
                EventType::LoanError,
                "ln_1",
                vec![("status", json!("error")), ("error_code", json!("disbursement_failed"))],
            ),
        ];
        for (body, event_type, resource_id, fields) in cases {
            let event = check(&body);
            assert_eq!(event.event_type, event_type, "{body}");
            assert_eq!(event.resource.id, resource_id, "{body}");
            assert_eq!(event.dedup_key.as_str(), "evt_0123");
            assert_eq!(
                event.occurred_at,
                Some(Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()),
                "{body}"
            );
            let data = serde_json::to_value(&event.data).unwrap();
            for (field, expected) in fields {
                assert_eq!(data[field], expected, "{field} of {body}");
            }
        }
    }

    #[test]
    fn the_provider_event_type_and_resource_kind_are_kept() {
        let event = check(
            r#"{"type":"loan.signature_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"awaiting_signatures"}}"#,
        );
        assert_eq!(event.provider_event_type, "loan.signature_received");
        assert_eq!(event.resource.kind, ResourceKind::Loan);
        let customer = check(
            r#"{"type":"customer.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"active","external_id":"user-7"}}"#,
        );
        assert_eq!(customer.resource.correlation_id.as_deref(), Some("user-7"));
    }

    #[test]
    fn an_unknown_type_becomes_dinie_unrecognized_and_is_kept() {
        let event = check(
            r#"{"type":"loan.restructured","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_9","whatever":1.5}}"#,
        );
        assert_eq!(event.event_type.as_str(), "dinie.unrecognized");
        assert_eq!(event.provider_event_type, "loan.restructured");
        assert_eq!(event.resource.id, "ln_9");
        assert_eq!(event.resource.kind, ResourceKind::Loan);
    }

    #[test]
    fn a_body_that_is_not_an_envelope_is_a_normalize_error() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("evt_1"));
        for body in [
            &b"not json"[..],
            br#"{"data":{}}"#,
            br#"{"type":"loan.active"}"#,
        ] {
            let request = InboundRequest {
                path: "",
                headers: &headers,
                body,
            };
            assert!(normalize(&DINIE, &request).is_err());
        }
    }

    #[test]
    fn a_known_type_with_unreadable_data_is_a_normalize_error_without_pii() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("evt_1"));
        let body = br#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","payment":{"amount":"52998224725x"}}}"#;
        let request = InboundRequest {
            path: "",
            headers: &headers,
            body,
        };
        let error = normalize(&DINIE, &request).unwrap_err();
        assert!(!error.reason.contains("52998224725"), "{}", error.reason);
    }
}
