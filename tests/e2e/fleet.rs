//! What replicas share through Postgres, at the store: the rate-limit buckets (`store::pace`) and
//! the periodic jobs' runs (`store::jobs`), each used from separate pools as separate replicas do.

use std::time::Duration;

use e2e::app::{TestApp, expect_json};
use gateway::store::jobs;
use gateway::store::pace::{self, Grant, Slot, Want};
use http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

const MINUTE: Duration = Duration::from_secs(60);

/// A second pool on the test database: another replica.
async fn replica_pool(app: &TestApp) -> PgPool {
    PgPoolOptions::new()
        .max_connections(4)
        .connect(app.db.url.expose_secret())
        .await
        .unwrap()
}

/// A subscription limited to `rate` per second; returns its uuid.
async fn limited_subscription(app: &TestApp, rate: u32) -> uuid::Uuid {
    let created = expect_json(
        app.post_json(
            "/v1/subscriptions",
            Some(&app.admin_key),
            Some(&format!("pace-{}", uuid::Uuid::now_v7())),
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "rate_limit_per_second": rate}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    id.parse::<providers::SubscriptionId>().unwrap().uuid()
}

async fn reserve(
    pool: &PgPool,
    subscription_id: uuid::Uuid,
    wanted: u32,
    horizon: Duration,
) -> Grant {
    let grants = pace::reserve(
        pool,
        &[Want {
            subscription_id,
            wanted,
            per_second: 10,
        }],
        horizon,
    )
    .await
    .unwrap();
    assert_eq!(grants.len(), 1);
    grants[0]
}

#[tokio::test]
async fn consecutive_reservations_from_two_replicas_are_one_interval_apart() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let other = replica_pool(&app).await;
    let subscription = limited_subscription(&app, 10).await;

    let first = reserve(&app.db.pool, subscription, 1, MINUTE).await;
    let second = reserve(&other, subscription, 1, MINUTE).await;
    let third = reserve(&app.db.pool, subscription, 2, MINUTE).await;

    // 10/s: a second and the jitter margin over ten, 101 ms.
    let step = pace::interval(10);
    assert_eq!(step, Duration::from_millis(101));
    assert_eq!((first.granted, first.start), (1, Duration::ZERO));
    assert_eq!(first.interval, step);
    // Each block starts where the previous one ended, less the time between the two statements.
    assert!(
        second.start > step / 2 && second.start <= step,
        "{second:?}"
    );
    assert!(
        third.start > step * 3 / 2 && third.start <= step * 2,
        "{third:?}"
    );
    assert_eq!(third.granted, 2);
}

#[tokio::test]
async fn an_idle_bucket_does_not_accumulate_a_burst() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let subscription = limited_subscription(&app, 10).await;
    reserve(&app.db.pool, subscription, 1, MINUTE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let block = reserve(&app.db.pool, subscription, 3, MINUTE).await;

    assert_eq!(block.start, Duration::ZERO);
    assert_eq!(block.slot(2), Slot::After(pace::interval(10) * 2));
}

#[tokio::test]
async fn a_block_never_reaches_beyond_the_horizon_and_the_rest_waits_for_later() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let subscription = limited_subscription(&app, 10).await;
    let horizon = Duration::from_millis(450);

    let block = reserve(&app.db.pool, subscription, 10, horizon).await;
    let booked = reserve(&app.db.pool, subscription, 3, horizon).await;

    // Slots at 0, 101, ..., 404 ms fit; the sixth would start at 505 ms.
    assert_eq!(block.granted, 5);
    assert!(matches!(block.slot(5), Slot::Later(wait) if wait == pace::interval(10) * 5));
    assert_eq!(booked.granted, 0);
    assert!(matches!(booked.slot(0), Slot::Later(wait) if wait > Duration::from_millis(400)));
}

#[tokio::test]
async fn concurrent_reservations_from_many_replicas_never_share_a_slot() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let pools = [
        app.db.pool.clone(),
        replica_pool(&app).await,
        replica_pool(&app).await,
    ];
    let subscription = limited_subscription(&app, 10).await;

    let reservations: Vec<_> = (0..30)
        .map(|n| {
            let pool = pools[n % pools.len()].clone();
            tokio::spawn(async move { reserve(&pool, subscription, 1, MINUTE).await })
        })
        .collect();
    let mut granted = 0;
    for reservation in reservations {
        granted += reservation.await.unwrap().granted;
    }

    assert_eq!(granted, 30);
    // Thirty consecutive slots of 101 ms: the bucket's next slot is 3.03 s after the first, less
    // the time the reservations took. Two sharing a slot would leave it short.
    let ahead: f64 = sqlx::query_scalar(
        "select extract(epoch from next_slot - last_start)::float8
           + extract(epoch from last_start - now())::float8 from subscription_pace",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(ahead > 2.5 && ahead <= 3.03, "{ahead}");
}

#[tokio::test]
async fn a_deleted_subscription_takes_its_bucket_with_it() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let subscription = limited_subscription(&app, 10).await;
    reserve(&app.db.pool, subscription, 1, MINUTE).await;

    sqlx::query("delete from subscription where subscription_id = $1")
        .bind(subscription)
        .execute(&app.db.pool)
        .await
        .unwrap();

    assert_eq!(app.count("subscription_pace").await, 0);
    let grants = pace::reserve(
        &app.db.pool,
        &[Want {
            subscription_id: subscription,
            wanted: 1,
            per_second: 10,
        }],
        MINUTE,
    )
    .await
    .unwrap();
    assert!(grants.is_empty());
}

#[tokio::test]
async fn one_replica_at_a_time_runs_a_job_and_only_once_per_interval() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let other = replica_pool(&app).await;

    let run = jobs::start_if_due(&app.db.pool, "test.job", MINUTE)
        .await
        .unwrap()
        .unwrap();
    // While it runs, the other replica does not start it.
    assert!(
        jobs::start_if_due(&other, "test.job", MINUTE)
            .await
            .unwrap()
            .is_none()
    );
    run.finish("replica-a").await.unwrap();
    // Finished: not due again before its interval.
    assert!(
        jobs::start_if_due(&other, "test.job", MINUTE)
            .await
            .unwrap()
            .is_none()
    );
    // Due again once the interval has passed.
    let again = jobs::start_if_due(&other, "test.job", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    again.finish("replica-b").await.unwrap();

    let (runs, by) = jobs::runs(&app.db.pool, "test.job").await.unwrap();
    assert_eq!((runs, by.as_deref()), (2, Some("replica-b")));
}

#[tokio::test]
async fn a_job_whose_replica_dies_mid_run_is_still_due_for_the_next() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let dying = replica_pool(&app).await;
    let survivor = replica_pool(&app).await;
    let run = jobs::start_if_due(&dying, "test.job", MINUTE)
        .await
        .unwrap()
        .unwrap();

    // The dying replica's connections are cut, as when its process is killed.
    sqlx::query(
        "select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and state like 'idle in transaction%'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let taken = e2e::eventually(Duration::from_secs(10), || async {
        jobs::start_if_due(&survivor, "test.job", MINUTE)
            .await
            .ok()
            .flatten()
    })
    .await;

    let taken = taken.expect("the job was lost with its replica");
    taken.finish("survivor").await.unwrap();
    drop(run);
    let (runs, by) = jobs::runs(&app.db.pool, "test.job").await.unwrap();
    assert_eq!((runs, by.as_deref()), (1, Some("survivor")));
}

#[tokio::test]
async fn a_failed_run_leaves_the_job_due() {
    let app = TestApp::spawn_with(|settings| settings.delivery.enabled = false).await;
    let mut failing = || async { Err::<u64, String>("provider down".to_owned()) };
    let mut working = || async { Ok::<u64, String>(3) };

    assert!(gateway::jobs::run_once(&app.db.pool, "test.job", MINUTE, "a", &mut failing).await);
    assert!(gateway::jobs::run_once(&app.db.pool, "test.job", MINUTE, "b", &mut working).await);
    assert!(!gateway::jobs::run_once(&app.db.pool, "test.job", MINUTE, "c", &mut working).await);

    let (runs, by) = jobs::runs(&app.db.pool, "test.job").await.unwrap();
    assert_eq!((runs, by.as_deref()), (1, Some("b")));
}
