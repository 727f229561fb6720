//! `paygate demo`'s story, run as a test: every step asserts its outcome (the story fails on the
//! first step that does not reach it), against both simulators and a fresh database.

use e2e::app::test_settings;
use e2e::db::TestDb;

#[tokio::test]
async fn the_demo_story_runs_end_to_end_against_both_simulators() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.server.port = 0;
    let ready_file = std::env::temp_dir().join(format!("{}_ready.json", db.name()));
    let options = paygate_demo::DemoOptions {
        exit: true,
        database: format!("{}_demo", db.name()),
        ready_file: Some(ready_file.clone()),
        bank: paygate_demo::DemoBank::Delbank,
    };
    let database = options.database.clone();

    let outcome = paygate_demo::run_story_keeping_secrets(settings, options).await;

    // After the whole story, no secret it was shown or configured with is in any column in the
    // clear: API keys, partner secrets, provider credentials, webhook credentials.
    let server = gateway::db::server_url_of(secrecy::ExposeSecret::expose_secret(&db.url));
    let in_the_clear = match &outcome {
        Ok(secrets) => {
            use std::str::FromStr as _;
            let options = sqlx::postgres::PgConnectOptions::from_str(&server)
                .unwrap()
                .database(&database);
            let pool = sqlx::PgPool::connect_with(options).await.unwrap();
            let found = e2e::db::secrets_in_the_clear(&pool, &secrets.0).await;
            // Delbank's money-moving events (the Pix received, the charge's Pix, the failed
            // transfer, the refund) were each confirmed by fetch before they were delivered.
            let confirmations: Vec<(String, String, i64)> = sqlx::query_as(
                "select e.event_type, c.state, count(*) from event_confirmation c
                 join event e using (event_id) group by 1, 2 order by 1, 2",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            Some((secrets.0.len(), found, confirmations))
        }
        Err(_) => None,
    };

    // The demo's own database is dropped whatever happened.
    drop_database(&server, &database).await;
    outcome.expect("the demo story completes");
    let (scanned, found, confirmations) = in_the_clear.unwrap();
    let kinds: Vec<&str> = confirmations
        .iter()
        .map(|(event_type, state, _)| {
            assert_eq!(state, "confirmed", "{confirmations:?}");
            event_type.as_str()
        })
        .collect();
    // (The demo's Pix charge is paid with a PIX_RECEIVED; a bank slip's CHARGE_PAID is confirmed
    // in `confirmation.rs`.)
    for kind in [
        "pix.received",
        "pix.transfer.completed",
        "pix.transfer.failed",
    ] {
        assert!(
            kinds.contains(&kind),
            "{kind} was not confirmed: {confirmations:?}"
        );
    }
    assert!(scanned >= 5, "the story saw {scanned} secrets");
    assert!(
        found.is_empty(),
        "secrets in the clear after the story: {found:?}"
    );

    // Tools that drive the serving demo (CI's schemathesis run) read its URL and admin key here;
    // only the owner may read it, since it holds a key.
    let ready: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ready_file).expect("the ready file is written"))
            .unwrap();
    assert!(
        ready["base_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(ready["admin_key"].as_str().unwrap().starts_with("pgk_"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&ready_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::remove_file(&ready_file).unwrap();
}

#[tokio::test]
async fn the_demo_runs_its_pix_story_on_the_banco_central_api_pix() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.server.port = 0;
    let database = format!("{}_demo", db.name());
    let options = paygate_demo::DemoOptions {
        exit: true,
        database: database.clone(),
        ready_file: None,
        bank: paygate_demo::DemoBank::BacenPix,
    };
    let server = gateway::db::server_url_of(secrecy::ExposeSecret::expose_secret(&db.url));

    let outcome = paygate_demo::run_story_keeping_secrets(settings, options).await;

    let in_the_clear = match &outcome {
        Ok(secrets) => {
            use std::str::FromStr as _;
            let options = sqlx::postgres::PgConnectOptions::from_str(&server)
                .unwrap()
                .database(&database);
            let pool = sqlx::PgPool::connect_with(options).await.unwrap();
            let found = e2e::db::secrets_in_the_clear(&pool, &secrets.0).await;
            let providers: Vec<String> = sqlx::query_scalar(
                "select distinct provider from event where event_type = 'pix.received'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let confirmed: i64 = sqlx::query_scalar(
                "select count(*) from event_confirmation where state = 'confirmed'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            pool.close().await;
            Some((found, providers, confirmed))
        }
        Err(_) => None,
    };
    drop_database(&server, &database).await;
    outcome.expect("the demo story completes on the API Pix");
    let (found, providers, confirmed) = in_the_clear.unwrap();
    assert!(found.is_empty(), "secrets in the clear: {found:?}");
    assert_eq!(
        providers,
        ["bacen-pix"],
        "every Pix came through the API Pix"
    );
    assert!(
        confirmed >= 3,
        "the Pix, the charge and the refund were confirmed by fetch: {confirmed}"
    );
}

async fn drop_database(server: &str, name: &str) {
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    let mut admin = sqlx::postgres::PgConnectOptions::from_str(server)
        .unwrap()
        .database("postgres")
        .connect()
        .await
        .unwrap();
    sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}
