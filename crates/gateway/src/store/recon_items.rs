//! Reconciliation items as finance reads and decides them: listing, history, candidates,
//! summaries, decisions, batch runs and the periodic job's queries.

use chrono::{DateTime, NaiveDate, Utc};
use providers::ReconciliationItemId;
use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection, PgPool};

use crate::store::Page;

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ItemStatus {
    /// Expected, not seen yet, deadline ahead.
    Pending,
    /// Seen with the exact amount.
    Matched,
    /// Seen with another amount.
    AmountMismatch,
    /// Not seen by the deadline.
    Overdue,
    /// Two equally good candidates.
    NeedsReview,
    /// Money from a credit provider with no disbursement.
    UnexpectedReceipt,
    /// The loan was cancelled before disbursement.
    Cancelled,
    /// Finance accepted it as it is.
    Confirmed,
    /// Finance wrote it off.
    WrittenOff,
}

impl ItemStatus {
    /// Every status.
    pub const ALL: [ItemStatus; 9] = [
        ItemStatus::Pending,
        ItemStatus::Matched,
        ItemStatus::AmountMismatch,
        ItemStatus::Overdue,
        ItemStatus::NeedsReview,
        ItemStatus::UnexpectedReceipt,
        ItemStatus::Cancelled,
        ItemStatus::Confirmed,
        ItemStatus::WrittenOff,
    ];

    /// The stored and shown name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Matched => "matched",
            ItemStatus::AmountMismatch => "amount_mismatch",
            ItemStatus::Overdue => "overdue",
            ItemStatus::NeedsReview => "needs_review",
            ItemStatus::UnexpectedReceipt => "unexpected_receipt",
            ItemStatus::Cancelled => "cancelled",
            ItemStatus::Confirmed => "confirmed",
            ItemStatus::WrittenOff => "written_off",
        }
    }
}

impl std::str::FromStr for ItemStatus {
    type Err = String;

    fn from_str(input: &str) -> Result<ItemStatus, String> {
        ItemStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == input)
            .ok_or_else(|| format!("unknown reconciliation status `{input}`"))
    }
}

impl From<ItemStatus> for providers::ReconciliationStatus {
    fn from(status: ItemStatus) -> providers::ReconciliationStatus {
        use providers::ReconciliationStatus as Event;
        match status {
            ItemStatus::Pending => Event::Pending,
            ItemStatus::Matched => Event::Matched,
            ItemStatus::AmountMismatch => Event::AmountMismatch,
            ItemStatus::Overdue => Event::Overdue,
            ItemStatus::NeedsReview => Event::NeedsReview,
            ItemStatus::UnexpectedReceipt => Event::UnexpectedReceipt,
            ItemStatus::Cancelled => Event::Cancelled,
            ItemStatus::Confirmed => Event::Confirmed,
            ItemStatus::WrittenOff => Event::WrittenOff,
        }
    }
}

use ItemStatus as Status;

/// An item as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    /// Uuid of the `rcn_` id.
    pub item_id: uuid::Uuid,
    /// `disbursement` or `receipt`.
    pub kind: String,
    /// Status.
    pub status: Status,
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
    pub from_status: Option<Status>,
    /// To status.
    pub to_status: Status,
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

/// One stored run.
pub async fn get_run(pool: &PgPool, id: uuid::Uuid) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as("select run_id, period_from, period_to, created_at, summary, differences from recon_run where run_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, FromRow)]
pub struct BatchLoan {
    pub loan_id: String,
    pub document: String,
    pub amount: Decimal,
    pub disbursed_at: DateTime<Utc>,
    pub cancelled: bool,
    pub locked: Option<bool>,
    pub status: Option<Status>,
    pub end_to_end_id: Option<String>,
}

#[derive(Debug, FromRow)]
pub struct BatchReceipt {
    pub end_to_end_id: String,
    pub payee_document: String,
    pub amount: Decimal,
    pub received_at: DateTime<Utc>,
    pub payer_document: Option<String>,
    pub payer_ispb: Option<String>,
}

/// Locks an item for the caller's transaction.
pub async fn lock_item(
    connection: &mut PgConnection,
    id: ReconciliationItemId,
) -> Result<Option<ItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from recon_item where item_id = $1 for update"
    ))
    .bind(id.uuid())
    .fetch_optional(connection)
    .await
}

/// The amount of a receipt to `document`, if there is one.
pub async fn receipt_amount(
    connection: &mut PgConnection,
    end_to_end_id: &str,
    document: Option<&str>,
) -> Result<Option<Decimal>, sqlx::Error> {
    sqlx::query_scalar(
        "select amount from recon_receipt where end_to_end_id = $1 and payee_document = $2",
    )
    .bind(end_to_end_id)
    .bind(document)
    .fetch_optional(connection)
    .await
}

/// Finance's decision on an item: its new status and receipt, locked from then on.
#[derive(Debug)]
pub struct Decision<'a> {
    /// The new status.
    pub status: Status,
    /// The receipt it is matched with.
    pub end_to_end_id: Option<&'a str>,
    /// The amount observed.
    pub observed: Option<Decimal>,
    /// Observed minus expected.
    pub difference: Option<Decimal>,
}

/// Applies a decision to an item and locks it.
pub async fn decide(
    connection: &mut PgConnection,
    id: ReconciliationItemId,
    decision: &Decision<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update recon_item set status = $2, end_to_end_id = $3, observed_amount = $4, difference = $5, locked = true,
                candidates = '{}', updated_at = now()
         where item_id = $1",
    )
    .bind(id.uuid())
    .bind(decision.status)
    .bind(decision.end_to_end_id)
    .bind(decision.observed)
    .bind(decision.difference)
    .execute(connection)
    .await?;
    Ok(())
}

/// The live items of a period, by `(kind, key)`: disbursed in `[from, to)` or received in
/// `[receipts_from, receipts_to]`.
pub async fn live_statuses(
    connection: &mut PgConnection,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    (receipts_from, receipts_to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(String, String, Status)>, sqlx::Error> {
    sqlx::query_as(
        "select kind, item_key, status from recon_item
         where (kind = 'disbursement' and disbursed_at >= $1 and disbursed_at < $2)
            or (kind = 'receipt' and received_at >= $3 and received_at <= $4)",
    )
    .bind(from)
    .bind(to)
    .bind(receipts_from)
    .bind(receipts_to)
    .fetch_all(connection)
    .await
}

/// Stores a batch run's result.
pub async fn insert_run(
    connection: &mut PgConnection,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    summary: serde_json::Value,
    differences: serde_json::Value,
) -> Result<RunRow, sqlx::Error> {
    sqlx::query_as(
        "insert into recon_run (run_id, period_from, period_to, summary, differences) values ($1, $2, $3, $4, $5)
         returning run_id, period_from, period_to, created_at, summary, differences",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(from)
    .bind(to)
    .bind(summary)
    .bind(differences)
    .fetch_one(connection)
    .await
}

/// Disbursements in `[from, to)` with their borrowers' documents and their items' locks.
pub async fn disbursements_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<BatchLoan>, sqlx::Error> {
    sqlx::query_as(
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
    .await
}

/// Receipts to a known payee in `[from, to]`.
pub async fn receipts_in(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<BatchReceipt>, sqlx::Error> {
    sqlx::query_as(
        "select end_to_end_id, payee_document, amount, received_at, payer_document, payer_ispb from recon_receipt
         where payee_document is not null and received_at >= $1 and received_at <= $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await
}

/// Disbursed loans whose borrower's document is not known yet `(provider, customer id)`.
pub async fn unknown_borrowers(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "select distinct d.provider, d.customer_id from recon_disbursement d
         left join credit_customer c on c.provider = d.provider and c.customer_id = d.customer_id
         where d.customer_id is not null and c.customer_id is null and d.disbursed_at is not null
         limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Documents with pending items past their deadline.
pub async fn documents_past_deadline(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select distinct document from recon_item where status = 'pending' and deadline < now() and document is not null",
    )
    .fetch_all(pool)
    .await
}
