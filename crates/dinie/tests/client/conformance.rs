//! Dinie against the provider conformance kit (`providers_testkit`): Standard Webhooks signatures
//! with rotation, the normalizer over the documented payloads, the client's timeouts, retries and
//! error mapping, and the simulator's fault knobs, each set through its control API over HTTP.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use dinie::model::CustomerUpdate;
use dinie::{Dinie, DinieClient, DinieWebhooks};
use dinie_sim::{RecordedRequest, SimConfig, SimHandle};
use futures::TryStreamExt;
use http::HeaderValue;
use providers::{
    CredentialStore, IdempotencyKey, InboundCredential, KycDocumentUpload, Money, Provider,
    ProviderDescription, ProviderError, SimulationRequest, WebhookCredential, WebhookSource,
};
use providers_testkit::{
    ClientSettings, Delivery, ExpectedEvent, Fixture, KeyedCreateRetries, Knob, LoggedRequest,
    Position, Refusal, Subject, WebhookRequest,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::{config_for, new_customer};

providers_testkit::conformance_tests!(DinieSubject);

/// A Dinie simulator, and plain HTTP for its control API.
pub(crate) struct DinieSubject {
    sim: SimHandle,
    http: reqwest::Client,
}

impl DinieSubject {
    fn control(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.sim.root_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("the control API answers");
        assert!(
            response.status().is_success(),
            "control API: {}",
            response.status()
        );
        response.json().await.expect("the control API answers JSON")
    }
}

#[providers_testkit::async_trait]
impl Subject for DinieSubject {
    type Client = DinieClient;

    fn description() -> ProviderDescription {
        Dinie::describe()
    }

    fn verifier_source() -> &'static str {
        include_str!("../../src/webhook.rs")
    }

    async fn start() -> DinieSubject {
        let sim = dinie_sim::start(SimConfig::fast())
            .await
            .expect("simulator starts");
        DinieSubject {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn webhook_source(
        &self,
        credentials: Arc<dyn CredentialStore>,
        timestamp_tolerance: Duration,
    ) -> Arc<dyn WebhookSource> {
        Arc::new(
            DinieWebhooks::new(Vec::new(), credentials, timestamp_tolerance)
                .expect("a source with no configured secret"),
        )
    }

    fn credential(&self, seed: u8) -> InboundCredential {
        let key: Vec<u8> = (0..32_u8)
            .map(|index| seed.wrapping_mul(97).wrapping_add(index.wrapping_mul(13)))
            .collect();
        InboundCredential {
            secret: WebhookCredential::new(format!("whsec_{}", STANDARD.encode(key))),
            not_after: None,
            attributes: Default::default(),
        }
    }

    fn request(
        &self,
        delivery: &Delivery,
        credential: &InboundCredential,
        at: DateTime<Utc>,
    ) -> WebhookRequest {
        let timestamp = at.timestamp();
        let signature = dinie_sim::sign_webhook(
            &[credential.secret.expose_secret().to_owned()],
            &delivery.id,
            timestamp,
            &delivery.body,
        )
        .expect("a whsec_ secret");
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(&delivery.id).unwrap());
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).unwrap(),
        );
        WebhookRequest {
            path: delivery.path.clone(),
            headers,
            body: delivery.body.clone(),
        }
    }

    fn without_credential(&self, request: &WebhookRequest) -> WebhookRequest {
        let mut request = request.clone();
        request.headers.remove("webhook-signature");
        request
    }

    fn alter_credential(&self, request: &WebhookRequest, position: Position) -> WebhookRequest {
        let mut request = request.clone();
        let header = request.headers["webhook-signature"].to_str().unwrap();
        let encoded = header.strip_prefix("v1,").expect("one v1 signature");
        let mut signature = STANDARD.decode(encoded).unwrap();
        let index = match position {
            Position::First => 0,
            Position::Last => signature.len() - 1,
        };
        signature[index] ^= 0x01;
        let altered = format!("v1,{}", STANDARD.encode(signature));
        request.headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&altered).unwrap(),
        );
        request
    }

    fn fixtures(&self) -> Vec<Fixture> {
        fixtures()
    }

    fn client(&self, settings: ClientSettings) -> DinieClient {
        let mut config = config_for(&self.sim);
        let timeout_ms = u64::try_from(settings.timeout.as_millis()).unwrap();
        config.timeout_ms = timeout_ms;
        config.total_timeout_ms = timeout_ms * u64::from(settings.attempts) + 5_000;
        config.retries.max_attempts = settings.attempts;
        DinieClient::new(&config).expect("client")
    }

    async fn read(&self, client: &DinieClient) -> Result<(), ProviderError> {
        let customers: Vec<_> = client
            .list_customers(&Default::default())
            .try_collect()
            .await?;
        assert!(customers.len() <= 1);
        Ok(())
    }

    async fn write(&self, client: &DinieClient) -> Result<(), ProviderError> {
        let update = CustomerUpdate {
            email: Some("new@example.com".into()),
            ..CustomerUpdate::default()
        };
        client
            .update_customer("cust_conformance", &update)
            .await
            .map(|_| ())
    }

    fn keyed_create_retries() -> KeyedCreateRetries {
        KeyedCreateRetries::WithTheSameKey
    }

    async fn keyed_create(
        &self,
        client: &DinieClient,
        key: &IdempotencyKey,
    ) -> Result<(), ProviderError> {
        client
            .create_customer(&new_customer(2, "user-2"), key)
            .await
            .map(|_| ())
    }

    async fn created(&self, client: &DinieClient) -> Result<usize, ProviderError> {
        let customers: Vec<_> = client
            .list_customers(&Default::default())
            .try_collect()
            .await?;
        Ok(customers.len())
    }

    async fn refusals(
        &self,
        client: &DinieClient,
        refusal: Refusal,
    ) -> Vec<Result<(), ProviderError>> {
        let key = IdempotencyKey::new_random;
        match refusal {
            Refusal::NotFound => vec![
                client.get_customer("cust_missing").await.map(|_| ()),
                client.get_credit_offer("co_missing").await.map(|_| ()),
                client.get_loan("ln_missing").await.map(|_| ()),
            ],
            Refusal::Conflict => {
                let customer = client
                    .create_customer(&new_customer(10, "user-10"), &key())
                    .await
                    .unwrap();
                client
                    .create_biometrics_session(&customer.id, &key())
                    .await
                    .unwrap();
                vec![
                    client
                        .create_customer(&new_customer(10, "someone-else"), &key())
                        .await
                        .map(|_| ()),
                    client
                        .create_biometrics_session(&customer.id, &key())
                        .await
                        .map(|_| ()),
                ]
            }
            Refusal::Validation => {
                let customer = client
                    .create_customer(&new_customer(11, "user-11"), &key())
                    .await
                    .unwrap();
                let passport = KycDocumentUpload {
                    kind: "passport".into(),
                    file_name: "passport.png".into(),
                    content_type: "image/png".into(),
                    bytes: vec![0x89, b'P', b'N', b'G'],
                };
                let fractional = SimulationRequest {
                    amount: Money::brl(Decimal::from_str_exact("100.001").unwrap()),
                    installments: 12,
                    first_due_date: None,
                };
                vec![
                    client
                        .upload_document(&customer.id, &passport, &key())
                        .await
                        .map(|_| ()),
                    client
                        .create_simulation("co_x", &fractional, &key())
                        .await
                        .map(|_| ()),
                ]
            }
        }
    }

    async fn set_knob(&self, knob: Knob) {
        let fault = match knob {
            Knob::Latency(latency) => json!({"delay_ms": latency.as_millis()}),
            Knob::Fail {
                times,
                status,
                retry_after,
            } => json!({
                "status": status,
                "times": times,
                "retry_after_secs": retry_after.map(|after| after.as_secs()),
            }),
        };
        self.send(self.http.post(self.control("/faults")).json(&fault))
            .await;
    }

    async fn reset_knobs(&self) {
        self.send(self.http.delete(self.control("/faults"))).await;
        self.send(
            self.http
                .put(self.control("/delivery-faults"))
                .json(&json!({})),
        )
        .await;
    }

    async fn requests(&self) -> Vec<LoggedRequest> {
        let log = self.send(self.http.get(self.control("/requests"))).await;
        let log: Vec<RecordedRequest> = serde_json::from_value(log).expect("the request log");
        log.into_iter()
            .map(|request| LoggedRequest {
                method: request.method,
                path: request.path,
                idempotency_key: request.idempotency_key,
                status: request.status,
            })
            .collect()
    }
}

/// The customer template of the catalogue, `%S` its status.
const CUSTOMER: &str = r#""id":"cust_1","status":"%S","cpf":"529.982.247-25","cnpj":null,"name":"Maria","email":"m@x.com","phone":"+5511999999999","trading_name":null,"external_id":"user-1","kyc":[{"kind":"document","type":"identity_card_front","description":"RG","message":null,"uploaded_at":null}]"#;

fn customer_body(event_type: &str, status: &str) -> String {
    format!(
        r#"{{"type":"{event_type}","timestamp":"2026-03-04T12:00:00Z","data":{{{}}}}}"#,
        CUSTOMER.replace("%S", status)
    )
}

fn fixture(name: &str, body: &str, event: ExpectedEvent) -> Fixture {
    Fixture {
        name: name.to_owned(),
        delivery: Delivery {
            id: format!("msg_{name}"),
            path: String::new(),
            body: body.as_bytes().to_vec(),
        },
        events: vec![event],
    }
}

/// Every event of Dinie's catalogue (docs portal and SDK forms), and an undocumented one.
fn fixtures() -> Vec<Fixture> {
    let event = ExpectedEvent::new;
    vec![
        fixture(
            "customer_created",
            &customer_body("customer.created", "pending_kyc"),
            event("customer.created", "cust_1"),
        ),
        fixture(
            "customer_under_review",
            r#"{"type":"customer.under_review","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"under_review","external_id":"user-1"}}"#,
            event("customer.under_review", "cust_1"),
        ),
        fixture(
            "customer_kyc_updated",
            &customer_body("customer.kyc_updated", "pending_kyc"),
            event("customer.kyc_updated", "cust_1"),
        ),
        fixture(
            "customer_active",
            r#"{"type":"customer.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"cust_1","status":"active","external_id":null}}"#,
            event("customer.active", "cust_1"),
        ),
        fixture(
            "customer_denied_sdk_envelope",
            r#"{"id":"evt_1","type":"customer.denied","api_version":"2026-03-01","created_at":1772625600,"delivery_id":"dlv_1","timestamp":1772625600,"data":{"id":"cust_1","external_id":"user-1","name":"Maria","email":"m@x.com","phone":"+5511999999999","cpf":"52998224725","status":"denied"}}"#,
            event("customer.denied", "cust_1"),
        ),
        fixture(
            "credit_offer_available",
            r#"{"type":"credit_offer.available","timestamp":"2026-03-04T12:00:00Z","data":{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":"50000.00","min_amount":"1000.00","interest_rate":3.5,"installments":12,"due_date_rule":null,"valid_until":"2026-04-01T23:59:59Z"}}"#,
            event("credit_offer.available", "co_1")
                .amount("/approved_amount", "50000.00")
                .amount("/min_amount", "1000.00"),
        ),
        fixture(
            "credit_offer_expired_numbers",
            r#"{"type":"credit_offer.expired","timestamp":1772625600,"data":{"id":"co_1","customer_id":"cust_1","status":"expired","approved_amount":50000.1,"min_amount":1000,"monthly_interest_rate":3.5,"max_installments":12,"valid_until":1775087999}}"#,
            event("credit_offer.expired", "co_1")
                .amount("/approved_amount", "50000.10")
                .amount("/min_amount", "1000.00"),
        ),
        fixture(
            "loan_created",
            r#"{"type":"loan.created","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","requested_amount":"25000.00","number_of_installments":6}}"#,
            event("loan.created", "ln_1").amount("/requested_amount", "25000.00"),
        ),
        fixture(
            "loan_contract_generated",
            r#"{"type":"loan.contract_generated","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"contract_generated","ccb_number":"CCB-2026-001234","signing_url":"https://app.clicksign.com/sign/x"}}"#,
            event("loan.contract_generated", "ln_1"),
        ),
        fixture(
            "loan_awaiting_signatures",
            r#"{"type":"loan.awaiting_signatures","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"awaiting_signatures","signing_url":"https://app.clicksign.com/sign/x"}}"#,
            event("loan.awaiting_signatures", "ln_1"),
        ),
        fixture(
            "loan_signature_received",
            r#"{"type":"loan.signature_received","timestamp":1772625600,"data":{"id":"ln_1","status":"awaiting_signatures","signer":{"name":"Maria","cpf":"52998224725","signed_at":1772625500},"signatures_received":1,"signatures_required":2}}"#,
            event("loan.awaiting_signatures", "ln_1"),
        ),
        fixture(
            "loan_signed",
            r#"{"type":"loan.signed","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"signed","ccb_number":"CCB-2026-001234"}}"#,
            event("loan.signed", "ln_1"),
        ),
        fixture(
            "loan_disbursing",
            r#"{"type":"loan.disbursing","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"disbursing","customer_id":"cust_1","disbursement_method":"pix","net_amount":"24250.00"}}"#,
            event("loan.disbursing", "ln_1").amount("/net_amount", "24250.00"),
        ),
        fixture(
            "loan_processing",
            r#"{"type":"loan.processing","timestamp":1772625600,"data":{"id":"ln_1","credit_offer_id":"co_1","customer_id":"cust_1","status":"processing","ccb_number":"CCB-1","disbursement_method":"pix"}}"#,
            event("loan.disbursing", "ln_1"),
        ),
        fixture(
            "loan_active",
            r#"{"type":"loan.active","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","requested_amount":"25000.00","net_amount":"24250.01"}}"#,
            event("loan.active", "ln_1")
                .amount("/requested_amount", "25000.00")
                .amount("/net_amount", "24250.01"),
        ),
        fixture(
            "loan_payment_received",
            r#"{"type":"loan.payment_received","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"active","payment":{"amount":"2291.67","paid_at":"2026-03-04T11:59:58Z","installment_number":1}}}"#,
            event("loan.payment_received", "ln_1").amount("/payment/amount", "2291.67"),
        ),
        fixture(
            "loan_finished",
            r#"{"type":"loan.finished","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"finished"}}"#,
            event("loan.finished", "ln_1"),
        ),
        fixture(
            "loan_cancelled",
            r#"{"type":"loan.cancelled","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"cancelled"}}"#,
            event("loan.cancelled", "ln_1"),
        ),
        fixture(
            "loan_error",
            r#"{"type":"loan.error","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_1","status":"error","error":{"code":"disbursement_failed","message":"x"}}}"#,
            event("loan.error", "ln_1"),
        ),
        fixture(
            "unrecognized",
            r#"{"type":"loan.restructured","timestamp":"2026-03-04T12:00:00Z","data":{"id":"ln_9","whatever":1.5}}"#,
            event("dinie.unrecognized", "ln_9"),
        ),
    ]
}
