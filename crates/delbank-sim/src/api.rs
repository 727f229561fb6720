//! The routes: Delbank's BaaS API under `/baas` (authenticated by `x-delbank-api-key`, recorded,
//! subject to the fault knobs) and the control API under `/_sim`.

use std::str::FromStr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::state::{
    ChargeInput, Failure, RecordedRequest, State as Bank, StatementQuery, TransferInput,
};
use crate::{Control, Knobs, PixIn, sender};

/// The account a request operates on, resolved by [`authenticate`].
#[derive(Debug, Clone)]
struct Ctx {
    account: String,
}

pub(crate) fn router(control: Control) -> Router {
    let baas = Router::new()
        .route(
            "/baas/api/v1/webhooks",
            post(create_webhook).get(list_webhooks),
        )
        .route(
            "/baas/api/v1/webhooks/{id}",
            get(get_webhook)
                .patch(update_webhook)
                .delete(delete_webhook),
        )
        .route("/baas/api/v1/charges", post(create_charge))
        .route("/baas/v1/charges", post(create_charge).get(list_charges))
        .route(
            "/baas/v1/charges/{id}",
            get(get_charge).patch(update_charge),
        )
        .route("/baas/api/v1/charges/{id}", get(get_charge))
        .route("/baas/v1/charges/{id}/void", post(void_charge))
        .route("/baas/api/v1/charges/{id}/closeout", put(closeout_charge))
        .route(
            "/baas/v1/charges/{id}/simulate-conclude",
            post(simulate_conclude),
        )
        .route("/baas/api/v1/pix/qrcode/dynamic/{id}", get(get_charge))
        .route(
            "/baas/api/v2/pix/qrcode/payment-initialization",
            post(initialize_qr),
        )
        .route("/baas/api/v2/pix/qrcode/{kind}", post(create_qr))
        .route("/baas/api/v2/pix/qrcode/{kind}/{id}", get(get_qr))
        .route(
            "/baas/api/v2/pix/qrcode/{kind}/{id}/cancel",
            patch(cancel_qr),
        )
        .route(
            "/baas/api/v2/pix/dict/payment-initialization",
            post(initialize_key),
        )
        .route("/baas/api/v1/transfers", post(create_transfer))
        .route("/baas/api/v2/transfers", post(create_transfer))
        .route("/baas/api/v1/transfers/{id}", get(get_transfer))
        .route("/baas/api/v2/transfers/{id}", get(get_transfer))
        .route("/baas/api/v1/pix/{id}/refund", put(refund))
        .route(
            "/baas/api/v1/pix/dict/entries",
            post(create_key).get(list_keys).delete(delete_key),
        )
        .route("/baas/api/v1/pix/dict/auth-code", post(auth_code))
        .route("/baas/api/v1/balances", get(balance))
        .route("/baas/api/v1/transactions", get(statement))
        .route("/baas/api/v2/transactions", get(statement))
        .route("/baas/api/v1/customers/person-natural", post(create_person))
        .route("/baas/api/v1/customers/person-legal", post(create_company))
        .route("/baas/api/v1/customers/{document}", get(get_customer))
        .route(
            "/baas/api/v1/customers/{document}/documents",
            post(upload_document),
        )
        .route(
            "/baas/api/v1/customers/{document}/bank-accounts",
            get(bank_accounts),
        )
        .route_layer(middleware::from_fn_with_state(
            control.clone(),
            authenticate,
        ));
    let control_routes = Router::new()
        .route("/_sim/pix-in", post(control_pix_in))
        .route("/_sim/charges/{id}/pay", post(control_pay))
        .route("/_sim/customers/{document}/approve", post(control_approve))
        .route("/_sim/customers/{document}/reject", post(control_reject))
        .route("/_sim/refund-in", post(control_refund_in))
        .route("/_sim/knobs", post(control_knobs).get(control_get_knobs))
        .route("/_sim/deliveries", get(control_deliveries))
        .route("/_sim/requests", get(control_requests));
    baas.merge(control_routes)
        .fallback(|| async { problem(&Failure::not_found()) })
        .with_state(control)
}

// ---- Responses and parsing helpers. ----

fn problem(failure: &Failure) -> Response {
    let section = match failure.status {
        401 => "https://tools.ietf.org/html/rfc7235#section-3.1",
        404 => "https://tools.ietf.org/html/rfc7231#section-6.5.4",
        409 => "https://tools.ietf.org/html/rfc7231#section-6.5.8",
        429 => "https://tools.ietf.org/html/rfc6585#section-4",
        503 => "https://tools.ietf.org/html/rfc7231#section-6.6.4",
        _ => "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    };
    let trace: [u8; 24] = rand::random();
    let trace_hex: String = trace.iter().map(|byte| format!("{byte:02x}")).collect();
    let mut body = json!({
        "type": section,
        "title": failure.title,
        "status": failure.status,
        "traceId": format!("00-{}-{}-00", trace_hex.get(..32).unwrap_or_default(), trace_hex.get(32..).unwrap_or_default()),
    });
    if let Some(errors) = &failure.errors {
        body["errors"] = json!(errors);
    }
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn answer(result: Result<Value, Failure>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(failure) => problem(&failure),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Failure> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| Failure::field("body", "The JSON value could not be converted."))
}

/// Reads an amount exactly (the workspace's serde_json keeps numbers as text).
fn amount_of(value: &Value, field: &str) -> Result<Option<Decimal>, Failure> {
    let text = match value.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(Failure::field(field, "The amount is not a number.")),
    };
    Decimal::from_str_exact(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| Failure::field(field, "The amount is not a number."))
}

fn string_of(value: &Value, field: &str) -> Option<String> {
    match value.get(field) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .iter()
        .find(|(name, _)| {
            name.as_str().eq_ignore_ascii_case("idempotencykey")
                || name.as_str() == "x-idempotency-key"
        })
        .and_then(|(_, value)| value.to_str().ok())
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn require_key(headers: &HeaderMap) -> Result<String, Failure> {
    idempotency_key(headers)
        .ok_or_else(|| Failure::field("IdempotencyKey", "The IdempotencyKey header is required."))
}

/// `a=1&type=X&type=Y` → pairs, percent-decoded.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(byte) = bytes.get(index) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok());
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(decoded) => {
                        out.push(decoded);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(*other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
}

/// One page of `items` with the `pagination` header (`page` from 1, `limit` 10 by default, 50 at
/// most).
fn paged(items: Vec<Value>, pairs: &[(String, String)]) -> Response {
    let page = query_value(pairs, "page")
        .and_then(|page| page.parse::<usize>().ok())
        .filter(|page| *page >= 1)
        .unwrap_or(1);
    let limit = query_value(pairs, "limit")
        .or_else(|| query_value(pairs, "size"))
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit >= 1)
        .unwrap_or(10)
        .min(50);
    let row_count = items.len();
    let page_count = row_count.div_ceil(limit);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    let mut response = json_response(StatusCode::OK, &Value::Array(slice));
    let header_value = json!({"currentPage": page, "pageSize": limit, "pageCount": page_count, "rowCount": row_count}).to_string();
    if let Ok(value) = HeaderValue::from_str(&header_value) {
        response.headers_mut().insert("pagination", value);
    }
    response
}

// ---- Middleware. ----

async fn authenticate(
    State(control): State<Control>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let headers = request.headers();
    let key = idempotency_key(headers);
    let api_key = headers
        .get("x-delbank-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let account_id = headers
        .get("x-delfinance-account-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let (forced, delay) = control.shared.with(|state| {
        let knobs = &mut state.knobs;
        let forced = (knobs.fail_next_requests > 0).then(|| {
            knobs.fail_next_requests -= 1;
            (
                knobs.fail_status.unwrap_or(503),
                knobs.fail_retry_after_secs,
            )
        });
        (forced, knobs.api_delay_ms)
    });
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let outcome = match (forced, api_key) {
        (Some((status, _)), _) => Err(Failure::new(status, forced_title(status))),
        (None, None) => Err(Failure::new(401, "Unauthorized")),
        (None, Some(api_key)) => control
            .shared
            .with(|state| state.authenticate(&api_key, account_id.as_deref())),
    };
    let mut response = match outcome {
        Ok(account) => {
            request.extensions_mut().insert(Ctx { account });
            next.run(request).await
        }
        Err(failure) => problem(&failure),
    };
    if let Some((_, Some(seconds))) = forced {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    let status = response.status().as_u16();
    control.shared.with(|state| {
        state.requests.push(RecordedRequest {
            method,
            path,
            idempotency_key: key,
            account_id,
            status,
        });
    });
    response
}

/// The title of a forced answer.
fn forced_title(status: u16) -> &'static str {
    match status {
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Service Unavailable",
    }
}

fn ctx(request_ctx: Option<axum::Extension<Ctx>>) -> Result<Ctx, Failure> {
    request_ctx
        .map(|axum::Extension(ctx)| ctx)
        .ok_or_else(|| Failure::new(401, "Unauthorized"))
}

type CtxExt = Option<axum::Extension<Ctx>>;

// ---- Webhooks. ----

fn webhook_input(body: &Value) -> Result<(String, String, String, String), Failure> {
    let event_type = string_of(body, "eventType")
        .filter(|text| !text.is_empty())
        .ok_or_else(|| Failure::field("eventType", "The eventType field is required."))?;
    let url = string_of(body, "url")
        .ok_or_else(|| Failure::field("url", "The url field is required."))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Failure::field(
            "url",
            "The url must start with http:// or https://.",
        ));
    }
    let scheme = string_of(body, "authorizationScheme")
        .unwrap_or_else(|| "NONE".to_owned())
        .to_ascii_uppercase();
    if !matches!(scheme.as_str(), "BASIC" | "BEARER" | "HEADER" | "NONE") {
        return Err(Failure::field(
            "authorizationScheme",
            "The authorizationScheme field is invalid.",
        ));
    }
    let authorization = string_of(body, "authorization").unwrap_or_default();
    Ok((event_type, url, scheme, authorization))
}

async fn create_webhook(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let (event_type, url, scheme, authorization) = webhook_input(&parse_body(&body)?)?;
        Ok(control.shared.with(|state| {
            let now = chrono::Utc::now();
            let id = state.next_webhook;
            state.next_webhook += 1;
            let webhook = crate::state::Webhook {
                id,
                account: ctx.account,
                event_type,
                url,
                scheme,
                authorization,
                created_at: now,
                updated_at: now,
            };
            let body = Bank::webhook_json(&webhook);
            state.webhooks.push(webhook);
            body
        }))
    })())
}

async fn list_webhooks(State(control): State<Control>, request_ctx: CtxExt) -> Response {
    answer(ctx(request_ctx).map(|ctx| {
        control.shared.with(|state| {
            Value::Array(
                state
                    .webhooks
                    .iter()
                    .filter(|webhook| webhook.account == ctx.account)
                    .map(Bank::webhook_json)
                    .collect(),
            )
        })
    }))
}

fn webhook_id(id: &str) -> Result<u64, Failure> {
    id.parse::<u64>().map_err(|_| Failure::not_found())
}

async fn get_webhook(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let id = webhook_id(&id)?;
        control.shared.with(|state| {
            state
                .webhooks
                .iter()
                .find(|webhook| webhook.id == id && webhook.account == ctx.account)
                .map(Bank::webhook_json)
                .ok_or_else(Failure::not_found)
        })
    })())
}

async fn update_webhook(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let id = webhook_id(&id)?;
        let (event_type, url, scheme, authorization) = webhook_input(&parse_body(&body)?)?;
        control.shared.with(|state| {
            let webhook = state
                .webhooks
                .iter_mut()
                .find(|webhook| webhook.id == id && webhook.account == ctx.account)
                .ok_or_else(Failure::not_found)?;
            webhook.event_type = event_type;
            webhook.url = url;
            webhook.scheme = scheme;
            webhook.authorization = authorization;
            webhook.updated_at = chrono::Utc::now();
            Ok(Bank::webhook_json(webhook))
        })
    })())
}

async fn delete_webhook(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        let id = webhook_id(&id)?;
        control.shared.with(|state| {
            let before = state.webhooks.len();
            state
                .webhooks
                .retain(|webhook| !(webhook.id == id && webhook.account == ctx.account));
            match state.webhooks.len() < before {
                true => Ok(()),
                false => Err(Failure::not_found()),
            }
        })
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(failure) => problem(&failure),
    }
}

// ---- Charges and QR codes. ----

fn charge_input(body: &Value, charge_type: Option<&str>) -> Result<ChargeInput, Failure> {
    let charge_type = charge_type
        .map(str::to_owned)
        .or_else(|| string_of(body, "type"))
        .ok_or_else(|| Failure::field("type", "The type field is required."))?;
    let payer = body.get("payer").cloned().unwrap_or(Value::Null);
    Ok(ChargeInput {
        charge_type,
        correlation_id: string_of(body, "correlationId").unwrap_or_default(),
        amount: amount_of(body, "amount").or_else(|_| amount_of(body, "Amount"))?,
        description: string_of(body, "description")
            .or_else(|| string_of(body, "additionalInformation")),
        due_date: string_of(body, "dueDate"),
        expires_in: body.get("expiresIn").and_then(Value::as_i64),
        payer,
    })
}

async fn create_charge(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let input = charge_input(&parse_body(&body)?, None)?;
        control
            .shared
            .with(|state| state.create_charge(&ctx.account, &input))
    })())
}

async fn get_charge(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        control.shared.with(|state| {
            state
                .find_charge(&ctx.account, &id)
                .map(|charge| state.charge_json(charge))
                .ok_or_else(Failure::not_found)
        })
    })())
}

async fn list_charges(
    State(control): State<Control>,
    request_ctx: CtxExt,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match ctx(request_ctx) {
        Ok(ctx) => ctx,
        Err(failure) => return problem(&failure),
    };
    let pairs = query_pairs(raw.as_deref());
    let start = query_value(&pairs, "startDate");
    let end = query_value(&pairs, "endDate");
    let items = control.shared.with(|state| {
        state
            .charges
            .iter()
            .rev()
            .filter(|charge| charge.account == ctx.account)
            .filter(|charge| {
                let day = charge.created_at.format("%Y-%m-%d").to_string();
                start.as_ref().is_none_or(|start| &day >= start)
                    && end.as_ref().is_none_or(|end| &day <= end)
            })
            .map(|charge| state.charge_json(charge))
            .collect::<Vec<Value>>()
    });
    paged(items, &pairs)
}

async fn update_charge(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        let body = parse_body(&body)?;
        let amount = amount_of(&body, "amount")?;
        control.shared.with(|state| {
            state.update_charge(
                &ctx.account,
                &id,
                amount,
                string_of(&body, "dueDate"),
                string_of(&body, "description"),
            )
        })
    })();
    match result {
        Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn void_charge(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    let result = ctx(request_ctx).and_then(|ctx| {
        control
            .shared
            .with(|state| state.cancel_charge(&ctx.account, &id))
    });
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn closeout_charge(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    let result = ctx(request_ctx).and_then(|ctx| {
        control
            .shared
            .with(|state| state.cancel_charge(&ctx.account, &id))
    });
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn simulate_conclude(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        let body = parse_body(&body)?;
        let kind = string_of(&body, "type").unwrap_or_else(|| "BANKSLIP".to_owned());
        control
            .shared
            .with(|state| state.simulate_conclude(&ctx.account, &id, &kind))
    })();
    match result {
        Ok((body, emits)) => {
            sender::emit_all(&control.shared, emits);
            json_response(StatusCode::ACCEPTED, &body)
        }
        Err(failure) => problem(&failure),
    }
}

fn qr_kind(kind: &str) -> Result<&'static str, Failure> {
    match kind {
        "static" => Ok("PIX_STATIC"),
        "dynamic" | "due-date" => Ok("PIX_DYNAMIC"),
        _ => Err(Failure::not_found()),
    }
}

fn qr_json(charge: &Value) -> Value {
    json!({
        "transactionId": charge["transactionId"],
        "correlationId": charge["correlationId"],
        "type": if charge["type"] == "PIX_STATIC" { "STATIC" } else { "DYNAMIC_IMMEDIATE_PAYMENT" },
        "amount": charge["amount"],
        "status": match charge["status"].as_str() { Some("PAID") => "CONCLUDED", Some("CANCELED") => "REMOVED", _ => "ACTIVE" },
        "payer": charge["payer"],
        "payloadPix": charge["payloadPix"],
        "expiresAt": charge["expiresAt"],
        "createdAt": charge["createdAt"],
        "payments": charge["payments"],
    })
}

async fn create_qr(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let charge_type = qr_kind(&kind)?;
        let input = charge_input(&parse_body(&body)?, Some(charge_type))?;
        control
            .shared
            .with(|state| state.create_charge(&ctx.account, &input))
            .map(|charge| qr_json(&charge))
    })())
}

async fn get_qr(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        qr_kind(&kind)?;
        control.shared.with(|state| {
            state
                .find_charge(&ctx.account, &id)
                .map(|charge| qr_json(&state.charge_json(charge)))
                .ok_or_else(Failure::not_found)
        })
    })())
}

async fn cancel_qr(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        qr_kind(&kind)?;
        control
            .shared
            .with(|state| state.cancel_charge(&ctx.account, &id))
    })();
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => problem(&failure),
    }
}

// ---- Pix out. ----

async fn initialize_key(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let key = string_of(&parse_body(&body)?, "key").unwrap_or_default();
        control
            .shared
            .with(|state| state.initialize_key(&ctx.account, &key))
    })())
}

async fn initialize_qr(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let payload = string_of(&parse_body(&body)?, "payload").unwrap_or_default();
        control
            .shared
            .with(|state| state.initialize_qr(&ctx.account, &payload))
    })())
}

fn fingerprint(path: &str, body: &[u8]) -> String {
    format!("{path}\n{}", String::from_utf8_lossy(body))
}

async fn create_transfer(
    State(control): State<Control>,
    request_ctx: CtxExt,
    request_headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = (|| {
        let ctx = ctx(request_ctx)?;
        let key = require_key(&request_headers)?;
        let print = fingerprint("transfers", &body);
        if let Some(replay) = control
            .shared
            .with(|state| state.replay(&ctx.account, &key, &print))
        {
            return replay.map(|(_, body)| (body, None, Vec::new()));
        }
        let parsed = parse_body(&body)?;
        let input = TransferInput {
            amount: amount_of(&parsed, "amount")?
                .ok_or_else(|| Failure::field("amount", "The amount field is required."))?,
            description: string_of(&parsed, "description"),
            end_to_end_id: string_of(&parsed, "endToEndId"),
            beneficiary: parsed
                .get("beneficiary")
                .filter(|value| value.is_object())
                .cloned(),
            beneficiary_account: string_of(&parsed, "beneficiaryAccount"),
            external_id: string_of(&parsed, "externalId"),
        };
        control.shared.with(|state| {
            let (id, emits) = state.create_transfer(&ctx.account, &key, &input)?;
            let transfer = state
                .find_transfer(&ctx.account, &id)
                .ok_or_else(Failure::not_found)?;
            let processing = (transfer.status == "PIX_PROCESSING").then(|| id.clone());
            let body = state.transfer_json(transfer);
            state.remember(&ctx.account, &key, &print, 200, &body);
            Ok((body, processing, emits))
        })
    })();
    match outcome {
        Ok((body, processing, emits)) => {
            sender::emit_all(&control.shared, emits);
            if let Some(id) = processing {
                let shared = control.shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(shared.config.settle_delay).await;
                    let emits = shared.with(|state| state.settle(&id));
                    sender::emit_all(&shared, emits);
                });
            }
            json_response(StatusCode::OK, &body)
        }
        Err(failure) => problem(&failure),
    }
}

async fn get_transfer(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(id): Path<String>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        control.shared.with(|state| {
            state
                .find_transfer(&ctx.account, &id)
                .map(|transfer| state.transfer_json(transfer))
                .ok_or_else(Failure::not_found)
        })
    })())
}

async fn refund(
    State(control): State<Control>,
    request_ctx: CtxExt,
    request_headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = (|| {
        let ctx = ctx(request_ctx)?;
        let key = require_key(&request_headers)?;
        let print = fingerprint(&id, &body);
        if let Some(replay) = control
            .shared
            .with(|state| state.replay(&ctx.account, &key, &print))
        {
            return replay.map(|(_, body)| (body, None));
        }
        let parsed = parse_body(&body)?;
        let amount = amount_of(&parsed, "amount")?
            .ok_or_else(|| Failure::field("amount", "The amount field is required."))?;
        control.shared.with(|state| {
            let body = state.create_refund(
                &ctx.account,
                &key,
                &id,
                amount,
                string_of(&parsed, "description"),
            )?;
            state.remember(&ctx.account, &key, &print, 202, &body);
            Ok((body.clone(), string_of(&body, "endToEndId")))
        })
    })();
    match outcome {
        Ok((body, created)) => {
            if let Some(end_to_end_id) = created {
                let shared = control.shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(shared.config.settle_delay).await;
                    let emits = shared.with(|state| state.settle_refund(&end_to_end_id));
                    sender::emit_all(&shared, emits);
                });
            }
            json_response(StatusCode::ACCEPTED, &body)
        }
        Err(failure) => problem(&failure),
    }
}

// ---- DICT keys. ----

async fn create_key(
    State(control): State<Control>,
    request_ctx: CtxExt,
    request_headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let key = require_key(&request_headers)?;
        let print = fingerprint("dict", &body);
        if let Some(replay) = control
            .shared
            .with(|state| state.replay(&ctx.account, &key, &print))
        {
            return replay.map(|(_, body)| body);
        }
        let parsed = parse_body(&body)?;
        let entry_type = string_of(&parsed, "entryType")
            .ok_or_else(|| Failure::field("entryType", "The entryType field is required."))?;
        control.shared.with(|state| {
            let body = state.create_key(
                &ctx.account,
                &entry_type,
                string_of(&parsed, "key").as_deref(),
            )?;
            state.remember(&ctx.account, &key, &print, 200, &body);
            Ok(body)
        })
    })())
}

async fn list_keys(State(control): State<Control>, request_ctx: CtxExt) -> Response {
    answer(ctx(request_ctx).map(|ctx| control.shared.with(|state| state.list_keys(&ctx.account))))
}

async fn delete_key(
    State(control): State<Control>,
    request_ctx: CtxExt,
    request_headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        require_key(&request_headers)?;
        let parsed = parse_body(&body)?;
        let key = string_of(&parsed, "key")
            .ok_or_else(|| Failure::field("key", "The key field is required."))?;
        control
            .shared
            .with(|state| state.delete_key(&ctx.account, &key))
    })();
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn auth_code(request_ctx: CtxExt, body: Bytes) -> Response {
    answer((|| {
        ctx(request_ctx)?;
        let parsed = parse_body(&body)?;
        for field in ["sender", "receiver", "payload"] {
            if string_of(&parsed, field).is_none() {
                return Err(Failure::field(
                    field,
                    format!("The {field} field is required."),
                ));
            }
        }
        Ok(json!({"id": uuid::Uuid::now_v7().hyphenated().to_string()}))
    })())
}

// ---- Balance and statement. ----

async fn balance(State(control): State<Control>, request_ctx: CtxExt) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        control.shared.with(|state| {
            let account = state
                .accounts
                .get(&ctx.account)
                .ok_or_else(Failure::not_found)?;
            Ok(json!({"amountAvailable": crate::state::num(account.balance), "amountBlocked": 0}))
        })
    })())
}

async fn statement(
    State(control): State<Control>,
    request_ctx: CtxExt,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = match ctx(request_ctx) {
        Ok(ctx) => ctx,
        Err(failure) => return problem(&failure),
    };
    let pairs = query_pairs(raw.as_deref());
    let filter = StatementQuery {
        is_credit: query_value(&pairs, "isCredit").and_then(|value| bool::from_str(&value).ok()),
        types: pairs
            .iter()
            .filter(|(name, _)| name == "type")
            .map(|(_, value)| value.clone())
            .collect(),
        nsu: query_value(&pairs, "nsu").and_then(|value| value.parse().ok()),
        end_to_end_id: query_value(&pairs, "endToEndId"),
    };
    let after = query_value(&pairs, "afterNsu").and_then(|value| value.parse::<u64>().ok());
    let items: Vec<Value> = control
        .shared
        .with(|state| state.statement(&ctx.account, &filter))
        .into_iter()
        .filter(|(nsu, _)| after.is_none_or(|after| *nsu > after))
        .map(|(_, item)| item)
        .collect();
    paged(items, &pairs)
}

// ---- White-label onboarding. ----

async fn create_person(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let parsed = parse_body(&body)?;
        let document = string_of(&parsed, "document").unwrap_or_default();
        let name = string_of(&parsed, "name").unwrap_or_default();
        control
            .shared
            .with(|state| state.create_customer(&ctx.account, &document, &name, false))
    })())
}

async fn create_company(
    State(control): State<Control>,
    request_ctx: CtxExt,
    body: Bytes,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        let parsed = parse_body(&body)?;
        let document = string_of(&parsed, "document").unwrap_or_default();
        let name = string_of(&parsed, "corporateName")
            .or_else(|| string_of(&parsed, "name"))
            .unwrap_or_default();
        control
            .shared
            .with(|state| state.create_customer(&ctx.account, &document, &name, true))
    })())
}

async fn get_customer(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(document): Path<String>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        control.shared.with(|state| {
            state
                .customer(&ctx.account, &document)
                .map(crate::state::customer_json)
        })
    })())
}

async fn upload_document(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(document): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let ctx = ctx(request_ctx)?;
        let parsed = parse_body(&body)?;
        let document_type = string_of(&parsed, "documentType")
            .ok_or_else(|| Failure::field("documentType", "The documentType field is required."))?;
        if string_of(&parsed, "base64").is_none_or(|content| content.is_empty()) {
            return Err(Failure::field("base64", "The base64 field is required."));
        }
        control
            .shared
            .with(|state| state.add_document(&ctx.account, &document, &document_type))
    })();
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn bank_accounts(
    State(control): State<Control>,
    request_ctx: CtxExt,
    Path(document): Path<String>,
) -> Response {
    answer((|| {
        let ctx = ctx(request_ctx)?;
        control.shared.with(|state| {
            state
                .customer(&ctx.account, &document)
                .map(|customer| state.bank_accounts(customer))
        })
    })())
}

// ---- Control API. ----

fn control_answer<T: serde::Serialize>(result: Result<T, crate::ControlError>) -> Response {
    match result {
        Ok(value) => json_response(StatusCode::OK, &json!({"result": value})),
        Err(error) => problem(&Failure::new(400, error.0)),
    }
}

async fn control_pix_in(State(control): State<Control>, body: Bytes) -> Response {
    let parsed = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(failure) => return problem(&failure),
    };
    let amount = match amount_of(&parsed, "amount") {
        Ok(Some(amount)) => amount,
        Ok(None) => return problem(&Failure::field("amount", "The amount field is required.")),
        Err(failure) => return problem(&failure),
    };
    control_answer(control.pix_in(PixIn {
        account: string_of(&parsed, "account"),
        amount,
        correlation_id: string_of(&parsed, "correlationId"),
        payer_name: string_of(&parsed, "payerName"),
        payer_document: string_of(&parsed, "payerDocument"),
        payer_ispb: string_of(&parsed, "payerIspb"),
    }))
}

async fn control_pay(State(control): State<Control>, Path(id): Path<String>) -> Response {
    control_answer(control.pay_charge(&id))
}

async fn control_approve(State(control): State<Control>, Path(document): Path<String>) -> Response {
    control_answer(control.approve_customer(&document))
}

async fn control_reject(State(control): State<Control>, Path(document): Path<String>) -> Response {
    control_answer(control.reject_customer(&document))
}

async fn control_refund_in(State(control): State<Control>, body: Bytes) -> Response {
    let parsed = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(failure) => return problem(&failure),
    };
    let amount = match amount_of(&parsed, "amount") {
        Ok(Some(amount)) => amount,
        Ok(None) => return problem(&Failure::field("amount", "The amount field is required.")),
        Err(failure) => return problem(&failure),
    };
    let original = string_of(&parsed, "originalEndToEndId").unwrap_or_default();
    control_answer(control.refund_in(&original, amount))
}

async fn control_knobs(State(control): State<Control>, body: Bytes) -> Response {
    match serde_json::from_slice::<Knobs>(&body) {
        Ok(knobs) => {
            control.set_knobs(knobs);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(_) => problem(&Failure::field("body", "Not a knobs object.")),
    }
}

async fn control_get_knobs(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.knobs()))
}

async fn control_deliveries(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.deliveries()))
}

async fn control_requests(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.requests()))
}
