//! `paygate demo`'s story, run as a test: every step asserts its outcome (the story fails on the
//! first step that does not reach it), against both simulators and a fresh database.

use e2e::app::test_settings;
use e2e::db::TestDb;

#[tokio::test]
async fn the_demo_story_runs_end_to_end_against_both_simulators() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.server.port = 0;
    let options = paygate_demo::DemoOptions {
        exit: true,
        database: format!("{}_demo", db.name()),
    };
    let database = options.database.clone();

    let outcome = paygate_demo::run_story(settings, options).await;

    // The demo's own database is dropped whatever happened.
    let server = gateway::db::server_url_of(secrecy::ExposeSecret::expose_secret(&db.url));
    drop_database(&server, &database).await;
    outcome.expect("the demo story completes");
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
