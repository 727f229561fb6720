//! The Banco Central's API Pix as the banking provider (`routing.banking = "bacen-pix"`), end to
//! end: the gateway talks to the PSP simulator over mTLS with certificates generated here, a loan
//! is disbursed at the Dinie simulator, a charge created through the gateway is paid at the PSP,
//! and the PSP's `{"pix": [...]}` callback, a hint confirmed with `GET /pix/{e2eid}`, becomes a
//! `pix.received` and a `charge.paid` and a matched reconciliation item, exactly as with Delbank.

use std::time::Duration;

use bacen_pix_sim::{PixIn, Sim, SimConfig};
use e2e::app::{TestApp, expect_json};
use e2e::eventually;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::reconciliation_sims::{cpf, disbursed_loan};

const WAIT: Duration = Duration::from_secs(30);

struct World {
    app: TestApp,
    dinie: dinie_sim::SimHandle,
    psp: Sim,
    _pki: tempfile::TempDir,
}

/// The gateway with Dinie for credit and the API Pix PSP for banking. The PSP's account belongs to
/// `holder` (the payee of every Pix it receives).
async fn world(holder: &str) -> World {
    let pki_dir = tempfile::tempdir().expect("temporary directory");
    let pki = bacen_pix_sim::tls::generate(pki_dir.path()).expect("test certificates");
    let mut psp_config = SimConfig::standard(pki);
    psp_config.receiver_cnpj = holder.to_owned();
    psp_config.callbacks.base_delay = Duration::from_millis(50);
    let psp = Sim::start(psp_config).await.expect("psp simulator starts");
    let dinie = dinie_sim::start(dinie_sim::SimConfig::fast())
        .await
        .expect("dinie simulator starts");
    let mut dinie_client =
        dinie::Config::new(&dinie.base_url(), dinie.client_id(), dinie.client_secret());
    dinie_client.retries.base_delay_ms = 10;
    // The section as an operator would write it: the crate's defaults, then the PSP's values.
    let figment = psp.gateway_settings().into_iter().fold(
        gateway::config::defaults_figment(),
        |figment, (key, value)| figment.merge((format!("providers.bacen-pix.{key}"), value)),
    );
    let psp_client: bacen_pix::Config = figment
        .extract_inner("providers.bacen-pix")
        .expect("the bacen-pix section");
    let app = TestApp::builder()
        .settings(|settings| {
            settings.routing.credit = "dinie".into();
            settings.routing.banking = "bacen-pix".into();
            settings.reconciliation.window_secs = 3600;
            settings.confirmation.poll_interval_ms = 20;
        })
        .providers(move |registry, credentials| {
            dinie::register(dinie_client, credentials.clone(), registry).expect("dinie registers");
            bacen_pix::register(psp_client, credentials, registry).expect("bacen-pix registers");
        })
        .spawn()
        .await;
    for path in [
        "/v1/providers/dinie/webhook",
        "/v1/providers/bacen-pix/webhooks",
    ] {
        let registered = app
            .post_json(path, Some(&app.admin_key), Some(path), &json!({}))
            .await;
        expect_json(registered, StatusCode::OK).await;
    }
    World {
        app,
        dinie,
        psp,
        _pki: pki_dir,
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
}

#[tokio::test]
async fn a_charge_paid_at_the_api_pix_psp_becomes_a_matched_reconciliation_item() {
    let borrower = cpf([5, 2, 9, 9, 8, 2, 2, 4, 7]);
    let world = world(&borrower).await;
    let (loan, net) = disbursed_loan(&world.app, &world.dinie, &borrower, "borrower-psp").await;

    // The borrower's charge for the net amount, created through the gateway at the PSP (PUT /cob).
    let charge = expect_json(
        world
            .app
            .post_json(
                "/v1/charges",
                Some(&world.app.admin_key),
                Some("charge-1"),
                &json!({"kind": "pix_dynamic", "amount": net.to_string(), "description": "disbursement"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let txid = charge["id"].as_str().expect("charge id").to_owned();
    assert_eq!(charge["status"], "pending");

    // Paid at the PSP: its callback reaches /webhooks/bacen-pix/{token}/pix.
    let end_to_end_id = world.psp.control().pay_charge(&txid).expect("paid");
    let received = world
        .app
        .event_when("pix.received", &end_to_end_id, WAIT, |event| {
            event["confirmation"]["state"] == "confirmed"
        })
        .await;
    assert_eq!(received["provider"], "bacen-pix");
    assert_eq!(received["verification"], "credential+fetch");
    assert_eq!(
        received["data"]["amount"]["amount"]
            .as_str()
            .and_then(|amount| amount.parse::<Decimal>().ok()),
        Some(net)
    );
    let paid = world
        .app
        .event_when("charge.paid", &txid, WAIT, |event| {
            event["confirmation"]["state"] == "confirmed"
        })
        .await;
    assert_eq!(paid["resource"]["kind"], "charge");
    let fetched = world.get(&format!("/v1/charges/{txid}")).await;
    assert_eq!(fetched["status"], "paid");

    // Reconciliation matched the receipt to the loan, as it does with Delbank's.
    let item = eventually(WAIT, || async {
        let items = world.get("/v1/reconciliation/items?limit=100").await;
        items["data"].as_array().and_then(|items| {
            items
                .iter()
                .find(|item| item["loan_id"] == loan.as_str() && item["status"] == "matched")
                .cloned()
        })
    })
    .await
    .expect("the loan's receipt was matched");
    assert_eq!(item["end_to_end_id"], end_to_end_id.as_str());
    assert_eq!(
        item["observed_amount"]
            .as_str()
            .and_then(|amount| amount.parse::<Decimal>().ok()),
        Some(net)
    );
}

#[tokio::test]
async fn a_pix_the_psp_does_not_confirm_is_refused_and_never_reconciled() {
    let borrower = cpf([1, 1, 1, 4, 4, 4, 7, 7, 7]);
    let world = world(&borrower).await;
    let (loan, net) = disbursed_loan(&world.app, &world.dinie, &borrower, "borrower-forged").await;
    // A real Pix shows the callback's shape; the forger re-sends it, with the registration's URL
    // token it learned, for a Pix that never happened.
    let real = world
        .psp
        .control()
        .pix_in(PixIn {
            valor: Decimal::new(100, 2),
            ..PixIn::default()
        })
        .expect("pix in");
    let template = eventually(WAIT, || async {
        world
            .psp
            .control()
            .deliveries()
            .into_iter()
            .find(|delivery| delivery.body.contains(&real))
    })
    .await
    .expect("the PSP sent its callback");
    let fake = format!("{}FAKE0", &real[..real.len() - 5]);
    let body = template
        .body
        .replace(&real, &fake)
        .replace("\"1.00\"", &format!("\"{net}\""));
    let response = world
        .app
        .client
        .post(&template.url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("callback sent");
    assert_eq!(response.status(), StatusCode::OK);
    let refused = world
        .app
        .event_when("pix.received", &fake, WAIT, |event| {
            event["confirmation"]["state"] == "refused"
        })
        .await;
    assert_eq!(refused["verification"], "credential");
    let items = world.get("/v1/reconciliation/items?limit=100").await;
    let matched_or_seen = items["data"].as_array().into_iter().flatten().any(|item| {
        item["end_to_end_id"] == fake.as_str()
            || (item["loan_id"] == loan.as_str() && item["status"] == "matched")
    });
    assert!(
        !matched_or_seen,
        "the forged receipt was reconciled: {items}"
    );
}
