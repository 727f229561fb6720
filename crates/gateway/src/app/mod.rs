//! Use cases: what the gateway does, independent of HTTP. Handlers and CLI commands call these.
//!
//! # Layout
//! - `keys`: API keys (create, authenticate, revoke).
//! - `ingest`: inbound webhooks (verify, normalize, store exactly once or quarantine).
//! - `outbox`: storing an event together with its deliveries (the transactional outbox).
//! - `providers`: the credential store, webhook registration and rotation at providers.
//! - `secrets`: re-encrypting stored secrets under the active key (`paygate secrets rekey`).

pub mod ingest;
pub mod keys;
pub mod outbox;
pub mod providers;
pub mod secrets;
