//! Delbank end to end: the gateway with Delbank registered against the simulator (in-process on
//! 127.0.0.1), webhook self-registration through the API, then the banking API — accounts approved
//! and rejected, a Pix charge paid, a Pix that succeeds and one that fails, a refund — while the
//! simulator duplicates every delivery; every webhook lands in Postgres exactly once.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use delbank::{AuthScheme, Config};
use delbank_sim::{SimConfig, SimHandle};
use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::eventually;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn delbank_config(sim: &SimHandle, scheme: AuthScheme) -> Config {
    Config {
        enabled: true,
        base_url: sim.base_url().to_owned(),
        api_key: SecretString::from("sim-key-31712"),
        account_id: "31712".to_owned(),
        timeout_secs: 5,
        retries: 1,
        retry_base_delay_ms: 20,
        webhook_scheme: scheme,
        webhooks: Vec::new(),
        confirm_by_fetch: true,
    }
}

async fn gateway_with(config: Config) -> TestApp {
    TestApp::builder()
        .settings(|settings| settings.routing.banking = "delbank".to_owned())
        .providers(move |registry, credentials| {
            delbank::register(config, credentials, registry).expect("delbank registers");
        })
        .spawn()
        .await
}

async fn sim() -> SimHandle {
    let mut config = SimConfig::standard();
    config.delivery.base_delay = Duration::from_millis(50);
    delbank_sim::start(config).await.expect("simulator starts")
}

impl Gateway<'_> {
    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        let key = uuid::Uuid::now_v7().to_string();
        self.app
            .post_json(path, Some(&self.app.admin_key), Some(&key), body)
            .await
    }

    async fn get(&self, path: &str) -> Value {
        expect_json(
            self.app.get(path, Some(&self.app.admin_key)).await,
            StatusCode::OK,
        )
        .await
    }

    /// Waits for a stored Delbank event of `event_type` matching `filter`.
    async fn event(&self, event_type: &str, filter: impl Fn(&Value) -> bool) -> Value {
        let found = eventually(WAIT, || async {
            let events = self
                .get(&format!(
                    "/v1/events?provider=delbank&type={event_type}&limit=100"
                ))
                .await;
            events["data"]
                .as_array()
                .and_then(|events| events.iter().find(|event| filter(event)).cloned())
        })
        .await;
        found.unwrap_or_else(|| panic!("no {event_type} event arrived"))
    }
}

struct Gateway<'a> {
    app: &'a TestApp,
}

async fn register_webhooks(gateway: &Gateway<'_>) -> Value {
    let registered = expect_json(
        gateway
            .post("/v1/providers/delbank/webhooks", &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        registered["data"].as_array().unwrap().len(),
        delbank::webhook::EVENT_TYPES.len()
    );
    registered
}

#[tokio::test]
async fn the_delbank_story_lands_every_webhook_in_postgres_exactly_once_despite_duplicates() {
    let sim = sim().await;
    sim.control()
        .update_knobs(|knobs| knobs.duplicate_deliveries = true);
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;
    let gateway = Gateway { app: &app };
    register_webhooks(&gateway).await;

    // Onboarding, approved.
    let approved = expect_json(
        gateway
            .post(
                "/v1/accounts",
                &json!({"holder_document": "529.982.247-25", "name": "Maria da Silva", "email": "maria@example.com"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(approved["status"], "pending_documentation");
    let account_id = approved["id"].as_str().unwrap().to_owned();
    for kind in ["selfie", "driver_license_full"] {
        let uploaded = expect_json(
            gateway
                .post(
                    &format!("/v1/accounts/{account_id}/documents"),
                    &json!({"kind": kind, "content_base64": "aGVsbG8="}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(uploaded["holder_document"], "52998224725");
    }
    let under_review = gateway.get(&format!("/v1/accounts/{account_id}")).await;
    assert_eq!(under_review["status"], "under_review");
    let number = sim.control().approve_customer("52998224725").unwrap();
    let event = gateway
        .event("account.approved", |event| {
            event["data"]["account"] == number.as_str()
        })
        .await;
    assert_eq!(event["data"]["holder"]["document"]["value"], "52998224725");
    // The payload has no time of its own: the event's time is its receipt, and a time filter finds it.
    assert_eq!(event["occurred_at_source"], "received");
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let recent = gateway
        .get(&format!(
            "/v1/events?provider=delbank&type=account.approved&from={since}"
        ))
        .await;
    assert!(
        recent["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == event["id"]),
        "{recent}"
    );
    let account = gateway.get(&format!("/v1/accounts/{account_id}")).await;
    assert_eq!(account["status"], "approved");
    assert_eq!(account["number"], number.as_str());
    let balance = gateway
        .get(&format!("/v1/accounts/{account_id}/balance"))
        .await;
    assert_eq!(
        balance["available"],
        json!({"amount": "0.00", "currency": "BRL"})
    );

    // Onboarding, rejected.
    let rejected = expect_json(
        gateway
            .post(
                "/v1/accounts",
                &json!({"holder_document": "11.444.777/0001-61", "name": "Padaria Pão Quente Ltda"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let rejected_id = rejected["id"].as_str().unwrap().to_owned();
    expect_json(
        gateway
            .post(
                &format!("/v1/accounts/{rejected_id}/documents"),
                &json!({"kind": "articles_of_association", "content_base64": "aGVsbG8="}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    sim.control().reject_customer("11444777000161").unwrap();
    gateway
        .event("account.documentation_rejected", |event| {
            event["data"]["holder"]["document"]["value"] == "11444777000161"
        })
        .await;
    let rejected = gateway.get(&format!("/v1/accounts/{rejected_id}")).await;
    assert_eq!(rejected["status"], "documentation_rejected");

    // A Pix charge, created and paid.
    let charge = expect_json(
        gateway
            .post(
                "/v1/charges",
                &json!({"kind": "pix_dynamic", "amount": "150.00", "description": "pedido 42"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(charge["status"], "pending");
    assert!(
        charge["pix_copy_paste"]
            .as_str()
            .unwrap()
            .starts_with("000201")
    );
    let charge_id = charge["id"].as_str().unwrap().to_owned();
    let received_id = sim.control().pay_charge(&charge_id).unwrap();
    let received = gateway
        .event("pix.received", |event| {
            event["resource"]["id"] == received_id.as_str()
        })
        .await;
    assert_eq!(received["resource"]["correlation_id"], charge_id.as_str());
    assert_eq!(
        received["data"]["amount"],
        json!({"amount": "150.00", "currency": "BRL"})
    );
    assert_eq!(received["data"]["payee"]["account"], "31712");
    assert_eq!(
        received["data"]["payee"]["document"]["value"],
        "11222333000181"
    );
    let paid = gateway.get(&format!("/v1/charges/{charge_id}")).await;
    assert_eq!(paid["status"], "paid");
    let charges = gateway.get("/v1/charges?limit=10").await;
    assert_eq!(charges["data"].as_array().unwrap().len(), 1);

    // A Pix that succeeds and one that fails.
    let sent = expect_json(
        gateway
            .post(
                "/v1/pix/transfers",
                &json!({"amount": "12.12", "destination": {"key": "maria@example.com"}, "description": "fornecedor"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(sent["status"], "processing");
    let sent_e2e = sent["end_to_end_id"].as_str().unwrap().to_owned();
    let completed = gateway
        .event("pix.transfer.completed", |event| {
            event["resource"]["id"] == sent_e2e.as_str()
        })
        .await;
    assert_eq!(
        completed["data"]["amount"],
        json!({"amount": "12.12", "currency": "BRL"})
    );
    let failing = expect_json(
        gateway
            .post(
                "/v1/pix/transfers",
                &json!({"amount": "30.00", "destination": {"key": "bloqueada.ac06@example.com"}}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let failing_e2e = failing["end_to_end_id"].as_str().unwrap().to_owned();
    let failed = gateway
        .event("pix.transfer.failed", |event| {
            event["resource"]["id"] == failing_e2e.as_str()
        })
        .await;
    assert_eq!(failed["data"]["failure"]["code"], "AC06");
    let failing_id = failing["id"].as_str().unwrap();
    let transfer = gateway
        .get(&format!("/v1/pix/transfers/{failing_id}"))
        .await;
    assert_eq!(transfer["status"], "failed");
    assert_eq!(transfer["failure_code"], "AC06");

    // A refund of the received Pix.
    let refund = expect_json(
        gateway
            .post(
                &format!("/v1/pix/transfers/{received_id}/refund"),
                &json!({"amount": "50.00", "reason": "desistência"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(refund["status"], "processing");
    let refund_e2e = refund["end_to_end_id"].as_str().unwrap().to_owned();
    let refunded = gateway
        .event("pix.transfer.completed", |event| {
            event["resource"]["id"] == refund_e2e.as_str()
        })
        .await;
    assert_eq!(refunded["resource"]["kind"], "pix_refund");
    assert_eq!(refunded["data"]["operation"], "refund");
    let statement = gateway.get("/v1/accounts/31712/statement?limit=50").await;
    let kinds: HashSet<&str> = statement["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["kind"].as_str())
        .collect();
    assert!(
        kinds.contains("DEBIT_PIX_REFUND") && kinds.contains("CREDIT_PIX"),
        "{kinds:?}"
    );

    // Every distinct webhook was delivered twice, acknowledged, and stored exactly once.
    let settled = eventually(WAIT, || async {
        let deliveries = sim.control().deliveries();
        let mut by_body: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for delivery in &deliveries {
            if let Some(status) = delivery.status {
                by_body
                    .entry(delivery.body.clone())
                    .or_default()
                    .push(status);
            }
        }
        let all_twice = by_body
            .values()
            .all(|statuses| statuses.iter().filter(|status| **status == 200).count() >= 2);
        (all_twice && by_body.len() >= 6).then_some(by_body)
    })
    .await
    .expect("every delivery acknowledged twice");
    let stored: i64 = sqlx::query_scalar("select count(*) from event where provider = 'delbank'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, i64::try_from(settled.len()).unwrap());
    let duplicated: i64 = sqlx::query_scalar(
        "select count(*) from (select dedup_key from event where provider = 'delbank' group by dedup_key having count(*) > 1) d",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(duplicated, 0);
    let listed = gateway.get("/v1/events?provider=delbank&limit=100").await;
    let types: HashSet<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    for expected in [
        "account.approved",
        "account.documentation_rejected",
        "pix.received",
        "pix.transfer.completed",
        "pix.transfer.failed",
    ] {
        assert!(
            types.contains(expected),
            "{expected} missing from {types:?}"
        );
    }
    sim.shutdown().await;
}

/// The credential Delbank sends to the registration at `path`, read back from the simulator
/// (Delbank returns `authorization` in clear); for HEADER, the header's value.
async fn sim_credential(sim: &SimHandle, path: &str) -> String {
    let webhooks: Value = reqwest::Client::new()
        .get(format!("{}/baas/api/v1/webhooks", sim.base_url()))
        .header("x-delbank-api-key", "sim-key-31712")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook = webhooks
        .as_array()
        .unwrap()
        .iter()
        .find(|webhook| webhook["url"].as_str().unwrap().ends_with(path))
        .unwrap_or_else(|| panic!("no registration for {path}"));
    let authorization = webhook["authorization"].as_str().unwrap();
    match authorization.split_once(':') {
        Some((_, value)) if webhook["authorizationScheme"] == "HEADER" => value.trim().to_owned(),
        _ => authorization.to_owned(),
    }
}

async fn post_webhook(
    app: &TestApp,
    path: &str,
    header: Option<(&str, String)>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/webhooks/delbank{path}", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

fn paths_by_type(registered: &Value) -> BTreeMap<String, String> {
    registered["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|registration| {
            let url = registration["url"].as_str().unwrap();
            let path = url.split("/webhooks/delbank").nth(1).unwrap().to_owned();
            (
                registration["event_types"][0].as_str().unwrap().to_owned(),
                path,
            )
        })
        .collect()
}

const PIX_RECEIVED_BODY: &str = r#"{"eventType":"PIX_RECEIVED","correlationId":"c-1","endToEndId":"E18236120202507111532s0123456789","amount":12.12,"createdAt":"2025-07-11T15:32:41Z","proof":{"status":"PIX_EFFECTIVE","amount":12.12}}"#;

#[tokio::test]
async fn each_scheme_accepts_its_credential_and_refuses_wrong_missing_and_foreign_ones() {
    for (scheme, header) in [
        (AuthScheme::Bearer, "authorization"),
        (AuthScheme::Basic, "authorization"),
        (AuthScheme::Header, "x-paygate-webhook-token"),
    ] {
        let sim = sim().await;
        let app = gateway_with(delbank_config(&sim, scheme)).await;
        let gateway = Gateway { app: &app };
        let paths = paths_by_type(&register_webhooks(&gateway).await);
        let pix_path = &paths["PIX_RECEIVED"];
        let charge_path = &paths["CHARGE_PAID"];
        let secret = sim_credential(&sim, pix_path).await;
        let foreign = sim_credential(&sim, charge_path).await;
        let with_prefix = |value: &str| match scheme {
            AuthScheme::Bearer => format!("Bearer {value}"),
            AuthScheme::Basic => format!("Basic {value}"),
            AuthScheme::Header => value.to_owned(),
        };

        let wrong = post_webhook(
            &app,
            pix_path,
            Some((header, with_prefix("nope"))),
            PIX_RECEIVED_BODY,
        )
        .await;
        expect_problem(wrong, StatusCode::UNAUTHORIZED, "webhook_invalid_signature").await;
        let missing = post_webhook(&app, pix_path, None, PIX_RECEIVED_BODY).await;
        expect_problem(
            missing,
            StatusCode::UNAUTHORIZED,
            "webhook_missing_credential",
        )
        .await;
        let other = post_webhook(
            &app,
            pix_path,
            Some((header, with_prefix(&foreign))),
            PIX_RECEIVED_BODY,
        )
        .await;
        expect_problem(other, StatusCode::UNAUTHORIZED, "webhook_invalid_signature").await;
        let unknown = post_webhook(
            &app,
            "/pix-received-000000000000",
            Some((header, with_prefix(&secret))),
            PIX_RECEIVED_BODY,
        )
        .await;
        expect_problem(
            unknown,
            StatusCode::UNAUTHORIZED,
            "webhook_unknown_registration",
        )
        .await;
        assert_eq!(app.count("event").await, 0);

        let right = post_webhook(
            &app,
            pix_path,
            Some((header, with_prefix(&secret))),
            PIX_RECEIVED_BODY,
        )
        .await;
        let receipt = expect_json(right, StatusCode::OK).await;
        assert_eq!(receipt["status"], "stored");
        let event = gateway
            .get(&format!(
                "/v1/events/{}",
                receipt["events"][0]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(event["type"], "pix.received");
        assert_eq!(
            event["data"]["amount"],
            json!({"amount": "12.12", "currency": "BRL"})
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_rotated_credential_keeps_the_old_one_valid_during_the_grace_period() {
    let sim = sim().await;
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;
    let gateway = Gateway { app: &app };
    let registered = register_webhooks(&gateway).await;
    let paths = paths_by_type(&registered);
    let pix_path = paths["PIX_RECEIVED"].clone();
    let old = sim_credential(&sim, &pix_path).await;
    let registration_id = registered["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|registration| registration["event_types"][0] == "PIX_RECEIVED")
        .unwrap()["registration_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = expect_json(
        gateway
            .post(
                "/v1/providers/delbank/webhooks/rotate",
                &json!({"grace_seconds": 600, "registration_id": registration_id}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(rotated["data"][0]["previous_secret_expires_at"].is_string());
    let new = sim_credential(&sim, &pix_path).await;
    assert_ne!(old, new);

    let with_old = post_webhook(
        &app,
        &pix_path,
        Some(("authorization", format!("Bearer {old}"))),
        PIX_RECEIVED_BODY,
    )
    .await;
    expect_json(with_old, StatusCode::OK).await;
    let with_new = post_webhook(
        &app,
        &pix_path,
        Some(("authorization", new)),
        PIX_RECEIVED_BODY,
    )
    .await;
    let receipt = expect_json(with_new, StatusCode::OK).await;
    assert_eq!(receipt["events"][0]["duplicate"], true);
    // Deliveries from Delbank now carry the new credential and are accepted.
    let charge = expect_json(
        gateway
            .post(
                "/v1/charges",
                &json!({"kind": "pix_dynamic", "amount": "9.99"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let e2e = sim
        .control()
        .pay_charge(charge["id"].as_str().unwrap())
        .unwrap();
    gateway
        .event("pix.received", |event| {
            event["resource"]["id"] == e2e.as_str()
        })
        .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delivery_with_a_wrong_credential_is_refused_then_retried_and_stored_once() {
    let sim = sim().await;
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;
    let gateway = Gateway { app: &app };
    register_webhooks(&gateway).await;
    sim.control()
        .update_knobs(|knobs| knobs.wrong_credential_deliveries = 1);

    let e2e = sim
        .control()
        .pix_in(delbank_sim::PixIn {
            account: None,
            amount: rust_decimal::Decimal::new(4321, 2),
            correlation_id: None,
            payer_name: None,
            payer_document: None,
            payer_ispb: None,
        })
        .unwrap();
    let event = gateway
        .event("pix.received", |event| {
            event["resource"]["id"] == e2e.as_str()
        })
        .await;

    assert_eq!(
        event["data"]["amount"],
        json!({"amount": "43.21", "currency": "BRL"})
    );
    let attempts: Vec<Option<u16>> = sim
        .control()
        .deliveries()
        .iter()
        .filter(|delivery| delivery.event_type == "PIX_RECEIVED")
        .map(|delivery| delivery.status)
        .collect();
    assert_eq!(attempts, [Some(401), Some(200)]);
    assert_eq!(app.count("event").await, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delbank_that_is_down_or_too_slow_is_a_502_or_504_never_a_hang() {
    let sim = sim().await;
    let mut config = delbank_config(&sim, AuthScheme::Bearer);
    config.timeout_secs = 1;
    config.retries = 0;
    let app = gateway_with(config).await;
    let gateway = Gateway { app: &app };

    sim.control()
        .update_knobs(|knobs| knobs.api_delay_ms = 3_000);
    let slow = app.get("/v1/charges/any", Some(&app.admin_key)).await;
    expect_problem(slow, StatusCode::GATEWAY_TIMEOUT, "provider_timeout").await;
    sim.control().update_knobs(|knobs| knobs.api_delay_ms = 0);

    let missing = app.get("/v1/charges/any", Some(&app.admin_key)).await;
    expect_problem(missing, StatusCode::NOT_FOUND, "provider_not_found").await;
    let invalid = gateway
        .post(
            "/v1/charges",
            &json!({"kind": "pix_dynamic", "amount": "1.001"}),
        )
        .await;
    expect_problem(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    sim.shutdown().await;
    let down = gateway
        .post(
            "/v1/pix/transfers",
            &json!({"amount": "1.00", "destination": {"key": "x@example.com"}}),
        )
        .await;
    expect_problem(down, StatusCode::BAD_GATEWAY, "provider_unavailable").await;
}

#[tokio::test]
async fn pix_keys_are_created_listed_and_deleted_through_the_api() {
    let sim = sim().await;
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;
    let gateway = Gateway { app: &app };

    let created = expect_json(
        gateway
            .post(
                "/v1/pix/keys",
                &json!({"kind": "email", "value": "financeiro@example.com"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        gateway.post("/v1/pix/keys", &json!({"kind": "evp"})).await,
        StatusCode::CREATED,
    )
    .await;
    let listed = gateway.get("/v1/pix/keys").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let id = created["id"].as_str().unwrap();
    let deleted = app
        .client
        .delete(format!("{}/v1/pix/keys/{id}", app.address))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed = gateway.get("/v1/pix/keys").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["kind"], "evp");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_banking_api_is_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let document = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/accounts", "post"),
        ("/v1/accounts/{id}", "get"),
        ("/v1/accounts/{id}/documents", "post"),
        ("/v1/accounts/{id}/balance", "get"),
        ("/v1/accounts/{id}/statement", "get"),
        ("/v1/charges", "post"),
        ("/v1/charges", "get"),
        ("/v1/charges/{id}", "get"),
        ("/v1/charges/{id}/cancel", "post"),
        ("/v1/pix/transfers", "post"),
        ("/v1/pix/transfers", "get"),
        ("/v1/pix/transfers/{id}", "get"),
        ("/v1/pix/transfers/{id}/refund", "post"),
        ("/v1/pix/keys", "post"),
        ("/v1/pix/keys", "get"),
        ("/v1/pix/keys/{id}", "delete"),
    ] {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
}

#[tokio::test]
async fn an_unknown_account_is_a_404_not_a_provider_credential_failure() {
    let sim = sim().await;
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;

    // Delbank answers 401 for an account the API key does not own; the key itself is good.
    let unknown = app
        .get("/v1/accounts/99999/balance", Some(&app.admin_key))
        .await;
    let problem = expect_problem(unknown, StatusCode::NOT_FOUND, "provider_not_found").await;
    // What Delbank itself answered is kept beside the gateway's code.
    assert_eq!(problem["provider_code"], "http_401", "{problem}");
    // An id with control characters or non-ASCII text (it travels in a header) names no account:
    // 404 as well, never a 502 from a request that could not be built.
    for id in ["a%0Eb", "%C3%A7", "a%20b"] {
        let impossible = app
            .get(&format!("/v1/accounts/{id}/balance"), Some(&app.admin_key))
            .await;
        expect_problem(impossible, StatusCode::NOT_FOUND, "provider_not_found").await;
    }

    // A key Delbank does not know is still the gateway's credential failure.
    let mut wrong = delbank_config(&sim, AuthScheme::Bearer);
    wrong.api_key = SecretString::from("not-a-key");
    let misconfigured = gateway_with(wrong).await;
    let refused = misconfigured
        .get("/v1/accounts/99999/balance", Some(&misconfigured.admin_key))
        .await;
    expect_problem(refused, StatusCode::BAD_GATEWAY, "provider_unauthorized").await;
    sim.shutdown().await;
}

/// Delbank's onboarding webhooks carry no id and no time: a redelivery of a rejection and a second
/// rejection after the holder sent documents again have the same body. The first must dedupe, the
/// second must not.
#[tokio::test]
async fn a_second_rejection_after_new_documents_is_a_new_event_and_a_redelivery_is_not() {
    let sim = sim().await;
    sim.control()
        .update_knobs(|knobs| knobs.duplicate_deliveries = true);
    let app = gateway_with(delbank_config(&sim, AuthScheme::Bearer)).await;
    let gateway = Gateway { app: &app };
    register_webhooks(&gateway).await;
    let opened = expect_json(
        gateway
            .post(
                "/v1/accounts",
                &json!({"holder_document": "11.444.777/0001-61", "name": "Padaria Pão Quente Ltda"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = opened["id"].as_str().unwrap().to_owned();
    let rejections = || async {
        let listed = gateway
            .get("/v1/events?provider=delbank&type=account.documentation_rejected")
            .await;
        listed["data"].as_array().unwrap().len()
    };
    let deliveries_of_rejections = || {
        sim.control()
            .deliveries()
            .into_iter()
            .filter(|delivery| {
                delivery.event_type == "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED"
                    && delivery.status.is_some_and(|status| status < 300)
            })
            .count()
    };

    for round in 1..=2 {
        expect_json(
            gateway
                .post(
                    &format!("/v1/accounts/{id}/documents"),
                    &json!({"kind": "articles_of_association", "content_base64": "aGVsbG8="}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        sim.control().reject_customer("11444777000161").unwrap();
        // Both copies of this round's rejection were delivered and acknowledged...
        eventually(WAIT, || async {
            (deliveries_of_rejections() >= 2 * round).then_some(())
        })
        .await
        .expect("the simulator delivered the rejection twice");
        // ...and made exactly one more event.
        let stored = eventually(WAIT, || async {
            let count = rejections().await;
            (count >= round).then_some(count)
        })
        .await
        .expect("the rejection is stored");
        assert_eq!(stored, round, "round {round}");
    }
    sim.shutdown().await;
}
