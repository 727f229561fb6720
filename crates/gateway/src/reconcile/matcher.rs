//! The matching rules, as a pure function of the facts: no I/O, no clock, no arrival order.
//!
//! Live reconciliation (one payee document at a time, inside each event's transaction) and batch
//! runs (millions of rows, grouped by document with hash maps) call the same [`reconcile`], so
//! they agree by construction; the property tests check it anyway, with shuffled and duplicated
//! arrivals.
//!
//! Rules, per payee document:
//! 1. Expected receipts (disbursements) are taken in order of disbursement time, then loan id.
//!    Their candidates are unclaimed receipts of exactly the same amount received inside
//!    `[disbursed_at - skew, deadline]`. The closest in time wins; when the two closest are equally
//!    close, the item needs review (never a guess) and those candidates stay unclaimed.
//! 2. An expected receipt with no exact candidate takes, as `amount_mismatch`, the closest unclaimed
//!    receipt of another amount inside its window, with the difference (observed − expected).
//! 3. Still unmatched: `overdue` once `now` is past the deadline, else `pending`.
//! 4. A receipt left unclaimed whose payer is a configured credit-provider payer is an
//!    `unexpected_receipt`; other unclaimed receipts are unrelated Pix and not items.
//! 5. Finance's decisions are kept: a locked expected receipt keeps its status and the receipt it
//!    was matched to (that receipt is claimed before the rules run); a cancelled loan is `cancelled`.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

/// An expected receipt: a loan disbursement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The loan id.
    pub loan_id: String,
    /// The borrower's document (bare digits or alphanumerics).
    pub document: String,
    /// The amount that should arrive.
    pub amount: Decimal,
    /// When it was disbursed.
    pub disbursed_at: DateTime<Utc>,
    /// When it becomes overdue.
    pub deadline: DateTime<Utc>,
    /// The loan was cancelled before disbursement.
    pub cancelled: bool,
    /// A decision by finance, kept as is.
    pub locked: Option<Locked>,
}

/// A decision by finance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The status chosen.
    pub status: Status,
    /// The receipt it was matched with, if any.
    pub end_to_end_id: Option<String>,
}

/// A Pix receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The Pix endToEndId.
    pub end_to_end_id: String,
    /// The payee's document.
    pub document: String,
    /// The amount received.
    pub amount: Decimal,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The payer is a configured credit-provider payer.
    pub from_credit_payer: bool,
}

pub use crate::store::recon_items::ItemStatus as Status;

/// The outcome for one expected receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedOutcome {
    /// The loan id.
    pub loan_id: String,
    /// Its status.
    pub status: Status,
    /// The receipt it is matched (or mismatched) with.
    pub end_to_end_id: Option<String>,
    /// Observed − expected, for a mismatch.
    pub difference: Option<Decimal>,
    /// The tied candidates, for `needs_review`.
    pub candidates: Vec<String>,
}

/// The outcome of a reconciliation: one entry per expected receipt, and the unexpected receipts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Per expected receipt, sorted by loan id.
    pub expected: Vec<ExpectedOutcome>,
    /// endToEndIds of unexpected receipts, sorted.
    pub unexpected: Vec<String>,
}

/// How far before the disbursement time a receipt may be stamped (clocks differ).
pub const SKEW: Duration = Duration::minutes(5);

/// Reconciles every fact given, grouping by payee document with hash maps (linear in the input
/// for the usual one or two loans per borrower).
pub fn reconcile(expected: &[Expected], observed: &[Observed], now: DateTime<Utc>) -> Outcome {
    let mut by_document: HashMap<&str, (Vec<&Expected>, Vec<&Observed>)> = HashMap::new();
    for item in expected {
        by_document
            .entry(item.document.as_str())
            .or_default()
            .0
            .push(item);
    }
    for item in observed {
        by_document
            .entry(item.document.as_str())
            .or_default()
            .1
            .push(item);
    }
    let mut outcome = Outcome::default();
    for (_, (expected, observed)) in by_document {
        reconcile_group(&expected, &observed, now, &mut outcome);
    }
    outcome.expected.sort_by(|a, b| a.loan_id.cmp(&b.loan_id));
    outcome.unexpected.sort();
    outcome
}

/// The rules for one payee document; appends its results to `outcome`.
fn reconcile_group(
    expected: &[&Expected],
    observed: &[&Observed],
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) {
    let mut group = Outcome::default();
    reconcile_document(expected, observed, now, &mut group);
    outcome.expected.append(&mut group.expected);
    outcome.unexpected.append(&mut group.unexpected);
}

/// The rules for one payee document, into a fresh `outcome` (its lookups stay within the group).
fn reconcile_document(
    expected: &[&Expected],
    observed: &[&Observed],
    now: DateTime<Utc>,
    outcome: &mut Outcome,
) {
    let mut pass = Pass::new(observed);
    let mut loans: Vec<&Expected> = expected.to_vec();
    loans.sort_by(|a, b| (a.disbursed_at, &a.loan_id).cmp(&(b.disbursed_at, &b.loan_id)));
    loans.dedup_by(|a, b| a.loan_id == b.loan_id);
    let open = pass.decided(&loans, outcome);
    let unmatched = pass.exact(open, outcome);
    pass.closest(unmatched, now, outcome);
    pass.unexpected(outcome);
}

/// One document's receipts, and which of them the pass has claimed so far.
struct Pass<'a> {
    receipts: Vec<&'a Observed>,
    claimed: Vec<bool>,
}

impl<'a> Pass<'a> {
    /// The receipts deduplicated by endToEndId (a redelivered webhook is one receipt).
    fn new(observed: &[&'a Observed]) -> Pass<'a> {
        let mut receipts: Vec<&Observed> = observed.to_vec();
        receipts.sort_by(|a, b| a.end_to_end_id.cmp(&b.end_to_end_id));
        receipts.dedup_by(|a, b| a.end_to_end_id == b.end_to_end_id);
        let claimed = vec![false; receipts.len()];
        Pass { receipts, claimed }
    }

    fn index_of(&self, end_to_end_id: &str) -> Option<usize> {
        self.receipts
            .iter()
            .position(|r| r.end_to_end_id == end_to_end_id)
    }

    /// Finance's decisions first: they claim their receipts; cancelled loans expect nothing.
    /// Returns the loans still open.
    fn decided<'l>(&mut self, loans: &[&'l Expected], outcome: &mut Outcome) -> Vec<&'l Expected> {
        let mut open = Vec::new();
        for loan in loans {
            if let Some(locked) = &loan.locked {
                if let Some(index) = locked
                    .end_to_end_id
                    .as_deref()
                    .and_then(|id| self.index_of(id))
                {
                    self.claimed[index] = true;
                }
                outcome.expected.push(ExpectedOutcome {
                    loan_id: loan.loan_id.clone(),
                    status: locked.status,
                    end_to_end_id: locked.end_to_end_id.clone(),
                    difference: None,
                    candidates: Vec::new(),
                });
            } else if loan.cancelled {
                outcome.expected.push(ExpectedOutcome {
                    loan_id: loan.loan_id.clone(),
                    status: Status::Cancelled,
                    end_to_end_id: None,
                    difference: None,
                    candidates: Vec::new(),
                });
            } else {
                open.push(*loan);
            }
        }
        open
    }

    /// Exact amounts in the window, nearest in time first; a tie goes to review. Returns the loans
    /// with no exact match.
    fn exact<'l>(&mut self, open: Vec<&'l Expected>, outcome: &mut Outcome) -> Vec<&'l Expected> {
        let mut unmatched = Vec::new();
        for loan in open {
            let mut candidates: Vec<(Duration, usize)> = self
                .receipts
                .iter()
                .enumerate()
                .filter(|(index, receipt)| {
                    !self.claimed[*index]
                        && receipt.amount == loan.amount
                        && in_window(loan, receipt)
                })
                .map(|(index, receipt)| (distance(loan, receipt), index))
                .collect();
            candidates.sort_by(|a, b| {
                a.0.cmp(&b.0).then_with(|| {
                    self.receipts[a.1]
                        .end_to_end_id
                        .cmp(&self.receipts[b.1].end_to_end_id)
                })
            });
            match candidates.as_slice() {
                [] => unmatched.push(loan),
                [(best, _), (second, _), ..] if best == second => {
                    let tied: Vec<String> = candidates
                        .iter()
                        .take_while(|(d, _)| d == best)
                        .map(|(_, index)| self.receipts[*index].end_to_end_id.clone())
                        .collect();
                    outcome.expected.push(ExpectedOutcome {
                        loan_id: loan.loan_id.clone(),
                        status: Status::NeedsReview,
                        end_to_end_id: None,
                        difference: None,
                        candidates: tied,
                    });
                }
                [(_, index), ..] => {
                    self.claimed[*index] = true;
                    outcome.expected.push(ExpectedOutcome {
                        loan_id: loan.loan_id.clone(),
                        status: Status::Matched,
                        end_to_end_id: Some(self.receipts[*index].end_to_end_id.clone()),
                        difference: None,
                        candidates: Vec::new(),
                    });
                }
            }
        }
        unmatched
    }

    /// The closest unclaimed receipt in the window is a mismatched amount; with none, the loan is
    /// overdue past its deadline and pending before it.
    fn closest(&mut self, unmatched: Vec<&Expected>, now: DateTime<Utc>, outcome: &mut Outcome) {
        for loan in unmatched {
            let closest = self
                .receipts
                .iter()
                .enumerate()
                .filter(|(index, receipt)| !self.claimed[*index] && in_window(loan, receipt))
                .min_by(|(_, a), (_, b)| {
                    distance(loan, a)
                        .cmp(&distance(loan, b))
                        .then_with(|| a.end_to_end_id.cmp(&b.end_to_end_id))
                })
                .map(|(index, _)| index);
            let result = match closest {
                Some(index) => {
                    self.claimed[index] = true;
                    ExpectedOutcome {
                        loan_id: loan.loan_id.clone(),
                        status: Status::AmountMismatch,
                        end_to_end_id: Some(self.receipts[index].end_to_end_id.clone()),
                        difference: Some(self.receipts[index].amount - loan.amount),
                        candidates: Vec::new(),
                    }
                }
                None => ExpectedOutcome {
                    loan_id: loan.loan_id.clone(),
                    status: if now > loan.deadline {
                        Status::Overdue
                    } else {
                        Status::Pending
                    },
                    end_to_end_id: None,
                    difference: None,
                    candidates: Vec::new(),
                },
            };
            outcome.expected.push(result);
        }
    }

    /// Receipts nobody claimed: from a credit provider, they are unexpected. Candidates of an item
    /// in review are not unexpected: they are being decided.
    fn unexpected(&self, outcome: &mut Outcome) {
        let in_review: Vec<&String> = outcome
            .expected
            .iter()
            .filter(|e| e.status == Status::NeedsReview)
            .flat_map(|e| e.candidates.iter())
            .collect();
        let unexpected: Vec<String> = self
            .receipts
            .iter()
            .enumerate()
            .filter(|(index, receipt)| {
                !self.claimed[*index]
                    && receipt.from_credit_payer
                    && !in_review.contains(&&receipt.end_to_end_id)
            })
            .map(|(_, receipt)| receipt.end_to_end_id.clone())
            .collect();
        outcome.unexpected.extend(unexpected);
    }
}

/// Whether a receipt arrived in a loan's window (from shortly before its disbursement to its
/// deadline).
fn in_window(loan: &Expected, receipt: &Observed) -> bool {
    receipt.received_at >= loan.disbursed_at - SKEW && receipt.received_at <= loan.deadline
}

/// How far a receipt is from a loan's disbursement, either way.
fn distance(loan: &Expected, receipt: &Observed) -> Duration {
    (receipt.received_at - loan.disbursed_at).abs()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn loan(id: &str, document: &str, amount: &str, minutes: i64) -> Expected {
        Expected {
            loan_id: id.into(),
            document: document.into(),
            amount: Decimal::from_str(amount).unwrap(),
            disbursed_at: at(minutes),
            deadline: at(minutes) + Duration::hours(24),
            cancelled: false,
            locked: None,
        }
    }

    fn pix(id: &str, document: &str, amount: &str, minutes: i64) -> Observed {
        Observed {
            end_to_end_id: id.into(),
            document: document.into(),
            amount: Decimal::from_str(amount).unwrap(),
            received_at: at(minutes),
            from_credit_payer: true,
        }
    }

    fn status_of(outcome: &Outcome, loan_id: &str) -> ExpectedOutcome {
        outcome
            .expected
            .iter()
            .find(|e| e.loan_id == loan_id)
            .cloned()
            .unwrap()
    }

    #[test]
    fn the_same_document_and_amount_inside_the_window_matches() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "1000.00", 0)],
            &[pix("E1", "111", "1000.00", 3)],
            at(10),
        );
        let item = status_of(&outcome, "ln_1");
        assert_eq!(item.status, Status::Matched);
        assert_eq!(item.end_to_end_id.as_deref(), Some("E1"));
        assert!(outcome.unexpected.is_empty());
    }

    #[test]
    fn the_closest_receipt_in_time_wins() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "10.00", 0)],
            &[
                pix("E_far", "111", "10.00", 60),
                pix("E_near", "111", "10.00", 5),
            ],
            at(100),
        );
        assert_eq!(
            status_of(&outcome, "ln_1").end_to_end_id.as_deref(),
            Some("E_near")
        );
        assert_eq!(outcome.unexpected, vec!["E_far".to_owned()]);
    }

    #[test]
    fn two_equally_close_receipts_need_review_never_a_guess() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "10.00", 10)],
            &[
                pix("E_a", "111", "10.00", 15),
                pix("E_b", "111", "10.00", 5),
            ],
            at(100),
        );
        let item = status_of(&outcome, "ln_1");
        assert_eq!(item.status, Status::NeedsReview);
        assert_eq!(item.candidates, vec!["E_a".to_owned(), "E_b".to_owned()]);
        assert!(
            outcome.unexpected.is_empty(),
            "candidates under review are not unexpected"
        );
    }

    #[test]
    fn another_amount_for_the_same_document_is_a_mismatch_with_the_difference() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "1000.00", 0)],
            &[pix("E1", "111", "999.99", 3)],
            at(10),
        );
        let item = status_of(&outcome, "ln_1");
        assert_eq!(item.status, Status::AmountMismatch);
        assert_eq!(item.difference, Some(Decimal::from_str("-0.01").unwrap()));
    }

    #[test]
    fn an_expected_receipt_becomes_overdue_after_its_deadline() {
        let expected = [loan("ln_1", "111", "10.00", 0)];
        assert_eq!(
            status_of(&reconcile(&expected, &[], at(60)), "ln_1").status,
            Status::Pending
        );
        assert_eq!(
            status_of(&reconcile(&expected, &[], at(24 * 60 + 1)), "ln_1").status,
            Status::Overdue
        );
    }

    #[test]
    fn a_receipt_outside_the_window_does_not_match() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "10.00", 0)],
            &[pix("E1", "111", "10.00", 25 * 60)],
            at(26 * 60),
        );
        assert_eq!(status_of(&outcome, "ln_1").status, Status::Overdue);
        assert_eq!(outcome.unexpected, vec!["E1".to_owned()]);
    }

    #[test]
    fn only_receipts_from_credit_payers_are_unexpected() {
        let mut other = pix("E_other", "222", "5.00", 0);
        other.from_credit_payer = false;
        let outcome = reconcile(&[], &[pix("E_dinie", "111", "5.00", 0), other], at(10));
        assert_eq!(outcome.unexpected, vec!["E_dinie".to_owned()]);
    }

    #[test]
    fn a_cancelled_loan_expects_nothing_and_frees_its_receipt() {
        let mut cancelled = loan("ln_1", "111", "10.00", 0);
        cancelled.cancelled = true;
        let outcome = reconcile(&[cancelled], &[pix("E1", "111", "10.00", 1)], at(10));
        assert_eq!(status_of(&outcome, "ln_1").status, Status::Cancelled);
        assert_eq!(outcome.unexpected, vec!["E1".to_owned()]);
    }

    #[test]
    fn a_decision_by_finance_is_kept_and_claims_its_receipt() {
        let mut decided = loan("ln_1", "111", "10.00", 0);
        decided.locked = Some(Locked {
            status: Status::Matched,
            end_to_end_id: Some("E_b".into()),
        });
        let outcome = reconcile(
            &[decided, loan("ln_2", "111", "10.00", 0)],
            &[pix("E_a", "111", "10.00", 1), pix("E_b", "111", "10.00", 1)],
            at(10),
        );
        assert_eq!(
            status_of(&outcome, "ln_1").end_to_end_id.as_deref(),
            Some("E_b")
        );
        assert_eq!(
            status_of(&outcome, "ln_2").end_to_end_id.as_deref(),
            Some("E_a")
        );
    }

    #[test]
    fn a_duplicated_receipt_counts_once() {
        let outcome = reconcile(
            &[loan("ln_1", "111", "10.00", 0)],
            &[pix("E1", "111", "10.00", 1), pix("E1", "111", "10.00", 1)],
            at(10),
        );
        assert_eq!(status_of(&outcome, "ln_1").status, Status::Matched);
        assert!(outcome.unexpected.is_empty());
    }

    /// Random facts: a few documents, amounts a cent apart, times spread over two days.
    fn facts() -> impl Strategy<Value = (Vec<Expected>, Vec<Observed>)> {
        let loans = prop::collection::vec((0u8..4, 0u32..4, 0i64..2880, any::<bool>()), 0..12);
        let receipts = prop::collection::vec((0u8..4, 0u32..5, 0i64..2880, any::<bool>()), 0..16);
        (loans, receipts).prop_map(|(loans, receipts)| {
            let expected = loans
                .into_iter()
                .enumerate()
                .map(|(n, (document, cents, minutes, cancelled))| Expected {
                    loan_id: format!("ln_{n}"),
                    document: format!("doc{document}"),
                    amount: Decimal::new(100_000 + i64::from(cents), 2),
                    disbursed_at: at(minutes),
                    deadline: at(minutes) + Duration::hours(24),
                    cancelled: cancelled && n % 3 == 0,
                    locked: None,
                })
                .collect();
            let observed = receipts
                .into_iter()
                .enumerate()
                .map(|(n, (document, cents, minutes, credit))| Observed {
                    end_to_end_id: format!("E{n:03}"),
                    document: format!("doc{document}"),
                    amount: Decimal::new(100_000 + i64::from(cents), 2),
                    received_at: at(minutes),
                    from_credit_payer: credit,
                })
                .collect();
            (expected, observed)
        })
    }

    proptest! {
        #[test]
        fn arrival_order_and_duplicates_do_not_change_the_outcome(
            (expected, observed) in facts(),
            seed in any::<u64>(),
        ) {
            let now = at(3 * 24 * 60);
            let reference = reconcile(&expected, &observed, now);
            // Shuffle deterministically by the seed and duplicate a receipt.
            let mut shuffled_expected = expected.clone();
            let mut shuffled_observed = observed.clone();
            let mut state = seed;
            let mut next = || { state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); state };
            for i in (1..shuffled_expected.len()).rev() {
                let j = usize::try_from(next() % (u64::try_from(i).unwrap() + 1)).unwrap();
                shuffled_expected.swap(i, j);
            }
            for i in (1..shuffled_observed.len()).rev() {
                let j = usize::try_from(next() % (u64::try_from(i).unwrap() + 1)).unwrap();
                shuffled_observed.swap(i, j);
            }
            if let Some(first) = shuffled_observed.first().cloned() {
                shuffled_observed.push(first);
            }
            prop_assert_eq!(reconcile(&shuffled_expected, &shuffled_observed, now), reference);
        }

        #[test]
        fn every_expected_receipt_ends_in_exactly_one_status_and_receipts_are_used_once(
            (expected, observed) in facts(),
        ) {
            let outcome = reconcile(&expected, &observed, at(3 * 24 * 60));
            prop_assert_eq!(outcome.expected.len(), expected.len());
            let mut used: Vec<&String> = outcome.expected.iter().filter_map(|e| e.end_to_end_id.as_ref()).collect();
            used.extend(outcome.unexpected.iter());
            let before = used.len();
            used.sort();
            used.dedup();
            prop_assert_eq!(used.len(), before, "a receipt was used twice");
        }
    }
}
