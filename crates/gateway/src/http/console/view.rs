//! Rendering: the embedded templates, money and time as people read them, masking of personal
//! data, the error page and the headers every console answer carries.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::Environment;
use providers::Document;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::http::error::ApiError;

/// The templates, compiled once; a template that does not compile fails the first render (and
/// the `templates_compile` unit test).
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in SOURCES {
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, template = name, "console template does not compile");
        }
    }
    env
});

const SOURCES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
    ("events.html", include_str!("templates/events.html")),
    ("event.html", include_str!("templates/event.html")),
    (
        "subscriptions.html",
        include_str!("templates/subscriptions.html"),
    ),
    (
        "subscription.html",
        include_str!("templates/subscription.html"),
    ),
    ("delivery.html", include_str!("templates/delivery.html")),
    ("replay.html", include_str!("templates/replay.html")),
    ("secret.html", include_str!("templates/secret.html")),
    (
        "reconciliation.html",
        include_str!("templates/reconciliation.html"),
    ),
    ("item.html", include_str!("templates/item.html")),
    ("intake.html", include_str!("templates/intake.html")),
    ("attempts.html", include_str!("templates/attempts.html")),
];

/// What a console handler answers: the page, or the response to send instead (an error page).
pub type Page = Result<Response, Refusal>;

/// A page that could not be served, as the response to send instead; `?` turns API and storage
/// errors into the error page with the API's status and code.
#[derive(Debug)]
pub struct Refusal(Box<Response>);

impl Refusal {
    /// An error page with this status, code and message.
    pub fn page(status: StatusCode, code: &str, message: &str) -> Refusal {
        Refusal(Box::new(error_page(status, code, message)))
    }

    /// 404 for `what`.
    pub fn not_found(what: &str) -> Refusal {
        Refusal::page(StatusCode::NOT_FOUND, "not_found", &format!("No {what}."))
    }

    /// 400 for a query parameter the console cannot read.
    pub fn invalid_query(message: &str) -> Refusal {
        Refusal::page(StatusCode::BAD_REQUEST, "invalid_query", message)
    }

    /// 422 for a form field the console cannot read.
    pub fn invalid_form(message: &str) -> Refusal {
        Refusal::page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal(Box::new(api_error(&error)))
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Refusal {
        Refusal::from(ApiError::from(error))
    }
}

/// The notice a form's answer carries back to its page (`?notice=`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeQuery {
    /// What the form did, shown once at the top of the page.
    #[serde(default)]
    pub notice: String,
}

/// The answer to a form: back to `path`, with a notice saying what was done.
pub fn with_notice(path: &str, notice: &str) -> Response {
    let notice: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    axum::response::Redirect::to(&format!("{path}?notice={notice}")).into_response()
}

/// Renders a template with `context` as a 200 page.
pub fn render(template: &str, context: impl Serialize) -> Response {
    render_with(StatusCode::OK, template, context)
}

/// Renders a template with `context` and a status.
pub fn render_with(status: StatusCode, template: &str, context: impl Serialize) -> Response {
    let rendered = TEMPLATES
        .get_template(template)
        .and_then(|page| page.render(context));
    match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, template, "console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page failed to render; the logs say why.</p>"),
            )
                .into_response()
        }
    }
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
}

/// The error page: the status, the stable code (the API's) and what to do.
pub fn error_page(status: StatusCode, code: &str, message: &str) -> Response {
    render_with(
        status,
        "error.html",
        ErrorContext {
            status: status.as_u16(),
            code,
            message,
        },
    )
}

/// An API error as the console shows it: same status and code as the API would answer.
pub fn api_error(error: &ApiError) -> Response {
    if let ApiError::Internal(cause) = error {
        tracing::error!(%cause, "console request failed");
    }
    error_page(error.status(), error.code(), &error.detail())
}

/// Every console answer: no caching of pages, no framing, scripts and styles from here only.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// An amount in reais as Brazilians write it: `R$ 1.234,56` (`-R$ 10,00` when negative).
pub fn brl(amount: Decimal) -> String {
    let rounded = amount.round_dp(2);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.2}", rounded.abs());
    let (units, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (index, digit) in units.chars().enumerate() {
        if index > 0 && (units.len() - index) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("{}R$ {grouped},{cents}", if negative { "-" } else { "" })
}

/// A time as the console shows it (UTC, to the second).
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// An optional time, or an empty string.
pub fn time_opt(at: Option<DateTime<Utc>>) -> String {
    at.map(time).unwrap_or_default()
}

/// A time typed into a form: RFC 3339, or a `datetime-local` value (`2026-12-03T10:00`, read as
/// UTC). Empty means none.
pub fn parse_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    Err(format!(
        "{field}: expected a date and time such as 2026-12-03T10:00 (UTC), not {text:?}"
    ))
}

/// The value of a `datetime-local` input for a time.
pub fn local_input(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// Masks personal data in an event's data for a key without `pii`: every valid CPF or CNPJ (in
/// any field), and the values of name, e-mail and phone fields.
pub fn mask_personal_data(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if is_personal_key(key)
                    && let Value::String(text) = field
                {
                    *text = mask_text(text);
                    continue;
                }
                mask_personal_data(field);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal_data),
        Value::String(text) => {
            if let Ok(document) = Document::parse(text) {
                *text = document.masked();
            }
        }
        _ => {}
    }
}

fn is_personal_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "name"
        || key.ends_with("_name")
        || key.contains("email")
        || key.contains("phone")
        || key == "nome"
}

/// Keeps the first character of each word: `Maria Silva` → `M**** S****`.
fn mask_text(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    let rest = chars.count().min(8);
                    format!("{first}{}", "*".repeat(rest.max(1)))
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile() {
        let mut env = Environment::new();
        for (name, source) in SOURCES {
            env.add_template(name, source)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
    }

    #[test]
    fn amounts_are_written_in_the_brazilian_way_without_floats() {
        assert_eq!(brl(Decimal::new(123_456, 2)), "R$ 1.234,56");
        assert_eq!(brl(Decimal::new(5, 1)), "R$ 0,50");
        assert_eq!(brl(Decimal::new(-1000, 2)), "-R$ 10,00");
        assert_eq!(brl(Decimal::new(100_000_000_001, 2)), "R$ 1.000.000.000,01");
        assert_eq!(brl(Decimal::ZERO), "R$ 0,00");
    }

    #[test]
    fn documents_names_emails_and_phones_are_masked_anywhere_in_the_data() {
        let mut data = serde_json::json!({
            "borrower": {"document": "52998224725", "full_name": "Maria Silva", "email": "m@x.com"},
            "payer": {"document": {"kind": "cpf", "masked": false, "value": "52998224725"}},
            "amount": "10.00",
            "loan_id": "ln_1",
            "list": ["11444777000161"]
        });
        mask_personal_data(&mut data);
        let text = data.to_string();
        assert!(!text.contains("52998224725"), "{text}");
        assert!(!text.contains("11444777000161"), "{text}");
        assert!(!text.contains("Maria"), "{text}");
        assert!(!text.contains("m@x.com"), "{text}");
        assert!(text.contains("\"amount\":\"10.00\""), "{text}");
        assert!(text.contains("ln_1"), "{text}");
    }

    #[test]
    fn form_times_are_read_as_utc() {
        let at = parse_time("from", "2026-12-03T10:00").unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-03T10:00:00+00:00");
        assert_eq!(parse_time("from", " ").unwrap(), None);
        assert!(
            parse_time("from", "yesterday")
                .unwrap_err()
                .contains("from")
        );
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;

    fn session() -> serde_json::Value {
        serde_json::json!({"name": "ops", "scopes": ["admin"], "csrf": "t", "pii": false})
    }

    fn rendered(template: &str, context: serde_json::Value) -> String {
        TEMPLATES
            .get_template(template)
            .and_then(|page| page.render(context))
            .unwrap_or_else(|error| panic!("{template}: {error:#}"))
    }

    #[test]
    fn the_event_page_renders_its_deliveries_and_attempts() {
        let html = rendered(
            "event.html",
            serde_json::json!({
                "session": session(), "nav": "events",
                "event": {"id": "evt_1", "event_type": "loan.active", "provider": "dinie", "resource": "loan ln_1",
                          "resource_id": "ln_1", "occurred_at": "t", "received_at": "t"},
                "provider_event_type": "x", "dedup_key": "k", "correlation_id": null, "occurred_at_source": "provider",
                "data": "{}", "raw": null,
                "deliveries": [{"id": "dlv_1", "subscription_id": "sub_1", "status": "succeeded", "next_attempt_at": "t",
                                "attempts": [{"started_at": "t", "latency_ms": "3", "response_status": "200", "response_body": "ok", "error": null}]}]
            }),
        );
        assert!(html.contains("HTTP 200"), "{html}");
    }

    #[test]
    fn the_reconciliation_page_renders_its_summary_charts_and_items() {
        let html = rendered(
            "reconciliation.html",
            serde_json::json!({
                "session": session(), "nav": "reconciliation",
                "filters": {"status": "", "from": "", "to": "", "document": "", "starting_after": ""},
                "statuses": ["matched"], "error": null,
                "by_status": [{"status": "matched", "count": "1", "amount": "R$ 1,00", "colour": "#000"}],
                "total_count": "1", "total_amount": "R$ 1,00", "unmatched_amount": "R$ 0,00",
                "items_chart": "<svg></svg>", "unmatched_chart": "<svg></svg>",
                "items": [{"id": "rcn_1", "kind": "disbursement", "status": "matched", "document": "***", "loan_id": "ln",
                           "end_to_end_id": "", "expected": "R$ 1,00", "observed": "R$ 1,00", "difference": "", "updated_at": "t"}],
                "next": null, "export": "/x"
            }),
        );
        assert!(html.contains("rcn_1"), "{html}");
    }
}
