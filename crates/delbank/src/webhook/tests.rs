use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use providers::{
    CredentialStore, CredentialStoreError, EventType, InboundCredential, InboundRequest,
    ProviderName, VerifyError, WebhookCredential, WebhookSource,
};
use secrecy::SecretString;

use crate::config::{AuthScheme, Config, ManualRegistration};
use crate::webhook::{DelbankWebhooks, EVENT_TYPES, event_type_of_path, generate, slug};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

// ---- Paths. ----

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
        confirm_by_fetch: true,
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
