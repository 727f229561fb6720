//! Dinie end to end: the gateway with Dinie registered against the Dinie simulator, over real HTTP
//! on 127.0.0.1. Registration through the API, the whole credit story through `/v1`, Dinie's signed
//! webhooks (duplicated and reordered by the simulator) stored exactly once, secret rotation,
//! provider failures as problems.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dinie_sim::{DeliveryFaults, Fault, SimConfig, SimHandle};
use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The client configuration for `sim`, with quick retries.
fn dinie_config(base_url: &str, sim: &SimHandle) -> dinie::Config {
    let mut config = dinie::Config::new(base_url, sim.client_id(), sim.client_secret());
    config.retries.base_delay_ms = 10;
    config.retries.max_delay_ms = 50;
    config
}

/// The gateway with Dinie registered from `config` and routed as the credit provider.
async fn gateway_with(config: dinie::Config) -> TestApp {
    TestApp::builder()
        .settings(|settings| settings.routing.credit = "dinie".into())
        .providers(move |registry, credentials| {
            dinie::register(config, credentials, registry).expect("dinie registers");
        })
        .spawn()
        .await
}

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.post_json(path, Some(&app.admin_key), Some(key), body)
        .await
}

async fn get(app: &TestApp, path: &str) -> Value {
    expect_json(app.get(path, Some(&app.admin_key)).await, StatusCode::OK).await
}

/// Registers the gateway's endpoint at Dinie through the API; returns the endpoint id.
async fn register_webhook(app: &TestApp) -> String {
    let registered = expect_json(
        post(
            app,
            "/v1/providers/dinie/webhook",
            "register-dinie",
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        registered["data"][0]["url"],
        format!("{}/webhooks/dinie", app.settings.server.public_url)
    );
    assert!(
        !registered.to_string().contains("whsec_"),
        "the secret is never returned"
    );
    registered["data"][0]["registration_id"]
        .as_str()
        .expect("registration id")
        .to_owned()
}

/// Every stored Dinie event, all pages.
async fn dinie_events(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(after) => format!("?provider=dinie&limit=100&starting_after={after}"),
            None => "?provider=dinie&limit=100".to_owned(),
        };
        let page = app.list_events(&query).await;
        let items = page["data"].as_array().cloned().unwrap_or_default();
        cursor = items
            .last()
            .and_then(|last| last["id"].as_str())
            .map(str::to_owned);
        events.extend(items);
        if page["has_more"] != true {
            return events;
        }
    }
}

/// The PNG signature, base64: a tiny "image" for KYC uploads.
fn png() -> String {
    "iVBORw0KGgo=".to_owned()
}

/// The whole story, from registration to a finished loan, through the gateway's API.
#[tokio::test]
async fn the_whole_credit_story_runs_through_the_gateway_and_every_event_lands_exactly_once() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let app = gateway_with(dinie_config(&sim.base_url(), &sim)).await;
    register_webhook(&app).await;
    sim.set_delivery_faults(DeliveryFaults {
        duplicates: 1,
        reorder_window_ms: 150,
        wrong_secret_times: 3,
        ..DeliveryFaults::default()
    })
    .await;

    // Registration and KYC.
    let customer = expect_json(
        post(
            &app,
            "/v1/customers",
            "c-1",
            &json!({"document": "529.982.247-25", "name": "Maria da Silva", "email": "maria@example.com", "external_id": "user-42"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(customer["status"], "pending_kyc");
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    for kind in ["identity_front", "selfie"] {
        let uploaded = expect_json(
            post(
                &app,
                &format!("/v1/customers/{customer_id}/documents"),
                &format!("doc-{kind}"),
                &json!({"kind": kind, "file_name": format!("{kind}.png"), "content_type": "image/png", "content_base64": png()}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(uploaded["kind"], kind);
    }
    let reviewed = get(&app, &format!("/v1/customers/{customer_id}")).await;
    assert_eq!(reviewed["status"], "under_review");
    let listed = get(&app, "/v1/customers?external_id=user-42").await;
    assert_eq!(listed["data"][0]["id"], customer_id.as_str());

    // Dinie approves; an offer appears.
    sim.approve_customer(&customer_id).await.expect("approve");
    let offers = get(
        &app,
        &format!("/v1/credit-offers?customer_id={customer_id}"),
    )
    .await;
    let offer = &offers["data"][0];
    assert_eq!(offer["status"], "available");
    assert_eq!(
        offer["approved_amount"],
        json!({"amount": "50000.00", "currency": "BRL"})
    );
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&app, &format!("/v1/credit-offers/{offer_id}")).await["monthly_interest_rate"],
        "3.5"
    );

    // Simulate and take the loan.
    let simulation = expect_json(
        post(
            &app,
            &format!("/v1/credit-offers/{offer_id}/simulations"),
            "sim-1",
            &json!({"amount": "25000.00", "installments": 12}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        simulation["net_amount"],
        json!({"amount": "24250.00", "currency": "BRL"})
    );
    assert_eq!(
        simulation["total_amount"],
        json!({"amount": "35500.00", "currency": "BRL"})
    );
    let loan = expect_json(
        post(
            &app,
            "/v1/loans",
            "loan-1",
            &json!({"credit_offer_id": offer_id, "simulation_id": simulation["id"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(loan["status"], "processing");
    assert_eq!(loan["customer_id"], customer_id.as_str());
    let loan_id = loan["id"].as_str().unwrap().to_owned();

    // Dinie runs the loan to its end: contract, signatures, disbursement, 12 payments.
    sim.finish_loan(&loan_id).await.expect("finish");
    let finished = get(&app, &format!("/v1/loans/{loan_id}")).await;
    assert_eq!(finished["status"], "finished");
    assert_eq!(
        finished["net_amount"],
        json!({"amount": "24250.00", "currency": "BRL"})
    );
    let installments = get(&app, &format!("/v1/loans/{loan_id}/installments")).await;
    let installments = installments["data"].as_array().unwrap().clone();
    assert_eq!(installments.len(), 12);
    assert!(installments.iter().all(|item| item["status"] == "paid"));

    // Every event Dinie emitted is stored exactly once, despite duplicates and reordering.
    assert!(
        sim.wait_for_deliveries(Duration::from_secs(30)).await,
        "deliveries still pending"
    );
    let emitted = sim.events().await;
    assert_eq!(emitted.len(), 25);
    let stored = eventually(Duration::from_secs(10), || async {
        let stored = dinie_events(&app).await;
        (stored.len() >= emitted.len()).then_some(stored)
    })
    .await
    .expect("every event stored");
    assert_eq!(stored.len(), emitted.len(), "no event stored twice");
    let mut by_key: HashMap<String, Value> = HashMap::new();
    for event in stored {
        let key = event["dedup_key"].as_str().unwrap().to_owned();
        assert!(by_key.insert(key, event).is_none(), "duplicate dedup key");
    }
    for event in &emitted {
        let stored = &by_key[&event.id];
        assert_eq!(stored["provider_event_type"], event.event_type.as_str());
        assert_eq!(stored["type"], event.event_type.as_str());
    }
    let rows: i64 = sqlx::query_scalar("select count(*) from event where provider = 'dinie'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 25);

    // The simulator did duplicate and reorder.
    let attempts = sim.delivery_attempts().await;
    assert!(
        attempts.len() >= 2 * emitted.len(),
        "{} attempts",
        attempts.len()
    );
    let emitted_order: HashMap<&str, usize> = emitted
        .iter()
        .enumerate()
        .map(|(index, event)| (event.id.as_str(), index))
        .collect();
    let delivered_order: Vec<usize> = attempts
        .iter()
        .map(|attempt| emitted_order[attempt.event_id.as_str()])
        .collect();
    assert!(
        delivered_order.windows(2).any(|pair| pair[0] > pair[1]),
        "deliveries arrived in emission order: {delivered_order:?}"
    );

    // Deliveries signed with a wrong secret were refused, then retried and stored.
    let forged: Vec<_> = attempts
        .iter()
        .filter(|attempt| attempt.wrong_secret)
        .collect();
    assert_eq!(forged.len(), 3);
    assert!(forged.iter().all(|attempt| attempt.status == Some(401)));

    // Amounts are exact in the stored events.
    let active = by_key
        .values()
        .find(|event| event["type"] == "loan.active")
        .unwrap();
    assert_eq!(
        active["data"]["net_amount"],
        json!({"amount": "24250.00", "currency": "BRL"})
    );
    assert_eq!(active["data"]["loan_id"], loan_id.as_str());
    let mut paid: Vec<(u64, String)> = by_key
        .values()
        .filter(|event| event["type"] == "loan.payment_received")
        .map(|event| {
            (
                event["data"]["payment"]["installment_number"]
                    .as_u64()
                    .unwrap(),
                event["data"]["payment"]["amount"]["amount"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    paid.sort();
    let expected: Vec<(u64, String)> = installments
        .iter()
        .map(|item| {
            (
                item["number"].as_u64().unwrap(),
                item["amount"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(paid, expected);
    let created = by_key
        .values()
        .find(|event| event["type"] == "customer.created")
        .unwrap();
    assert_eq!(created["resource"]["correlation_id"], "user-42");
}

/// Signs `body` as Dinie would with `secrets` and posts it to the gateway's Dinie endpoint.
async fn deliver(app: &TestApp, secrets: &[String], webhook_id: &str, body: &str) -> StatusCode {
    let timestamp = chrono::Utc::now().timestamp();
    let signature =
        dinie_sim::sign_webhook(secrets, webhook_id, timestamp, body.as_bytes()).expect("signs");
    app.client
        .post(format!("{}/webhooks/dinie", app.address))
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("sent")
        .status()
}

fn loan_event(id: &str) -> String {
    json!({"type": "loan.signed", "timestamp": "2026-03-04T12:00:00Z", "data": {"id": id, "status": "signed", "ccb_number": "CCB-1"}}).to_string()
}

#[tokio::test]
async fn a_rotation_keeps_both_secrets_valid_until_the_grace_period_ends_then_only_the_new_one() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let app = gateway_with(dinie_config(&sim.base_url(), &sim)).await;
    let endpoint_id = register_webhook(&app).await;
    let old = sim.endpoint_secrets(&endpoint_id).await;
    assert_eq!(old.len(), 1);
    assert_eq!(
        deliver(&app, &old, "evt_before", &loan_event("ln_1")).await,
        StatusCode::OK
    );

    let rotated = expect_json(
        post(
            &app,
            "/v1/providers/dinie/webhook/rotate",
            "rotate-1",
            &json!({"grace_seconds": 2}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(rotated["data"][0]["previous_secret_expires_at"].is_string());
    let both = sim.endpoint_secrets(&endpoint_id).await;
    assert_eq!(
        both.len(),
        2,
        "Dinie signs with both secrets during the grace period"
    );
    let new = vec![both[0].clone()];

    // During the grace period: the dual signature, the old one alone and the new one alone.
    assert_eq!(
        deliver(&app, &both, "evt_dual", &loan_event("ln_2")).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&app, &old, "evt_old", &loan_event("ln_3")).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&app, &new, "evt_new", &loan_event("ln_4")).await,
        StatusCode::OK
    );
    // The simulator's own deliveries are dual-signed and land too.
    let customer = expect_json(
        post(
            &app,
            "/v1/customers",
            "c-rot",
            &json!({"document": "52998224725", "name": "Maria"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let landed = eventually(Duration::from_secs(10), || async {
        let events = app
            .list_events(&format!("?provider=dinie&resource_id={customer_id}"))
            .await;
        (events["data"].as_array().map_or(0, Vec::len) == 1).then_some(())
    })
    .await;
    assert!(landed.is_some(), "customer.created was not stored");

    // After the grace period, only the new secret.
    // A precondition, not a wait for an outcome: the two-second grace period must be over.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let problem = app
        .client
        .post(format!("{}/webhooks/dinie", app.address))
        .send()
        .await
        .unwrap();
    expect_problem(
        problem,
        StatusCode::UNAUTHORIZED,
        "webhook_missing_credential",
    )
    .await;
    assert_eq!(
        deliver(&app, &old, "evt_old_late", &loan_event("ln_5")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&app, &new, "evt_new_late", &loan_event("ln_6")).await,
        StatusCode::OK
    );
    assert_eq!(sim.endpoint_secrets(&endpoint_id).await, new);
}

#[tokio::test]
async fn a_hand_registered_endpoint_works_with_its_secret_from_the_configuration() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
    let mut config = dinie_config(&sim.base_url(), &sim);
    config.webhook_secrets = vec![secret.clone().into()];
    let app = gateway_with(config).await;

    let accepted = deliver(&app, &[secret], "evt_hand", &loan_event("ln_7")).await;
    let other = deliver(
        &app,
        &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned()],
        "evt_forged",
        &loan_event("ln_8"),
    )
    .await;
    let unknown = deliver(
        &app,
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
        "evt_unknown",
        &json!({"type": "loan.restructured", "timestamp": "2026-03-04T12:00:00Z", "data": {"id": "ln_9"}}).to_string(),
    )
    .await;

    assert_eq!(accepted, StatusCode::OK);
    assert_eq!(other, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, StatusCode::OK);
    let events = app.list_events("?provider=dinie").await;
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&"loan.signed"));
    assert!(types.contains(&"dinie.unrecognized"));
}

#[tokio::test]
async fn provider_refusals_come_back_as_problems_with_the_gateway_code_and_the_providers_code() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let app = gateway_with(dinie_config(&sim.base_url(), &sim)).await;
    let customer = expect_json(
        post(
            &app,
            "/v1/customers",
            "c-1",
            &json!({"document": "529.982.247-25", "name": "Maria", "external_id": "a"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let offer_id = sim.create_offer(&customer_id).await.expect("offer");

    let conflict = post(
        &app,
        "/v1/customers",
        "c-2",
        &json!({"document": "529.982.247-25", "name": "Maria", "external_id": "b"}),
    )
    .await;
    let out_of_range = post(
        &app,
        &format!("/v1/credit-offers/{offer_id}/simulations"),
        "s-1",
        &json!({"amount": "99999.00", "installments": 12}),
    )
    .await;
    let simulation = expect_json(
        post(
            &app,
            &format!("/v1/credit-offers/{offer_id}/simulations"),
            "s-2",
            &json!({"amount": "2000.00", "installments": 12}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let no_kyc = post(
        &app,
        "/v1/loans",
        "l-1",
        &json!({"credit_offer_id": offer_id, "simulation_id": simulation["id"]}),
    )
    .await;
    let missing = app
        .get("/v1/loans/ln_does_not_exist", Some(&app.admin_key))
        .await;
    let invalid_document = post(
        &app,
        "/v1/customers",
        "c-3",
        &json!({"document": "123.456.789-00", "name": "X"}),
    )
    .await;

    let conflict = expect_problem(conflict, StatusCode::CONFLICT, "provider_conflict").await;
    assert_eq!(conflict["provider_code"], "customer_already_exists");
    let out_of_range = expect_problem(
        out_of_range,
        StatusCode::UNPROCESSABLE_ENTITY,
        "provider_rejected",
    )
    .await;
    assert_eq!(out_of_range["provider_code"], "amount_out_of_range");
    let no_kyc = expect_problem(
        no_kyc,
        StatusCode::UNPROCESSABLE_ENTITY,
        "provider_rejected",
    )
    .await;
    assert_eq!(no_kyc["provider_code"], "kyc_incomplete");
    expect_problem(missing, StatusCode::NOT_FOUND, "provider_not_found").await;
    let invalid = expect_problem(
        invalid_document,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(invalid["errors"][0]["pointer"], "/document");
    let posts = sim
        .requests()
        .await
        .into_iter()
        .filter(|request| request.method == "POST" && request.path == "/customers")
        .count();
    assert_eq!(posts, 2, "an invalid document never reaches Dinie");
}

#[tokio::test]
async fn a_client_retry_after_a_provider_outage_reaches_dinie_with_the_same_key() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let app = gateway_with(dinie_config(&sim.base_url(), &sim)).await;
    sim.add_fault(Fault {
        method: Some("POST".into()),
        path_prefix: Some("/customers".into()),
        status: Some(503),
        times: Some(3),
        ..Fault::default()
    })
    .await;
    let body = json!({"document": "529.982.247-25", "name": "Maria", "external_id": "r"});

    let first = post(&app, "/v1/customers", "retry-me", &body).await;
    expect_problem(first, StatusCode::BAD_GATEWAY, "provider_unavailable").await;
    let second = post(&app, "/v1/customers", "retry-me", &body).await;
    expect_json(second, StatusCode::CREATED).await;

    let keys: Vec<Option<String>> = sim
        .requests()
        .await
        .into_iter()
        .filter(|request| request.method == "POST" && request.path == "/customers")
        .map(|request| request.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(keys[0].is_some());
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
}

#[tokio::test]
async fn a_dinie_that_is_down_answers_502_and_a_slow_one_504_never_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let down = gateway_with(dinie_config(&format!("http://{dead}/v3"), &sim)).await;
    let mut slow_config = dinie_config(&sim.base_url(), &sim);
    slow_config.timeout_ms = 300;
    slow_config.total_timeout_ms = 900;
    let slow = gateway_with(slow_config).await;
    sim.add_fault(Fault {
        method: Some("GET".into()),
        path_prefix: Some("/loans".into()),
        delay_ms: Some(10_000),
        ..Fault::default()
    })
    .await;

    let started = Instant::now();
    let unavailable = down.get("/v1/loans/ln_1", Some(&down.admin_key)).await;
    let timed_out = slow.get("/v1/loans/ln_1", Some(&slow.admin_key)).await;

    expect_problem(unavailable, StatusCode::BAD_GATEWAY, "provider_unavailable").await;
    expect_problem(timed_out, StatusCode::GATEWAY_TIMEOUT, "provider_timeout").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_a_credit_provider_the_credit_api_is_unavailable() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/loans/ln_1", Some(&app.admin_key)).await;
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "capability_unavailable",
    )
    .await;
}

#[tokio::test]
async fn the_credit_api_needs_the_credit_scopes() {
    let sim = dinie_sim::start(SimConfig::fast()).await.expect("sim");
    let app = gateway_with(dinie_config(&sim.base_url(), &sim)).await;
    let events_only = app.key_with(&[gateway::keys::Scope::EventsRead]).await;
    let read = app.get("/v1/loans/ln_1", Some(&events_only)).await;
    let write = app
        .post_json(
            "/v1/customers",
            Some(&events_only),
            Some("k"),
            &json!({"document": "52998224725", "name": "M"}),
        )
        .await;
    expect_problem(read, StatusCode::FORBIDDEN, "insufficient_scope").await;
    expect_problem(write, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(sim.requests().await.is_empty());
}

#[tokio::test]
async fn the_credit_api_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let document = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let paths = &document["paths"];
    for (path, methods) in [
        ("/v1/customers", &["get", "post"][..]),
        ("/v1/customers/{id}", &["get"]),
        ("/v1/customers/{id}/documents", &["post"]),
        ("/v1/credit-offers", &["get"]),
        ("/v1/credit-offers/{id}", &["get"]),
        ("/v1/credit-offers/{id}/simulations", &["post"]),
        ("/v1/loans", &["post"]),
        ("/v1/loans/{id}", &["get"]),
        ("/v1/loans/{id}/installments", &["get"]),
    ] {
        for method in methods {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} missing from /openapi.json"
            );
        }
    }
    assert!(
        document["components"]["schemas"]["Problem"]["properties"]["provider_code"].is_object()
    );
}
