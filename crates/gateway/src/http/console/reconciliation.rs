//! Reconciliation for finance: a summary with charts (items by status per day, with sums in BRL,
//! and the unmatched amount per day), filters, an item's page with its history, resolving with a
//! note, and CSV export of exactly the filtered view.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use minijinja::Value;
use providers::ReconciliationItemId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::charts;
use super::session::{CsrfForm, Session, SessionView, require};
use super::view::{self, NoticeQuery, Page, Refusal};
use crate::http::reconciliation::{self as api, ItemBody, ItemsQuery, ResolveBody};
use crate::http::state::AppState;
use crate::keys::Scope;
use crate::reconcile::items::{self, ItemFilter, ItemRow};
use crate::reconcile::matcher::Status;

/// Items per page.
const PAGE: u32 = 50;
/// The most rows one CSV export holds; a wider filter is refused with a message to narrow it.
pub const EXPORT_LIMIT: usize = 100_000;
/// The period shown when none is chosen, in days (bounds the summary's reads).
pub const DEFAULT_DAYS: i64 = 30;
/// Statuses whose amount is not reconciled.
const UNMATCHED: [Status; 4] = [
    Status::AmountMismatch,
    Status::Overdue,
    Status::NeedsReview,
    Status::UnexpectedReceipt,
];

/// The filters, as typed.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Filters {
    #[serde(default)]
    status: String,
    /// Absent: the last [`DEFAULT_DAYS`] days; present and empty: all time.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: String,
    #[serde(default)]
    document: String,
    #[serde(default)]
    starting_after: String,
}

impl Filters {
    fn parse(&self) -> Result<(ItemFilter, Option<ReconciliationItemId>), String> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let query = ItemsQuery {
            status: text(&self.status),
            from: view::parse_time("from", self.from.as_deref().unwrap_or_default())?,
            to: view::parse_time("to", &self.to)?,
            document: text(&self.document),
            limit: None,
            starting_after: None,
        };
        let filter = api::filter_of(&query).map_err(|error| error.detail())?;
        let starting_after = text(&self.starting_after)
            .map(|id| id.parse::<ReconciliationItemId>())
            .transpose()
            .map_err(|_| "starting_after: not an item id".to_owned())?;
        Ok((filter, starting_after))
    }

    fn query_string(&self, starting_after: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("status", &self.status)
            .append_pair("from", self.from.as_deref().unwrap_or_default())
            .append_pair("to", &self.to)
            .append_pair("document", &self.document);
        if let Some(after) = starting_after {
            query.append_pair("starting_after", after);
        }
        query.finish()
    }
}

#[derive(Serialize)]
struct ItemLine {
    id: String,
    kind: String,
    status: String,
    document: String,
    loan_id: String,
    end_to_end_id: String,
    expected: String,
    observed: String,
    difference: String,
    updated_at: String,
}

fn amount(text: Option<&String>) -> String {
    text.and_then(|t| t.parse::<Decimal>().ok())
        .map(view::brl)
        .unwrap_or_default()
}

fn item_line(body: &ItemBody) -> ItemLine {
    ItemLine {
        id: body.id.clone(),
        kind: body.kind.clone(),
        status: body.status.clone(),
        document: body.document.clone().unwrap_or_default(),
        loan_id: body.loan_id.clone().unwrap_or_default(),
        end_to_end_id: body.end_to_end_id.clone().unwrap_or_default(),
        expected: amount(body.expected_amount.as_ref()),
        observed: amount(body.observed_amount.as_ref()),
        difference: amount(body.difference.as_ref()),
        updated_at: view::time(body.updated_at),
    }
}

#[derive(Serialize)]
struct StatusLine {
    status: String,
    count: i64,
    amount: String,
    colour: &'static str,
}

#[derive(Serialize)]
struct SummaryContext {
    session: SessionView,
    nav: &'static str,
    filters: Filters,
    statuses: Vec<&'static str>,
    error: Option<String>,
    by_status: Vec<StatusLine>,
    total_count: i64,
    total_amount: String,
    unmatched_amount: String,
    items_chart: Value,
    unmatched_chart: Value,
    items: Vec<ItemLine>,
    next: Option<String>,
    export: String,
}

/// `GET /console/reconciliation`.
pub async fn summary(
    State(state): State<AppState>,
    session: Session,
    Query(mut filters): Query<Filters>,
) -> Page {
    require(&session, Scope::ReconciliationRead)?;
    if filters.from.is_none() {
        let since = chrono::Utc::now() - chrono::Duration::days(DEFAULT_DAYS);
        filters.from = Some(view::local_input(Some(since)));
    }
    let series: Vec<String> = Status::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    let mut context = SummaryContext {
        session: session.view(),
        nav: "reconciliation",
        filters: filters.clone(),
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        error: None,
        by_status: Vec::new(),
        total_count: 0,
        total_amount: view::brl(Decimal::ZERO),
        unmatched_amount: view::brl(Decimal::ZERO),
        items_chart: Value::from(""),
        unmatched_chart: Value::from(""),
        items: Vec::new(),
        next: None,
        export: format!(
            "/console/reconciliation/export.csv?{}",
            filters.query_string(None)
        ),
    };
    let (filter, starting_after) = match filters.parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            context.error = Some(error);
            return Ok(view::render_with(
                StatusCode::BAD_REQUEST,
                "reconciliation.html",
                context,
            ));
        }
    };
    let (by_status, by_day) = items::summary(&state.pool, filter.from, filter.to).await?;
    context.total_count = by_status.iter().map(|row| row.count).sum();
    context.total_amount = view::brl(by_status.iter().map(|row| row.amount).sum());
    let is_unmatched = |status: &str| UNMATCHED.iter().any(|s| s.as_str() == status);
    context.unmatched_amount = view::brl(
        by_status
            .iter()
            .filter(|row| is_unmatched(&row.status))
            .map(|row| row.amount)
            .sum(),
    );
    context.by_status = by_status
        .iter()
        .map(|row| StatusLine {
            status: row.status.clone(),
            count: row.count,
            amount: view::brl(row.amount),
            colour: charts::colour_of(&series, &row.status),
        })
        .collect();
    let mut days: BTreeMap<String, (Vec<(String, i64)>, Decimal)> = BTreeMap::new();
    for row in &by_day {
        let Some(day) = row.day else { continue };
        let entry = days.entry(day.to_string()).or_default();
        entry.0.push((row.status.clone(), row.count));
        if is_unmatched(&row.status) {
            entry.1 += row.amount;
        }
    }
    let counts: Vec<(String, Vec<(String, i64)>)> = days
        .iter()
        .map(|(day, (values, _))| (day.clone(), values.clone()))
        .collect();
    let unmatched: Vec<(String, Decimal)> = days
        .iter()
        .map(|(day, (_, amount))| (day.clone(), *amount))
        .collect();
    context.items_chart = Value::from_safe_string(charts::stacked_counts(
        "Items by status per day",
        &series,
        &counts,
    ));
    context.unmatched_chart = Value::from_safe_string(charts::amounts(
        "Unmatched amount per day (BRL)",
        &unmatched,
    ));
    let page = items::list(&state.pool, &filter, starting_after, PAGE).await?;
    let pii = session.pii();
    let bodies: Vec<ItemBody> = page
        .items
        .into_iter()
        .map(|row| api::item_body(row, pii))
        .collect();
    context.next = match (page.has_more, bodies.last()) {
        (true, Some(last)) => Some(format!(
            "/console/reconciliation?{}",
            filters.query_string(Some(&last.id))
        )),
        _ => None,
    };
    context.items = bodies.iter().map(item_line).collect();
    Ok(view::render("reconciliation.html", context))
}

/// `GET /console/reconciliation/export.csv`: every item the filters select (not only the page
/// shown), in the API report's format; documents masked unless the key has `pii`.
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    Query(filters): Query<Filters>,
) -> Page {
    require(&session, Scope::ReconciliationRead)?;
    let (filter, _) = filters
        .parse()
        .map_err(|error| Refusal::invalid_query(&error))?;
    let mut rows: Vec<ItemRow> = Vec::new();
    let mut after = None;
    loop {
        let page = items::list(&state.pool, &filter, after, 100).await?;
        after = page.items.last().map(ItemRow::id);
        rows.extend(page.items);
        if rows.len() > EXPORT_LIMIT {
            return Err(Refusal::page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_too_large",
                &format!(
                    "More than {EXPORT_LIMIT} items match: narrow the filters (a shorter period or one status)."
                ),
            ));
        }
        if !page.has_more {
            break;
        }
    }
    let csv = api::csv_of(&rows, session.pii());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"reconciliation.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Serialize)]
struct CandidateLine {
    end_to_end_id: String,
    amount: String,
    received_at: String,
    payer_document: String,
    tied: bool,
}

#[derive(Serialize)]
struct HistoryLine {
    at: String,
    actor: String,
    from: String,
    to: String,
    note: String,
}

#[derive(Serialize)]
struct ItemContext {
    session: SessionView,
    nav: &'static str,
    item: ItemLine,
    customer_id: String,
    disbursed_at: String,
    received_at: String,
    deadline: String,
    locked: bool,
    candidates: Vec<CandidateLine>,
    history: Vec<HistoryLine>,
    can_write: bool,
    notice: String,
}

/// `GET /console/reconciliation/items/{id}`.
pub async fn item(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Page {
    let body = api::item_with_history(&state, &session.caller, &id).await?;
    let candidates = body
        .candidates
        .iter()
        .flatten()
        .map(|c| CandidateLine {
            end_to_end_id: c.end_to_end_id.clone(),
            amount: amount(Some(&c.amount)),
            received_at: view::time(c.received_at),
            payer_document: c.payer_document.clone().unwrap_or_default(),
            tied: c.tied,
        })
        .collect();
    let history = body
        .history
        .iter()
        .flatten()
        .map(|h| HistoryLine {
            at: view::time(h.at),
            actor: h.actor.clone(),
            from: h.from.clone().unwrap_or_default(),
            to: h.to.clone(),
            note: h.note.clone().unwrap_or_default(),
        })
        .collect();
    Ok(view::render(
        "item.html",
        ItemContext {
            session: session.view(),
            nav: "reconciliation",
            item: item_line(&body),
            customer_id: body.customer_id.clone().unwrap_or_default(),
            disbursed_at: view::time_opt(body.disbursed_at),
            received_at: view::time_opt(body.received_at),
            deadline: view::time_opt(body.deadline),
            locked: body.locked,
            candidates,
            history,
            can_write: session.caller.has(Scope::ReconciliationWrite),
            notice: query.notice,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    action: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    end_to_end_id: String,
}

/// `POST /console/reconciliation/items/{id}/resolve`: the API's resolution, with its checks.
pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<ResolveForm>,
) -> Page {
    let body = ResolveBody {
        action: form.action,
        note: form.note,
        end_to_end_id: Some(form.end_to_end_id.trim().to_owned()).filter(|e| !e.is_empty()),
    };
    let item = api::resolve_item(&state, &session.caller, &id, body).await?;
    Ok(view::with_notice(
        &format!("/console/reconciliation/items/{id}"),
        &format!("Resolved: now {}.", item.status),
    ))
}
