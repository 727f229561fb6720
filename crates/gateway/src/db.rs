//! Finding Postgres with no set-up, connecting, and migrating.
//!
//! Order: the configured URL (or `DATABASE_URL`), else a server on localhost:5432 (trust auth, the
//! `postgres` role, database `database.local_database` created if missing), else a private cluster
//! started from the system's PostgreSQL binaries (initdb + postgres) in a data directory of the
//! project's, else an error saying what to install.
//!
//! The private cluster is tied to this process: `postgres` runs under a small shell watchdog that
//! reads our stdin pipe and stops the server when the pipe closes, that is, when we exit for any
//! reason. Tests use a temporary data directory that the watchdog removes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::process::{Child, Command};

use crate::config::DatabaseSettings;

/// Every migration in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Why no database could be found or used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Nothing to connect to and no way to start a server.
    #[error(
        "no PostgreSQL found: set DATABASE_URL, run a server on localhost:5432, or install PostgreSQL's \
         server binaries (initdb, postgres; Debian: apt install postgresql) so paygate can start a private one ({0})"
    )]
    NotFound(String),
    /// The private cluster could not be started.
    #[error("cannot start a private PostgreSQL cluster: {0}")]
    PrivateCluster(String),
    /// A connection or query failed.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A located Postgres server: the URL to reach it, and the private cluster kept alive if we started one.
#[derive(Debug)]
pub struct Located {
    /// URL of the database to use.
    pub url: SecretString,
    /// Where it came from, for the startup log line.
    pub source: &'static str,
    /// The private cluster's watchdog; dropping it does not stop the server, process exit does.
    pub cluster: Option<PrivateCluster>,
}

/// Finds a database as described in the module docs.
pub async fn locate(settings: &DatabaseSettings) -> Result<Located, DbError> {
    if !settings.url.expose_secret().is_empty() {
        return Ok(Located {
            url: settings.url.clone(),
            source: "configured url",
            cluster: None,
        });
    }
    let (server, cluster) =
        find_server(&settings.private_cluster_dir, ClusterLifetime::Persistent).await?;
    let url = ensure_database(&server, &settings.local_database).await?;
    let source = if cluster.is_some() {
        "private cluster"
    } else {
        "local server on 127.0.0.1:5432"
    };
    Ok(Located {
        url,
        source,
        cluster,
    })
}

/// The server on localhost:5432 if one answers, else a private cluster in `private_dir`; returns the
/// server URL (no database path) and the cluster handle when one was started.
pub async fn find_server(
    private_dir: &Path,
    lifetime: ClusterLifetime,
) -> Result<(String, Option<PrivateCluster>), DbError> {
    if answers(LOCAL_SERVER).await {
        return Ok((LOCAL_SERVER.to_owned(), None));
    }
    let cluster = PrivateCluster::start(private_dir, lifetime).await?;
    Ok((cluster.server_url(), Some(cluster)))
}

/// The conventional local server: trust auth for the `postgres` role.
pub const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

async fn answers(server_url: &str) -> bool {
    let Ok(options) = PgConnectOptions::from_str(server_url) else {
        return false;
    };
    match tokio::time::timeout(
        Duration::from_secs(3),
        options.database("postgres").connect(),
    )
    .await
    {
        Ok(Ok(connection)) => connection.close().await.is_ok(),
        _ => false,
    }
}

/// The server part of a database URL: `postgres://u:p@h:5432/db?x=y` → `postgres://u:p@h:5432?x=y`.
pub fn server_url_of(database_url: &str) -> String {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}?{query}"),
        None => server.to_owned(),
    }
}

/// Drops `database` on the server at `server_url` if it exists, closing its connections (the
/// demo's throw-away database).
pub async fn drop_database(server_url: &str, database: &str) -> Result<(), DbError> {
    let options = PgConnectOptions::from_str(server_url)?.database("postgres");
    let mut connection = options.connect().await?;
    let statement = format!(
        "drop database if exists \"{}\" with (force)",
        database.replace('"', "\"\"")
    );
    sqlx::query(&statement).execute(&mut connection).await?;
    connection.close().await?;
    Ok(())
}

/// Connects to the server at `server_url` (no database path) and creates `database` if missing;
/// returns the URL of that database.
pub async fn ensure_database(server_url: &str, database: &str) -> Result<SecretString, DbError> {
    let options = PgConnectOptions::from_str(server_url)?.database("postgres");
    let mut connection = tokio::time::timeout(Duration::from_secs(3), options.connect())
        .await
        .map_err(|_| DbError::NotFound(format!("timed out connecting to {server_url}")))??;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(database)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        let statement = format!("create database \"{}\"", database.replace('"', "\"\""));
        // A concurrent creator may win the race; "already exists" is success for us.
        if let Err(error) = sqlx::query(&statement).execute(&mut connection).await {
            let duplicate = error
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "42P04");
            if !duplicate {
                return Err(error.into());
            }
        }
    }
    connection.close().await?;
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server_url, String::new()),
    };
    Ok(SecretString::from(format!("{base}/{database}{query}")))
}

/// A pooled connection idle for this long is checked before use.
const CHECK_IDLE_CONNECTIONS_AFTER: Duration = Duration::from_secs(10);

/// Opens the pool; `acquire_timeout` bounds how long a request waits before it gets a 503.
pub async fn connect(url: &SecretString, settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url.expose_secret())?
        .application_name("paygate")
        .log_statements(tracing::log::LevelFilter::Trace);
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        // sqlx checks every connection with a round trip before handing it out. A connection in
        // steady use is known good, and that round trip was one of every few a webhook cost; only
        // one left idle for a while (the server or a middlebox may have closed it) is checked, and
        // a failed check discards it (the pool opens another).
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for < CHECK_IDLE_CONNECTIONS_AFTER {
                    return Ok(true);
                }
                Ok(connection.ping().await.is_ok())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// True when every embedded migration is applied (and none failed half-way); false on a database
/// that was never migrated.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let migrated: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !migrated {
        return Ok(false);
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR.iter().all(|m| applied.contains(&m.version)))
}

/// Whether a private cluster outlives the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterLifetime {
    /// Data stays in the directory; the server stops when the process exits.
    Persistent,
    /// The server stops and its data directory is removed when the process exits (tests).
    Ephemeral,
}

/// A PostgreSQL server started from the system's binaries, listening on 127.0.0.1 on a free port.
#[derive(Debug)]
pub struct PrivateCluster {
    port: u16,
    data_dir: PathBuf,
    /// The watchdog shell; its stdin is our end of the pipe.
    _watchdog: Child,
}

impl PrivateCluster {
    /// Initialises `data_dir` if needed and starts `postgres` on a free port.
    pub async fn start(
        data_dir: &Path,
        lifetime: ClusterLifetime,
    ) -> Result<PrivateCluster, DbError> {
        let bin = find_postgres_bin().ok_or_else(|| {
            DbError::NotFound(
                "no initdb/postgres binaries in PATH, pg_config --bindir or /usr/lib/postgresql"
                    .into(),
            )
        })?;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| DbError::PrivateCluster(format!("{}: {e}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(|e| DbError::PrivateCluster(format!("{}: {e}", data_dir.display())))?;
        // PostgreSQL refuses to run as root; as root we run it as the `postgres` system user, through
        // `setpriv`, which execs in place so the watchdog's `$!` is the server itself.
        let run_as = if is_root().await {
            Some("postgres")
        } else {
            None
        };
        let prefix = match run_as {
            Some(user) => {
                run(Command::new("chown").arg("-R").arg(user).arg(&data_dir)).await?;
                format!("setpriv --reuid={user} --regid={user} --init-groups ")
            }
            None => String::new(),
        };
        if !data_dir.join("PG_VERSION").exists() {
            let initdb = format!(
                "{prefix}'{initdb}' -D '{dir}' -U postgres --auth=trust --encoding=UTF8 --no-sync",
                initdb = bin.join("initdb").display(),
                dir = data_dir.display(),
            );
            run(Command::new("/bin/sh").arg("-c").arg(initdb)).await?;
        }
        let port = free_port()?;
        let remove = if lifetime == ClusterLifetime::Ephemeral {
            format!("; rm -rf '{}'", data_dir.display())
        } else {
            String::new()
        };
        // The watchdog: start postgres, wait for stdin to close (our exit), then stop it fast.
        let script = format!(
            "{prefix}'{postgres}' -D '{dir}' -p {port} -h 127.0.0.1 -k '{dir}' -c fsync=off -c max_connections=300 \
             >'{dir}/server.log' 2>&1 & pid=$!; cat >/dev/null; kill -INT $pid; wait $pid{remove}",
            postgres = bin.join("postgres").display(),
            dir = data_dir.display(),
        );
        let watchdog = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| DbError::PrivateCluster(format!("cannot spawn postgres: {e}")))?;
        let cluster = PrivateCluster {
            port,
            data_dir,
            _watchdog: watchdog,
        };
        cluster.wait_until_ready().await?;
        Ok(cluster)
    }

    /// URL of the server, without a database.
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    async fn wait_until_ready(&self) -> Result<(), DbError> {
        let options = PgConnectOptions::from_str(&self.server_url())?.database("postgres");
        for _ in 0..200 {
            if let Ok(connection) = options.connect().await {
                connection.close().await?;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
        Err(DbError::PrivateCluster(format!(
            "server did not accept connections within 10 s: {log}"
        )))
    }
}

fn free_port() -> Result<u16, DbError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| DbError::PrivateCluster(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| DbError::PrivateCluster(e.to_string()))?
        .port();
    Ok(port)
}

async fn run(command: &mut Command) -> Result<(), DbError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| DbError::PrivateCluster(format!("{command:?}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(DbError::PrivateCluster(format!(
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}

async fn is_root() -> bool {
    match Command::new("id").arg("-u").output().await {
        Ok(output) => String::from_utf8_lossy(&output.stdout).trim() == "0",
        Err(_) => false,
    }
}

/// The directory holding `initdb` and `postgres`: PATH, then `pg_config --bindir`, then the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps server binaries off PATH).
fn find_postgres_bin() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_both(dir))
    {
        return Some(dir);
    }
    if let Ok(output) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_both(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_url_of_a_database_url_drops_only_the_database() {
        assert_eq!(
            server_url_of("postgres://u:p@h:5432/db"),
            "postgres://u:p@h:5432"
        );
        assert_eq!(
            server_url_of("postgres://h/db?sslmode=disable"),
            "postgres://h?sslmode=disable"
        );
        assert_eq!(server_url_of("postgres://h:1"), "postgres://h:1");
    }
}
