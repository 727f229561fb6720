//! The paygate service: REST API, inbound webhooks, storage, configuration and telemetry; binary
//! `paygate`. The only crate that knows HTTP JSON and SQL.
//!
//! # Layout
//! - `cli`: the command line (`demo`, `serve`, `migrate`, `keys`, `providers`, `secrets`, `config check`).
//! - `demo`: the whole product in one command, against both simulators.
//! - `config`: figment-layered settings.
//! - `crypto`: secrets encrypted at rest (keyring, `enc:v1:` values).
//! - `startup`: application state, the provider registry (the one place naming provider crates),
//!   listener and graceful shutdown.
//! - `db`: locating Postgres with no set-up, pool, migrations.
//! - `delivery`: re-publishing events to partner apps (SSRF guard, JetStream sink).
//! - `http`: routes, extractors, problem+json errors, auth, idempotency, OpenAPI.
//! - `app`: use cases called by handlers and commands.
//! - `store`: SQL, one module per aggregate.
//! - `telemetry`: logs, traces, metrics.

pub mod app;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod http;
pub mod reconcile;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use db::MIGRATOR;
