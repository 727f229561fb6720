//! The `paygate` binary: configuration layering and errors, `keys create`, `migrate`.
//! Each test runs the real binary in its own process, so environment variables stay isolated.

#![allow(
    clippy::expect_used,
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

#[tokio::test]
async fn keys_create_prints_a_working_key_once_and_list_never_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _cluster) = db::find_server(&dir.path().join("pg"), ClusterLifetime::Ephemeral)
        .await
        .unwrap();
    let name = format!("paygate_cli_{}", uuid::Uuid::new_v4().simple());
    let url = db::ensure_database(&server, &name).await.unwrap();
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
    let caller = gateway::app::keys::authenticate(&pool, key).await.unwrap();
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
    let mut admin = sqlx::postgres::PgConnectOptions::from_str(&server)
        .unwrap()
        .database("postgres")
        .connect()
        .await
        .unwrap();
    sqlx::query(&format!("drop database \"{name}\" with (force)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}
