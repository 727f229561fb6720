//! Dinie's business rules and errors, as the client reports them: each maps to its
//! `ProviderError` with Dinie's own code.

use chrono::Duration as TimeDelta;
use providers::{
    CreditOfferStatus, CustomerStatus, KycDocumentUpload, LoanStatus, Money, NewLoan,
    ProviderError, SimulationRequest,
};
use rust_decimal::Decimal;

use crate::{Setup, key, new_customer, setup};

fn brl(text: &str) -> Money {
    Money::brl(Decimal::from_str_exact(text).unwrap())
}

fn rejected_code(error: &ProviderError) -> (u16, &str) {
    match error {
        ProviderError::Rejected { status, code, .. } => (*status, code.as_str()),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

fn upload(kind: &str) -> KycDocumentUpload {
    KycDocumentUpload {
        kind: kind.into(),
        file_name: format!("{kind}.png"),
        content_type: "image/png".into(),
        bytes: vec![0x89, b'P', b'N', b'G'],
    }
}

/// A customer through KYC and approval, with its credit offer id.
async fn approved_customer(setup: &Setup, seed: u32) -> (String, String) {
    let customer = setup
        .client
        .create_customer(&new_customer(seed, &format!("user-{seed}")), &key())
        .await
        .unwrap();
    assert_eq!(customer.status, CustomerStatus::PendingKyc);
    for kind in ["identity_front", "selfie"] {
        setup
            .client
            .upload_document(&customer.id, &upload(kind), &key())
            .await
            .unwrap();
    }
    let reviewed = setup.client.get_customer(&customer.id).await.unwrap();
    assert_eq!(reviewed.status, CustomerStatus::UnderReview);
    setup.sim.approve_customer(&customer.id).await.unwrap();
    let offers = setup.client.list_customer_credit_offers(&customer.id);
    let offers: Vec<_> = futures::TryStreamExt::try_collect(offers).await.unwrap();
    assert_eq!(offers.len(), 1);
    (customer.id, offers[0].id.clone())
}

#[tokio::test]
async fn the_same_cpf_with_another_external_id_is_a_conflict_and_with_the_same_one_the_same_customer()
 {
    let setup = setup().await;
    let first = setup
        .client
        .create_customer(&new_customer(10, "user-10"), &key())
        .await
        .unwrap();

    let same = setup
        .client
        .create_customer(&new_customer(10, "user-10"), &key())
        .await
        .unwrap();
    let other = setup
        .client
        .create_customer(&new_customer(10, "someone-else"), &key())
        .await
        .unwrap_err();

    assert_eq!(same.id, first.id);
    assert!(
        matches!(&other, ProviderError::Conflict { code, .. } if code == "customer_already_exists"),
        "{other:?}"
    );
}

#[tokio::test]
async fn a_document_type_not_requested_is_rejected() {
    let setup = setup().await;
    let customer = setup
        .client
        .create_customer(&new_customer(11, "user-11"), &key())
        .await
        .unwrap();
    let error = setup
        .client
        .upload_document(&customer.id, &upload("passport"), &key())
        .await
        .unwrap_err();
    let ProviderError::Rejected {
        status,
        code,
        field_errors,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*status, code.as_str()), (422, "invalid_document_type"));
    assert_eq!(field_errors[0].param, "type");
}

#[tokio::test]
async fn simulation_rules_are_enforced() {
    let setup = setup().await;
    let (_, offer_id) = approved_customer(&setup, 12).await;
    let request = |amount: &str, installments| SimulationRequest {
        amount: brl(amount),
        installments,
        first_due_date: None,
    };

    let too_much = setup
        .client
        .create_simulation(&offer_id, &request("50000.01", 12), &key())
        .await
        .unwrap_err();
    let too_little = setup
        .client
        .create_simulation(&offer_id, &request("999.99", 12), &key())
        .await
        .unwrap_err();
    let wrong_term = setup
        .client
        .create_simulation(&offer_id, &request("5000.00", 7), &key())
        .await
        .unwrap_err();
    let fine = setup
        .client
        .create_simulation(&offer_id, &request("25000.00", 12), &key())
        .await
        .unwrap();

    assert_eq!(rejected_code(&too_much), (422, "amount_out_of_range"));
    assert_eq!(rejected_code(&too_little), (422, "amount_out_of_range"));
    assert_eq!(
        rejected_code(&wrong_term),
        (422, "invalid_installment_count")
    );
    assert_eq!(fine.amount, brl("25000.00"));
    assert_eq!(fine.net_amount, Some(brl("24250.00")));
    assert_eq!(fine.installments, 12);
}

#[tokio::test]
async fn only_the_latest_simulation_can_become_a_loan_and_only_once() {
    let setup = setup().await;
    let (customer_id, offer_id) = approved_customer(&setup, 13).await;
    let simulate = |amount: &str| SimulationRequest {
        amount: brl(amount),
        installments: 12,
        first_due_date: None,
    };
    let older = setup
        .client
        .create_simulation(&offer_id, &simulate("10000.00"), &key())
        .await
        .unwrap();
    let latest = setup
        .client
        .create_simulation(&offer_id, &simulate("20000.00"), &key())
        .await
        .unwrap();
    let loan_from = |simulation_id: &str| NewLoan {
        credit_offer_id: offer_id.clone(),
        simulation_id: simulation_id.to_owned(),
        customer_id: customer_id.clone(),
    };

    let mismatch = setup
        .client
        .create_loan(&loan_from(&older.id), &key())
        .await
        .unwrap_err();
    let loan = setup
        .client
        .create_loan(&loan_from(&latest.id), &key())
        .await
        .unwrap();
    let twice = setup
        .client
        .create_loan(&loan_from(&latest.id), &key())
        .await
        .unwrap_err();

    assert_eq!(rejected_code(&mismatch), (422, "simulation_mismatch"));
    assert_eq!(loan.status, LoanStatus::Processing);
    assert_eq!(loan.requested_amount, brl("20000.00"));
    assert!(
        matches!(&twice, ProviderError::Conflict { code, .. } if code == "offer_already_accepted"),
        "{twice:?}"
    );
    let offer = setup.client.get_credit_offer(&offer_id).await.unwrap();
    assert_eq!(offer.status, CreditOfferStatus::Accepted);
}

#[tokio::test]
async fn an_expired_offer_cannot_be_simulated() {
    let setup = setup().await;
    let (_, offer_id) = approved_customer(&setup, 14).await;
    setup.sim.expire_offer(&offer_id).await.unwrap();

    let error = setup
        .client
        .create_simulation(
            &offer_id,
            &SimulationRequest {
                amount: brl("5000.00"),
                installments: 12,
                first_due_date: None,
            },
            &key(),
        )
        .await
        .unwrap_err();

    assert_eq!(rejected_code(&error), (422, "offer_expired"));
}

#[tokio::test]
async fn an_offer_past_its_validity_expires_by_itself() {
    let setup = setup().await;
    let (_, offer_id) = approved_customer(&setup, 15).await;
    setup
        .sim
        .advance_clock((TimeDelta::days(31)).to_std().unwrap());

    let offer = setup.client.get_credit_offer(&offer_id).await.unwrap();

    assert_eq!(offer.status, CreditOfferStatus::Expired);
}

#[tokio::test]
async fn a_loan_for_a_customer_without_kyc_is_refused() {
    let setup = setup().await;
    let customer = setup
        .client
        .create_customer(&new_customer(16, "user-16"), &key())
        .await
        .unwrap();
    let offer_id = setup.sim.create_offer(&customer.id).await.unwrap();
    let simulation = setup
        .client
        .create_simulation(
            &offer_id,
            &SimulationRequest {
                amount: brl("5000.00"),
                installments: 12,
                first_due_date: None,
            },
            &key(),
        )
        .await
        .unwrap();

    let error = setup
        .client
        .create_loan(
            &NewLoan {
                credit_offer_id: offer_id,
                simulation_id: simulation.id,
                customer_id: customer.id,
            },
            &key(),
        )
        .await
        .unwrap_err();

    assert_eq!(rejected_code(&error), (422, "kyc_incomplete"));
}

#[tokio::test]
async fn an_amount_with_more_than_two_decimals_is_refused_before_it_is_sent() {
    let setup = setup().await;
    let error = setup
        .client
        .create_simulation(
            "co_x",
            &SimulationRequest {
                amount: brl("100.001"),
                installments: 12,
                first_due_date: None,
            },
            &key(),
        )
        .await
        .unwrap_err();
    assert_eq!(rejected_code(&error), (422, "invalid_amount"));
    assert!(setup.sim.requests().await.is_empty());
}

#[tokio::test]
async fn a_whole_loan_runs_to_finished_with_its_installments_paid() {
    let setup = setup().await;
    let (customer_id, offer_id) = approved_customer(&setup, 17).await;
    let simulation = setup
        .client
        .create_simulation(
            &offer_id,
            &SimulationRequest {
                amount: brl("12000.00"),
                installments: 12,
                first_due_date: None,
            },
            &key(),
        )
        .await
        .unwrap();
    let loan = setup
        .client
        .create_loan(
            &NewLoan {
                credit_offer_id: offer_id,
                simulation_id: simulation.id.clone(),
                customer_id,
            },
            &key(),
        )
        .await
        .unwrap();

    setup.sim.finish_loan(&loan.id).await.unwrap();

    let finished = setup.client.get_loan(&loan.id).await.unwrap();
    assert_eq!(finished.status, LoanStatus::Finished);
    assert_eq!(finished.net_amount, simulation.net_amount);
    let installments = setup.client.list_installments(&loan.id).await.unwrap();
    assert_eq!(installments.len(), 12);
    assert!(
        installments
            .iter()
            .all(|installment| installment.status == "paid")
    );
    let numbers: Vec<u32> = installments.iter().map(|i| i.number).collect();
    assert_eq!(numbers, (1..=12).collect::<Vec<u32>>());
    let total = installments
        .iter()
        .try_fold(Money::brl(Decimal::ZERO), |sum, installment| {
            sum.checked_add(installment.amount)
        })
        .unwrap();
    assert_eq!(total, simulation.total_amount);
}
