//! Golden data of every event type the API Pix's normalizer produces.
//!
//! Each case is one event of a callback (`{"pix": [...]}`): the documented callbacks in
//! `fixtures/`, plus inline edge cases (no payer, a masked or a CNPJ payer, a refund without its
//! `rtrId` or its settlement time, unreadable items). Its normalized `data` must serialize to
//! exactly the bytes of `tests/golden/<case>.json`: what is stored in `event.data` and sent to
//! partners, so that events stored before a change and after it look alike. The bytes are the
//! canonical serialization (keys sorted, as serde_json writes a `Value`); see
//! `providers_testkit::assert_golden`.
//!
//! `GOLDEN_UPDATE=1 cargo test -p bacen-pix --test event_data_golden` rewrites the golden files from
//! the current normalizer; without it, any difference fails with both texts.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use std::path::PathBuf;

use http::HeaderMap;
use providers::{InboundRequest, NormalizedEvent, WebhookSource};
use providers_testkit::{GoldenCase, assert_golden};
use support::{fixture, source};

/// Where a case's callback comes from.
enum Body {
    /// `fixtures/<name>.json`.
    Fixture(&'static str),
    /// The text itself.
    Inline(&'static str),
}

/// A case: its golden file's name, the gateway type it must normalize to, its callback, and the
/// position of its event among the callback's.
struct Case {
    name: &'static str,
    event_type: &'static str,
    body: Body,
    index: usize,
}

const fn fixture_case(
    name: &'static str,
    event_type: &'static str,
    file: &'static str,
    index: usize,
) -> Case {
    Case {
        name,
        event_type,
        body: Body::Fixture(file),
        index,
    }
}

const fn inline(
    name: &'static str,
    event_type: &'static str,
    body: &'static str,
    index: usize,
) -> Case {
    Case {
        name,
        event_type,
        body: Body::Inline(body),
        index,
    }
}

const CASES: &[Case] = &[
    // A Pix with no charge, its payer named by the PSP's `pagador`.
    fixture_case("pix_received", "pix.received", "pix_received", 0),
    // The Pix of a charge, and the charge it pays (a company paying).
    fixture_case("pix_received_of_a_charge", "pix.received", "charge_paid", 0),
    fixture_case("charge_paid", "charge.paid", "charge_paid", 1),
    // The spec's second example: a charge paid by a person, and one of its refunds returned.
    fixture_case(
        "charge_paid_documented",
        "charge.paid",
        "documented_callback",
        3,
    ),
    fixture_case(
        "refund_returned_documented",
        "pix.transfer.completed",
        "documented_callback",
        4,
    ),
    fixture_case(
        "refund_returned",
        "pix.transfer.completed",
        "refund_returned",
        1,
    ),
    fixture_case(
        "refund_not_made",
        "pix.transfer.failed",
        "refund_not_made",
        2,
    ),
    fixture_case(
        "unrecognized_refund_status",
        "bacen-pix.unrecognized",
        "unrecognized_refund_status",
        0,
    ),
    // No payer, no charge, no free text: the payee only.
    inline(
        "pix_received_minimal",
        "pix.received",
        r#"{"pix":[{"endToEndId":"E18236120202507111532s0123456789","valor":"1.00","horario":"2025-07-11T15:32:41Z"}]}"#,
        0,
    ),
    // A payer whose CPF the PSP masks.
    inline(
        "pix_received_masked_payer",
        "pix.received",
        r#"{"pix":[{"endToEndId":"E18236120202507111532s0123456789","valor":"7.50","horario":"2025-07-11T15:32:41-03:00","pagador":{"cpf":"***.982.247-**","nome":"Maria da Silva"}}]}"#,
        0,
    ),
    // A charge paid with no payer at all.
    inline(
        "charge_paid_without_payer",
        "charge.paid",
        r#"{"pix":[{"endToEndId":"E18236120202507141000pay00000001","txid":"pg3f1c2b4a5d6e7f8091a2b3c4d5e6f7081","valor":"99999999.99","horario":"2025-07-14T10:00:05Z"}]}"#,
        1,
    ),
    // A refund not made, without its rtrId, its reason or a time of its own.
    inline(
        "refund_not_made_sparse",
        "pix.transfer.failed",
        r#"{"pix":[{"endToEndId":"E18236120202507131100zyxwvutsrqp","valor":"75.00","horario":"2025-07-13T11:00:00Z","devolucoes":[{"id":"r1","valor":"75.00","status":"NAO_REALIZADO"}]}]}"#,
        1,
    ),
    inline(
        "unrecognized_shape",
        "bacen-pix.unrecognized",
        r#"{"pix":[{"valor":12.5}]}"#,
        0,
    ),
    inline(
        "unrecognized_amount",
        "bacen-pix.unrecognized",
        r#"{"pix":[{"endToEndId":"E18236120202507111532s0123456789","valor":"10,00","horario":"2025-07-11T15:32:41Z"}]}"#,
        0,
    ),
    inline(
        "unrecognized_missing_end_to_end_id",
        "bacen-pix.unrecognized",
        r#"{"pix":[{"endToEndId":" ","valor":"10.00","horario":"2025-07-11T15:32:41Z"}]}"#,
        0,
    ),
];

/// Every type the API Pix's normalizer can produce.
const EVERY_TYPE: [&str; 5] = [
    "pix.received",
    "charge.paid",
    "pix.transfer.completed",
    "pix.transfer.failed",
    "bacen-pix.unrecognized",
];

fn body(case: &Case) -> Vec<u8> {
    match case.body {
        Body::Inline(text) => text.as_bytes().to_vec(),
        Body::Fixture(name) => fixture(name),
    }
}

fn normalize(case: &Case) -> NormalizedEvent {
    let headers = HeaderMap::new();
    let body = body(case);
    let request = InboundRequest {
        path: "/token/pix",
        headers: &headers,
        body: &body,
    };
    let mut events = source().normalize(&request).unwrap();
    assert!(events.len() > case.index, "{}: {events:?}", case.name);
    events.swap_remove(case.index)
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_event_type_serializes_its_data_to_the_golden_bytes() {
    let cases = CASES
        .iter()
        .map(|case| GoldenCase {
            name: case.name,
            event_type: case.event_type,
            event: normalize(case),
        })
        .collect();
    assert_golden(&golden_dir(), &EVERY_TYPE, cases);
}
