//! Every input to Delbank's normalizer becomes events or a typed refusal: arbitrary bytes, and the
//! reference payloads mutated field by field (types swapped, amounts with many decimals, missing and
//! extra fields, huge strings, deep nesting, NUL). None may panic, and no amount is ever rounded.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use support::source;

use delbank::webhook::slug;
use http::HeaderMap;
use proptest::prelude::*;
use providers::{InboundRequest, NormalizeError, NormalizedEvent, WebhookSource};
use providers_testkit::{apply, mutation, paths};
use rust_decimal::Decimal;
use serde_json::Value;

/// Each reference payload and the event type of the registration it arrives at.
const FIXTURES: [(&str, &str); 14] = [
    ("pix_received", "PIX_RECEIVED"),
    ("pix_payment_effective", "PIX_PAYMENT_UPDATED"),
    ("pix_payment_error", "PIX_PAYMENT_UPDATED"),
    ("pix_refunded", "PIX_REFUNDED"),
    ("pix_refund_payment_effective", "PIX_REFUND_PAYMENT_UPDATED"),
    ("pix_refund_payment_error", "PIX_REFUND_PAYMENT_UPDATED"),
    ("charge_paid_v1", "CHARGE_PAID"),
    ("charge_paid_v2", "CHARGE_PAID"),
    ("whitelabel_approved", "WHITELABEL_CUSTOMER_APPROVED"),
    (
        "whitelabel_rejected",
        "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
    ),
    ("account_status_updated", "ACCOUNT_STATUS_UPDATED"),
    ("transfer_internal_credited", "TRANSFER_INTERNAL_CREDITED"),
    ("transfer_internal_debited", "TRANSFER_INTERNAL_DEBITED"),
    ("infraction_created", "INFRACTION_CREATED"),
];

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn normalize(registered: &str, body: &[u8]) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let path = format!("/{}-0a1b2c3d4e5f", slug(registered));
    let headers = HeaderMap::new();
    source().normalize(&InboundRequest {
        path: &path,
        headers: &headers,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_become_events_or_a_refusal_and_never_a_panic(
        fixture in 0..FIXTURES.len(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = normalize(FIXTURES[fixture].1, &body);
    }

    #[test]
    fn a_reference_payload_mutated_field_by_field_becomes_events_or_a_refusal(
        fixture_index in 0..FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        mutation in mutation(),
    ) {
        let (name, registered) = FIXTURES[fixture_index];
        let mut payload = fixture(name);
        let mut all = Vec::new();
        paths(&payload, &mut Vec::new(), &mut all);
        prop_assume!(!all.is_empty());
        let path = all[pick.index(all.len())].clone();
        apply(&mut payload, &path, &mutation);
        let _ = normalize(registered, payload.to_string().as_bytes());
    }

    #[test]
    fn a_received_pix_amount_is_kept_exactly_or_refused_never_rounded(
        units in 0u64..1_000_000_000,
        decimals in "[0-9]{0,12}",
        as_string in any::<bool>(),
    ) {
        let text = if decimals.is_empty() { units.to_string() } else { format!("{units}.{decimals}") };
        let mut payload = fixture("pix_received");
        let amount: Value = if as_string { Value::String(text.clone()) } else { serde_json::from_str(&text).unwrap() };
        payload["amount"] = amount.clone();
        payload["proof"]["amount"] = amount;
        if let Ok(events) = normalize("PIX_RECEIVED", payload.to_string().as_bytes()) {
            let sent: Decimal = text.parse().unwrap();
            let kept = events[0].data.amount().expect("a received Pix has an amount").amount();
            prop_assert_eq!(kept, sent, "{} became {}", text, kept);
        }
    }
}
