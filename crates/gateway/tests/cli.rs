//! The `paygate` binary: configuration layering and errors, `keys create`, `migrate`.
//! Each test runs the real binary in its own process, so environment variables stay isolated.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed set-up must abort the test"
)]

use std::process::{Command, Output};
use std::str::FromStr;

use gateway::db::{self, ClusterLifetime};
use secrecy::ExposeSecret;
use sqlx::{ConnectOptions, Connection};

fn paygate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paygate"));
    command.args(args).env_remove("DATABASE_URL");
    for (name, _) in std::env::vars() {
        if name.starts_with("PAYGATE_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("paygate runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_check_prints_the_defaults() {
    let output = paygate(&["config", "check"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("port = 8080"), "{text}");
    assert!(text.contains("ttl_hours = 24"), "{text}");
}

#[test]
fn providers_describe_lists_every_compiled_in_provider_from_its_description() {
    let output = paygate(&["providers", "any", "describe"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for (name, capability, authentication) in [
        ("dinie", "credit", "signature"),
        ("delbank", "banking", "credential (weak"),
        ("bacen-pix", "banking", "credential (weak"),
    ] {
        let block: String = text
            .split("\n")
            .skip_while(|line| !line.starts_with(&format!("{name}\t")))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains(&format!("capabilities:            {capability}")),
            "{text}"
        );
        assert!(
            block.contains(&format!("webhook authentication:  {authentication}")),
            "{text}"
        );
        assert!(block.contains("enabled here:            false"), "{text}");
    }
}

#[test]
fn describing_one_provider_shows_its_defaults_and_what_the_environment_enables() {
    let output = paygate(
        &["providers", "bacen-pix", "describe"],
        &[("PAYGATE_PROVIDERS__BACEN_PIX__ENABLED", "true")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("enabled here:            true"), "{text}");
    assert!(text.contains("    [providers.bacen-pix]"), "{text}");
    assert!(text.contains("    confirm_by_fetch = true"), "{text}");
}

#[test]
fn an_unknown_provider_is_an_error_listing_the_known_ones() {
    let output = paygate(&["providers", "acme", "register-webhooks"], &[]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains(
            "no provider `acme` is compiled into this binary; there are: delbank, dinie, bacen-pix"
        ),
        "{text}"
    );
}

#[test]
fn the_environment_wins_over_a_config_file_which_wins_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paygate.toml");
    std::fs::write(&file, "[server]\nport = 7000\nrequest_timeout_secs = 12\n").unwrap();

    let output = paygate(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &[("PAYGATE_SERVER__PORT", "9123")],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("port = 9123"), "{text}");
    assert!(text.contains("request_timeout_secs = 12"), "{text}");
}

#[test]
fn an_invalid_value_exits_non_zero_naming_the_key_and_what_was_expected() {
    let output = paygate(&["config", "check"], &[("PAYGATE_SERVER__PORT", "eighty")]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("server.port"), "{text}");
    assert!(text.contains("u16"), "{text}");

    let output = paygate(
        &["config", "check"],
        &[("PAYGATE_IDEMPOTENCY__TTL_HOURS", "0")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("idempotency.ttl_hours"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_config_file_is_an_error_naming_it() {
    let output = paygate(
        &["--config", "/nonexistent/paygate.toml", "config", "check"],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/nonexistent/paygate.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn config_check_redacts_the_database_password() {
    let output = paygate(
        &["config", "check"],
        &[("DATABASE_URL", "postgres://app:hunter2@db:5432/paygate")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("url = \"[REDACTED]\""), "{text}");
}

/// A fresh database on the test server; dropped by [`FreshDb::drop_now`].
struct FreshDb {
    server: String,
    name: String,
    url: secrecy::SecretString,
    _cluster: Option<db::PrivateCluster>,
    _dir: tempfile::TempDir,
}

impl FreshDb {
    async fn new() -> FreshDb {
        let dir = tempfile::tempdir().unwrap();
        let (server, cluster) = match std::env::var("DATABASE_URL") {
            Ok(url) => (db::server_url_of(&url), None),
            Err(_) => db::find_server(&dir.path().join("pg"), ClusterLifetime::Ephemeral)
                .await
                .unwrap(),
        };
        let name = format!("paygate_cli_{}", uuid::Uuid::new_v4().simple());
        let url = db::ensure_database(&server, &name).await.unwrap();
        FreshDb {
            server,
            name,
            url,
            _cluster: cluster,
            _dir: dir,
        }
    }

    async fn drop_now(self) {
        let mut admin = sqlx::postgres::PgConnectOptions::from_str(&self.server)
            .unwrap()
            .database("postgres")
            .connect()
            .await
            .unwrap();
        sqlx::query(&format!("drop database \"{}\" with (force)", self.name))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

#[tokio::test]
async fn keys_create_prints_a_working_key_once_and_list_never_shows_it() {
    let database = FreshDb::new().await;
    let url = database.url.clone();
    let env = [("DATABASE_URL", url.expose_secret())];

    let created = paygate(
        &[
            "keys",
            "create",
            "--name",
            "ledger",
            "--scope",
            "events:read",
            "--scope",
            "pii",
        ],
        &env,
    );
    let listed = paygate(&["keys", "list"], &env);
    let bad_scope = paygate(&["keys", "create", "--name", "x", "--scope", "root"], &env);

    assert!(created.status.success(), "{}", stderr(&created));
    let text = stdout(&created);
    let key = text
        .lines()
        .find_map(|line| line.strip_prefix("key:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no key line: {text}"));
    assert!(key.starts_with("pgk_"), "{text}");
    assert!(text.contains("events:read,pii"), "{text}");
    let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
    let caller = gateway::keys::authenticate(&pool, key).await.unwrap();
    assert_eq!(caller.name, "ledger");
    assert!(listed.status.success());
    assert!(stdout(&listed).contains("ledger"));
    assert!(!stdout(&listed).contains(key));
    assert!(!bad_scope.status.success());
    assert!(
        stderr(&bad_scope).contains("root"),
        "{}",
        stderr(&bad_scope)
    );

    pool.close().await;
    database.drop_now().await;
}

#[tokio::test]
async fn migrate_applies_every_migration_and_is_idempotent() {
    let database = FreshDb::new().await;
    let env = [("DATABASE_URL", database.url.expose_secret())];

    let first = paygate(&["migrate"], &env);
    let second = paygate(&["migrate"], &env);

    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    let pool = sqlx::PgPool::connect(database.url.expose_secret())
        .await
        .unwrap();
    assert!(db::migrations_applied(&pool).await.unwrap());
    pool.close().await;
    database.drop_now().await;
}

#[tokio::test]
async fn serve_exports_traces_over_otlp_when_an_endpoint_is_configured_and_stops_on_sigterm() {
    let database = FreshDb::new().await;
    // A minimal OTLP/HTTP collector: counts trace export requests.
    let (exports_tx, mut exports) = tokio::sync::mpsc::unbounded_channel::<(String, usize)>();
    let collector = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let exports_tx = exports_tx.clone();
                async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let _ = exports_tx.send((content_type, body.len()));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let endpoint = format!("http://{collector_address}/v1/traces");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("DATABASE_URL", database.url.expose_secret())
        .env("PAYGATE_SERVER__PORT", "0")
        .env("PAYGATE_TELEMETRY__LOG_FORMAT", "json")
        .env("PAYGATE_TELEMETRY__OTLP_ENDPOINT", &endpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The JSON log line announcing the address.
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let address = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if record["fields"]["message"] == "paygate listening" {
                return record["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("paygate exited before listening");
    })
    .await
    .expect("paygate did not start within 30 s");

    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("paygate did not stop within 30 s of SIGTERM")
        .unwrap();

    assert!(status.success(), "graceful shutdown exits 0: {status}");
    let (content_type, size) =
        tokio::time::timeout(std::time::Duration::from_secs(10), exports.recv())
            .await
            .expect("no trace export reached the collector")
            .unwrap();
    assert_eq!(content_type, "application/x-protobuf");
    assert!(size > 0);
    database.drop_now().await;
}

#[tokio::test]
async fn partitions_maintain_creates_the_weeks_ahead_and_list_shows_them() {
    let database = FreshDb::new().await;
    let url = database.url.clone();
    let env = [
        ("DATABASE_URL", url.expose_secret()),
        ("PAYGATE_RETENTION__PARTITIONS_AHEAD_DAYS", "60"),
    ];

    let maintained = paygate(&["partitions", "maintain"], &env);
    let again = paygate(&["partitions", "maintain"], &env);
    let listed = paygate(&["partitions", "list"], &env);

    assert!(maintained.status.success(), "{}", stderr(&maintained));
    // The migration made four weeks ahead; sixty days need at least four more for each table.
    let created: u32 = stdout(&maintained)
        .lines()
        .find_map(|line| line.strip_prefix("created "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no count: {}", stdout(&maintained)));
    assert!(created >= 12, "{}", stdout(&maintained));
    // A new database's first partition (the tables before partitioning, empty, up to the epoch) is
    // past every retention.
    for table in ["event", "delivery", "delivery_attempt"] {
        assert!(
            stdout(&maintained).contains(&format!("dropped {table}_legacy\n")),
            "{}",
            stdout(&maintained)
        );
    }
    assert!(
        stdout(&again).contains("created 0 partition(s)"),
        "{}",
        stdout(&again)
    );
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = stdout(&listed);
    let ahead = chrono::Utc::now() + chrono::Duration::days(56);
    for table in ["event", "delivery", "delivery_attempt"] {
        assert!(!text.contains(&format!("{table}_legacy")), "{text}");
        assert!(
            text.lines().any(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                fields[0] == table && fields[3] >= ahead.format("%Y-%m-%d").to_string().as_str()
            }),
            "{table} reaches 56 days ahead: {text}"
        );
    }
    assert!(text.contains("event_key\tgeneration 1\t"), "{text}");

    database.drop_now().await;
}

#[tokio::test]
async fn doctor_on_a_database_never_migrated_says_so_instead_of_failing() {
    let database = FreshDb::new().await;
    let url = database.url.clone();
    let env = [("DATABASE_URL", url.expose_secret())];

    let before = paygate(&["doctor"], &env);
    let migrated = paygate(&["migrate"], &env);
    let after = paygate(&["doctor"], &env);

    let text = stdout(&before);
    assert!(
        text.contains("schema") && text.contains("migrations not applied"),
        "{text}{}",
        stderr(&before)
    );
    assert!(text.contains("paygate migrate"), "{text}");
    assert!(
        text.contains("fsync"),
        "the server's own checks still run: {text}"
    );
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let text = stdout(&after);
    assert!(!text.contains("migrations not applied"), "{text}");
    assert!(
        text.contains("partitions") && text.contains("key_cache"),
        "{text}"
    );

    database.drop_now().await;
}
