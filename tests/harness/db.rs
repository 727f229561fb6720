//! A fresh database per test on a shared server.
//!
//! The server is, in order: the one `DATABASE_URL` points at, one on localhost:5432, or a private
//! cluster started from the system's PostgreSQL binaries in a temporary directory that disappears
//! with the test process (the same code path as `paygate` uses, `gateway::db::PrivateCluster`).

use std::str::FromStr;

use gateway::db::{ClusterLifetime, PrivateCluster};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use tokio::sync::OnceCell;

struct Server {
    url: String,
    _cluster: Option<PrivateCluster>,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();

/// URL of the shared server (no database path).
pub async fn server_url() -> String {
    SERVER.get_or_init(start_server).await.url.clone()
}

async fn start_server() -> Server {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Server {
            url: gateway::db::server_url_of(&url),
            _cluster: None,
        };
    }
    let dir = std::env::temp_dir().join(format!("paygate-test-pg-{}", std::process::id()));
    let (url, cluster) = gateway::db::find_server(&dir, ClusterLifetime::Ephemeral)
        .await
        .expect("no PostgreSQL for the tests: set DATABASE_URL, run one on localhost:5432, or install its binaries");
    Server {
        url,
        _cluster: cluster,
    }
}

/// A database created for one test and dropped (forcefully) when this value is dropped.
pub struct TestDb {
    name: String,
    server_url: String,
    /// URL of the database.
    pub url: SecretString,
    /// A pool on it (migrated).
    pub pool: PgPool,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    pub async fn new() -> TestDb {
        TestDb::migrated_to(i64::MAX).await
    }

    /// Creates a fresh database migrated up to `version` (inclusive) only: a database of an
    /// earlier release, for tests of a migration on data.
    pub async fn migrated_to(version: i64) -> TestDb {
        let server_url = server_url().await;
        let name = format!("paygate_test_{}", uuid::Uuid::new_v4().simple());
        let url = gateway::db::ensure_database(&server_url, &name)
            .await
            .expect("cannot create the test database");
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(url.expose_secret())
            .await
            .expect("cannot connect to the test database");
        TestDb::migrator_to(version)
            .run(&pool)
            .await
            .expect("migrations failed");
        TestDb {
            name,
            server_url,
            url,
            pool,
        }
    }

    /// Applies the migrations up to `version` (inclusive) that are not applied yet.
    pub async fn migrate_to(&self, version: i64) {
        TestDb::migrator_to(version)
            .run(&self.pool)
            .await
            .expect("migrations failed");
    }

    fn migrator_to(version: i64) -> sqlx::migrate::Migrator {
        let migrations: Vec<sqlx::migrate::Migration> = gateway::MIGRATOR
            .iter()
            .filter(|migration| migration.version <= version)
            .cloned()
            .collect();
        sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(migrations),
            ..sqlx::migrate::Migrator::DEFAULT
        }
    }

    /// Backends of this database waiting for a lock (to hold a transaction at a known point).
    pub async fn lock_waiters(&self) -> i64 {
        sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&self.pool)
        .await
        .expect("pg_stat_activity")
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes the database unreachable for new connections and ends existing ones, as if Postgres
    /// were down for this database.
    pub async fn take_offline(&self) {
        let mut admin = admin_connection(&self.server_url).await;
        sqlx::query(&format!(
            "alter database \"{}\" allow_connections false",
            self.name
        ))
        .execute(&mut admin)
        .await
        .expect("cannot disable connections");
        sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()")
            .bind(&self.name)
            .execute(&mut admin)
            .await
            .expect("cannot terminate connections");
    }

    /// Undoes [`TestDb::take_offline`].
    pub async fn bring_online(&self) {
        let mut admin = admin_connection(&self.server_url).await;
        sqlx::query(&format!(
            "alter database \"{}\" allow_connections true",
            self.name
        ))
        .execute(&mut admin)
        .await
        .expect("cannot enable connections");
    }
}

async fn admin_connection(server_url: &str) -> sqlx::PgConnection {
    PgConnectOptions::from_str(server_url)
        .expect("server url")
        .database("postgres")
        .connect()
        .await
        .expect("cannot connect to the test server")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let server_url = self.server_url.clone();
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own. `force`
        // ends the connections still open in pools of this test.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let mut admin = admin_connection(&server_url).await;
                let _ = sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
                    .execute(&mut admin)
                    .await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Searches every text, varchar, bytea and jsonb column of every table for each secret (and for
/// any full `pgk_` key or `whsec_` secret, whoever it belongs to); returns where each was found,
/// as `table.column holds <first characters>…`. The tables must include `idempotency_record`.
pub async fn secrets_in_the_clear(pool: &sqlx::PgPool, secrets: &[String]) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text, data_type::text from information_schema.columns
         where table_schema = 'public' and data_type in ('text', 'character varying', 'bytea', 'jsonb')
           and table_name not like '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        columns
            .iter()
            .any(|(table, ..)| table == "idempotency_record"),
        "the scan must cover the stored idempotent responses"
    );
    // An API key is `pgk_` and 43 URL-safe base64 characters (its first characters are kept as a
    // display prefix, never the whole); a Standard Webhooks secret is `whsec_` and base64.
    let shapes = [r"pgk_[A-Za-z0-9_-]{43}", r"whsec_[A-Za-z0-9+/=]{24,}"];
    let mut found = Vec::new();
    for (table, column, data_type) in &columns {
        let haystack = match data_type.as_str() {
            "bytea" => format!("encode(\"{column}\", 'escape')"),
            _ => format!("\"{column}\"::text"),
        };
        for secret in secrets {
            let hits: i64 = sqlx::query_scalar(&format!(
                "select count(*) from \"{table}\" where position($1 in {haystack}) > 0"
            ))
            .bind(secret)
            .fetch_one(pool)
            .await
            .unwrap();
            if hits > 0 {
                found.push(format!(
                    "{table}.{column} holds {}…",
                    &secret[..10.min(secret.len())]
                ));
            }
        }
        for shape in shapes {
            let hits: i64 = sqlx::query_scalar(&format!(
                "select count(*) from \"{table}\" where {haystack} ~ $1"
            ))
            .bind(shape)
            .fetch_one(pool)
            .await
            .unwrap();
            if hits > 0 {
                found.push(format!("{table}.{column} holds a {}…", &shape[..5]));
            }
        }
    }
    found
}
