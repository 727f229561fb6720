//! The provider against the simulator over real HTTPS with mTLS (certificates generated per test,
//! ports picked by the OS), and its webhook source and confirmer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod conformance;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bacen_pix::client::{devolucao_id_for, txid_for};
use bacen_pix::{BacenPixConfirmer, BacenPixWebhooks, Client, Config, Registrar};
use bacen_pix_sim::{Knobs, PixIn, RefundOutcome, Sim, SimConfig};
use chrono::{TimeZone, Utc};
use providers::{
    BankingProvider, ChargeKind, ChargeStatus, Confirmation, CredentialStore, CredentialStoreError,
    Document, EventConfirmer, EventData, EventType, IdempotencyKey, InboundCredential,
    InboundRequest, Money, NewCharge, PageRequest, Party, PixEndToEndId, PixOperation,
    PixRefundRequest, PixTransferStatus, ProviderError, ProviderName, ResourceKind, VerifyError,
    WebhookCredential, WebhookRegistration, WebhookSource,
};
use rust_decimal::Decimal;

// ---- Support. ----

struct Harness {
    sim: Sim,
    config: Config,
    _dir: tempfile::TempDir,
}

async fn harness_with(change: impl FnOnce(&mut SimConfig)) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let pki = bacen_pix_sim::tls::generate(dir.path()).unwrap();
    let mut sim_config = SimConfig::standard(pki);
    sim_config.callbacks.attempts = 1;
    sim_config.callbacks.timeout = Duration::from_millis(500);
    change(&mut sim_config);
    let sim = Sim::start(sim_config).await.unwrap();
    let mut values = serde_json::Map::new();
    for (key, value) in sim.gateway_settings() {
        values.insert(key.to_owned(), value);
    }
    values.insert("timeout_ms".to_owned(), 2000.into());
    values.insert(
        "retries".to_owned(),
        serde_json::json!({"max_attempts": 3, "base_delay_ms": 10}),
    );
    let config: Config = serde_json::from_value(serde_json::Value::Object(values)).unwrap();
    config.validate().unwrap();
    Harness {
        sim,
        config,
        _dir: dir,
    }
}

async fn harness() -> Harness {
    harness_with(|_| {}).await
}

impl Harness {
    fn client(&self) -> Client {
        Client::new(&self.config).unwrap()
    }

    fn requests_to(&self, method: &str, prefix: &str) -> Vec<String> {
        self.sim
            .control()
            .requests()
            .into_iter()
            .filter(|request| request.method == method && request.path.starts_with(prefix))
            .map(|request| request.path)
            .collect()
    }

    fn token_requests(&self) -> usize {
        self.requests_to("POST", "/oauth/token").len()
    }
}

fn brl(cents: i64) -> Money {
    Money::brl(Decimal::new(cents, 2))
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

fn immediate(cents: i64) -> NewCharge {
    NewCharge {
        kind: ChargeKind::PixDynamic,
        amount: brl(cents),
        payer: None,
        due_date: None,
        description: Some("pedido 42".to_owned()),
        correlation_id: None,
    }
}

fn payee() -> Document {
    Document::parse(bacen_pix_sim::RECEIVER_CNPJ).unwrap()
}

/// A credential store with what a test puts in it, or down.
#[derive(Default)]
struct Store {
    credentials: Mutex<Vec<InboundCredential>>,
    down: Mutex<bool>,
}

#[async_trait]
impl CredentialStore for Store {
    async fn credentials(
        &self,
        _provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        if *self.down.lock().unwrap() {
            return Err(CredentialStoreError("database down".to_owned()));
        }
        assert_eq!(path, "", "credentials are stored at the empty path");
        Ok(self.credentials.lock().unwrap().clone())
    }
}

fn credential(token: &str, not_after: Option<chrono::DateTime<Utc>>) -> InboundCredential {
    InboundCredential {
        secret: WebhookCredential::new(token),
        not_after,
        attributes: BTreeMap::new(),
    }
}

async fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = probe() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("condition not reached in 3 seconds");
}

/// The body of the last callback whose body contains `needle`.
async fn callback_containing(sim: &Sim, needle: &str) -> Vec<u8> {
    wait_for(|| {
        sim.control()
            .deliveries()
            .into_iter()
            .rev()
            .find(|delivery| delivery.body.contains(needle))
            .map(|delivery| delivery.body.into_bytes())
    })
    .await
}

fn inbound<'a>(path: &'a str, headers: &'a http::HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        path,
        headers,
        body,
    }
}

// ---- Charges. ----

#[tokio::test]
async fn an_immediate_charge_is_created_fetched_and_cancelled() {
    let harness = harness().await;
    let client = harness.client();
    let charge = client
        .create_charge(immediate(11000), &key("order-1"))
        .await
        .unwrap();
    assert_eq!(charge.id, txid_for(&key("order-1")));
    assert_eq!(charge.status, ChargeStatus::Pending);
    assert_eq!(charge.amount, brl(11000));
    assert!(charge.pix_copy_paste.is_some());
    assert_eq!(
        harness.requests_to("PUT", "/cob/"),
        [format!("/cob/{}", charge.id)]
    );

    let fetched = client.get_charge(&charge.id).await.unwrap();
    assert_eq!(fetched, charge);

    let cancelled = client.cancel_charge(&charge.id).await.unwrap();
    assert_eq!(cancelled.status, ChargeStatus::Cancelled);
    let again = client.cancel_charge(&charge.id).await.unwrap();
    assert_eq!(again.status, ChargeStatus::Cancelled);
}

#[tokio::test]
async fn a_charge_with_a_due_date_is_a_cobv_with_its_payer() {
    let harness = harness().await;
    let client = harness.client();
    let mut request = immediate(25000);
    request.due_date = chrono::NaiveDate::from_ymd_opt(2099, 1, 31);
    let missing_payer = client
        .create_charge(request.clone(), &key("cobv-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing_payer, ProviderError::Rejected { param: Some(param), .. } if param == "payer"),
        "{missing_payer:?}"
    );
    request.payer = Some(Party {
        document: Document::parse("52998224725").unwrap(),
        name: "Maria da Silva".to_owned(),
        ispb: None,
        branch: None,
        account: None,
    });
    let charge = client.create_charge(request, &key("cobv-1")).await.unwrap();
    assert_eq!(
        charge.due_date,
        chrono::NaiveDate::from_ymd_opt(2099, 1, 31)
    );
    assert_eq!(charge.status, ChargeStatus::Pending);
    assert_eq!(
        harness.requests_to("PUT", "/cobv/"),
        [format!("/cobv/{}", charge.id)]
    );
    // get_charge finds it under /cobv after /cob answers 404.
    assert_eq!(client.get_charge(&charge.id).await.unwrap(), charge);
}

#[tokio::test]
async fn a_retried_create_keeps_the_txid() {
    let harness = harness().await;
    let client = harness.client();
    // Fetch the token first, so the failure hits the PUT.
    client.get_charge("x").await.unwrap_err();
    harness
        .sim
        .control()
        .update_knobs(|knobs| knobs.fail_next = 1);
    let charge = client
        .create_charge(immediate(5000), &key("retry-1"))
        .await
        .unwrap();
    let puts = harness.requests_to("PUT", "/cob/");
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert_eq!(puts[0], puts[1]);
    assert_eq!(puts[0], format!("/cob/{}", charge.id));
    // A later create under the same key is the same charge, even once it is paid.
    harness.sim.control().pay_charge(&charge.id).unwrap();
    let repeated = client
        .create_charge(immediate(5000), &key("retry-1"))
        .await
        .unwrap();
    assert_eq!(repeated.id, charge.id);
    assert_eq!(repeated.status, ChargeStatus::Paid);
}

#[tokio::test]
async fn errors_map_to_provider_errors() {
    let harness = harness().await;
    let client = harness.client();
    let missing = client.get_charge("nonexistent").await.unwrap_err();
    assert!(
        matches!(&missing, ProviderError::NotFound { code: Some(code), .. } if code == "NaoEncontrado"),
        "{missing:?}"
    );
    let too_precise = client
        .create_charge(
            NewCharge {
                amount: Money::brl(Decimal::new(1001, 3)),
                ..immediate(0)
            },
            &key("bad-amount"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(too_precise, ProviderError::Rejected { .. }),
        "{too_precise:?}"
    );
    let e2e = harness
        .sim
        .control()
        .pix_in(PixIn {
            valor: Decimal::new(1000, 2),
            ..PixIn::default()
        })
        .unwrap();
    let excessive = client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&e2e).unwrap(),
                amount: brl(2000),
                reason: None,
            },
            &key("refund-too-much"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&excessive, ProviderError::Rejected { status: 400, code, .. } if code == "PixDevolucaoInvalida"),
        "{excessive:?}"
    );
    harness
        .sim
        .control()
        .update_knobs(|knobs| knobs.outage = true);
    let down = client.get_charge("nonexistent").await.unwrap_err();
    assert!(
        matches!(down, ProviderError::Unavailable { .. }),
        "{down:?}"
    );
    harness
        .sim
        .control()
        .update_knobs(|knobs| knobs.outage = false);
    let mut wrong = harness.config.clone();
    wrong.client_secret = "not-the-secret".to_owned().into();
    let refused = Client::new(&wrong)
        .unwrap()
        .get_charge("x")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ProviderError::Unauthorized { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn operations_the_standard_lacks_are_refused_as_unsupported() {
    let harness = harness().await;
    let client = harness.client();
    let error = client.list_pix_keys().await.unwrap_err();
    assert!(
        matches!(&error, ProviderError::Rejected { status: 501, code, .. } if code == "unsupported_operation"),
        "{error:?}"
    );
    let error = client.balance("any").await.unwrap_err();
    assert!(matches!(error, ProviderError::Rejected { status: 501, .. }));
    let mut bankslip = immediate(1000);
    bankslip.kind = ChargeKind::Bankslip;
    let error = client
        .create_charge(bankslip, &key("slip"))
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Rejected { status: 501, .. }));
    assert!(
        harness.requests_to("PUT", "/").is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn charges_are_listed_page_by_page() {
    let harness = harness().await;
    let client = harness.client();
    for index in 0..3 {
        client
            .create_charge(immediate(1000 + index), &key(&format!("list-{index}")))
            .await
            .unwrap();
    }
    let first = client
        .list_charges(PageRequest {
            cursor: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let second = client
        .list_charges(PageRequest {
            cursor: first.next_cursor.clone(),
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_cursor, None);
}

// ---- OAuth2 and mTLS. ----

#[tokio::test]
async fn the_token_is_reused_and_fetched_again_once_on_401() {
    let harness = harness().await;
    let client = harness.client();
    for _ in 0..3 {
        client.get_charge("nonexistent").await.unwrap_err();
    }
    assert_eq!(harness.token_requests(), 1);
    harness.sim.control().revoke_tokens();
    let error = client.get_charge("nonexistent").await.unwrap_err();
    assert!(matches!(error, ProviderError::NotFound { .. }), "{error:?}");
    assert_eq!(harness.token_requests(), 2);
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    let harness = harness_with(|config| config.token_ttl = Duration::from_secs(1)).await;
    let client = harness.client();
    client.get_charge("nonexistent").await.unwrap_err();
    client.get_charge("nonexistent").await.unwrap_err();
    assert_eq!(harness.token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(850)).await;
    client.get_charge("nonexistent").await.unwrap_err();
    assert_eq!(harness.token_requests(), 2);
    let unauthorized = harness
        .sim
        .control()
        .requests()
        .iter()
        .filter(|request| request.status == 401)
        .count();
    assert_eq!(unauthorized, 0, "renewed before the psp refused it");
}

#[tokio::test]
async fn the_psp_refuses_a_client_without_a_certificate() {
    let harness = harness().await;
    let ca = std::fs::read(&harness.sim.pki().ca_cert_pem).unwrap();
    let anonymous = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let refused = anonymous
        .post(format!("{}/oauth/token", harness.sim.base_url()))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");

    let other_dir = tempfile::tempdir().unwrap();
    let other = bacen_pix_sim::tls::generate(other_dir.path()).unwrap();
    let mut stranger = harness.config.clone();
    stranger.client_cert_pem = other.client_cert_pem.display().to_string();
    stranger.client_key_pem = other.client_key_pem.display().to_string();
    let error = Client::new(&stranger)
        .unwrap()
        .get_charge("x")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Unavailable { .. }),
        "{error:?}"
    );

    harness.client().get_charge("x").await.unwrap_err();
    let recorded = harness.sim.control().requests();
    assert!(!recorded.is_empty());
    assert!(recorded.iter().all(|request| {
        request.client_cert_subject.as_deref() == Some(bacen_pix_sim::tls::CLIENT_COMMON_NAME)
    }));
}

// ---- Refunds, callbacks, normalization and confirmation. ----

#[tokio::test]
async fn a_refund_settles_and_its_callback_is_a_confirmed_refund_outcome() {
    let harness = harness().await;
    let client = harness.client();
    let registered = Registrar::new(client.clone())
        .register("http://127.0.0.1:9")
        .await
        .unwrap();
    let token = registered[0].secret.expose_secret().to_owned();
    let e2e = harness
        .sim
        .control()
        .pix_in(PixIn {
            valor: Decimal::new(11000, 2),
            payer_name: Some("Maria da Silva".to_owned()),
            payer_document: Some("52998224725".to_owned()),
            ..PixIn::default()
        })
        .unwrap();
    let refund = client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&e2e).unwrap(),
                amount: brl(1000),
                reason: Some("troca".to_owned()),
            },
            &key("refund-1"),
        )
        .await
        .unwrap();
    assert_eq!(refund.id, devolucao_id_for(&key("refund-1")));
    assert_eq!(refund.status, PixTransferStatus::Processing);
    assert_eq!(refund.amount, brl(1000));
    // The same refund again is the same refund, not a second one.
    let again = client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&e2e).unwrap(),
                amount: brl(1000),
                reason: Some("troca".to_owned()),
            },
            &key("refund-1"),
        )
        .await
        .unwrap();
    assert_eq!(again.id, refund.id);

    let body = callback_containing(&harness.sim, "DEVOLVIDO").await;
    let store = Arc::new(Store::default());
    store
        .credentials
        .lock()
        .unwrap()
        .push(credential(&token, None));
    let source = BacenPixWebhooks::new(Vec::new(), store, payee());
    let headers = http::HeaderMap::new();
    let path = format!("/{token}/pix");
    source
        .verify(&inbound(&path, &headers, &body), Utc::now())
        .await
        .unwrap();
    let events = source.normalize(&inbound(&path, &headers, &body)).unwrap();
    let types: Vec<String> = events
        .iter()
        .map(|event| event.event_type.as_str().into_owned())
        .collect();
    assert_eq!(types, ["pix.received", "pix.transfer.completed"]);
    let outcome = &events[1];
    assert_eq!(outcome.resource.kind, ResourceKind::PixRefund);
    let EventData::PixTransfer(data) = &outcome.data else {
        panic!("not a transfer");
    };
    assert_eq!(data.operation, PixOperation::Refund);
    assert_eq!(data.original_end_to_end_id.as_deref(), Some(e2e.as_str()));
    assert_eq!(data.amount, brl(1000));

    let confirmer = BacenPixConfirmer::new(client);
    assert!(events.iter().all(|event| confirmer.must_confirm(event)));
    for event in &events {
        assert_eq!(
            confirmer.confirm(event).await.unwrap(),
            Confirmation::Confirmed
        );
    }
}

#[tokio::test]
async fn a_refund_not_made_is_a_failed_refund_outcome() {
    let harness = harness().await;
    let client = harness.client();
    Registrar::new(client.clone())
        .register("http://127.0.0.1:9")
        .await
        .unwrap();
    harness.sim.control().set_knobs(Knobs {
        refund_outcome: RefundOutcome::NaoRealizado,
        ..Knobs::default()
    });
    let e2e = harness
        .sim
        .control()
        .pix_in(PixIn {
            valor: Decimal::new(5000, 2),
            ..PixIn::default()
        })
        .unwrap();
    client
        .refund_pix(
            PixRefundRequest {
                end_to_end_id: PixEndToEndId::parse(&e2e).unwrap(),
                amount: brl(5000),
                reason: None,
            },
            &key("refund-2"),
        )
        .await
        .unwrap();
    let body = callback_containing(&harness.sim, "NAO_REALIZADO").await;
    let source = BacenPixWebhooks::new(Vec::new(), Arc::new(Store::default()), payee());
    let headers = http::HeaderMap::new();
    let events = source
        .normalize(&inbound("/t/pix", &headers, &body))
        .unwrap();
    let failed = events
        .iter()
        .find(|event| event.event_type == EventType::PixTransferFailed)
        .unwrap();
    let confirmer = BacenPixConfirmer::new(client);
    assert_eq!(
        confirmer.confirm(failed).await.unwrap(),
        Confirmation::Confirmed
    );
}

#[tokio::test]
async fn a_paid_charge_is_confirmed_and_forged_events_are_contradicted() {
    let harness = harness().await;
    let client = harness.client();
    Registrar::new(client.clone())
        .register("http://127.0.0.1:9")
        .await
        .unwrap();
    let charge = client
        .create_charge(immediate(7500), &key("paid-1"))
        .await
        .unwrap();
    let e2e = harness.sim.control().pay_charge(&charge.id).unwrap();
    let body = callback_containing(&harness.sim, &e2e).await;
    let source = BacenPixWebhooks::new(Vec::new(), Arc::new(Store::default()), payee());
    let headers = http::HeaderMap::new();
    let events = source
        .normalize(&inbound("/t/pix", &headers, &body))
        .unwrap();
    assert_eq!(events.len(), 2);
    let paid = events
        .iter()
        .find(|event| event.event_type == EventType::ChargePaid)
        .unwrap();
    assert_eq!(paid.resource.id, charge.id);
    let confirmer = BacenPixConfirmer::new(client.clone());
    assert_eq!(
        confirmer.confirm(paid).await.unwrap(),
        Confirmation::Confirmed
    );
    assert_eq!(
        client.get_charge(&charge.id).await.unwrap().status,
        ChargeStatus::Paid
    );

    // A forged amount.
    let forged_body = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"75.00\"", "\"750.00\"");
    let forged = source
        .normalize(&inbound("/t/pix", &headers, forged_body.as_bytes()))
        .unwrap();
    let verdict = confirmer.confirm(&forged[0]).await.unwrap();
    assert_eq!(
        verdict,
        Confirmation::Contradicted("amount differs from the psp's".to_owned())
    );
    // A Pix the PSP never saw.
    let unknown_body = String::from_utf8(body)
        .unwrap()
        .replace(&e2e, "E18236120202601011200abcdefghijk");
    let unknown = source
        .normalize(&inbound("/t/pix", &headers, unknown_body.as_bytes()))
        .unwrap();
    assert_eq!(
        confirmer.confirm(&unknown[0]).await.unwrap(),
        Confirmation::Contradicted("no Pix with this endToEndId".to_owned())
    );
    // The PSP down: an error, the gateway asks again later.
    harness
        .sim
        .control()
        .update_knobs(|knobs| knobs.outage = true);
    let error = confirmer.confirm(paid).await.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn registration_puts_a_tokenized_url_and_rotation_replaces_the_token() {
    let harness = harness().await;
    let registrar = Registrar::new(harness.client());
    let registered = registrar
        .register("https://paygate.example.com/")
        .await
        .unwrap();
    assert_eq!(registered.len(), 1);
    let first = &registered[0];
    assert_eq!(first.path, "");
    assert_eq!(first.registration_id, bacen_pix_sim::RECEIVER_KEY);
    let token = first.secret.expose_secret().to_owned();
    assert_eq!(token.len(), 43, "32 bytes, base64url");
    assert_eq!(
        first.url,
        format!("https://paygate.example.com/webhooks/bacen-pix/{token}")
    );
    assert_eq!(
        harness
            .sim
            .control()
            .webhook_url(bacen_pix_sim::RECEIVER_KEY),
        Some(first.url.clone())
    );
    assert!(first.previous_secret_expires_at.is_none());

    let rotated = registrar
        .rotate(&first.registration_id, Duration::from_secs(300))
        .await
        .unwrap();
    assert_ne!(rotated.secret.expose_secret(), token);
    assert!(
        rotated
            .url
            .starts_with("https://paygate.example.com/webhooks/bacen-pix/")
    );
    assert!(rotated.previous_secret_expires_at.unwrap() > Utc::now());
    assert_eq!(
        harness
            .sim
            .control()
            .webhook_url(bacen_pix_sim::RECEIVER_KEY),
        Some(rotated.url)
    );
}

// ---- Verification (no simulator; the kit proves the rest). ----

/// What the kit's verification checks do not reach: tokens configured by hand (checked without
/// the store, even while it is down), and the registration's URL called without `/pix`.
#[tokio::test]
async fn configured_tokens_and_the_bare_registration_url_verify() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let store = Arc::new(Store::default());
    store
        .credentials
        .lock()
        .unwrap()
        .push(credential("current-token-0123456789", None));
    let source = BacenPixWebhooks::new(
        vec!["hand-made-token-0123456789".to_owned().into()],
        store.clone(),
        payee(),
    );
    let headers = http::HeaderMap::new();
    let verify = |path: &'static str, at| {
        let source = &source;
        let headers = &headers;
        async move { source.verify(&inbound(path, headers, b"{}"), at).await }
    };
    assert_eq!(verify("/current-token-0123456789", now).await, Ok(()));
    assert_eq!(verify("/hand-made-token-0123456789/pix", now).await, Ok(()));
    assert_eq!(verify("", now).await, Err(VerifyError::MissingCredential));
    assert!(matches!(
        verify("/current-token-0123456789/rec", now).await,
        Err(VerifyError::UnknownRegistration(_))
    ));
    *store.down.lock().unwrap() = true;
    assert!(matches!(
        verify("/current-token-0123456789/pix", now).await,
        Err(VerifyError::Unavailable(_))
    ));
    assert_eq!(verify("/hand-made-token-0123456789/pix", now).await, Ok(()));
}

// ---- Normalization (no simulator). ----

/// The spec's two webhook examples (`pixWebhook1`, `pixWebhook2`), the first with its
/// `devolucoes` as a single object as the spec writes it, and a refund that ended.
const DOCUMENTED_CALLBACK: &str = r#"{"pix":[
 {"endToEndId":"E12345678202009091221kkkkkkkkkkk","txid":"c3e0e7a4e7f1469a9f782d3d4999343c","valor":"110.00","horario":"2020-09-09T20:15:00.358Z","infoPagador":"0123456789",
  "devolucoes":{"id":"123ABC","rtrId":"D12345678202009091221abcdf098765","valor":"10.00","horario":{"solicitacao":"2020-09-09T20:15:00.358Z"},"status":"EM_PROCESSAMENTO"}},
 {"endToEndId":"E87654321202009091221dfghi123456","txid":"971122d8f37211eaadc10242ac120002","valor":"110.00","horario":"2020-09-09T20:15:00.358Z","infoPagador":"0123456789",
  "pagador":{"cpf":"52998224725","nome":"Maria da Silva"},
  "devolucoes":[{"id":"456DEF","rtrId":"D12345678202009091222abcdf098766","valor":"20.00","horario":{"solicitacao":"2020-09-09T20:16:00.000Z","liquidacao":"2020-09-09T20:16:05.000Z"},"status":"DEVOLVIDO"}]}
]}"#;

#[test]
fn the_documented_callback_gives_one_event_per_fact() {
    let source = BacenPixWebhooks::new(Vec::new(), Arc::new(Store::default()), payee());
    let headers = http::HeaderMap::new();
    let events = source
        .normalize(&inbound("/t/pix", &headers, DOCUMENTED_CALLBACK.as_bytes()))
        .unwrap();
    let summary: Vec<(String, String)> = events
        .iter()
        .map(|event| {
            (
                event.event_type.as_str().into_owned(),
                event.dedup_key.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "pix.received".to_owned(),
                "pix.received:E12345678202009091221kkkkkkkkkkk".to_owned()
            ),
            (
                "charge.paid".to_owned(),
                "charge.paid:c3e0e7a4e7f1469a9f782d3d4999343c:E12345678202009091221kkkkkkkkkkk"
                    .to_owned()
            ),
            (
                "pix.received".to_owned(),
                "pix.received:E87654321202009091221dfghi123456".to_owned()
            ),
            (
                "charge.paid".to_owned(),
                "charge.paid:971122d8f37211eaadc10242ac120002:E87654321202009091221dfghi123456"
                    .to_owned()
            ),
            (
                "pix.transfer.completed".to_owned(),
                "devolucao:E87654321202009091221dfghi123456:456DEF:DEVOLVIDO".to_owned()
            ),
        ]
    );
    let EventData::PixReceived(received) = &events[2].data else {
        panic!("not a pix");
    };
    assert_eq!(received.amount, brl(11000));
    assert_eq!(
        received.correlation_id.as_deref(),
        Some("971122d8f37211eaadc10242ac120002")
    );
    assert_eq!(
        received.payee.as_ref().unwrap().valid_document(),
        Some(&payee())
    );
    let payer = received.payer.as_ref().unwrap();
    assert_eq!(payer.name.as_deref(), Some("Maria da Silva"));
    assert_eq!(
        payer.valid_document(),
        Some(&Document::parse("52998224725").unwrap())
    );
    assert_eq!(
        events[2].occurred_at,
        Some(
            Utc.with_ymd_and_hms(2020, 9, 9, 20, 15, 0).unwrap()
                + chrono::Duration::milliseconds(358)
        )
    );
    assert_eq!(events[0].resource.kind, ResourceKind::Pix);
    assert_eq!(events[1].resource.kind, ResourceKind::Charge);
    // Redelivered: the same events, the same keys.
    let again = source
        .normalize(&inbound("/t/pix", &headers, DOCUMENTED_CALLBACK.as_bytes()))
        .unwrap();
    assert_eq!(again, events);
}

#[test]
fn unreadable_items_are_kept_as_unrecognized_and_bodies_without_pix_are_refused() {
    let source = BacenPixWebhooks::new(Vec::new(), Arc::new(Store::default()), payee());
    let headers = http::HeaderMap::new();
    let body = br#"{"pix":[{"endToEndId":"E12345678202009091221kkkkkkkkkkk","valor":"10.00","horario":"2020-09-09T20:15:00Z"},{"valor":12.5},{"endToEndId":"E12345678202009091221zzzzzzzzzzz","valor":"1.00","horario":"2020-09-09T20:15:00Z","devolucoes":[{"id":"X","valor":"1.00","status":"ESTORNADO"}]}]}"#;
    let events = source
        .normalize(&inbound("/t/pix", &headers, body))
        .unwrap();
    let types: Vec<String> = events
        .iter()
        .map(|event| event.event_type.as_str().into_owned())
        .collect();
    assert_eq!(
        types,
        [
            "pix.received",
            "bacen-pix.unrecognized",
            "bacen-pix.unrecognized"
        ]
    );
    for not_a_callback in [&b"[]"[..], b"{\"recs\":[]}", b"not json"] {
        assert!(
            source
                .normalize(&inbound("/t/pix", &headers, not_a_callback))
                .is_err()
        );
    }
}
