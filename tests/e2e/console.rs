//! The operations and finance console (`/console`), driven in a real browser: Playwright for Python
//! on the system's Chromium (`tests/console/flows.py`), against a gateway on a fresh database.
//! Each test sets up the data through the API and webhooks, runs one browser flow, and checks the
//! outcome through the API. Screenshots of every main page land in `target/console-screenshots/`.
//! The session and CSRF rules are also checked below the browser, with plain HTTP.

use std::path::PathBuf;
use std::time::Duration;

use e2e::app::{TestApp, expect_json};
use e2e::receiver::{Receiver, Script};
use gateway::keys::Scope;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

use crate::delivery::{ingest, short_schedule, subscribe};
use crate::reconciliation::{BORROWER, DINIE_CNPJ, customer, disbursed, received, send};

const WAIT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package is in the workspace")
        .to_path_buf()
}

/// Runs one browser flow of `tests/console/flows.py` with `config`; panics with its output when
/// the flow fails.
async fn browse(flow: &str, config: Value) {
    let screenshots = workspace().join("target").join("console-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot directory");
    let run = tokio::process::Command::new("python3")
        .arg(workspace().join("tests").join("console").join("flows.py"))
        .arg(flow)
        .env("CONSOLE_TEST", config.to_string())
        .env("SCREENSHOTS", &screenshots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser flow finished within 3 minutes")
        .expect("python3 runs (pip install playwright; Chromium at /usr/bin/chromium)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser flow `{flow}` failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

async fn delivered(app: &TestApp, subscription: &str, status: &str) -> Vec<Value> {
    let path = format!("/v1/subscriptions/{subscription}/deliveries?status={status}");
    let listed = expect_json(app.get(&path, Some(&app.admin_key)).await, StatusCode::OK).await;
    listed["data"].as_array().cloned().unwrap_or_default()
}

async fn intake_counted(app: &TestApp, outcome: &str) -> bool {
    let count: i64 = sqlx::query_scalar(
        "select coalesce(sum(count), 0)::int8 from webhook_intake where outcome = $1",
    )
    .bind(outcome)
    .fetch_one(&app.db.pool)
    .await
    .expect("intake counts");
    count > 0
}

#[tokio::test]
async fn an_operator_signs_in_finds_a_loans_events_and_sees_the_delivery_and_its_attempt() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    let event = ingest(&app, "console-loan-1", "loan.active", "ln_console_1").await;
    ingest(&app, "console-loan-2", "loan.active", "ln_console_other").await;
    receiver.wait_for_successes(2, WAIT).await;
    // One refused webhook, for the intake page.
    let refused = app
        .send_webhook("", Some("wrong-token"), json!({"events": []}).to_string())
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    e2e::eventually(WAIT, || async {
        (intake_counted(&app, "received").await && intake_counted(&app, "refused").await)
            .then_some(())
    })
    .await
    .expect("intake counts were stored");

    browse(
        "find_events",
        json!({
            "base": app.address, "key": app.admin_key, "loan": "ln_console_1", "event": event,
            "other_loan": "ln_console_other", "subscription": subscription["id"],
        }),
    )
    .await;
}

#[tokio::test]
async fn a_dead_letter_is_retried_from_the_console_and_succeeds() {
    let app = TestApp::spawn_with(|settings| short_schedule(settings, &[0, 1, 1])).await;
    let receiver = Receiver::start().await;
    // Fails each webhook's first three attempts (the whole schedule), then accepts it.
    receiver.set_script(Script::FailFirst { n: 3, status: 500 });
    let subscription = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let subscription = subscription["id"].as_str().unwrap().to_owned();
    ingest(&app, "console-dead-1", "loan.active", "ln_dead").await;
    let dead = e2e::eventually(WAIT, || async {
        delivered(&app, &subscription, "dead")
            .await
            .first()
            .cloned()
    })
    .await
    .expect("the delivery was dead-lettered");
    assert_eq!(dead["attempts"], 3);

    browse(
        "retry_dead_letter",
        json!({"base": app.address, "key": app.admin_key, "subscription": subscription, "delivery": dead["id"]}),
    )
    .await;

    let succeeded = delivered(&app, &subscription, "succeeded").await;
    assert_eq!(succeeded.len(), 1, "{succeeded:?}");
    assert_eq!(succeeded[0]["id"], dead["id"]);
    assert_eq!(receiver.received().len(), 4);
}

#[tokio::test]
async fn an_operator_replays_a_window_and_watches_it_complete() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(
        &app,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    for n in 0..3 {
        ingest(
            &app,
            &format!("console-replay-{n}"),
            "loan.active",
            &format!("ln_r{n}"),
        )
        .await;
    }
    receiver.wait_for_successes(3, WAIT).await;

    browse(
        "replay_window",
        json!({"base": app.address, "key": app.admin_key, "subscription": subscription["id"], "events": 3}),
    )
    .await;

    let all = receiver.wait_for_successes(6, WAIT).await;
    assert_eq!(
        all.len(),
        6,
        "each of the 3 events delivered again by the replay"
    );
}

async fn reconciliation_app() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.reconciliation.credit_payer_documents = vec![DINIE_CNPJ.into()];
    })
    .await
}

#[tokio::test]
async fn finance_resolves_an_amount_mismatch_with_a_note_and_the_summary_and_csv_change() {
    let app = reconciliation_app().await;
    send(&app, &customer("cust_c1", BORROWER)).await;
    send(&app, &disbursed("ln_c1", "cust_c1", "500.00", 0)).await;
    send(&app, &received("E_C1", BORROWER, "499.90", 1)).await;
    send(&app, &customer("cust_c2", "11144477735")).await;
    send(&app, &disbursed("ln_c2", "cust_c2", "120.00", 2)).await;
    send(&app, &received("E_C2", "11144477735", "120.00", 3)).await;
    let items = expect_json(
        app.get(
            "/v1/reconciliation/items?status=amount_mismatch",
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let item = items["data"][0]["id"]
        .as_str()
        .expect("an amount mismatch")
        .to_owned();
    let finance = app
        .key_with(&[Scope::ReconciliationRead, Scope::ReconciliationWrite])
        .await;

    browse(
        "resolve_mismatch",
        json!({"base": app.address, "key": finance, "item": item, "note": "Bank fee of R$ 0,10 accepted by finance"}),
    )
    .await;

    let resolved = expect_json(
        app.get(
            &format!("/v1/reconciliation/items/{item}"),
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(resolved["status"], "confirmed");
    let last = resolved["history"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["note"], "Bank fee of R$ 0,10 accepted by finance");
    assert_eq!(last["to"], "confirmed");
}

#[tokio::test]
async fn a_key_without_pii_sees_masked_documents_and_no_raw_payload() {
    let app = reconciliation_app().await;
    send(&app, &customer("cust_m1", BORROWER)).await;
    send(&app, &disbursed("ln_m1", "cust_m1", "300.00", 0)).await;
    send(&app, &received("E_M1", BORROWER, "300.00", 1)).await;
    let events = app.list_events("?type=pix.received").await;
    let pix_event = events["data"][0]["id"]
        .as_str()
        .expect("the pix event")
        .to_owned();
    let viewer = app
        .key_with(&[Scope::EventsRead, Scope::ReconciliationRead])
        .await;

    browse(
        "masked_documents",
        json!({
            "base": app.address, "viewer": viewer, "admin": app.admin_key,
            "event": pix_event, "document": BORROWER,
        }),
    )
    .await;
}

#[tokio::test]
async fn a_forged_cross_site_post_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;

    browse(
        "forged_post",
        json!({"base": app.address, "key": app.admin_key, "subscription": subscription["id"]}),
    )
    .await;
}

/// A plain-HTTP console client: keeps the cookies the console sets.
pub(crate) struct Browserless {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browserless {
    pub(crate) fn new(app: &TestApp) -> Browserless {
        Browserless {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), location)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        self.keep(&response);
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    pub(crate) async fn sign_in(&mut self, key: &str) -> StatusCode {
        let (_, page, _) = self.get("/console/login").await;
        let csrf = csrf_of(&page);
        self.post("/console/login", &[("api_key", key), ("csrf", &csrf)], None)
            .await
            .0
    }
}

fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[start..start + 64].to_owned()
}

#[tokio::test]
async fn console_forms_need_the_sessions_csrf_token_and_the_consoles_own_origin() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    let id = subscription["id"].as_str().unwrap();
    let mut console = Browserless::new(&app);

    // Signed out: pages send you to the sign-in page, forms are refused.
    let (status, _, location) = console.get("/console/events").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some("/console/login?next=%2Fconsole%2Fevents")
    );
    assert_eq!(
        console.sign_in("pgk_not_a_key").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(console.sign_in(&app.admin_key).await, StatusCode::SEE_OTHER);
    let session = console
        .cookies
        .iter()
        .find(|(name, _)| name == "paygate_console");
    assert!(session.is_some(), "{:?}", console.cookies);

    let (status, page, _) = console.get(&format!("/console/subscriptions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&page);
    let rotate = format!("/console/subscriptions/{id}/rotate");
    let (status, page) = console
        .post(&rotate, &[("grace_seconds", "60")], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    assert!(page.contains("csrf_token_invalid"));
    let (status, _) = console
        .post(
            &rotate,
            &[("grace_seconds", "60"), ("csrf", &"0".repeat(64))],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong token");
    let (status, _) = console
        .post(
            &rotate,
            &[("grace_seconds", "60"), ("csrf", &csrf)],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the right token from another origin"
    );
    let unrotated = expect_json(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        unrotated["previous_secret_expires_at"].is_null(),
        "{unrotated}"
    );

    let (status, page) = console
        .post(
            &rotate,
            &[("grace_seconds", "60"), ("csrf", &csrf)],
            Some(&app.address),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("whsec_"), "the new secret is shown once");
    let rotated = expect_json(
        app.get(&format!("/v1/subscriptions/{id}"), Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );
}

#[tokio::test]
async fn console_scopes_are_the_apis_and_a_revoked_key_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let events_only = app.key_with(&[Scope::EventsRead]).await;
    let mut console = Browserless::new(&app);
    assert_eq!(console.sign_in(&events_only).await, StatusCode::SEE_OTHER);
    assert_eq!(console.get("/console/events").await.0, StatusCode::OK);
    // Filters the console cannot read are said on the page, with the API's checks.
    let (status, page, _) = console.get("/console/events?type=loan..x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("type:"), "{page}");
    let (status, page, _) = console
        .get("/console/events?from=2026-12-03T10:00&to=2026-12-02T10:00")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("from must not be after to"), "{page}");
    let (status, page, _) = console.get("/console/events?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("from: expected a date and time"), "{page}");
    let (status, page, _) = console.get("/console/subscriptions").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("insufficient_scope") && page.contains("subscriptions:read"),
        "{page}"
    );
    assert_eq!(
        console.get("/console/reconciliation").await.0,
        StatusCode::FORBIDDEN
    );

    // Revoking the key through the API signs its console session out.
    let key_id = crate::auth::id_of_key_named(&app, &app.admin_key, "test-key").await;
    let revoke = app
        .post_json(
            &format!("/v1/api-keys/{key_id}/revoke"),
            Some(&app.admin_key),
            Some("revoke-console"),
            &json!({}),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::OK);
    let (status, _, location) = console.get("/console/events").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.unwrap().starts_with("/console/login"));
}
