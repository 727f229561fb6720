//! The Delbank client against the simulator, in-process on 127.0.0.1 over real HTTP: idempotency
//! keys across retries, which calls are retried, pagination streams, error mapping, timeouts, and
//! webhook self-registration.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed set-up must abort the test"
)]

mod conformance;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use delbank::client::{ChargeFilter, StatementFilter};
use delbank::{AuthScheme, Client, Config, Registrar};
use delbank_sim::{PixIn, SimAccount, SimConfig, SimHandle};
use futures::TryStreamExt;
use providers::{
    AccountDocument, AccountDocumentKind, AccountStatus, BankingProvider, ChargeKind, ChargeStatus,
    Document, IdempotencyKey, Money, NewAccount, NewCharge, NewPixKey, PageRequest, PixDestination,
    PixEndToEndId, PixKeyKind, PixRefundRequest, PixTransferRequest, PixTransferStatus,
    ProviderError, WebhookRegistration,
};
use rust_decimal::Decimal;
use secrecy::SecretString;

const OTHER_ACCOUNT: &str = "29823";

async fn sim() -> SimHandle {
    let mut config = SimConfig::standard();
    config.accounts.push(SimAccount {
        api_key: "sim-key-29823".to_owned(),
        number: OTHER_ACCOUNT.to_owned(),
        branch: "0001".to_owned(),
        holder_name: "OUTRA EMPRESA LTDA".to_owned(),
        holder_document: "11444777000161".to_owned(),
        balance: Decimal::new(50_000, 2),
    });
    config.refund_spacing = Duration::from_millis(200);
    delbank_sim::start(config).await.expect("simulator starts")
}

fn config(sim: &SimHandle) -> Config {
    Config {
        enabled: true,
        base_url: sim.base_url().to_owned(),
        api_key: SecretString::from("sim-key-31712"),
        account_id: "31712".to_owned(),
        timeout_secs: 5,
        retries: 2,
        retry_base_delay_ms: 10,
        webhook_scheme: AuthScheme::Bearer,
        webhooks: Vec::new(),
        confirm_by_fetch: true,
    }
}

fn client(sim: &SimHandle) -> Client {
    Client::new(&config(sim)).unwrap()
}

fn brl(text: &str) -> Money {
    Money::brl(Decimal::from_str_exact(text).unwrap())
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

fn pix_charge(amount: &str) -> NewCharge {
    NewCharge {
        kind: ChargeKind::PixDynamic,
        amount: brl(amount),
        payer: None,
        due_date: None,
        description: Some("pedido".to_owned()),
        correlation_id: None,
    }
}

fn requests_to(
    sim: &SimHandle,
    method: &str,
    path_prefix: &str,
) -> Vec<delbank_sim::RecordedRequest> {
    sim.control()
        .requests()
        .into_iter()
        .filter(|request| request.method == method && request.path.starts_with(path_prefix))
        .collect()
}

#[tokio::test]
async fn a_refund_retried_after_a_503_is_made_once() {
    let sim = sim().await;
    let client = client(&sim);
    let received = sim
        .control()
        .pix_in(PixIn {
            account: None,
            amount: Decimal::from_str_exact("40.00").unwrap(),
            correlation_id: None,
            payer_name: None,
            payer_document: None,
            payer_ispb: None,
        })
        .unwrap();
    let before = sim.control().balance("31712").unwrap();
    sim.control()
        .update_knobs(|knobs| knobs.fail_next_requests = 1);

    let refund = client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&received).unwrap(),
                amount: brl("15.00"),
                reason: Some("duplicado".to_owned()),
            },
            &key("refund-1"),
        )
        .await
        .unwrap();

    assert_eq!(refund.status, PixTransferStatus::Processing);
    assert!(
        refund
            .end_to_end_id
            .unwrap()
            .as_str()
            .starts_with("D38224857")
    );
    let puts = requests_to(&sim, "PUT", "/baas/api/v1/pix/");
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].idempotency_key, puts[1].idempotency_key);
    assert_eq!(
        sim.control().balance("31712").unwrap(),
        before - Decimal::from_str_exact("15.00").unwrap()
    );
}

#[tokio::test]
async fn creating_the_same_charge_twice_returns_the_first_one() {
    let sim = sim().await;
    let client = client(&sim);

    let first = client
        .create_charge(pix_charge("25.00"), &key("charge-2"))
        .await
        .unwrap();
    let again = client
        .create_charge(pix_charge("25.00"), &key("charge-2"))
        .await
        .unwrap();
    let different = client
        .create_charge(pix_charge("26.00"), &key("charge-2"))
        .await;

    assert_eq!(first, again);
    assert_eq!(first.status, ChargeStatus::Pending);
    assert_eq!(first.amount, brl("25.00"));
    assert!(first.pix_copy_paste.unwrap().starts_with("000201"));
    assert!(matches!(different, Err(ProviderError::Conflict { .. })));
}

#[tokio::test]
async fn the_charge_stream_follows_the_pagination_header_to_the_last_page() {
    let sim = sim().await;
    let client = client(&sim);
    for index in 0..7 {
        client
            .create_charge(pix_charge("1.00"), &key(&format!("page-{index}")))
            .await
            .unwrap();
    }

    let charges: Vec<_> = client
        .charges(ChargeFilter {
            start_date: None,
            end_date: None,
            page_size: 3,
        })
        .try_collect()
        .await
        .unwrap();

    assert_eq!(charges.len(), 7);
    let ids: HashSet<&str> = charges.iter().map(|charge| charge.id.as_str()).collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(requests_to(&sim, "GET", "/baas/v1/charges").len(), 3);

    let first = client
        .list_charges(PageRequest {
            cursor: None,
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 5);
    let second = client
        .list_charges(PageRequest {
            cursor: first.next_cursor.clone(),
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn the_statement_stream_reads_every_entry_after_an_nsu() {
    let sim = sim().await;
    let client = client(&sim);
    for amount in ["1.10", "2.20", "3.30", "4.40"] {
        sim.control()
            .pix_in(PixIn {
                account: None,
                amount: Decimal::from_str_exact(amount).unwrap(),
                correlation_id: None,
                payer_name: None,
                payer_document: None,
                payer_ispb: None,
            })
            .unwrap();
    }
    let all: Vec<_> = client
        .statement_entries(StatementFilter {
            account: None,
            after_nsu: None,
            page_size: 2,
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].amount, brl("4.40"));
    let oldest: u64 = all[3].id.parse().unwrap();

    let newer: Vec<_> = client
        .statement_entries(StatementFilter {
            account: None,
            after_nsu: Some(oldest),
            page_size: 2,
        })
        .try_collect()
        .await
        .unwrap();

    assert_eq!(newer.len(), 3);
    let balance = client.balance("31712").await.unwrap();
    assert_eq!(balance.available, brl("100011.00"));
}

#[tokio::test]
async fn delbank_problem_details_map_to_provider_errors() {
    let sim = sim().await;
    let client = client(&sim);
    let received = sim
        .control()
        .pix_in(PixIn {
            account: None,
            amount: Decimal::from_str_exact("5.00").unwrap(),
            correlation_id: None,
            payer_name: None,
            payer_document: None,
            payer_ispb: None,
        })
        .unwrap();

    let too_much = client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&received).unwrap(),
                amount: brl("6.00"),
                reason: None,
            },
            &key("refund-too-much"),
        )
        .await
        .unwrap_err();
    let missing = client.get_charge("no-such-charge").await.unwrap_err();

    let ProviderError::Rejected {
        status,
        param,
        message,
        field_errors,
        ..
    } = too_much
    else {
        panic!("expected a rejection: {too_much:?}");
    };
    assert_eq!(status, 400);
    assert_eq!(param.as_deref(), Some("amount"));
    assert!(message.contains("traceId 00-"), "{message}");
    assert!(field_errors[0].message.contains("exceeds"));
    assert_eq!(
        missing,
        ProviderError::NotFound {
            resource: "charge".to_owned(),
            code: Some("http_404".to_owned()),
        }
    );

    let mut wrong = config(&sim);
    wrong.api_key = SecretString::from("not-a-key");
    let unauthorized = Client::new(&wrong)
        .unwrap()
        .get_charge("x")
        .await
        .unwrap_err();
    assert!(matches!(unauthorized, ProviderError::Unauthorized { .. }));
}

#[tokio::test]
async fn a_pix_to_a_key_is_accepted_processing_then_settles_and_is_never_sent_twice() {
    let sim = sim().await;
    let client = client(&sim);
    let request = PixTransferRequest {
        amount: brl("12.12"),
        destination: PixDestination::Key("maria@example.com".to_owned()),
        description: Some("fornecedor".to_owned()),
    };

    let sent = client
        .send_pix(request.clone(), &key("pix-1"))
        .await
        .unwrap();
    let again = client.send_pix(request, &key("pix-1")).await.unwrap();

    assert_eq!(sent.status, PixTransferStatus::Processing);
    assert_eq!(again.id, sent.id);
    assert_eq!(requests_to(&sim, "POST", "/baas/api/v2/transfers").len(), 1);
    let end_to_end_id = sent.end_to_end_id.clone().unwrap();
    assert_eq!(end_to_end_id.ispb(), "38224857");
    let settled = wait_for_status(&client, &sent.id, PixTransferStatus::Completed).await;
    assert_eq!(settled.amount, brl("12.12"));
    let by_e2e = client
        .get_pix_transfer(end_to_end_id.as_str())
        .await
        .unwrap();
    assert_eq!(by_e2e.id, sent.id);
    let listed = client
        .list_pix_transfers(PageRequest {
            cursor: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].end_to_end_id, Some(end_to_end_id));
}

#[tokio::test]
async fn a_pix_to_a_blocked_account_fails_with_ac06_and_the_money_comes_back() {
    let sim = sim().await;
    let client = client(&sim);
    let before = sim.control().balance("31712").unwrap();

    let sent = client
        .send_pix(
            PixTransferRequest {
                amount: brl("30.00"),
                destination: PixDestination::Key("bloqueada.ac06@example.com".to_owned()),
                description: None,
            },
            &key("pix-ac06"),
        )
        .await
        .unwrap();
    let failed = wait_for_status(&client, &sent.id, PixTransferStatus::Failed).await;

    assert_eq!(failed.failure_code.as_deref(), Some("AC06"));
    assert_eq!(sim.control().balance("31712").unwrap(), before);
}

async fn wait_for_status(
    client: &Client,
    id: &str,
    status: PixTransferStatus,
) -> providers::PixTransfer {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let transfer = client.get_pix_transfer(id).await.unwrap();
        if transfer.status == status {
            return transfer;
        }
        assert!(
            Instant::now() < deadline,
            "transfer stayed {:?}",
            transfer.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pix_keys_are_registered_listed_and_deleted_at_most_five_per_account() {
    let sim = sim().await;
    let client = client(&sim);

    let email = client
        .register_pix_key(
            NewPixKey {
                kind: PixKeyKind::Email,
                value: Some("financeiro@example.com".to_owned()),
            },
            &key("dict-1"),
        )
        .await
        .unwrap();
    let replayed = client
        .register_pix_key(
            NewPixKey {
                kind: PixKeyKind::Email,
                value: Some("financeiro@example.com".to_owned()),
            },
            &key("dict-1"),
        )
        .await
        .unwrap();
    for index in 0..4 {
        client
            .register_pix_key(
                NewPixKey {
                    kind: PixKeyKind::Evp,
                    value: None,
                },
                &key(&format!("evp-{index}")),
            )
            .await
            .unwrap();
    }
    let sixth = client
        .register_pix_key(
            NewPixKey {
                kind: PixKeyKind::Evp,
                value: None,
            },
            &key("evp-5"),
        )
        .await;

    assert_eq!(email, replayed);
    assert!(
        matches!(sixth, Err(ProviderError::Rejected { .. })),
        "{sixth:?}"
    );
    assert_eq!(client.list_pix_keys().await.unwrap().len(), 5);
    client
        .delete_pix_key(&email.id, &key("dict-del-1"))
        .await
        .unwrap();
    let keys = client.list_pix_keys().await.unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|pix_key| pix_key.kind == PixKeyKind::Evp));
}

#[tokio::test]
async fn a_white_label_account_moves_from_documentation_to_approved_with_its_own_balance() {
    let sim = sim().await;
    let client = client(&sim);
    let holder = Document::parse("529.982.247-25").unwrap();

    let opened = client
        .open_account(
            NewAccount {
                holder: holder.clone(),
                name: "Maria da Silva".to_owned(),
                email: Some("maria@example.com".to_owned()),
                phone: Some("+5511987654321".to_owned()),
            },
            &key("account-1"),
        )
        .await
        .unwrap();
    assert_eq!(opened.status, AccountStatus::PendingDocumentation);
    assert_eq!(opened.id, "52998224725");
    for kind in [
        AccountDocumentKind::Selfie,
        AccountDocumentKind::DriverLicenseFull,
    ] {
        client
            .upload_account_document(
                &opened.id,
                AccountDocument {
                    kind,
                    content_base64: "aGVsbG8=".to_owned(),
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(
        client.get_account(&opened.id).await.unwrap().status,
        AccountStatus::UnderReview
    );

    let number = sim.control().approve_customer("52998224725").unwrap();
    let approved = client.get_account(&opened.id).await.unwrap();

    assert_eq!(approved.status, AccountStatus::Approved);
    assert_eq!(approved.number.as_deref(), Some(number.as_str()));
    let balance = client.balance(&opened.id).await.unwrap();
    assert_eq!(balance.available, brl("0"));
    let balance_requests = requests_to(&sim, "GET", "/baas/api/v1/balances");
    assert_eq!(
        balance_requests[0].account_id.as_deref(),
        Some(number.as_str())
    );
}

#[tokio::test]
async fn registering_webhooks_twice_reuses_the_registrations_and_rotation_changes_the_credential() {
    let sim = sim().await;
    let registrar = Registrar::new(client(&sim), AuthScheme::Header);

    let first = registrar.register("http://127.0.0.1:9/").await.unwrap();
    let second = registrar.register("http://127.0.0.1:9").await.unwrap();

    assert_eq!(first.len(), delbank::webhook::EVENT_TYPES.len());
    let ids = |list: &[providers::RegisteredWebhook]| -> Vec<String> {
        list.iter()
            .map(|webhook| webhook.registration_id.clone())
            .collect()
    };
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(
        client(&sim).list_webhooks().await.unwrap().len(),
        first.len()
    );
    for (webhook, event_type) in first.iter().zip(delbank::webhook::EVENT_TYPES) {
        assert_eq!(
            delbank::webhook::event_type_of_path(&webhook.path).as_deref(),
            Some(event_type)
        );
        assert!(
            webhook
                .url
                .starts_with("http://127.0.0.1:9/webhooks/delbank/")
        );
        assert_eq!(webhook.attributes["scheme"], "HEADER");
        assert_eq!(webhook.attributes["header"], "x-paygate-webhook-token");
        assert!(webhook.previous_secret_expires_at.is_none());
    }
    assert!(
        second
            .iter()
            .all(|webhook| webhook.previous_secret_expires_at.is_some())
    );
    assert_ne!(
        first[0].secret.expose_secret(),
        second[0].secret.expose_secret()
    );

    let rotated = registrar
        .rotate(&first[1].registration_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rotated.path, first[1].path);
    assert_ne!(
        rotated.secret.expose_secret(),
        second[1].secret.expose_secret()
    );
    assert!(rotated.previous_secret_expires_at.is_some());
}
