//! `Replica`: a `paygate serve` process (the real binary, built by this package as `e2e-paygate`;
//! tests pass its path, `env!("CARGO_BIN_EXE_e2e-paygate")`, which only they are given)
//! on a port picked by the OS, on a shared test database; it can be killed with SIGKILL and
//! restarted. `Fleet` is several of them with the inbound Dinie side a test can sign for.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::io::AsyncBufReadExt;

use crate::db::TestDb;

/// The Dinie webhook secret the replicas verify with.
pub const DINIE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One `paygate serve` process.
pub struct Replica {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    program: &'static str,
    env: BTreeMap<String, String>,
    child: Option<tokio::process::Child>,
}

impl Replica {
    /// Starts `program serve` with `env` (on top of nothing inherited from `PAYGATE_*`) and waits
    /// until it listens.
    pub async fn start(program: &'static str, env: BTreeMap<String, String>) -> Replica {
        let mut replica = Replica {
            base_url: String::new(),
            program,
            env,
            child: None,
        };
        replica.spawn().await;
        replica
    }

    async fn spawn(&mut self) {
        let mut command = tokio::process::Command::new(self.program);
        command
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
        for (name, _) in std::env::vars() {
            if name.starts_with("PAYGATE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .envs(&self.env)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("paygate starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        // Reads the log to its end, so that the replica never blocks on a full pipe.
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let mut address_tx = Some(address_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if record["fields"]["message"] == "paygate listening"
                    && let (Some(tx), Some(address)) =
                        (address_tx.take(), record["fields"]["address"].as_str())
                {
                    let _ = tx.send(address.to_owned());
                }
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(30), address_rx)
            .await
            .expect("paygate did not listen within 30 s")
            .expect("paygate exited before listening");
        self.base_url = format!("http://{address}");
        self.child = Some(child);
    }

    /// The process id (`None` once killed or stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    /// Kills the process with SIGKILL: no shutdown, claims and transactions left as they are.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL sent");
            let _ = child.wait().await;
        }
    }

    /// Starts the process again, with the same settings (on a new port).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// Stops the process with SIGTERM and asserts a graceful exit (status 0).
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(sent.success());
        }
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("paygate did not stop within 60 s of SIGTERM")
            .expect("exit status");
        assert!(status.success(), "graceful shutdown exits 0: {status}");
    }
}

/// The settings of a fleet's replicas: the shared database (migrated once, by the test, so no
/// replica migrates), small pools, Dinie's inbound side verifying [`DINIE_SECRET`], loopback
/// partners allowed, quick polls and claims that expire within seconds (a killed replica's claims
/// come back soon).
pub fn fleet_env(db: &TestDb, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("DATABASE_URL", db.url.expose_secret()),
        ("PAYGATE_DATABASE__MIGRATE_ON_START", "false"),
        // Tests run in parallel on one server: a fleet must leave connections for the others.
        ("PAYGATE_DATABASE__MAX_CONNECTIONS", "6"),
        ("PAYGATE_SERVER__PORT", "0"),
        ("PAYGATE_SERVER__SHUTDOWN_GRACE_SECS", "5"),
        ("PAYGATE_TELEMETRY__LOG_FORMAT", "json"),
        ("PAYGATE_TELEMETRY__LOG_FILTER", "warn,gateway::cli=info"),
        ("PAYGATE_PROVIDERS__DINIE__ENABLED", "true"),
        (
            "PAYGATE_PROVIDERS__DINIE__BASE_URL",
            "http://127.0.0.1:1/v3",
        ),
        ("PAYGATE_PROVIDERS__DINIE__CLIENT_ID", "fleet"),
        ("PAYGATE_PROVIDERS__DINIE__CLIENT_SECRET", "fleet"),
        (
            "PAYGATE_PROVIDERS__DINIE__WEBHOOK_SECRETS",
            &format!("[\"{DINIE_SECRET}\"]"),
        ),
        (
            "PAYGATE_DELIVERY__ALLOW_PRIVATE_NETWORKS",
            "[\"127.0.0.0/8\"]",
        ),
        ("PAYGATE_DELIVERY__POLL_INTERVAL_MS", "50"),
        ("PAYGATE_DELIVERY__CLAIM_TIMEOUT_SECS", "5"),
        (
            "PAYGATE_DELIVERY__RETRY_SCHEDULE_SECS",
            "[0, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
        ),
        ("PAYGATE_DELIVERY__RETRY_JITTER_PERCENT", "0"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    for (name, value) in overrides {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    env
}

/// A Dinie `loan.payment_received` webhook for `loan`'s installment `installment`, signed with
/// [`DINIE_SECRET`]; returns its headers and body.
pub fn dinie_payment(id: &str, loan: &str, installment: u32) -> (Vec<(String, String)>, String) {
    let body = format!(
        r#"{{"type":"loan.payment_received","timestamp":"2026-12-03T12:00:00Z","data":{{"id":"{loan}","status":"active","payment":{{"amount":"100.00","paid_at":"2026-12-03T11:59:58Z","installment_number":{installment}}}}}}}"#
    );
    let timestamp = chrono::Utc::now().timestamp();
    let signature = standardwebhooks::Webhook::new(DINIE_SECRET)
        .expect("secret")
        .sign(id, timestamp, body.as_bytes())
        .expect("signature");
    let headers = vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    (headers, body)
}

/// Posts a signed Dinie webhook to `base_url`; `Some(status)` when the replica answered.
pub async fn post_dinie(
    client: &reqwest::Client,
    base_url: &str,
    id: &str,
    loan: &str,
    installment: u32,
) -> Option<reqwest::StatusCode> {
    let (headers, body) = dinie_payment(id, loan, installment);
    let mut request = client
        .post(format!("{base_url}/webhooks/dinie"))
        .timeout(Duration::from_secs(10))
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.ok().map(|response| response.status())
}
