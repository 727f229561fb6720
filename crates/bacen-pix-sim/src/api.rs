//! The routes: the API Pix and the token endpoint (on the TLS listener, recorded, subject to the
//! fault knobs, the API behind a bearer token) and the control API under `/_sim` (plain HTTP).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::server::ClientSubject;
use crate::state::{CobKind, Problem, RecordedRequest, Window};
use crate::{Control, Knobs, PixIn, Shared, sender};

/// The API listener's routes.
pub(crate) fn api_router(shared: Shared) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/cob", get(list_cob))
        .route("/cob/{txid}", put(put_cob).patch(patch_cob).get(get_cob))
        .route("/cobv", get(list_cobv))
        .route(
            "/cobv/{txid}",
            put(put_cobv).patch(patch_cobv).get(get_cobv),
        )
        .route("/pix", get(list_pix))
        .route("/pix/{e2eid}", get(get_pix))
        .route(
            "/pix/{e2eid}/devolucao/{id}",
            put(put_devolucao).get(get_devolucao),
        )
        .route(
            "/webhook/{chave}",
            put(put_webhook).get(get_webhook).delete(delete_webhook),
        )
        .fallback(|| async { problem(&Problem::not_found()) })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// The control listener's routes.
pub(crate) fn control_router(control: Control) -> Router {
    Router::new()
        .route("/_sim/pix-in", post(control_pix_in))
        .route("/_sim/cobs/{txid}/pay", post(control_pay))
        .route(
            "/_sim/knobs",
            get(control_get_knobs).post(control_set_knobs),
        )
        .route("/_sim/requests", get(control_requests))
        .route("/_sim/deliveries", get(control_deliveries))
        .route("/_sim/revoke-tokens", post(control_revoke))
        .with_state(control)
}

// ---- Responses. ----

fn problem(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, problem.to_json().to_string()).into_response();
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

fn answer(status: StatusCode, result: Result<Value, Problem>) -> Response {
    match result {
        Ok(body) => json_response(status, &body),
        Err(failure) => problem(&failure),
    }
}

fn parse_body(body: &[u8], kind: &'static str) -> Result<Value, Problem> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| Problem::invalid(kind, "body", "O corpo da requisição não é um JSON válido."))
}

// ---- The gate: log, knobs, bearer. ----

async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers = recorded_headers(request.headers());
    let subject = request
        .extensions()
        .get::<ClientSubject>()
        .and_then(|subject| subject.0.clone());
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (latency, outage) = shared.with(|state| (state.knobs.latency_ms, state.knobs.outage));
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let is_token = path == "/oauth/token";
    let response = if outage {
        problem(&Problem::unavailable())
    } else if is_token {
        next.run(request).await
    } else {
        let failing = shared.with(|state| match state.knobs.fail_next {
            0 => None,
            _ => {
                state.knobs.fail_next -= 1;
                Some((state.knobs.fail_status, state.knobs.fail_retry_after_secs))
            }
        });
        let authorized = bearer
            .as_deref()
            .is_some_and(|token| shared.with(|state| state.token_valid(token)));
        match (failing, authorized) {
            (Some((status, retry_after)), _) => failure(status, retry_after),
            (None, false) => {
                let mut response = problem(&Problem::new(
                    401,
                    "AcessoNegado",
                    "Não Autorizado",
                    "O token de acesso está ausente, expirou ou é inválido.",
                ));
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                response
            }
            (None, true) => next.run(request).await,
        }
    };
    let status = response.status().as_u16();
    shared.with(|state| {
        state.requests.push(RecordedRequest {
            method,
            path,
            query,
            headers,
            client_cert_subject: subject,
            status,
        });
    });
    response
}

/// A failure forced by the `fail_next` knob: `status` (503 when unset) as a problem, with a
/// `Retry-After` of `retry_after` seconds when set.
fn failure(status: Option<u16>, retry_after: Option<u64>) -> Response {
    let failure = match status.unwrap_or(503) {
        503 => Problem::unavailable(),
        429 => Problem::new(
            429,
            "LimiteDeRequisicoesExcedido",
            "Muitas Requisições",
            "O limite de requisições foi excedido.",
        ),
        500 => Problem::new(
            500,
            "ErroInternoDoServidor",
            "Erro Interno do Servidor",
            "Ocorreu um erro interno.",
        ),
        other => Problem::new(
            other,
            "ServicoIndisponivel",
            "Serviço Indisponível",
            "Serviço não está disponível no momento.",
        ),
    };
    let mut response = problem(&failure);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let text = match name == header::AUTHORIZATION {
                true => match text.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} [REDACTED]"),
                    None => "[REDACTED]".to_owned(),
                },
                false => text,
            };
            (name.as_str().to_owned(), text)
        })
        .collect()
}

// ---- OAuth2. ----

fn oauth_error(status: StatusCode, error: &str) -> Response {
    json_response(status, &json!({"error": error}))
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let credentials = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let Some((client_id, client_secret)) = credentials else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let known = shared
        .config
        .clients
        .iter()
        .any(|client| client.client_id == client_id && client.client_secret == client_secret);
    if !known {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let ttl = shared.config.token_ttl;
    let access_token = shared.with(|state| state.issue_token(ttl));
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "scope": "cob.write cob.read cobv.write cobv.read pix.write pix.read webhook.write webhook.read",
        }),
    )
}

// ---- Cobs. ----

async fn put_cob_of(shared: &Shared, kind: CobKind, txid: &str, body: &[u8]) -> Response {
    let invalid = match kind {
        CobKind::Cob => "CobOperacaoInvalida",
        CobKind::CobV => "CobVOperacaoInvalida",
    };
    let body = match parse_body(body, invalid) {
        Ok(body) => body,
        Err(failure) => return problem(&failure),
    };
    let config = shared.config.clone();
    match shared.with(|state| state.put_cob(&config, kind, txid, &body)) {
        Ok((status, json)) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
            &json,
        ),
        Err(failure) => problem(&failure),
    }
}

async fn put_cob(State(shared): State<Shared>, Path(txid): Path<String>, body: Bytes) -> Response {
    put_cob_of(&shared, CobKind::Cob, &txid, &body).await
}

async fn put_cobv(State(shared): State<Shared>, Path(txid): Path<String>, body: Bytes) -> Response {
    put_cob_of(&shared, CobKind::CobV, &txid, &body).await
}

fn patch_cob_of(shared: &Shared, kind: CobKind, txid: &str, body: &[u8]) -> Response {
    let invalid = match kind {
        CobKind::Cob => "CobOperacaoInvalida",
        CobKind::CobV => "CobVOperacaoInvalida",
    };
    let body = match parse_body(body, invalid) {
        Ok(body) => body,
        Err(failure) => return problem(&failure),
    };
    answer(
        StatusCode::OK,
        shared.with(|state| state.patch_cob(kind, txid, &body)),
    )
}

async fn patch_cob(
    State(shared): State<Shared>,
    Path(txid): Path<String>,
    body: Bytes,
) -> Response {
    patch_cob_of(&shared, CobKind::Cob, &txid, &body)
}

async fn patch_cobv(
    State(shared): State<Shared>,
    Path(txid): Path<String>,
    body: Bytes,
) -> Response {
    patch_cob_of(&shared, CobKind::CobV, &txid, &body)
}

async fn get_cob(State(shared): State<Shared>, Path(txid): Path<String>) -> Response {
    answer(
        StatusCode::OK,
        shared.with(|state| state.get_cob(CobKind::Cob, &txid)),
    )
}

async fn get_cobv(State(shared): State<Shared>, Path(txid): Path<String>) -> Response {
    answer(
        StatusCode::OK,
        shared.with(|state| state.get_cob(CobKind::CobV, &txid)),
    )
}

/// `inicio`, `fim` (required, RFC 3339, `fim` not before `inicio`) and `paginacao.*`.
fn window(
    query: Option<&str>,
    invalid: &'static str,
) -> Result<(Window, BTreeMap<String, String>), Problem> {
    let params: BTreeMap<String, String> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let time = |name: &str| -> Result<DateTime<Utc>, Problem> {
        params
            .get(name)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| {
                Problem::invalid(
                    invalid,
                    name,
                    "O parâmetro é obrigatório e deve respeitar a RFC 3339.",
                )
            })
    };
    let inicio = time("inicio")?;
    let fim = time("fim")?;
    if fim < inicio {
        return Err(Problem::invalid(
            invalid,
            "fim",
            "O timestamp representado pelo parâmetro fim é anterior ao parâmetro inicio.",
        ));
    }
    let number = |name: &str, default: usize| -> Result<usize, Problem> {
        match params.get(name) {
            None => Ok(default),
            Some(text) => text.parse::<usize>().map_err(|_| {
                Problem::invalid(invalid, name, "O parâmetro não é um inteiro não negativo.")
            }),
        }
    };
    let page = number("paginacao.paginaAtual", 0)?;
    let per_page = number("paginacao.itensPorPagina", 100)?;
    if !(1..=1000).contains(&per_page) {
        return Err(Problem::invalid(
            invalid,
            "paginacao.itensPorPagina",
            "O parâmetro deve estar entre 1 e 1000.",
        ));
    }
    Ok((
        Window {
            inicio,
            fim,
            page,
            per_page,
        },
        params,
    ))
}

async fn list_cob(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    match window(query.as_deref(), "CobConsultaInvalida") {
        Ok((window, _)) => answer(
            StatusCode::OK,
            shared.with(|state| state.list_cobs(CobKind::Cob, &window)),
        ),
        Err(failure) => problem(&failure),
    }
}

async fn list_cobv(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    match window(query.as_deref(), "CobVConsultaInvalida") {
        Ok((window, _)) => answer(
            StatusCode::OK,
            shared.with(|state| state.list_cobs(CobKind::CobV, &window)),
        ),
        Err(failure) => problem(&failure),
    }
}

// ---- Pix and refunds. ----

async fn list_pix(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    match window(query.as_deref(), "PixConsultaInvalida") {
        Ok((window, params)) => {
            let txid = params.get("txid").map(String::as_str);
            json_response(
                StatusCode::OK,
                &shared.with(|state| state.list_pix(&window, txid)),
            )
        }
        Err(failure) => problem(&failure),
    }
}

async fn get_pix(State(shared): State<Shared>, Path(e2eid): Path<String>) -> Response {
    answer(StatusCode::OK, shared.with(|state| state.get_pix(&e2eid)))
}

async fn put_devolucao(
    State(shared): State<Shared>,
    Path((e2eid, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body, "PixDevolucaoInvalida") {
        Ok(body) => body,
        Err(failure) => return problem(&failure),
    };
    match shared.with(|state| state.put_devolucao(&e2eid, &id, &body)) {
        Ok((json, created)) => {
            if created {
                let shared = shared.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(shared.config.settle_delay).await;
                    let callback = shared.with(|state| state.settle_devolucao(&e2eid, &id));
                    if let Some(callback) = callback {
                        sender::send(&shared, callback);
                    }
                });
            }
            json_response(StatusCode::CREATED, &json)
        }
        Err(failure) => problem(&failure),
    }
}

async fn get_devolucao(
    State(shared): State<Shared>,
    Path((e2eid, id)): Path<(String, String)>,
) -> Response {
    answer(
        StatusCode::OK,
        shared.with(|state| state.get_devolucao(&e2eid, &id)),
    )
}

// ---- Webhooks. ----

async fn put_webhook(
    State(shared): State<Shared>,
    Path(chave): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body, "WebhookOperacaoInvalida") {
        Ok(body) => body,
        Err(failure) => return problem(&failure),
    };
    let config = shared.config.clone();
    match shared.with(|state| state.put_webhook(&config, &chave, &body)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(failure) => problem(&failure),
    }
}

async fn get_webhook(State(shared): State<Shared>, Path(chave): Path<String>) -> Response {
    answer(
        StatusCode::OK,
        shared.with(|state| state.get_webhook(&chave)),
    )
}

async fn delete_webhook(State(shared): State<Shared>, Path(chave): Path<String>) -> Response {
    match shared.with(|state| state.delete_webhook(&chave)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(failure) => problem(&failure),
    }
}

// ---- Control API. ----

fn control_failure(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

async fn control_pix_in(State(control): State<Control>, body: Bytes) -> Response {
    let pix: PixIn = match serde_json::from_slice(&body) {
        Ok(pix) => pix,
        Err(error) => return control_failure(&format!("invalid pix-in: {error}")),
    };
    match control.pix_in(pix) {
        Ok(id) => json_response(StatusCode::OK, &json!({"endToEndId": id})),
        Err(error) => control_failure(&error.0),
    }
}

async fn control_pay(State(control): State<Control>, Path(txid): Path<String>) -> Response {
    match control.pay_charge(&txid) {
        Ok(id) => json_response(StatusCode::OK, &json!({"endToEndId": id})),
        Err(error) => control_failure(&error.0),
    }
}

async fn control_get_knobs(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.knobs()))
}

async fn control_set_knobs(State(control): State<Control>, body: Bytes) -> Response {
    match serde_json::from_slice::<Knobs>(&body) {
        Ok(knobs) => {
            control.set_knobs(knobs);
            json_response(StatusCode::OK, &json!(control.knobs()))
        }
        Err(error) => control_failure(&format!("invalid knobs: {error}")),
    }
}

async fn control_requests(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.requests()))
}

async fn control_deliveries(State(control): State<Control>) -> Response {
    json_response(StatusCode::OK, &json!(control.deliveries()))
}

async fn control_revoke(State(control): State<Control>) -> Response {
    control.revoke_tokens();
    StatusCode::NO_CONTENT.into_response()
}
