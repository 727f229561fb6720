//! Use cases: what the gateway does, independent of HTTP. Handlers and CLI commands call these.
//!
//! # Layout
//! - `keys`: API keys (create, authenticate, revoke).
//! - `ingest`: inbound webhooks (verify, normalize, store exactly once or quarantine).

pub mod ingest;
pub mod keys;
