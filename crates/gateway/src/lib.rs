//! The paygate service: REST API, inbound webhooks, storage, configuration and telemetry; binary
//! `paygate`. The only crate that knows HTTP JSON and SQL.
//!
//! # Layout
//! A one-way stack, top to bottom; a module imports only from modules below it (checked by
//! `tests/architecture.rs`, the rule in ARCHITECTURE.md):
//! - `cli`: the command line (`serve`, `migrate`, `keys`, `providers`, `secrets`, `config check`).
//! - `startup`: the composition root: credential store, provider registry, state, workers,
//!   listener, graceful shutdown.
//! - `http`: routes, extractors, problem+json errors, auth, idempotency, OpenAPI; handlers by
//!   resource.
//! - `ingest`: inbound webhooks: verify, normalize, group commit, reconcile, quarantine.
//! - `delivery`: re-publishing events to partner apps (dispatcher, pacing, replays, SSRF guard,
//!   JetStream sink, the v1 payload).
//! - `reconcile`: Pix receipts against loan disbursements (matcher, live, items and runs).
//! - `retention`: partitions ahead of time, retention, generations of exactly-once keys (a job).
//! - `outbox`: storing events with their deliveries; the in-memory hand-off to the dispatcher.
//! - `keys`, `credentials`, `secrets`: API keys and scopes; inbound webhook credentials and their
//!   registration at providers; re-encryption of secrets at rest.
//! - `jobs`: periodic background jobs, once per interval for the whole fleet.
//! - `doctor`: what the Postgres server is set to, judged against what the gateway needs.
//! - `registry`: the registered providers by capability.
//! - `store`: SQL, one module per aggregate.
//! - `catalog`: the list of provider crates compiled in (the one place naming them).
//! - `db`, `config`, `crypto`, `telemetry`: locating Postgres and migrations, figment-layered
//!   settings, secrets at rest, logs/traces/metrics.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod doctor;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod outbox;
pub mod reconcile;
pub mod registry;
pub mod retention;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use db::MIGRATOR;
