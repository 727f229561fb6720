//! Reading and resolving reconciliation items; batch runs; the periodic job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use providers::{ProviderName, ReconciliationItemId};
use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::config::ReconciliationSettings;
use crate::outbox;
use crate::reconcile::live;
use crate::reconcile::matcher::{self, Expected, Observed, Status};
use crate::registry::ProviderRegistry;
use crate::store::Page;

/// An item as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    /// Uuid of the `rcn_` id.
    pub item_id: uuid::Uuid,
    /// `disbursement` or `receipt`.
    pub kind: String,
    /// Status.
    pub status: String,
    /// The payee's document (bare).
    pub document: Option<String>,
    /// The loan.
    pub loan_id: Option<String>,
    /// The borrower at the credit provider.
    pub customer_id: Option<String>,
    /// The receipt it is matched with, or the receipt itself.
    pub end_to_end_id: Option<String>,
    /// What should arrive.
    pub expected_amount: Option<Decimal>,
    /// What arrived.
    pub observed_amount: Option<Decimal>,
    /// Observed − expected.
    pub difference: Option<Decimal>,
    /// Disbursement time.
    pub disbursed_at: Option<DateTime<Utc>>,
    /// Receipt time.
    pub received_at: Option<DateTime<Utc>>,
    /// When it becomes overdue.
    pub deadline: Option<DateTime<Utc>>,
    /// Tied candidates.
    pub candidates: Vec<String>,
    /// Decided by finance.
    pub locked: bool,
    /// Disbursement or receipt time.
    pub occurred_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ItemRow {
    /// The typed id.
    pub fn id(&self) -> ReconciliationItemId {
        ReconciliationItemId::from_uuid(self.item_id)
    }

    /// The amount the item stands for: expected for disbursements, observed for receipts.
    pub fn amount(&self) -> Decimal {
        self.expected_amount
            .or(self.observed_amount)
            .unwrap_or_default()
    }
}

const COLUMNS: &str = "item_id, kind, status, document, loan_id, customer_id, end_to_end_id, expected_amount,
    observed_amount, difference, disbursed_at, received_at, deadline, candidates, locked, occurred_at, updated_at";

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Status.
    pub status: Option<Status>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// Payee document (bare).
    pub document: Option<String>,
}

/// Items, newest first.
pub async fn list(
    pool: &PgPool,
    filter: &ItemFilter,
    starting_after: Option<ReconciliationItemId>,
    limit: u32,
) -> Result<Page<ItemRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from recon_item
         where ($1::text is null or status = $1) and ($2::timestamptz is null or occurred_at >= $2)
           and ($3::timestamptz is null or occurred_at < $3) and ($4::text is null or document = $4)
           and ($5::uuid is null or item_id < $5)
         order by item_id desc limit $6"
    );
    let mut rows: Vec<ItemRow> = sqlx::query_as(&query)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.from)
        .bind(filter.to)
        .bind(&filter.document)
        .bind(starting_after.map(|id| id.uuid()))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(Page::from_overfetch(&mut rows, limit))
}

/// Every item of a period, oldest first (for the CSV report).
pub async fn all_in(
    pool: &PgPool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from recon_item
         where ($1::timestamptz is null or occurred_at >= $1) and ($2::timestamptz is null or occurred_at < $2)
         order by occurred_at, item_id"
    );
    sqlx::query_as(&query)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
}

/// One item.
pub async fn get(pool: &PgPool, id: ReconciliationItemId) -> Result<Option<ItemRow>, sqlx::Error> {
    let query = format!("select {COLUMNS} from recon_item where item_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// A history entry.
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: `system` or the API key's name.
    pub actor: String,
    /// From status.
    pub from_status: Option<String>,
    /// To status.
    pub to_status: String,
    /// The note.
    pub note: Option<String>,
}

/// An item's history, oldest first.
pub async fn history(
    pool: &PgPool,
    id: ReconciliationItemId,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "select at, actor, from_status, to_status, note from recon_history where item_id = $1 order by at, history_id",
    )
    .bind(id.uuid())
    .fetch_all(pool)
    .await
}

/// A receipt that could match an item.
#[derive(Debug, Clone, FromRow)]
pub struct CandidateRow {
    /// endToEndId.
    pub end_to_end_id: String,
    /// Amount.
    pub amount: Decimal,
    /// When.
    pub received_at: DateTime<Utc>,
    /// Payer's document.
    pub payer_document: Option<String>,
    /// Payer's ISPB.
    pub payer_ispb: Option<String>,
}

/// Receipts for the item's document inside its window (or its tied candidates).
pub async fn candidates(pool: &PgPool, item: &ItemRow) -> Result<Vec<CandidateRow>, sqlx::Error> {
    sqlx::query_as(
        "select end_to_end_id, amount, received_at, payer_document, payer_ispb from recon_receipt
         where (payee_document = $1 and ($2::timestamptz is null or received_at >= $2 - interval '5 minutes')
                and ($3::timestamptz is null or received_at <= $3))
            or end_to_end_id = any($4)
         order by received_at limit 50",
    )
    .bind(&item.document)
    .bind(item.disbursed_at)
    .bind(item.deadline)
    .bind(&item.candidates)
    .fetch_all(pool)
    .await
}

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
    live::remember_customer(&mut transaction, provider, customer_id, document, source).await?;
    if settings.enabled {
        let mut emitted = Vec::new();
        live::recompute(
            &mut transaction,
            document,
            settings,
            Utc::now(),
            &mut emitted,
        )
        .await?;
        outbox::store_own_events(&mut transaction, &emitted, jetstream).await?;
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
    let item: ItemRow = sqlx::query_as(&format!(
        "select {COLUMNS} from recon_item where item_id = $1 for update"
    ))
    .bind(id.uuid())
    .fetch_optional(&mut *transaction)
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
            let amount: Option<Decimal> = sqlx::query_scalar(
                "select amount from recon_receipt where end_to_end_id = $1 and payee_document = $2",
            )
            .bind(end_to_end_id)
            .bind(&item.document)
            .fetch_optional(&mut *transaction)
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
    sqlx::query(
        "update recon_item set status = $2, end_to_end_id = $3, observed_amount = $4, difference = $5, locked = true,
                candidates = '{}', updated_at = now()
         where item_id = $1",
    )
    .bind(id.uuid())
    .bind(status.as_str())
    .bind(&end_to_end_id)
    .bind(observed)
    .bind(difference)
    .execute(&mut *transaction)
    .await?;
    live::record_change(
        &mut transaction,
        id.uuid(),
        actor,
        Some(&item.status),
        status,
        Some(note),
    )
    .await?;
    let document = item.document.clone().unwrap_or_default();
    let mut emitted: Vec<_> = live::event_of(
        id.uuid(),
        status,
        &document,
        (item.expected_amount, observed),
    )
    .into_iter()
    .collect();
    if !document.is_empty() {
        live::recompute(
            &mut transaction,
            &document,
            settings,
            Utc::now(),
            &mut emitted,
        )
        .await?;
    }
    outbox::store_own_events(&mut transaction, &emitted, jetstream).await?;
    transaction.commit().await?;
    get(pool, id).await?.ok_or(ResolveError::NotFound)
}

/// Counts and sums of one status (and day).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SummaryRow {
    /// The day (UTC), when grouped by day.
    pub day: Option<NaiveDate>,
    /// Status.
    pub status: String,
    /// Items.
    pub count: i64,
    /// Sum of their amounts (expected for disbursements, observed for receipts), exact.
    pub amount: Decimal,
}

/// Counts and sums per status, and per day and status, over a period.
pub async fn summary(
    pool: &PgPool,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(Vec<SummaryRow>, Vec<SummaryRow>), sqlx::Error> {
    let per_status: Vec<SummaryRow> = sqlx::query_as(
        "select null::date as day, status, count(*) as count,
                coalesce(sum(coalesce(expected_amount, observed_amount)), 0) as amount
         from recon_item
         where ($1::timestamptz is null or occurred_at >= $1) and ($2::timestamptz is null or occurred_at < $2)
         group by status order by status",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let per_day: Vec<SummaryRow> = sqlx::query_as(
        "select (occurred_at at time zone 'UTC')::date as day, status, count(*) as count,
                coalesce(sum(coalesce(expected_amount, observed_amount)), 0) as amount
         from recon_item
         where ($1::timestamptz is null or occurred_at >= $1) and ($2::timestamptz is null or occurred_at < $2)
         group by 1, 2 order by 1, 2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok((per_status, per_day))
}

/// A stored batch run.
#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    /// Run id.
    pub run_id: uuid::Uuid,
    /// Period start.
    pub period_from: DateTime<Utc>,
    /// Period end.
    pub period_to: DateTime<Utc>,
    /// When it ran.
    pub created_at: DateTime<Utc>,
    /// `{status: {count, amount}}`.
    pub summary: serde_json::Value,
    /// `[{item, loan_id|end_to_end_id, batch, live}]` where they disagree.
    pub differences: serde_json::Value,
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
    let live: Vec<(String, String, String)> = sqlx::query_as(
        "select kind, item_key, status from recon_item
         where (kind = 'disbursement' and disbursed_at >= $1 and disbursed_at < $2)
            or (kind = 'receipt' and received_at >= $3 and received_at <= $4)",
    )
    .bind(from)
    .bind(to)
    .bind(from - matcher::SKEW)
    .bind(to + window)
    .fetch_all(&mut *connection)
    .await?;
    let live: BTreeMap<(String, String), String> =
        live.into_iter().map(|(k, key, s)| ((k, key), s)).collect();
    let mut differences = Vec::new();
    for item in &outcome.expected {
        let current = live.get(&("disbursement".to_owned(), item.loan_id.clone()));
        if current.map(String::as_str) != Some(item.status.as_str()) {
            differences.push(serde_json::json!({"loan_id": item.loan_id, "batch": item.status.as_str(), "live": current}));
        }
    }
    for id in &outcome.unexpected {
        let current = live.get(&("receipt".to_owned(), id.clone()));
        if current.map(String::as_str) != Some(Status::UnexpectedReceipt.as_str()) {
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
    let row: RunRow = sqlx::query_as(
        "insert into recon_run (run_id, period_from, period_to, summary, differences) values ($1, $2, $3, $4, $5)
         returning run_id, period_from, period_to, created_at, summary, differences",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(from)
    .bind(to)
    .bind(serde_json::Value::Object(summary_json))
    .bind(serde_json::Value::Array(differences))
    .fetch_one(&mut *connection)
    .await?;
    Ok(row)
}

async fn disbursements_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<Vec<Expected>, sqlx::Error> {
    let rows: Vec<BatchLoan> = sqlx::query_as(
        "select d.loan_id, c.document, coalesce(d.net_amount, d.requested_amount) as amount, d.disbursed_at,
                d.cancelled, i.locked, i.status, i.end_to_end_id
         from recon_disbursement d
         join credit_customer c on c.provider = d.provider and c.customer_id = d.customer_id
         left join recon_item i on i.kind = 'disbursement' and i.item_key = d.loan_id
         where d.disbursed_at >= $1 and d.disbursed_at < $2
           and coalesce(d.net_amount, d.requested_amount) is not null",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let locked = match (row.locked, row.status.as_deref().map(str::parse::<Status>)) {
                (Some(true), Some(Ok(status))) => Some(matcher::Locked {
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

#[derive(FromRow)]
struct BatchLoan {
    loan_id: String,
    document: String,
    amount: Decimal,
    disbursed_at: DateTime<Utc>,
    cancelled: bool,
    locked: Option<bool>,
    status: Option<String>,
    end_to_end_id: Option<String>,
}

async fn receipts_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    settings: &ReconciliationSettings,
) -> Result<Vec<Observed>, sqlx::Error> {
    let rows: Vec<ReceiptFact> = sqlx::query_as(
        "select end_to_end_id, payee_document, amount, received_at, payer_document, payer_ispb from recon_receipt
         where payee_document is not null and received_at >= $1 and received_at <= $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await?;
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

#[derive(FromRow)]
struct ReceiptFact {
    end_to_end_id: String,
    payee_document: String,
    amount: Decimal,
    received_at: DateTime<Utc>,
    payer_document: Option<String>,
    payer_ispb: Option<String>,
}

/// One stored run.
pub async fn get_run(pool: &PgPool, id: uuid::Uuid) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as("select run_id, period_from, period_to, created_at, summary, differences from recon_run where run_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One pass of the periodic job: fetch unknown borrower documents from the credit provider (once
/// per customer), then move expected receipts past their deadline to overdue.
pub async fn periodic_pass(
    pool: &PgPool,
    registry: &ProviderRegistry,
    settings: &ReconciliationSettings,
    jetstream: bool,
) -> Result<(), sqlx::Error> {
    let unknown: Vec<(String, String)> = sqlx::query_as(
        "select distinct d.provider, d.customer_id from recon_disbursement d
         left join credit_customer c on c.provider = d.provider and c.customer_id = d.customer_id
         where d.customer_id is not null and c.customer_id is null and d.disbursed_at is not null
         limit 100",
    )
    .fetch_all(pool)
    .await?;
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
            }
            Err(error) => {
                tracing::warn!(error.message = %error, "fetching a borrower's document failed; will retry")
            }
        }
    }
    let due: Vec<String> = sqlx::query_scalar(
        "select distinct document from recon_item where status = 'pending' and deadline < now() and document is not null",
    )
    .fetch_all(pool)
    .await?;
    for document in due {
        let mut transaction = pool.begin().await?;
        let mut emitted = Vec::new();
        live::recompute(
            &mut transaction,
            &document,
            settings,
            Utc::now(),
            &mut emitted,
        )
        .await?;
        outbox::store_own_events(&mut transaction, &emitted, jetstream).await?;
        transaction.commit().await?;
    }
    Ok(())
}

/// Runs [`periodic_pass`] every `check_interval_secs` until `shutdown`.
pub async fn worker(
    pool: PgPool,
    registry: Arc<ProviderRegistry>,
    settings: ReconciliationSettings,
    jetstream: bool,
    shutdown: CancellationToken,
) {
    let interval = Duration::from_secs(settings.check_interval_secs.max(1));
    while !shutdown.is_cancelled() {
        if let Err(error) = periodic_pass(&pool, &registry, &settings, jetstream).await {
            tracing::warn!(error.message = %error, "reconciliation pass failed; will retry");
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
}
