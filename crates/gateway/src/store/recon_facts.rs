//! Reconciliation facts and live items: the disbursements, receipts and borrowers' documents
//! reconciliation has seen, the items of each payee document, their history, and the advisory
//! locks that order concurrent recomputes (see `reconcile::live` for the protocol).

use chrono::{DateTime, Utc};
use providers::ProviderName;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{FromRow, PgConnection};

use crate::store::recon_items::ItemStatus as Status;

/// What a loan event says about its loan; several events of one loan merge as if applied in order.
pub struct LoanFact {
    pub provider: String,
    pub loan_id: String,
    pub customer_id: Option<String>,
    pub requested_amount: Option<Decimal>,
    pub net_amount: Option<Decimal>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub cancelled: bool,
}

impl LoanFact {
    /// Applies a later event's fact: known values are replaced, the disbursement keeps its earliest
    /// time, and a cancellation sticks.
    pub fn merge(&mut self, later: LoanFact) {
        self.customer_id = later.customer_id.or(self.customer_id.take());
        self.requested_amount = later.requested_amount.or(self.requested_amount);
        self.net_amount = later.net_amount.or(self.net_amount);
        self.disbursed_at = match (self.disbursed_at, later.disbursed_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.cancelled |= later.cancelled;
    }
}

/// A Pix receipt as reconciliation keeps it.
pub struct ReceiptFact {
    pub end_to_end_id: String,
    pub payee_document: Option<String>,
    pub payee_account: Value,
    pub amount: Decimal,
    pub payer_document: Option<String>,
    pub payer_ispb: Option<String>,
    pub payer_name: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Takes the transaction-scoped locks of these borrowers `(provider, customer id)`, in sorted order.
///
/// Linking a loan to its borrower's document and learning that document race otherwise: a loan
/// event that looks the document up while the customer's document is being stored finds nothing,
/// and the customer's recompute cannot see the loan yet, so neither recomputes with both. Both
/// paths take the borrower's lock first: whichever comes second sees the other's commit.
pub async fn lock_customers(
    connection: &mut PgConnection,
    keys: Vec<(String, String)>,
) -> Result<(), sqlx::Error> {
    let keys = keys
        .into_iter()
        .map(|(provider, customer_id)| format!("{provider}:{customer_id}"))
        .collect();
    lock_all(connection, LockSpace::Borrower, keys).await
}

/// Kinds of advisory lock keys; the value seeds the key's hash, so a document and a borrower with
/// the same text never share a lock.
#[derive(Debug, Clone, Copy)]
pub enum LockSpace {
    /// A payee document: its items are being recomputed.
    Document = 7,
    /// A borrower `provider:customer id`: their document is being learned or looked up.
    Borrower = 11,
}

/// Takes the transaction-scoped advisory locks of `keys` in sorted order, in one statement (unnest
/// yields the keys in array order). Every multi-key locker sorts the same way, so two transactions
/// cannot wait for each other's keys.
pub async fn lock_all(
    connection: &mut PgConnection,
    space: LockSpace,
    mut keys: Vec<String>,
) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_unstable();
    keys.dedup();
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended(k, $2)) from unnest($1::text[]) as t(k)",
    )
    .bind(keys)
    .bind(space as i64)
    .execute(connection)
    .await?;
    Ok(())
}

/// Upserts the loans in one statement, in key order so concurrent batches lock rows in one order;
/// returns their borrowers `(provider, customer id)`, where known.
pub async fn record_loans(
    connection: &mut PgConnection,
    loans: &[LoanFact],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    if loans.is_empty() {
        return Ok(Vec::new());
    }
    let mut loans: Vec<&LoanFact> = loans.iter().collect();
    loans.sort_unstable_by(|a, b| (&a.provider, &a.loan_id).cmp(&(&b.provider, &b.loan_id)));
    let borrowers: Vec<(String, Option<String>)> = sqlx::query_as(
        "insert into recon_disbursement (provider, loan_id, customer_id, requested_amount, net_amount,
                                         disbursed_at, cancelled)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[],
                              $6::timestamptz[], $7::bool[])
         on conflict (provider, loan_id) do update set
            customer_id = coalesce(excluded.customer_id, recon_disbursement.customer_id),
            requested_amount = coalesce(excluded.requested_amount, recon_disbursement.requested_amount),
            net_amount = coalesce(excluded.net_amount, recon_disbursement.net_amount),
            disbursed_at = least(recon_disbursement.disbursed_at, excluded.disbursed_at),
            cancelled = recon_disbursement.cancelled or excluded.cancelled,
            updated_at = now()
         returning provider, customer_id",
    )
    .bind(loans.iter().map(|l| l.provider.as_str()).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.loan_id.as_str()).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.customer_id.as_deref()).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.requested_amount).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.net_amount).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.disbursed_at).collect::<Vec<_>>())
    .bind(loans.iter().map(|l| l.cancelled).collect::<Vec<_>>())
    .fetch_all(&mut *connection)
    .await?;
    Ok(borrowers
        .into_iter()
        .filter_map(|(provider, customer_id)| Some((provider, customer_id?)))
        .collect())
}

/// The documents of these borrowers `(provider, customer id)`, where known; the caller holds their
/// borrower locks, so a document being learned concurrently is either committed or waits for this
/// transaction (and then recomputes with its loans).
pub async fn documents_of_borrowers(
    connection: &mut PgConnection,
    borrowers: &[(String, String)],
) -> Result<Vec<String>, sqlx::Error> {
    if borrowers.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "select distinct c.document from credit_customer c
         where (c.provider, c.customer_id) in (select * from unnest($1::text[], $2::text[]))",
    )
    .bind(
        borrowers
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        borrowers
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(connection)
    .await
}

/// Inserts the receipts in one statement; a receipt already known is left as first reported.
pub async fn record_receipts(
    connection: &mut PgConnection,
    receipts: &[ReceiptFact],
) -> Result<(), sqlx::Error> {
    if receipts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into recon_receipt (end_to_end_id, payee_document, payee_account, amount, payer_document,
                                    payer_ispb, payer_name, received_at)
         select * from unnest($1::text[], $2::text[], $3::jsonb[], $4::numeric[], $5::text[], $6::text[],
                              $7::text[], $8::timestamptz[])
         on conflict (end_to_end_id) do nothing",
    )
    .bind(receipts.iter().map(|r| r.end_to_end_id.as_str()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.payee_document.as_deref()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.payee_account.clone()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.amount).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.payer_document.as_deref()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.payer_ispb.as_deref()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.payer_name.as_deref()).collect::<Vec<_>>())
    .bind(receipts.iter().map(|r| r.received_at).collect::<Vec<_>>())
    .execute(connection)
    .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct LoanFacts {
    pub loan_id: String,
    pub amount: Option<Decimal>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub cancelled: bool,
    pub locked: Option<bool>,
    pub status: Option<Status>,
    pub end_to_end_id: Option<String>,
}

#[derive(Debug, FromRow)]
pub struct ReceiptFacts {
    pub end_to_end_id: String,
    pub amount: Decimal,
    pub received_at: DateTime<Utc>,
    pub payer_document: Option<String>,
    pub payer_ispb: Option<String>,
}

#[derive(Debug, FromRow)]
pub struct CurrentItem {
    pub item_id: uuid::Uuid,
    pub kind: String,
    pub item_key: String,
    pub status: Status,
    pub end_to_end_id: Option<String>,
    pub difference: Option<Decimal>,
    pub candidates: Vec<String>,
    pub locked: bool,
}

/// Appends a status change to an item's history.
pub async fn record_change(
    connection: &mut PgConnection,
    item_id: uuid::Uuid,
    actor: &str,
    from: Option<Status>,
    to: Status,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into recon_history (history_id, item_id, actor, from_status, to_status, note)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(item_id)
    .bind(actor)
    .bind(from)
    .bind(to)
    .bind(note)
    .execute(connection)
    .await?;
    Ok(())
}

/// Stores a borrower's document (upsert), under the borrower's lock.
pub async fn upsert_customer(
    connection: &mut PgConnection,
    provider: &ProviderName,
    customer_id: &str,
    document: &str,
    source: &str,
) -> Result<(), sqlx::Error> {
    lock_customers(
        &mut *connection,
        vec![(provider.to_string(), customer_id.to_owned())],
    )
    .await?;
    sqlx::query(
        "insert into credit_customer (provider, customer_id, document, source) values ($1, $2, $3, $4)
         on conflict (provider, customer_id) do update set document = excluded.document, updated_at = now()",
    )
    .bind(provider.as_str())
    .bind(customer_id)
    .bind(document)
    .bind(source)
    .execute(connection)
    .await?;
    Ok(())
}

/// Of `documents`, those that are a borrower's or already have items.
pub async fn known_documents(
    connection: &mut PgConnection,
    documents: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select document from credit_customer where document = any($1)
         union select document from recon_item where document = any($1)",
    )
    .bind(documents)
    .fetch_all(connection)
    .await
}

/// The disbursed loans of a payee document, with their items' locks.
pub async fn loans_of_document(
    connection: &mut PgConnection,
    document: &str,
) -> Result<Vec<LoanFacts>, sqlx::Error> {
    sqlx::query_as(
        "select d.loan_id, coalesce(d.net_amount, d.requested_amount) as amount, d.disbursed_at, d.cancelled,
                i.locked, i.status, i.end_to_end_id
         from recon_disbursement d
         join credit_customer c on c.provider = d.provider and c.customer_id = d.customer_id
         left join recon_item i on i.kind = 'disbursement' and i.item_key = d.loan_id
         where c.document = $1 and d.disbursed_at is not null
           and coalesce(d.net_amount, d.requested_amount) is not null",
    )
    .bind(document)
    .fetch_all(connection)
    .await
}

/// The receipts of a payee document.
pub async fn receipts_of_document(
    connection: &mut PgConnection,
    document: &str,
) -> Result<Vec<ReceiptFacts>, sqlx::Error> {
    sqlx::query_as(
        "select end_to_end_id, amount, received_at, payer_document, payer_ispb from recon_receipt
         where payee_document = $1",
    )
    .bind(document)
    .fetch_all(connection)
    .await
}

/// The current items of a payee document.
pub async fn items_of_document(
    connection: &mut PgConnection,
    document: &str,
) -> Result<Vec<CurrentItem>, sqlx::Error> {
    sqlx::query_as(
        "select item_id, kind, item_key, status, end_to_end_id, difference, candidates, locked from recon_item
         where document = $1",
    )
    .bind(document)
    .fetch_all(connection)
    .await
}

/// A disbursement item as the matcher left it.
#[derive(Debug)]
pub struct DisbursementItem<'a> {
    /// The item (new or kept).
    pub item_id: uuid::Uuid,
    /// The loan.
    pub loan_id: &'a str,
    /// Its status.
    pub status: Status,
    /// The payee document.
    pub document: &'a str,
    /// The receipt it is matched with.
    pub end_to_end_id: Option<&'a str>,
    /// The amount expected.
    pub expected_amount: Decimal,
    /// The amount observed.
    pub observed_amount: Option<Decimal>,
    /// Observed minus expected.
    pub difference: Option<Decimal>,
    /// When the loan was disbursed.
    pub disbursed_at: DateTime<Utc>,
    /// When the receipt arrived.
    pub received_at: Option<DateTime<Utc>>,
    /// The deadline for the receipt.
    pub deadline: DateTime<Utc>,
    /// Equally good candidates.
    pub candidates: &'a [String],
}

/// Inserts or updates a disbursement item.
pub async fn upsert_disbursement_item(
    connection: &mut PgConnection,
    item: &DisbursementItem<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into recon_item (item_id, kind, item_key, status, document, loan_id, customer_id, end_to_end_id,
                                 expected_amount, observed_amount, difference, disbursed_at, received_at, deadline,
                                 candidates, occurred_at)
         select $1, 'disbursement', $2, $3, $4, $2, d.customer_id, $5, $6, $7, $8, $9, $10, $11, $12, $9
         from recon_disbursement d where d.loan_id = $2
         on conflict (kind, item_key) do update set
            status = excluded.status, document = excluded.document, end_to_end_id = excluded.end_to_end_id,
            expected_amount = excluded.expected_amount, observed_amount = excluded.observed_amount,
            difference = excluded.difference, disbursed_at = excluded.disbursed_at,
            received_at = excluded.received_at, deadline = excluded.deadline, candidates = excluded.candidates,
            occurred_at = excluded.occurred_at, updated_at = now()",
    )
    .bind(item.item_id)
    .bind(item.loan_id)
    .bind(item.status)
    .bind(item.document)
    .bind(item.end_to_end_id)
    .bind(item.expected_amount)
    .bind(item.observed_amount)
    .bind(item.difference)
    .bind(item.disbursed_at)
    .bind(item.received_at)
    .bind(item.deadline)
    .bind(item.candidates)
    .execute(connection)
    .await?;
    Ok(())
}

/// Inserts an unexpected-receipt item (kept as it is when one exists).
pub async fn insert_unexpected_receipt(
    connection: &mut PgConnection,
    item_id: uuid::Uuid,
    end_to_end_id: &str,
    document: &str,
    amount: Decimal,
    received_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into recon_item (item_id, kind, item_key, status, document, end_to_end_id, observed_amount,
                                 received_at, occurred_at)
         values ($1, 'receipt', $2, 'unexpected_receipt', $3, $2, $4, $5, $5)
         on conflict (kind, item_key) do nothing",
    )
    .bind(item_id)
    .bind(end_to_end_id)
    .bind(document)
    .bind(amount)
    .bind(received_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Deletes items.
pub async fn delete_items(
    connection: &mut PgConnection,
    ids: &[uuid::Uuid],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("delete from recon_item where item_id = any($1)")
        .bind(ids)
        .execute(connection)
        .await?;
    Ok(())
}
