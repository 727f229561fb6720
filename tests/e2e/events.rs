//! `GET /v1/events`: filters, cursor pagination (stable under concurrent inserts), lookup.

use std::collections::HashSet;

use e2e::app::{TestApp, expect_json, expect_problem, one_event};
use e2e::source::TOKEN;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn ingest(app: &TestApp, id: &str, event_type: &str, resource: &str) {
    let body = one_event(id, event_type, resource).to_string();
    expect_json(
        app.send_webhook("", Some(TOKEN), body).await,
        StatusCode::OK,
    )
    .await;
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_are_filtered_by_type_pattern_provider_and_resource() {
    let app = TestApp::spawn().await;
    ingest(&app, "a", "loan.active", "ln_1").await;
    ingest(&app, "b", "loan.signed", "ln_2").await;
    ingest(&app, "c", "pix.received", "E1").await;

    let loans = app.list_events("?type=loan.*").await;
    let exact = app.list_events("?type=pix.received").await;
    let all = app.list_events("?type=*&provider=testprov").await;
    let by_resource = app.list_events("?resource_id=ln_2").await;
    let other_provider = app.list_events("?provider=dinie").await;

    assert_eq!(ids(&loans).len(), 2);
    assert_eq!(exact["data"][0]["type"], "pix.received");
    assert_eq!(ids(&exact).len(), 1);
    assert_eq!(ids(&all).len(), 3);
    assert_eq!(by_resource["data"][0]["type"], "loan.signed");
    assert_eq!(ids(&by_resource).len(), 1);
    assert!(ids(&other_provider).is_empty());
}

#[tokio::test]
async fn events_are_filtered_by_time_range() {
    let app = TestApp::spawn().await;
    for (id, at) in [
        ("t1", "2026-01-01T10:00:00Z"),
        ("t2", "2026-01-02T10:00:00Z"),
        ("t3", "2026-01-03T10:00:00Z"),
    ] {
        let body = json!({"events": [{"id": id, "type": "loan.active", "resource": "ln", "occurred_at": at}]});
        expect_json(
            app.send_webhook("", Some(TOKEN), body.to_string()).await,
            StatusCode::OK,
        )
        .await;
    }

    let window = app
        .list_events("?from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z")
        .await;

    assert_eq!(ids(&window).len(), 1);
    assert_eq!(window["data"][0]["dedup_key"], "t2");
}

#[tokio::test]
async fn pages_follow_starting_after_until_has_more_is_false() {
    let app = TestApp::spawn().await;
    for n in 0..7 {
        ingest(&app, &format!("p{n}"), "loan.active", "ln").await;
    }

    let first = app.list_events("?limit=3").await;
    let cursor = ids(&first).last().unwrap().clone();
    let second = app
        .list_events(&format!("?limit=3&starting_after={cursor}"))
        .await;
    let cursor = ids(&second).last().unwrap().clone();
    let third = app
        .list_events(&format!("?limit=3&starting_after={cursor}"))
        .await;

    assert_eq!(first["has_more"], true);
    assert_eq!(second["has_more"], true);
    assert_eq!(third["has_more"], false);
    assert_eq!(ids(&third).len(), 1);
    // Newest first: the first page starts with the last event received.
    assert_eq!(first["data"][0]["dedup_key"], "p6");
    let all: Vec<String> = [ids(&first), ids(&second), ids(&third)].concat();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn pagination_neither_repeats_nor_skips_while_events_are_inserted() {
    let app = TestApp::spawn().await;
    for n in 0..30 {
        ingest(&app, &format!("before-{n}"), "loan.active", "ln").await;
    }
    let before: HashSet<String> = ids(&app.list_events("?limit=100").await)
        .into_iter()
        .collect();

    // Insert new events between every page fetch.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("?limit=4&starting_after={cursor}"),
            None => "?limit=4".to_owned(),
        };
        let page = app.list_events(&query).await;
        ingest(&app, &format!("during-{inserted}"), "loan.active", "ln").await;
        inserted += 1;
        seen.extend(ids(&page));
        if page["has_more"] == false {
            break;
        }
        cursor = seen.last().cloned();
        assert!(inserted < 100, "pagination did not terminate");
    }

    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an event appeared twice");
    assert!(
        before.is_subset(&unique),
        "an event present before paging was skipped"
    );
}

#[tokio::test]
async fn a_bad_filter_or_cursor_is_a_400_naming_it() {
    let app = TestApp::spawn().await;
    let cases = [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        (
            "?starting_after=sub_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b",
            "starting_after",
        ),
        ("?type=loan.*.x", "type"),
        ("?from=yesterday", "from"),
        ("?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ];
    for (query, named) in cases {
        let response = app
            .get(&format!("/v1/events{query}"), Some(&app.admin_key))
            .await;
        let problem = expect_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
}

#[tokio::test]
async fn an_unknown_event_is_404() {
    let app = TestApp::spawn().await;
    let response = app
        .get(
            "/v1/events/evt_0193a1b2c3d47e8f9a0b1c2d3e4f5a6b",
            Some(&app.admin_key),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.get("/v1/events/not-an-id", Some(&app.admin_key)).await;
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn an_event_with_no_time_of_its_own_is_found_by_time_and_says_its_time_is_the_receipt() {
    let app = TestApp::spawn().await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(60);
    ingest(&app, "no-time", "loan.active", "ln_t").await;
    let timed = json!({"events": [{"id": "timed", "type": "loan.signed", "resource": "ln_t",
                                   "occurred_at": "2026-01-15T12:30:00Z"}]});
    expect_json(
        app.send_webhook("", Some(TOKEN), timed.to_string()).await,
        StatusCode::OK,
    )
    .await;

    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let recent = app.list_events(&format!("?from={since}")).await;

    assert_eq!(ids(&recent).len(), 1, "{recent}");
    let event = &recent["data"][0];
    assert_eq!(event["dedup_key"], "no-time");
    assert_eq!(event["occurred_at_source"], "received");
    assert_eq!(event["occurred_at"], event["received_at"]);
    let all = app.list_events("?resource_id=ln_t").await;
    let timed = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["dedup_key"] == "timed")
        .unwrap();
    assert_eq!(timed["occurred_at_source"], "provider");
    assert_eq!(timed["occurred_at"], "2026-01-15T12:30:00Z");
}
