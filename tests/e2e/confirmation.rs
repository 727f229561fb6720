//! Webhooks as hints, confirmed by fetch: Delbank's webhook credential is static, so the gateway
//! confirms its money-moving events against Delbank's API (the simulator) before it publishes or
//! reconciles them. A `PIX_RECEIVED` carrying the right credential for a Pix Delbank does not know
//! is stored, acknowledged, refused with the reason, and never published nor reconciled; a real
//! one waits while the API is down and is published once the API confirms it.

use std::time::Duration;

use delbank::{AuthScheme, Config, ManualRegistration};
use delbank_sim::{PixIn, SimConfig, SimHandle};
use e2e::app::{TestApp, expect_json};
use e2e::eventually;
use e2e::receiver::Receiver;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::console::Browserless;
use crate::delivery::{replay_everything, subscribe};

const WAIT: Duration = Duration::from_secs(20);
/// The payer bank the reconciliation treats as the credit provider's: a receipt from it with no
/// disbursement behind it is an `unexpected_receipt` item, once reconciled.
const CREDIT_ISPB: &str = "32402502";
/// The credential of a registration made "by hand": what someone who read it once could send.
const LEAKED: &str = "a-credential-someone-read-in-a-proxy-log";

struct World {
    app: TestApp,
    sim: SimHandle,
    receiver: Receiver,
    subscription: String,
}

async fn world() -> World {
    let mut sim_config = SimConfig::standard();
    sim_config.delivery.base_delay = Duration::from_millis(50);
    let sim = delbank_sim::start(sim_config)
        .await
        .expect("simulator starts");
    let config = Config {
        enabled: true,
        base_url: sim.base_url().to_owned(),
        api_key: SecretString::from("sim-key-31712"),
        account_id: "31712".to_owned(),
        timeout_secs: 5,
        retries: 0,
        retry_base_delay_ms: 10,
        webhook_scheme: AuthScheme::Bearer,
        webhooks: vec![ManualRegistration {
            path: "pix-received-portal".to_owned(),
            event_type: "PIX_RECEIVED".to_owned(),
            scheme: AuthScheme::Bearer,
            header: None,
            credential: SecretString::from(LEAKED),
        }],
        confirm_by_fetch: true,
    };
    let app = TestApp::builder()
        .settings(|settings| {
            settings.routing.banking = "delbank".to_owned();
            settings.reconciliation.credit_payer_ispbs = vec![CREDIT_ISPB.to_owned()];
            settings.confirmation.poll_interval_ms = 20;
            settings.confirmation.retry_base_ms = 50;
            settings.confirmation.retry_max_secs = 1;
        })
        .providers(move |registry, credentials| {
            delbank::register(config, credentials, registry).expect("delbank registers");
        })
        .spawn()
        .await;
    let registered = app
        .post_json(
            "/v1/providers/delbank/webhooks",
            Some(&app.admin_key),
            Some("register"),
            &json!({}),
        )
        .await;
    expect_json(registered, StatusCode::OK).await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&app, json!({"url": receiver.url, "event_types": ["*"]})).await;
    receiver.set_secrets(&[subscription["secret"].as_str().expect("secret")]);
    let subscription = subscription["id"].as_str().expect("id").to_owned();
    World {
        app,
        sim,
        receiver,
        subscription,
    }
}

impl World {
    async fn get(&self, path: &str) -> Value {
        expect_json(
            self.app.get(path, Some(&self.app.admin_key)).await,
            StatusCode::OK,
        )
        .await
    }

    /// The stored `pix.received` of `end_to_end_id`, once it satisfies `ready`.
    async fn pix_event(&self, end_to_end_id: &str, ready: impl Fn(&Value) -> bool) -> Value {
        self.app
            .event_when("pix.received", end_to_end_id, WAIT, ready)
            .await
    }

    /// A Pix from the credit provider's bank into the gateway's account; its end-to-end id.
    fn pix_in(&self, amount: Decimal) -> String {
        self.sim
            .control()
            .pix_in(PixIn {
                amount,
                payer_ispb: Some(CREDIT_ISPB.to_owned()),
                ..PixIn::default()
            })
            .expect("pix in")
    }

    /// The body the simulator sent for the `PIX_RECEIVED` of `end_to_end_id`.
    async fn delivered_body(&self, end_to_end_id: &str) -> String {
        eventually(WAIT, || async {
            self.sim
                .control()
                .deliveries()
                .into_iter()
                .find(|delivery| {
                    delivery.event_type == "PIX_RECEIVED" && delivery.body.contains(end_to_end_id)
                })
                .map(|delivery| delivery.body)
        })
        .await
        .expect("the simulator delivered the PIX_RECEIVED")
    }

    /// Reconciliation items about `end_to_end_id`.
    async fn items_of(&self, end_to_end_id: &str) -> Vec<Value> {
        let items = self.get("/v1/reconciliation/items?limit=100").await;
        items["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["end_to_end_id"] == end_to_end_id)
            .cloned()
            .collect()
    }

    fn published(&self, event_id: &str) -> bool {
        self.receiver
            .received()
            .iter()
            .any(|received| received.id == event_id)
    }
}

/// The same end-to-end id with its last five characters changed: a Pix nobody sent.
fn forged(end_to_end_id: &str) -> String {
    let keep = end_to_end_id.len() - 5;
    format!("{}FAKE0", &end_to_end_id[..keep])
}

#[tokio::test]
async fn a_delbank_pix_received_for_a_pix_the_provider_does_not_know_is_refused_and_never_published()
 {
    let world = world().await;
    // A real Pix shows what a PIX_RECEIVED looks like; the forger copies it for a Pix that never
    // happened and sends it with a credential it read somewhere.
    let real = world.pix_in(Decimal::new(12_345, 2));
    let template = world.delivered_body(&real).await;
    let fake = forged(&real);
    let body = template.replace(&real, &fake);
    let response = world
        .app
        .client
        .post(format!(
            "{}/webhooks/delbank/pix-received-portal",
            world.app.address
        ))
        .header("authorization", format!("Bearer {LEAKED}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook sent");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "acknowledged once stored"
    );

    let refused = world
        .pix_event(&fake, |event| event["confirmation"]["state"] == "refused")
        .await;
    assert_eq!(refused["verification"], "credential");
    assert_eq!(
        refused["confirmation"]["reason"],
        "the account's statement has no transaction with this endToEndId"
    );
    // The real one went through, confirmed: proof the pipeline was running all along.
    let confirmed = world
        .pix_event(&real, |event| event["confirmation"]["state"] == "confirmed")
        .await;
    assert_eq!(confirmed["verification"], "credential+fetch");
    let confirmed_id = confirmed["id"].as_str().expect("id").to_owned();
    let delivered = eventually(WAIT, || async {
        world.published(&confirmed_id).then_some(())
    })
    .await;
    assert!(delivered.is_some(), "the confirmed Pix was published");
    assert!(
        !world.published(refused["id"].as_str().expect("id")),
        "the refused Pix was published"
    );
    let deliveries: i64 = sqlx::query_scalar("select count(*) from delivery where event_id = $1")
        .bind(uuid_of(&refused))
        .fetch_one(&world.app.db.pool)
        .await
        .expect("count");
    assert_eq!(
        deliveries, 0,
        "no delivery was ever enqueued for the refused Pix"
    );
    // A replica whose lease ran out cannot resolve it again, so nothing publishes it twice.
    let mut connection = world.app.db.pool.acquire().await.expect("connection");
    let resolved_again = gateway::store::confirmations::resolve(
        &mut connection,
        uuid_of(&refused),
        gateway::store::confirmations::State::Confirmed,
        None,
    )
    .await
    .expect("resolve");
    assert!(!resolved_again, "a refused confirmation was resolved again");
    drop(connection);
    // A replay of everything sends the confirmed Pix again, never the refused one.
    let replay = replay_everything(&world.app, &world.subscription).await;
    assert!(replay["enqueued"].as_i64() >= Some(1), "{replay}");
    let redelivered = eventually(WAIT, || async {
        let times = world
            .receiver
            .received()
            .iter()
            .filter(|received| received.id == confirmed_id)
            .count();
        (times >= 2).then_some(times)
    })
    .await;
    assert!(
        redelivered.is_some(),
        "the replay re-sent the confirmed Pix"
    );
    assert!(
        !world.published(refused["id"].as_str().expect("id")),
        "the replay sent the refused Pix"
    );
    // Operations see why on the console's event page.
    let mut console = Browserless::new(&world.app);
    assert_eq!(
        console.sign_in(&world.app.admin_key).await,
        StatusCode::SEE_OTHER
    );
    let refused_page = format!("/console/events/{}", refused["id"].as_str().expect("id"));
    let (status, page, _) = console.get(&refused_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>credential</code>"), "{page}");
    assert!(page.contains("status-refused"), "{page}");
    assert!(
        page.contains("statement has no transaction with this endToEndId"),
        "{page}"
    );
    assert!(page.contains("so it was never published"), "{page}");
    // Reconciliation saw the confirmed receipt from the credit provider's bank, not the fake one.
    let real_items = eventually(WAIT, || async {
        let items = world.items_of(&real).await;
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("the confirmed receipt was reconciled");
    assert_eq!(real_items[0]["status"], "unexpected_receipt");
    assert!(world.items_of(&fake).await.is_empty());
    // A redelivery of the forged webhook stays one refused event.
    let again = world
        .app
        .client
        .post(format!(
            "{}/webhooks/delbank/pix-received-portal",
            world.app.address
        ))
        .header("authorization", format!("Bearer {LEAKED}"))
        .header("content-type", "application/json")
        .body(template.replace(&real, &fake))
        .send()
        .await
        .expect("webhook sent");
    assert_eq!(again.status(), StatusCode::OK);
    let events = world
        .get(&format!("/v1/events?type=pix.received&resource_id={fake}"))
        .await;
    assert_eq!(events["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_real_delbank_pix_received_waits_while_the_api_is_down_and_is_published_once_confirmed() {
    let world = world().await;
    // The API is down: every call answers 503 (the webhook sender is not affected).
    world
        .sim
        .control()
        .update_knobs(|knobs| knobs.fail_next_requests = u32::MAX);
    let real = world.pix_in(Decimal::new(50_000, 2));
    let waiting = world
        .pix_event(&real, |event| {
            event["confirmation"]["state"] == "pending"
                && event["confirmation"]["attempts"].as_i64() >= Some(2)
        })
        .await;
    assert_eq!(waiting["verification"], "credential");
    assert!(
        waiting["confirmation"]["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("unavailable")),
        "{waiting}"
    );
    let id = waiting["id"].as_str().expect("id").to_owned();
    assert!(!world.published(&id), "published before its confirmation");
    assert!(
        world.items_of(&real).await.is_empty(),
        "reconciled before its confirmation"
    );

    // The API is back: the next retry confirms it, then it is published and reconciled.
    world
        .sim
        .control()
        .update_knobs(|knobs| knobs.fail_next_requests = 0);
    let confirmed = world
        .pix_event(&real, |event| event["confirmation"]["state"] == "confirmed")
        .await;
    assert_eq!(confirmed["verification"], "credential+fetch");
    let received = eventually(WAIT, || async {
        world
            .receiver
            .received()
            .into_iter()
            .find(|received| received.id == id)
    })
    .await
    .expect("published after its confirmation");
    assert_eq!(received.body["verification"], "credential+fetch");
    assert_eq!(received.body["data"]["amount"]["amount"], "500.00");
    let items = eventually(WAIT, || async {
        let items = world.items_of(&real).await;
        (!items.is_empty()).then_some(items)
    })
    .await
    .expect("reconciled after its confirmation");
    assert_eq!(items[0]["status"], "unexpected_receipt");
}

#[tokio::test]
async fn a_delbank_bank_slip_paid_is_published_once_the_charge_reads_paid() {
    let world = world().await;
    let charge = expect_json(
        world
            .app
            .post_json(
                "/v1/charges",
                Some(&world.app.admin_key),
                Some("slip-1"),
                &json!({
                    "kind": "bankslip",
                    "amount": "80.00",
                    "due_date": (chrono::Utc::now() + chrono::Duration::days(10)).date_naive(),
                    "payer": {"document": "529.982.247-25", "name": "Maria da Silva"},
                }),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = charge["id"].as_str().expect("charge id").to_owned();
    world.sim.control().pay_charge(&id).expect("paid");
    let paid = world
        .app
        .event_when("charge.paid", &id, WAIT, |event| {
            event["confirmation"]["state"] == "confirmed"
        })
        .await;
    assert_eq!(paid["verification"], "credential+fetch");
    let event_id = paid["id"].as_str().expect("id").to_owned();
    let delivered = eventually(WAIT, || async { world.published(&event_id).then_some(()) }).await;
    assert!(
        delivered.is_some(),
        "the confirmed charge.paid was published"
    );
}

fn uuid_of(event: &Value) -> uuid::Uuid {
    let id = event["id"].as_str().expect("id");
    id.strip_prefix("evt_")
        .and_then(|hex| uuid::Uuid::parse_str(hex).ok())
        .expect("an evt_ id")
}
