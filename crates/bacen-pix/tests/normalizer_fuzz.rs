//! Every input to the API Pix's normalizer becomes events or a typed refusal: arbitrary bytes, and
//! the documented callbacks mutated field by field (types swapped, amounts with many decimals,
//! missing and extra fields, huge strings, deep nesting, NUL). None may panic, no item is dropped
//! silently, and no amount is ever rounded.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use http::HeaderMap;
use proptest::prelude::*;
use providers::{EventType, InboundRequest, NormalizeError, NormalizedEvent, WebhookSource};
use providers_testkit::{apply, mutation, paths};
use rust_decimal::Decimal;
use serde_json::Value;
use support::{fixture, source};

/// The documented callbacks (`fixtures/<name>.json`).
const FIXTURES: [&str; 7] = [
    "documented_callback",
    "pix_received",
    "charge_paid",
    "refund_returned",
    "refund_not_made",
    "refund_in_processing",
    "unrecognized_refund_status",
];

fn payload(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn normalize(body: &[u8]) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let headers = HeaderMap::new();
    source().normalize(&InboundRequest {
        path: "/token/pix",
        headers: &headers,
        body,
    })
}

/// Each item gives at least one event (its own, or `bacen-pix.unrecognized`): none is dropped,
/// unless it is a Pix whose only news is a refund still in processing (which still gives its
/// `pix.received`).
fn every_item_is_kept(payload: &Value, events: &[NormalizedEvent]) -> bool {
    let items = payload
        .get("pix")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let kept = events
        .iter()
        .filter(|event| {
            event.event_type == EventType::PixReceived || event.event_type.is_unrecognized()
        })
        .count();
    kept == items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_become_events_or_a_refusal_and_never_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = normalize(&body);
    }

    #[test]
    fn a_documented_callback_mutated_field_by_field_becomes_events_or_a_refusal(
        fixture_index in 0..FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        mutation in mutation(),
    ) {
        let mut payload = payload(FIXTURES[fixture_index]);
        let mut all = Vec::new();
        paths(&payload, &mut Vec::new(), &mut all);
        prop_assume!(!all.is_empty());
        let path = all[pick.index(all.len())].clone();
        apply(&mut payload, &path, &mutation);
        if let Ok(events) = normalize(payload.to_string().as_bytes()) {
            prop_assert!(
                every_item_is_kept(&payload, &events),
                "{} items, events {:?}",
                payload["pix"].as_array().map_or(0, Vec::len),
                events.iter().map(|event| event.event_type.as_str().into_owned()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_received_pix_amount_is_kept_exactly_or_refused_never_rounded(
        units in 0u64..10_000_000_000,
        decimals in "[0-9]{0,12}",
        as_string in any::<bool>(),
    ) {
        let text = if decimals.is_empty() { units.to_string() } else { format!("{units}.{decimals}") };
        let mut payload = payload("charge_paid");
        let amount: Value = if as_string { Value::String(text.clone()) } else { serde_json::from_str(&text).unwrap() };
        payload["pix"][0]["valor"] = amount;
        let events = normalize(payload.to_string().as_bytes()).unwrap();
        let sent: Decimal = text.parse().unwrap();
        for event in &events {
            if let Some(kept) = event.data.amount() {
                prop_assert_eq!(kept.amount(), sent, "{} became {}", text, kept.amount());
            }
        }
    }

    #[test]
    fn a_refund_amount_is_kept_exactly_or_refused_never_rounded(
        units in 0u64..10_000_000,
        decimals in "[0-9]{0,12}",
    ) {
        let text = if decimals.is_empty() { units.to_string() } else { format!("{units}.{decimals}") };
        let mut payload = payload("refund_returned");
        payload["pix"][0]["devolucoes"][0]["valor"] = Value::String(text.clone());
        let events = normalize(payload.to_string().as_bytes()).unwrap();
        match events.as_slice() {
            [received, refunded] => {
                prop_assert_eq!(received.event_type.clone(), EventType::PixReceived);
                prop_assert_eq!(refunded.event_type.clone(), EventType::PixTransferCompleted);
                let kept = refunded.data.amount().expect("a refund has an amount").amount();
                prop_assert_eq!(kept, text.parse::<Decimal>().unwrap(), "{} became {}", text, kept);
            }
            // A refund amount that cannot be read: the whole item is kept, unrecognized.
            [item] => prop_assert!(item.event_type.is_unrecognized(), "{:?}", item.event_type),
            other => prop_assert!(false, "{} events", other.len()),
        }
    }
}
