//! Every input to Dinie's normalizer becomes events or a typed refusal: arbitrary bytes, and
//! reference payloads mutated field by field (types swapped, amounts with many decimals, missing and
//! extra fields, huge strings, deep nesting, NUL). None may panic, and no amount is ever rounded.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use support::normalize;

use proptest::prelude::*;
use providers_testkit::{apply, mutation, paths};
use rust_decimal::Decimal;
use serde_json::Value;

/// Reference payloads of each family (customer, credit offer, loan, a payment, unknown).
const BODIES: [&str; 5] = [
    r#"{"type":"customer.created","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_2","status":"creating","cpf":"52998224725","cnpj":"11.222.333/0001-81","external_id":"user-1","kyc":[{"kind":"document","requirement_type":"cnh","status":"pending"},{"type":"proof_of_address"},{}]}}"#,
    r#"{"type":"credit_offer.available","timestamp":"2026-03-04T12:00:00Z","data":{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":"50000.00","min_amount":"1000.00","interest_rate":3.5,"installments":12,"due_date_rule":null,"valid_until":"2026-04-01T23:59:59Z"}}"#,
    r#"{"type":"loan.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","customer_id":"cust_1","requested_amount":"25000.00","net_amount":"24250.01"}}"#,
    r#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","payment":{"amount":"2291.67","paid_at":"2026-03-04T11:59:58Z","installment_number":1}}}"#,
    r#"{"type":"loan.restructured","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1"}}"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_become_events_or_a_refusal_and_never_a_panic(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let _ = normalize(&body);
    }

    #[test]
    fn a_reference_payload_mutated_field_by_field_becomes_events_or_a_refusal(
        body in 0..BODIES.len(),
        pick in any::<prop::sample::Index>(),
        mutation in mutation(),
    ) {
        let mut payload: Value = serde_json::from_str(BODIES[body]).unwrap();
        let mut all = Vec::new();
        paths(&payload, &mut Vec::new(), &mut all);
        let path = all[pick.index(all.len())].clone();
        apply(&mut payload, &path, &mutation);
        let _ = normalize(payload.to_string().as_bytes());
    }

    #[test]
    fn a_loans_net_amount_is_kept_exactly_or_refused_never_rounded(
        units in 0u64..1_000_000_000,
        decimals in "[0-9]{0,12}",
        as_string in any::<bool>(),
    ) {
        let text = if decimals.is_empty() { units.to_string() } else { format!("{units}.{decimals}") };
        let mut payload: Value = serde_json::from_str(BODIES[2]).unwrap();
        payload["data"]["net_amount"] = if as_string { Value::String(text.clone()) } else { serde_json::from_str(&text).unwrap() };
        if let Ok(events) = normalize(payload.to_string().as_bytes()) {
            let sent: Decimal = text.parse().unwrap();
            let kept = events[0].data.net_amount().expect("the loan keeps its net amount").amount();
            prop_assert_eq!(kept, sent, "{} became {}", text, kept);
        }
    }
}
