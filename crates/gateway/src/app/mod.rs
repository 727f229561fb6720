//! Use cases: what the gateway does, independent of HTTP. Handlers and CLI commands call these.
//!
//! # Layout
//! - `keys`: API keys (create, authenticate, revoke).
//! - `ingest`: inbound webhooks (verify, normalize, store exactly once or quarantine).
//! - `providers`: the credential store, webhook registration and rotation at providers.

pub mod ingest;
pub mod keys;
pub mod providers;
