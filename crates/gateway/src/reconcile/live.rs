//! Live reconciliation: facts from each event, and the items of the affected payee documents
//! recomputed with [`matcher::reconcile`], in the transaction that stores the events (a batch of
//! them under group commit).
//!
//! Recomputing a document takes a transaction-scoped advisory lock on it, and linking a loan to its
//! borrower's document takes the borrower's, so two transactions about one borrower serialize and
//! the second sees the first's facts: concurrent arrivals cannot lose an update. Status changes
//! are recorded in `recon_history` (actor `system`) and emitted as `reconciliation.*` events
//! through the outbox.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use providers::{
    DedupKey, Document, EventData, EventType, Money, NormalizedEvent, ProviderName,
    ReconciliationData, ReconciliationItemId, ResourceKind, ResourceRef,
};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::config::ReconciliationSettings;
use crate::reconcile::matcher::{self, Expected, Locked, Observed, Status};
use crate::store::recon_facts::{
    self as facts_store, CurrentItem, DisbursementItem, LoanFact, LockSpace, ReceiptFact,
    documents_of_borrowers, lock_all, lock_customers, record_change, record_loans, record_receipts,
};

/// Records the facts the events carry and recomputes each document they touch once, after all of
/// them (the outcome never depends on arrival order, so recomputing once per batch is the same as
/// once per event). A batch costs one statement per kind of fact plus one recompute per document;
/// documents are locked in sorted order, so concurrent batches cannot deadlock on them.
pub async fn on_events(
    connection: &mut PgConnection,
    events: &[(&ProviderName, &NormalizedEvent)],
    settings: &ReconciliationSettings,
) -> Result<Vec<NormalizedEvent>, sqlx::Error> {
    let mut documents: BTreeSet<String> = BTreeSet::new();
    let mut customers: Vec<(&ProviderName, String, String)> = Vec::new();
    let mut loans: Vec<LoanFact> = Vec::new();
    let mut loan_index: HashMap<(String, String), usize> = HashMap::new();
    let mut receipts: Vec<ReceiptFact> = Vec::new();
    let mut receipt_ids: HashSet<String> = HashSet::new();
    // Payee documents of the receipts, and whether any of their receipts is from a credit payer.
    let mut receipt_documents: BTreeMap<String, bool> = BTreeMap::new();
    for &(provider, event) in events {
        match &event.event_type {
            EventType::CustomerCreated
            | EventType::CustomerUnderReview
            | EventType::CustomerKycUpdated
            | EventType::CustomerActive
            | EventType::CustomerDenied => {
                if let Some((customer_id, document)) = customer_fact(event) {
                    documents.insert(document.clone());
                    customers.push((provider, customer_id, document));
                }
            }
            EventType::LoanCreated
            | EventType::LoanContractGenerated
            | EventType::LoanAwaitingSignatures
            | EventType::LoanSigned
            | EventType::LoanDisbursing
            | EventType::LoanActive
            | EventType::LoanPaymentReceived
            | EventType::LoanFinished
            | EventType::LoanCancelled
            | EventType::LoanError => {
                let fact = loan_fact(provider, event);
                let key = (fact.provider.clone(), fact.loan_id.clone());
                match loan_index.get(&key) {
                    Some(&index) => loans[index].merge(fact),
                    None => {
                        loan_index.insert(key, loans.len());
                        loans.push(fact);
                    }
                }
            }
            EventType::PixReceived => {
                let Some(receipt) = receipt_fact(event) else {
                    continue;
                };
                // The first report of a receipt wins, as `on conflict do nothing` does across batches.
                if !receipt_ids.insert(receipt.end_to_end_id.clone()) {
                    continue;
                }
                if let Some(document) = &receipt.payee_document {
                    let from_credit_payer = is_credit_payer(
                        settings,
                        receipt.payer_document.as_deref(),
                        receipt.payer_ispb.as_deref(),
                    );
                    *receipt_documents.entry(document.clone()).or_default() |= from_credit_payer;
                }
                receipts.push(receipt);
            }
            _ => {}
        }
    }
    // Locks in one global order: loan rows, then borrowers (all of the batch's at once, sorted),
    // then receipt rows, then documents; concurrent batches therefore cannot deadlock.
    // The loans' borrowers as recorded (this batch's customer ids merged with known ones).
    let loan_borrowers = record_loans(&mut *connection, &loans).await?;
    let borrowers = loan_borrowers.iter().cloned().chain(
        customers
            .iter()
            .map(|(provider, customer_id, _)| (provider.to_string(), customer_id.clone())),
    );
    lock_customers(&mut *connection, borrowers.collect()).await?;
    for (provider, customer_id, document) in &customers {
        facts_store::upsert_customer(&mut *connection, provider, customer_id, document, "event")
            .await?;
    }
    documents.extend(documents_of_borrowers(&mut *connection, &loan_borrowers).await?);
    record_receipts(&mut *connection, &receipts).await?;
    documents
        .extend(documents_receipts_concern(&mut *connection, &documents, receipt_documents).await?);
    let mut emitted = Vec::new();
    for document in documents {
        recompute(
            &mut *connection,
            &document,
            settings,
            Utc::now(),
            &mut emitted,
        )
        .await?;
    }
    Ok(emitted)
}

/// A customer event's borrower: their customer id and (valid, whole) document, if it carries one.
fn customer_fact(event: &NormalizedEvent) -> Option<(String, String)> {
    let document = event.data.document()?.expose().to_owned();
    let customer_id = event
        .data
        .customer_id()
        .map_or_else(|| event.resource.id.clone(), str::to_owned);
    Some((customer_id, document))
}

/// When the event happened; an event with no time of its own is stored with its time of receipt,
/// which is now, in the transaction that stores it.
fn occurred_at(event: &NormalizedEvent) -> DateTime<Utc> {
    event.occurred_at.unwrap_or_else(Utc::now)
}

/// What a loan event says about its loan.
fn loan_fact(provider: &ProviderName, event: &NormalizedEvent) -> LoanFact {
    let disbursed = matches!(
        event.event_type,
        EventType::LoanDisbursing | EventType::LoanActive
    );
    LoanFact {
        provider: provider.to_string(),
        loan_id: event
            .data
            .loan_id()
            .map_or_else(|| event.resource.id.clone(), str::to_owned),
        customer_id: event.data.customer_id().map(str::to_owned),
        requested_amount: event.data.requested_amount().map(|money| money.amount()),
        net_amount: event.data.net_amount().map(|money| money.amount()),
        disbursed_at: disbursed.then(|| occurred_at(event)),
        cancelled: event.event_type == EventType::LoanCancelled,
    }
}

/// The account a Pix was received into, as the receipt keeps it.
#[derive(serde::Serialize)]
struct PayeeAccount<'a> {
    branch: Option<&'a str>,
    account: Option<&'a str>,
    ispb: Option<&'a str>,
}

/// What a received Pix says, as reconciliation keeps it; `None` without an amount.
fn receipt_fact(event: &NormalizedEvent) -> Option<ReceiptFact> {
    let amount = event.data.amount()?.amount();
    let payee = event.data.payee();
    let payer = event.data.payer();
    let party_document = |party: Option<&providers::EventParty>| {
        party
            .and_then(providers::EventParty::valid_document)
            .map(|document| document.expose().to_owned())
    };
    let payee_account = PayeeAccount {
        branch: payee.and_then(|p| p.branch.as_deref()),
        account: payee.and_then(|p| p.account.as_deref()),
        ispb: payee.and_then(|p| p.ispb.as_deref()),
    };
    Some(ReceiptFact {
        end_to_end_id: event
            .data
            .end_to_end_id()
            .map_or_else(|| event.resource.id.clone(), str::to_owned),
        payee_document: party_document(payee),
        payee_account: serde_json::to_value(payee_account).unwrap_or_default(),
        amount,
        payer_document: party_document(payer),
        payer_ispb: payer.and_then(|p| p.ispb.clone()),
        payer_name: payer.and_then(|p| p.name.clone()),
        received_at: occurred_at(event),
    })
}

/// The receipts' payee documents that reconciliation must recompute: a receipt from a credit payer
/// always counts; any other receipt only where the document is a borrower's or already has items.
/// Most Pix received by a banking provider's accounts are neither, and recomputing their documents
/// would change nothing. Every document lock of the batch (`already`, recomputed anyway, and these)
/// is taken first, in sorted order: a borrower learned concurrently either committed before this
/// check or recomputes after this batch commits, so no receipt is missed.
async fn documents_receipts_concern(
    connection: &mut PgConnection,
    already: &BTreeSet<String>,
    receipt_documents: BTreeMap<String, bool>,
) -> Result<Vec<String>, sqlx::Error> {
    if receipt_documents.is_empty() {
        return Ok(Vec::new());
    }
    let mut concerned = Vec::new();
    let mut unsure = Vec::new();
    for (document, from_credit_payer) in receipt_documents {
        if from_credit_payer {
            concerned.push(document);
        } else if !already.contains(&document) {
            unsure.push(document);
        }
    }
    if unsure.is_empty() {
        return Ok(concerned);
    }
    let all = already.iter().chain(&concerned).chain(&unsure).cloned();
    lock_all(&mut *connection, LockSpace::Document, all.collect()).await?;
    let borrowers = facts_store::known_documents(&mut *connection, &unsure).await?;
    concerned.extend(borrowers);
    Ok(concerned)
}

/// The facts of one document, as the matcher takes them.
async fn facts(
    connection: &mut PgConnection,
    document: &str,
    settings: &ReconciliationSettings,
) -> Result<(Vec<Expected>, Vec<Observed>), sqlx::Error> {
    let window = Duration::seconds(i64::try_from(settings.window_secs).unwrap_or(i64::MAX));
    let loans = facts_store::loans_of_document(&mut *connection, document).await?;
    let expected = loans
        .into_iter()
        .filter_map(|loan| {
            let disbursed_at = loan.disbursed_at?;
            let locked = match (loan.locked, loan.status) {
                (Some(true), Some(status)) => Some(Locked {
                    status,
                    end_to_end_id: loan.end_to_end_id,
                }),
                _ => None,
            };
            Some(Expected {
                loan_id: loan.loan_id,
                document: document.to_owned(),
                amount: loan.amount?,
                disbursed_at,
                deadline: disbursed_at + window,
                cancelled: loan.cancelled,
                locked,
            })
        })
        .collect();
    let receipts = facts_store::receipts_of_document(&mut *connection, document).await?;
    let observed = receipts
        .into_iter()
        .map(|receipt| Observed {
            from_credit_payer: is_credit_payer(
                settings,
                receipt.payer_document.as_deref(),
                receipt.payer_ispb.as_deref(),
            ),
            end_to_end_id: receipt.end_to_end_id,
            document: document.to_owned(),
            amount: receipt.amount,
            received_at: receipt.received_at,
        })
        .collect();
    Ok((expected, observed))
}

/// Whether a payer is one of the configured credit-provider payers.
pub fn is_credit_payer(
    settings: &ReconciliationSettings,
    document: Option<&str>,
    ispb: Option<&str>,
) -> bool {
    let by_document = document.is_some_and(|document| {
        settings.credit_payer_documents.iter().any(|configured| {
            Document::parse(configured)
                .map(|parsed| parsed.expose() == document)
                .unwrap_or(false)
        })
    });
    let by_ispb = ispb.is_some_and(|ispb| {
        settings
            .credit_payer_ispbs
            .iter()
            .any(|configured| configured == ispb)
    });
    by_document || by_ispb
}

/// Recomputes the items of one payee document from its facts, under an advisory lock.
pub async fn recompute(
    connection: &mut PgConnection,
    document: &str,
    settings: &ReconciliationSettings,
    now: DateTime<Utc>,
    emitted: &mut Vec<NormalizedEvent>,
) -> Result<(), sqlx::Error> {
    lock_all(
        &mut *connection,
        LockSpace::Document,
        vec![document.to_owned()],
    )
    .await?;
    let (expected, observed) = facts(&mut *connection, document, settings).await?;
    let outcome = matcher::reconcile(&expected, &observed, now);
    let current = facts_store::items_of_document(&mut *connection, document).await?;
    let current: HashMap<(String, String), CurrentItem> = current
        .into_iter()
        .map(|item| ((item.kind.clone(), item.item_key.clone()), item))
        .collect();
    let expected_by_loan: HashMap<&str, &Expected> =
        expected.iter().map(|e| (e.loan_id.as_str(), e)).collect();
    let observed_by_id: HashMap<&str, &Observed> = observed
        .iter()
        .map(|o| (o.end_to_end_id.as_str(), o))
        .collect();

    let current = Current {
        items: current,
        observed_by_id,
        document,
    };
    current
        .write_disbursements(&mut *connection, &outcome, &expected_by_loan, emitted)
        .await?;
    current
        .write_unexpected(&mut *connection, &outcome, emitted)
        .await?;
    let stale: Vec<uuid::Uuid> = current
        .items
        .values()
        .filter(|item| {
            item.kind == "receipt" && !item.locked && !outcome.unexpected.contains(&item.item_key)
        })
        .map(|item| item.item_id)
        .collect();
    facts_store::delete_items(&mut *connection, &stale).await
}

/// What a recompute compares the matcher's outcome with: the document's current items and its
/// receipts by endToEndId.
struct Current<'a> {
    items: HashMap<(String, String), CurrentItem>,
    observed_by_id: HashMap<&'a str, &'a Observed>,
    document: &'a str,
}

impl Current<'_> {
    /// Disbursement items whose outcome changed are written, with their history and event.
    async fn write_disbursements(
        &self,
        connection: &mut PgConnection,
        outcome: &matcher::Outcome,
        expected_by_loan: &HashMap<&str, &Expected>,
        emitted: &mut Vec<NormalizedEvent>,
    ) -> Result<(), sqlx::Error> {
        let (current, observed_by_id, document) =
            (&self.items, &self.observed_by_id, self.document);
        for item in &outcome.expected {
            let Some(loan) = expected_by_loan.get(item.loan_id.as_str()) else {
                continue;
            };
            let receipt = item
                .end_to_end_id
                .as_deref()
                .and_then(|id| observed_by_id.get(id));
            let previous = current.get(&("disbursement".to_owned(), item.loan_id.clone()));
            // Finance's decisions are final here: only a new decision changes a locked item.
            let unchanged = previous.is_some_and(|p| {
                p.locked
                    || (p.status == item.status
                        && p.end_to_end_id == item.end_to_end_id
                        && p.difference == item.difference
                        && p.candidates == item.candidates)
            });
            if unchanged {
                continue;
            }
            let item_id =
                previous.map_or_else(|| ReconciliationItemId::new().uuid(), |p| p.item_id);
            facts_store::upsert_disbursement_item(
                &mut *connection,
                &DisbursementItem {
                    item_id,
                    loan_id: &item.loan_id,
                    status: item.status,
                    document,
                    end_to_end_id: item.end_to_end_id.as_deref(),
                    expected_amount: loan.amount,
                    observed_amount: receipt.map(|r| r.amount),
                    difference: item.difference,
                    disbursed_at: loan.disbursed_at,
                    received_at: receipt.map(|r| r.received_at),
                    deadline: loan.deadline,
                    candidates: &item.candidates,
                },
            )
            .await?;
            let from = previous.map(|p| p.status);
            record_change(&mut *connection, item_id, "system", from, item.status, None).await?;
            let amounts = (Some(loan.amount), receipt.map(|r| r.amount));
            emitted.extend(event_of(item_id, item.status, document, amounts));
        }
        Ok(())
    }

    /// Receipt items: the unexpected ones that are new.
    async fn write_unexpected(
        &self,
        connection: &mut PgConnection,
        outcome: &matcher::Outcome,
        emitted: &mut Vec<NormalizedEvent>,
    ) -> Result<(), sqlx::Error> {
        let (current, observed_by_id, document) =
            (&self.items, &self.observed_by_id, self.document);
        // Receipt items: the unexpected ones now, and unlocked ones that are no longer unexpected go.
        for end_to_end_id in &outcome.unexpected {
            if current.contains_key(&("receipt".to_owned(), end_to_end_id.clone())) {
                continue;
            }
            let Some(receipt) = observed_by_id.get(end_to_end_id.as_str()) else {
                continue;
            };
            let item_id = ReconciliationItemId::new().uuid();
            facts_store::insert_unexpected_receipt(
                &mut *connection,
                item_id,
                end_to_end_id,
                document,
                receipt.amount,
                receipt.received_at,
            )
            .await?;
            record_change(
                &mut *connection,
                item_id,
                "system",
                None,
                Status::UnexpectedReceipt,
                None,
            )
            .await?;
            let amounts = (None, Some(receipt.amount));
            emitted.extend(event_of(
                item_id,
                Status::UnexpectedReceipt,
                document,
                amounts,
            ));
        }
        Ok(())
    }
}

/// The `reconciliation.<status>` event for an item that reached `status`, for statuses worth
/// telling partners about; the caller stores it through the outbox.
pub fn event_of(
    item_id: uuid::Uuid,
    status: Status,
    document: &str,
    (expected, observed): (Option<Decimal>, Option<Decimal>),
) -> Option<NormalizedEvent> {
    let event_type = match status {
        Status::Matched => EventType::ReconciliationMatched,
        Status::AmountMismatch => EventType::ReconciliationAmountMismatch,
        Status::Overdue => EventType::ReconciliationOverdue,
        Status::NeedsReview => EventType::ReconciliationNeedsReview,
        Status::UnexpectedReceipt => EventType::ReconciliationUnexpectedReceipt,
        Status::Confirmed | Status::WrittenOff => EventType::ReconciliationResolved,
        Status::Pending | Status::Cancelled => return None,
    };
    let id = ReconciliationItemId::from_uuid(item_id).to_string();
    let Ok(dedup_key) = DedupKey::parse(&format!(
        "{}:{id}:{}",
        event_type,
        uuid::Uuid::now_v7().simple()
    )) else {
        return None;
    };
    let data = EventData::Reconciliation(ReconciliationData {
        document: document_masked(document),
        expected_amount: expected.map(Money::brl),
        item_id: ReconciliationItemId::from_uuid(item_id),
        observed_amount: observed.map(Money::brl),
        status: status.into(),
    });
    let event = NormalizedEvent {
        event_type,
        provider_event_type: format!("reconciliation.{}", status.as_str()),
        dedup_key,
        resource: ResourceRef {
            kind: ResourceKind::ReconciliationItem,
            id,
            correlation_id: None,
        },
        occurred_at: Some(Utc::now()),
        data,
    };
    Some(event)
}

/// The masked form of a bare document, for events and logs.
pub fn document_masked(document: &str) -> String {
    Document::parse(document).map_or_else(|_| "***".to_owned(), |parsed| parsed.masked())
}
