//! Reconciliation through both simulators: loans disbursed at the Dinie simulator, Pix received at
//! the Delbank simulator, every fact arriving as a real signed or authenticated webhook.

use std::collections::HashMap;
use std::time::Duration;

use e2e::app::{TestApp, expect_json};
use e2e::eventually;
use gateway::keys::Scope;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};

/// The ISPB the simulated Dinie disburses from (any 8 digits the Delbank simulator will stamp).
const DINIE_ISPB: &str = "32402502";
const WAIT: Duration = Duration::from_secs(30);
/// The documents Delbank needs before it reviews an account.
const KYC_KINDS: [&str; 2] = ["selfie", "driver_license_full"];

struct World {
    app: TestApp,
    dinie: dinie_sim::SimHandle,
    delbank: delbank_sim::SimHandle,
}

async fn world(window_secs: u64) -> World {
    let world = unregistered_world(window_secs).await;
    for path in [
        "/v1/providers/dinie/webhook",
        "/v1/providers/delbank/webhooks",
    ] {
        let registered = world
            .app
            .post_json(path, Some(&world.app.admin_key), Some(path), &json!({}))
            .await;
        expect_json(registered, StatusCode::OK).await;
    }
    world
}

/// Both simulators and the gateway, without the gateway's webhooks registered at them.
async fn unregistered_world(window_secs: u64) -> World {
    let dinie = dinie_sim::start(dinie_sim::SimConfig::fast())
        .await
        .expect("dinie sim");
    let mut delbank_config = delbank_sim::SimConfig::standard();
    delbank_config.delivery.base_delay = Duration::from_millis(50);
    let delbank = delbank_sim::start(delbank_config)
        .await
        .expect("delbank sim");
    let mut dinie_client =
        dinie::Config::new(&dinie.base_url(), dinie.client_id(), dinie.client_secret());
    dinie_client.retries.base_delay_ms = 10;
    let delbank_client = delbank::Config {
        enabled: true,
        base_url: delbank.base_url().to_owned(),
        api_key: SecretString::from("sim-key-31712"),
        account_id: "31712".to_owned(),
        timeout_secs: 5,
        retries: 1,
        retry_base_delay_ms: 20,
        webhook_scheme: delbank::AuthScheme::Bearer,
        webhooks: Vec::new(),
        confirm_by_fetch: true,
    };
    let app = TestApp::builder()
        .settings(move |settings| {
            settings.routing.credit = "dinie".into();
            settings.routing.banking = "delbank".into();
            settings.reconciliation.credit_payer_ispbs = vec![DINIE_ISPB.into()];
            settings.reconciliation.window_secs = window_secs;
            settings.reconciliation.check_interval_secs = 1;
        })
        .providers(move |registry, credentials| {
            dinie::register(dinie_client, credentials.clone(), registry).expect("dinie registers");
            delbank::register(delbank_client, credentials, registry).expect("delbank registers");
        })
        .spawn()
        .await;
    World {
        app,
        dinie,
        delbank,
    }
}

impl World {
    fn borrowing(&self) -> Borrowing<'_> {
        Borrowing {
            app: &self.app,
            dinie: &self.dinie,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.borrowing().post(path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        self.borrowing().get(path).await
    }

    /// A borrower taken from registration to a disbursed loan at Dinie; returns (loan id, net amount).
    async fn disbursed_loan(&self, document: &str, external_id: &str) -> (String, Decimal) {
        disbursed_loan(&self.app, &self.dinie, document, external_id).await
    }

    /// An approved Delbank account for `document`; returns its number.
    async fn account_for(&self, document: &str) -> String {
        let account = self
            .post(
                "/v1/accounts",
                json!({"holder_document": document, "name": "Borrower"}),
            )
            .await;
        let account_id = account["id"].as_str().expect("account id").to_owned();
        for kind in KYC_KINDS {
            self.post(
                &format!("/v1/accounts/{account_id}/documents"),
                json!({"kind": kind, "content_base64": "aGVsbG8="}),
            )
            .await;
        }
        self.delbank
            .control()
            .approve_customer(document)
            .expect("approve account")
    }

    /// A Pix into `account` from Dinie's bank.
    fn pix_from_dinie(&self, account: &str, amount: Decimal) -> String {
        self.delbank
            .control()
            .pix_in(delbank_sim::PixIn {
                account: Some(account.to_owned()),
                amount,
                payer_ispb: Some(DINIE_ISPB.into()),
                ..delbank_sim::PixIn::default()
            })
            .expect("pix in")
    }

    async fn item(&self, filter: impl Fn(&Value) -> bool) -> Option<Value> {
        let items = self.get("/v1/reconciliation/items?limit=100").await;
        items["data"]
            .as_array()
            .and_then(|items| items.iter().find(|item| filter(item)).cloned())
    }

    async fn wait_for_item(&self, filter: impl Fn(&Value) -> bool + Copy) -> Value {
        eventually(WAIT, || async { self.item(filter).await })
            .await
            .expect("the expected reconciliation item did not appear")
    }
}

/// What [`disbursed_loan`] drives: the gateway and the Dinie simulator.
struct Borrowing<'a> {
    app: &'a TestApp,
    dinie: &'a dinie_sim::SimHandle,
}

impl Borrowing<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let key = uuid::Uuid::now_v7().to_string();
        let response = self
            .app
            .post_json(path, Some(&self.app.admin_key), Some(&key), &body)
            .await;
        let status = response.status();
        let body = response.json::<Value>().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        expect_json(
            self.app.get(path, Some(&self.app.admin_key)).await,
            StatusCode::OK,
        )
        .await
    }
}

/// A borrower taken from registration to a disbursed loan at Dinie; returns (loan id, net amount).
pub(crate) async fn disbursed_loan(
    app: &TestApp,
    dinie: &dinie_sim::SimHandle,
    document: &str,
    external_id: &str,
) -> (String, Decimal) {
    let world = Borrowing { app, dinie };
    let customer = world
        .post(
            "/v1/customers",
            json!({"document": document, "name": "Borrower", "external_id": external_id}),
        )
        .await;
    let customer_id = customer["id"].as_str().expect("customer id").to_owned();
    for kind in ["identity_front", "selfie"] {
        world.post(
            &format!("/v1/customers/{customer_id}/documents"),
            json!({"kind": kind, "file_name": format!("{kind}.png"), "content_type": "image/png", "content_base64": "iVBORw0KGgo="}),
        )
        .await;
    }
    world
        .dinie
        .approve_customer(&customer_id)
        .await
        .expect("approve");
    let offers = world
        .get(&format!("/v1/credit-offers?customer_id={customer_id}"))
        .await;
    let offer_id = offers["data"][0]["id"].as_str().expect("offer").to_owned();
    let simulation = world
        .post(
            &format!("/v1/credit-offers/{offer_id}/simulations"),
            json!({"amount": "10000.00", "installments": 12}),
        )
        .await;
    let loan = world
        .post(
            "/v1/loans",
            json!({"credit_offer_id": offer_id, "simulation_id": simulation["id"]}),
        )
        .await;
    let loan_id = loan["id"].as_str().expect("loan id").to_owned();
    for _ in 0..10 {
        if world.dinie.advance_loan(&loan_id).await.expect("advance") == "active" {
            break;
        }
    }
    let net: Decimal = simulation["net_amount"]["amount"]
        .as_str()
        .expect("net")
        .parse()
        .expect("decimal");
    (loan_id, net)
}

/// A valid CPF from nine digits.
pub(crate) fn cpf(base: [u32; 9]) -> String {
    let digit = |digits: &[u32], first_weight: u32| {
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| d * (first_weight - u32::try_from(i).unwrap()))
            .sum();
        let rest = (sum * 10) % 11;
        if rest == 10 { 0 } else { rest }
    };
    let mut digits = base.to_vec();
    digits.push(digit(&digits, 10));
    digits.push(digit(&digits, 11));
    digits.iter().map(u32::to_string).collect()
}

#[tokio::test]
async fn disbursements_and_pix_receipts_reconcile_through_both_simulators() {
    let world = world(86_400).await;
    let matched = cpf([5, 2, 9, 9, 8, 2, 2, 4, 7]);
    let mismatched = cpf([1, 1, 1, 4, 4, 4, 7, 7, 7]);
    let surprised = cpf([3, 1, 4, 1, 5, 9, 2, 6, 5]);

    // A loan disbursed and its Pix received: matched.
    let (loan, net) = world.disbursed_loan(&matched, "borrower-a").await;
    let account = world.account_for(&matched).await;
    let e2e = world.pix_from_dinie(&account, net);
    let item = world
        .wait_for_item(|item| item["loan_id"] == loan.as_str() && item["status"] == "matched")
        .await;
    assert_eq!(item["end_to_end_id"], e2e.as_str());
    assert_eq!(
        item["expected_amount"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap(),
        net
    );

    // A receipt for a different amount: amount_mismatch with the difference.
    let (short_loan, short_net) = world.disbursed_loan(&mismatched, "borrower-b").await;
    let account = world.account_for(&mismatched).await;
    world.pix_from_dinie(&account, short_net - Decimal::new(50, 2));
    let mismatch = world
        .wait_for_item(|item| {
            item["loan_id"] == short_loan.as_str() && item["status"] == "amount_mismatch"
        })
        .await;
    assert_eq!(mismatch["difference"], "-0.50");

    // Money from Dinie with no loan behind it: unexpected_receipt.
    let account = world.account_for(&surprised).await;
    let stray = world.pix_from_dinie(&account, Decimal::new(12_345, 2));
    let unexpected = world
        .wait_for_item(|item| {
            item["end_to_end_id"] == stray.as_str() && item["status"] == "unexpected_receipt"
        })
        .await;
    assert_eq!(unexpected["observed_amount"], "123.45");

    // Finance explains the mismatch, with a note kept in the audit trail.
    let finance = world
        .app
        .key_with(&[Scope::ReconciliationRead, Scope::ReconciliationWrite])
        .await;
    let id = mismatch["id"].as_str().unwrap();
    let resolved = world
        .app
        .post_json(
            &format!("/v1/reconciliation/items/{id}/resolve"),
            Some(&finance),
            Some("resolve-mismatch"),
            &json!({"action": "confirm", "note": "fifty cents of bank fee, agreed with Dinie"}),
        )
        .await;
    let resolved = expect_json(resolved, StatusCode::OK).await;
    assert_eq!(resolved["status"], "confirmed");
    let detail = world.get(&format!("/v1/reconciliation/items/{id}")).await;
    let last = detail["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "test-key");
    assert_eq!(last["note"], "fifty cents of bank fee, agreed with Dinie");

    // The CSV report, parsed back.
    let csv = world
        .app
        .get("/v1/reconciliation/report.csv", Some(&world.app.admin_key))
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.split("\r\n").filter(|line| !line.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<HashMap<&str, &str>> = lines
        .map(|line| header.iter().copied().zip(line.split(',')).collect())
        .collect();
    let by_status = |status: &str| rows.iter().filter(|row| row["status"] == status).count();
    assert_eq!(
        (
            by_status("matched"),
            by_status("confirmed"),
            by_status("unexpected_receipt")
        ),
        (1, 1, 1)
    );
    let row = rows
        .iter()
        .find(|row| row["loan_id"] == loan.as_str())
        .unwrap();
    assert_eq!(row["expected_amount"].parse::<Decimal>().unwrap(), net);
    assert_eq!(
        row["document"],
        matched.as_str(),
        "the admin key holds the pii scope"
    );
    world.delbank.shutdown().await;
}

#[tokio::test]
async fn a_disbursement_that_never_arrives_goes_overdue() {
    let world = world(2).await;
    let document = cpf([2, 7, 1, 8, 2, 8, 1, 8, 2]);

    let (loan, _) = world.disbursed_loan(&document, "borrower-late").await;

    let overdue = world
        .wait_for_item(|item| item["loan_id"] == loan.as_str() && item["status"] == "overdue")
        .await;
    assert!(overdue["deadline"].is_string());
    world.delbank.shutdown().await;
}

#[tokio::test]
async fn a_borrower_registered_elsewhere_has_their_document_fetched_once_from_the_credit_provider()
{
    let world = world(86_400).await;
    let document = cpf([4, 6, 1, 3, 8, 5, 2, 9, 0]);
    let (loan, _) = world.disbursed_loan(&document, "borrower-elsewhere").await;
    // Let every Dinie webhook land first (a late customer event would teach the gateway the
    // document again), then forget what the gateway learnt about the borrower, as if they had been
    // registered at Dinie by another system and no customer event had reached the gateway.
    assert!(
        world.dinie.wait_for_deliveries(WAIT).await,
        "Dinie deliveries still pending"
    );
    sqlx::query("delete from recon_item")
        .execute(&world.app.db.pool)
        .await
        .unwrap();
    sqlx::query("delete from credit_customer")
        .execute(&world.app.db.pool)
        .await
        .unwrap();

    let item = world
        .wait_for_item(|item| item["loan_id"] == loan.as_str() && item["status"] == "pending")
        .await;

    assert!(item["document"].is_string());
    let source: String = sqlx::query_scalar("select source from credit_customer")
        .fetch_one(&world.app.db.pool)
        .await
        .unwrap();
    assert_eq!(source, "fetched");
    world.delbank.shutdown().await;
}

#[tokio::test]
async fn a_customer_created_through_the_gateway_is_remembered_for_reconciliation() {
    // No webhooks registered: only the gateway's own record can tell it the borrower's document.
    let world = unregistered_world(86_400).await;
    let document = cpf([8, 1, 2, 7, 3, 6, 4, 5, 9]);

    let customer = world
        .post(
            "/v1/customers",
            json!({"document": document, "name": "Borrower", "external_id": "borrower-api"}),
        )
        .await;

    let (source, stored): (String, String) =
        sqlx::query_as("select source, document from credit_customer where customer_id = $1")
            .bind(customer["id"].as_str().unwrap())
            .fetch_one(&world.app.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (source.as_str(), stored.as_str()),
        ("api", document.as_str())
    );
    world.delbank.shutdown().await;
}
