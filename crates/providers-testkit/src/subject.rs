//! What a provider's test implements ([`Subject`]) and the provider-neutral values the checks
//! exchange with it: webhook requests and deliveries, fixtures, client settings, fault knobs and
//! the simulator's request log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use providers::{
    CredentialStore, CredentialStoreError, IdempotencyKey, InboundCredential, InboundRequest,
    ProviderDescription, ProviderError, ProviderName, WebhookSource,
};

/// A provider under test: its simulator, its client of the simulator and its webhook source.
///
/// One value is one running simulator: [`Subject::start`] starts it on `127.0.0.1` with a port the
/// OS picks, and every check starts its own, so checks never share state. Everything the kit does
/// to the simulator goes through the methods below; a method is never optional, and a check that
/// does not apply to the provider's kind of authentication is skipped by the kit from
/// [`Subject::description`], not by the subject.
#[async_trait]
pub trait Subject: Sized + Send + Sync + 'static {
    /// The provider's API client, configured for the simulator.
    type Client: Send + Sync;

    /// The provider's description, as the gateway reads it (`<Provider as providers::Provider>
    /// ::describe()`): its name and its webhook authentication decide what is checked.
    fn description() -> ProviderDescription;

    /// The source text of the provider's webhook verification (`include_str!("../src/webhook.rs")`),
    /// read for its use of a constant-time comparison.
    fn verifier_source() -> &'static str;

    /// Starts the simulator on `127.0.0.1:0` (never a fixed port).
    async fn start() -> Self;

    // ---- Webhooks. -------------------------------------------------------------------------

    /// The provider's webhook source as the gateway registers it, reading every credential from
    /// `credentials` (none from configuration). `timestamp_tolerance` is the window for a scheme
    /// that signs a timestamp; a scheme that signs none ignores it.
    fn webhook_source(
        &self,
        credentials: Arc<dyn CredentialStore>,
        timestamp_tolerance: Duration,
    ) -> Arc<dyn WebhookSource>;

    /// A valid credential of the provider's kind, `not_after: None`, with the attributes the
    /// gateway stores with it. Different seeds give different secrets of the same length.
    fn credential(&self, seed: u8) -> InboundCredential;

    /// The request the provider sends for `delivery`, authenticated with `credential` at `at`
    /// (signed, for a signature scheme). The same arguments give the same request.
    fn request(
        &self,
        delivery: &Delivery,
        credential: &InboundCredential,
        at: DateTime<Utc>,
    ) -> WebhookRequest;

    /// `request` without its credential (no signature header, no token...).
    fn without_credential(&self, request: &WebhookRequest) -> WebhookRequest;

    /// `request` with the bytes that verification compares (the signature, the token) changed at
    /// one `position`, the length unchanged.
    fn alter_credential(&self, request: &WebhookRequest, position: Position) -> WebhookRequest;

    /// Every documented payload, with what it must normalize to. At least one must be a type the
    /// provider does not document (expected as `<provider>.unrecognized`).
    fn fixtures(&self) -> Vec<Fixture>;

    // ---- The client. -----------------------------------------------------------------------

    /// A client of the simulator with `settings` (and short backoffs, so retries are quick).
    fn client(&self, settings: ClientSettings) -> Self::Client;

    /// An idempotent read (a GET) that succeeds on a fresh simulator, in one API request per
    /// attempt.
    async fn read(&self, client: &Self::Client) -> Result<(), ProviderError>;

    /// A write that is not idempotent (a PATCH, or a create with no idempotency key the provider
    /// honours), in one API request per attempt: it must never be retried. It may fail on a
    /// fresh simulator: the kit only calls it while the simulator forces failures.
    async fn write(&self, client: &Self::Client) -> Result<(), ProviderError>;

    /// What the provider's client does when a create sent with `key` fails with a 5xx.
    fn keyed_create_retries() -> KeyedCreateRetries;

    /// A create sent under `key`, in one API request per attempt; the same `key` names the same
    /// resource.
    async fn keyed_create(
        &self,
        client: &Self::Client,
        key: &IdempotencyKey,
    ) -> Result<(), ProviderError>;

    /// How many resources the calls to [`Subject::keyed_create`] made, read back from the
    /// simulator.
    async fn created(&self, client: &Self::Client) -> Result<usize, ProviderError>;

    /// Calls that the simulator refuses for `refusal`'s reason, each with its result (one or more).
    async fn refusals(
        &self,
        client: &Self::Client,
        refusal: Refusal,
    ) -> Vec<Result<(), ProviderError>>;

    // ---- The simulator. --------------------------------------------------------------------

    /// Sets `knob` through the simulator's control API (over HTTP), adding to the knobs set.
    async fn set_knob(&self, knob: Knob);

    /// Resets every fault knob through the control API.
    async fn reset_knobs(&self);

    /// The simulator's log of API requests, oldest first, read through the control API.
    async fn requests(&self) -> Vec<LoggedRequest>;
}

/// One inbound webhook request, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// What follows `/webhooks/{provider}` in the URL.
    pub path: String,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The request as the gateway hands it to a [`WebhookSource`].
    pub fn inbound(&self) -> InboundRequest<'_> {
        InboundRequest {
            path: &self.path,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The number of bytes of the path, the headers (names and values) and the body.
    pub fn len(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        self.path.len() + headers + self.body.len()
    }

    /// Whether the request has no path, no header and no body.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One event as the provider delivers it, before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The provider's id of the delivery or event, where it sends one (Standard Webhooks'
    /// `webhook-id`); redeliveries carry the same.
    pub id: String,
    /// What follows `/webhooks/{provider}` in the URL, before any credential the provider puts in
    /// it: `""`, or the registration's path.
    pub path: String,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// A documented payload and the events it must normalize to, in order.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// A name for messages.
    pub name: String,
    /// The delivery.
    pub delivery: Delivery,
    /// The events it must give.
    pub events: Vec<ExpectedEvent>,
}

/// What one normalized event must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedEvent {
    /// The gateway's event type, e.g. `pix.received` or `delbank.unrecognized`.
    pub event_type: String,
    /// The provider's id of the resource it is about.
    pub resource_id: String,
    /// Amounts in its data: a JSON pointer into `data` and the exact decimal, e.g.
    /// `("/amount", "1234.56")`.
    pub amounts: Vec<(String, String)>,
}

impl ExpectedEvent {
    /// An event of `event_type` about `resource_id`, with no amount.
    pub fn new(event_type: &str, resource_id: &str) -> ExpectedEvent {
        ExpectedEvent {
            event_type: event_type.to_owned(),
            resource_id: resource_id.to_owned(),
            amounts: Vec::new(),
        }
    }

    /// Adds the amount at `pointer` in `data` (a [`providers::Money`]), exactly `decimal`.
    pub fn amount(mut self, pointer: &str, decimal: &str) -> ExpectedEvent {
        self.amounts.push((pointer.to_owned(), decimal.to_owned()));
        self
    }
}

/// Where [`Subject::alter_credential`] changes the compared bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The first byte: a comparison that stops at the first difference returns at once.
    First,
    /// The last byte: such a comparison reads everything first.
    Last,
}

/// How the kit configures a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Timeout of one HTTP attempt. A client that counts in whole seconds rounds up.
    pub timeout: Duration,
    /// Attempts per idempotent call, the first included (1: no retry).
    pub attempts: u32,
}

/// What a provider's client does with a create sent under an idempotency key that fails with a
/// 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedCreateRetries {
    /// It retries with the same key on every attempt (the provider honours the key).
    WithTheSameKey,
    /// It does not retry.
    Never,
}

/// Why the simulator refuses a call, for [`Subject::refusals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The resource does not exist (404).
    NotFound,
    /// The call conflicts with a resource's state or an earlier call's key (409).
    Conflict,
    /// The request is invalid (a 4xx validation or business-rule refusal).
    Validation,
}

/// A fault knob of the simulator, in provider-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// Every API request waits this long before it is answered.
    Latency(Duration),
    /// The next `times` API requests are answered with `status` (a 5xx, or 429), with a
    /// `Retry-After` of `retry_after` when set.
    Fail {
        /// How many requests.
        times: u32,
        /// The status.
        status: u16,
        /// The `Retry-After` sent, in whole seconds.
        retry_after: Option<Duration>,
    },
}

/// One API request in the simulator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The path.
    pub path: String,
    /// The idempotency key sent, under whatever header the provider uses.
    pub idempotency_key: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// A [`CredentialStore`] holding the credentials a check sets, for any path, or failing while
/// [`TestCredentials::set_down`] says so. It records every lookup.
#[derive(Debug, Default)]
pub struct TestCredentials {
    inner: Mutex<StoreState>,
}

#[derive(Debug, Default)]
struct StoreState {
    credentials: Vec<InboundCredential>,
    down: bool,
    lookups: Vec<(String, String)>,
}

impl TestCredentials {
    /// A store holding `credentials`.
    pub fn holding(credentials: Vec<InboundCredential>) -> Arc<TestCredentials> {
        let store = TestCredentials::default();
        store.lock().credentials = credentials;
        Arc::new(store)
    }

    /// Replaces the credentials.
    pub fn set(&self, credentials: Vec<InboundCredential>) {
        self.lock().credentials = credentials;
    }

    /// Makes every lookup fail (`down`) or answer again.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Every lookup so far: `(provider, path)`.
    pub fn lookups(&self) -> Vec<(String, String)> {
        self.lock().lookups.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[async_trait]
impl CredentialStore for TestCredentials {
    async fn credentials(
        &self,
        provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        let mut state = self.lock();
        state
            .lookups
            .push((provider.as_str().to_owned(), path.to_owned()));
        if state.down {
            return Err(CredentialStoreError("connection refused".to_owned()));
        }
        Ok(state.credentials.clone())
    }
}

/// `credential` with `not_after` set: a credential being rotated out.
pub fn expiring(credential: InboundCredential, not_after: DateTime<Utc>) -> InboundCredential {
    InboundCredential {
        not_after: Some(not_after),
        ..credential
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use providers::{CredentialStore, InboundCredential, ProviderName, WebhookCredential};

    use crate::subject::{TestCredentials, expiring};

    #[tokio::test]
    async fn the_test_store_answers_what_was_set_records_lookups_and_can_be_down() {
        let credential = InboundCredential {
            secret: WebhookCredential::new("token"),
            not_after: None,
            attributes: Default::default(),
        };
        let store = TestCredentials::holding(vec![credential.clone()]);
        let name = ProviderName::from_static("acme");
        let found = store.credentials(&name, "/a").await.unwrap();
        assert_eq!(found.len(), 1);
        let until = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        store.set(vec![credential.clone(), expiring(credential, until)]);
        let found = store.credentials(&name, "/b").await.unwrap();
        assert_eq!(found[1].not_after, Some(until));
        store.set_down(true);
        assert!(store.credentials(&name, "/c").await.is_err());
        assert_eq!(
            store.lookups(),
            [("acme", "/a"), ("acme", "/b"), ("acme", "/c")]
                .map(|(provider, path)| (provider.to_owned(), path.to_owned()))
        );
    }
}
