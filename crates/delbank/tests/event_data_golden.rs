//! Golden data of every event type Delbank's normalizer produces.
//!
//! Each case is a documented Delbank payload (the reference's payloads in `fixtures/`, plus inline
//! edge cases that decide between a null, a masked document and a provider's own text), received at
//! the registration of its event type; its normalized `data` must serialize to exactly the bytes of
//! `tests/golden/<case>.json`, which were written by the normalizer that built `data` as a
//! `serde_json::Value`. That is what is stored in `event.data` and sent to partners, so events
//! stored before a change and after it look alike.
//!
//! The notion of "the same bytes" is the canonical serialization: objects with their keys in
//! sorted order, as serde_json writes a `Value` without `preserve_order`. The stored column is
//! Postgres `jsonb`, which keeps no key order anyway; the test checks both that `data` serializes to
//! the golden text as it is, and that it is already in that canonical form (the same text after a
//! round through `serde_json::Value`), so raw bytes written straight from `data` match too.
//!
//! `GOLDEN_UPDATE=1 cargo test -p delbank --test event_data_golden` rewrites the golden files from
//! the current normalizer; without it, any difference fails with both texts.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use std::path::PathBuf;
use support::source;

use delbank::DelbankWebhooks;
use delbank::webhook::slug;
use http::HeaderMap;
use providers::{InboundRequest, NormalizedEvent, WebhookSource};
use providers_testkit::{GoldenCase, assert_golden};

/// Where a case's body comes from.
enum Body {
    /// `fixtures/<name>.json`.
    Fixture(&'static str),
    /// The text itself.
    Inline(&'static str),
}

/// A case: its golden file's name, the Delbank event type of the registration it arrives at
/// (`None`: a path no registration names), the gateway type it must normalize to, and its body.
struct Case {
    name: &'static str,
    registered: Option<&'static str>,
    event_type: &'static str,
    body: Body,
}

const fn fixture(name: &'static str, registered: &'static str, event_type: &'static str) -> Case {
    Case {
        name,
        registered: Some(registered),
        event_type,
        body: Body::Fixture(name),
    }
}

const fn inline(
    name: &'static str,
    registered: Option<&'static str>,
    event_type: &'static str,
    body: &'static str,
) -> Case {
    Case {
        name,
        registered,
        event_type,
        body: Body::Inline(body),
    }
}

const CASES: &[Case] = &[
    fixture("pix_received", "PIX_RECEIVED", "pix.received"),
    fixture(
        "pix_payment_effective",
        "PIX_PAYMENT_UPDATED",
        "pix.transfer.completed",
    ),
    fixture(
        "pix_payment_error",
        "PIX_PAYMENT_UPDATED",
        "pix.transfer.failed",
    ),
    fixture("pix_refunded", "PIX_REFUNDED", "pix.refund.received"),
    fixture(
        "pix_refund_payment_error",
        "PIX_REFUND_PAYMENT_UPDATED",
        "pix.transfer.failed",
    ),
    fixture(
        "pix_refund_payment_effective",
        "PIX_REFUND_PAYMENT_UPDATED",
        "pix.transfer.completed",
    ),
    fixture("charge_paid_v1", "CHARGE_PAID", "charge.paid"),
    fixture("charge_paid_v2", "CHARGE_PAID", "charge.paid"),
    fixture(
        "whitelabel_approved",
        "WHITELABEL_CUSTOMER_APPROVED",
        "account.approved",
    ),
    fixture(
        "whitelabel_rejected",
        "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
        "account.documentation_rejected",
    ),
    fixture(
        "transfer_internal_credited",
        "TRANSFER_INTERNAL_CREDITED",
        "account.transfer.credited",
    ),
    fixture(
        "transfer_internal_debited",
        "TRANSFER_INTERNAL_DEBITED",
        "account.transfer.debited",
    ),
    fixture(
        "account_status_updated",
        "ACCOUNT_STATUS_UPDATED",
        "account.status_updated",
    ),
    fixture(
        "infraction_created",
        "INFRACTION_NOTIFICATION_CREATED",
        "pix.infraction.created",
    ),
    // A Pix with no proof: no parties, no status, no correlation id; the time from the id.
    inline(
        "pix_received_minimal",
        Some("PIX_RECEIVED"),
        "pix.received",
        r#"{"endToEndId":"E18236120202507111532s0123456789","amount":1}"#,
    ),
    // Typed by its own eventType at a path no registration names; the payee is the beneficiary;
    // an unknown account type and status, a document that is neither valid nor masked.
    inline(
        "pix_received_by_body_type",
        None,
        "pix.received",
        r#"{"eventType":"PIX_RECEIVED","referenceId":"E18236120202507111532s0123456789","createdAt":"2025-07-11T15:32:41Z","proof":{"status":"pix_settled","amount":"7.5","payer":{"number":12,"type":"Investment","holder":{"document":"123"}},"beneficiary":{"number":"29823","branch":1,"type":"saving","participant":{"ispb":38224857},"holder":{"name":"X","document":"112.223.330/0018-1"}}}}"#,
    ),
    // A failure without a code; a payment whose beneficiary has only a holder.
    inline(
        "pix_payment_error_sparse",
        Some("PIX_PAYMENT_UPDATED"),
        "pix.transfer.failed",
        r#"{"eventType":"PIX_PAYMENT_ERROR","idempotencyKey":"k-1","status":"ERROR","error":{"description":"x"},"amount":"3","beneficiary":{"holder":{"name":"Y"}}}"#,
    ),
    // A refund read from its proof only.
    inline(
        "pix_refunded_from_proof",
        Some("PIX_REFUNDED"),
        "pix.refund.received",
        r#"{"eventType":"PIX_REFUNDED","proof":{"endToEndId":"D18236120202507121010r0123456789","amount":1.1,"finishedAt":"2025-07-12T10:10:01Z"}}"#,
    ),
    // A bank slip paid (no Pix details, no payer).
    inline(
        "charge_paid_bankslip",
        Some("CHARGE_PAID"),
        "charge.paid",
        r#"{"correlationId":"c-1","referenceId":"wo-9","source":"PCR","amount":10,"createdAt":"2025-07-14T10:00:05Z"}"#,
    ),
    inline(
        "account_status_updated_unknown_status",
        Some("ACCOUNT_STATUS_UPDATED"),
        "account.status_updated",
        r#"{"bankAccount":31712,"status":"Under_Audit"}"#,
    ),
    inline(
        "transfer_internal_unknown_status",
        Some("TRANSFER_INTERNAL_CREDITED"),
        "account.transfer.credited",
        r#"{"id":"t-1","status":"Scheduled","amount":5}"#,
    ),
    inline(
        "infraction_created_minimal",
        Some("INFRACTION_NOTIFICATION_CREATED"),
        "pix.infraction.created",
        r#"{"id":"inf-1"}"#,
    ),
    inline(
        "unrecognized_event_type",
        Some("PIX_AUTOMATIC_UPDATED"),
        "delbank.unrecognized",
        r#"{"eventType": "PIX_AUTOMATIC_AUTHORIZED", "id": "x", "amount": 1.5}"#,
    ),
    inline(
        "unrecognized_status",
        Some("PIX_PAYMENT_UPDATED"),
        "delbank.unrecognized",
        r#"{"eventType":"PIX_PAYMENT_SCHEDULED","endToEndId":"E38224857202507111540abcDEF12345","status":"PIX_SCHEDULED","amount":1.00}"#,
    ),
    inline(
        "unrecognized_in_progress",
        Some("PIX_PAYMENT_UPDATED"),
        "delbank.unrecognized",
        r#"{"endToEndId":"E38224857202507111540abcDEF12345","status":"PIX_PROCESSING","amount":1.00}"#,
    ),
    inline(
        "unrecognized_missing_field",
        Some("PIX_RECEIVED"),
        "delbank.unrecognized",
        r#"{"eventType":"PIX_RECEIVED","endToEndId":"E18236120202507111532s0123456789"}"#,
    ),
    inline(
        "unrecognized_shape",
        Some("CHARGE_PAID"),
        "delbank.unrecognized",
        r#"{"correlationId":["not","text"]}"#,
    ),
    inline(
        "unrecognized_unregistered",
        None,
        "delbank.unrecognized",
        r#"{"foo":1}"#,
    ),
];

/// Every type Delbank's normalizer can produce.
const EVERY_TYPE: [&str; 12] = [
    "charge.paid",
    "pix.received",
    "pix.transfer.completed",
    "pix.transfer.failed",
    "pix.refund.received",
    "account.approved",
    "account.documentation_rejected",
    "account.status_updated",
    "account.transfer.credited",
    "account.transfer.debited",
    "pix.infraction.created",
    "delbank.unrecognized",
];

fn body(case: &Case) -> Vec<u8> {
    match case.body {
        Body::Inline(text) => text.as_bytes().to_vec(),
        Body::Fixture(name) => {
            let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
        }
    }
}

fn normalize(source: &DelbankWebhooks, case: &Case) -> NormalizedEvent {
    let path = match case.registered {
        Some(event_type) => format!("/{}-0a1b2c3d4e5f", slug(event_type)),
        None => "/portal".to_owned(),
    };
    assert_eq!(
        source.registered_event_type(&path).as_deref(),
        case.registered
    );
    let headers = HeaderMap::new();
    let body = body(case);
    let request = InboundRequest {
        path: &path,
        headers: &headers,
        body: &body,
    };
    let mut events = source.normalize(&request).unwrap();
    assert_eq!(events.len(), 1, "{}", case.name);
    events.remove(0)
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_event_type_serializes_its_data_to_the_golden_bytes() {
    let source = source();
    let cases = CASES
        .iter()
        .map(|case| GoldenCase {
            name: case.name,
            event_type: case.event_type,
            event: normalize(&source, case),
        })
        .collect();
    assert_golden(&golden_dir(), &EVERY_TYPE, cases);
}
