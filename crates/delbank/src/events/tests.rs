use chrono::{DateTime, TimeZone, Utc};
use providers::{EventType, NormalizedEvent, ResourceKind};
use serde_json::{Value, json};

// ---- Normalization of the reference's payloads. ----

struct Expected {
    fixture: &'static str,
    registered: &'static str,
    event_type: &'static str,
    provider_event_type: &'static str,
    resource_kind: ResourceKind,
    resource_id: &'static str,
    amount: Option<&'static str>,
    dedup_key: &'static str,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn normalize(registered: Option<&str>, body: &[u8]) -> NormalizedEvent {
    let event = crate::events::normalize_body(registered, body).unwrap();
    // What is stored reads back as the same event, data included.
    let stored = serde_json::to_string(&event).unwrap();
    assert_eq!(
        serde_json::from_str::<NormalizedEvent>(&stored).unwrap(),
        event
    );
    event
}

/// The event's data as JSON, as stored and sent.
fn data_of(event: &NormalizedEvent) -> Value {
    serde_json::to_value(&event.data).unwrap()
}

fn check(expected: &Expected) {
    let event = normalize(Some(expected.registered), &fixture(expected.fixture));
    let data = serde_json::to_value(&event).unwrap();
    assert_eq!(
        event.event_type.as_str(),
        expected.event_type,
        "{}",
        expected.fixture
    );
    assert_eq!(event.provider_event_type, expected.provider_event_type);
    assert_eq!(
        event.resource.kind, expected.resource_kind,
        "{}",
        expected.fixture
    );
    assert_eq!(
        event.resource.id, expected.resource_id,
        "{}",
        expected.fixture
    );
    assert_eq!(
        event.dedup_key.as_str(),
        expected.dedup_key,
        "{}",
        expected.fixture
    );
    match expected.amount {
        Some(amount) => assert_eq!(
            data["data"]["amount"],
            json!({"amount": amount, "currency": "BRL"}),
            "{}",
            expected.fixture
        ),
        None => assert!(data["data"].get("amount").is_none()),
    }
}

#[test]
fn every_payload_of_the_reference_normalizes_with_exact_amounts() {
    let table = [
        Expected {
            fixture: "pix_received",
            registered: "PIX_RECEIVED",
            event_type: "pix.received",
            provider_event_type: "PIX_RECEIVED",
            resource_kind: ResourceKind::Pix,
            resource_id: "E18236120202507111532s0123456789",
            amount: Some("12.12"),
            dedup_key: "PIX_RECEIVED:E18236120202507111532s0123456789",
        },
        Expected {
            fixture: "pix_payment_effective",
            registered: "PIX_PAYMENT_UPDATED",
            event_type: "pix.transfer.completed",
            provider_event_type: "PIX_PAYMENT_EFFECTIVE",
            resource_kind: ResourceKind::Pix,
            resource_id: "E38224857202507111540abcDEF12345",
            amount: Some("150.50"),
            dedup_key: "PIX_PAYMENT_UPDATED:E38224857202507111540abcDEF12345:PIX_EFFECTIVE",
        },
        Expected {
            fixture: "pix_payment_error",
            registered: "PIX_PAYMENT_UPDATED",
            event_type: "pix.transfer.failed",
            provider_event_type: "PIX_PAYMENT_ERROR",
            resource_kind: ResourceKind::Pix,
            resource_id: "E38224857202507111541xyzXYZ98765",
            amount: Some("99.99"),
            dedup_key: "PIX_PAYMENT_UPDATED:E38224857202507111541xyzXYZ98765:PIX_ERROR",
        },
        Expected {
            fixture: "pix_refunded",
            registered: "PIX_REFUNDED",
            event_type: "pix.refund.received",
            provider_event_type: "PIX_REFUNDED",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D18236120202507121010r0123456789",
            amount: Some("10.01"),
            dedup_key: "PIX_REFUNDED:D18236120202507121010r0123456789",
        },
        Expected {
            fixture: "pix_refund_payment_error",
            registered: "PIX_REFUND_PAYMENT_UPDATED",
            event_type: "pix.transfer.failed",
            provider_event_type: "PIX_REFUND_PAYMENT_ERROR",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D38224857202505151236ref0000001",
            amount: Some("5.00001"),
            dedup_key: "PIX_REFUND_PAYMENT_UPDATED:D38224857202505151236ref0000001:PIX_ERROR",
        },
        Expected {
            fixture: "pix_refund_payment_effective",
            registered: "PIX_REFUND_PAYMENT_UPDATED",
            event_type: "pix.transfer.completed",
            provider_event_type: "PIX_REFUND_PAYMENT_EFFECTIVE",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D38224857202507131200abcdefghijk",
            amount: Some("2.50"),
            dedup_key: "PIX_REFUND_PAYMENT_UPDATED:D38224857202507131200abcdefghijk:PIX_EFFECTIVE",
        },
        Expected {
            fixture: "charge_paid_v1",
            registered: "CHARGE_PAID",
            event_type: "charge.paid",
            provider_event_type: "CHARGE_PAID",
            resource_kind: ResourceKind::Charge,
            resource_id: "7d9f0e1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a",
            amount: Some("199.90"),
            dedup_key: "CHARGE_PAID:7d9f0e1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a:4567",
        },
        Expected {
            fixture: "charge_paid_v2",
            registered: "CHARGE_PAID",
            event_type: "charge.paid",
            provider_event_type: "CHARGE_PAID_V2",
            resource_kind: ResourceKind::Charge,
            resource_id: "0f1e2d3c-4b5a-4968-8776-655443322110",
            amount: Some("1500.00001"),
            dedup_key: "CHARGE_PAID:0f1e2d3c-4b5a-4968-8776-655443322110:00012345",
        },
        Expected {
            fixture: "whitelabel_approved",
            registered: "WHITELABEL_CUSTOMER_APPROVED",
            event_type: "account.approved",
            provider_event_type: "WHITELABEL_CUSTOMER_APPROVED",
            resource_kind: ResourceKind::Account,
            resource_id: "31712",
            amount: None,
            dedup_key: "",
        },
        Expected {
            fixture: "transfer_internal_credited",
            registered: "TRANSFER_INTERNAL_CREDITED",
            event_type: "account.transfer.credited",
            provider_event_type: "TRANSFER_INTERNAL_CREDITED",
            resource_kind: ResourceKind::Transfer,
            resource_id: "C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            amount: Some("0.01"),
            dedup_key: "TRANSFER_INTERNAL_CREDITED:C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        },
        Expected {
            fixture: "transfer_internal_debited",
            registered: "TRANSFER_INTERNAL_DEBITED",
            event_type: "account.transfer.debited",
            provider_event_type: "TRANSFER_INTERNAL_DEBITED",
            resource_kind: ResourceKind::Transfer,
            resource_id: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            amount: Some("100.00"),
            dedup_key: "TRANSFER_INTERNAL_DEBITED:9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        },
        Expected {
            fixture: "account_status_updated",
            registered: "ACCOUNT_STATUS_UPDATED",
            event_type: "account.status_updated",
            provider_event_type: "ACCOUNT_STATUS_UPDATED",
            resource_kind: ResourceKind::Account,
            resource_id: "999999",
            amount: None,
            dedup_key: "ACCOUNT_STATUS_UPDATED:999999:BLOCKED:2025-03-02T12:14:06.0613001Z",
        },
        Expected {
            fixture: "infraction_created",
            registered: "INFRACTION_NOTIFICATION_CREATED",
            event_type: "pix.infraction.created",
            provider_event_type: "INFRACTION_NOTIFICATION_CREATED",
            resource_kind: ResourceKind::Infraction,
            resource_id: "4f3e2d1c-0b9a-4887-9665-544332211000",
            amount: None,
            dedup_key: "INFRACTION_NOTIFICATION_CREATED:4f3e2d1c-0b9a-4887-9665-544332211000",
        },
    ];
    for expected in &table {
        if expected.dedup_key.is_empty() {
            let event = normalize(Some(expected.registered), &fixture(expected.fixture));
            assert_eq!(event.event_type.as_str(), expected.event_type);
            assert_eq!(event.resource.id, expected.resource_id);
            continue;
        }
        check(expected);
    }
}

#[test]
fn a_received_pix_carries_what_reconciliation_needs() {
    let event = normalize(Some("PIX_RECEIVED"), &fixture("pix_received"));
    let data = &data_of(&event);
    assert_eq!(data["end_to_end_id"], "E18236120202507111532s0123456789");
    assert_eq!(data["payee"]["document"]["value"], "11222333000181");
    assert_eq!(data["payee"]["document"]["kind"], "cnpj");
    assert_eq!(data["payee"]["account"], "29823");
    assert_eq!(data["payee"]["ispb"], "38224857");
    assert_eq!(data["payer"]["ispb"], "18236120");
    assert_eq!(data["payer"]["name"], "JOAO DA SILVA");
    // A masked document is kept as sent, flagged, never failed on.
    assert_eq!(data["payer"]["document"]["value"], "***876977**");
    assert_eq!(data["payer"]["document"]["masked"], true);
    assert_eq!(
        event.occurred_at,
        Some(
            DateTime::parse_from_rfc3339("2025-07-11T15:32:41.0613001Z")
                .unwrap()
                .to_utc()
        )
    );
    assert_eq!(
        event.resource.correlation_id.as_deref(),
        Some("S1102202507111532385690004567")
    );
}

#[test]
fn a_failed_pix_keeps_its_error_code_and_idempotency_key() {
    let event = normalize(Some("PIX_PAYMENT_UPDATED"), &fixture("pix_payment_error"));
    assert_eq!(data_of(&event)["failure"]["code"], "AC06");
    assert_eq!(
        event.resource.correlation_id.as_deref(),
        Some("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    );
    let refund = normalize(
        Some("PIX_REFUND_PAYMENT_UPDATED"),
        &fixture("pix_refund_payment_error"),
    );
    assert_eq!(data_of(&refund)["failure"]["code"], "DEL20");
    assert_eq!(data_of(&refund)["operation"], "refund");
    // `finishedAt` has no offset: read as UTC.
    assert_eq!(
        refund.occurred_at,
        Some(Utc.with_ymd_and_hms(2025, 5, 15, 12, 36, 48).unwrap())
    );
}

#[test]
fn payloads_without_event_type_are_typed_by_their_registration() {
    let approved = normalize(
        Some("WHITELABEL_CUSTOMER_APPROVED"),
        &fixture("whitelabel_approved"),
    );
    let rejected = normalize(
        Some("WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED"),
        &fixture("whitelabel_rejected"),
    );
    assert_eq!(approved.event_type, EventType::AccountApproved);
    assert_eq!(data_of(&approved)["account"], "31712");
    assert_eq!(
        data_of(&approved)["holder"]["document"]["value"],
        "52998224725"
    );
    assert_eq!(rejected.event_type, EventType::AccountDocumentationRejected);
    assert!(data_of(&rejected)["account"].is_null());
    assert!(rejected.resource.id.starts_with("holder-"));
    // The document is not in the dedup key or the resource id, only its hash.
    for event in [&approved, &rejected] {
        assert!(!event.dedup_key.as_str().contains("52998224725"));
        assert!(!event.resource.id.contains("52998224725"));
    }
    assert_ne!(approved.dedup_key, rejected.dedup_key);
    let charge = normalize(Some("CHARGE_PAID"), &fixture("charge_paid_v1"));
    assert_eq!(charge.event_type, EventType::ChargePaid);
    assert_eq!(data_of(&charge)["version"], 1);
    assert_eq!(
        data_of(&charge)["end_to_end_id"],
        "E00000000202507141000pix00000001"
    );
}

#[test]
fn the_body_event_type_is_used_when_the_registration_is_unknown() {
    let event = normalize(None, &fixture("pix_received"));
    assert_eq!(event.event_type, EventType::PixReceived);
    let event = normalize(Some("SOMETHING_NEW"), &fixture("pix_payment_effective"));
    assert_eq!(event.event_type, EventType::PixTransferCompleted);
}

#[test]
fn the_same_bytes_give_the_same_dedup_key_and_other_outcomes_differ() {
    let first = normalize(
        Some("PIX_PAYMENT_UPDATED"),
        &fixture("pix_payment_effective"),
    );
    let again = normalize(
        Some("PIX_PAYMENT_UPDATED"),
        &fixture("pix_payment_effective"),
    );
    assert_eq!(first, again);
    let failed = normalize(Some("PIX_PAYMENT_UPDATED"), &fixture("pix_payment_error"));
    assert_ne!(first.dedup_key, failed.dedup_key);
}

#[test]
fn an_unknown_event_type_is_kept_as_unrecognized() {
    let body = br#"{"eventType": "PIX_AUTOMATIC_AUTHORIZED", "id": "x", "amount": 1.5}"#;
    let event = normalize(Some("PIX_AUTOMATIC_UPDATED"), body);
    assert_eq!(event.event_type.as_str(), "delbank.unrecognized");
    assert_eq!(event.provider_event_type, "PIX_AUTOMATIC_AUTHORIZED");
    assert_eq!(event.resource.kind, ResourceKind::Other);
    assert_eq!(
        data_of(&event)["registered_event_type"],
        "PIX_AUTOMATIC_UPDATED"
    );
    assert!(event.dedup_key.as_str().starts_with("unrecognized:"));
    assert_eq!(event, normalize(Some("PIX_AUTOMATIC_UPDATED"), body));
}

#[test]
fn an_unknown_status_is_kept_as_unrecognized_not_fatal() {
    let body = br#"{"eventType":"PIX_PAYMENT_SCHEDULED","endToEndId":"E38224857202507111540abcDEF12345","status":"PIX_SCHEDULED","amount":1.00}"#;
    let event = normalize(Some("PIX_PAYMENT_UPDATED"), body);
    assert!(event.event_type.is_unrecognized());
    assert_eq!(event.provider_event_type, "PIX_PAYMENT_SCHEDULED");
    assert!(
        data_of(&event)["reason"]
            .as_str()
            .unwrap()
            .contains("PIX_SCHEDULED")
    );
}

#[test]
fn a_body_that_is_not_json_cannot_be_normalized() {
    assert!(crate::events::normalize_body(Some("PIX_RECEIVED"), b"<xml/>").is_err());
    assert!(crate::events::normalize_body(Some("PIX_RECEIVED"), b"[1,2]").is_err());
}

#[test]
fn a_white_label_event_has_no_time_of_its_own_and_says_so() {
    let approved = normalize(
        Some("WHITELABEL_CUSTOMER_APPROVED"),
        &fixture("whitelabel_approved"),
    );
    // Not the Unix epoch: unknown, so the gateway uses the time it received the event.
    assert_eq!(approved.occurred_at, None);
}
