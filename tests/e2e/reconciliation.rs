//! Reconciliation through the live pipeline: events in (shaped like the Dinie and Delbank
//! normalizers' output), items out, in any arrival order; resolutions with their audit trail;
//! summaries, the CSV report, batch runs that agree with the live state.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use e2e::app::{TestApp, expect_json, expect_problem};
use e2e::receiver::Receiver;
use e2e::source::TOKEN;
use gateway::keys::Scope;
use proptest::prelude::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

pub(crate) const DINIE_CNPJ: &str = "11222333000181";
pub(crate) const BORROWER: &str = "52998224725";
const OTHER_BORROWER: &str = "11144477735";

/// Minutes from a base half an hour ago (so disbursements at small offsets are inside their window).
fn at(minutes: i64) -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let now = Utc::now() - chrono::Duration::minutes(30);
        Utc.timestamp_opt(now.timestamp() - now.timestamp() % 60, 0)
            .unwrap()
    });
    *base + chrono::Duration::minutes(minutes)
}

fn stamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn money(amount: &str) -> Value {
    json!({"amount": amount, "currency": "BRL"})
}

/// Facts, as events of the test provider carrying the normalizers' data shapes.
#[derive(Debug, Clone)]
pub(crate) enum Fact {
    Customer {
        id: String,
        document: String,
    },
    Disbursed {
        loan: String,
        customer: String,
        amount: String,
        minutes: i64,
    },
    Cancelled {
        loan: String,
    },
    Received {
        e2e: String,
        document: String,
        amount: String,
        minutes: i64,
        from_dinie: bool,
    },
}

impl Fact {
    fn event(&self) -> Value {
        match self {
            Fact::Customer { id, document } => json!({
                "id": format!("cust-{id}"), "type": "customer.active", "resource": id, "kind": "customer",
                "data": {"customer_id": id, "document": document},
            }),
            Fact::Disbursed {
                loan,
                customer,
                amount,
                minutes,
            } => json!({
                "id": format!("disb-{loan}"), "type": "loan.disbursing", "resource": loan,
                "occurred_at": at(*minutes),
                "data": {"loan_id": loan, "customer_id": customer, "net_amount": money(amount)},
            }),
            Fact::Cancelled { loan } => json!({
                "id": format!("cancel-{loan}"), "type": "loan.cancelled", "resource": loan,
                "data": {"loan_id": loan},
            }),
            Fact::Received {
                e2e,
                document,
                amount,
                minutes,
                from_dinie,
            } => {
                let payer = if *from_dinie {
                    json!({"document": {"value": DINIE_CNPJ, "kind": "cnpj", "masked": false}, "ispb": "12345678", "name": "Dinie"})
                } else {
                    json!({"document": {"value": OTHER_BORROWER, "kind": "cpf", "masked": false}, "ispb": "00000000", "name": "Someone"})
                };
                json!({
                    "id": format!("pix-{e2e}"), "type": "pix.received", "resource": e2e, "kind": "pix",
                    "occurred_at": at(*minutes),
                    "data": {
                        "end_to_end_id": e2e, "amount": money(amount),
                        "payer": payer,
                        "payee": {"document": {"value": document, "kind": "cpf", "masked": false}, "branch": "0001", "account": "123"},
                    },
                })
            }
        }
    }
}

pub(crate) async fn send(app: &TestApp, fact: &Fact) {
    let body = json!({"events": [fact.event()]}).to_string();
    expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
}

async fn app() -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.reconciliation.credit_payer_documents = vec![DINIE_CNPJ.into()];
        settings.reconciliation.check_interval_secs = 1;
    })
    .await
}

async fn items(app: &TestApp, query: &str) -> Vec<Value> {
    let list = expect_json(
        app.get(
            &format!("/v1/reconciliation/items{query}"),
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    list["data"].as_array().unwrap().clone()
}

/// `GET /v1/reconciliation/summary`, and the sum of its amounts by status.
async fn summary(app: &TestApp) -> (Value, Decimal) {
    let summary = expect_json(
        app.get("/v1/reconciliation/summary", Some(&app.admin_key))
            .await,
        StatusCode::OK,
    )
    .await;
    let by_status = summary["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["amount"].as_str().unwrap().parse::<Decimal>().unwrap())
        .sum();
    (summary, by_status)
}

async fn item_for_loan(app: &TestApp, loan: &str) -> Value {
    items(app, "?limit=100")
        .await
        .into_iter()
        .find(|i| i["loan_id"] == loan)
        .unwrap_or(Value::Null)
}

pub(crate) fn customer(id: &str, document: &str) -> Fact {
    Fact::Customer {
        id: id.into(),
        document: document.into(),
    }
}

pub(crate) fn disbursed(loan: &str, customer: &str, amount: &str, minutes: i64) -> Fact {
    Fact::Disbursed {
        loan: loan.into(),
        customer: customer.into(),
        amount: amount.into(),
        minutes,
    }
}

pub(crate) fn received(e2e: &str, document: &str, amount: &str, minutes: i64) -> Fact {
    Fact::Received {
        e2e: e2e.into(),
        document: document.into(),
        amount: amount.into(),
        minutes,
        from_dinie: true,
    }
}

#[tokio::test]
async fn a_borrower_learned_after_their_loan_gives_the_loan_its_item() {
    let app = app().await;
    send(&app, &disbursed("ln_early", "cust_late", "10.00", 0)).await;
    assert_eq!(
        item_for_loan(&app, "ln_early").await,
        Value::Null,
        "no document yet, no item"
    );

    // What `POST /v1/customers` does once the provider created the customer.
    let provider = providers::ProviderName::parse(e2e::source::PROVIDER).unwrap();
    gateway::reconcile::items::learn_customer(
        &app.db.pool,
        &provider,
        "cust_late",
        BORROWER,
        "api",
        &app.settings.reconciliation,
        false,
    )
    .await
    .unwrap();

    let item = item_for_loan(&app, "ln_early").await;
    assert_eq!(item["status"], "pending", "{item}");
    assert_eq!(item["expected_amount"], "10.00", "{item}");
}

#[tokio::test]
async fn a_disbursement_and_its_pix_receipt_are_matched_and_the_match_is_announced() {
    let app = app().await;
    let watcher = Receiver::start().await;
    let key = "sub-recon";
    let created = app
        .post_json(
            "/v1/subscriptions",
            Some(&app.admin_key),
            Some(key),
            &json!({"url": watcher.url, "event_types": ["reconciliation.*"]}),
        )
        .await;
    expect_json(created, StatusCode::CREATED).await;

    send(&app, &customer("cust_1", BORROWER)).await;
    send(&app, &disbursed("ln_1", "cust_1", "24250.00", 0)).await;
    assert_eq!(item_for_loan(&app, "ln_1").await["status"], "pending");
    send(&app, &received("E1", BORROWER, "24250.00", 2)).await;

    let reader = app.key_with(&[Scope::ReconciliationRead]).await;
    let listed = expect_json(
        app.get("/v1/reconciliation/items", Some(&reader)).await,
        StatusCode::OK,
    )
    .await;
    let item = listed["data"][0].clone();
    assert_eq!(item["status"], "matched");
    assert_eq!(item["end_to_end_id"], "E1");
    assert_eq!(item["expected_amount"], "24250.00");
    assert_eq!(
        item["document"], "***.982.247-**",
        "masked without the pii scope"
    );
    let announced = watcher.wait_for_successes(1, Duration::from_secs(20)).await;
    assert_eq!(announced[0].body["type"], "reconciliation.matched");
}

#[tokio::test]
async fn a_receipt_before_its_disbursement_event_reconciles_the_same_way() {
    let app = app().await;
    send(&app, &received("E2", BORROWER, "1000.00", 3)).await;
    assert_eq!(
        items(&app, "?status=unexpected_receipt").await.len(),
        1,
        "unexplained for now"
    );
    send(&app, &disbursed("ln_2", "cust_2", "1000.00", 0)).await;
    send(&app, &customer("cust_2", BORROWER)).await;

    assert_eq!(item_for_loan(&app, "ln_2").await["status"], "matched");
    assert!(
        items(&app, "?status=unexpected_receipt").await.is_empty(),
        "the receipt is now explained"
    );
}

#[tokio::test]
async fn a_receipt_with_another_amount_is_an_amount_mismatch_with_its_difference() {
    let app = app().await;
    send(&app, &customer("cust_3", BORROWER)).await;
    send(&app, &disbursed("ln_3", "cust_3", "500.00", 0)).await;
    send(&app, &received("E3", BORROWER, "499.90", 1)).await;

    let item = item_for_loan(&app, "ln_3").await;
    assert_eq!(item["status"], "amount_mismatch");
    assert_eq!(item["difference"], "-0.10");
}

#[tokio::test]
async fn an_unknown_receipt_from_a_credit_payer_is_unexpected_and_others_are_ignored() {
    let app = app().await;
    send(&app, &received("E4", BORROWER, "77.77", 0)).await;
    send(
        &app,
        &Fact::Received {
            e2e: "E5".into(),
            document: BORROWER.into(),
            amount: "5.00".into(),
            minutes: 0,
            from_dinie: false,
        },
    )
    .await;

    let unexpected = items(&app, "?status=unexpected_receipt").await;
    assert_eq!(unexpected.len(), 1);
    assert_eq!(unexpected[0]["end_to_end_id"], "E4");
    assert_eq!(unexpected[0]["observed_amount"], "77.77");
}

#[tokio::test]
async fn a_disbursement_with_no_receipt_goes_overdue_after_its_window() {
    let app = TestApp::spawn_with(|settings| {
        settings.reconciliation.window_secs = 3600;
        settings.reconciliation.check_interval_secs = 1;
    })
    .await;
    send(&app, &customer("cust_6", BORROWER)).await;
    // Disbursed two hours ago: its one-hour window is over.
    let minutes = (Utc::now() - at(0)).num_minutes() - 120;
    send(&app, &disbursed("ln_6", "cust_6", "10.00", minutes)).await;

    let overdue = e2e::eventually(Duration::from_secs(20), || async {
        let item = item_for_loan(&app, "ln_6").await;
        (item["status"] == "overdue").then_some(item)
    })
    .await;
    assert!(
        overdue.is_some(),
        "the periodic job did not move the item to overdue"
    );
}

#[tokio::test]
async fn a_cancelled_loan_voids_its_expectation() {
    let app = app().await;
    send(&app, &customer("cust_7", BORROWER)).await;
    send(&app, &disbursed("ln_7", "cust_7", "10.00", 0)).await;
    send(
        &app,
        &Fact::Cancelled {
            loan: "ln_7".into(),
        },
    )
    .await;
    assert_eq!(item_for_loan(&app, "ln_7").await["status"], "cancelled");
}

#[tokio::test]
async fn finance_resolves_an_item_with_a_note_and_the_audit_trail_keeps_who_when_and_why() {
    let app = app().await;
    let finance = app
        .key_with(&[Scope::ReconciliationRead, Scope::ReconciliationWrite])
        .await;
    send(&app, &customer("cust_8", BORROWER)).await;
    send(&app, &disbursed("ln_8", "cust_8", "300.00", 0)).await;
    send(&app, &received("E8a", BORROWER, "300.00", 5)).await;
    send(&app, &received("E8b", BORROWER, "300.00", -5)).await;
    let item = item_for_loan(&app, "ln_8").await;
    assert_eq!(
        item["status"], "needs_review",
        "two equally close receipts: no guess"
    );
    let id = item["id"].as_str().unwrap();

    let no_note = app
        .post_json(
            &format!("/v1/reconciliation/items/{id}/resolve"),
            Some(&finance),
            Some("r-0"),
            &json!({"action": "rematch", "end_to_end_id": "E8b", "note": " "}),
        )
        .await;
    expect_problem(
        no_note,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let resolved = app
        .post_json(
            &format!("/v1/reconciliation/items/{id}/resolve"),
            Some(&finance),
            Some("r-1"),
            &json!({"action": "rematch", "end_to_end_id": "E8b", "note": "bank statement shows E8b"}),
        )
        .await;
    let resolved = expect_json(resolved, StatusCode::OK).await;
    assert_eq!(resolved["status"], "matched");
    assert_eq!(resolved["locked"], true);

    let detail = expect_json(
        app.get(&format!("/v1/reconciliation/items/{id}"), Some(&finance))
            .await,
        StatusCode::OK,
    )
    .await;
    let history = detail["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["actor"], "test-key");
    assert_eq!(last["from"], "needs_review");
    assert_eq!(last["to"], "matched");
    assert_eq!(last["note"], "bank statement shows E8b");
    assert!(detail["candidates"].as_array().unwrap().len() >= 2);
    // The other receipt is now unexplained money from the credit provider.
    let unexpected = items(&app, "?status=unexpected_receipt").await;
    assert_eq!(unexpected.len(), 1);
    assert_eq!(unexpected[0]["end_to_end_id"], "E8a");
}

#[tokio::test]
async fn the_summary_adds_up_exactly_and_the_csv_report_parses_back() {
    let app = app().await;
    send(&app, &customer("cust_9", BORROWER)).await;
    send(&app, &customer("cust_10", OTHER_BORROWER)).await;
    send(&app, &disbursed("ln_9", "cust_9", "0.10", 0)).await;
    send(&app, &disbursed("ln_10", "cust_10", "0.20", 0)).await;
    send(&app, &received("E9", BORROWER, "0.10", 1)).await;
    send(&app, &received("E11", OTHER_BORROWER, "0.05", 1)).await;

    let (summary, sum) = summary(&app).await;
    assert_eq!(
        summary["total"]["amount"], "0.30",
        "0.10 matched + 0.20 mismatched (expected amounts)"
    );
    assert_eq!(sum.to_string(), "0.30");
    assert_eq!(summary["total"]["count"], 2);

    let pii_reader = app.key_with(&[Scope::ReconciliationRead, Scope::Pii]).await;
    for (key, document_shown) in [
        (
            app.key_with(&[Scope::ReconciliationRead]).await,
            "***.982.247-**",
        ),
        (pii_reader, BORROWER),
    ] {
        let response = app.get("/v1/reconciliation/report.csv", Some(&key)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = response.text().await.unwrap();
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let rows: Vec<HashMap<&str, &str>> = lines
            .map(|line| header.iter().copied().zip(line.split(',')).collect())
            .collect();
        assert_eq!(rows.len(), 2);
        let matched = rows.iter().find(|r| r["loan_id"] == "ln_9").unwrap();
        assert_eq!(matched["status"], "matched");
        assert_eq!(matched["expected_amount"], "0.10");
        assert_eq!(matched["document"], document_shown);
        let mismatch = rows.iter().find(|r| r["loan_id"] == "ln_10").unwrap();
        assert_eq!(mismatch["difference"], "-0.15");
    }
}

#[tokio::test]
async fn a_batch_run_is_stored_and_agrees_with_the_live_state() {
    let app = app().await;
    send(&app, &customer("cust_12", BORROWER)).await;
    send(&app, &disbursed("ln_12", "cust_12", "100.00", 0)).await;
    send(&app, &received("E12", BORROWER, "100.00", 1)).await;
    send(&app, &received("E13", BORROWER, "3.00", 2)).await;

    let run = app
        .post_json(
            "/v1/reconciliation/runs",
            Some(&app.admin_key),
            Some("run-1"),
            &json!({"from": at(-60), "to": at(60)}),
        )
        .await;
    let run = expect_json(run, StatusCode::CREATED).await;

    assert_eq!(run["agrees_with_live"], true, "{run}");
    assert_eq!(run["summary"]["matched"]["count"], 1);
    assert_eq!(run["summary"]["matched"]["amount"], "100.00");
    let id = run["id"].as_str().unwrap();
    let stored = expect_json(
        app.get(
            &format!("/v1/reconciliation/runs/{id}"),
            Some(&app.admin_key),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stored["summary"], run["summary"]);
}

#[tokio::test]
async fn listing_filters_by_status_document_and_period_and_rejects_bad_filters() {
    let app = app().await;
    send(&app, &customer("cust_14", BORROWER)).await;
    send(&app, &disbursed("ln_14", "cust_14", "1.00", 0)).await;
    assert_eq!(items(&app, "?document=529.982.247-25").await.len(), 1);
    assert_eq!(
        items(&app, &format!("?document={OTHER_BORROWER}"))
            .await
            .len(),
        0
    );
    let window = format!(
        "?status=pending&from={}&to={}",
        stamp(at(-60)),
        stamp(at(60))
    );
    assert_eq!(items(&app, &window).await.len(), 1);
    let before = format!("?from={}&to={}", stamp(at(-180)), stamp(at(-120)));
    assert_eq!(items(&app, &before).await.len(), 0);
    for query in [
        "?status=lost",
        "?document=123",
        "?from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z",
    ] {
        let response = app
            .get(
                &format!("/v1/reconciliation/items{query}"),
                Some(&app.admin_key),
            )
            .await;
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

/// Random facts over two borrowers: shuffled arrival, duplicates, cents off, late events.
fn scenario() -> impl Strategy<Value = (Vec<Fact>, Vec<usize>)> {
    let loans = prop::collection::vec((0usize..2, 0u32..3, 0i64..120), 1..5);
    let receipts = prop::collection::vec((0usize..2, 0u32..3, 0i64..120, any::<bool>()), 0..6);
    (loans, receipts).prop_flat_map(|(loans, receipts)| {
        let mut facts = vec![customer("c0", BORROWER), customer("c1", OTHER_BORROWER)];
        for (n, (who, cents, minutes)) in loans.iter().enumerate() {
            facts.push(disbursed(
                &format!("ln_{n}"),
                &format!("c{who}"),
                &format!("10.0{cents}"),
                *minutes,
            ));
        }
        for (n, (who, cents, minutes, dinie)) in receipts.iter().enumerate() {
            let document = if *who == 0 { BORROWER } else { OTHER_BORROWER };
            facts.push(Fact::Received {
                e2e: format!("E{n}"),
                document: document.into(),
                amount: format!("10.0{cents}"),
                minutes: *minutes,
                from_dinie: *dinie,
            });
        }
        let count = facts.len();
        // An arrival order with one duplicate.
        (
            Just(facts),
            Just((0..count).collect::<Vec<usize>>()).prop_shuffle(),
            0..count,
        )
            .prop_map(|(facts, mut order, dup)| {
                order.push(dup);
                (facts, order)
            })
    })
}

/// How the facts of a scenario reach the gateway.
#[derive(Debug, Clone, Copy)]
enum Arrival {
    /// One webhook at a time, each committed before the next is sent.
    OneByOne,
    /// All webhooks at once: group commit stores them in shared batches.
    Concurrently,
    /// All facts as the events of one webhook: one batch, repeats inside it.
    InOneWebhook,
}

async fn live_agrees_with_a_batch_run(facts: &[Fact], order: &[usize], arrival: Arrival) {
    let app = app().await;
    match arrival {
        Arrival::OneByOne => {
            for index in order {
                send(&app, &facts[*index]).await;
            }
        }
        Arrival::Concurrently => {
            futures::future::join_all(order.iter().map(|index| send(&app, &facts[*index]))).await;
        }
        Arrival::InOneWebhook => {
            let events: Vec<Value> = order.iter().map(|index| facts[*index].event()).collect();
            let body = json!({ "events": events }).to_string();
            expect_json(
                app.send_webhook("", Some(TOKEN), body).await,
                StatusCode::OK,
            )
            .await;
        }
    }
    let run = app
        .post_json(
            "/v1/reconciliation/runs",
            Some(&app.admin_key),
            Some("prop-run"),
            &json!({"from": at(-1440), "to": at(1440)}),
        )
        .await;
    let run = expect_json(run, StatusCode::CREATED).await;
    assert_eq!(
        run["agrees_with_live"], true,
        "live and batch disagree ({arrival:?}): {run}"
    );

    let listed = items(&app, "?limit=100").await;
    let disbursements: Vec<&Value> = listed
        .iter()
        .filter(|i| i["kind"] == "disbursement")
        .collect();
    let loans = facts
        .iter()
        .filter(|f| matches!(f, Fact::Disbursed { .. }))
        .count();
    assert_eq!(
        disbursements.len(),
        loans,
        "every expected receipt has exactly one item"
    );
    let (summary, by_status) = summary(&app).await;
    let by_items: Decimal = listed
        .iter()
        .map(|i| {
            i["expected_amount"]
                .as_str()
                .or(i["observed_amount"].as_str())
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        summary["total"]["amount"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap(),
        by_status
    );
    assert_eq!(by_status, by_items);
}

fn block_on(future: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(future);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn live_matching_in_any_order_agrees_with_a_batch_run_and_sums_add_up((facts, order) in scenario()) {
        block_on(live_agrees_with_a_batch_run(&facts, &order, Arrival::OneByOne));
    }

    #[test]
    fn live_matching_of_facts_arriving_together_agrees_with_a_batch_run((facts, order) in scenario()) {
        block_on(live_agrees_with_a_batch_run(&facts, &order, Arrival::Concurrently));
    }

    #[test]
    fn live_matching_of_facts_committed_in_one_batch_agrees_with_a_batch_run((facts, order) in scenario()) {
        block_on(live_agrees_with_a_batch_run(&facts, &order, Arrival::InOneWebhook));
    }
}
