//! `/v1/reconciliation`: items, their candidates and history, finance's resolutions, summaries,
//! the CSV report and batch runs (scopes `reconciliation:read` / `reconciliation:write`; documents
//! are masked unless the key also has `pii`).

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use providers::{Document, ReconciliationItemId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, FieldProblem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::{ListBody, PageParams};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};
use crate::reconcile::items::{
    self, ItemFilter, ItemRow, Resolution, ResolveError, RunRow, SummaryRow,
};
use crate::reconcile::live;
use crate::reconcile::matcher::Status;

/// A reconciliation item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemBody {
    /// `rcn_` id.
    pub id: String,
    /// `disbursement` (an expected receipt) or `receipt` (an unexpected one).
    pub kind: String,
    /// `pending`, `matched`, `amount_mismatch`, `overdue`, `needs_review`, `unexpected_receipt`,
    /// `cancelled`, `confirmed`, `written_off`.
    pub status: String,
    /// The payee's document, masked unless the key has the `pii` scope.
    pub document: Option<String>,
    /// The loan.
    pub loan_id: Option<String>,
    /// The borrower at the credit provider.
    pub customer_id: Option<String>,
    /// The Pix receipt.
    pub end_to_end_id: Option<String>,
    /// Expected amount, exact decimal string.
    pub expected_amount: Option<String>,
    /// Observed amount, exact decimal string.
    pub observed_amount: Option<String>,
    /// Observed − expected, exact decimal string.
    pub difference: Option<String>,
    /// Disbursement time.
    pub disbursed_at: Option<DateTime<Utc>>,
    /// Receipt time.
    pub received_at: Option<DateTime<Utc>>,
    /// When the receipt becomes overdue.
    pub deadline: Option<DateTime<Utc>>,
    /// Decided by finance.
    pub locked: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Possible receipts (only on `GET /v1/reconciliation/items/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<CandidateBody>>,
    /// Status changes, oldest first (only on `GET /v1/reconciliation/items/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryBody>>,
}

/// A receipt that could match an item.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateBody {
    /// endToEndId.
    pub end_to_end_id: String,
    /// Amount.
    pub amount: String,
    /// When.
    pub received_at: DateTime<Utc>,
    /// Payer's document (masked unless `pii`).
    pub payer_document: Option<String>,
    /// Payer's ISPB.
    pub payer_ispb: Option<String>,
    /// One of the tied candidates of an item in review.
    pub tied: bool,
}

/// A status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryBody {
    /// When.
    pub at: DateTime<Utc>,
    /// `system` or the API key's name.
    pub actor: String,
    /// From.
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// The note (manual resolutions).
    pub note: Option<String>,
}

fn show_document(document: Option<&str>, pii: bool) -> Option<String> {
    let document = document?;
    if pii {
        return Some(document.to_owned());
    }
    Some(live::document_masked(document))
}

/// An item as the API shows it (documents masked unless `pii`).
pub(crate) fn item_body(row: ItemRow, pii: bool) -> ItemBody {
    ItemBody::from_row(row, pii)
}

impl ItemBody {
    fn from_row(row: ItemRow, pii: bool) -> ItemBody {
        ItemBody {
            id: row.id().to_string(),
            kind: row.kind,
            status: row.status.as_str().to_owned(),
            document: show_document(row.document.as_deref(), pii),
            loan_id: row.loan_id,
            customer_id: row.customer_id,
            end_to_end_id: row.end_to_end_id,
            expected_amount: row.expected_amount.map(money),
            observed_amount: row.observed_amount.map(money),
            difference: row.difference.map(money),
            disbursed_at: row.disbursed_at,
            received_at: row.received_at,
            deadline: row.deadline,
            locked: row.locked,
            updated_at: row.updated_at,
            candidates: None,
            history: None,
        }
    }
}

/// An exact decimal string with at least two places.
pub(crate) fn money(amount: rust_decimal::Decimal) -> String {
    providers::Money::brl(amount).to_minor_units_string()
}

/// Filters for listing items.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// Status.
    #[param(
        pattern = "^(pending|matched|amount_mismatch|overdue|needs_review|unexpected_receipt|cancelled|confirmed|written_off)$"
    )]
    pub status: Option<String>,
    /// Disbursed or received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Disbursed or received before.
    pub to: Option<DateTime<Utc>>,
    /// Payee CPF/CNPJ, formatted or bare.
    pub document: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(pattern = "^rcn_[0-9a-f]{32}$")]
    pub starting_after: Option<String>,
}

pub(crate) fn filter_of(query: &ItemsQuery) -> Result<ItemFilter, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<Status>()
                .map_err(|error| ApiError::InvalidQuery(format!("status: {error}")))
        })
        .transpose()?;
    let document = query
        .document
        .as_deref()
        .map(|d| {
            Document::parse(d)
                .map(|parsed| parsed.expose().to_owned())
                .map_err(|error| ApiError::InvalidQuery(format!("document: {error}")))
        })
        .transpose()?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(ApiError::InvalidQuery("from must not be after to".into()));
    }
    Ok(ItemFilter {
        status,
        from: query.from,
        to: query.to,
        document,
    })
}

/// Lists items, newest first.
#[utoipa::path(
    get, path = "/v1/reconciliation/items", operation_id = "list_reconciliation_items", tag = "reconciliation", params(ItemsQuery),
    security(("api_key" = ["reconciliation:read"])),
    responses((status = 200, body = ListBody<ItemBody>), (status = 400, body = crate::http::error::Problem))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ItemsQuery>,
) -> Result<Json<ListBody<ItemBody>>, ApiError> {
    caller.require(Scope::ReconciliationRead)?;
    let page =
        PageParams::<ReconciliationItemId>::parse(query.limit, query.starting_after.as_deref())?;
    let filter = filter_of(&query)?;
    let found = items::list(&state.pool, &filter, page.starting_after, page.limit).await?;
    let pii = caller.has(Scope::Pii);
    let data = found
        .items
        .into_iter()
        .map(|row| ItemBody::from_row(row, pii))
        .collect();
    Ok(Json(ListBody::new(data, found.has_more)))
}

fn item_id(id: &str) -> Result<ReconciliationItemId, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound {
        resource: format!("reconciliation item {id}"),
    })
}

/// One item with its candidates and history.
#[utoipa::path(
    get, path = "/v1/reconciliation/items/{id}", operation_id = "get_reconciliation_item", tag = "reconciliation",
    params(("id" = String, Path, description = "rcn_ id")),
    security(("api_key" = ["reconciliation:read"])),
    responses((status = 200, body = ItemBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ItemBody>, ApiError> {
    Ok(Json(item_with_history(&state, &caller, &id).await?))
}

/// An item with its candidates and history. Shared by the API and the console.
pub(crate) async fn item_with_history(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ItemBody, ApiError> {
    caller.require(Scope::ReconciliationRead)?;
    let parsed = item_id(id)?;
    let row = items::get(&state.pool, parsed)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("reconciliation item {id}"),
        })?;
    let pii = caller.has(Scope::Pii);
    let candidates = items::candidates(&state.pool, &row).await?;
    let history = items::history(&state.pool, parsed).await?;
    let tied = row.candidates.clone();
    let mut body = ItemBody::from_row(row, pii);
    body.candidates = Some(
        candidates
            .into_iter()
            .map(|c| CandidateBody {
                tied: tied.contains(&c.end_to_end_id),
                end_to_end_id: c.end_to_end_id,
                amount: money(c.amount),
                received_at: c.received_at,
                payer_document: show_document(c.payer_document.as_deref(), pii),
                payer_ispb: c.payer_ispb,
            })
            .collect(),
    );
    body.history = Some(
        history
            .into_iter()
            .map(|h| HistoryBody {
                at: h.at,
                actor: h.actor,
                from: h.from_status.map(|status| status.as_str().to_owned()),
                to: h.to_status.as_str().to_owned(),
                note: h.note,
            })
            .collect(),
    );
    Ok(body)
}

/// A resolution by finance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// `confirm`, `rematch` or `write_off`.
    #[schema(pattern = "^(confirm|rematch|write_off)$")]
    pub action: String,
    /// Why (mandatory; kept in the audit trail).
    #[schema(min_length = 1, max_length = 2000)]
    pub note: String,
    /// For `rematch`: the receipt to match with.
    #[serde(default)]
    pub end_to_end_id: Option<String>,
}

/// Confirms, re-matches or writes off an item; the decision is kept in its history.
#[utoipa::path(
    post, path = "/v1/reconciliation/items/{id}/resolve", tag = "reconciliation",
    params(("id" = String, Path, description = "rcn_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = ResolveBody,
    security(("api_key" = ["reconciliation:write"])),
    responses((status = 200, body = ItemBody), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem))
)]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Json<ItemBody>, ApiError> {
    Ok(Json(resolve_item(&state, &caller, &id, body).await?))
}

/// Finance's decision on an item, with its note. Shared by the API and the console.
pub(crate) async fn resolve_item(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: ResolveBody,
) -> Result<ItemBody, ApiError> {
    caller.require(Scope::ReconciliationWrite)?;
    let parsed = item_id(id)?;
    let invalid = |pointer: &str, message: &str| {
        ApiError::Validation(vec![FieldProblem {
            pointer: pointer.into(),
            message: message.into(),
        }])
    };
    let note = body.note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(invalid(
            "/note",
            "a note of 1 to 2000 characters is required",
        ));
    }
    let resolution = match (body.action.as_str(), body.end_to_end_id) {
        ("confirm", None) => Resolution::Confirm,
        ("write_off", None) => Resolution::WriteOff,
        ("rematch", Some(end_to_end_id)) => Resolution::Rematch { end_to_end_id },
        ("rematch", None) => return Err(invalid("/end_to_end_id", "required to re-match")),
        ("confirm" | "write_off", Some(_)) => {
            return Err(invalid("/end_to_end_id", "only for rematch"));
        }
        _ => return Err(invalid("/action", "expected confirm, rematch or write_off")),
    };
    let jetstream = !state.settings.jetstream.url.is_empty();
    let row = items::resolve(
        &state.pool,
        parsed,
        &resolution,
        &caller.name,
        note,
        &state.settings.reconciliation,
        jetstream,
    )
    .await
    .map_err(|error| match error {
        ResolveError::NotFound => ApiError::NotFound {
            resource: format!("reconciliation item {id}"),
        },
        ResolveError::UnknownReceipt(_) | ResolveError::NotADisbursement => {
            invalid("/end_to_end_id", &error.to_string())
        }
        ResolveError::Sqlx(error) => ApiError::from(error),
    })?;
    Ok(ItemBody::from_row(row, caller.has(Scope::Pii)))
}

/// A period.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Start (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// Counts and sums.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryBody {
    /// Per status.
    pub by_status: Vec<SummaryLine>,
    /// Per day and status.
    pub by_day: Vec<SummaryLine>,
    /// All items.
    pub total: SummaryLine,
}

/// One line of a summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryLine {
    /// The day (UTC), in `by_day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The status (absent in the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Items.
    pub count: i64,
    /// Sum of amounts, exact decimal string.
    pub amount: String,
}

fn line(row: SummaryRow) -> SummaryLine {
    SummaryLine {
        day: row.day,
        status: Some(row.status),
        count: row.count,
        amount: money(row.amount),
    }
}

/// Counts and sums per status and per day, exact.
#[utoipa::path(
    get, path = "/v1/reconciliation/summary", tag = "reconciliation", params(PeriodQuery),
    security(("api_key" = ["reconciliation:read"])),
    responses((status = 200, body = SummaryBody))
)]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PeriodQuery>,
) -> Result<Json<SummaryBody>, ApiError> {
    caller.require(Scope::ReconciliationRead)?;
    let (by_status, by_day) = items::summary(&state.pool, query.from, query.to).await?;
    let total = SummaryLine {
        day: None,
        status: None,
        count: by_status.iter().map(|row| row.count).sum(),
        amount: money(by_status.iter().map(|row| row.amount).sum()),
    };
    Ok(Json(SummaryBody {
        by_status: by_status.into_iter().map(line).collect(),
        by_day: by_day.into_iter().map(line).collect(),
        total,
    }))
}

/// One row per item, as CSV (amounts exact; documents masked unless the key has `pii`).
#[utoipa::path(
    get, path = "/v1/reconciliation/report.csv", tag = "reconciliation", params(PeriodQuery),
    security(("api_key" = ["reconciliation:read"])),
    responses((status = 200, content_type = "text/csv"))
)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PeriodQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Scope::ReconciliationRead)?;
    let rows = items::all_in(&state.pool, query.from, query.to).await?;
    let csv = csv_of(&rows, caller.has(Scope::Pii));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"reconciliation.csv\"",
            ),
        ],
        csv,
    ))
}

/// RFC 4180 quoting.
/// The CSV report's header and one line per item (documents masked unless `pii`). Shared by the
/// API's report and the console's export of a filtered view.
pub(crate) fn csv_of(rows: &[ItemRow], pii: bool) -> String {
    let mut csv = String::from(
        "item_id,kind,status,document,loan_id,customer_id,end_to_end_id,expected_amount,observed_amount,difference,disbursed_at,received_at,deadline,locked,updated_at\r\n",
    );
    for row in rows {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let fields = [
            row.id().to_string(),
            row.kind.clone(),
            row.status.as_str().to_owned(),
            show_document(row.document.as_deref(), pii).unwrap_or_default(),
            row.loan_id.clone().unwrap_or_default(),
            row.customer_id.clone().unwrap_or_default(),
            row.end_to_end_id.clone().unwrap_or_default(),
            row.expected_amount.map(money).unwrap_or_default(),
            row.observed_amount.map(money).unwrap_or_default(),
            row.difference.map(money).unwrap_or_default(),
            time(row.disbursed_at),
            time(row.received_at),
            time(row.deadline),
            row.locked.to_string(),
            row.updated_at.to_rfc3339(),
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        let _ = write!(csv, "{}\r\n", line.join(","));
    }
    csv
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        return format!("\"{}\"", value.replace('"', "\"\""));
    }
    value.to_owned()
}

/// A batch run request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Disbursements from (inclusive).
    pub from: DateTime<Utc>,
    /// Disbursements to (exclusive).
    pub to: DateTime<Utc>,
}

/// A stored batch run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunBody {
    /// Run id.
    pub id: String,
    /// Period start.
    pub from: DateTime<Utc>,
    /// Period end.
    pub to: DateTime<Utc>,
    /// When it ran.
    pub created_at: DateTime<Utc>,
    /// `{status: {count, amount}}`.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    /// Items whose live status differs from the batch result.
    #[schema(value_type = Vec<Object>)]
    pub differences: serde_json::Value,
    /// True when live and batch agree on every item.
    pub agrees_with_live: bool,
}

impl From<RunRow> for RunBody {
    fn from(row: RunRow) -> RunBody {
        let agrees = row.differences.as_array().is_some_and(Vec::is_empty);
        RunBody {
            id: format!("run_{}", row.run_id.simple()),
            from: row.period_from,
            to: row.period_to,
            created_at: row.created_at,
            summary: row.summary,
            differences: row.differences,
            agrees_with_live: agrees,
        }
    }
}

/// Runs the matcher over a period in batch, stores the result and compares it with the live state.
#[utoipa::path(
    post, path = "/v1/reconciliation/runs", tag = "reconciliation",
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = RunRequest,
    security(("api_key" = ["reconciliation:write"])),
    responses((status = 201, body = RunBody), (status = 422, body = crate::http::error::Problem))
)]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RunRequest>,
) -> Result<(StatusCode, Json<RunBody>), ApiError> {
    caller.require(Scope::ReconciliationWrite)?;
    if body.from >= body.to {
        return Err(ApiError::Validation(vec![FieldProblem {
            pointer: "/from".into(),
            message: "must be before to".into(),
        }]));
    }
    let row = items::run_batch(
        &state.pool,
        body.from,
        body.to,
        &state.settings.reconciliation,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(RunBody::from(row))))
}

/// One stored run.
#[utoipa::path(
    get, path = "/v1/reconciliation/runs/{id}", tag = "reconciliation",
    params(("id" = String, Path, description = "run_ id")),
    security(("api_key" = ["reconciliation:read"])),
    responses((status = 200, body = RunBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RunBody>, ApiError> {
    caller.require(Scope::ReconciliationRead)?;
    let not_found = || ApiError::NotFound {
        resource: format!("reconciliation run {id}"),
    };
    let uuid = id
        .strip_prefix("run_")
        .and_then(|hex| uuid::Uuid::parse_str(hex).ok())
        .ok_or_else(not_found)?;
    let row = items::get_run(&state.pool, uuid)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(RunBody::from(row)))
}
