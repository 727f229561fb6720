//! Several `paygate serve` processes on one database, as a platform team runs them behind a load
//! balancer: webhooks spread across the replicas, one replica killed with SIGKILL mid-run and
//! restarted. Exactly-once storage, delivery to the partner, per-resource order, the fleet-wide
//! rate limit, and the background jobs (reaper, replay runner, idempotency purge, reconciliation
//! pass) with two replicas.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::db::TestDb;
use e2e::receiver::{Received, Receiver};
use e2e::replica::{Replica, fleet_env, post_dinie};
use gateway::keys::Scope;
use serde_json::{Value, json};
use tokio::sync::RwLock;

const WAIT: Duration = Duration::from_secs(90);

/// A fresh database, a partner receiver, `count` replicas on the database (default fleet
/// settings) and an admin key.
async fn set_up(count: usize) -> (TestDb, Receiver, Vec<Replica>, String) {
    let db = TestDb::new().await;
    let receiver = Receiver::start().await;
    let replicas = fleet(count, &fleet_env(&db, &[])).await;
    let key = admin_key(&db).await;
    (db, receiver, replicas, key)
}

/// Starts `count` replicas with `env`.
async fn fleet(count: usize, env: &BTreeMap<String, String>) -> Vec<Replica> {
    let mut replicas = Vec::new();
    for _ in 0..count {
        replicas.push(Replica::start(env!("CARGO_BIN_EXE_e2e-paygate"), env.clone()).await);
    }
    replicas
}

async fn admin_key(db: &TestDb) -> String {
    let created = gateway::keys::create(&db.pool, "fleet-admin", &[Scope::Admin])
        .await
        .expect("admin key");
    gateway::keys::reveal(&created).to_owned()
}

/// Creates a subscription through `replica` and points `receiver` at its secret.
async fn subscribe(replica: &Replica, key: &str, receiver: &Receiver, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/subscriptions", replica.base_url))
        .bearer_auth(key)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .expect("subscription request");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let created: Value = response.json().await.expect("subscription body");
    receiver.set_secrets(&[created["secret"].as_str().expect("secret")]);
    created
}

/// Sends `id` (installment `installment` of `loan`) to the replicas in turn from `first`, until one
/// acknowledges it, as a provider retries an unacknowledged webhook (bounded).
async fn send_until_acknowledged(
    client: &reqwest::Client,
    urls: &RwLock<Vec<String>>,
    first: usize,
    id: &str,
    loan: &str,
    installment: u32,
) {
    for attempt in 0..200 {
        let url = {
            let urls = urls.read().await;
            urls[(first + attempt) % urls.len()].clone()
        };
        if post_dinie(client, &url, id, loan, installment)
            .await
            .is_some_and(|status| status.is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("webhook {id} was never acknowledged");
}

/// Sends installments `from..to` of each loan, one loan per task, each installment only once the
/// previous one was acknowledged (so the provider's order is the order stored), each to the next
/// replica in turn. `sent` counts acknowledged webhooks.
async fn send_installments(
    urls: Arc<RwLock<Vec<String>>>,
    loans: &[String],
    from: u32,
    to: u32,
    sent: Arc<AtomicUsize>,
) {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = loans
        .iter()
        .enumerate()
        .map(|(n, loan)| {
            let (client, urls, sent, loan) =
                (client.clone(), urls.clone(), sent.clone(), loan.clone());
            tokio::spawn(async move {
                for installment in from..to {
                    let id = format!("pay-{loan}-{installment}");
                    let first = n + usize::try_from(installment).unwrap_or(0);
                    send_until_acknowledged(&client, &urls, first, &id, &loan, installment).await;
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender task");
    }
}

/// The stored Dinie events: event id (as delivered in `webhook-id`) → (loan, installment), from
/// their dedup keys (the provider's `webhook-id`, `pay-<loan>-<installment>`).
async fn stored(db: &TestDb) -> HashMap<String, (String, u32)> {
    let rows: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select event_id, dedup_key from event where provider = 'dinie'")
            .fetch_all(&db.pool)
            .await
            .expect("events");
    rows.into_iter()
        .map(|(event_id, dedup_key)| {
            let (loan, installment) = dedup_key
                .strip_prefix("pay-")
                .and_then(|rest| rest.rsplit_once('-'))
                .expect("a dedup key this test made");
            (
                providers::EventId::from_uuid(event_id).to_string(),
                (loan.to_owned(), installment.parse().expect("installment")),
            )
        })
        .collect()
}

/// Successful deliveries by webhook id, counted.
fn successes(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in received.iter().filter(|r| r.answered == 200) {
        *counts.entry(delivery.id.clone()).or_insert(0) += 1;
    }
    counts
}

/// Waits until every one of `ids` has a successful delivery.
async fn wait_until_delivered(receiver: &Receiver, ids: &HashSet<String>) -> Vec<Received> {
    e2e::eventually(WAIT, || async {
        let received = receiver.received();
        let delivered = successes(&received);
        ids.iter()
            .all(|id| delivered.contains_key(id))
            .then_some(received)
    })
    .await
    .unwrap_or_else(|| {
        let delivered = successes(&receiver.received());
        let missing = ids.iter().filter(|id| !delivered.contains_key(*id)).count();
        panic!(
            "{missing} of {} events never reached the partner",
            ids.len()
        )
    })
}

/// Asserts that for every loan the partner first got its installments in increasing order.
fn assert_ordered_per_loan(received: &[Received], events: &HashMap<String, (String, u32)>) {
    let mut seen = HashSet::new();
    let mut last: HashMap<&str, u32> = HashMap::new();
    for delivery in received.iter().filter(|r| r.answered == 200) {
        if !seen.insert(delivery.id.clone()) {
            continue;
        }
        let (loan, installment) = &events[&delivery.id];
        if let Some(previous) = last.insert(loan, *installment) {
            assert!(
                previous < *installment,
                "{loan}: installment {installment} reached the partner after {previous}"
            );
        }
    }
}

#[tokio::test]
async fn three_replicas_store_each_webhook_once_and_deliver_every_event_in_order_through_a_sigkill()
{
    let (db, receiver, mut replicas, key) = set_up(3).await;
    subscribe(
        &replicas[0],
        &key,
        &receiver,
        json!({"url": receiver.url, "event_types": ["loan.*"], "ordered": true}),
    )
    .await;
    let urls = Arc::new(RwLock::new(
        replicas.iter().map(|r| r.base_url.clone()).collect(),
    ));
    let loans: Vec<String> = (0..8).map(|n| format!("ln_fleet_{n}")).collect();

    // No fault: every event reaches the partner exactly once, in order per loan.
    let sent = Arc::new(AtomicUsize::new(0));
    send_installments(urls.clone(), &loans, 1, 11, sent.clone()).await;
    let events = stored(&db).await;
    assert_eq!(
        events.len(),
        80,
        "every acknowledged webhook is stored once"
    );
    let ids: HashSet<String> = events.keys().cloned().collect();
    let received = wait_until_delivered(&receiver, &ids).await;
    let duplicated: Vec<_> = successes(&received)
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .collect();
    assert!(
        duplicated.is_empty(),
        "duplicates with no fault: {duplicated:?}"
    );
    assert_ordered_per_loan(&received, &events);

    // A replica killed with SIGKILL a third of the way through the next 240 webhooks, and
    // restarted; webhooks it did not acknowledge are sent again to another replica.
    let sent = Arc::new(AtomicUsize::new(0));
    let (senders, urls_for_senders, sent_by_senders) = (loans.clone(), urls.clone(), sent.clone());
    let sending = tokio::spawn(async move {
        send_installments(urls_for_senders, &senders, 11, 41, sent_by_senders).await
    });
    let killed = e2e::eventually(WAIT, || async {
        (sent.load(Ordering::SeqCst) >= 80).then_some(())
    })
    .await;
    assert!(killed.is_some(), "the senders stalled before the kill");
    replicas[1].kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    replicas[1].restart().await;
    urls.write().await[1] = replicas[1].base_url.clone();
    sending.await.expect("senders");

    let events = stored(&db).await;
    assert_eq!(
        events.len(),
        320,
        "every acknowledged webhook is stored once"
    );
    let ids: HashSet<String> = events.keys().cloned().collect();
    let received = wait_until_delivered(&receiver, &ids).await;
    assert_ordered_per_loan(&received, &events);
    // A delivery is redone only when the killed replica had posted it and not yet recorded it: at
    // most one per loan, since an ordered subscription has one delivery per loan in flight.
    let redone: usize = successes(&received)
        .values()
        .map(|count| count.saturating_sub(1))
        .sum();
    assert!(redone <= loans.len(), "{redone} deliveries were redone");
    for replica in &mut replicas {
        replica.stop().await;
    }
}

#[tokio::test]
async fn a_subscriptions_rate_limit_holds_for_the_whole_fleet_not_per_replica() {
    let (db, receiver, mut replicas, key) = set_up(3).await;
    subscribe(
        &replicas[0],
        &key,
        &receiver,
        json!({"url": receiver.url, "event_types": ["loan.*"], "rate_limit_per_second": 10}),
    )
    .await;
    let urls = Arc::new(RwLock::new(
        replicas.iter().map(|r| r.base_url.clone()).collect(),
    ));
    // 40 loans of one installment each, all sent at once, spread over the three replicas.
    let loans: Vec<String> = (0..40).map(|n| format!("ln_rate_{n}")).collect();
    send_installments(urls, &loans, 1, 2, Arc::new(AtomicUsize::new(0))).await;
    let ids: HashSet<String> = stored(&db).await.into_keys().collect();
    assert_eq!(ids.len(), 40);

    let received = wait_until_delivered(&receiver, &ids).await;
    let mut arrivals: Vec<Instant> = received
        .iter()
        .filter(|r| r.answered == 200)
        .map(|r| r.at)
        .collect();
    arrivals.sort_unstable();
    // 40 deliveries at 10/s for the fleet: 39 intervals of 100 ms after the first. Three replicas
    // limiting each for itself would send them in about 1.3 s.
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(
        span >= Duration::from_millis(3_500),
        "the fleet sent 40 deliveries in {span:?} at a limit of 10/s"
    );
    // No second holds much more than its ten slots: eleven slot starts fit in a closed second, and
    // a loaded machine may send a few late slots together. Three replicas limiting each for itself
    // would put thirty there.
    for (n, start) in arrivals.iter().enumerate() {
        let within = arrivals[n..]
            .iter()
            .take_while(|at| **at - *start <= Duration::from_secs(1))
            .count();
        assert!(within <= 15, "{within} deliveries within one second");
    }
    for replica in &mut replicas {
        replica.stop().await;
    }
}

/// The single count `query` returns on the test database.
async fn count(db: &TestDb, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn claims_of_a_killed_replica_are_reaped_by_the_other_and_delivered() {
    let (db, receiver, mut replicas, key) = set_up(2).await;
    // The partner is slow: the first replica dies while its POSTs are in flight.
    receiver.set_delay(Duration::from_secs(2));
    subscribe(
        &replicas[1],
        &key,
        &receiver,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    // Sent to the first replica only: its inbound path hands the deliveries to its own dispatcher.
    let urls = Arc::new(RwLock::new(vec![replicas[0].base_url.clone()]));
    let loans: Vec<String> = (0..6).map(|n| format!("ln_reap_{n}")).collect();
    send_installments(urls, &loans, 1, 2, Arc::new(AtomicUsize::new(0))).await;
    let in_flight = e2e::eventually(WAIT, || async {
        (receiver.arrivals().len() >= 6).then_some(())
    })
    .await;
    assert!(in_flight.is_some(), "the deliveries never left");
    let claimed = count(
        &db,
        "select count(*) from delivery where status = 'delivering'",
    )
    .await;
    replicas[0].kill().await;
    receiver.set_delay(Duration::ZERO);

    let ids: HashSet<String> = stored(&db).await.into_keys().collect();
    assert_eq!(ids.len(), 6);
    wait_until_delivered(&receiver, &ids).await;
    let recorded = e2e::eventually(WAIT, || async {
        let succeeded = count(
            &db,
            "select count(*) from delivery where status = 'succeeded' and sink = 'webhook'",
        )
        .await;
        (succeeded == 6).then_some(())
    })
    .await;
    assert!(
        recorded.is_some(),
        "the killed replica's {claimed} claims were not taken over"
    );
    let (runs, by) = gateway::store::jobs::runs(&db.pool, gateway::jobs::REAP_WEBHOOK_CLAIMS)
        .await
        .expect("reaper runs");
    assert!(runs > 0);
    let survivor = replicas[1].pid().expect("running");
    assert!(
        by.is_some_and(|by| by.ends_with(&format!(":{survivor}"))),
        "the last reap was not the surviving replica's"
    );
    replicas[1].stop().await;
}

#[tokio::test]
async fn a_replay_run_by_two_replicas_enqueues_each_event_once() {
    let (db, receiver, mut replicas, key) = set_up(2).await;
    let urls = Arc::new(RwLock::new(
        replicas.iter().map(|r| r.base_url.clone()).collect(),
    ));
    // 1,200 events (three replay batches) before the subscription exists.
    let loans: Vec<String> = (0..40).map(|n| format!("ln_replay_{n}")).collect();
    send_installments(urls, &loans, 1, 31, Arc::new(AtomicUsize::new(0))).await;
    let created = subscribe(
        &replicas[0],
        &key,
        &receiver,
        json!({"url": receiver.url, "event_types": ["loan.*"]}),
    )
    .await;
    let subscription = created["id"].as_str().expect("id");

    let replay: Value = reqwest::Client::new()
        .post(format!(
            "{}/v1/subscriptions/{subscription}/replay",
            replicas[1].base_url
        ))
        .bearer_auth(&key)
        .header("idempotency-key", "replay-fleet")
        .json(&json!({"since": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .expect("replay request")
        .json()
        .await
        .expect("replay body");
    let replay_id = replay["id"].as_str().expect("replay id").to_owned();
    let done = e2e::eventually(WAIT, || async {
        let replay: Value = reqwest::Client::new()
            .get(format!("{}/v1/replays/{replay_id}", replicas[0].base_url))
            .bearer_auth(&key)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (replay["status"] == "completed").then_some(replay)
    })
    .await
    .expect("the replay did not complete");

    assert_eq!(done["enqueued"], 1200, "{done}");
    let deliveries = count(
        &db,
        "select count(*) from delivery where sink = 'webhook' and subscription_id is not null",
    )
    .await;
    let distinct = count(
        &db,
        "select count(distinct event_id) from delivery where sink = 'webhook' and subscription_id is not null",
    )
    .await;
    assert_eq!((deliveries, distinct), (1200, 1200));
    for replica in &mut replicas {
        replica.stop().await;
    }
}

#[tokio::test]
async fn the_idempotency_purge_runs_once_for_two_replicas() {
    let db = TestDb::new().await;
    let key = gateway::keys::create(&db.pool, "purge", &[Scope::Admin])
        .await
        .expect("key");
    for n in 0..3 {
        sqlx::query(
            "insert into idempotency_record (api_key_id, idempotency_key, request_hash, state, locked_until, expires_at)
             values ($1, $2, '\\x00', 'in_flight', now(), now() - interval '1 hour')",
        )
        .bind(key.record.api_key_id)
        .bind(format!("expired-{n}"))
        .execute(&db.pool)
        .await
        .expect("expired record");
    }
    let env = fleet_env(&db, &[]);
    // Both replicas look at the job as they start; the fleet runs it once per ten minutes.
    let mut replicas = fleet(2, &env).await;
    let purged = e2e::eventually(WAIT, || async {
        (count(&db, "select count(*) from idempotency_record").await == 0).then_some(())
    })
    .await;
    assert!(purged.is_some(), "expired idempotency records were kept");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (runs, _) = gateway::store::jobs::runs(&db.pool, gateway::jobs::IDEMPOTENCY_PURGE)
        .await
        .expect("runs");
    assert_eq!(runs, 1, "two replicas each ran the purge");
    for replica in &mut replicas {
        replica.stop().await;
    }
}

#[tokio::test]
async fn the_reconciliation_pass_runs_once_per_interval_for_two_replicas_and_survives_one() {
    let db = TestDb::new().await;
    let env = fleet_env(
        &db,
        &[
            ("PAYGATE_RECONCILIATION__ENABLED", "true"),
            ("PAYGATE_RECONCILIATION__CHECK_INTERVAL_SECS", "1"),
        ],
    );
    let mut replicas = fleet(2, &env).await;
    let runs = || async {
        gateway::store::jobs::runs(&db.pool, gateway::jobs::RECONCILIATION_PASS)
            .await
            .expect("runs")
    };
    let started = e2e::eventually(WAIT, || async { (runs().await.0 >= 1).then_some(()) }).await;
    assert!(started.is_some(), "the pass never ran");
    let (before, _) = runs().await;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (after, _) = runs().await;
    let elapsed = window.elapsed().as_secs_f64();
    // Once per second for the fleet; each replica on its own would make it twice as many.
    let ran = after - before;
    assert!(
        f64::from(u32::try_from(ran).unwrap_or(u32::MAX)) <= elapsed + 1.0,
        "{ran} passes in {elapsed:.1} s at one per second"
    );

    // The replica that ran the last pass dies: the other goes on running it.
    let (_, by) = runs().await;
    let last = by.expect("a replica name");
    let dying = replicas
        .iter()
        .position(|r| {
            r.pid()
                .is_some_and(|pid| last.ends_with(&format!(":{pid}")))
        })
        .expect("the last pass was run by one of the two");
    replicas[dying].kill().await;
    let survivor = replicas[1 - dying].pid().expect("running");
    let taken_over = e2e::eventually(WAIT, || async {
        let (_, by) = runs().await;
        by.is_some_and(|by| by.ends_with(&format!(":{survivor}")))
            .then_some(())
    })
    .await;
    assert!(
        taken_over.is_some(),
        "the surviving replica never ran the pass"
    );
    replicas[1 - dying].stop().await;
}
