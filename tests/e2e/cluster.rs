//! The private-cluster fallback: PostgreSQL started from the system's binaries, no set-up.

use std::time::Duration;

use gateway::db::{self, ClusterLifetime, PrivateCluster};
use secrecy::ExposeSecret;
use sqlx::Connection;

#[tokio::test]
async fn a_private_cluster_starts_migrates_and_is_removed_when_ephemeral() {
    let dir = std::env::temp_dir().join(format!(
        "paygate-cluster-test-{}",
        uuid::Uuid::new_v4().simple()
    ));

    let cluster = PrivateCluster::start(&dir, ClusterLifetime::Ephemeral)
        .await
        .unwrap();
    let url = db::ensure_database(&cluster.server_url(), "paygate")
        .await
        .unwrap();
    let mut connection = sqlx::PgConnection::connect(url.expose_secret())
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
    db::migrate(&pool).await.unwrap();
    assert!(db::migrations_applied(&pool).await.unwrap());
    let events: i64 = sqlx::query_scalar("select count(*) from event")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(events, 0);
    assert!(dir.join("PG_VERSION").exists());

    pool.close().await;
    connection.close().await.unwrap();
    drop(cluster);
    // Dropping the handle closes the watchdog's stdin: it stops the server and removes the data.
    let removed = e2e::eventually(Duration::from_secs(20), || async {
        (!dir.exists()).then_some(())
    })
    .await;
    assert!(
        removed.is_some(),
        "the ephemeral data directory was not removed"
    );
}
