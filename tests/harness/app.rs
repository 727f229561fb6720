//! `TestApp`: the gateway in-process on 127.0.0.1 with a port picked by the OS, on its own database.

use std::sync::Arc;

use gateway::config::Settings;
use gateway::keys::Scope;
use gateway::startup::{Application, ProviderRegistry};
use providers::CredentialStore;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;

use crate::db::TestDb;
use crate::source::{self, TestRegistration, TestSource};

/// A running gateway.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A client with no default headers.
    pub client: reqwest::Client,
    /// An API key with the `admin` scope.
    pub admin_key: String,
    /// The test's database.
    pub db: TestDb,
    /// The settings the gateway runs with.
    pub settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Test settings: port 0, loopback, the test database, a short pool timeout (so "database down" is
/// noticed quickly).
pub fn test_settings(db: &TestDb) -> Settings {
    let mut settings = Settings::defaults().expect("compiled defaults are valid");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.database.url = db.url.clone();
    settings.database.acquire_timeout_secs = 1;
    settings.database.max_connections = 10;
    // Receivers run on loopback; dispatchers poll often so tests do not wait.
    settings.delivery.allow_private_networks = vec!["127.0.0.0/8".into()];
    settings.delivery.poll_interval_ms = 20;
    settings
}

/// Adjusts the settings before the gateway starts.
type SettingsHook = Box<dyn FnOnce(&mut Settings) + Send>;
/// Registers providers, given the gateway's credential store on the test database.
type ProvidersHook = Box<dyn FnOnce(&mut ProviderRegistry, Arc<dyn CredentialStore>) + Send>;

/// Builds a [`TestApp`]: settings and providers beyond the defaults.
#[derive(Default)]
pub struct TestAppBuilder {
    settings: Vec<SettingsHook>,
    providers: Vec<ProvidersHook>,
}

impl TestAppBuilder {
    /// Adjusts the settings.
    pub fn settings(
        mut self,
        adjust: impl FnOnce(&mut Settings) + Send + 'static,
    ) -> TestAppBuilder {
        self.settings.push(Box::new(adjust));
        self
    }

    /// Registers providers (the test provider is always registered).
    pub fn providers(
        mut self,
        register: impl FnOnce(&mut ProviderRegistry, Arc<dyn CredentialStore>) + Send + 'static,
    ) -> TestAppBuilder {
        self.providers.push(Box::new(register));
        self
    }

    /// Registers the test provider's self-registration (`TestRegistration`) and a `TestSource`
    /// that also accepts the credentials the gateway stored through it.
    pub fn with_test_registration(self) -> TestAppBuilder {
        self.providers(|registry, credentials| {
            registry.register_webhook_source(Arc::new(TestSource::with_store(credentials)));
            providers::ProviderRegistrar::webhook_registration(
                registry,
                providers::ProviderName::parse(source::PROVIDER).expect("provider name"),
                Arc::new(TestRegistration::default()),
            );
        })
    }

    /// Starts the gateway on a fresh database.
    pub async fn spawn(self) -> TestApp {
        let db = TestDb::new().await;
        let mut settings = test_settings(&db);
        for adjust in self.settings {
            adjust(&mut settings);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.database.max_connections)
            .acquire_timeout(std::time::Duration::from_secs(
                settings.database.acquire_timeout_secs,
            ))
            .connect(db.url.expose_secret())
            .await
            .expect("gateway pool");
        // No `[providers.*]` configured: the test provider and each test's own are registered
        // through the composition root's extra providers.
        let hooks = self.providers;
        let extra = Box::new(
            move |registry: &mut ProviderRegistry, credentials: Arc<dyn CredentialStore>| {
                registry.register_webhook_source(Arc::new(TestSource::default()));
                for register in hooks {
                    register(registry, credentials.clone());
                }
            },
        );
        let app = Application::compose(settings, &figment::Figment::new(), pool, extra)
            .await
            .expect("gateway builds");
        let settings = app.state().settings.as_ref().clone();
        let address = format!("http://{}", app.local_addr().expect("bound"));
        let admin = gateway::keys::create(&db.pool, "test-admin", &[Scope::Admin])
            .await
            .expect("admin key");
        let admin_key = gateway::keys::reveal(&admin).to_owned();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::new(),
            admin_key,
            db,
            settings,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }
}

impl TestApp {
    /// A builder for a gateway with more than the defaults.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// The gateway with the test provider registered, default settings.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// The gateway with settings adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
        TestApp::builder().settings(adjust).spawn().await
    }

    /// Stops the server gracefully, waits for it, and hands back the database (so a test can
    /// inspect it after the gateway is gone).
    pub async fn stop_returning_db(mut self) -> TestDb {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
        self.db
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server result");
        }
    }

    /// Creates a key with `scopes` and returns it.
    pub async fn key_with(&self, scopes: &[Scope]) -> String {
        let created = gateway::keys::create(&self.db.pool, "test-key", scopes)
            .await
            .expect("key");
        gateway::keys::reveal(&created).to_owned()
    }

    /// `GET path` with `key` as Bearer (no header when `None`).
    pub async fn get(&self, path: &str, key: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    /// `POST path` with a JSON body, `key` as Bearer, and an `Idempotency-Key` when given.
    pub async fn post_json(
        &self,
        path: &str,
        key: Option<&str>,
        idempotency_key: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).expect("json"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_key);
        }
        request.send().await.expect("request sent")
    }

    /// `PATCH path` with a JSON body and `key` as Bearer.
    pub async fn patch_json(&self, path: &str, key: Option<&str>, body: &Value) -> Response {
        let mut request = self
            .client
            .patch(format!("{}{path}", self.address))
            .json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    /// `POST /webhooks/testprov{path}` with raw bytes and the test token (or another one).
    pub async fn send_webhook(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self
            .client
            .post(format!(
                "{}/webhooks/{}{path}",
                self.address,
                source::PROVIDER
            ))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("x-test-token", token);
        }
        request.send().await.expect("request sent")
    }

    /// The status the gateway answers a one-event test webhook presented with `token`.
    pub async fn webhook_status(&self, token: &str, id: &str) -> StatusCode {
        let body = one_event(id, "loan.active", "ln").to_string();
        self.send_webhook("", Some(token), body).await.status()
    }

    /// `GET /v1/events...` as admin, asserting 200, returning the JSON.
    pub async fn list_events(&self, query: &str) -> Value {
        let response = self
            .get(&format!("/v1/events{query}"), Some(&self.admin_key))
            .await;
        expect_json(response, StatusCode::OK).await
    }

    /// The newest stored event of `event_type` about `resource_id`, once it satisfies `ready`
    /// (polled for at most `wait`); panics naming both when none does in time.
    pub async fn event_when(
        &self,
        event_type: &str,
        resource_id: &str,
        wait: std::time::Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let query = format!("?type={event_type}&resource_id={resource_id}");
        crate::eventually(wait, || async {
            let events = self.list_events(&query).await;
            events["data"]
                .as_array()
                .and_then(|events| events.first().cloned())
                .filter(&ready)
        })
        .await
        .unwrap_or_else(|| panic!("no {event_type} about {resource_id} in the expected state"))
    }

    /// Number of rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }
}

/// Asserts the status and returns the JSON body (printing the body when the status is wrong).
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"))
}

/// Asserts a problem+json answer with `status` and `code`, and returns it.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = expect_json(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    body
}

/// A webhook body with one event.
pub fn one_event(id: &str, event_type: &str, resource: &str) -> Value {
    serde_json::json!({"events": [{"id": id, "type": event_type, "resource": resource}]})
}
