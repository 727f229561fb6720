//! `paygate-demo`: the whole product in one command, on embedded defaults. A crate of its own,
//! so that the gateway's library and its `paygate` binary do not link the simulators.
//!
//! Starts both provider simulators in-process, the gateway on them (Postgres found or started by
//! `db::locate`, in a throw-away `paygate_demo` database), a partner app that verifies every
//! signature it receives, and runs a scripted story through the public REST API only: a borrower at
//! the credit provider and an account at the bank, KYC, approval, offer, simulation, loan,
//! signatures, disbursement, the disbursement arriving as a Pix and reconciling as matched, a Pix
//! charge paid, a Pix transfer that fails, a refund, and a disbursement that never arrives and goes
//! overdue (with a shortened window). It prints each step as it completes, then a summary and the
//! URLs, and keeps serving until Ctrl-C unless `--exit` was given.
//!
//! The simulators' control APIs play the providers' side (a credit analyst approving, Dinie paying
//! out, someone paying a charge); everything the fintech does goes through `/v1`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use gateway::config::Settings;
use gateway::keys::{self, Scope};
use gateway::startup::{self, Application};
use gateway::store::{deliveries, events};
use gateway::{db, telemetry};

/// The bank the simulated Dinie pays out from.
pub const DINIE_ISPB: &str = "32402502";
/// The demo's shortened reconciliation window, in seconds.
pub const DEMO_WINDOW_SECS: u64 = 6;
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// End after the story instead of serving until Ctrl-C.
    pub exit: bool,
    /// The throw-away database (dropped and created again at start).
    pub database: String,
    /// Where to write the gateway's URL and the admin key once the story is done.
    pub ready_file: Option<std::path::PathBuf>,
    /// Which provider serves the banking API.
    pub bank: DemoBank,
}

/// The provider the demo puts the banking API on (`routing.banking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoBank {
    /// Delbank (BaaS), its simulator over HTTP.
    #[default]
    Delbank,
    /// The Banco Central's API Pix, a PSP simulator over mTLS with certificates generated at start.
    BacenPix,
}

impl std::str::FromStr for DemoBank {
    type Err = String;

    fn from_str(text: &str) -> Result<DemoBank, String> {
        match text {
            "delbank" => Ok(DemoBank::Delbank),
            "bacen-pix" => Ok(DemoBank::BacenPix),
            other => Err(format!(
                "no banking provider `{other}`: delbank or bacen-pix"
            )),
        }
    }
}

/// The running bank simulator.
enum Bank {
    Delbank(delbank_sim::SimHandle),
    BacenPix {
        sim: bacen_pix_sim::Sim,
        /// The generated certificates, deleted with it.
        _pki: tempfile::TempDir,
    },
}

impl Bank {
    async fn start(choice: DemoBank) -> anyhow::Result<Bank> {
        Ok(match choice {
            DemoBank::Delbank => {
                let mut config = delbank_sim::SimConfig::standard();
                config.delivery.base_delay = Duration::from_millis(100);
                Bank::Delbank(
                    delbank_sim::start(config)
                        .await
                        .context("starting the Delbank simulator")?,
                )
            }
            DemoBank::BacenPix => {
                let pki_dir = tempfile::tempdir().context("a directory for the certificates")?;
                let pki = bacen_pix_sim::tls::generate(pki_dir.path())
                    .map_err(|error| anyhow::anyhow!("generating the test PKI: {error}"))?;
                let mut config = bacen_pix_sim::SimConfig::standard(pki);
                // The PSP account the demo's Pix arrive in is the borrower's.
                config.receiver_cnpj = BORROWER_DIGITS.into();
                config.callbacks.base_delay = Duration::from_millis(100);
                let sim = bacen_pix_sim::Sim::start(config)
                    .await
                    .map_err(|error| anyhow::anyhow!("starting the API Pix simulator: {error}"))?;
                Bank::BacenPix { sim, _pki: pki_dir }
            }
        })
    }

    /// The provider's name (`routing.banking`, `/v1/providers/{name}`).
    fn name(&self) -> &'static str {
        match self {
            Bank::Delbank(_) => "delbank",
            Bank::BacenPix { .. } => "bacen-pix",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Bank::Delbank(_) => "Delbank",
            Bank::BacenPix { .. } => "API Pix PSP",
        }
    }

    fn base_url(&self) -> String {
        match self {
            Bank::Delbank(sim) => sim.base_url().to_owned(),
            Bank::BacenPix { sim, .. } => sim.base_url().to_owned(),
        }
    }

    /// Its `[providers.<name>]` section, pointing at the simulator.
    fn configure(&self, figment: figment::Figment) -> figment::Figment {
        match self {
            Bank::Delbank(sim) => figment
                .merge(("providers.delbank.enabled", true))
                .merge(("providers.delbank.base_url", sim.base_url()))
                .merge(("providers.delbank.api_key", DELBANK_API_KEY))
                .merge(("providers.delbank.account_id", "31712"))
                .merge(("providers.delbank.timeout_secs", 10))
                .merge(("providers.delbank.retries", 2))
                .merge(("providers.delbank.retry_base_delay_ms", 100))
                .merge(("providers.delbank.webhook_scheme", "BEARER")),
            Bank::BacenPix { sim, .. } => {
                sim.gateway_settings()
                    .into_iter()
                    .fold(figment, |figment, (key, value)| {
                        figment.merge((format!("providers.bacen-pix.{key}"), value))
                    })
            }
        }
    }

    /// A Pix from Dinie's bank of `amount` to the borrower (in `account` at Delbank); its
    /// end-to-end id.
    fn pix_in(
        &self,
        account: Option<&str>,
        amount: rust_decimal::Decimal,
    ) -> anyhow::Result<String> {
        Ok(match self {
            Bank::Delbank(sim) => sim.control().pix_in(delbank_sim::PixIn {
                account: account.map(str::to_owned),
                amount,
                payer_ispb: Some(DINIE_ISPB.into()),
                ..delbank_sim::PixIn::default()
            })?,
            Bank::BacenPix { sim, .. } => sim
                .control()
                .pix_in(bacen_pix_sim::PixIn {
                    valor: amount,
                    payer_name: Some("DINIE SCD".into()),
                    ..bacen_pix_sim::PixIn::default()
                })
                .map_err(|error| anyhow::anyhow!("pix in: {error}"))?,
        })
    }

    /// Someone pays the charge `id`; the Pix's end-to-end id.
    fn pay_charge(&self, id: &str) -> anyhow::Result<String> {
        Ok(match self {
            Bank::Delbank(sim) => sim.control().pay_charge(id)?,
            Bank::BacenPix { sim, .. } => sim
                .control()
                .pay_charge(id)
                .map_err(|error| anyhow::anyhow!("paying the charge: {error}"))?,
        })
    }

    fn secrets(&self) -> Vec<String> {
        match self {
            Bank::Delbank(sim) => {
                let mut secrets = vec![DELBANK_API_KEY.to_owned()];
                secrets.extend(sim.control().webhook_authorizations());
                secrets
            }
            Bank::BacenPix { .. } => vec![bacen_pix_sim::CLIENT_SECRET.to_owned()],
        }
    }

    async fn shutdown(self) {
        match self {
            Bank::Delbank(sim) => sim.shutdown().await,
            Bank::BacenPix { sim, .. } => sim.shutdown().await,
        }
    }
}

/// The demo borrower's CPF, and its digits.
const BORROWER: &str = "529.982.247-25";
const BORROWER_DIGITS: &str = "52998224725";

/// Runs the demo from the command line (logs to stdout per the configuration).
pub async fn run(settings: Settings, options: DemoOptions) -> anyhow::Result<()> {
    // The story's progress is the output; logs only for problems (RUST_LOG still wins).
    let mut telemetry_settings = settings.telemetry.clone();
    telemetry_settings.log_filter = "warn".into();
    let _telemetry = telemetry::init(&telemetry_settings)?;
    run_story(settings, options).await
}

/// What the story was shown or configured with that must never be stored in the clear: the admin
/// key, every partner secret, both providers' credentials and every webhook credential the
/// providers hold for the gateway. For the at-rest audit of the demo's database.
#[derive(Debug, Default)]
pub struct Secrets(pub Vec<String>);

/// Runs the demo; returns an error when a step of the story fails.
pub async fn run_story(settings: Settings, options: DemoOptions) -> anyhow::Result<()> {
    run_story_keeping_secrets(settings, options).await.map(drop)
}

/// [`run_story`], returning every secret the story saw (see [`Secrets`]).
pub async fn run_story_keeping_secrets(
    mut settings: Settings,
    options: DemoOptions,
) -> anyhow::Result<Secrets> {
    let exit = options.exit;
    let started = Instant::now();
    println!(
        "paygate demo: starting Postgres, both provider simulators, the gateway and a partner app\n"
    );

    let located = db::locate(&settings.database).await?;
    let server = db::server_url_of(located.url.expose_secret());
    db::drop_database(&server, &options.database).await?;
    let url = db::ensure_database(&server, &options.database).await?;
    let pool = db::connect(&url, &settings.database).await?;
    db::migrate(&pool).await?;

    let dinie_sim = dinie_sim::start(dinie_sim::SimConfig::fast())
        .await
        .context("starting the Dinie simulator")?;
    let bank = Bank::start(options.bank).await?;

    settings.routing.credit = "dinie".into();
    settings.routing.banking = bank.name().into();
    settings.reconciliation.credit_payer_ispbs = vec![DINIE_ISPB.into()];
    settings.reconciliation.window_secs = DEMO_WINDOW_SECS;
    settings.reconciliation.check_interval_secs = 1;
    settings.delivery.allow_private_networks = vec!["127.0.0.0/8".into()];
    settings.delivery.poll_interval_ms = 50;
    settings.server.public_url = String::new();
    let figment = bank.configure(simulated_credit(&dinie_sim));
    let app = match Application::compose(
        settings.clone(),
        &figment,
        pool.clone(),
        Box::new(|_, _| {}),
    )
    .await
    {
        Ok(app) => app,
        Err(error) => {
            println!(
                "  port {} is taken ({error}); using one the OS picks",
                settings.server.port
            );
            settings.server.port = 0;
            Application::compose(
                settings.clone(),
                &figment,
                pool.clone(),
                Box::new(|_, _| {}),
            )
            .await?
        }
    };
    let base = format!("http://{}", app.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let admin = keys::create(&pool, "demo-admin", &[Scope::Admin]).await?;
    let partner = Partner::start().await?;
    let demo = Demo {
        base: base.clone(),
        key: keys::reveal(&admin).to_owned(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        started,
        pool: pool.clone(),
        partner: partner.clone(),
    };
    println!(
        "  Postgres: {} · Dinie sim: {} · {} sim: {}",
        located.source,
        dinie_sim.base_url(),
        bank.label(),
        bank.base_url()
    );
    println!("  gateway: {base} · partner app: {}\n", partner.url);

    let outcome = story(&demo, &dinie_sim, &bank).await;
    if let Err(error) = &outcome {
        println!("\n✗ the story stopped: {error:#}");
    }
    summary(&demo).await?;
    println!("\nOpen:");
    println!("  console                 {base}/console  (sign in with the admin API key below)");
    println!("  API docs                {base}/docs");
    println!("  events                  {base}/v1/events");
    println!("  reconciliation report   {base}/v1/reconciliation/report.csv");
    println!("  metrics                 {base}/metrics");
    println!(
        "  admin API key           {}  (Authorization: Bearer ...)",
        demo.key
    );

    if outcome.is_ok()
        && let Some(path) = &options.ready_file
    {
        write_ready_file(path, &base, &demo.key)?;
    }
    if outcome.is_ok() && !exit {
        println!("\nServing until Ctrl-C.");
        startup::shutdown_signal().await;
    }
    let secrets = secrets_seen(&demo, &dinie_sim, &bank).await;
    let _ = stop.send(());
    let _ = server.await;
    bank.shutdown().await;
    dinie_sim.shutdown().await;
    pool.close().await;
    outcome.map(|()| secrets)
}

/// Every secret of [`Secrets`]: what the demo holds, and what the simulators hold for the gateway.
async fn secrets_seen(demo: &Demo, dinie_sim: &dinie_sim::SimHandle, bank: &Bank) -> Secrets {
    let mut secrets = vec![demo.key.clone(), dinie_sim.client_secret().to_owned()];
    secrets.extend(bank.secrets());
    secrets.extend(demo.partner.secrets_shown());
    secrets.extend(dinie_sim.every_signing_secret().await);
    secrets.retain(|secret| !secret.is_empty());
    Secrets(secrets)
}

/// Writes `{"base_url", "admin_key"}` to `path`, readable by its owner only: it holds a key.
fn write_ready_file(path: &std::path::Path, base: &str, key: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let body = json!({"base_url": base, "admin_key": key}).to_string();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing the ready file {}", path.display()))?;
    file.write_all(body.as_bytes())?;
    Ok(())
}

/// The Delbank simulator's key for the gateway's own account.
const DELBANK_API_KEY: &str = "sim-key-31712";

/// The `[providers.dinie]` section pointing at its simulator, over every provider's defaults: the
/// demo registers its providers through the same composition root as `paygate serve`, from
/// configuration.
fn simulated_credit(dinie_sim: &dinie_sim::SimHandle) -> figment::Figment {
    gateway::config::defaults_figment()
        .merge(("providers.dinie.enabled", true))
        .merge(("providers.dinie.base_url", dinie_sim.base_url()))
        .merge(("providers.dinie.client_id", dinie_sim.client_id()))
        .merge(("providers.dinie.client_secret", dinie_sim.client_secret()))
}

/// The story's client: the public REST API with the admin key.
struct Demo {
    base: String,
    key: String,
    client: reqwest::Client,
    started: Instant,
    pool: sqlx::PgPool,
    partner: Partner,
}

impl Demo {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("idempotency-key", uuid::Uuid::now_v7().to_string())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "POST {path} answered {status}: {body}");
        Ok(body)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "GET {path} answered {status}: {body}");
        Ok(body)
    }

    /// Polls `check` (bounded) until it yields a value.
    async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(value) = check().await? {
                return Ok(value);
            }
            anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn event(&self, event_type: &str, resource: &str) -> anyhow::Result<Value> {
        self.until(&format!("a {event_type} event"), || async {
            let events = self
                .get(&format!(
                    "/v1/events?type={event_type}&resource_id={resource}"
                ))
                .await?;
            Ok(events["data"]
                .as_array()
                .and_then(|events| events.first().cloned()))
        })
        .await
    }

    async fn item(&self, loan_or_e2e: &str, status: &str) -> anyhow::Result<Value> {
        self.until(&format!("a {status} reconciliation item"), || async {
            let items = self
                .get(&format!(
                    "/v1/reconciliation/items?status={status}&limit=100"
                ))
                .await?;
            Ok(items["data"].as_array().and_then(|items| {
                items
                    .iter()
                    .find(|item| {
                        item["loan_id"] == loan_or_e2e || item["end_to_end_id"] == loan_or_e2e
                    })
                    .cloned()
            }))
        })
        .await
    }

    /// Prints a completed step with the running counters.
    async fn step(&self, text: &str) {
        let events: i64 = events::count_by_type(&self.pool)
            .await
            .map_or(0, |counts| counts.iter().map(|(_, count)| count).sum());
        let delivered: i64 = deliveries::count_by_status(&self.pool)
            .await
            .map_or(0, |counts| {
                counts
                    .iter()
                    .filter(|(status, _)| *status == deliveries::DeliveryStatus::Succeeded)
                    .map(|(_, count)| count)
                    .sum()
            });
        println!(
            "[{:>5.1}s] ✓ {text:<68} events {events:>3} · delivered {delivered:>3} · verified by partner {:>3}",
            self.started.elapsed().as_secs_f64(),
            self.partner.verified(),
        );
    }
}

/// The scripted story; every step asserts its outcome.
async fn story(demo: &Demo, dinie: &dinie_sim::SimHandle, bank: &Bank) -> anyhow::Result<()> {
    subscribe_and_register(demo, bank).await?;
    disbursed_and_reconciled(demo, dinie, bank).await?;
    banking(demo, bank).await?;
    overdue(demo, dinie).await?;
    all_delivered(demo).await
}

/// The partner app subscribes to everything; the gateway registers its webhooks at both providers.
async fn subscribe_and_register(demo: &Demo, bank: &Bank) -> anyhow::Result<()> {
    let subscription = demo
        .post(
            "/v1/subscriptions",
            json!({"url": demo.partner.url, "event_types": ["*"]}),
        )
        .await?;
    let secret = subscription["secret"]
        .as_str()
        .context("subscription secret")?
        .to_owned();
    demo.partner.set_secret(&secret);
    demo.step("partner app subscribed to every event (signed, whsec_ secret)")
        .await;
    let registered = demo.post("/v1/providers/dinie/webhook", json!({})).await?;
    anyhow::ensure!(
        registered["data"].as_array().is_some_and(|d| !d.is_empty()),
        "no Dinie registration"
    );
    let registered = demo
        .post(
            &format!("/v1/providers/{}/webhooks", bank.name()),
            json!({}),
        )
        .await?;
    let count = registered["data"].as_array().map_or(0, Vec::len);
    demo.step(&format!(
        "gateway webhooks registered at Dinie (1) and {} ({count})",
        bank.label()
    ))
    .await;
    Ok(())
}

/// A borrower, KYC, a loan disbursed, the disbursement arriving as a Pix at the bank and matching.
async fn disbursed_and_reconciled(
    demo: &Demo,
    dinie: &dinie_sim::SimHandle,
    bank: &Bank,
) -> anyhow::Result<()> {
    let borrower = BORROWER;
    let customer_id = register_borrower(demo, borrower, "Maria da Silva", "demo-maria").await?;
    demo.step("borrower registered at Dinie, KYC documents uploaded")
        .await;
    let offer_id = approved_offer(demo, dinie, &customer_id).await?;
    demo.step("Dinie approved the borrower; a credit offer is available")
        .await;
    let (loan_id, net) = take_loan(demo, &offer_id, "10000.00").await?;
    demo.step(&format!(
        "simulated and took a loan of 10000.00 (net {net})"
    ))
    .await;

    // The borrower's account at the bank (the API Pix PSP's account is the borrower's already).
    let number = match bank {
        Bank::Delbank(delbank) => {
            let account = demo
                .post(
                    "/v1/accounts",
                    json!({"holder_document": borrower, "name": "Maria da Silva"}),
                )
                .await?;
            let account_id = account["id"].as_str().context("account id")?.to_owned();
            for kind in ["selfie", "driver_license_full"] {
                demo.post(
                    &format!("/v1/accounts/{account_id}/documents"),
                    json!({"kind": kind, "content_base64": "aGVsbG8="}),
                )
                .await?;
            }
            let number = delbank.control().approve_customer(BORROWER_DIGITS)?;
            demo.step(&format!(
                "account opened at Delbank for the borrower (number {number})"
            ))
            .await;
            Some(number)
        }
        Bank::BacenPix { .. } => None,
    };

    disburse(dinie, &loan_id).await?;
    demo.event("loan.active", &loan_id).await?;
    demo.step("contract generated, signed, disbursed: the loan is active")
        .await;

    // The disbursement arrives as a Pix in the borrower's account.
    let amount: rust_decimal::Decimal = net.parse()?;
    let e2e = bank.pix_in(number.as_deref(), amount)?;
    demo.event("pix.received", &e2e).await?;
    demo.item(&loan_id, "matched").await?;
    demo.step(&format!(
        "disbursement arrived as Pix {}… and reconciled: matched",
        &e2e[..12]
    ))
    .await;
    Ok(())
}

/// A Pix charge paid, a Pix transfer that fails, a refund of the charge's Pix.
async fn banking(demo: &Demo, bank: &Bank) -> anyhow::Result<()> {
    let charge = demo
        .post(
            "/v1/charges",
            json!({"kind": "pix_dynamic", "amount": "150.00", "description": "pedido 42"}),
        )
        .await?;
    let charge_id = charge["id"].as_str().context("charge id")?.to_owned();
    let paid_e2e = bank.pay_charge(&charge_id)?;
    demo.event("pix.received", &paid_e2e).await?;
    demo.step("Pix charge of 150.00 created and paid").await;

    if matches!(bank, Bank::Delbank(_)) {
        failed_transfer(demo).await?;
    }

    refund(demo, &paid_e2e).await
}

/// A Pix transfer to a blocked account, which fails (the API Pix standard sends no Pix).
async fn failed_transfer(demo: &Demo) -> anyhow::Result<()> {
    let failing = demo
        .post(
            "/v1/pix/transfers",
            json!({"amount": "30.00", "destination": {"key": "bloqueada.ac06@example.com"}}),
        )
        .await?;
    let failing_e2e = failing["end_to_end_id"]
        .as_str()
        .context("end to end id")?
        .to_owned();
    let failed = demo.event("pix.transfer.failed", &failing_e2e).await?;
    let code = failed["data"]["failure"]["code"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    demo.step(&format!(
        "Pix transfer of 30.00 to a blocked account failed ({code})"
    ))
    .await;
    Ok(())
}

/// A refund of part of the charge's Pix.
async fn refund(demo: &Demo, paid_e2e: &str) -> anyhow::Result<()> {
    let refund = demo
        .post(
            &format!("/v1/pix/transfers/{paid_e2e}/refund"),
            json!({"amount": "50.00", "reason": "desistência"}),
        )
        .await?;
    let refund_e2e = refund["end_to_end_id"]
        .as_str()
        .context("refund end to end id")?
        .to_owned();
    demo.event("pix.transfer.completed", &refund_e2e).await?;
    demo.step("refunded 50.00 of the charge's Pix").await;
    Ok(())
}

/// A second loan whose money never arrives: pending, then overdue.
async fn overdue(demo: &Demo, dinie: &dinie_sim::SimHandle) -> anyhow::Result<()> {
    let late_customer =
        register_borrower(demo, "111.444.777-35", "João Souza", "demo-joao").await?;
    let offer_id = approved_offer(demo, dinie, &late_customer).await?;
    let (late_loan, _) = take_loan(demo, &offer_id, "5000.00").await?;
    disburse(dinie, &late_loan).await?;
    demo.item(&late_loan, "pending").await?;
    demo.step(&format!(
        "a second loan was disbursed; its Pix never comes ({DEMO_WINDOW_SECS} s window)"
    ))
    .await;
    demo.item(&late_loan, "overdue").await?;
    demo.step("…and it went overdue").await;
    Ok(())
}

/// Every delivery reaches the partner app, every signature verified.
async fn all_delivered(demo: &Demo) -> anyhow::Result<()> {
    demo.until("every delivery to reach the partner app", || async {
        let pending: i64 = deliveries::count_by_status(&demo.pool)
            .await?
            .iter()
            .filter(|(status, _)| !status.is_final())
            .map(|(_, count)| count)
            .sum();
        Ok((pending == 0).then_some(()))
    })
    .await?;
    anyhow::ensure!(
        demo.partner.rejected() == 0,
        "the partner app rejected {} signatures",
        demo.partner.rejected()
    );
    demo.step("every event delivered to the partner app, every signature verified")
        .await;
    Ok(())
}

/// A borrower created at the credit provider with their KYC documents; returns the customer id.
async fn register_borrower(
    demo: &Demo,
    document: &str,
    name: &str,
    external_id: &str,
) -> anyhow::Result<String> {
    let customer = demo
        .post(
            "/v1/customers",
            json!({"document": document, "name": name, "external_id": external_id}),
        )
        .await?;
    let customer_id = customer["id"].as_str().context("customer id")?.to_owned();
    for kind in ["identity_front", "selfie"] {
        demo.post(
            &format!("/v1/customers/{customer_id}/documents"),
            json!({"kind": kind, "file_name": format!("{kind}.png"), "content_type": "image/png", "content_base64": "iVBORw0KGgo="}),
        )
        .await?;
    }
    Ok(customer_id)
}

/// The credit analyst approves the borrower; returns the credit offer they then get.
async fn approved_offer(
    demo: &Demo,
    dinie: &dinie_sim::SimHandle,
    customer_id: &str,
) -> anyhow::Result<String> {
    dinie.approve_customer(customer_id).await?;
    let offers = demo
        .get(&format!("/v1/credit-offers?customer_id={customer_id}"))
        .await?;
    Ok(offers["data"][0]["id"]
        .as_str()
        .context("no credit offer")?
        .to_owned())
}

/// Simulates `amount` in 12 installments and takes the loan; returns its id and net amount.
async fn take_loan(demo: &Demo, offer_id: &str, amount: &str) -> anyhow::Result<(String, String)> {
    let simulation = demo
        .post(
            &format!("/v1/credit-offers/{offer_id}/simulations"),
            json!({"amount": amount, "installments": 12}),
        )
        .await?;
    let net = simulation["net_amount"]["amount"]
        .as_str()
        .context("net amount")?
        .to_owned();
    let loan = demo
        .post(
            "/v1/loans",
            json!({"credit_offer_id": offer_id, "simulation_id": simulation["id"]}),
        )
        .await?;
    let loan_id = loan["id"].as_str().context("loan id")?.to_owned();
    Ok((loan_id, net))
}

/// Dinie's side: contract, signatures and disbursement, until the loan is active.
async fn disburse(dinie: &dinie_sim::SimHandle, loan_id: &str) -> anyhow::Result<()> {
    for _ in 0..10 {
        if dinie.advance_loan(loan_id).await? == "active" {
            break;
        }
    }
    Ok(())
}

async fn summary(demo: &Demo) -> anyhow::Result<()> {
    let events = events::count_by_type(&demo.pool).await?;
    println!("\nEvents by type");
    for (event_type, count) in &events {
        println!("  {event_type:<40} {count:>5}");
    }
    let deliveries = deliveries::count_by_status(&demo.pool).await?;
    println!("\nDeliveries by outcome");
    for (status, count) in &deliveries {
        let status = status.as_str();
        println!("  {status:<40} {count:>5}");
    }
    let summary = demo.get("/v1/reconciliation/summary").await?;
    println!("\nReconciliation by status");
    let mut lines: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for line in summary["by_status"].as_array().into_iter().flatten() {
        lines.insert(
            line["status"].as_str().unwrap_or("?").to_owned(),
            (
                line["count"].as_i64().unwrap_or(0),
                line["amount"].as_str().unwrap_or("0").to_owned(),
            ),
        );
    }
    for (status, (count, amount)) in &lines {
        println!("  {status:<28} {count:>5} {amount:>16} BRL");
    }
    println!(
        "  {:<28} {:>5} {:>16} BRL",
        "total",
        summary["total"]["count"].as_i64().unwrap_or(0),
        summary["total"]["amount"].as_str().unwrap_or("0")
    );
    Ok(())
}

/// The demo partner app: verifies every delivery's Standard Webhooks signature.
#[derive(Clone)]
struct Partner {
    url: String,
    state: Arc<PartnerState>,
}

#[derive(Default)]
struct PartnerState {
    secret: std::sync::Mutex<String>,
    shown: std::sync::Mutex<Vec<String>>,
    verified: AtomicU64,
    rejected: AtomicU64,
}

impl Partner {
    async fn start() -> anyhow::Result<Partner> {
        let state = Arc::new(PartnerState::default());
        let app = axum::Router::new()
            .route("/webhooks", axum::routing::post(partner_receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/webhooks", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Partner { url, state })
    }

    fn set_secret(&self, secret: &str) {
        if let Ok(mut current) = self.state.secret.lock() {
            *current = secret.to_owned();
        }
        if let Ok(mut shown) = self.state.shown.lock() {
            shown.push(secret.to_owned());
        }
    }

    /// Every secret the partner was given.
    fn secrets_shown(&self) -> Vec<String> {
        self.state
            .shown
            .lock()
            .map(|shown| shown.clone())
            .unwrap_or_default()
    }

    fn verified(&self) -> u64 {
        self.state.verified.load(Ordering::Relaxed)
    }

    fn rejected(&self) -> u64 {
        self.state.rejected.load(Ordering::Relaxed)
    }
}

async fn partner_receive(
    State(state): State<Arc<PartnerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = state.secret.lock().map(|s| s.clone()).unwrap_or_default();
    let valid = standardwebhooks::Webhook::new(&secret)
        .is_ok_and(|webhook| webhook.verify(&body, &headers).is_ok());
    if valid {
        state.verified.fetch_add(1, Ordering::Relaxed);
        StatusCode::NO_CONTENT
    } else {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        StatusCode::UNAUTHORIZED
    }
}
