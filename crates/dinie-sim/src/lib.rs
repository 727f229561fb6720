//! A faithful, in-memory simulator of the Dinie credit API, version `2026-03-01`, speaking the docs
//! portal's profile ([D] in `shared/providers/dinie-api.md`): base path `/v3` (alias `/api/v3`),
//! money as two-place decimal strings, ISO-8601 timestamps, `Idempotency-Key` (and the SDK's
//! `X-Idempotency-Key`), RFC 9457 problems with Dinie's codes, `X-RateLimit-*` on every response.
//!
//! It runs in-process ([`start`], on `127.0.0.1` with a port chosen by the OS) or as the
//! `dinie-sim` binary, and sends real Standard Webhooks (v1 HMAC-SHA256, signed by the
//! `standardwebhooks` crate, two signatures during a secret rotation) to the endpoints registered
//! through its API.
//!
//! Tests drive it through a control API under `/_sim/...` (or the same operations on
//! [`SimHandle`]): advance state machines, force API faults (5xx, 429 with `Retry-After`, slow
//! answers), force delivery faults (duplicates, reordering, delays, a wrong signing secret), expire
//! tokens, move the clock, and read what happened (requests, token requests, events, deliveries).
//!
//! # Layout
//! - `model`: the in-memory world and Dinie's business rules and state machines.
//! - `api`: the `/v3` routes.
//! - `guard`: the middleware stack: rate limit and fault injection, bearer auth, idempotency.
//! - `control`: the `/_sim` routes.
//! - `delivery`: signing and delivering webhooks, with retries and fault knobs.
//! - `problem`: problem+json answers; `wire`: the [D] formats.

mod api;
mod control;
mod delivery;
mod guard;
mod model;
mod problem;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

pub use crate::model::EmittedEvent;
use crate::model::{Credential, State};
use crate::problem::Problem;

/// How the simulator behaves. Build one with [`SimConfig::standard`] or [`SimConfig::fast`] and
/// adjust fields.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The partner's initial API client id (`dinie_ci_…`).
    pub client_id: String,
    /// Its secret (`dinie_cs_test_…`).
    pub client_secret: String,
    /// Lifetime of access tokens (`expires_in`); Dinie's is one hour.
    pub token_lifetime: Duration,
    /// Requests allowed per rate-limit window (all callers together).
    pub rate_limit: u32,
    /// Length of a rate-limit window.
    pub rate_window: Duration,
    /// The credit offer every approved customer gets.
    pub offer: OfferTerms,
    /// When set, a timer advances state machines at this interval: customers under review are
    /// approved, open loans move one step, lapsed offers expire.
    pub auto_advance: Option<Duration>,
    /// First delay between delivery attempts of a webhook; doubled after each failure.
    pub delivery_retry_base: Duration,
    /// Attempts per delivery before giving up.
    pub delivery_max_attempts: u32,
    /// How long a receiver has to answer a delivery.
    pub delivery_timeout: Duration,
    /// Add the SDK's envelope fields (`id`, `api_version`, `created_at`, `delivery_id`) to webhook
    /// bodies, as [S] describes.
    pub sdk_envelope: bool,
    /// Accept `http://` webhook URLs on loopback hosts (Dinie requires HTTPS).
    pub allow_http_loopback: bool,
    /// Further hosts that webhook endpoints may name over plain HTTP (a compose or cluster
    /// network, where the gateway is `gateway:8080`). Empty: HTTPS only, as Dinie.
    pub allow_http_hosts: Vec<String>,
}

/// The terms of the credit offer made to approved customers.
#[derive(Debug, Clone)]
pub struct OfferTerms {
    /// The most that can be borrowed.
    pub approved_amount: Decimal,
    /// The least that can be borrowed.
    pub min_amount: Decimal,
    /// Monthly interest in percent.
    pub interest_rate: Decimal,
    /// The fixed number of installments.
    pub installments: u32,
    /// How long the offer stays valid.
    pub valid_for: chrono::Duration,
}

impl SimConfig {
    /// Dinie's documented behaviour: one-hour tokens, slow webhook retries.
    pub fn standard() -> SimConfig {
        SimConfig {
            client_id: "dinie_ci_test_simulator".to_owned(),
            client_secret: "dinie_cs_test_simulator_secret".to_owned(),
            token_lifetime: Duration::from_secs(3600),
            rate_limit: 1000,
            rate_window: Duration::from_secs(60),
            offer: OfferTerms {
                approved_amount: Decimal::new(5_000_000, 2),
                min_amount: Decimal::new(100_000, 2),
                interest_rate: Decimal::new(35, 1),
                installments: 12,
                valid_for: chrono::Duration::days(30),
            },
            auto_advance: None,
            delivery_retry_base: Duration::from_secs(5),
            delivery_max_attempts: 8,
            delivery_timeout: Duration::from_secs(5),
            sdk_envelope: false,
            allow_http_loopback: true,
            allow_http_hosts: Vec::new(),
        }
    }

    /// For tests: webhook retries after 50 ms, everything else as [`SimConfig::standard`].
    pub fn fast() -> SimConfig {
        SimConfig {
            delivery_retry_base: Duration::from_millis(50),
            ..SimConfig::standard()
        }
    }
}

/// A forced answer of the API, for the requests it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Only requests with this method (`GET`, `POST`...); any when `None`.
    #[serde(default)]
    pub method: Option<String>,
    /// Only paths (after the base path) starting with this, e.g. `/customers`; any when `None`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Answer with this status instead of running the request (429 adds `Retry-After`).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with a forced 429.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// Wait this long before answering (a slow server).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many matching requests it applies to; every one when `None`.
    #[serde(default)]
    pub times: Option<u32>,
}

/// Faults applied to webhook deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFaults {
    /// Extra copies of every delivery, sent concurrently with the original.
    #[serde(default)]
    pub duplicates: u32,
    /// Hold deliveries for this long, then send the batch in reverse order.
    #[serde(default)]
    pub reorder_window_ms: u64,
    /// Wait this long before delivering.
    #[serde(default)]
    pub delay_ms: u64,
    /// Sign the next this-many delivery attempts with a random secret.
    #[serde(default)]
    pub wrong_secret_times: u32,
}

/// A request the API received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path after the base path, e.g. `/customers`.
    pub path: String,
    /// The `Idempotency-Key` (or `X-Idempotency-Key`) sent, if any.
    pub idempotency_key: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// One attempt at delivering a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The event (`webhook-id`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// 1 for the first attempt of a copy.
    pub attempt: u32,
    /// The receiver's status; `None` when it could not be reached in time.
    pub status: Option<u16>,
    /// Whether the attempt was signed with a wrong secret on purpose.
    pub wrong_secret: bool,
}

/// An operation of the control API failed (unknown id, wrong state...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("simulator refused the operation ({code}): {detail}")]
pub struct SimError {
    /// The HTTP status the control API answers with.
    pub status: u16,
    /// Dinie-style error code, e.g. `invalid_state`.
    pub code: String,
    /// What went wrong.
    pub detail: String,
}

impl From<Problem> for SimError {
    fn from(problem: Problem) -> SimError {
        SimError {
            status: problem.status.as_u16(),
            code: problem.code,
            detail: problem.detail,
        }
    }
}

/// Mutable knobs and logs, apart from the business state.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    pub(crate) faults: Vec<Fault>,
    pub(crate) delivery: DeliveryFaults,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) window_started: Option<DateTime<Utc>>,
    pub(crate) window_count: u32,
    pub(crate) attempts: Vec<DeliveryAttempt>,
}

/// A cached answer to an idempotent request.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    InFlight {
        fingerprint: Vec<u8>,
        at: DateTime<Utc>,
    },
    Done {
        fingerprint: Vec<u8>,
        at: DateTime<Utc>,
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
}

/// The simulator shared by every task.
pub(crate) struct Sim {
    pub(crate) config: SimConfig,
    pub(crate) state: Mutex<State>,
    pub(crate) knobs: Mutex<Knobs>,
    pub(crate) idempotency: Mutex<HashMap<(String, String), Cached>>,
    pub(crate) clock_offset_secs: AtomicI64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) pending_deliveries: AtomicUsize,
    pub(crate) jobs: mpsc::UnboundedSender<delivery::Job>,
    pub(crate) http: reqwest::Client,
}

impl Sim {
    /// The simulator's clock: the system clock moved by [`SimHandle::advance_clock`].
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.clock_offset_secs.load(Ordering::SeqCst))
    }

    /// Runs `change` on the state, then queues the events it emitted for delivery.
    pub(crate) async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut State, DateTime<Utc>) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        let mut state = self.state.lock().await;
        let now = self.now();
        let result = change(&mut state, now);
        let emitted: Vec<EmittedEvent> = state.outbox.drain(..).collect();
        drop(state);
        for event in emitted {
            let event = Arc::new(event);
            for endpoint_id in &event.endpoint_ids {
                self.pending_deliveries.fetch_add(1, Ordering::SeqCst);
                let job = delivery::Job {
                    event: event.clone(),
                    endpoint_id: endpoint_id.clone(),
                };
                if self.jobs.send(job).is_err() {
                    self.pending_deliveries.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        result
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    root_url: String,
    sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// The `webhook-signature` header Dinie sends for `body`: one `v1,<base64 HMAC-SHA256>` per
/// secret, space-separated; `None` when a secret is not a `whsec_` base64 secret.
pub fn sign_webhook(
    secrets: &[String],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    delivery::signature_header(secrets, webhook_id, timestamp, body)
}

/// Starts the simulator on `127.0.0.1` with a port chosen by the OS.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    start_on("127.0.0.1:0", config).await
}

/// Starts the simulator on `address` (e.g. `127.0.0.1:0`).
pub async fn start_on(address: &str, config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let http = reqwest::Client::builder()
        .timeout(config.delivery_timeout)
        .build()
        .map_err(std::io::Error::other)?;
    let (jobs, receiver) = mpsc::unbounded_channel();
    let now = Utc::now();
    let mut state = State {
        sdk_envelope: config.sdk_envelope,
        ..State::default()
    };
    state.credentials.push(Credential {
        id: config.client_id.clone(),
        client_id: config.client_id.clone(),
        name: "Simulator bootstrap key".to_owned(),
        status: "active",
        expires_at: None,
        created_at: now,
        updated_at: now,
        last_used_at: None,
        secret: config.client_secret.clone(),
    });
    let auto_advance = config.auto_advance;
    let sim = Arc::new(Sim {
        config,
        state: Mutex::new(state),
        knobs: Mutex::new(Knobs::default()),
        idempotency: Mutex::new(HashMap::new()),
        clock_offset_secs: AtomicI64::new(0),
        token_requests: AtomicU64::new(0),
        pending_deliveries: AtomicUsize::new(0),
        jobs,
        http,
    });
    let router = axum::Router::new()
        .nest("/v3", api::router(sim.clone()))
        .nest("/api/v3", api::router(sim.clone()))
        .nest("/_sim", control::router(sim.clone()));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let mut tasks = vec![
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(error.message = %error, "dinie-sim server stopped");
            }
        }),
        tokio::spawn(delivery::dispatch(sim.clone(), receiver)),
    ];
    if let Some(interval) = auto_advance {
        tasks.push(tokio::spawn(control::tick_forever(sim.clone(), interval)));
    }
    Ok(SimHandle {
        root_url: format!("http://{local}"),
        sim,
        shutdown: Some(shutdown),
        tasks,
    })
}

impl SimHandle {
    /// The API's base URL, `http://127.0.0.1:<port>/v3`.
    pub fn base_url(&self) -> String {
        format!("{}/v3", self.root_url)
    }

    /// The server's root URL, `http://127.0.0.1:<port>` (the control API is under `/_sim`).
    pub fn root_url(&self) -> &str {
        &self.root_url
    }

    /// The bootstrap client id.
    pub fn client_id(&self) -> &str {
        &self.sim.config.client_id
    }

    /// The bootstrap client secret.
    pub fn client_secret(&self) -> &str {
        &self.sim.config.client_secret
    }

    /// Requests received by `POST /auth/token`.
    pub fn token_requests(&self) -> u64 {
        self.sim.token_requests.load(Ordering::SeqCst)
    }

    /// Every API request received so far, oldest first.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        self.sim.knobs.lock().await.requests.clone()
    }

    /// Every event emitted so far, oldest first.
    pub async fn events(&self) -> Vec<EmittedEvent> {
        self.sim.state.lock().await.events.clone()
    }

    /// Every delivery attempt so far, in the order they completed.
    pub async fn delivery_attempts(&self) -> Vec<DeliveryAttempt> {
        self.sim.knobs.lock().await.attempts.clone()
    }

    /// Waits until no delivery is queued or being retried, for at most `timeout`; false on timeout.
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.sim.pending_deliveries.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every signing secret of every endpoint right now. A test hook, like
    /// [`SimHandle::endpoint_secrets`].
    pub async fn every_signing_secret(&self) -> Vec<String> {
        let now = self.sim.now();
        self.sim
            .state
            .lock()
            .await
            .endpoints
            .iter()
            .flat_map(|endpoint| endpoint.signing_secrets(now))
            .collect()
    }

    /// The secrets signing deliveries to an endpoint right now, newest first (two during a
    /// rotation's grace period). A test hook: Dinie itself never reveals a secret twice.
    pub async fn endpoint_secrets(&self, endpoint_id: &str) -> Vec<String> {
        let now = self.sim.now();
        self.sim
            .state
            .lock()
            .await
            .endpoints
            .iter()
            .find(|endpoint| endpoint.id == endpoint_id)
            .map(|endpoint| endpoint.signing_secrets(now))
            .unwrap_or_default()
    }

    /// Adds an API fault.
    pub async fn add_fault(&self, fault: Fault) {
        self.sim.knobs.lock().await.faults.push(fault);
    }

    /// Removes every API fault.
    pub async fn clear_faults(&self) {
        self.sim.knobs.lock().await.faults.clear();
    }

    /// Replaces the delivery faults.
    pub async fn set_delivery_faults(&self, faults: DeliveryFaults) {
        self.sim.knobs.lock().await.delivery = faults;
    }

    /// Makes every token issued so far expired (the next call with one gets `401 token_expired`).
    pub async fn expire_tokens(&self) {
        control::expire_tokens(&self.sim).await;
    }

    /// Moves the simulator's clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.sim
            .clock_offset_secs
            .fetch_add(seconds, Ordering::SeqCst);
    }

    /// Puts a customer pending KYC under review without documents.
    pub async fn review_customer(&self, id: &str) -> Result<(), SimError> {
        self.sim
            .mutate(|state, now| state.review_customer(now, id).map(|_| ()))
            .await
            .map_err(SimError::from)
    }

    /// Approves a customer under review: it becomes active and receives a credit offer.
    pub async fn approve_customer(&self, id: &str) -> Result<(), SimError> {
        let terms = self.sim.config.offer.clone();
        self.sim
            .mutate(|state, now| state.approve_customer(now, id, &terms).map(|_| ()))
            .await
            .map_err(SimError::from)
    }

    /// Makes a credit offer to a customer whatever its status; returns the offer id.
    pub async fn create_offer(&self, customer_id: &str) -> Result<String, SimError> {
        let terms = self.sim.config.offer.clone();
        self.sim
            .mutate(|state, now| {
                state
                    .create_offer(now, customer_id, &terms)
                    .map(|offer| offer.id)
            })
            .await
            .map_err(SimError::from)
    }

    /// Expires a credit offer now.
    pub async fn expire_offer(&self, id: &str) -> Result<(), SimError> {
        self.sim
            .mutate(|state, now| state.expire_offer(now, id).map(|_| ()))
            .await
            .map_err(SimError::from)
    }

    /// Moves a loan one step; on an active loan, pays the next installment. Returns the new status.
    pub async fn advance_loan(&self, id: &str) -> Result<String, SimError> {
        control::advance_loan(&self.sim, id)
            .await
            .map_err(SimError::from)
    }

    /// Advances a loan until it is finished; returns how many steps it took.
    pub async fn finish_loan(&self, id: &str) -> Result<u32, SimError> {
        control::finish_loan(&self.sim, id)
            .await
            .map_err(SimError::from)
    }

    /// Cancels a loan not yet disbursed.
    pub async fn cancel_loan(&self, id: &str) -> Result<(), SimError> {
        self.sim
            .mutate(|state, now| state.cancel_loan(now, id).map(|_| ()))
            .await
            .map_err(SimError::from)
    }

    /// Fails a loan (`loan.error`).
    pub async fn fail_loan(&self, id: &str) -> Result<(), SimError> {
        self.sim
            .mutate(|state, now| state.fail_loan(now, id).map(|_| ()))
            .await
            .map_err(SimError::from)
    }

    /// Stops the server and the workers.
    pub async fn shutdown(mut self) {
        self.stop();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for task in self.tasks.iter().skip(1) {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
        if let Some(server) = self.tasks.first() {
            server.abort();
        }
    }
}
