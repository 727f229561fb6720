//! Batch reconciliation at scale: one million disbursements against one million Pix receipts,
//! matched in memory by `gateway::reconcile::matcher::reconcile` (hash join on the payee document,
//! then exact amount and time inside each group).
//!
//! Run: `cargo run --release -p gateway --example reconcile_bench -- 1000000`

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use gateway::reconcile::matcher::{self, Expected, Observed, Status};
use rust_decimal::Decimal;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let base = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    // A cheap deterministic generator (no float): xorshift.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let started = Instant::now();
    let mut expected = Vec::with_capacity(count);
    let mut observed = Vec::with_capacity(count);
    for n in 0..count {
        let document = format!("{n:011}");
        let cents = i64::try_from(100_000 + next() % 5_000_000).unwrap_or(100_000);
        let disbursed_at = base + Duration::seconds(i64::try_from(next() % 2_592_000).unwrap_or(0));
        expected.push(Expected {
            loan_id: format!("ln_{n:08}"),
            document: document.clone(),
            amount: Decimal::new(cents, 2),
            disbursed_at,
            deadline: disbursed_at + Duration::hours(24),
            cancelled: false,
            locked: None,
        });
        // 90% arrive with the exact amount, 5% a cent off, 5% never (replaced by a stray receipt).
        let roll = next() % 100;
        let (document, amount) = match roll {
            0..90 => (document, Decimal::new(cents, 2)),
            90..95 => (document, Decimal::new(cents - 1, 2)),
            _ => (format!("9{n:010}"), Decimal::new(cents, 2)),
        };
        observed.push(Observed {
            end_to_end_id: format!("E{n:031}"),
            document,
            amount,
            received_at: disbursed_at
                + Duration::seconds(i64::try_from(next() % 3_600).unwrap_or(0)),
            from_credit_payer: true,
        });
    }
    let generated = started.elapsed();

    let started = Instant::now();
    let outcome = matcher::reconcile(&expected, &observed, base + Duration::days(40));
    let elapsed = started.elapsed();

    let count_of = |status: Status| {
        outcome
            .expected
            .iter()
            .filter(|e| e.status == status)
            .count()
    };
    println!("disbursements: {count}, receipts: {count}");
    println!("generated in {generated:.2?}, reconciled in {elapsed:.2?}");
    println!(
        "matched: {}, amount_mismatch: {}, overdue: {}, needs_review: {}, unexpected_receipt: {}",
        count_of(Status::Matched),
        count_of(Status::AmountMismatch),
        count_of(Status::Overdue),
        count_of(Status::NeedsReview),
        outcome.unexpected.len()
    );
}
