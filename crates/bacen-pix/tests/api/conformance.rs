//! The API Pix against the provider conformance kit (`providers_testkit`): the token in the
//! callback URL (`/{token}/pix`) with rotation, the normalizer over the documented callbacks, the
//! client's timeouts, retries and error mapping over mTLS, and the simulator's fault knobs, each
//! set through its plain-HTTP control API.

use std::sync::Arc;
use std::time::Duration;

use bacen_pix::client::txid_for;
use bacen_pix::{BacenPix, BacenPixWebhooks, Client, Registrar};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use providers::{
    BankingProvider, CredentialStore, IdempotencyKey, InboundCredential, PageRequest,
    PixEndToEndId, PixRefundRequest, Provider, ProviderDescription, ProviderError,
    WebhookCredential, WebhookRegistration, WebhookSource,
};
use providers_testkit::{
    ClientSettings, Delivery, ExpectedEvent, Fixture, KeyedCreateRetries, Knob, LoggedRequest,
    Position, Refusal, Subject, WebhookRequest,
};
use serde_json::{Value, json};

use crate::{Harness, brl, harness, immediate, key, payee};

providers_testkit::conformance_tests!(BacenPixSubject);

/// The key of the charge `read` fetches (made when the subject starts).
const READ_KEY: &str = "conformance-read";

/// The key of the charge `write` cancels (made when the subject starts).
const WRITE_KEY: &str = "conformance-write";

/// What a keyed create charges, in cents: the charges of this amount are the ones it made.
const KEYED_CENTS: i64 = 1050;

/// An API Pix simulator (mTLS, its PKI in a temporary directory), and plain HTTP for its control
/// API.
pub(crate) struct BacenPixSubject {
    harness: Harness,
    http: reqwest::Client,
}

impl BacenPixSubject {
    fn control(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.harness.sim.control_url())
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

    /// A Pix of `valor` received from another bank (`POST /_sim/pix-in`): its end-to-end id.
    async fn pix_in(&self, valor: &str) -> PixEndToEndId {
        let answer = self
            .send(
                self.http
                    .post(self.control("/pix-in"))
                    .json(&json!({"valor": valor})),
            )
            .await
            .expect("the pix-in answer");
        PixEndToEndId::parse(answer["endToEndId"].as_str().expect("an endToEndId"))
            .expect("a valid end-to-end id")
    }

    /// Pays the cob `txid` in full (`POST /_sim/cobs/{txid}/pay`).
    async fn pay(&self, txid: &str) {
        self.send(self.http.post(self.control(&format!("/cobs/{txid}/pay"))))
            .await;
    }
}

/// The token a callback path carries: `/{token}/pix`.
fn token_of(request: &WebhookRequest) -> &str {
    request
        .path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(token, _)| token)
        .expect("a path /{token}/pix")
}

fn refund(end_to_end_id: &PixEndToEndId, cents: i64) -> PixRefundRequest {
    PixRefundRequest {
        end_to_end_id: end_to_end_id.clone(),
        amount: brl(cents),
        reason: None,
    }
}

/// The idempotency key of a logged request: the id the gateway chose in a create's path
/// (`PUT /cob/{txid}`, `PUT /cobv/{txid}`, `PUT /pix/{e2eid}/devolucao/{id}`); the API Pix has no
/// idempotency header.
fn idempotency_key(method: &str, path: &str) -> Option<String> {
    if method != "PUT" {
        return None;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["cob" | "cobv", txid] => Some((*txid).to_owned()),
        ["pix", _, "devolucao", id] => Some((*id).to_owned()),
        _ => None,
    }
}

#[providers_testkit::async_trait]
impl Subject for BacenPixSubject {
    type Client = Client;

    fn description() -> ProviderDescription {
        BacenPix::describe()
    }

    fn verifier_source() -> &'static str {
        include_str!("../../src/webhook.rs")
    }

    async fn start() -> BacenPixSubject {
        let subject = BacenPixSubject {
            harness: harness().await,
            http: reqwest::Client::new(),
        };
        let client = subject.harness.client();
        for (name, cents) in [(READ_KEY, 100), (WRITE_KEY, 200)] {
            client
                .create_charge(immediate(cents), &key(name))
                .await
                .expect("the charges the subject reads and cancels");
        }
        subject
    }

    fn webhook_source(
        &self,
        credentials: Arc<dyn CredentialStore>,
        _timestamp_tolerance: Duration,
    ) -> Arc<dyn WebhookSource> {
        Arc::new(BacenPixWebhooks::new(Vec::new(), credentials, payee()))
    }

    fn credential(&self, seed: u8) -> InboundCredential {
        // 32 bytes in base64url, as the registrar draws them: 43 characters.
        let bytes: Vec<u8> = (0..32_u8)
            .map(|index| seed.wrapping_mul(31).wrapping_add(index))
            .collect();
        InboundCredential {
            secret: WebhookCredential::new(URL_SAFE_NO_PAD.encode(bytes)),
            not_after: None,
            attributes: Default::default(),
        }
    }

    fn request(
        &self,
        delivery: &Delivery,
        credential: &InboundCredential,
        _at: DateTime<Utc>,
    ) -> WebhookRequest {
        WebhookRequest {
            path: format!("/{}{}", credential.secret.expose_secret(), delivery.path),
            headers: http::HeaderMap::new(),
            body: delivery.body.clone(),
        }
    }

    fn without_credential(&self, request: &WebhookRequest) -> WebhookRequest {
        let token = token_of(request);
        let mut request = request.clone();
        request.path = request
            .path
            .trim_start_matches('/')
            .strip_prefix(token)
            .expect("the token starts the path")
            .to_owned();
        request
    }

    fn alter_credential(&self, request: &WebhookRequest, position: Position) -> WebhookRequest {
        let token = token_of(request);
        let mut bytes = token.as_bytes().to_vec();
        let index = match position {
            Position::First => 0,
            Position::Last => bytes.len() - 1,
        };
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).expect("a URL-safe token");
        let rest = request
            .path
            .trim_start_matches('/')
            .strip_prefix(token)
            .expect("the token starts the path");
        let mut request = request.clone();
        request.path = format!("/{altered}{rest}");
        request
    }

    fn fixtures(&self) -> Vec<Fixture> {
        fixtures()
    }

    fn client(&self, settings: ClientSettings) -> Client {
        let mut config = self.harness.config.clone();
        config.timeout_ms = u64::try_from(settings.timeout.as_millis()).expect("a timeout");
        config.retries.max_attempts = settings.attempts;
        config.retries.base_delay_ms = 10;
        Client::new(&config).expect("a client of the simulator")
    }

    async fn read(&self, client: &Client) -> Result<(), ProviderError> {
        client
            .get_charge(&txid_for(&key(READ_KEY)))
            .await
            .map(|_| ())
    }

    async fn write(&self, client: &Client) -> Result<(), ProviderError> {
        client
            .cancel_charge(&txid_for(&key(WRITE_KEY)))
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
            .create_charge(immediate(KEYED_CENTS), key)
            .await
            .map(|_| ())
    }

    async fn created(&self, client: &Client) -> Result<usize, ProviderError> {
        let page = client
            .list_charges(PageRequest {
                cursor: None,
                limit: 1000,
            })
            .await?;
        Ok(page
            .items
            .iter()
            .filter(|charge| charge.amount == brl(KEYED_CENTS))
            .count())
    }

    async fn refusals(&self, client: &Client, refusal: Refusal) -> Vec<Result<(), ProviderError>> {
        match refusal {
            Refusal::NotFound => {
                let unknown = PixEndToEndId::parse("E18236120202601011200abcdefghijk").unwrap();
                vec![
                    client
                        .get_charge("nosuchcharge000000000000000")
                        .await
                        .map(|_| ()),
                    client
                        .cancel_charge("nosuchcharge000000000000000")
                        .await
                        .map(|_| ()),
                    client
                        .refund_pix(refund(&unknown, 100), &IdempotencyKey::new_random())
                        .await
                        .map(|_| ()),
                ]
            }
            Refusal::Conflict => {
                // A key that made a charge, paid since, sent again for another amount.
                let charge_key = IdempotencyKey::new_random();
                client
                    .create_charge(immediate(3000), &charge_key)
                    .await
                    .unwrap();
                self.pay(&txid_for(&charge_key)).await;
                // A key that made a refund, sent again for another amount.
                let received = self.pix_in("40.00").await;
                let refund_key = IdempotencyKey::new_random();
                client
                    .refund_pix(refund(&received, 1000), &refund_key)
                    .await
                    .unwrap();
                vec![
                    client
                        .create_charge(immediate(3100), &charge_key)
                        .await
                        .map(|_| ()),
                    client
                        .refund_pix(refund(&received, 1500), &refund_key)
                        .await
                        .map(|_| ()),
                ]
            }
            Refusal::Validation => {
                let received = self.pix_in("5.00").await;
                vec![
                    client
                        .refund_pix(refund(&received, 600), &IdempotencyKey::new_random())
                        .await
                        .map(|_| ()),
                    Registrar::new(client.clone())
                        .register("ftp://paygate.example.com")
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
            Knob::Latency(latency) => knobs["latency_ms"] = json!(latency.as_millis()),
            Knob::Fail {
                times,
                status,
                retry_after,
            } => {
                knobs["fail_next"] = json!(times);
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
            .map(|request| {
                let method = request["method"].as_str().unwrap().to_owned();
                let path = request["path"].as_str().unwrap().to_owned();
                LoggedRequest {
                    idempotency_key: idempotency_key(&method, &path),
                    method,
                    path,
                    status: u16::try_from(request["status"].as_u64().unwrap()).unwrap(),
                }
            })
            .collect()
    }
}

/// A documented callback (`fixtures/<name>.json`), posted to `{webhookUrl}/pix`.
fn callback(name: &str, events: Vec<ExpectedEvent>) -> Fixture {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    Fixture {
        name: name.to_owned(),
        delivery: Delivery {
            id: format!("delivery-{name}"),
            path: "/pix".to_owned(),
            body,
        },
        events,
    }
}

/// The spec's callback examples and the callbacks of each fact (a Pix, a Pix paying a charge, a
/// refund returned, not made, in processing), and an item of an undocumented refund status.
fn fixtures() -> Vec<Fixture> {
    let event = ExpectedEvent::new;
    vec![
        callback(
            "documented_callback",
            vec![
                event("pix.received", "E12345678202009091221kkkkkkkkkkk")
                    .amount("/amount", "110.00"),
                event("charge.paid", "c3e0e7a4e7f1469a9f782d3d4999343c")
                    .amount("/amount", "110.00"),
                event("pix.received", "E87654321202009091221dfghi123456")
                    .amount("/amount", "110.00"),
                event("charge.paid", "971122d8f37211eaadc10242ac120002")
                    .amount("/amount", "110.00"),
                event("pix.transfer.completed", "D12345678202009091222abcdf098766")
                    .amount("/amount", "20.00"),
            ],
        ),
        callback(
            "pix_received",
            vec![
                event("pix.received", "E18236120202507111532s0123456789")
                    .amount("/amount", "1234.56"),
            ],
        ),
        callback(
            "charge_paid",
            vec![
                event("pix.received", "E18236120202507141000pay00000001").amount("/amount", "0.01"),
                event("charge.paid", "pg3f1c2b4a5d6e7f8091a2b3c4d5e6f7081")
                    .amount("/amount", "0.01"),
            ],
        ),
        callback(
            "refund_returned",
            vec![
                event("pix.received", "E18236120202507121005abcdefghijk")
                    .amount("/amount", "150.00"),
                event("pix.transfer.completed", "D60701190202507121010rtr00000001")
                    .amount("/amount", "49.99"),
            ],
        ),
        callback(
            "refund_not_made",
            vec![
                event("pix.received", "E18236120202507131100zyxwvutsrqp")
                    .amount("/amount", "75.00"),
                event("charge.paid", "pg00aa11bb22cc33dd44ee55ff6677889")
                    .amount("/amount", "75.00"),
                event("pix.transfer.failed", "D60701190202507131105rtr00000002")
                    .amount("/amount", "75.00"),
            ],
        ),
        callback(
            "refund_in_processing",
            vec![
                event("pix.received", "E18236120202507151200procproc001")
                    .amount("/amount", "10.00"),
            ],
        ),
        callback(
            "unrecognized_refund_status",
            vec![event(
                "bacen-pix.unrecognized",
                "item-81bdd8b4869d14b54ca3a685",
            )],
        ),
    ]
}
