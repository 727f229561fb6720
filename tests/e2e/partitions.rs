//! Weekly partitions of events, deliveries and attempts: routing, retention by dropping whole
//! weeks, the exactly-once rule across partitions and key generations, and the online migration
//! of a database that already holds data.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use e2e::db::TestDb;
use gateway::config::RetentionSettings;
use gateway::store::deliveries::{self, AttemptRecord, NewDelivery, Outcome, Recording, Sink};
use gateway::store::events::{self, InsertOutcome};
use gateway::store::partitions::{self, Partitioned};
use providers::ProviderName;
use sqlx::PgPool;

use crate::store::event;

/// The last migration before partitioning.
const BEFORE_PARTITIONING: i64 = 20261203000018;
/// Partitioning step 1 (keys apart, the copy trigger).
const KEYS_APART: i64 = 20261207000019;

fn retention(events: u32, deliveries: u32, attempts: u32) -> RetentionSettings {
    RetentionSettings {
        events_days: events,
        deliveries_days: deliveries,
        attempts_days: attempts,
        partitions_ahead_days: 28,
        check_interval_secs: 3600,
    }
}

/// The name of the weekly partition of `table` holding `at`.
fn week_of(table: &str, at: DateTime<Utc>) -> String {
    let monday =
        at.date_naive() - chrono::Duration::days(i64::from(at.weekday().num_days_from_monday()));
    format!("{table}_p{}", monday.format("%Y%m%d"))
}

async fn partition_of(pool: &PgPool, table: &str, id_column: &str, id: uuid::Uuid) -> String {
    sqlx::query_scalar(&format!(
        "select tableoid::regclass::text from {table} where {id_column} = $1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn exists(pool: &PgPool, relation: &str) -> bool {
    sqlx::query_scalar::<_, Option<String>>("select to_regclass($1)::text")
        .bind(relation)
        .fetch_one(pool)
        .await
        .unwrap()
        .is_some()
}

async fn subscription(pool: &PgPool) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into subscription (subscription_id, url, event_types, secret)
         values ($1, 'https://partner.example/hook', '{*}', 'unused')",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// An event, a delivery and an attempt written as the gateway writes them, but dated `at`.
async fn history_at(pool: &PgPool, subscription: uuid::Uuid, at: DateTime<Utc>, key: &str) {
    sqlx::query(
        "with e as (
             insert into event (event_id, provider, event_type, provider_event_type, dedup_key,
                                resource_kind, resource_id, occurred_at, received_at, data, raw)
             values (uuid_v7_at($1), 'dinie', 'loan.active', 'loan.active', $2, 'loan', 'ln_1',
                     $1, $1, '{}', '\\x7b7d')
             returning event_id
         ), d as (
             insert into delivery (delivery_id, subscription_id, event_id, ordering_key, status,
                                   attempts, created_at, updated_at)
             select uuid_v7_at($1), $3, event_id, 'loan:ln_1', 'succeeded', 1, $1, $1 from e
             returning delivery_id
         )
         insert into delivery_attempt (attempt_id, delivery_id, started_at, latency_ms, response_status)
         select uuid_v7_at($1), delivery_id, $1, 12, 200 from d",
    )
    .bind(at)
    .bind(key)
    .bind(subscription)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn an_event_its_delivery_and_its_attempt_land_in_the_week_their_ids_were_made() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("dinie").unwrap();
    let subscription = subscription(&db.pool).await;
    let mut connection = db.pool.acquire().await.unwrap();
    let event_id = events::insert(&mut connection, &provider, &event("msg_week"), b"{}")
        .await
        .unwrap()
        .event_id();
    let delivery_id = deliveries::enqueue(
        &mut connection,
        &[NewDelivery {
            sink: Sink::Webhook,
            subscription_id: Some(subscription),
            event_id: event_id.uuid(),
            ordering_key: "loan:ln_1".into(),
            claimed: false,
        }],
        Duration::from_secs(30),
    )
    .await
    .unwrap()[0];
    let claimed = deliveries::claim(&db.pool, Sink::Webhook, 10, Duration::from_secs(30))
        .await
        .unwrap();
    deliveries::record_many(
        &mut connection,
        &[Recording {
            delivery_id,
            claimed_attempts: claimed[0].attempts,
            attempt: AttemptRecord {
                started_at: Utc::now(),
                latency: Duration::from_millis(3),
                response_status: Some(200),
                response_body: None,
                error: None,
            },
            outcome: Outcome::Succeeded,
        }],
    )
    .await
    .unwrap();
    let attempt_id: uuid::Uuid = sqlx::query_scalar("select attempt_id from delivery_attempt")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    let now = Utc::now();
    assert_eq!(
        partition_of(&db.pool, "event", "event_id", event_id.uuid()).await,
        week_of("event", now)
    );
    assert_eq!(
        partition_of(&db.pool, "delivery", "delivery_id", delivery_id).await,
        week_of("delivery", now)
    );
    assert_eq!(
        partition_of(&db.pool, "delivery_attempt", "attempt_id", attempt_id).await,
        week_of("delivery_attempt", now)
    );
}

#[tokio::test]
async fn partitions_are_created_ahead_of_time_and_cover_weeks_without_gaps() {
    let db = TestDb::new().await;
    let now = Utc::now();
    let created = partitions::ensure_ahead(&db.pool, now, chrono::Duration::days(70))
        .await
        .unwrap();
    // The migration made four weeks ahead; seventy days need six more or so per table.
    assert!(created >= 3 * 5, "created {created} partitions");
    for table in Partitioned::ALL {
        let weeks = partitions::list(&db.pool, table).await.unwrap();
        let weekly: Vec<_> = weeks
            .iter()
            .filter(|p| p.name != format!("{}_legacy", table.table()))
            .collect();
        assert!(
            weekly.last().unwrap().to >= now + chrono::Duration::days(70),
            "{table:?} partitions end at {}",
            weekly.last().unwrap().to
        );
        for pair in weekly.windows(2) {
            assert_eq!(
                pair[0].to, pair[1].from,
                "{table:?} has a gap or an overlap"
            );
            assert_eq!(pair[1].to - pair[1].from, chrono::Duration::days(7));
        }
    }
    // Running it again creates nothing.
    assert_eq!(
        partitions::ensure_ahead(&db.pool, now, chrono::Duration::days(70))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn replicas_creating_the_same_weeks_at_once_all_succeed_and_create_each_once() {
    let db = TestDb::new().await;
    let count = || async {
        let mut total = 0_u64;
        for table in Partitioned::ALL {
            total += u64::try_from(partitions::list(&db.pool, table).await.unwrap().len()).unwrap();
        }
        total
    };
    let before = count().await;
    let now = Utc::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                partitions::ensure_ahead(&pool, now, chrono::Duration::days(120)).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += task
            .await
            .unwrap()
            .expect("no replica fails on a week another created");
    }
    // About thirteen weeks beyond the migration's four, for each of the three tables.
    assert!(created >= 3 * 12, "created {created}");
    assert_eq!(count().await, before + created, "each week created once");
    assert_eq!(
        partitions::ensure_ahead(&db.pool, now, chrono::Duration::days(120))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn retention_drops_whole_expired_weeks_per_table_and_keeps_the_rest() {
    let db = TestDb::new().await;
    let now = Utc::now();
    partitions::ensure_between(&db.pool, now - chrono::Duration::days(70), now)
        .await
        .unwrap();
    let subscription = subscription(&db.pool).await;
    let old = now - chrono::Duration::days(60);
    let middle = now - chrono::Duration::days(40);
    history_at(&db.pool, subscription, old, "old").await;
    history_at(&db.pool, subscription, middle, "middle").await;
    history_at(&db.pool, subscription, now, "recent").await;

    // Events and deliveries for 45 days, attempts for 30.
    let done = gateway::retention::maintain(&db.pool, &retention(45, 45, 30), now)
        .await
        .unwrap();

    let counts: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from event), (select count(*) from delivery),
                (select count(*) from delivery_attempt)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        counts,
        (2, 2, 1),
        "the 60-day-old week is gone from all three; the 40-day-old one only from attempts"
    );
    for table in ["event", "delivery", "delivery_attempt"] {
        assert!(
            !exists(&db.pool, &week_of(table, old)).await,
            "{table}: the expired week was dropped as a table"
        );
        assert!(done.dropped.contains(&week_of(table, old)));
        assert!(exists(&db.pool, &week_of(table, now)).await);
    }
    assert!(!exists(&db.pool, &week_of("delivery_attempt", middle)).await);
    assert!(exists(&db.pool, &week_of("delivery", middle)).await);
    assert!(exists(&db.pool, &week_of("event", middle)).await);
}

#[tokio::test]
async fn a_redelivery_in_a_later_key_generation_is_still_the_same_event() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("delbank").unwrap();
    let mut connection = db.pool.acquire().await.unwrap();
    let first = events::insert(&mut connection, &provider, &event("E2E-1"), b"{}")
        .await
        .unwrap();
    assert!(matches!(first, InsertOutcome::Inserted(_)));

    // A generation lasts as long as events are kept (400 days here).
    let keep = chrono::Duration::days(400);
    assert_eq!(
        partitions::rotate_key_generation(&db.pool, Utc::now(), keep)
            .await
            .unwrap(),
        None,
        "the first generation is not due yet"
    );
    let later = Utc::now() + chrono::Duration::days(401);
    assert_eq!(
        partitions::rotate_key_generation(&db.pool, later, keep)
            .await
            .unwrap(),
        Some(2)
    );
    let again = events::insert(&mut connection, &provider, &event("E2E-1"), b"{}")
        .await
        .unwrap();
    assert_eq!(again, InsertOutcome::Duplicate(first.event_id()));
    assert_eq!(
        events::count_by_dedup_key(&db.pool, &provider, "E2E-1")
            .await
            .unwrap(),
        1
    );

    // Two generations on, the key is forgotten (its event is long past retention by then).
    partitions::rotate_key_generation(&db.pool, later + chrono::Duration::days(401), keep)
        .await
        .unwrap();
    assert!(
        !exists(&db.pool, "event_key_g1").await,
        "the oldest generation is dropped whole"
    );
    assert!(matches!(
        events::insert(&mut connection, &provider, &event("E2E-1"), b"{}")
            .await
            .unwrap(),
        InsertOutcome::Inserted(_)
    ));
}

#[tokio::test]
async fn an_insert_racing_a_key_rotation_still_finds_the_key_of_the_insert_before_it() {
    let db = TestDb::new().await;
    let provider = ProviderName::parse("delbank").unwrap();
    let keep = chrono::Duration::days(400);

    // The first insert is in flight (uncommitted) in generation 1 when the rotation starts.
    let mut first = db.pool.begin().await.unwrap();
    let first_outcome = events::insert(&mut first, &provider, &event("E2E-race"), b"{}")
        .await
        .unwrap();
    let rotation = {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            partitions::rotate_key_generation(&pool, Utc::now() + chrono::Duration::days(401), keep)
                .await
                .unwrap()
        })
    };
    e2e::eventually(Duration::from_secs(5), || async {
        (db.lock_waiters().await == 1).then_some(())
    })
    .await
    .expect("the rotation waits for the insert in flight");
    // A redelivery arrives now: it queues behind the rotation, which waits for the first insert.
    let second = {
        let pool = db.pool.clone();
        let provider = provider.clone();
        tokio::spawn(async move {
            let mut transaction = pool.begin().await.unwrap();
            let outcome = events::insert(&mut transaction, &provider, &event("E2E-race"), b"{}")
                .await
                .unwrap();
            transaction.commit().await.unwrap();
            outcome
        })
    };
    e2e::eventually(Duration::from_secs(5), || async {
        (db.lock_waiters().await == 2).then_some(())
    })
    .await
    .expect("the redelivery waits behind the rotation");
    assert!(!rotation.is_finished() && !second.is_finished());
    first.commit().await.unwrap();

    assert_eq!(rotation.await.unwrap(), Some(2));
    // It ran in generation 2 and found the key in generation 1.
    assert_eq!(
        second.await.unwrap(),
        InsertOutcome::Duplicate(first_outcome.event_id())
    );
    assert_eq!(
        events::count_by_dedup_key(&db.pool, &provider, "E2E-race")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn deleting_a_subscription_deletes_its_deliveries_and_their_attempts() {
    let db = TestDb::new().await;
    let subscription = subscription(&db.pool).await;
    let other = self::subscription(&db.pool).await;
    history_at(&db.pool, subscription, Utc::now(), "mine").await;
    history_at(&db.pool, other, Utc::now(), "theirs").await;

    let id = providers::SubscriptionId::from_uuid(subscription);
    assert!(
        gateway::store::subscriptions::delete(&db.pool, id)
            .await
            .unwrap()
    );

    let left: (i64, i64) = sqlx::query_as(
        "select (select count(*) from delivery), (select count(*) from delivery_attempt)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(left, (1, 1), "only the other subscription's rows are left");
}

/// What a gateway of the release before partitioning writes for one webhook.
async fn legacy_write(pool: &PgPool, subscription: uuid::Uuid, key: &str) -> uuid::Uuid {
    let event_id: uuid::Uuid = sqlx::query_scalar(
        "insert into event (event_id, provider, event_type, provider_event_type, dedup_key,
                            resource_kind, resource_id, occurred_at, data, raw)
         values (uuid_v7_at(now()), 'delbank', 'pix.received', 'PIX_RECEIVED', $1, 'pix', $1,
                 now(), '{}', '\\x7b7d')
         on conflict on constraint event_provider_dedup_key_key do nothing
         returning event_id",
    )
    .bind(key)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into delivery (delivery_id, subscription_id, event_id, ordering_key)
         values (uuid_v7_at(now()), $1, $2, 'pix:' || $2)",
    )
    .bind(subscription)
    .bind(event_id)
    .execute(pool)
    .await
    .unwrap();
    event_id
}

#[tokio::test]
async fn migrating_a_database_that_holds_data_keeps_every_row_and_its_exactly_once_rule() {
    let db = TestDb::migrated_to(BEFORE_PARTITIONING).await;
    // `uuid_v7_at` arrives with partitioning; the old release made its ids in Rust the same way.
    sqlx::raw_sql(
        "create function uuid_v7_at(at timestamptz) returns uuid language sql as $$
             select (lpad(to_hex(floor(extract(epoch from at) * 1000)::bigint), 12, '0') || '7'
                     || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid
         $$",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let subscription = subscription(&db.pool).await;
    let mut before = Vec::new();
    for n in 0..200 {
        before.push(legacy_write(&db.pool, subscription, &format!("E2E-before-{n}")).await);
    }
    let indexes_before: i64 =
        sqlx::query_scalar("select count(*) from pg_index where indrelid = 'event'::regclass")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::raw_sql("drop function uuid_v7_at(timestamptz)")
        .execute(&db.pool)
        .await
        .unwrap();

    // Step 1, then the old release keeps writing while the rest of the steps wait.
    db.migrate_to(KEYS_APART).await;
    let during = legacy_write(&db.pool, subscription, "E2E-during").await;
    db.migrate_to(i64::MAX).await;

    // Every row is where it was, read through the partitioned tables.
    let counts: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from event), (select count(*) from event_legacy),
                (select count(*) from delivery where status = 'pending')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counts, (201, 201, 201));
    // Nothing was rebuilt: the legacy partition's indexes are its own, attached to the parent's.
    let indexes_after: i64 = sqlx::query_scalar(
        "select count(*) from pg_index where indrelid = 'event_legacy'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(indexes_after, indexes_before);
    // Its bound is at least a day ahead, so the old release could write until the switch, and the
    // weekly partitions follow it without a gap.
    let weeks = partitions::list(&db.pool, Partitioned::Events)
        .await
        .unwrap();
    assert_eq!(weeks[0].name, "event_legacy");
    assert!(weeks[0].to >= Utc::now() + chrono::Duration::days(1));
    assert_eq!(weeks[0].to, weeks[1].from);

    // A redelivery of an event stored before the migration, or during it, is a duplicate.
    let provider = ProviderName::parse("delbank").unwrap();
    let mut connection = db.pool.acquire().await.unwrap();
    for (key, id) in [("E2E-before-7", before[7]), ("E2E-during", during)] {
        assert_eq!(
            events::insert(&mut connection, &provider, &event(key), b"{}")
                .await
                .unwrap(),
            InsertOutcome::Duplicate(providers::EventId::from_uuid(id)),
            "{key}"
        );
    }
    assert!(matches!(
        events::insert(&mut connection, &provider, &event("E2E-after"), b"{}")
            .await
            .unwrap(),
        InsertOutcome::Inserted(_)
    ));
    // The deliveries that were pending go out as before.
    let claimed = deliveries::claim(&db.pool, Sink::Webhook, 500, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 201);
}

#[tokio::test]
async fn retention_deletes_resolved_confirmations_of_events_past_retention_and_keeps_the_rest() {
    let db = TestDb::new().await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(60);
    let recent = now - chrono::Duration::days(10);
    for (label, state, resolved_at) in [
        ("old-refused", "refused", Some(old)),
        ("old-confirmed", "confirmed", Some(old)),
        ("recent-refused", "refused", Some(recent)),
        ("old-pending", "pending", None),
    ] {
        sqlx::query(
            "insert into event_confirmation (event_id, provider, state, reason, created_at, resolved_at)
             values (uuid_v7_at($1), 'delbank', $2, $3, $1, $4)",
        )
        .bind(old)
        .bind(state)
        .bind(label)
        .bind(resolved_at)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    // Events for 45 days: resolved more than 45 days and a week ago is about an event that is gone.
    let done = gateway::retention::maintain(&db.pool, &retention(45, 45, 30), now)
        .await
        .unwrap();

    assert_eq!(done.confirmations_deleted, 2);
    let left: Vec<String> =
        sqlx::query_scalar("select reason from event_confirmation order by reason")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(left, ["old-pending", "recent-refused"]);
}
