//! Reconciliation for finance: Pix receipts against loan disbursements.
//!
//! # Layout
//! - `matcher`: the rules, a pure function shared by live matching and batch runs.
//! - `live`: facts from each event and the affected documents recomputed in the events' transaction.
//! - `items`: reading and resolving items, summaries, batch runs, the periodic overdue job.

pub mod items;
pub mod live;
pub mod matcher;
