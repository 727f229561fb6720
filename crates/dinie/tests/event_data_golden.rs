//! Golden data of every event type Dinie's normalizer produces.
//!
//! Each case is a documented Dinie body (the catalogue of the normalizer's own tests, plus the edge
//! cases that decide between a null, an absent key and a provider's own text); its normalized
//! `data` must serialize to exactly the bytes of `tests/golden/<case>.json`, which were written by
//! the normalizer that built `data` as a `serde_json::Value`. That is what is stored in
//! `event.data` and sent to partners, so events stored before a change and after it look alike.
//!
//! The notion of "the same bytes" is the canonical serialization: objects with their keys in
//! sorted order, as serde_json writes a `Value` without `preserve_order`. The stored column is
//! Postgres `jsonb`, which keeps no key order anyway; the test checks both that `data` serializes to
//! the golden text as it is, and that it is already in that canonical form (the same text after a
//! round through `serde_json::Value`), so raw bytes written straight from `data` match too.
//!
//! `GOLDEN_UPDATE=1 cargo test -p dinie --test event_data_golden` rewrites the golden files from the
//! current normalizer; without it, any difference fails with both texts.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed set-up must abort it"
)]

mod support;

use std::path::PathBuf;

use providers::NormalizedEvent;
use providers_testkit::{GoldenCase, assert_golden};

/// The customer template of the catalogue, `%S` its status.
const CUSTOMER: &str = r#""id":"cust_1","status":"%S","cpf":"529.982.247-25","cnpj":null,"name":"Maria","email":"m@x.com","phone":"+5511999999999","trading_name":null,"external_id":"user-1","kyc":[{"kind":"document","type":"identity_card_front","description":"RG","message":null,"uploaded_at":null}]"#;

/// A case: its golden file's name, the gateway type it must normalize to, and the Dinie body.
struct Case {
    name: &'static str,
    event_type: &'static str,
    body: String,
}

fn case(name: &'static str, event_type: &'static str, body: &str) -> Case {
    Case {
        name,
        event_type,
        body: body.to_owned(),
    }
}

fn customer_body(event_type: &str, status: &str) -> String {
    format!(
        r#"{{"type":"{event_type}","timestamp":"2026-03-04T12:00:00Z","data":{{{}}}}}"#,
        CUSTOMER.replace("%S", status)
    )
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "customer_created",
            event_type: "customer.created",
            body: customer_body("customer.created", "pending_kyc"),
        },
        case(
            "customer_under_review",
            "customer.under_review",
            r#"{"type":"customer.under_review","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"under_review","external_id":"user-1"}}"#,
        ),
        Case {
            name: "customer_kyc_updated",
            event_type: "customer.kyc_updated",
            body: customer_body("customer.kyc_updated", "pending_kyc"),
        },
        case(
            "customer_active",
            "customer.active",
            r#"{"type":"customer.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"active","external_id":null}}"#,
        ),
        case(
            "customer_active_with_external_id",
            "customer.active",
            r#"{"type":"customer.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"active","external_id":"user-7"}}"#,
        ),
        case(
            "customer_denied",
            "customer.denied",
            r#"{"id":"evt_1","type":"customer.denied","api_version":"2026-03-01","created_at":1772625600,"delivery_id":"dlv_1","timestamp":1772625600,"data":{"id":"cust_1","external_id":"user-1","name":"Maria","email":"m@x.com","phone":"+5511999999999","cpf":"52998224725","status":"denied"}}"#,
        ),
        // A company: the CNPJ wins over the CPF; `creating` is still onboarding; KYC items in the
        // SDK's spelling, one of a type without a neutral name, with a status.
        case(
            "customer_created_company_creating",
            "customer.created",
            r#"{"type":"customer.created","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_2","status":"creating","cpf":"52998224725","cnpj":"11.222.333/0001-81","kyc":[{"kind":"document","requirement_type":"cnh","status":"pending"},{"type":"proof_of_address"},{}]}}"#,
        ),
        // An unknown status is kept as sent; an empty CNPJ falls back to the CPF, an invalid one is
        // left out; no KYC list, no external id.
        case(
            "customer_under_review_unknown_status_invalid_document",
            "customer.under_review",
            r#"{"type":"customer.under_review","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_3","status":"suspended","cpf":"111.111.111-11","cnpj":""}}"#,
        ),
        case(
            "customer_kyc_updated_empty_kyc_no_status",
            "customer.kyc_updated",
            r#"{"type":"customer.kyc_updated","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_4","kyc":[]}}"#,
        ),
        case(
            "credit_offer_available",
            "credit_offer.available",
            r#"{"type":"credit_offer.available","timestamp":"2026-03-04T12:00:00Z","data":{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":"50000.00","min_amount":"1000.00","interest_rate":3.5,"installments":12,"due_date_rule":null,"valid_until":"2026-04-01T23:59:59Z"}}"#,
        ),
        case(
            "credit_offer_expired",
            "credit_offer.expired",
            r#"{"type":"credit_offer.expired","timestamp":1772625600,"data":{"id":"co_1","customer_id":"cust_1","status":"expired","approved_amount":50000.1,"min_amount":1000,"monthly_interest_rate":3.5,"max_installments":12,"valid_until":1775087999}}"#,
        ),
        // Fractional seconds are cut; an unknown status is kept as sent; the rest is absent.
        case(
            "credit_offer_available_minimal",
            "credit_offer.available",
            r#"{"type":"credit_offer.available","timestamp":"2026-03-04T12:00:00Z","data":{"id":"co_2","status":"Pre_Approved","interest_rate":"1.990","valid_until":"2026-04-01T23:59:59.750Z","external_id":"offer-ext"}}"#,
        ),
        case(
            "loan_created",
            "loan.created",
            r#"{"type":"loan.created","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","requested_amount":"25000.00","number_of_installments":6}}"#,
        ),
        case(
            "loan_contract_generated",
            "loan.contract_generated",
            r#"{"type":"loan.contract_generated","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"contract_generated","ccb_number":"CCB-2026-001234","signing_url":"https://app.clicksign.com/sign/x"}}"#,
        ),
        case(
            "loan_awaiting_signatures",
            "loan.awaiting_signatures",
            r#"{"type":"loan.awaiting_signatures","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"awaiting_signatures","signing_url":"https://app.clicksign.com/sign/x"}}"#,
        ),
        case(
            "loan_signature_received",
            "loan.awaiting_signatures",
            r#"{"type":"loan.signature_received","timestamp":1772625600,"data":{"id":"ln_1","status":"awaiting_signatures","signer":{"name":"Maria","cpf":"52998224725","signed_at":1772625500},"signatures_received":1,"signatures_required":2}}"#,
        ),
        case(
            "loan_signature_received_minimal",
            "loan.awaiting_signatures",
            r#"{"type":"loan.signature_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"awaiting_signatures"}}"#,
        ),
        case(
            "loan_signed",
            "loan.signed",
            r#"{"type":"loan.signed","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"signed","ccb_number":"CCB-2026-001234"}}"#,
        ),
        case(
            "loan_disbursing",
            "loan.disbursing",
            r#"{"type":"loan.disbursing","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"disbursing","customer_id":"cust_1","disbursement_method":"pix","net_amount":"24250.00"}}"#,
        ),
        case(
            "loan_processing",
            "loan.disbursing",
            r#"{"type":"loan.processing","timestamp":1772625600,"data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","ccb_number":"CCB-1","disbursement_method":"pix"}}"#,
        ),
        case(
            "loan_active",
            "loan.active",
            r#"{"type":"loan.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","requested_amount":"25000.00","net_amount":"24250.01"}}"#,
        ),
        case(
            "loan_active_numbers",
            "loan.active",
            r#"{"type":"loan.active","timestamp":1772625600,"data":{"id":"ln_1","status":"active","requested_amount":25000,"principal_amount":25000.55}}"#,
        ),
        case(
            "loan_payment_received",
            "loan.payment_received",
            r#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","payment":{"amount":"2291.67","paid_at":"2026-03-04T11:59:58Z","installment_number":1}}}"#,
        ),
        // A payment with its amount only; the SDK's `installment_count`; no status.
        case(
            "loan_payment_received_minimal",
            "loan.payment_received",
            r#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_2","installment_count":24,"payment":{"amount":100.5}}}"#,
        ),
        case(
            "loan_finished",
            "loan.finished",
            r#"{"type":"loan.finished","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"finished"}}"#,
        ),
        case(
            "loan_cancelled",
            "loan.cancelled",
            r#"{"type":"loan.cancelled","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"cancelled"}}"#,
        ),
        case(
            "loan_error",
            "loan.error",
            r#"{"type":"loan.error","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"error","error":{"code":"disbursement_failed","message":"x"}}}"#,
        ),
        // An unknown status kept as sent, an error without a code, a signature at a fractional
        // second (cut).
        case(
            "loan_error_unknown_status",
            "loan.error",
            r#"{"type":"loan.error","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_3","status":"restructuring","error":{"message":"x"},"signer":{"signed_at":"2026-03-04T11:58:20.987Z"}}}"#,
        ),
        case(
            "unrecognized",
            "dinie.unrecognized",
            r#"{"type":"loan.restructured","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_9","whatever":1.5}}"#,
        ),
        case(
            "unrecognized_without_id",
            "dinie.unrecognized",
            r#"{"type":"account.opened","timestamp":"2026-03-04T12:00:00Z","data":[1,2]}"#,
        ),
    ]
}

/// Every type Dinie's normalizer can produce.
const EVERY_TYPE: [&str; 18] = [
    "customer.created",
    "customer.under_review",
    "customer.kyc_updated",
    "customer.active",
    "customer.denied",
    "credit_offer.available",
    "credit_offer.expired",
    "loan.created",
    "loan.contract_generated",
    "loan.awaiting_signatures",
    "loan.signed",
    "loan.disbursing",
    "loan.active",
    "loan.payment_received",
    "loan.finished",
    "loan.cancelled",
    "loan.error",
    "dinie.unrecognized",
];

fn normalize(body: &str) -> NormalizedEvent {
    let mut events = support::normalize(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 1, "{body}");
    events.remove(0)
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_event_type_serializes_its_data_to_the_golden_bytes() {
    let cases = cases()
        .into_iter()
        .map(|case| GoldenCase {
            name: case.name,
            event_type: case.event_type,
            event: normalize(&case.body),
        })
        .collect();
    assert_golden(&golden_dir(), &EVERY_TYPE, cases);
}
