//! Group commit of inbound webhooks: webhooks that arrive while a commit is in flight are stored
//! together in the next transaction, each answered after that commit; a webhook Postgres refuses
//! costs only itself.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use e2e::db::TestDb;
use e2e::source::{TOKEN, TestSource};
use gateway::config::IngestSettings;
use gateway::ingest::{IngestError, Ingested, Ingestor};
use gateway::outbox::Sinks;
use providers::WebhookSource;
use serde_json::json;
use tokio::task::JoinHandle;

fn one_writer() -> IngestSettings {
    IngestSettings {
        writers: 1,
        max_batch: 256,
        queue_capacity: 1024,
        credential_cache_ms: 0,
    }
}

fn send(ingestor: &Ingestor, body: serde_json::Value) -> JoinHandle<Result<Ingested, IngestError>> {
    let ingestor = ingestor.clone();
    let source: Arc<dyn WebhookSource> = Arc::new(TestSource::default());
    let mut headers = HeaderMap::new();
    headers.insert("x-test-token", HeaderValue::from_static(TOKEN));
    let body = Bytes::from(body.to_string());
    tokio::spawn(async move { ingestor.receive(&source, "", &headers, &body).await })
}

fn loan_event(n: usize) -> serde_json::Value {
    json!({"events": [{"id": format!("evt-{n}"), "type": "loan.active", "resource": format!("ln_{n}")}]})
}

/// Holds the event table so the writer's first batch blocks, queues `later` webhooks behind it,
/// then lets everything through; returns the first webhook's and the later ones' outcomes.
async fn with_a_blocked_commit(
    db: &TestDb,
    ingestor: &Ingestor,
    later: Vec<serde_json::Value>,
) -> (Ingested, Vec<Result<Ingested, IngestError>>) {
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("lock table event in exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let first = send(ingestor, loan_event(0));
    let blocked = e2e::eventually(Duration::from_secs(10), || async {
        (db.lock_waiters().await == 1).then_some(())
    })
    .await;
    assert!(blocked.is_some(), "the first commit never reached the lock");
    let count = later.len();
    let later: Vec<_> = later.into_iter().map(|body| send(ingestor, body)).collect();
    let queued = e2e::eventually(Duration::from_secs(10), || async {
        (ingestor.queued() == count).then_some(())
    })
    .await;
    assert!(queued.is_some(), "{} of {count} queued", ingestor.queued());
    blocker.rollback().await.unwrap();
    let first = first.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for handle in later {
        outcomes.push(handle.await.unwrap());
    }
    (first, outcomes)
}

async fn transactions_that_wrote_events(db: &TestDb) -> i64 {
    sqlx::query_scalar("select count(distinct xmin::text) from event")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn webhooks_arriving_while_a_commit_is_in_flight_are_committed_together_in_one_transaction() {
    let db = TestDb::new().await;
    let ingestor = Ingestor::start(db.pool.clone(), Sinks::default(), &one_writer(), None);

    let (first, later) =
        with_a_blocked_commit(&db, &ingestor, (1..=20).map(loan_event).collect()).await;

    assert!(matches!(first, Ingested::Stored(ref events) if events.len() == 1));
    for outcome in later {
        let Ingested::Stored(events) = outcome.unwrap() else {
            panic!("a webhook was not stored");
        };
        assert_eq!(events.len(), 1);
        assert!(!events[0].1, "not a duplicate");
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from event")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 21);
    // The first webhook's transaction, then one for all twenty that waited behind it.
    assert_eq!(transactions_that_wrote_events(&db).await, 2);
}

#[tokio::test]
async fn repeats_inside_one_batch_are_stored_once_and_answered_with_the_first_id() {
    let db = TestDb::new().await;
    let ingestor = Ingestor::start(db.pool.clone(), Sinks::default(), &one_writer(), None);

    let later = vec![loan_event(1), loan_event(2), loan_event(1), loan_event(0)];
    let (first, later) = with_a_blocked_commit(&db, &ingestor, later).await;

    let id = |outcome: &Ingested| match outcome {
        Ingested::Stored(events) => events[0],
        Ingested::Quarantined(_) => panic!("quarantined"),
    };
    let later: Vec<_> = later.into_iter().map(|o| id(&o.unwrap())).collect();
    assert!(!later[0].1 && !later[1].1, "the first of each key is new");
    assert_eq!(later[2], (later[0].0, true), "the repeat of evt-1");
    assert_eq!(later[3], (id(&first).0, true), "the repeat of evt-0");
    let stored: i64 = sqlx::query_scalar("select count(*) from event")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 3);
}

#[tokio::test]
async fn a_webhook_postgres_refuses_is_quarantined_and_the_rest_of_its_batch_is_stored() {
    let db = TestDb::new().await;
    let ingestor = Ingestor::start(db.pool.clone(), Sinks::default(), &one_writer(), None);
    // A NUL character is valid JSON but Postgres cannot store it in jsonb: the batch's statement
    // fails, and each webhook is stored again on its own.
    let poison = json!({"events": [{"id": "evt-poison", "type": "loan.active", "resource": "ln_p",
                                    "data": {"ccb_number": "nul \u{0000} here"}}]});
    let mut later: Vec<_> = (1..=10).map(loan_event).collect();
    later.insert(5, poison);

    let (_, later) = with_a_blocked_commit(&db, &ingestor, later).await;

    let mut stored = 0;
    let mut quarantined = 0;
    for outcome in later {
        match outcome.unwrap() {
            Ingested::Stored(_) => stored += 1,
            Ingested::Quarantined(_) => quarantined += 1,
        }
    }
    assert_eq!((stored, quarantined), (10, 1));
    let events: i64 = sqlx::query_scalar("select count(*) from event")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 11);
    let reason: String = sqlx::query_scalar("select reason from quarantine")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        reason.starts_with("the event could not be stored"),
        "{reason}"
    );
}
