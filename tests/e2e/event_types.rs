//! `GET /v1/event-types` and `GET /v1/event-types/{type}`: the partner-facing catalogue of event
//! types, and the published schemas held to what the gateway really delivers over the whole demo
//! story.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::app::{TestApp, expect_json, expect_problem, test_settings};
use e2e::db::TestDb;
use e2e::receiver::Receiver;
use gateway::keys::Scope;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// A validator of a published schema: JSON Schema 2020-12, formats checked.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|error| panic!("the published schema is invalid ({error}): {schema}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect()
}

fn known_types() -> Vec<String> {
    providers::EventType::all_known()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn the_list_has_every_known_type_and_the_unrecognized_family_each_with_a_valid_example() {
    let app = TestApp::spawn().await;
    let key = app.key_with(&[Scope::EventsRead]).await;
    let list = expect_json(app.get("/v1/event-types", Some(&key)).await, StatusCode::OK).await;

    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let types: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"].as_str().unwrap())
        .collect();
    let mut expected = known_types();
    expected.push("{provider}.unrecognized".to_owned());
    assert_eq!(types, expected);
    for entry in list["data"].as_array().unwrap() {
        assert!(
            !entry["description"].as_str().unwrap().is_empty(),
            "{entry}"
        );
        assert_eq!(
            entry["data_schema"]["title"], entry["data_schema_name"],
            "{entry}"
        );
        let validator = validator(&entry["data_schema"]);
        assert_eq!(
            errors(&validator, &entry["example"]),
            Vec::<String>::new(),
            "{}",
            entry["type"]
        );
    }
}

#[tokio::test]
async fn one_type_is_served_with_its_schema_and_example_and_an_unrecognized_type_by_its_provider() {
    let app = TestApp::spawn().await;
    let one = expect_json(
        app.get("/v1/event-types/loan.active", Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["type"], "loan.active");
    assert_eq!(one["data_schema_name"], "LoanData");
    assert_eq!(one["example"]["status"], "active");
    assert_eq!(one["example"]["net_amount"]["amount"], "24250.01");
    assert_eq!(
        one["data_schema"]["$defs"]["Money"]["properties"]["amount"]["type"],
        "string"
    );
    let loan = validator(&one["data_schema"]);
    assert!(
        errors(&loan, &json!({"status": "active"})).len() == 1,
        "loan_id is required"
    );

    let unrecognized = expect_json(
        app.get("/v1/event-types/dinie.unrecognized", Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unrecognized["type"], "dinie.unrecognized");
    assert_eq!(unrecognized["data_schema_name"], "UnrecognizedData");
    let family = expect_json(
        app.get(
            "/v1/event-types/%7Bprovider%7D.unrecognized",
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(family["type"], "{provider}.unrecognized");
    assert_eq!(family["data_schema"], unrecognized["data_schema"]);
}

#[tokio::test]
async fn an_unknown_event_type_is_a_404_not_found_problem() {
    let app = TestApp::spawn().await;
    for unknown in ["loan.exploded", "Loan.active", "pix.unrecognized", "loan"] {
        let response = app
            .get(&format!("/v1/event-types/{unknown}"), Some(&app.admin_key))
            .await;
        let problem = expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        assert!(
            problem["detail"].as_str().unwrap().contains(unknown),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn the_catalogue_needs_a_key_with_events_read_or_admin() {
    let app = TestApp::spawn().await;
    let credit_only = app.key_with(&[Scope::CreditRead]).await;
    for path in ["/v1/event-types", "/v1/event-types/pix.received"] {
        expect_problem(
            app.get(path, None).await,
            StatusCode::UNAUTHORIZED,
            "api_key_missing",
        )
        .await;
        expect_problem(
            app.get(path, Some("pgk_not-a-key")).await,
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
        )
        .await;
        expect_problem(
            app.get(path, Some(&credit_only)).await,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        )
        .await;
        expect_json(app.get(path, Some(&app.admin_key)).await, StatusCode::OK).await;
    }
}

#[tokio::test]
async fn the_served_openapi_document_has_a_webhook_per_catalogue_entry() {
    let app = TestApp::spawn().await;
    let document = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert_eq!(document["openapi"], "3.1.0");
    let webhooks = document["webhooks"].as_object().unwrap();
    let mut expected = known_types();
    expected.push("{provider}.unrecognized".to_owned());
    expected.sort();
    let names: Vec<&String> = webhooks.keys().collect();
    assert_eq!(names, expected.iter().collect::<Vec<_>>());
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/event-types"));
    assert!(paths.contains_key("/v1/event-types/{type}"));
}

/// The whole demo story runs (both simulators, every flow); then a gateway on the story's
/// database replays every stored event to a new subscription, and every delivery's body must
/// validate against the published webhook schema of its type (from `/openapi.json`) and its
/// `data` against `GET /v1/event-types/{type}`. A type whose data and schema drift apart fails.
#[tokio::test]
async fn every_delivery_of_the_demo_story_validates_against_its_published_schema() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.server.port = 0;
    let database = format!("{}_demo", db.name());
    let options = paygate_demo::DemoOptions {
        exit: true,
        database: database.clone(),
        ready_file: None,
        bank: paygate_demo::DemoBank::Delbank,
    };
    let outcome = paygate_demo::run_story(settings, options).await;
    let server_url = gateway::db::server_url_of(db.url.expose_secret());
    if let Err(error) = outcome {
        drop_database(&server_url, &database).await;
        panic!("the demo story failed: {error:#}");
    }

    let checked = replay_and_validate(&db, &server_url, &database).await;
    drop_database(&server_url, &database).await;
    let (deliveries, types) = checked;
    // The story covers customers, offers, loans, Pix, accounts and reconciliation.
    assert!(deliveries >= 20, "only {deliveries} deliveries");
    for family in [
        "customer.",
        "credit_offer.",
        "loan.",
        "pix.",
        "account.",
        "reconciliation.",
    ] {
        assert!(
            types
                .keys()
                .any(|event_type| event_type.starts_with(family)),
            "the story delivered no {family}* event: {types:?}"
        );
    }
}

/// Serves the demo's database, replays everything to a receiver and validates each delivery;
/// returns how many were checked, by type.
async fn replay_and_validate(
    db: &TestDb,
    server_url: &str,
    database: &str,
) -> (usize, BTreeMap<String, usize>) {
    let url = gateway::db::ensure_database(server_url, database)
        .await
        .unwrap();
    let mut settings = test_settings(db);
    settings.database.url = url.clone();
    let pool = gateway::db::connect(&url, &settings.database)
        .await
        .unwrap();
    let app = gateway::startup::Application::compose(
        settings,
        &figment::Figment::new(),
        pool.clone(),
        Box::new(|_, _| {}),
    )
    .await
    .unwrap();
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let admin = gateway::keys::create(&pool, "catalogue-check", &[Scope::Admin])
        .await
        .unwrap();
    let client = Client {
        base,
        key: gateway::keys::reveal(&admin).to_owned(),
        http: reqwest::Client::new(),
    };

    let receiver = Receiver::start().await;
    let subscription = client
        .post(
            "/v1/subscriptions",
            json!({"url": receiver.url, "event_types": ["*"]}),
            StatusCode::CREATED,
        )
        .await;
    receiver.set_secrets(&[subscription["secret"].as_str().unwrap()]);
    let id = subscription["id"].as_str().unwrap();
    let replay = client
        .post(
            &format!("/v1/subscriptions/{id}/replay"),
            json!({"since": "2020-01-01T00:00:00Z"}),
            StatusCode::ACCEPTED,
        )
        .await;
    let replay_id = replay["id"].as_str().unwrap();
    let completed = e2e::eventually(Duration::from_secs(60), || async {
        let status = client.get(&format!("/v1/replays/{replay_id}")).await;
        (status["status"] == "completed").then_some(status)
    })
    .await
    .expect("the replay completes");
    let enqueued = usize::try_from(completed["enqueued"].as_i64().unwrap()).unwrap();
    let received = receiver
        .wait_for_successes(enqueued, Duration::from_secs(120))
        .await;

    let document = client.get("/openapi.json").await;
    let mut schemas: BTreeMap<String, (jsonschema::Validator, jsonschema::Validator)> =
        BTreeMap::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &received {
        assert!(!delivery.verified_with.is_empty(), "unsigned delivery");
        let event_type = delivery.body["type"].as_str().unwrap().to_owned();
        if !schemas.contains_key(&event_type) {
            let published = client.get(&format!("/v1/event-types/{event_type}")).await;
            let webhook = webhook_body_schema(&document, &event_type);
            schemas.insert(
                event_type.clone(),
                (validator(&published["data_schema"]), validator(&webhook)),
            );
        }
        let (data, body) = &schemas[&event_type];
        assert_eq!(
            errors(data, &delivery.body["data"]),
            Vec::<String>::new(),
            "{event_type}: {}",
            delivery.body["data"]
        );
        assert_eq!(
            errors(body, &delivery.body),
            Vec::<String>::new(),
            "{event_type}: {}",
            delivery.body
        );
        *types.entry(event_type).or_default() += 1;
    }

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    pool.close().await;
    (received.len(), types)
}

/// The request body schema of the webhook for `event_type` in the OpenAPI document, made a
/// schema of its own: the document's components ride along so its references resolve.
fn webhook_body_schema(document: &Value, event_type: &str) -> Value {
    let name = match event_type.ends_with(".unrecognized") {
        true => "{provider}.unrecognized",
        false => event_type,
    };
    let body =
        &document["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(body.is_object(), "no webhook for {event_type}");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": body["$ref"],
        "components": document["components"],
    })
}

/// The REST API of the gateway serving the demo's database, as admin.
struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await
    }

    async fn post(&self, path: &str, body: Value, status: StatusCode) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_json(response, status).await
    }
}

async fn drop_database(server: &str, name: &str) {
    gateway::db::drop_database(server, name).await.unwrap();
}
