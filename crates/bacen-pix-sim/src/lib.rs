//! A faithful, in-memory simulator of a PSP exposing the Banco Central's API Pix (release 2.9.0,
//! `shared/providers/bacen-pix/openapi.yaml`), for tests, the demo and local development.
//!
//! Two listeners, both on `127.0.0.1` with ports the OS picks:
//! - the **API** over HTTPS with a **required client certificate** (mTLS, verified against the
//!   CA of a [`tls::Pki`]): the OAuth2 token endpoint (`POST /oauth/token`, client credentials
//!   with HTTP Basic or form credentials) and, behind a bearer token, `/cob/{txid}` and `/cobv/{txid}`
//!   (PUT, PATCH, GET), `GET /cob` and `GET /cobv` (paged lists), `GET /pix`, `GET /pix/{e2eid}`,
//!   `PUT/GET /pix/{e2eid}/devolucao/{id}` and `PUT/GET/DELETE /webhook/{chave}`. Errors are RFC 7807
//!   problem details with the spec's type URIs (`https://pix.bcb.gov.br/api/v2/error/...`);
//! - the **control API** over plain HTTP, apart so that tests and the demo drive the simulator
//!   without a client certificate: `POST /_sim/pix-in`, `POST /_sim/cobs/{txid}/pay`,
//!   `GET|POST /_sim/knobs` (latency, failures with a chosen status and `Retry-After`, outage, refund
//!   outcome, callback drops and duplicates), `GET /_sim/requests`, `GET /_sim/deliveries`,
//!   `POST /_sim/revoke-tokens`. [`Control`] offers the same in-process.
//!
//! A Pix received (`pix-in`) is recorded and notified to the webhook registered for its key: a
//! `POST {webhookUrl}/pix` with `{"pix": [...]}`, retried on failure. A refund settles after
//! [`SimConfig::settle_delay`] to `DEVOLVIDO` (or `NAO_REALIZADO` by knob) and is notified the
//! same way, the Pix item carrying its `devolucoes`.
//!
//! Start it in-process with [`Sim::start`], or run the `bacen-pix-sim` binary.
//!
//! # Layout
//!
//! - [`tls`]: the generated PKI ([`tls::generate`]) and the server's rustls configuration.
//! - `server`: the TLS accept loop (tokio-rustls and hyper), which hands each request the
//!   subject of its client certificate.
//! - `state`: the PSP's memory: tokens, cobs, Pix received and their refunds, webhooks, knobs and
//!   the logs.
//! - `api`: the axum routes of the API and of the control API.
//! - `sender`: the callback sender.

mod api;
mod sender;
mod server;
mod state;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use state::{Delivery, RecordedRequest};
pub use tls::{Pki, PkiError};

use crate::state::State;

/// The ISPB of the simulated PSP (the receiver's), prefix of the refunds' `rtrId`s.
pub const PSP_ISPB: &str = "60701190";

/// The ISPB of "the other bank" Pix come from, prefix of their end-to-end ids.
pub const PAYER_ISPB: &str = "18236120";

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The certificates: the server's, and the CA client certificates must chain to.
    pub pki: Pki,
    /// The OAuth2 clients (`client_id`, `client_secret`).
    pub clients: Vec<SimClient>,
    /// The Pix keys (`chave`) of the receiver: cobs and webhooks are accepted only for them.
    pub keys: Vec<String>,
    /// The receiver's CNPJ (returned with webhooks).
    pub receiver_cnpj: String,
    /// Lifetime of an access token (`expires_in`).
    pub token_ttl: Duration,
    /// How long a refund stays `EM_PROCESSAMENTO`.
    pub settle_delay: Duration,
    /// How callbacks are sent.
    pub callbacks: CallbackPolicy,
    /// The spec notifies only Pix with a `txid`; most PSPs notify every Pix received. `true`
    /// notifies every Pix.
    pub notify_pix_without_txid: bool,
    /// Where the API listens (port 0: the OS picks).
    pub api_address: SocketAddr,
    /// Where the control API listens.
    pub control_address: SocketAddr,
}

/// An OAuth2 client of the simulator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimClient {
    /// The `client_id`.
    pub client_id: String,
    /// The `client_secret`.
    pub client_secret: String,
}

/// Callback delivery: attempts and backoff.
#[derive(Debug, Clone, Copy)]
pub struct CallbackPolicy {
    /// Attempts per callback (the first included).
    pub attempts: u32,
    /// Delay before the second attempt, doubled for each further one.
    pub base_delay: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

/// The standard client id of [`SimConfig::standard`].
pub const CLIENT_ID: &str = "paygate";
/// The standard client secret of [`SimConfig::standard`].
pub const CLIENT_SECRET: &str = "sim-client-secret";
/// The standard Pix key (an EVP) of [`SimConfig::standard`].
pub const RECEIVER_KEY: &str = "7d9f0335-8dcc-4054-9bf9-0dbd61d36906";
/// The standard receiver CNPJ of [`SimConfig::standard`].
pub const RECEIVER_CNPJ: &str = "11222333000181";

impl SimConfig {
    /// One client ([`CLIENT_ID`], [`CLIENT_SECRET`]), one key ([`RECEIVER_KEY`]), tokens valid for
    /// an hour, refunds settled after 50 ms, fast callback retries, ports picked by the OS.
    pub fn standard(pki: Pki) -> SimConfig {
        SimConfig {
            pki,
            clients: vec![SimClient {
                client_id: CLIENT_ID.to_owned(),
                client_secret: CLIENT_SECRET.to_owned(),
            }],
            keys: vec![RECEIVER_KEY.to_owned()],
            receiver_cnpj: RECEIVER_CNPJ.to_owned(),
            token_ttl: Duration::from_secs(3600),
            settle_delay: Duration::from_millis(50),
            callbacks: CallbackPolicy {
                attempts: 4,
                base_delay: Duration::from_millis(100),
                timeout: Duration::from_secs(5),
            },
            notify_pix_without_txid: true,
            api_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_address: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// How a refund ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundOutcome {
    /// `DEVOLVIDO`.
    #[default]
    #[serde(rename = "DEVOLVIDO")]
    Devolvido,
    /// `NAO_REALIZADO`.
    #[serde(rename = "NAO_REALIZADO")]
    NaoRealizado,
}

/// Fault injection and test switches (`GET|POST /_sim/knobs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Every API request (token endpoint included) waits this long before it is handled.
    pub latency_ms: u64,
    /// The next N API requests (not the token endpoint) fail with `fail_status`.
    pub fail_next: u32,
    /// The status of the requests `fail_next` fails: a 5xx or 429 (`None`: 503
    /// `ServicoIndisponivel`).
    pub fail_status: Option<u16>,
    /// The `Retry-After` (whole seconds) sent with the failures of `fail_next`, if any.
    pub fail_retry_after_secs: Option<u64>,
    /// While on, every request (token endpoint included) answers 503 `ServicoIndisponivel`.
    pub outage: bool,
    /// How refunds end.
    pub refund_outcome: RefundOutcome,
    /// Callbacks are not sent (each is still logged, as dropped).
    pub drop_callbacks: bool,
    /// Every callback is sent twice.
    pub duplicate_callbacks: bool,
}

/// A Pix arriving from another bank (`POST /_sim/pix-in`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PixIn {
    /// The amount, a decimal string (`"110.00"`), at most two decimals.
    #[serde(with = "rust_decimal::serde::str")]
    pub valor: Decimal,
    /// The cob (or cobv) it pays; it must be `ATIVA` and for this amount.
    #[serde(default)]
    pub txid: Option<String>,
    /// The key credited; the cob's, else the first configured key.
    #[serde(default)]
    pub chave: Option<String>,
    /// The payer's name.
    #[serde(default)]
    pub payer_name: Option<String>,
    /// The payer's CPF or CNPJ (digits).
    #[serde(default)]
    pub payer_document: Option<String>,
    /// The payer's free text (`infoPagador`).
    #[serde(default)]
    pub info_pagador: Option<String>,
}

/// Why the simulator could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot start the bacen-pix simulator: {}", self.0)
    }
}

impl std::error::Error for StartError {}

/// A running simulator.
pub struct Sim {
    base_url: String,
    control_url: String,
    pki: Pki,
    control: Control,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    /// Starts both listeners.
    pub async fn start(config: SimConfig) -> Result<Sim, StartError> {
        let tls = tls::server_config(&config.pki).map_err(|error| StartError(error.0))?;
        let api_listener = tokio::net::TcpListener::bind(config.api_address)
            .await
            .map_err(|error| StartError(format!("api listener: {error}")))?;
        let control_listener = tokio::net::TcpListener::bind(config.control_address)
            .await
            .map_err(|error| StartError(format!("control listener: {error}")))?;
        let api_address = api_listener
            .local_addr()
            .map_err(|error| StartError(error.to_string()))?;
        let control_address = control_listener
            .local_addr()
            .map_err(|error| StartError(error.to_string()))?;
        let http = sender::http_client(&config.pki).map_err(StartError)?;
        let pki = config.pki.clone();
        let shared = Shared {
            state: Arc::new(Mutex::new(State::new(&config))),
            config: Arc::new(config),
            http,
        };
        let control = Control {
            shared: shared.clone(),
        };
        let (shutdown, stopped) = tokio::sync::watch::channel(false);
        let api_task = tokio::spawn(server::serve_tls(
            api_listener,
            tls,
            api::api_router(shared.clone()),
            stopped.clone(),
        ));
        let control_router = api::control_router(control.clone());
        let mut control_stopped = stopped;
        let control_task = tokio::spawn(async move {
            let serve =
                axum::serve(control_listener, control_router).with_graceful_shutdown(async move {
                    let _ = control_stopped.wait_for(|stop| *stop).await;
                });
            if let Err(error) = serve.await {
                tracing::error!(error.message = %error, "bacen-pix simulator control api stopped");
            }
        });
        Ok(Sim {
            base_url: format!("https://{api_address}"),
            control_url: format!("http://{control_address}"),
            pki,
            control,
            shutdown: Some(shutdown),
            tasks: vec![api_task, control_task],
        })
    }

    /// `https://127.0.0.1:<port>`: the API root (the token endpoint is `{base_url}/oauth/token`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `http://127.0.0.1:<port>`: the control API root.
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// The certificates (the CA to trust, the client identity to present).
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The control API, in-process.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The `[providers.bacen-pix]` keys and values that point the gateway at this simulator with
    /// the standard client and key; merge each as `providers.bacen-pix.{key}` (figment) or write
    /// them to TOML. `receiver_document` is the standard [`RECEIVER_CNPJ`].
    pub fn gateway_settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        let config = &self.control.shared.config;
        let client = config.clients.first();
        let path = |path: &std::path::Path| serde_json::Value::from(path.display().to_string());
        vec![
            ("enabled", true.into()),
            ("base_url", self.base_url.clone().into()),
            ("token_url", format!("{}/oauth/token", self.base_url).into()),
            (
                "client_id",
                client
                    .map(|client| client.client_id.clone())
                    .unwrap_or_default()
                    .into(),
            ),
            (
                "client_secret",
                client
                    .map(|client| client.client_secret.clone())
                    .unwrap_or_default()
                    .into(),
            ),
            ("client_cert_pem", path(&self.pki.client_cert_pem)),
            ("client_key_pem", path(&self.pki.client_key_pem)),
            ("ca_cert_pem", path(&self.pki.ca_cert_pem)),
            (
                "receiver",
                config.keys.first().cloned().unwrap_or_default().into(),
            ),
            ("receiver_document", config.receiver_cnpj.clone().into()),
        ]
    }

    /// Stops both listeners and waits for them.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
    }
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

/// The simulator's control API, for in-process callers (the `/_sim` routes call the same).
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
    /// The fault knobs now.
    pub fn knobs(&self) -> Knobs {
        self.shared.with(|state| state.knobs.clone())
    }

    /// Replaces the fault knobs.
    pub fn set_knobs(&self, knobs: Knobs) {
        self.shared.with(|state| state.knobs = knobs);
    }

    /// Changes some fault knobs.
    pub fn update_knobs(&self, change: impl FnOnce(&mut Knobs)) {
        self.shared.with(|state| change(&mut state.knobs));
    }

    /// Every request received on the API listener so far (the token endpoint's included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.with(|state| state.requests.clone())
    }

    /// Every callback attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.with(|state| state.deliveries.clone())
    }

    /// Invalidates every access token issued so far (the next API call answers 401).
    pub fn revoke_tokens(&self) {
        self.shared.with(|state| state.tokens.clear());
    }

    /// The URL registered for `chave`, if any.
    pub fn webhook_url(&self, chave: &str) -> Option<String> {
        self.shared
            .with(|state| state.webhooks.get(chave).map(|webhook| webhook.url.clone()))
    }

    /// A Pix from another bank: recorded, paying the cob named by its `txid`, and notified to the
    /// key's webhook. Returns the end-to-end id.
    pub fn pix_in(&self, pix: PixIn) -> Result<String, ControlError> {
        let config = self.shared.config.clone();
        let (end_to_end_id, callback) = self.shared.with(|state| state.pix_in(&config, &pix))?;
        if let Some(callback) = callback {
            sender::send(&self.shared, callback);
        }
        Ok(end_to_end_id)
    }

    /// Pays a cob (or cobv) in full by Pix. Returns the end-to-end id.
    pub fn pay_charge(&self, txid: &str) -> Result<String, ControlError> {
        let amount = self
            .shared
            .with(|state| state.payable_amount(txid))
            .ok_or_else(|| ControlError(format!("no payable cob {txid}")))?;
        self.pix_in(PixIn {
            valor: amount,
            txid: Some(txid.to_owned()),
            chave: None,
            payer_name: Some("PAGADOR SIMULADO".to_owned()),
            payer_document: Some("52998224725".to_owned()),
            info_pagador: None,
        })
    }
}
