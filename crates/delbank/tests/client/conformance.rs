//! Delbank against the provider conformance kit (`providers_testkit`): static BEARER credentials
//! with rotation, the normalizer over the reference payloads at their registrations' paths, the
//! client's timeouts, retries and error mapping, and the simulator's fault knobs, each set
//! through its control API over HTTP.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use delbank::webhook::slug;
use delbank::{Client, Delbank, DelbankWebhooks};
use delbank_sim::{PixIn, SimHandle};
use http::HeaderValue;
use providers::{
    BankingProvider, CredentialStore, IdempotencyKey, InboundCredential, NewPixKey, PixEndToEndId,
    PixKeyKind, PixRefundRequest, Provider, ProviderDescription, ProviderError, WebhookCredential,
    WebhookSource,
};
use providers_testkit::{
    ClientSettings, Delivery, ExpectedEvent, Fixture, KeyedCreateRetries, Knob, LoggedRequest,
    Position, Refusal, Subject, WebhookRequest,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::{OTHER_ACCOUNT, brl, config, pix_charge, sim};

providers_testkit::conformance_tests!(DelbankSubject);

/// The opening balance of [`OTHER_ACCOUNT`], which the keyed create pays into.
const OTHER_OPENING: &str = "500.00";

/// What the keyed create transfers.
const TRANSFERRED: &str = "10.50";

/// A Delbank simulator, and plain HTTP for its control API.
pub(crate) struct DelbankSubject {
    sim: SimHandle,
    http: reqwest::Client,
}

impl DelbankSubject {
    fn control(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.sim.base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Option<Value> {
        let response = request.send().await.expect("the control API answers");
        assert!(
            response.status().is_success(),
            "control API: {}",
            response.status()
        );
        let body = response.bytes().await.expect("the control API's body");
        match body.is_empty() {
            true => None,
            false => Some(serde_json::from_slice(&body).expect("the control API answers JSON")),
        }
    }
}

/// The bearer token `credential` presents.
fn token(credential: &InboundCredential) -> &str {
    credential.secret.expose_secret()
}

fn authorization(request: &WebhookRequest) -> &str {
    request.headers[http::header::AUTHORIZATION]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .expect("a bearer credential")
}

#[providers_testkit::async_trait]
impl Subject for DelbankSubject {
    type Client = Client;

    fn description() -> ProviderDescription {
        Delbank::describe()
    }

    fn verifier_source() -> &'static str {
        include_str!("../../src/webhook.rs")
    }

    async fn start() -> DelbankSubject {
        DelbankSubject {
            sim: sim().await,
            http: reqwest::Client::new(),
        }
    }

    fn webhook_source(
        &self,
        credentials: Arc<dyn CredentialStore>,
        _timestamp_tolerance: Duration,
    ) -> Arc<dyn WebhookSource> {
        let mut config = config(&self.sim);
        config.webhooks = Vec::new();
        Arc::new(DelbankWebhooks::new(&config, credentials))
    }

    fn credential(&self, seed: u8) -> InboundCredential {
        let mut token = format!("conformance-{seed:03}-");
        while token.len() < 43 {
            token.push('x');
        }
        let attributes = [("scheme", "BEARER"), ("event_type", "PIX_RECEIVED")]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        InboundCredential {
            secret: WebhookCredential::new(token),
            not_after: None,
            attributes,
        }
    }

    fn request(
        &self,
        delivery: &Delivery,
        credential: &InboundCredential,
        _at: DateTime<Utc>,
    ) -> WebhookRequest {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", token(credential))).unwrap(),
        );
        WebhookRequest {
            path: delivery.path.clone(),
            headers,
            body: delivery.body.clone(),
        }
    }

    fn without_credential(&self, request: &WebhookRequest) -> WebhookRequest {
        let mut request = request.clone();
        request.headers.remove(http::header::AUTHORIZATION);
        request
    }

    fn alter_credential(&self, request: &WebhookRequest, position: Position) -> WebhookRequest {
        let mut bytes = authorization(request).as_bytes().to_vec();
        let index = match position {
            Position::First => 0,
            Position::Last => bytes.len() - 1,
        };
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        let mut request = request.clone();
        request.headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {altered}")).unwrap(),
        );
        request
    }

    fn fixtures(&self) -> Vec<Fixture> {
        fixtures()
    }

    fn client(&self, settings: ClientSettings) -> Client {
        let mut config = config(&self.sim);
        config.timeout_secs = settings.timeout.as_secs().max(1);
        config.retries = settings.attempts.saturating_sub(1);
        config.retry_base_delay_ms = 10;
        Client::new(&config).unwrap()
    }

    async fn read(&self, client: &Client) -> Result<(), ProviderError> {
        client.balance("31712").await.map(|_| ())
    }

    async fn write(&self, client: &Client) -> Result<(), ProviderError> {
        client
            .create_charge(pix_charge("25.00"), &IdempotencyKey::new_random())
            .await
            .map(|_| ())
    }

    fn keyed_create_retries() -> KeyedCreateRetries {
        KeyedCreateRetries::WithTheSameKey
    }

    async fn keyed_create(
        &self,
        client: &Client,
        key: &IdempotencyKey,
    ) -> Result<(), ProviderError> {
        client
            .transfer_internal(OTHER_ACCOUNT, brl(TRANSFERRED), None, key)
            .await
            .map(|_| ())
    }

    async fn created(&self, _client: &Client) -> Result<usize, ProviderError> {
        let balance = self.sim.control().balance(OTHER_ACCOUNT).unwrap();
        let moved = balance - Decimal::from_str_exact(OTHER_OPENING).unwrap();
        let transfers = moved / Decimal::from_str_exact(TRANSFERRED).unwrap();
        assert!(transfers.fract().is_zero(), "{moved} moved");
        Ok(usize::try_from(transfers.mantissa() / 10_i128.pow(transfers.scale())).unwrap())
    }

    async fn refusals(&self, client: &Client, refusal: Refusal) -> Vec<Result<(), ProviderError>> {
        match refusal {
            Refusal::NotFound => vec![client.get_charge("no-such-charge").await.map(|_| ())],
            Refusal::Conflict => {
                let key = IdempotencyKey::new_random();
                client
                    .create_charge(pix_charge("25.00"), &key)
                    .await
                    .unwrap();
                let email = || NewPixKey {
                    kind: PixKeyKind::Email,
                    value: Some("financeiro@example.com".to_owned()),
                };
                client
                    .register_pix_key(email(), &IdempotencyKey::new_random())
                    .await
                    .unwrap();
                vec![
                    client
                        .create_charge(pix_charge("26.00"), &key)
                        .await
                        .map(|_| ()),
                    client
                        .register_pix_key(email(), &IdempotencyKey::new_random())
                        .await
                        .map(|_| ()),
                ]
            }
            Refusal::Validation => {
                let received = self
                    .sim
                    .control()
                    .pix_in(PixIn {
                        amount: Decimal::from_str_exact("5.00").unwrap(),
                        ..PixIn::default()
                    })
                    .unwrap();
                let too_much = PixRefundRequest {
                    end_to_end_id: PixEndToEndId::parse(&received).unwrap(),
                    amount: brl("6.00"),
                    reason: None,
                };
                vec![
                    client
                        .refund_pix(too_much, &IdempotencyKey::new_random())
                        .await
                        .map(|_| ()),
                ]
            }
        }
    }

    async fn set_knob(&self, knob: Knob) {
        let mut knobs = self
            .send(self.http.get(self.control("/knobs")))
            .await
            .expect("the knobs");
        match knob {
            Knob::Latency(latency) => knobs["api_delay_ms"] = json!(latency.as_millis()),
            Knob::Fail {
                times,
                status,
                retry_after,
            } => {
                knobs["fail_next_requests"] = json!(times);
                knobs["fail_status"] = json!(status);
                knobs["fail_retry_after_secs"] = json!(retry_after.map(|after| after.as_secs()));
            }
        }
        self.send(self.http.post(self.control("/knobs")).json(&knobs))
            .await;
    }

    async fn reset_knobs(&self) {
        self.send(self.http.post(self.control("/knobs")).json(&json!({})))
            .await;
    }

    async fn requests(&self) -> Vec<LoggedRequest> {
        let log = self
            .send(self.http.get(self.control("/requests")))
            .await
            .expect("the request log");
        let Value::Array(log) = log else {
            panic!("the request log is not a list: {log}");
        };
        log.into_iter()
            .map(|request| LoggedRequest {
                method: request["method"].as_str().unwrap().to_owned(),
                path: request["path"].as_str().unwrap().to_owned(),
                idempotency_key: request["idempotency_key"].as_str().map(str::to_owned),
                status: u16::try_from(request["status"].as_u64().unwrap()).unwrap(),
            })
            .collect()
    }
}

/// A reference payload (`fixtures/<name>.json`) delivered at the registration of `registered`.
fn reference(name: &str, registered: &str, events: Vec<ExpectedEvent>) -> Fixture {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    inline(name, registered, &String::from_utf8(body).unwrap(), events)
}

fn inline(name: &str, registered: &str, body: &str, events: Vec<ExpectedEvent>) -> Fixture {
    Fixture {
        name: name.to_owned(),
        delivery: Delivery {
            id: format!("delivery-{name}"),
            path: format!("/{}-0a1b2c3d4e5f", slug(registered)),
            body: body.as_bytes().to_vec(),
        },
        events,
    }
}

/// Every reference payload of the contract, and an event type Delbank does not document.
fn fixtures() -> Vec<Fixture> {
    let event = ExpectedEvent::new;
    vec![
        reference(
            "pix_received",
            "PIX_RECEIVED",
            vec![
                event("pix.received", "E18236120202507111532s0123456789")
                    .amount("/amount", "12.12"),
            ],
        ),
        reference(
            "pix_payment_effective",
            "PIX_PAYMENT_UPDATED",
            vec![
                event("pix.transfer.completed", "E38224857202507111540abcDEF12345")
                    .amount("/amount", "150.50"),
            ],
        ),
        reference(
            "pix_payment_error",
            "PIX_PAYMENT_UPDATED",
            vec![
                event("pix.transfer.failed", "E38224857202507111541xyzXYZ98765")
                    .amount("/amount", "99.99"),
            ],
        ),
        reference(
            "pix_refunded",
            "PIX_REFUNDED",
            vec![
                event("pix.refund.received", "D18236120202507121010r0123456789")
                    .amount("/amount", "10.01"),
            ],
        ),
        reference(
            "pix_refund_payment_effective",
            "PIX_REFUND_PAYMENT_UPDATED",
            vec![
                event("pix.transfer.completed", "D38224857202507131200abcdefghijk")
                    .amount("/amount", "2.50"),
            ],
        ),
        reference(
            "pix_refund_payment_error",
            "PIX_REFUND_PAYMENT_UPDATED",
            vec![
                event("pix.transfer.failed", "D38224857202505151236ref0000001")
                    .amount("/amount", "5.00001"),
            ],
        ),
        reference(
            "charge_paid_v1",
            "CHARGE_PAID",
            vec![
                event("charge.paid", "7d9f0e1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a")
                    .amount("/amount", "199.90"),
            ],
        ),
        reference(
            "charge_paid_v2",
            "CHARGE_PAID",
            vec![
                event("charge.paid", "0f1e2d3c-4b5a-4968-8776-655443322110")
                    .amount("/amount", "1500.00001"),
            ],
        ),
        reference(
            "whitelabel_approved",
            "WHITELABEL_CUSTOMER_APPROVED",
            vec![event("account.approved", "31712")],
        ),
        reference(
            "whitelabel_rejected",
            "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
            vec![event(
                "account.documentation_rejected",
                "holder-7281dfb5e8becca0a1c5e77c",
            )],
        ),
        reference(
            "account_status_updated",
            "ACCOUNT_STATUS_UPDATED",
            vec![event("account.status_updated", "999999")],
        ),
        reference(
            "transfer_internal_credited",
            "TRANSFER_INTERNAL_CREDITED",
            vec![
                event(
                    "account.transfer.credited",
                    "C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                )
                .amount("/amount", "0.01"),
            ],
        ),
        reference(
            "transfer_internal_debited",
            "TRANSFER_INTERNAL_DEBITED",
            vec![
                event(
                    "account.transfer.debited",
                    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                )
                .amount("/amount", "100.00"),
            ],
        ),
        reference(
            "infraction_created",
            "INFRACTION_NOTIFICATION_CREATED",
            vec![event(
                "pix.infraction.created",
                "4f3e2d1c-0b9a-4887-9665-544332211000",
            )],
        ),
        inline(
            "unrecognized_event_type",
            "PIX_AUTOMATIC_UPDATED",
            r#"{"eventType": "PIX_AUTOMATIC_AUTHORIZED", "id": "x", "amount": 1.5}"#,
            vec![event(
                "delbank.unrecognized",
                "body-d2947d0b34555a2600df40e9",
            )],
        ),
    ]
}
