//! Delivery of events to partner apps: the dispatcher that drains the outbox, signing, pacing,
//! replays, the SSRF guard and the JetStream sink.
//!
//! # Layout
//! - `dispatcher`: claims due deliveries (`for update skip locked`), POSTs them signed with
//!   Standard Webhooks, records every attempt, retries on the schedule, dead-letters, disables
//!   endpoints that answer 410 or keep failing.
//! - `payload`: the v1 event body partners receive (and `/v1/events` serves).
//! - `pacing`: per-subscription concurrency limit, per process (the rate limit is fleet-wide:
//!   `store::pace`).
//! - `headers`: a subscription's static headers, what may and may not be set.
//! - `replay`: durable bulk replay jobs.
//! - `signing`: Standard Webhooks signatures (`v1` HMAC, `v1a` Ed25519), with both keys during a
//!   rotation.
//! - `ssrf`: refuses partner URLs that resolve to private, loopback or link-local addresses.
//! - `jetstream`: the optional NATS JetStream sink.

pub mod dispatcher;
pub mod headers;
pub mod jetstream;
pub mod pacing;
pub mod payload;
pub mod replay;
pub mod signing;
pub mod ssrf;
