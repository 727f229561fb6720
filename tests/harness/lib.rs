//! Test harness for the end-to-end tests: a fresh Postgres database per test, the gateway on a port
//! picked by the OS, an HTTP client, and a test-only `WebhookSource`.
//!
//! # Layout
//! - `db`: the Postgres server (DATABASE_URL, else localhost:5432, else a private throw-away
//!   cluster) and `TestDb`, a database per test dropped when the test ends.
//! - `app`: `TestApp`, the gateway running in-process with helpers per endpoint.
//! - `source`: `TestSource`, a provider whose webhooks the tests craft.
//! - `logs`: capturing what the gateway logs.
//! - `receiver`: a partner app that verifies signatures and answers as scripted.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test harness: a failed set-up must abort the test with its message"
)]

pub mod app;
pub mod db;
pub mod logs;
pub mod receiver;
pub mod replica;
pub mod source;

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
