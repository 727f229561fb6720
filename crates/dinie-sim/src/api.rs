//! The `/v3` routes: every operation of the Dinie reference, with its validation rules and errors.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use providers::{Document, Money};
use rand::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::guard;
use crate::model::{
    Credential, CustomerUpdate, Endpoint, EndpointSecret, IssuedToken, NewCustomer, NewLoan, Page,
    paginate,
};
use crate::problem::Problem;
use crate::wire::{self, new_id};
use crate::{Sim, model};

type Query2 = Query<HashMap<String, String>>;

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    let protected = Router::new()
        .route(
            "/auth/credentials",
            post(create_credential).get(list_credentials),
        )
        .route(
            "/auth/credentials/{client_id}",
            axum::routing::delete(revoke_credential),
        )
        .route("/customers", post(create_customer).get(list_customers))
        .route("/customers/{id}", get(get_customer).patch(update_customer))
        .route("/customers/{id}/documents", post(upload_document))
        .route("/customers/{id}/biometrics", post(start_biometrics))
        .route("/customers/{id}/credit-offers", get(list_customer_offers))
        .route("/credit-offers", get(list_offers))
        .route("/credit-offers/{id}", get(get_offer))
        .route("/credit-offers/{id}/simulations", post(simulate))
        .route("/loans", post(create_loan))
        .route("/loans/{id}", get(get_loan))
        .route("/loans/{id}/transactions", get(list_transactions))
        .route(
            "/webhooks/endpoints",
            post(create_endpoint).get(list_endpoints),
        )
        .route(
            "/webhooks/endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route(
            "/webhooks/endpoints/{id}/secret/rotate",
            post(rotate_secret),
        )
        .route(
            "/webhooks/endpoints/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route_layer(middleware::from_fn_with_state(
            sim.clone(),
            guard::idempotent,
        ))
        .route_layer(middleware::from_fn_with_state(
            sim.clone(),
            guard::authenticate,
        ));
    Router::new()
        .route("/auth/token", post(create_token))
        .merge(protected)
        .fallback(|| async { Problem::not_found("route") })
        .layer(middleware::from_fn_with_state(
            sim.clone(),
            guard::limit_and_inject,
        ))
        .with_state(sim)
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn list_response<T: Serialize>(page: Page<T>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"data": page.data, "has_more": page.has_more}),
    )
}

/// Parses a JSON body: 400 `invalid_content_type` or `malformed_body` when it is not one.
fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return Err(Problem::bad_request(
            "invalid_content_type",
            "Content-Type must be application/json.",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        Problem::bad_request("malformed_body", format!("The body is not valid: {error}."))
    })
}

/// An optional body for actions whose body may be empty.
fn optional_json_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    if body.is_empty() {
        return Ok(T::default());
    }
    json_body(headers, body)
}

fn page_params(query: &HashMap<String, String>) -> Result<(Option<String>, usize), Problem> {
    let limit = match query.get("limit") {
        None => 25,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=100).contains(&limit) => limit,
            _ => {
                return Err(Problem::bad_request(
                    "invalid_parameter",
                    "limit must be an integer between 1 and 100.",
                )
                .with_param("limit"));
            }
        },
    };
    Ok((query.get("starting_after").cloned(), limit))
}

fn required<T>(value: Option<T>, param: &str) -> Result<T, Problem> {
    value.ok_or_else(|| {
        Problem::field(
            "missing_required_field",
            param,
            format!("The {param} field is required."),
        )
    })
}

// ----- authentication -----

async fn create_token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    sim.token_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Problem::bad_request(
            "invalid_content_type",
            "Content-Type must be application/x-www-form-urlencoded.",
        ));
    }
    let grant_ok = String::from_utf8_lossy(&body)
        .split('&')
        .any(|pair| pair == "grant_type=client_credentials");
    if !grant_ok {
        return Err(Problem::bad_request(
            "malformed_body",
            "grant_type must be client_credentials.",
        )
        .with_param("grant_type"));
    }
    let Some((client_id, client_secret)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        })
    else {
        return Err(Problem::unauthorized(
            "missing_credentials",
            "Authenticate with HTTP Basic client_id:client_secret.",
        ));
    };
    let now = sim.now();
    let lifetime = sim.config.token_lifetime;
    let mut state = sim.state.lock().await;
    let Some(credential) = state.credentials.iter_mut().find(|credential| {
        credential.client_id == client_id
            && credential.status == "active"
            && credential.expires_at.is_none_or(|at| at > now)
            && providers::webhook::constant_time_eq(
                credential.secret.as_bytes(),
                client_secret.as_bytes(),
            )
    }) else {
        return Err(Problem::unauthorized(
            "invalid_credentials",
            "The client credentials are not valid.",
        ));
    };
    credential.last_used_at = Some(now);
    let mut random = [0_u8; 24];
    rand::rng().fill_bytes(&mut random);
    let token = format!(
        "dinie_at_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    let lifetime_delta = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1));
    state.tokens.insert(
        token.clone(),
        IssuedToken {
            client_id,
            expires_at: now + lifetime_delta,
        },
    );
    Ok(json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs()}),
    ))
}

#[derive(serde::Deserialize)]
struct CreateCredentialBody {
    name: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

async fn create_credential(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: CreateCredentialBody = json_body(&headers, &body)?;
    let name = required(request.name, "name")?;
    let credential = sim
        .mutate(|state, now| {
            let client_id = format!("dinie_ci_test_{}", uuid::Uuid::now_v7().simple());
            let mut random = [0_u8; 24];
            rand::rng().fill_bytes(&mut random);
            let credential = Credential {
                id: client_id.clone(),
                client_id,
                name,
                status: "active",
                expires_at: request.expires_at,
                created_at: now,
                updated_at: now,
                last_used_at: None,
                secret: format!(
                    "dinie_cs_test_{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
                ),
            };
            state.credentials.push(credential.clone());
            Ok(credential)
        })
        .await?;
    let mut body = serde_json::to_value(&credential).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.insert("client_secret".into(), json!(credential.secret));
    }
    Ok(json_response(StatusCode::CREATED, &body))
}

async fn list_credentials(
    State(sim): State<Arc<Sim>>,
    Query(query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    let items = sim.state.lock().await.credentials.clone();
    let page = paginate(items, |item| &item.id, after.as_deref(), limit)?;
    Ok(list_response(page))
}

async fn revoke_credential(
    State(sim): State<Arc<Sim>>,
    Path(client_id): Path<String>,
) -> Result<Response, Problem> {
    sim.mutate(|state, now| {
        let credential = state
            .credentials
            .iter_mut()
            .find(|credential| credential.client_id == client_id)
            .ok_or_else(|| Problem::not_found("credential"))?;
        if credential.status == "revoked" {
            return Err(Problem::conflict(
                "credential_already_revoked",
                "This credential is already revoked.",
            ));
        }
        credential.status = "revoked";
        credential.updated_at = now;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ----- customers -----

#[derive(serde::Deserialize)]
struct CreateCustomerBody {
    cpf: Option<String>,
    cnpj: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    trading_name: Option<String>,
    external_id: Option<String>,
}

fn parse_cnpj(cnpj: Option<String>) -> Result<Option<Document>, Problem> {
    cnpj.map(|cnpj| {
        Document::parse_cnpj(&cnpj)
            .map_err(|_| Problem::field("invalid_cnpj", "cnpj", "The CNPJ is not valid."))
    })
    .transpose()
}

async fn create_customer(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: CreateCustomerBody = json_body(&headers, &body)?;
    let cpf = required(request.cpf, "cpf")?;
    let cpf = Document::parse_cpf(&cpf)
        .map_err(|_| Problem::field("invalid_cpf", "cpf", "The CPF is not valid."))?;
    let new = NewCustomer {
        cpf,
        cnpj: parse_cnpj(request.cnpj)?,
        name: request.name,
        email: request.email,
        phone: request.phone,
        trading_name: request.trading_name,
        external_id: request.external_id,
    };
    let (customer, created) = sim
        .mutate(|state, now| state.create_customer(now, new))
        .await?;
    let status = match created {
        true => StatusCode::CREATED,
        false => StatusCode::OK,
    };
    Ok(json_response(status, &customer))
}

async fn list_customers(
    State(sim): State<Arc<Sim>>,
    Query(query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    let mut items = sim.state.lock().await.customers.clone();
    if let Some(external_id) = query.get("external_id") {
        items.retain(|item| item.external_id.as_deref() == Some(external_id.as_str()));
    }
    if let Some(cpf) = query.get("cpf") {
        let wanted = Document::parse(cpf).ok();
        items.retain(|item| Some(&item.document) == wanted.as_ref());
    }
    if let Some(status) = query.get("status") {
        items
            .retain(|item| serde_json::to_value(item.status).ok().as_ref() == Some(&json!(status)));
    }
    let descending = query.get("order").is_none_or(|order| order != "asc");
    if descending {
        items.reverse();
    }
    let page = paginate(items, |item| &item.id, after.as_deref(), limit)?;
    Ok(list_response(page))
}

async fn get_customer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let customer = sim.state.lock().await.customer(&id)?.clone();
    Ok(json_response(StatusCode::OK, &customer))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateCustomerBody {
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    cnpj: Option<String>,
    trading_name: Option<String>,
}

async fn update_customer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: UpdateCustomerBody = json_body(&headers, &body).map_err(|problem| {
        match String::from_utf8_lossy(&body).contains("\"cpf\"")
            || String::from_utf8_lossy(&body).contains("\"external_id\"")
        {
            true => Problem::field(
                "immutable_field",
                "cpf",
                "cpf and external_id cannot be changed.",
            ),
            false => problem,
        }
    })?;
    let update = CustomerUpdate {
        email: request.email,
        phone: request.phone,
        name: request.name,
        cnpj: parse_cnpj(request.cnpj)?,
        trading_name: request.trading_name,
    };
    let customer = sim
        .mutate(|state, now| state.update_customer(now, &id, update))
        .await?;
    Ok(json_response(StatusCode::OK, &customer))
}

async fn upload_document(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Problem> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(Problem::bad_request(
            "invalid_content_type",
            "Content-Type must be multipart/form-data.",
        ));
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| Problem::bad_request("malformed_body", "The multipart body is invalid."))?;
    let mut document_type = None;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| Problem::bad_request("malformed_body", "The multipart body is invalid."))?
    {
        match field.name() {
            Some("type") => {
                document_type = Some(field.text().await.map_err(|_| {
                    Problem::bad_request("malformed_body", "The type field is unreadable.")
                })?);
            }
            Some("file") => {
                let content_type = field.content_type().unwrap_or("").to_owned();
                if !matches!(
                    content_type.as_str(),
                    "application/pdf" | "image/jpeg" | "image/png"
                ) {
                    return Err(Problem::bad_request(
                        "invalid_content_type",
                        "The file must be a PDF, JPEG or PNG.",
                    )
                    .with_param("file"));
                }
                let bytes = field.bytes().await.map_err(|_| {
                    Problem::bad_request("malformed_body", "The file is unreadable.")
                })?;
                file = Some(bytes);
            }
            _ => {}
        }
    }
    if file.is_none_or(|file| file.is_empty()) {
        return Err(Problem::bad_request("missing_file", "A file is required.").with_param("file"));
    };
    let document_type = required(document_type, "type")?;
    let upload = sim
        .mutate(|state, now| state.upload_document(now, &id, &document_type))
        .await?;
    Ok(json_response(StatusCode::CREATED, &upload))
}

async fn start_biometrics(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (session_url, expires_at) = sim
        .mutate(|state, now| state.start_biometrics(now, &id))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"session_url": session_url, "expires_at": wire::time_text(expires_at)}),
    ))
}

// ----- credit offers -----

fn filter_offers(
    offers: Vec<model::CreditOffer>,
    query: &HashMap<String, String>,
) -> Vec<model::CreditOffer> {
    offers
        .into_iter()
        .filter(|offer| {
            query
                .get("customer_id")
                .is_none_or(|customer| offer.customer_id == *customer)
                && query.get("status").is_none_or(|status| {
                    serde_json::to_value(offer.status).ok().as_ref() == Some(&json!(status))
                })
        })
        .rev()
        .collect()
}

async fn list_offers(
    State(sim): State<Arc<Sim>>,
    Query(query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    let offers = lapsed_offers_expired(&sim).await;
    let page = paginate(
        filter_offers(offers, &query),
        |item| &item.id,
        after.as_deref(),
        limit,
    )?;
    Ok(list_response(page))
}

async fn list_customer_offers(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(mut query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    sim.state.lock().await.customer(&id)?;
    query.insert("customer_id".into(), id);
    let offers = lapsed_offers_expired(&sim).await;
    let page = paginate(
        filter_offers(offers, &query),
        |item| &item.id,
        after.as_deref(),
        limit,
    )?;
    Ok(list_response(page))
}

/// Every offer, after expiring those past `valid_until`.
async fn lapsed_offers_expired(sim: &Sim) -> Vec<model::CreditOffer> {
    sim.mutate(|state, now| {
        state.expire_lapsed_offers(now);
        Ok(state.offers.clone())
    })
    .await
    .unwrap_or_default()
}

async fn get_offer(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let offer = sim
        .mutate(|state, now| {
            state.expire_lapsed_offers(now);
            state.offer(&id).cloned()
        })
        .await?;
    Ok(json_response(StatusCode::OK, &offer))
}

#[derive(serde::Deserialize)]
struct SimulateBody {
    requested_amount: Option<Money>,
    installment_count: Option<u32>,
}

async fn simulate(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: SimulateBody = json_body(&headers, &body)?;
    let amount = required(request.requested_amount, "requested_amount")?.amount();
    let count = required(request.installment_count, "installment_count")?;
    let simulation = sim
        .mutate(|state, now| state.simulate(now, &id, amount, count))
        .await?;
    Ok(json_response(StatusCode::CREATED, &simulation))
}

// ----- loans -----

#[derive(serde::Deserialize)]
struct CreateLoanBody {
    credit_offer_id: Option<String>,
    simulation_id: Option<String>,
    #[serde(alias = "installment_count")]
    installments: Option<u32>,
    #[serde(alias = "installment_amount")]
    installments_value: Option<Money>,
    first_due_date: Option<NaiveDate>,
}

async fn create_loan(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: CreateLoanBody = json_body(&headers, &body)?;
    let new = NewLoan {
        credit_offer_id: required(request.credit_offer_id, "credit_offer_id")?,
        simulation_id: required(request.simulation_id, "simulation_id")?,
        installments: request.installments,
        installments_value: request.installments_value.map(|money| money.amount()),
        first_due_date: request.first_due_date,
    };
    let loan = sim.mutate(|state, now| state.create_loan(now, new)).await?;
    Ok(json_response(StatusCode::CREATED, &loan))
}

async fn get_loan(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let loan = sim.state.lock().await.loan(&id)?.clone();
    Ok(json_response(StatusCode::OK, &loan))
}

async fn list_transactions(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Query(query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    let state = sim.state.lock().await;
    state.loan(&id)?;
    let items: Vec<model::Transaction> = state
        .transactions
        .iter()
        .filter(|transaction| transaction.loan_id == id)
        .cloned()
        .collect();
    drop(state);
    let page = paginate(items, |item| &item.id, after.as_deref(), limit)?;
    Ok(list_response(page))
}

// ----- webhook endpoints -----

fn new_secret() -> String {
    let mut random = [0_u8; 32];
    rand::rng().fill_bytes(&mut random);
    format!("whsec_{}", STANDARD.encode(random))
}

fn check_url(sim: &Sim, url: &str) -> Result<(), Problem> {
    let invalid = || Problem::field("invalid_url", "url", "The url must be an HTTPS URL.");
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback && sim.config.allow_http_loopback => Ok(()),
        "http"
            if parsed
                .host_str()
                .is_some_and(|host| sim.config.allow_http_hosts.iter().any(|h| h == host)) =>
        {
            Ok(())
        }
        _ => Err(invalid()),
    }
}

#[derive(serde::Deserialize)]
struct CreateEndpointBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
}

async fn create_endpoint(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: CreateEndpointBody = json_body(&headers, &body)?;
    let url = required(request.url, "url")?;
    check_url(&sim, &url)?;
    let secret = new_secret();
    let endpoint = sim
        .mutate(|state, now| {
            let endpoint = Endpoint {
                id: new_id("we_"),
                url,
                events: request.events.unwrap_or_default(),
                description: request.description,
                status: "active",
                created_at: now,
                updated_at: now,
                secrets: vec![EndpointSecret {
                    secret: secret.clone(),
                    expires_at: None,
                }],
            };
            state.endpoints.push(endpoint.clone());
            Ok(endpoint)
        })
        .await?;
    let mut body = serde_json::to_value(&endpoint).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.insert("secret".into(), json!(secret));
    }
    Ok(json_response(StatusCode::CREATED, &body))
}

async fn list_endpoints(
    State(sim): State<Arc<Sim>>,
    Query(query): Query2,
) -> Result<Response, Problem> {
    let (after, limit) = page_params(&query)?;
    let items = sim.state.lock().await.endpoints.clone();
    let page = paginate(items, |item| &item.id, after.as_deref(), limit)?;
    Ok(list_response(page))
}

fn find_endpoint<'a>(endpoints: &'a mut [Endpoint], id: &str) -> Result<&'a mut Endpoint, Problem> {
    endpoints
        .iter_mut()
        .find(|endpoint| endpoint.id == id)
        .ok_or_else(|| Problem::not_found("webhook endpoint"))
}

async fn get_endpoint(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let mut state = sim.state.lock().await;
    let endpoint = find_endpoint(&mut state.endpoints, &id)?.clone();
    Ok(json_response(StatusCode::OK, &endpoint))
}

#[derive(serde::Deserialize)]
struct UpdateEndpointBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    status: Option<String>,
}

async fn update_endpoint(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: UpdateEndpointBody = json_body(&headers, &body)?;
    if let Some(url) = &request.url {
        check_url(&sim, url)?;
    }
    let status = match request.status.as_deref() {
        None => None,
        Some("active") => Some("active"),
        Some("disabled") => Some("disabled"),
        Some(_) => {
            return Err(Problem::field(
                "invalid_format",
                "status",
                "status must be active or disabled.",
            ));
        }
    };
    let endpoint = sim
        .mutate(|state, now| {
            let endpoint = find_endpoint(&mut state.endpoints, &id)?;
            if let Some(url) = request.url {
                endpoint.url = url;
            }
            if let Some(events) = request.events {
                endpoint.events = events;
            }
            if let Some(description) = request.description {
                endpoint.description = Some(description);
            }
            if let Some(status) = status {
                endpoint.status = status;
            }
            endpoint.updated_at = now;
            Ok(endpoint.clone())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &endpoint))
}

async fn delete_endpoint(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    sim.mutate(|state, _| {
        find_endpoint(&mut state.endpoints, &id)?;
        state.endpoints.retain(|endpoint| endpoint.id != id);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Default, serde::Deserialize)]
struct RotateBody {
    expire_current_in: Option<i64>,
}

async fn rotate_secret(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: RotateBody = optional_json_body(&headers, &body)?;
    let grace = request.expire_current_in.unwrap_or(3600);
    if !(0..=86_400).contains(&grace) {
        return Err(Problem::field(
            "invalid_format",
            "expire_current_in",
            "expire_current_in must be between 0 and 86400 seconds.",
        ));
    }
    let secret = new_secret();
    let expires_at = sim
        .mutate(|state, now| {
            let endpoint = find_endpoint(&mut state.endpoints, &id)?;
            let expires_at = now + chrono::Duration::seconds(grace);
            for old in &mut endpoint.secrets {
                old.expires_at = Some(old.expires_at.map_or(expires_at, |at| at.min(expires_at)));
            }
            endpoint
                .secrets
                .retain(|old| old.expires_at.is_none_or(|at| at > now));
            endpoint.secrets.push(EndpointSecret {
                secret: secret.clone(),
                expires_at: None,
            });
            endpoint.updated_at = now;
            Ok(expires_at)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "secret": secret, "previous_secret_expires_at": wire::time_text(expires_at)}),
    ))
}
