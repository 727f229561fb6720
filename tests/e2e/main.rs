//! End-to-end tests: the gateway over real HTTP on 127.0.0.1 (ports picked by the OS), each test on a
//! fresh Postgres database. One binary, so the workspace is linked once.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed set-up must abort the test"
)]

mod auth;
mod bacen_pix;
mod cluster;
mod compression;
mod confirmation;
mod console;
mod delbank;
mod delivery;
mod demo;
mod dinie;
mod errors;
mod event_types;
mod events;
mod fleet;
mod group_commit;
mod health;
mod idempotency;
mod inbound;
mod jetstream;
mod logs;
mod partitions;
mod partners;
mod providers;
mod quarantine;
mod reconciliation;
mod reconciliation_sims;
mod replicas;
mod secrets;
mod service;
mod store;
