use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use providers::{
    CredentialStore, CredentialStoreError, EventType, InboundCredential, InboundRequest,
    NormalizedEvent, ProviderName, ResourceKind, VerifyError, WebhookCredential, WebhookSource,
};
use secrecy::SecretString;
use serde_json::json;

use crate::config::{AuthScheme, Config, ManualRegistration};
use crate::webhook::{DelbankWebhooks, EVENT_TYPES, event_type_of_path, generate, slug};

// ---- Normalization of the reference's payloads. ----

struct Expected {
    fixture: &'static str,
    registered: &'static str,
    event_type: &'static str,
    provider_event_type: &'static str,
    resource_kind: ResourceKind,
    resource_id: &'static str,
    amount: Option<&'static str>,
    dedup_key: &'static str,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn normalize(registered: Option<&str>, body: &[u8]) -> NormalizedEvent {
    crate::webhook::normalize_body(registered, body).unwrap()
}

fn check(expected: &Expected) {
    let event = normalize(Some(expected.registered), &fixture(expected.fixture));
    let data = serde_json::to_value(&event).unwrap();
    assert_eq!(
        event.event_type.as_str(),
        expected.event_type,
        "{}",
        expected.fixture
    );
    assert_eq!(event.provider_event_type, expected.provider_event_type);
    assert_eq!(
        event.resource.kind, expected.resource_kind,
        "{}",
        expected.fixture
    );
    assert_eq!(
        event.resource.id, expected.resource_id,
        "{}",
        expected.fixture
    );
    assert_eq!(
        event.dedup_key.as_str(),
        expected.dedup_key,
        "{}",
        expected.fixture
    );
    match expected.amount {
        Some(amount) => assert_eq!(
            data["data"]["amount"],
            json!({"amount": amount, "currency": "BRL"}),
            "{}",
            expected.fixture
        ),
        None => assert!(data["data"].get("amount").is_none()),
    }
}

#[test]
fn every_payload_of_the_reference_normalizes_with_exact_amounts() {
    let table = [
        Expected {
            fixture: "pix_received",
            registered: "PIX_RECEIVED",
            event_type: "pix.received",
            provider_event_type: "PIX_RECEIVED",
            resource_kind: ResourceKind::Pix,
            resource_id: "E18236120202507111532s0123456789",
            amount: Some("12.12"),
            dedup_key: "PIX_RECEIVED:E18236120202507111532s0123456789",
        },
        Expected {
            fixture: "pix_payment_effective",
            registered: "PIX_PAYMENT_UPDATED",
            event_type: "pix.transfer.completed",
            provider_event_type: "PIX_PAYMENT_EFFECTIVE",
            resource_kind: ResourceKind::Pix,
            resource_id: "E38224857202507111540abcDEF12345",
            amount: Some("150.50"),
            dedup_key: "PIX_PAYMENT_UPDATED:E38224857202507111540abcDEF12345:PIX_EFFECTIVE",
        },
        Expected {
            fixture: "pix_payment_error",
            registered: "PIX_PAYMENT_UPDATED",
            event_type: "pix.transfer.failed",
            provider_event_type: "PIX_PAYMENT_ERROR",
            resource_kind: ResourceKind::Pix,
            resource_id: "E38224857202507111541xyzXYZ98765",
            amount: Some("99.99"),
            dedup_key: "PIX_PAYMENT_UPDATED:E38224857202507111541xyzXYZ98765:PIX_ERROR",
        },
        Expected {
            fixture: "pix_refunded",
            registered: "PIX_REFUNDED",
            event_type: "pix.refund.received",
            provider_event_type: "PIX_REFUNDED",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D18236120202507121010r0123456789",
            amount: Some("10.01"),
            dedup_key: "PIX_REFUNDED:D18236120202507121010r0123456789",
        },
        Expected {
            fixture: "pix_refund_payment_error",
            registered: "PIX_REFUND_PAYMENT_UPDATED",
            event_type: "pix.transfer.failed",
            provider_event_type: "PIX_REFUND_PAYMENT_ERROR",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D38224857202505151236ref0000001",
            amount: Some("5.00001"),
            dedup_key: "PIX_REFUND_PAYMENT_UPDATED:D38224857202505151236ref0000001:PIX_ERROR",
        },
        Expected {
            fixture: "pix_refund_payment_effective",
            registered: "PIX_REFUND_PAYMENT_UPDATED",
            event_type: "pix.transfer.completed",
            provider_event_type: "PIX_REFUND_PAYMENT_EFFECTIVE",
            resource_kind: ResourceKind::PixRefund,
            resource_id: "D38224857202507131200abcdefghijk",
            amount: Some("2.50"),
            dedup_key: "PIX_REFUND_PAYMENT_UPDATED:D38224857202507131200abcdefghijk:PIX_EFFECTIVE",
        },
        Expected {
            fixture: "charge_paid_v1",
            registered: "CHARGE_PAID",
            event_type: "charge.paid",
            provider_event_type: "CHARGE_PAID",
            resource_kind: ResourceKind::Charge,
            resource_id: "7d9f0e1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a",
            amount: Some("199.90"),
            dedup_key: "CHARGE_PAID:7d9f0e1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a:4567",
        },
        Expected {
            fixture: "charge_paid_v2",
            registered: "CHARGE_PAID",
            event_type: "charge.paid",
            provider_event_type: "CHARGE_PAID_V2",
            resource_kind: ResourceKind::Charge,
            resource_id: "0f1e2d3c-4b5a-4968-8776-655443322110",
            amount: Some("1500.00001"),
            dedup_key: "CHARGE_PAID:0f1e2d3c-4b5a-4968-8776-655443322110:00012345",
        },
        Expected {
            fixture: "whitelabel_approved",
            registered: "WHITELABEL_CUSTOMER_APPROVED",
            event_type: "account.approved",
            provider_event_type: "WHITELABEL_CUSTOMER_APPROVED",
            resource_kind: ResourceKind::Account,
            resource_id: "31712",
            amount: None,
            dedup_key: "",
        },
        Expected {
            fixture: "transfer_internal_credited",
            registered: "TRANSFER_INTERNAL_CREDITED",
            event_type: "account.transfer.credited",
            provider_event_type: "TRANSFER_INTERNAL_CREDITED",
            resource_kind: ResourceKind::Transfer,
            resource_id: "C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
            amount: Some("0.01"),
            dedup_key: "TRANSFER_INTERNAL_CREDITED:C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        },
        Expected {
            fixture: "transfer_internal_debited",
            registered: "TRANSFER_INTERNAL_DEBITED",
            event_type: "account.transfer.debited",
            provider_event_type: "TRANSFER_INTERNAL_DEBITED",
            resource_kind: ResourceKind::Transfer,
            resource_id: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            amount: Some("100.00"),
            dedup_key: "TRANSFER_INTERNAL_DEBITED:9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        },
        Expected {
            fixture: "account_status_updated",
            registered: "ACCOUNT_STATUS_UPDATED",
            event_type: "account.status_updated",
            provider_event_type: "ACCOUNT_STATUS_UPDATED",
            resource_kind: ResourceKind::Account,
            resource_id: "999999",
            amount: None,
            dedup_key: "ACCOUNT_STATUS_UPDATED:999999:BLOCKED:2025-03-02T12:14:06.0613001Z",
        },
        Expected {
            fixture: "infraction_created",
            registered: "INFRACTION_NOTIFICATION_CREATED",
            event_type: "pix.infraction.created",
            provider_event_type: "INFRACTION_NOTIFICATION_CREATED",
            resource_kind: ResourceKind::Infraction,
            resource_id: "4f3e2d1c-0b9a-4887-9665-544332211000",
            amount: None,
            dedup_key: "INFRACTION_NOTIFICATION_CREATED:4f3e2d1c-0b9a-4887-9665-544332211000",
        },
    ];
    for expected in &table {
        if expected.dedup_key.is_empty() {
            let event = normalize(Some(expected.registered), &fixture(expected.fixture));
            assert_eq!(event.event_type.as_str(), expected.event_type);
            assert_eq!(event.resource.id, expected.resource_id);
            continue;
        }
        check(expected);
    }
}

#[test]
fn a_received_pix_carries_what_reconciliation_needs() {
    let event = normalize(Some("PIX_RECEIVED"), &fixture("pix_received"));
    let data = &event.data;
    assert_eq!(data["end_to_end_id"], "E18236120202507111532s0123456789");
    assert_eq!(data["payee"]["document"]["value"], "11222333000181");
    assert_eq!(data["payee"]["document"]["kind"], "cnpj");
    assert_eq!(data["payee"]["account"], "29823");
    assert_eq!(data["payee"]["ispb"], "38224857");
    assert_eq!(data["payer"]["ispb"], "18236120");
    assert_eq!(data["payer"]["name"], "JOAO DA SILVA");
    // A masked document is kept as sent, flagged, never failed on.
    assert_eq!(data["payer"]["document"]["value"], "***876977**");
    assert_eq!(data["payer"]["document"]["masked"], true);
    assert_eq!(
        event.occurred_at,
        DateTime::parse_from_rfc3339("2025-07-11T15:32:41.0613001Z").unwrap()
    );
    assert_eq!(
        event.resource.correlation_id.as_deref(),
        Some("S1102202507111532385690004567")
    );
}

#[test]
fn a_failed_pix_keeps_its_error_code_and_idempotency_key() {
    let event = normalize(Some("PIX_PAYMENT_UPDATED"), &fixture("pix_payment_error"));
    assert_eq!(event.data["failure"]["code"], "AC06");
    assert_eq!(
        event.resource.correlation_id.as_deref(),
        Some("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    );
    let refund = normalize(
        Some("PIX_REFUND_PAYMENT_UPDATED"),
        &fixture("pix_refund_payment_error"),
    );
    assert_eq!(refund.data["failure"]["code"], "DEL20");
    assert_eq!(refund.data["operation"], "refund");
    // `finishedAt` has no offset: read as UTC.
    assert_eq!(
        refund.occurred_at,
        Utc.with_ymd_and_hms(2025, 5, 15, 12, 36, 48).unwrap()
    );
}

#[test]
fn payloads_without_event_type_are_typed_by_their_registration() {
    let approved = normalize(
        Some("WHITELABEL_CUSTOMER_APPROVED"),
        &fixture("whitelabel_approved"),
    );
    let rejected = normalize(
        Some("WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED"),
        &fixture("whitelabel_rejected"),
    );
    assert_eq!(approved.event_type, EventType::AccountApproved);
    assert_eq!(approved.data["account"], "31712");
    assert_eq!(approved.data["holder"]["document"]["value"], "52998224725");
    assert_eq!(rejected.event_type, EventType::AccountDocumentationRejected);
    assert!(rejected.data["account"].is_null());
    assert!(rejected.resource.id.starts_with("holder-"));
    // The document is not in the dedup key or the resource id, only its hash.
    for event in [&approved, &rejected] {
        assert!(!event.dedup_key.as_str().contains("52998224725"));
        assert!(!event.resource.id.contains("52998224725"));
    }
    assert_ne!(approved.dedup_key, rejected.dedup_key);
    let charge = normalize(Some("CHARGE_PAID"), &fixture("charge_paid_v1"));
    assert_eq!(charge.event_type, EventType::ChargePaid);
    assert_eq!(charge.data["version"], 1);
    assert_eq!(
        charge.data["end_to_end_id"],
        "E00000000202507141000pix00000001"
    );
}

#[test]
fn the_body_event_type_is_used_when_the_registration_is_unknown() {
    let event = normalize(None, &fixture("pix_received"));
    assert_eq!(event.event_type, EventType::PixReceived);
    let event = normalize(Some("SOMETHING_NEW"), &fixture("pix_payment_effective"));
    assert_eq!(event.event_type, EventType::PixTransferCompleted);
}

#[test]
fn the_same_bytes_give_the_same_dedup_key_and_other_outcomes_differ() {
    let first = normalize(
        Some("PIX_PAYMENT_UPDATED"),
        &fixture("pix_payment_effective"),
    );
    let again = normalize(
        Some("PIX_PAYMENT_UPDATED"),
        &fixture("pix_payment_effective"),
    );
    assert_eq!(first, again);
    let failed = normalize(Some("PIX_PAYMENT_UPDATED"), &fixture("pix_payment_error"));
    assert_ne!(first.dedup_key, failed.dedup_key);
}

#[test]
fn an_unknown_event_type_is_kept_as_unrecognized() {
    let body = br#"{"eventType": "PIX_AUTOMATIC_AUTHORIZED", "id": "x", "amount": 1.5}"#;
    let event = normalize(Some("PIX_AUTOMATIC_UPDATED"), body);
    assert_eq!(event.event_type.as_str(), "delbank.unrecognized");
    assert_eq!(event.provider_event_type, "PIX_AUTOMATIC_AUTHORIZED");
    assert_eq!(event.resource.kind, ResourceKind::Other);
    assert_eq!(event.data["registered_event_type"], "PIX_AUTOMATIC_UPDATED");
    assert!(event.dedup_key.as_str().starts_with("unrecognized:"));
    assert_eq!(event, normalize(Some("PIX_AUTOMATIC_UPDATED"), body));
}

#[test]
fn an_unknown_status_is_kept_as_unrecognized_not_fatal() {
    let body = br#"{"eventType":"PIX_PAYMENT_SCHEDULED","endToEndId":"E38224857202507111540abcDEF12345","status":"PIX_SCHEDULED","amount":1.00}"#;
    let event = normalize(Some("PIX_PAYMENT_UPDATED"), body);
    assert!(event.event_type.is_unrecognized());
    assert_eq!(event.provider_event_type, "PIX_PAYMENT_SCHEDULED");
    assert!(
        event.data["reason"]
            .as_str()
            .unwrap()
            .contains("PIX_SCHEDULED")
    );
}

#[test]
fn a_body_that_is_not_json_cannot_be_normalized() {
    assert!(crate::webhook::normalize_body(Some("PIX_RECEIVED"), b"<xml/>").is_err());
    assert!(crate::webhook::normalize_body(Some("PIX_RECEIVED"), b"[1,2]").is_err());
}

#[test]
fn gateway_made_paths_encode_their_event_type() {
    for event_type in EVENT_TYPES {
        let path = format!("/{}-0a1b2c3d4e5f", slug(event_type));
        assert_eq!(event_type_of_path(&path).as_deref(), Some(event_type));
    }
    assert_eq!(event_type_of_path("/portal"), None);
    assert_eq!(event_type_of_path("/pix-received-zz"), None);
}

// ---- Authentication. ----

const PIX_PATH: &str = "/pix-received-0a1b2c3d4e5f";
const CHARGE_PATH: &str = "/charge-paid-aaaaaaaaaaaa";

#[derive(Default)]
struct FakeStore {
    by_path: HashMap<String, Vec<InboundCredential>>,
    down: bool,
}

#[async_trait]
impl CredentialStore for FakeStore {
    async fn credentials(
        &self,
        _provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        if self.down {
            return Err(CredentialStoreError("connection refused".to_owned()));
        }
        Ok(self.by_path.get(path).cloned().unwrap_or_default())
    }
}

fn stored(scheme: AuthScheme, secret: &str, not_after: Option<DateTime<Utc>>) -> InboundCredential {
    let mut attributes = BTreeMap::new();
    attributes.insert("scheme".to_owned(), scheme.as_str().to_owned());
    attributes.insert("event_type".to_owned(), "PIX_RECEIVED".to_owned());
    if scheme == AuthScheme::Header {
        attributes.insert("header".to_owned(), "x-paygate-webhook-token".to_owned());
    }
    InboundCredential {
        secret: WebhookCredential::new(secret),
        not_after,
        attributes,
    }
}

fn config(manual: Vec<ManualRegistration>) -> Config {
    Config {
        enabled: true,
        base_url: "http://127.0.0.1:1".to_owned(),
        api_key: SecretString::from("key"),
        account_id: "29823".to_owned(),
        timeout_secs: 1,
        retries: 0,
        retry_base_delay_ms: 1,
        webhook_scheme: AuthScheme::Bearer,
        webhooks: manual,
    }
}

fn source(store: FakeStore, manual: Vec<ManualRegistration>) -> DelbankWebhooks {
    DelbankWebhooks::new(&config(manual), Arc::new(store))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

async fn verify(
    source: &DelbankWebhooks,
    path: &str,
    pairs: &[(&str, &str)],
    at: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let headers = headers(pairs);
    let request = InboundRequest {
        path,
        headers: &headers,
        body: b"{}",
    };
    source.verify(&request, at).await
}

fn store_with(path: &str, credentials: Vec<InboundCredential>) -> FakeStore {
    let mut store = FakeStore::default();
    store.by_path.insert(path.to_owned(), credentials);
    store
}

#[tokio::test]
async fn bearer_accepts_the_right_token_with_or_without_its_prefix() {
    let source = source(
        store_with(PIX_PATH, vec![stored(AuthScheme::Bearer, "tok-123", None)]),
        Vec::new(),
    );
    let ok = |value: &'static str| [("authorization", value)];
    assert_eq!(
        verify(&source, PIX_PATH, &ok("Bearer tok-123"), now()).await,
        Ok(())
    );
    assert_eq!(
        verify(&source, PIX_PATH, &ok("bearer tok-123"), now()).await,
        Ok(())
    );
    assert_eq!(
        verify(&source, PIX_PATH, &ok("tok-123"), now()).await,
        Ok(())
    );
    assert_eq!(
        verify(&source, PIX_PATH, &ok("Bearer tok-124"), now()).await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(
        verify(&source, PIX_PATH, &ok("Basic tok-123x"), now()).await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(
        verify(&source, PIX_PATH, &[], now()).await,
        Err(VerifyError::MissingCredential)
    );
}

#[tokio::test]
async fn basic_accepts_the_stored_base64_with_or_without_its_prefix() {
    let generated = generate(AuthScheme::Basic);
    let secret = generated.inbound.as_str();
    let with_prefix = format!("Basic {secret}");
    let source = source(
        store_with(PIX_PATH, vec![stored(AuthScheme::Basic, secret, None)]),
        Vec::new(),
    );
    assert_eq!(
        verify(
            &source,
            PIX_PATH,
            &[("authorization", with_prefix.as_str())],
            now()
        )
        .await,
        Ok(())
    );
    assert_eq!(
        verify(&source, PIX_PATH, &[("authorization", secret)], now()).await,
        Ok(())
    );
    assert_eq!(
        verify(
            &source,
            PIX_PATH,
            &[("authorization", "Basic cGF5Z2F0ZTp3cm9uZw==")],
            now()
        )
        .await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(
        verify(&source, PIX_PATH, &[("x-other", "1")], now()).await,
        Err(VerifyError::MissingCredential)
    );
}

#[tokio::test]
async fn header_scheme_reads_the_custom_header() {
    let source = source(
        store_with(PIX_PATH, vec![stored(AuthScheme::Header, "hv-1", None)]),
        Vec::new(),
    );
    assert_eq!(
        verify(
            &source,
            PIX_PATH,
            &[("x-paygate-webhook-token", "hv-1")],
            now()
        )
        .await,
        Ok(())
    );
    assert_eq!(
        verify(
            &source,
            PIX_PATH,
            &[("x-paygate-webhook-token", "hv-2")],
            now()
        )
        .await,
        Err(VerifyError::InvalidSignature)
    );
    // The right value in another header is no credential.
    assert_eq!(
        verify(&source, PIX_PATH, &[("authorization", "hv-1")], now()).await,
        Err(VerifyError::MissingCredential)
    );
}

#[tokio::test]
async fn a_credential_of_another_registration_is_refused() {
    let mut store = store_with(
        PIX_PATH,
        vec![stored(AuthScheme::Bearer, "pix-token", None)],
    );
    store.by_path.insert(
        CHARGE_PATH.to_owned(),
        vec![stored(AuthScheme::Bearer, "charge-token", None)],
    );
    let source = source(store, Vec::new());
    assert_eq!(
        verify(
            &source,
            PIX_PATH,
            &[("authorization", "Bearer charge-token")],
            now()
        )
        .await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(
        verify(
            &source,
            CHARGE_PATH,
            &[("authorization", "Bearer charge-token")],
            now()
        )
        .await,
        Ok(())
    );
}

#[tokio::test]
async fn during_a_rotation_old_and_new_credentials_are_accepted_until_the_grace_ends() {
    let grace_end = now() + chrono::Duration::minutes(10);
    let source = source(
        store_with(
            PIX_PATH,
            vec![
                stored(AuthScheme::Bearer, "new-token", None),
                stored(AuthScheme::Bearer, "old-token", Some(grace_end)),
            ],
        ),
        Vec::new(),
    );
    let old = [("authorization", "Bearer old-token")];
    let new = [("authorization", "Bearer new-token")];
    assert_eq!(verify(&source, PIX_PATH, &old, now()).await, Ok(()));
    assert_eq!(verify(&source, PIX_PATH, &new, now()).await, Ok(()));
    let after = grace_end + chrono::Duration::seconds(1);
    assert_eq!(
        verify(&source, PIX_PATH, &old, after).await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(verify(&source, PIX_PATH, &new, after).await, Ok(()));
}

#[tokio::test]
async fn an_unknown_path_and_an_unavailable_store_are_told_apart() {
    let source_ok = source(FakeStore::default(), Vec::new());
    assert_eq!(
        verify(&source_ok, "/nope", &[("authorization", "Bearer x")], now()).await,
        Err(VerifyError::UnknownRegistration("/nope".to_owned()))
    );
    let down = FakeStore {
        down: true,
        ..FakeStore::default()
    };
    let source_down = source(down, Vec::new());
    assert!(matches!(
        verify(
            &source_down,
            PIX_PATH,
            &[("authorization", "Bearer x")],
            now()
        )
        .await,
        Err(VerifyError::Unavailable(_))
    ));
}

fn manual(
    path: &str,
    event_type: &str,
    scheme: AuthScheme,
    header: Option<&str>,
    secret: &str,
) -> ManualRegistration {
    ManualRegistration {
        path: path.to_owned(),
        event_type: event_type.to_owned(),
        scheme,
        header: header.map(str::to_owned),
        credential: SecretString::from(secret.to_owned()),
    }
}

#[tokio::test]
async fn registrations_made_by_hand_are_accepted_from_the_configuration() {
    let down = FakeStore {
        down: true,
        ..FakeStore::default()
    };
    let source = source(
        down,
        vec![
            manual(
                "portal-pix",
                "PIX_RECEIVED",
                AuthScheme::Header,
                Some("x-webhook-key"),
                "yourKey",
            ),
            manual(
                "/portal-onboarding",
                "WHITELABEL_CUSTOMER_APPROVED",
                AuthScheme::Bearer,
                None,
                "jwt-1",
            ),
        ],
    );
    assert_eq!(
        verify(
            &source,
            "/portal-pix",
            &[("x-webhook-key", "yourKey")],
            now()
        )
        .await,
        Ok(())
    );
    assert_eq!(
        verify(
            &source,
            "/portal-pix",
            &[("x-webhook-key", "theirKey")],
            now()
        )
        .await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(
        verify(
            &source,
            "/portal-onboarding",
            &[("authorization", "Bearer jwt-1")],
            now()
        )
        .await,
        Ok(())
    );
    // The configured event type types a payload without one.
    let headers = headers(&[]);
    let request = InboundRequest {
        path: "/portal-onboarding",
        headers: &headers,
        body: &fixture("whitelabel_approved"),
    };
    let events = source.normalize(&request).unwrap();
    assert_eq!(events[0].event_type, EventType::AccountApproved);
}

#[test]
fn generated_credentials_follow_delbanks_formats() {
    use base64::Engine;
    let basic = generate(AuthScheme::Basic);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&basic.authorization)
        .unwrap();
    assert!(String::from_utf8(decoded).unwrap().starts_with("paygate:"));
    assert_eq!(basic.authorization, basic.inbound);
    let header = generate(AuthScheme::Header);
    assert_eq!(
        header.authorization,
        format!("x-paygate-webhook-token: {}", header.inbound)
    );
    assert_ne!(
        generate(AuthScheme::Bearer).inbound,
        generate(AuthScheme::Bearer).inbound
    );
}
