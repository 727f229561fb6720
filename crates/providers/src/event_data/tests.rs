use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use crate::event_data::{
    AccountData, AccountHolder, AccountKind, AccountState, AccountStatusUpdatedData,
    AccountTransferData, ChargeData, ChargePayer, CreditOfferData, CustomerData, EventData,
    EventParty, KycRequirement, LoanData, LoanPayment, PartyDocument, PixFailure,
    PixInfractionData, PixOperation, PixReceivedData, PixRefundData, PixTransferData,
    ReconciliationData, ReconciliationStatus, Reported, SettlementStatus, SubscriptionDisabledData,
    Unmapped, UnrecognizedData,
};
use crate::{
    AccountStatus, CreditOfferStatus, CustomerStatus, Document, EventType, LoanStatus, Money,
    ProviderName, ReconciliationItemId, SubscriptionId,
};

fn brl(text: &str) -> Money {
    Money::parse(text, crate::Currency::Brl).unwrap()
}

fn cpf() -> Document {
    Document::parse("529.982.247-25").unwrap()
}

fn party() -> EventParty {
    EventParty {
        account: Some("29823".to_owned()),
        account_type: Some(Reported::Known(AccountKind::Current)),
        branch: Some("0001".to_owned()),
        document: Some(PartyDocument::Valid(cpf())),
        institution: Some("DELCRED".to_owned()),
        ispb: Some("38224857".to_owned()),
        name: Some("MARIA".to_owned()),
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

/// One value of every variant with every field present, and the type it is the data of.
pub(super) fn full_samples() -> Vec<(EventType, EventData)> {
    let unrecognized = EventType::Unrecognized(ProviderName::from_static("delbank"));
    vec![
        (
            EventType::CustomerCreated,
            EventData::Customer(CustomerData {
                customer_id: "cust_1".to_owned(),
                document: Some(cpf()),
                external_id: Some("user-1".to_owned()),
                kyc: Some(vec![KycRequirement {
                    kind: Some("document".to_owned()),
                    status: Some("pending".to_owned()),
                    document_type: Some("identity_front".to_owned()),
                }]),
                status: Some(Reported::Known(CustomerStatus::PendingKyc)),
            }),
        ),
        (
            EventType::CreditOfferAvailable,
            EventData::CreditOffer(CreditOfferData {
                approved_amount: Some(brl("50000")),
                credit_offer_id: "co_1".to_owned(),
                customer_id: Some("cust_1".to_owned()),
                installments: Some(12),
                min_amount: Some(brl("1000")),
                monthly_interest_rate: Some(Decimal::new(1990, 3)),
                status: Some(Reported::Known(CreditOfferStatus::Available)),
                valid_until: Some(at()),
            }),
        ),
        (
            EventType::LoanPaymentReceived,
            EventData::Loan(LoanData {
                ccb_number: Some("CCB-1".to_owned()),
                credit_offer_id: Some("co_1".to_owned()),
                customer_id: Some("cust_1".to_owned()),
                disbursement_method: Some("pix".to_owned()),
                error_code: Some("x".to_owned()),
                installments: Some(6),
                loan_id: "ln_1".to_owned(),
                net_amount: Some(brl("24250")),
                payment: Some(LoanPayment {
                    amount: brl("2291.67"),
                    installment_number: Some(1),
                    paid_at: Some(at()),
                }),
                principal_amount: Some(brl("25000")),
                requested_amount: Some(brl("25000")),
                signatures_received: Some(1),
                signatures_required: Some(2),
                signed_at: Some(at()),
                signing_url: Some("https://sign".to_owned()),
                status: Some(Reported::Known(LoanStatus::Active)),
            }),
        ),
        (
            EventType::ChargePaid,
            EventData::Charge(ChargeData {
                amount: brl("199.9"),
                correlation_id: "c-1".to_owned(),
                digitable_line: Some("3829".to_owned()),
                due_date: NaiveDate::from_ymd_opt(2025, 1, 28),
                end_to_end_id: Some("E1".to_owned()),
                our_number: Some("00012345".to_owned()),
                payee: Some(party()),
                payer: ChargePayer {
                    account: Some(party()),
                    document: Some(PartyDocument::Masked("***876977**".to_owned())),
                    name: Some("CARLOS".to_owned()),
                },
                payment_id: "4567".to_owned(),
                source: Some("SPI".to_owned()),
                version: 1,
            }),
        ),
        (
            EventType::PixReceived,
            EventData::PixReceived(PixReceivedData {
                amount: brl("12.12"),
                correlation_id: Some("S1".to_owned()),
                end_to_end_id: "E1".to_owned(),
                payee: Some(party()),
                payer: Some(party()),
                received_at: at(),
                status: Some(Reported::Known(SettlementStatus::PixEffective)),
            }),
        ),
        (
            EventType::PixTransferFailed,
            EventData::PixTransfer(PixTransferData {
                amount: brl("5.00001"),
                beneficiary: Some(party()),
                end_to_end_id: Some("D1".to_owned()),
                failure: Some(PixFailure {
                    code: Some("AC06".to_owned()),
                    description: Some("Conta bloqueada".to_owned()),
                }),
                idempotency_key: Some("k".to_owned()),
                operation: PixOperation::Refund,
                original_end_to_end_id: Some("E1".to_owned()),
                payer: Some(party()),
                status: Reported::Known(SettlementStatus::PixError),
            }),
        ),
        (
            EventType::PixRefundReceived,
            EventData::PixRefund(PixRefundData {
                account: Some("29823".to_owned()),
                amount: brl("10.01"),
                end_to_end_id: "D1".to_owned(),
                original_end_to_end_id: Some("E1".to_owned()),
                payee: Some(party()),
                payer: Some(party()),
                reason: Some("pedido".to_owned()),
                refund_code: Some("MD06".to_owned()),
            }),
        ),
        (
            EventType::AccountApproved,
            EventData::Account(AccountData {
                account: Some("31712".to_owned()),
                holder: AccountHolder {
                    document: PartyDocument::Valid(cpf()),
                    name: Some("MARIA".to_owned()),
                },
                status: AccountStatus::Approved,
            }),
        ),
        (
            EventType::AccountStatusUpdated,
            EventData::AccountStatusUpdated(AccountStatusUpdatedData {
                account: "999999".to_owned(),
                status: Reported::Known(AccountState::PendingDocumentation),
            }),
        ),
        (
            EventType::AccountTransferDebited,
            EventData::AccountTransfer(AccountTransferData {
                amount: brl("0.01"),
                beneficiary: Some(party()),
                external_id: Some("order-77".to_owned()),
                payer: Some(party()),
                status: Some(Reported::Known(SettlementStatus::Effective)),
                transfer_id: "t-1".to_owned(),
            }),
        ),
        (
            EventType::PixInfractionCreated,
            EventData::PixInfraction(PixInfractionData {
                credited_ispb: Some("38224857".to_owned()),
                debited_ispb: Some("18236120".to_owned()),
                end_to_end_id: Some("E1".to_owned()),
                infraction_id: "inf-1".to_owned(),
                reason: Some("FRAUD".to_owned()),
                status: Some("PENDING".to_owned()),
                infraction_type: Some("SCAM_FRAUD".to_owned()),
            }),
        ),
        (
            EventType::SubscriptionDisabled,
            EventData::SubscriptionDisabled(SubscriptionDisabledData {
                reason: "the endpoint answered 410 Gone".to_owned(),
                subscription_id: SubscriptionId::new(),
                url: "https://partner.example/hooks".to_owned(),
            }),
        ),
        (
            EventType::ReconciliationAmountMismatch,
            EventData::Reconciliation(ReconciliationData {
                document: "***.982.247-**".to_owned(),
                expected_amount: Some(brl("100")),
                item_id: ReconciliationItemId::new(),
                observed_amount: Some(brl("99.99")),
                status: ReconciliationStatus::AmountMismatch,
            }),
        ),
        (
            unrecognized,
            EventData::Unrecognized(UnrecognizedData {
                unmapped: Some(Unmapped {
                    reason: "missing amount".to_owned(),
                    registered_event_type: Some("PIX_RECEIVED".to_owned()),
                }),
            }),
        ),
    ]
}

#[test]
fn every_struct_writes_its_keys_in_the_canonical_order() {
    for (event_type, data) in full_samples() {
        let direct = serde_json::to_string(&data).unwrap();
        let canonical = serde_json::to_string(&serde_json::to_value(&data).unwrap()).unwrap();
        assert_eq!(direct, canonical, "{event_type}");
    }
}

#[test]
fn stored_data_reads_back_as_the_same_value() {
    for (event_type, data) in full_samples() {
        let stored = serde_json::from_str(&serde_json::to_string(&data).unwrap()).unwrap();
        let back = EventData::from_stored(&event_type, stored).unwrap();
        assert_eq!(back, data, "{event_type}");
        assert_eq!(back.to_json(), serde_json::to_value(&data).unwrap());
    }
}

#[test]
fn money_is_an_object_with_a_decimal_string_in_every_variant() {
    for (event_type, data) in full_samples() {
        let json = data.to_json();
        if let Some(amount) = data.amount() {
            assert_eq!(
                json["amount"],
                json!({"amount": amount.to_minor_units_string(), "currency": "BRL"}),
                "{event_type}"
            );
        }
    }
    let loan = &full_samples()[2].1;
    assert_eq!(
        loan.to_json()["payment"]["amount"],
        json!({"amount": "2291.67", "currency": "BRL"})
    );
    assert_eq!(
        loan.to_json()["net_amount"],
        json!({"amount": "24250.00", "currency": "BRL"})
    );
}

#[test]
fn documents_are_bare_for_customers_and_flagged_for_parties() {
    let samples = full_samples();
    assert_eq!(samples[0].1.to_json()["document"], "52998224725");
    let charge = samples[3].1.to_json();
    assert_eq!(
        charge["payee"]["document"],
        json!({"kind": "cpf", "masked": false, "value": "52998224725"})
    );
    assert_eq!(
        charge["payer"]["document"],
        json!({"kind": null, "masked": true, "value": "***876977**"})
    );
    assert_eq!(
        PartyDocument::from_sent("11.222.333/0001-81"),
        PartyDocument::Valid(Document::parse("11222333000181").unwrap())
    );
    assert!(PartyDocument::from_sent("123").is_masked());
    // An unmasked document must be valid to be read back.
    let invalid = json!({"kind": "cpf", "masked": false, "value": "11111111111"});
    assert!(serde_json::from_value::<PartyDocument>(invalid).is_err());
}

#[test]
fn unknown_values_are_absent_in_credit_data_and_null_in_banking_data() {
    let loan = EventData::Loan(LoanData::new("ln_1"));
    assert_eq!(
        serde_json::to_string(&loan).unwrap(),
        r#"{"loan_id":"ln_1"}"#
    );
    let customer = EventData::Customer(CustomerData::new("cust_1"));
    assert_eq!(
        serde_json::to_string(&customer).unwrap(),
        r#"{"customer_id":"cust_1"}"#
    );
    let offer = EventData::CreditOffer(CreditOfferData::new("co_1"));
    assert_eq!(
        serde_json::to_string(&offer).unwrap(),
        r#"{"credit_offer_id":"co_1"}"#
    );
    assert_eq!(
        serde_json::to_string(&EventParty::default()).unwrap(),
        r#"{"account":null,"account_type":null,"branch":null,"document":null,"institution":null,"ispb":null,"name":null}"#
    );
    assert_eq!(
        serde_json::to_string(&EventData::Unrecognized(UnrecognizedData::default())).unwrap(),
        "{}"
    );
    let unmapped = EventData::Unrecognized(UnrecognizedData {
        unmapped: Some(Unmapped {
            reason: "event type not recognized".to_owned(),
            registered_event_type: None,
        }),
    });
    assert_eq!(
        serde_json::to_string(&unmapped).unwrap(),
        r#"{"reason":"event type not recognized","registered_event_type":null}"#
    );
    let unrecognized = EventType::Unrecognized(ProviderName::from_static("dinie"));
    assert_eq!(
        EventData::from_stored(&unrecognized, json!({})).unwrap(),
        EventData::Unrecognized(UnrecognizedData::default())
    );
}

#[test]
fn the_gateways_operational_events_keep_their_shapes() {
    let subscription_id = SubscriptionId::new();
    let disabled = EventData::SubscriptionDisabled(SubscriptionDisabledData {
        reason: "the endpoint answered 410 Gone".to_owned(),
        subscription_id,
        url: "https://partner.example/hooks".to_owned(),
    });
    let id = subscription_id.to_string();
    let expected = json!({"subscription_id": id, "url": "https://partner.example/hooks", "reason": "the endpoint answered 410 Gone"});
    assert_eq!(
        serde_json::to_string(&disabled).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    let item_id = ReconciliationItemId::new();
    let overdue = EventData::Reconciliation(ReconciliationData {
        document: "***.982.247-**".to_owned(),
        expected_amount: Some(brl("100")),
        item_id,
        observed_amount: None,
        status: ReconciliationStatus::Overdue,
    });
    let id = item_id.to_string();
    let expected = json!({
        "item_id": id,
        "status": "overdue",
        "document": "***.982.247-**",
        "expected_amount": Some(brl("100")),
        "observed_amount": Option::<Money>::None,
    });
    assert_eq!(
        serde_json::to_string(&overdue).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}

#[test]
fn statuses_are_closed_enums_with_the_providers_text_kept_when_unknown() {
    assert_eq!(
        Reported::<LoanStatus>::parse("awaiting_signatures"),
        Reported::Known(LoanStatus::AwaitingSignatures)
    );
    assert_eq!(
        Reported::<CreditOfferStatus>::parse("Pre_Approved"),
        Reported::Other("Pre_Approved".to_owned())
    );
    assert_eq!(
        Reported::<SettlementStatus>::parse("PIX_EFFECTIVE").known(),
        Some(SettlementStatus::PixEffective)
    );
    let other: Reported<AccountState> = Reported::Other("under_audit".to_owned());
    assert_eq!(serde_json::to_string(&other).unwrap(), r#""under_audit""#);
    assert_eq!(
        serde_json::from_str::<Reported<AccountState>>(r#""under_audit""#).unwrap(),
        other
    );
    assert_eq!(
        serde_json::to_string(&Reported::from(SettlementStatus::PixProcessing)).unwrap(),
        r#""PIX_PROCESSING""#
    );
    assert_eq!(
        serde_json::to_string(&Reported::from(AccountState::DocumentationDenied)).unwrap(),
        r#""documentation_denied""#
    );
}

#[test]
fn accessors_read_fields_not_keys() {
    let samples = full_samples();
    let customer = &samples[0].1;
    assert_eq!(customer.customer_id(), Some("cust_1"));
    assert_eq!(customer.document(), Some(&cpf()));
    let loan = &samples[2].1;
    assert_eq!(loan.loan_id(), Some("ln_1"));
    assert_eq!(loan.customer_id(), Some("cust_1"));
    assert_eq!(loan.requested_amount(), Some(brl("25000")));
    assert_eq!(loan.net_amount(), Some(brl("24250")));
    assert_eq!(loan.amount(), None);
    let received = &samples[4].1;
    assert_eq!(received.end_to_end_id(), Some("E1"));
    assert_eq!(received.amount(), Some(brl("12.12")));
    let payee = received.payee().unwrap();
    assert_eq!(payee.valid_document(), Some(&cpf()));
    assert_eq!(payee.branch.as_deref(), Some("0001"));
    assert_eq!(payee.account.as_deref(), Some("29823"));
    assert_eq!(payee.ispb.as_deref(), Some("38224857"));
    let payer = received.payer().unwrap();
    assert_eq!(payer.name.as_deref(), Some("MARIA"));
    assert!(received.as_pix_received().is_some());
    assert!(received.as_loan().is_none());
    assert_eq!(received.customer_id(), None);
    let charge = &samples[3].1;
    assert_eq!(charge.payer(), Some(&party()));
    assert_eq!(
        EventData::PixReceived(PixReceivedData {
            payee: Some(EventParty {
                document: Some(PartyDocument::Masked("***".to_owned())),
                ..EventParty::default()
            }),
            ..samples[4].1.as_pix_received().unwrap().clone()
        })
        .payee()
        .unwrap()
        .valid_document(),
        None
    );
}

#[test]
fn debug_shows_the_variant_never_the_data() {
    for (event_type, data) in full_samples() {
        let debug = format!("{data:?}");
        assert!(debug.contains(data.variant_name()), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
        for secret in ["52998224725", "MARIA", "29823", "E1"] {
            assert!(!debug.contains(secret), "{event_type}: {debug}");
        }
    }
    assert_eq!(format!("{:?}", party()), "EventParty([REDACTED])");
    assert_eq!(
        format!("{:?}", PartyDocument::Valid(cpf())),
        "PartyDocument([REDACTED])"
    );
}

#[test]
fn stored_data_of_the_wrong_shape_is_an_error() {
    assert!(EventData::from_stored(&EventType::LoanActive, json!({"id": "ln_1"})).is_err());
    assert!(
        EventData::from_stored(
            &EventType::PixReceived,
            json!({"amount": {"amount": "1.00", "currency": "BRL"}})
        )
        .is_err()
    );
    assert!(EventData::from_stored(&EventType::CustomerActive, json!([1])).is_err());
}
