//! The event store directly: exactly-once under concurrency.

use chrono::Utc;
use e2e::db::TestDb;
use std::time::Duration;

use gateway::store::deliveries::{self, AttemptRecord, NewDelivery, Outcome, Recording, Sink};
use gateway::store::events::{self, InsertOutcome, NewEvent};
use providers::{DedupKey, EventType, NormalizedEvent, ProviderName, ResourceKind, ResourceRef};

/// A `loan.active` event with this dedup key (the partitions tests use it too).
pub(crate) fn event(dedup_key: &str) -> NormalizedEvent {
    NormalizedEvent {
        event_type: EventType::LoanActive,
        provider_event_type: "loan.active".into(),
        dedup_key: DedupKey::parse(dedup_key).unwrap(),
        resource: ResourceRef {
            kind: ResourceKind::Loan,
            id: "ln_1".into(),
            correlation_id: None,
        },
        occurred_at: Some(Utc::now()),
        data: providers::EventData::Loan(providers::LoanData::new("ln_1")),
    }
}

#[tokio::test]
async fn two_concurrent_inserts_of_one_dedup_key_leave_exactly_one_row() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();
    let event = event("msg_same");

    // Both transactions insert before either commits: the second waits on the unique index and,
    // once the first commits, resolves to a duplicate of it.
    let mut first = db.pool.begin().await.unwrap();
    let mut second = db.pool.begin().await.unwrap();
    let first_outcome = events::insert(&mut first, &provider, &event, b"{}")
        .await
        .unwrap();
    let second_insert = {
        let event = event.clone();
        let provider = provider.clone();
        tokio::spawn(async move {
            let outcome = events::insert(&mut second, &provider, &event, b"{}")
                .await
                .unwrap();
            second.commit().await.unwrap();
            outcome
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !second_insert.is_finished(),
        "the second insert must wait for the first transaction"
    );
    first.commit().await.unwrap();
    let second_outcome = second_insert.await.unwrap();

    assert!(matches!(first_outcome, InsertOutcome::Inserted(_)));
    assert_eq!(
        second_outcome,
        InsertOutcome::Duplicate(first_outcome.event_id())
    );
    assert_eq!(
        events::count_by_dedup_key(&db.pool, &provider, "msg_same")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn many_concurrent_inserts_of_one_dedup_key_agree_on_one_event() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("delbank").unwrap();

    let tasks = (0..20).map(|_| {
        let pool = db.pool.clone();
        let provider = provider.clone();
        tokio::spawn(async move {
            let mut transaction = pool.begin().await.unwrap();
            let outcome = events::insert(&mut transaction, &provider, &event("E123"), b"{}")
                .await
                .unwrap();
            transaction.commit().await.unwrap();
            outcome
        })
    });
    let outcomes: Vec<InsertOutcome> = futures::future::try_join_all(tasks).await.unwrap();

    let inserted = outcomes
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Inserted(_)))
        .count();
    assert_eq!(inserted, 1);
    let first = outcomes[0].event_id();
    assert!(outcomes.iter().all(|o| o.event_id() == first));
    assert_eq!(
        events::count_by_dedup_key(&db.pool, &provider, "E123")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn the_same_dedup_key_from_two_providers_is_two_events() {
    let db = TestDb::new().await;
    let mut transaction = db.pool.begin().await.unwrap();
    let dinie = ProviderName::parse("dinie").unwrap();
    let delbank = ProviderName::parse("delbank").unwrap();

    let a = events::insert(&mut transaction, &dinie, &event("k1"), b"{}")
        .await
        .unwrap();
    let b = events::insert(&mut transaction, &delbank, &event("k1"), b"{}")
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    assert!(matches!(a, InsertOutcome::Inserted(_)));
    assert!(matches!(b, InsertOutcome::Inserted(_)));
}

#[tokio::test]
async fn a_rolled_back_insert_leaves_the_dedup_key_free() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();

    let mut transaction = db.pool.begin().await.unwrap();
    events::insert(&mut transaction, &provider, &event("k2"), b"{}")
        .await
        .unwrap();
    transaction.rollback().await.unwrap();
    let mut transaction = db.pool.begin().await.unwrap();
    let outcome = events::insert(&mut transaction, &provider, &event("k2"), b"{}")
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    assert!(matches!(outcome, InsertOutcome::Inserted(_)));
}

#[tokio::test]
async fn the_sql_pattern_match_agrees_with_event_pattern_matches() {
    let db = TestDb::new().await;
    let patterns = [
        "*",
        "loan.*",
        "loan.active",
        "pix.transfer.*",
        "pix.*",
        "credit_offer.*",
        "loan",
    ];
    let types = [
        "loan.active",
        "loan",
        "loans.active",
        "loan.x.y",
        "pix.received",
        "pix.transfer.failed",
        "credit_offer.available",
        "creditXoffer.available",
        "subscription.disabled",
    ];
    for pattern in patterns {
        let parsed = providers::EventPattern::parse(pattern).unwrap();
        for event_type in types {
            let in_sql: bool = sqlx::query_scalar("select event_type_matches($1, $2)")
                .bind(pattern)
                .bind(event_type)
                .fetch_one(&db.pool)
                .await
                .unwrap();
            assert_eq!(
                in_sql,
                parsed.matches(event_type),
                "{pattern} vs {event_type}"
            );
        }
    }
}

#[tokio::test]
async fn a_batch_inserts_each_key_once_and_reports_repeats_and_known_keys_as_duplicates() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();
    let mut transaction = db.pool.begin().await.unwrap();
    let known = events::insert(&mut transaction, &provider, &event("known"), b"{}")
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    let batch = [event("one"), event("two"), event("one"), event("known")];
    let items: Vec<NewEvent<'_>> = batch
        .iter()
        .map(|event| NewEvent {
            provider: &provider,
            event,
            raw: b"{}",
            verification: None,
            confirm: false,
        })
        .collect();
    let mut transaction = db.pool.begin().await.unwrap();
    let outcomes = events::insert_many(&mut transaction, &items).await.unwrap();
    transaction.commit().await.unwrap();

    assert!(matches!(outcomes[0], InsertOutcome::Inserted(_)));
    assert!(matches!(outcomes[1], InsertOutcome::Inserted(_)));
    assert_ne!(outcomes[0].event_id(), outcomes[1].event_id());
    assert_eq!(
        outcomes[2],
        InsertOutcome::Duplicate(outcomes[0].event_id())
    );
    assert_eq!(outcomes[3], InsertOutcome::Duplicate(known.event_id()));
    for key in ["one", "two", "known"] {
        assert_eq!(
            events::count_by_dedup_key(&db.pool, &provider, key)
                .await
                .unwrap(),
            1,
            "{key}"
        );
    }
}

#[tokio::test]
async fn overlapping_batches_lock_keys_in_one_order_and_do_not_deadlock() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();
    let (a, b) = (event("key-a"), event("key-b"));
    let one = |event| {
        [NewEvent {
            provider: &provider,
            event,
            raw: b"{}",
            verification: None,
            confirm: false,
        }]
    };

    // The first transaction holds key-a; the second batch lists key-b before key-a. Inserted in
    // the order given, the second would hold key-b while waiting for key-a, and the first, asking
    // for key-b next, would deadlock with it. In key order the second waits holding nothing.
    let mut first = db.pool.begin().await.unwrap();
    let first_a = events::insert_many(&mut first, &one(&a)).await.unwrap()[0];
    let second = {
        let (pool, provider, a, b) = (db.pool.clone(), provider.clone(), a.clone(), b.clone());
        tokio::spawn(async move {
            let mut transaction = pool.begin().await.unwrap();
            let items = [&b, &a].map(|event| NewEvent {
                provider: &provider,
                event,
                raw: b"{}",
                verification: None,
                confirm: false,
            });
            let outcomes = events::insert_many(&mut transaction, &items).await.unwrap();
            transaction.commit().await.unwrap();
            outcomes
        })
    };
    let waiting = e2e::eventually(Duration::from_secs(10), || async {
        (db.lock_waiters().await == 1).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "the second batch never waited for key-a");
    let first_b = events::insert_many(&mut first, &one(&b)).await.unwrap()[0];
    first.commit().await.unwrap();

    let second = second.await.unwrap();
    assert!(matches!(first_a, InsertOutcome::Inserted(_)));
    assert!(matches!(first_b, InsertOutcome::Inserted(_)));
    assert_eq!(
        second,
        vec![
            InsertOutcome::Duplicate(first_b.event_id()),
            InsertOutcome::Duplicate(first_a.event_id()),
        ]
    );
}

#[tokio::test]
async fn a_batch_records_only_the_deliveries_whose_claim_it_still_holds() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();
    let subscription = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into subscription (subscription_id, url, event_types, secret)
         values ($1, 'https://partner.example/hook', '{*}', 'unused')",
    )
    .bind(subscription)
    .execute(&db.pool)
    .await
    .unwrap();
    let mut connection = db.pool.acquire().await.unwrap();
    let mut rows = Vec::new();
    for key in ["d1", "d2", "d3"] {
        let event_id = events::insert(&mut connection, &provider, &event(key), b"{}")
            .await
            .unwrap()
            .event_id();
        rows.push(NewDelivery {
            sink: Sink::Webhook,
            subscription_id: Some(subscription),
            event_id: event_id.uuid(),
            ordering_key: format!("loan:{key}"),
            claimed: false,
        });
    }
    deliveries::enqueue(&mut connection, &rows, Duration::from_secs(30))
        .await
        .unwrap();
    let claimed = deliveries::claim(&db.pool, Sink::Webhook, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let recording = |claimed: &deliveries::Claimed| Recording {
        delivery_id: claimed.delivery_id,
        claimed_attempts: claimed.attempts,
        attempt: AttemptRecord {
            started_at: Utc::now(),
            latency: Duration::from_millis(3),
            response_status: Some(200),
            response_body: None,
            error: None,
        },
        outcome: Outcome::Succeeded,
    };
    // Another dispatcher took the first delivery over (its claim expired) and recorded it first.
    let taken_over = deliveries::record_many(&mut connection, &[recording(&claimed[0])])
        .await
        .unwrap();
    assert_eq!(taken_over, vec![claimed[0].delivery_id]);

    let all: Vec<Recording> = claimed.iter().map(recording).collect();
    let mut recorded = deliveries::record_many(&mut connection, &all)
        .await
        .unwrap();
    recorded.sort_unstable();
    let mut expected = vec![claimed[1].delivery_id, claimed[2].delivery_id];
    expected.sort_unstable();
    assert_eq!(recorded, expected);
    let (succeeded, attempts): (i64, i64) = sqlx::query_as(
        "select (select count(*) from delivery where status = 'succeeded' and attempts = 1),
                (select count(*) from delivery_attempt)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (succeeded, attempts),
        (3, 3),
        "one attempt row per delivery, none twice"
    );
}

#[tokio::test]
async fn intake_counts_add_up_per_minute_and_outcome_and_survive_a_failed_flush() {
    use gateway::ingest::intake::{Outcome as Intake, Tally};
    let db = TestDb::new().await;
    let tally = Tally::default();
    let at = Utc::now();
    tally.count("dinie", "/", Intake::Received, at);
    tally.count("dinie", "/", Intake::Received, at);
    tally.count(
        "dinie",
        "/",
        Intake::Refused("webhook_invalid_signature"),
        at,
    );
    tally.count("delbank", "/pix", Intake::Quarantined, at);

    // A pool that cannot connect: the flush fails and the counts are kept for the next one.
    let closed = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    assert!(tally.flush(&closed).await.is_err());
    tally.flush(&db.pool).await.unwrap();
    // Another replica's counts for the same minute add to the same rows.
    let other = Tally::default();
    other.count("dinie", "/", Intake::Received, at);
    other.flush(&db.pool).await.unwrap();

    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "select provider, registration, outcome, reason, count from webhook_intake order by 1, 3",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        ("delbank", "/pix", "quarantined", "", 1),
        ("dinie", "/", "received", "", 3),
        ("dinie", "/", "refused", "webhook_invalid_signature", 1),
    ];
    let got: Vec<(&str, &str, &str, &str, i64)> = rows
        .iter()
        .map(|(p, r, o, why, n)| (p.as_str(), r.as_str(), o.as_str(), why.as_str(), *n))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn an_expired_console_session_signs_no_one_in_and_is_purged() {
    use gateway::store::console_sessions;
    let db = TestDb::new().await;
    let created = gateway::keys::create(&db.pool, "ops", &[gateway::keys::Scope::Admin])
        .await
        .unwrap();
    let key = gateway::keys::authenticate(&db.pool, gateway::keys::reveal(&created))
        .await
        .unwrap()
        .api_key_id;
    let now = Utc::now();
    console_sessions::insert(
        &db.pool,
        b"live",
        key,
        "csrf-1",
        now + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    console_sessions::insert(
        &db.pool,
        b"gone",
        key,
        "csrf-2",
        now - chrono::Duration::seconds(1),
    )
    .await
    .unwrap();

    let (record, csrf) = console_sessions::find(&db.pool, b"live")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.id(), csrf.as_str()), (key, "csrf-1"));
    assert!(
        console_sessions::find(&db.pool, b"gone")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(console_sessions::purge_expired(&db.pool).await.unwrap(), 1);
    assert!(
        console_sessions::find(&db.pool, b"live")
            .await
            .unwrap()
            .is_some()
    );
}
