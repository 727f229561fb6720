//! A faithful, in-memory Delbank simulator for tests, the demo and local development.
//!
//! It serves the BaaS API the gateway uses (same paths, headers, JSON shapes and quirks as the
//! contract reference `shared/providers/delbank-api.md`, following its simulator blueprint, §11),
//! a control API under `/_sim` (and the same operations on [`Control`]) to make money arrive,
//! approve onboardings and inject faults, and a webhook sender that authenticates each delivery
//! with its registration's scheme, retries, and can duplicate, delay or corrupt deliveries.
//!
//! Start it in-process with [`start`] (it binds `127.0.0.1:0`), or run the `delbank-sim` binary.
//!
//! # Layout
//!
//! - `state`: accounts, balances and the NSU sequence, charges, transfers, refunds, DICT keys,
//!   customers, webhook registrations, the fault knobs and the request and delivery logs; one
//!   file per resource under `state/` (`charges`, `pix_in`, `transfers`, `refunds`, `keys`,
//!   `statement`, `customers`, `webhooks`), the shared parts in `state/mod.rs`.
//! - `api`: the axum routes of the BaaS API (`/baas/...`) and of the control API (`/_sim/...`).
//! - `sender`: the webhook sender.
//! - [`Control`]: the control API for in-process callers.

mod api;
mod sender;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use state::{Delivery, RecordedRequest};

use crate::state::State;

/// Delbank's ISPB, prefix of the end-to-end ids it creates.
pub const DELBANK_ISPB: &str = "38224857";

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The accounts that exist from the start, each with its API key.
    pub accounts: Vec<SimAccount>,
    /// How webhooks are delivered.
    pub delivery: DeliveryPolicy,
    /// How long an outgoing Pix or refund stays `PIX_PROCESSING` before its outcome.
    pub settle_delay: Duration,
    /// Minimum time between two partial refunds of the same Pix (Delbank: 2 minutes).
    pub refund_spacing: Duration,
}

/// An account of the simulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimAccount {
    /// The `x-delbank-api-key` that operates it.
    pub api_key: String,
    /// Its number, sent as `x-delfinance-account-id`.
    pub number: String,
    /// Its branch.
    pub branch: String,
    /// The holder's name.
    pub holder_name: String,
    /// The holder's CPF or CNPJ digits.
    pub holder_document: String,
    /// The opening balance, in reais.
    pub balance: Decimal,
}

/// Webhook delivery: attempts and backoff.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Attempts per delivery (the first included).
    pub attempts: u32,
    /// Delay before the second attempt, doubled for each further one.
    pub base_delay: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

impl SimConfig {
    /// One account (`31712`, API key `sim-key-31712`, R$ 100,000.00) and fast, test-friendly
    /// delivery and settlement.
    pub fn standard() -> SimConfig {
        SimConfig {
            accounts: vec![SimAccount {
                api_key: "sim-key-31712".to_owned(),
                number: "31712".to_owned(),
                branch: "0001".to_owned(),
                holder_name: "PAYGATE PLATAFORMA LTDA".to_owned(),
                holder_document: "11222333000181".to_owned(),
                balance: Decimal::new(10_000_000, 2),
            }],
            delivery: DeliveryPolicy {
                attempts: 5,
                base_delay: Duration::from_millis(100),
                timeout: Duration::from_secs(5),
            },
            settle_delay: Duration::from_millis(50),
            refund_spacing: Duration::from_secs(120),
        }
    }
}

/// Fault injection and test switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// The next N BaaS API requests answer 503 (problem details), or [`Knobs::fail_status`].
    pub fail_next_requests: u32,
    /// The status of the answers forced by `fail_next_requests` (`None`: 503), e.g. 429 to
    /// throttle.
    pub fail_status: Option<u16>,
    /// A `Retry-After` (in seconds) sent with the answers forced by `fail_next_requests`.
    pub fail_retry_after_secs: Option<u64>,
    /// Every BaaS API request waits this long before it is handled ("slow").
    pub api_delay_ms: u64,
    /// Every webhook is delivered twice.
    pub duplicate_deliveries: bool,
    /// Every webhook waits this long before its first attempt.
    pub delivery_delay_ms: u64,
    /// The first attempt of each of the next N deliveries is sent with a wrong credential (then
    /// retried with the right one); with `u32::MAX`, every attempt is wrong.
    pub wrong_credential_deliveries: u32,
    /// Every outgoing Pix fails with this SPI code (e.g. `AC06`).
    pub force_pix_error: Option<String>,
    /// Every refund we send fails with this code (e.g. `DEL20`).
    pub force_refund_error: Option<String>,
}

/// A Pix arriving from another bank, for [`Control::pix_in`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PixIn {
    /// The credited account; the first configured one when absent.
    #[serde(default)]
    pub account: Option<String>,
    /// The amount.
    pub amount: Decimal,
    /// The charge it pays, if any.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// The payer's name.
    #[serde(default)]
    pub payer_name: Option<String>,
    /// The payer's document (sent masked, as Delbank does).
    #[serde(default)]
    pub payer_document: Option<String>,
    /// The payer's bank (ISPB); another simulated bank when absent.
    #[serde(default)]
    pub payer_ispb: Option<String>,
}

/// A running simulator.
pub struct SimHandle {
    base_url: String,
    control: Control,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The control API.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug)]
pub struct StartError(pub std::io::Error);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot start the delbank simulator: {}", self.0)
    }
}

impl std::error::Error for StartError {}

/// Starts the simulator on `127.0.0.1` with a port picked by the OS.
pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
    start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts the simulator on `address`.
pub async fn start_on(config: SimConfig, address: SocketAddr) -> Result<SimHandle, StartError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(StartError)?;
    let local = listener.local_addr().map_err(StartError)?;
    let state = Arc::new(Mutex::new(State::new(&config)));
    let control = Control {
        shared: Shared {
            state,
            config: Arc::new(config),
            http: reqwest::Client::new(),
        },
    };
    let router = api::router(control.clone());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(error.message = %error, "delbank simulator stopped");
        }
    });
    Ok(SimHandle {
        base_url: format!("http://{local}"),
        control,
        shutdown: Some(shutdown),
        server: Some(server),
    })
}

/// What the server, the sender and [`Control`] share.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) config: Arc<SimConfig>,
    pub(crate) http: reqwest::Client,
}

impl Shared {
    /// Runs `f` on the locked state (never held across an await).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

/// The simulator's control API, for in-process callers (the HTTP `/_sim` routes call the same).
#[derive(Clone)]
pub struct Control {
    pub(crate) shared: Shared,
}

/// Why a control operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError(pub String);

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ControlError {}

impl Control {
    /// Replaces the fault knobs.
    pub fn set_knobs(&self, knobs: Knobs) {
        self.shared.with(|state| state.knobs = knobs);
    }

    /// Changes some fault knobs.
    pub fn update_knobs(&self, change: impl FnOnce(&mut Knobs)) {
        self.shared.with(|state| change(&mut state.knobs));
    }

    /// The fault knobs as they are now (a count such as `fail_next_requests` goes down as it
    /// is used).
    pub fn knobs(&self) -> Knobs {
        self.shared.with(|state| state.knobs.clone())
    }

    /// Every BaaS API request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.with(|state| state.requests.clone())
    }

    /// The `authorization` value of every webhook registration, as the gateway registered it
    /// (for `HEADER`, the value after `Name:` too). A test hook, for checking that no credential
    /// is stored in the clear.
    pub fn webhook_authorizations(&self) -> Vec<String> {
        self.shared.with(|state| {
            state
                .webhooks
                .iter()
                .flat_map(|webhook| {
                    let value = webhook
                        .authorization
                        .split_once(':')
                        .map(|(_, value)| value.trim().to_owned());
                    std::iter::once(webhook.authorization.clone()).chain(value)
                })
                .collect()
        })
    }

    /// Every webhook delivery attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.with(|state| state.deliveries.clone())
    }

    /// The available balance of an account.
    pub fn balance(&self, account: &str) -> Option<Decimal> {
        self.shared
            .with(|state| state.accounts.get(account).map(|account| account.balance))
    }

    /// A Pix from another bank: credits the account, pays the charge named by its correlation id,
    /// and sends `PIX_RECEIVED` (and `CHARGE_PAID` for bank slips). Returns the end-to-end id.
    pub fn pix_in(&self, pix: PixIn) -> Result<String, ControlError> {
        let emitted = self.shared.with(|state| state.pix_in(&pix))?;
        let end_to_end_id = emitted.0.clone();
        sender::emit_all(&self.shared, emitted.1);
        Ok(end_to_end_id)
    }

    /// Pays a charge in full by Pix. Returns the end-to-end id.
    pub fn pay_charge(&self, correlation_id: &str) -> Result<String, ControlError> {
        let (account, amount) = self.shared.with(|state| {
            state
                .charge_for_payment(correlation_id)
                .ok_or_else(|| ControlError(format!("no payable charge {correlation_id}")))
        })?;
        self.pix_in(PixIn {
            account: Some(account),
            amount,
            correlation_id: Some(correlation_id.to_owned()),
            payer_name: Some("PAGADOR SIMULADO".to_owned()),
            payer_document: Some("52998224725".to_owned()),
            payer_ispb: None,
        })
    }

    /// Approves a white-label customer under analysis: opens its account and sends
    /// `WHITELABEL_CUSTOMER_APPROVED`. Returns the new account number.
    pub fn approve_customer(&self, document: &str) -> Result<String, ControlError> {
        let (number, emitted) = self.shared.with(|state| state.approve(document))?;
        sender::emit_all(&self.shared, emitted);
        Ok(number)
    }

    /// Rejects a white-label customer's documents and sends
    /// `WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED`.
    pub fn reject_customer(&self, document: &str) -> Result<(), ControlError> {
        let emitted = self.shared.with(|state| state.reject(document))?;
        sender::emit_all(&self.shared, emitted);
        Ok(())
    }

    /// The other bank refunds a Pix we sent: credits us and sends `PIX_REFUNDED`. Returns the
    /// refund's end-to-end id.
    pub fn refund_in(
        &self,
        original_end_to_end_id: &str,
        amount: Decimal,
    ) -> Result<String, ControlError> {
        let (id, emitted) = self
            .shared
            .with(|state| state.refund_in(original_end_to_end_id, amount))?;
        sender::emit_all(&self.shared, emitted);
        Ok(id)
    }
}
