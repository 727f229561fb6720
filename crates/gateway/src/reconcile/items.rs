//! Reading and resolving reconciliation items; batch runs; the periodic job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use providers::{ProviderName, ReconciliationItemId};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::config::ReconciliationSettings;
use crate::jobs;
use crate::outbox;
use crate::reconcile::live;
use crate::reconcile::matcher::{self, Expected, Observed, Status};
use crate::registry::ProviderRegistry;
pub use crate::store::recon_items::{
    CandidateRow, HistoryRow, ItemFilter, ItemRow, RunRow, SummaryRow, all_in, candidates, get,
    get_run, history, list, summary,
};
use crate::store::{recon_facts, recon_items};

/// What finance decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Accept the item as it stands (e.g. a mismatch explained by a fee).
    Confirm,
    /// Match with this receipt instead.
    Rematch {
        /// The receipt's endToEndId.
        end_to_end_id: String,
    },
    /// Give up on it.
    WriteOff,
}

/// Why a resolution was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No such item.
    #[error("reconciliation item not found")]
    NotFound,
    /// No such receipt, or a receipt of another document.
    #[error("receipt {0} does not exist for this document")]
    UnknownReceipt(String),
    /// Re-matching applies to expected receipts only.
    #[error("only a disbursement can be re-matched")]
    NotADisbursement,
    /// The database failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Recomputes `document` (when there is one) and stores, through the outbox, the events already
/// `emitted` and those the recompute emits, in the caller's transaction.
async fn recompute_and_store(
    connection: &mut PgConnection,
    document: Option<&str>,
    settings: &ReconciliationSettings,
    jetstream: bool,
    mut emitted: Vec<providers::NormalizedEvent>,
) -> Result<(), sqlx::Error> {
    if let Some(document) = document {
        live::recompute(
            &mut *connection,
            document,
            settings,
            Utc::now(),
            &mut emitted,
        )
        .await?;
    }
    outbox::store_own_events(connection, &emitted, jetstream).await
}

/// Learns a borrower's document and (reconciliation enabled) recomputes it, in one transaction: a
/// loan of theirs that arrived before their document gets its item now.
pub async fn learn_customer(
    pool: &PgPool,
    provider: &ProviderName,
    customer_id: &str,
    document: &str,
    source: &str,
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    recon_facts::upsert_customer(&mut transaction, provider, customer_id, document, source).await?;
    if settings.enabled {
        recompute_and_store(
            &mut transaction,
            Some(document),
            settings,
            jetstream,
            Vec::new(),
        )
        .await?;
    }
    transaction.commit().await
}

/// Applies finance's decision, records it with `actor` and `note`, and recomputes the document.
pub async fn resolve(
    pool: &PgPool,
    id: ReconciliationItemId,
    resolution: &Resolution,
    actor: &str,
    note: &str,
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<ItemRow, ResolveError> {
    let mut transaction = pool.begin().await?;
    let item = recon_items::lock_item(&mut transaction, id)
        .await?
        .ok_or(ResolveError::NotFound)?;
    let (status, end_to_end_id, observed) = match resolution {
        Resolution::Confirm => (
            Status::Confirmed,
            item.end_to_end_id.clone(),
            item.observed_amount,
        ),
        Resolution::WriteOff => (
            Status::WrittenOff,
            item.end_to_end_id.clone(),
            item.observed_amount,
        ),
        Resolution::Rematch { end_to_end_id } => {
            if item.kind != "disbursement" {
                return Err(ResolveError::NotADisbursement);
            }
            let amount = recon_items::receipt_amount(
                &mut transaction,
                end_to_end_id,
                item.document.as_deref(),
            )
            .await?;
            let amount =
                amount.ok_or_else(|| ResolveError::UnknownReceipt(end_to_end_id.clone()))?;
            (Status::Matched, Some(end_to_end_id.clone()), Some(amount))
        }
    };
    let difference = match (observed, item.expected_amount) {
        (Some(observed), Some(expected)) => Some(observed - expected),
        _ => None,
    };
    recon_items::decide(
        &mut transaction,
        id,
        &recon_items::Decision {
            status,
            end_to_end_id: end_to_end_id.as_deref(),
            observed,
            difference,
        },
    )
    .await?;
    recon_facts::record_change(
        &mut transaction,
        id.uuid(),
        actor,
        Some(item.status),
        status,
        Some(note),
    )
    .await?;
    let document = item.document.clone().unwrap_or_default();
    let emitted: Vec<_> = live::event_of(
        id.uuid(),
        status,
        &document,
        (item.expected_amount, observed),
    )
    .into_iter()
    .collect();
    let document = (!document.is_empty()).then_some(document.as_str());
    recompute_and_store(&mut transaction, document, settings, jetstream, emitted).await?;
    transaction.commit().await?;
    get(pool, id).await?.ok_or(ResolveError::NotFound)
}

/// Runs the matcher over the facts of a period (disbursements in it, receipts that could match
/// them), stores the result, and compares it with the live items.
pub async fn run_batch(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    settings: &ReconciliationSettings,
) -> Result<RunRow, sqlx::Error> {
    let window = chrono::Duration::seconds(i64::try_from(settings.window_secs).unwrap_or(i64::MAX));
    let mut connection = pool.acquire().await?;
    let expected = disbursements_in(&mut connection, from, to, window).await?;
    let observed =
        receipts_in(&mut connection, from - matcher::SKEW, to + window, settings).await?;
    let outcome = matcher::reconcile(&expected, &observed, Utc::now());

    let amounts: BTreeMap<&str, Decimal> = expected
        .iter()
        .map(|e| (e.loan_id.as_str(), e.amount))
        .collect();
    let receipt_amounts: BTreeMap<&str, Decimal> = observed
        .iter()
        .map(|o| (o.end_to_end_id.as_str(), o.amount))
        .collect();
    let mut summary: BTreeMap<&str, (i64, Decimal)> = BTreeMap::new();
    for item in &outcome.expected {
        let entry = summary.entry(item.status.as_str()).or_default();
        entry.0 += 1;
        entry.1 += amounts
            .get(item.loan_id.as_str())
            .copied()
            .unwrap_or_default();
    }
    for id in &outcome.unexpected {
        let entry = summary
            .entry(Status::UnexpectedReceipt.as_str())
            .or_default();
        entry.0 += 1;
        entry.1 += receipt_amounts
            .get(id.as_str())
            .copied()
            .unwrap_or_default();
    }
    let live = recon_items::live_statuses(
        &mut connection,
        (from, to),
        (from - matcher::SKEW, to + window),
    )
    .await?;
    let live: BTreeMap<(String, String), Status> =
        live.into_iter().map(|(k, key, s)| ((k, key), s)).collect();
    let mut differences = Vec::new();
    for item in &outcome.expected {
        let current = live.get(&("disbursement".to_owned(), item.loan_id.clone()));
        if current != Some(&item.status) {
            let current = current.map(Status::as_str);
            differences.push(serde_json::json!({"loan_id": item.loan_id, "batch": item.status.as_str(), "live": current}));
        }
    }
    for id in &outcome.unexpected {
        let current = live.get(&("receipt".to_owned(), id.clone()));
        if current != Some(&Status::UnexpectedReceipt) {
            let current = current.map(Status::as_str);
            differences.push(serde_json::json!({"end_to_end_id": id, "batch": "unexpected_receipt", "live": current}));
        }
    }
    let summary_json: serde_json::Map<String, serde_json::Value> = summary
        .into_iter()
        .map(|(status, (count, amount))| {
            (
                status.to_owned(),
                serde_json::json!({"count": count, "amount": amount.to_string()}),
            )
        })
        .collect();
    recon_items::insert_run(
        &mut connection,
        (from, to),
        serde_json::Value::Object(summary_json),
        serde_json::Value::Array(differences),
    )
    .await
}

async fn disbursements_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<Vec<Expected>, sqlx::Error> {
    let rows = recon_items::disbursements_in(connection, from, to).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let locked = match (row.locked, row.status) {
                (Some(true), Some(status)) => Some(matcher::Locked {
                    status,
                    end_to_end_id: row.end_to_end_id,
                }),
                _ => None,
            };
            Expected {
                loan_id: row.loan_id,
                document: row.document,
                amount: row.amount,
                disbursed_at: row.disbursed_at,
                deadline: row.disbursed_at + window,
                cancelled: row.cancelled,
                locked,
            }
        })
        .collect())
}

async fn receipts_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    settings: &ReconciliationSettings,
) -> Result<Vec<Observed>, sqlx::Error> {
    let rows = recon_items::receipts_in(connection, from, to).await?;
    Ok(rows
        .into_iter()
        .map(|row| Observed {
            from_credit_payer: live::is_credit_payer(
                settings,
                row.payer_document.as_deref(),
                row.payer_ispb.as_deref(),
            ),
            end_to_end_id: row.end_to_end_id,
            document: row.payee_document,
            amount: row.amount,
            received_at: row.received_at,
        })
        .collect())
}

/// One pass of the periodic job: fetch unknown borrower documents from the credit provider (once
/// per customer), then move expected receipts past their deadline to overdue. Returns how many
/// customers it learnt and documents it recomputed.
pub async fn periodic_pass(
    pool: &PgPool,
    registry: &ProviderRegistry,
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<u64, sqlx::Error> {
    let mut handled = 0;
    let unknown = recon_items::unknown_borrowers(pool, 100).await?;
    for (provider, customer_id) in unknown {
        let (Some(credit), Ok(name)) = (
            registry.credit_provider(&provider),
            ProviderName::parse(&provider),
        ) else {
            continue;
        };
        match credit.get_customer(&customer_id).await {
            Ok(customer) => {
                let document = customer.document.expose().to_owned();
                learn_customer(
                    pool,
                    &name,
                    &customer_id,
                    &document,
                    "fetched",
                    settings,
                    jetstream,
                )
                .await?;
                handled += 1;
            }
            Err(error) => {
                tracing::warn!(error.message = %error, "fetching a borrower's document failed; will retry")
            }
        }
    }
    let due = recon_items::documents_past_deadline(pool).await?;
    for document in due {
        let mut transaction = pool.begin().await?;
        recompute_and_store(
            &mut transaction,
            Some(&document),
            settings,
            jetstream,
            Vec::new(),
        )
        .await?;
        transaction.commit().await?;
        handled += 1;
    }
    Ok(handled)
}

/// Runs [`periodic_pass`] as a fleet job: once per `check_interval_secs` for all replicas, until
/// `shutdown`.
pub async fn worker(
    pool: PgPool,
    registry: Arc<ProviderRegistry>,
    settings: ReconciliationSettings,
    jetstream: bool,
    shutdown: CancellationToken,
) {
    let schedule = jobs::Schedule::every(Duration::from_secs(settings.check_interval_secs.max(1)));
    let passes = pool.clone();
    jobs::run(
        pool,
        jobs::RECONCILIATION_PASS,
        schedule,
        shutdown,
        move || {
            let (pool, registry, settings) = (passes.clone(), registry.clone(), settings.clone());
            async move { periodic_pass(&pool, &registry, &settings, jetstream).await }
        },
    )
    .await;
}
