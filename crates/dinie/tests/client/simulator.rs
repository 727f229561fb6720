//! The simulator's own contract, over raw HTTP: what a client other than ours would see.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::{cpf, setup};

async fn token(base_url: &str, client_id: &str, secret: &str) -> String {
    let response = Client::new()
        .post(format!("{base_url}/auth/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().unwrap().to_owned()
}

async fn post(
    base_url: &str,
    token: &str,
    path: &str,
    key: Option<(&str, &str)>,
    body: &Value,
) -> Response {
    let mut request = Client::new()
        .post(format!("{base_url}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some((name, value)) = key {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn invalid_documents_and_missing_fields_are_422_with_the_field_named() {
    let setup = setup().await;
    let base = setup.sim.base_url();
    let token = token(&base, setup.sim.client_id(), setup.sim.client_secret()).await;

    let invalid = problem(
        post(
            &base,
            &token,
            "/customers",
            None,
            &json!({"cpf": "123.456.789-00"}),
        )
        .await,
        422,
    )
    .await;
    let missing = problem(
        post(&base, &token, "/customers", None, &json!({"name": "x"})).await,
        422,
    )
    .await;
    let cnpj = problem(
        post(
            &base,
            &token,
            "/customers",
            None,
            &json!({"cpf": cpf(1).expose(), "cnpj": "12.345.678/0001-00"}),
        )
        .await,
        422,
    )
    .await;

    assert_eq!(invalid["code"], "invalid_cpf");
    assert_eq!(invalid["errors"][0]["param"], "cpf");
    assert_eq!(
        invalid["type"],
        "https://api.dinie.com.br/errors/validation-failed"
    );
    assert_eq!(missing["code"], "missing_required_field");
    assert_eq!(missing["errors"][0]["param"], "cpf");
    assert_eq!(cnpj["code"], "invalid_cnpj");
}

#[tokio::test]
async fn a_repeated_key_replays_the_first_answer_byte_for_byte_and_refuses_another_body() {
    let setup = setup().await;
    let base = setup.sim.base_url();
    let token = token(&base, setup.sim.client_id(), setup.sim.client_secret()).await;
    let body = json!({"cpf": cpf(2).expose_formatted(), "external_id": "u2"});

    let first = post(
        &base,
        &token,
        "/customers",
        Some(("Idempotency-Key", "k-1")),
        &body,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.bytes().await.unwrap();
    // The SDK's header name is the same key.
    let replay = post(
        &base,
        &token,
        "/customers",
        Some(("X-Idempotency-Key", "k-1")),
        &body,
    )
    .await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.bytes().await.unwrap(), first);
    let other = json!({"cpf": cpf(3).expose_formatted()});
    let reused = problem(
        post(
            &base,
            &token,
            "/customers",
            Some(("Idempotency-Key", "k-1")),
            &other,
        )
        .await,
        409,
    )
    .await;

    assert_eq!(reused["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn every_answer_carries_the_rate_limit_headers_and_the_sdk_base_path_works() {
    let setup = setup().await;
    let sdk_base = format!("{}/api/v3", setup.sim.root_url());
    let token = token(&sdk_base, setup.sim.client_id(), setup.sim.client_secret()).await;

    let response = Client::new()
        .get(format!("{sdk_base}/customers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let unauthenticated = Client::new()
        .get(format!("{sdk_base}/customers"))
        .send()
        .await
        .unwrap();

    for answer in [&response, &unauthenticated] {
        for header in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(answer.headers().contains_key(header), "{header}");
        }
    }
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"data": [], "has_more": false}));
    assert_eq!(problem(unauthenticated, 401).await["code"], "missing_token");
}

#[tokio::test]
async fn the_token_endpoint_requires_basic_auth_and_the_form_grant() {
    let setup = setup().await;
    let url = format!("{}/auth/token", setup.sim.base_url());
    let no_auth = Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let json_body = Client::new()
        .post(&url)
        .basic_auth(setup.sim.client_id(), Some(setup.sim.client_secret()))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();

    assert_eq!(problem(no_auth, 401).await["code"], "missing_credentials");
    assert_eq!(
        problem(json_body, 400).await["code"],
        "invalid_content_type"
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_past_the_limit() {
    let sim = dinie_sim::start(dinie_sim::SimConfig {
        rate_limit: 2,
        ..dinie_sim::SimConfig::fast()
    })
    .await
    .unwrap();
    let url = format!("{}/customers", sim.base_url());
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let response = Client::new().get(&url).send().await.unwrap();
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    let last = last.unwrap();
    assert_eq!(statuses, [401, 401, 429]);
    assert!(last.headers().contains_key("retry-after"));
    assert_eq!(last.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(problem(last, 429).await["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn the_control_api_over_http_sets_faults_and_reports_what_happened() {
    let setup = setup().await;
    let control = format!("{}/_sim", setup.sim.root_url());
    let http = Client::new();
    let added = http
        .post(format!("{control}/faults"))
        .json(&json!({"method": "GET", "path_prefix": "/loans", "status": 500, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);

    let error = setup.client.get_loan("ln_1").await.unwrap_err();

    assert!(
        matches!(error, providers::ProviderError::NotFound { .. }),
        "{error:?}"
    );
    let stats: Value = http
        .get(format!("{control}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["token_requests"], 1);
    let requests: Value = http
        .get(format!("{control}/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<u64> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|request| request["path"] == "/loans/ln_1")
        .filter_map(|request| request["status"].as_u64())
        .collect();
    assert_eq!(statuses, [500, 404]);
}

#[tokio::test]
async fn the_timer_advances_customers_and_loans_without_the_control_api() {
    let setup = crate::setup_with(
        dinie_sim::SimConfig {
            auto_advance: Some(std::time::Duration::from_millis(50)),
            ..dinie_sim::SimConfig::fast()
        },
        |_| {},
    )
    .await;
    let customer = setup
        .client
        .create_customer(&crate::new_customer(1, "user-1"), &crate::key())
        .await
        .unwrap();
    setup.sim.review_customer(&customer.id).await.unwrap();

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut status = providers::CustomerStatus::UnderReview;
    while status != providers::CustomerStatus::Active && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        status = setup
            .client
            .get_customer(&customer.id)
            .await
            .unwrap()
            .status;
    }

    assert_eq!(status, providers::CustomerStatus::Active);
    let events: Vec<String> = setup
        .sim
        .events()
        .await
        .into_iter()
        .map(|event| event.event_type)
        .collect();
    assert!(
        events.contains(&"credit_offer.available".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_idempotency_key_may_be_reused_after_24_hours() {
    let setup = setup().await;
    let base = setup.sim.base_url();
    let first_token = token(&base, setup.sim.client_id(), setup.sim.client_secret()).await;
    let first = post(
        &base,
        &first_token,
        "/customers",
        Some(("Idempotency-Key", "day-old")),
        &json!({"cpf": cpf(4).expose()}),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    setup
        .sim
        .advance_clock(std::time::Duration::from_secs(25 * 3600));
    let token = token(&base, setup.sim.client_id(), setup.sim.client_secret()).await;
    let expired = problem(
        post(&base, &first_token, "/customers", None, &json!({})).await,
        401,
    )
    .await;
    let reused = post(
        &base,
        &token,
        "/customers",
        Some(("Idempotency-Key", "day-old")),
        &json!({"cpf": cpf(5).expose()}),
    )
    .await;

    assert_eq!(expired["code"], "token_expired");
    assert_eq!(reused.status(), StatusCode::CREATED);
    assert!(!reused.headers().contains_key("idempotent-replayed"));
}
