//! Configuration, layered with figment.
//!
//! Later layers win: the compiled defaults (`config/default.toml`, embedded), `./config/default.toml`
//! if present, the `--config FILE` given on the command line, then `PAYGATE_*` environment variables
//! nested with `__` (`PAYGATE_SERVER__PORT=9000`). Every key is documented twice: on the field here
//! and in `config/default.toml`.
//!
//! Secrets are [`SecretString`]s: they are exposed only where they are used and print as
//! `[REDACTED]` in `paygate config check`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// The configuration as compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// An environment key as a figment key: a provider whose name has a hyphen (`bacen-pix`) is named
/// with an underscore in the environment (`PAYGATE_PROVIDERS__BACEN_PIX__CLIENT_SECRET`), which
/// names no section; it is mapped back to the provider's own name.
fn provider_env_key(key: &figment::value::UncasedStr) -> figment::value::Uncased<'_> {
    let lower = key.as_str().to_ascii_lowercase();
    for description in crate::catalog::descriptions() {
        let name = description.name.as_str();
        if !name.contains('-') {
            continue;
        }
        let underscored = format!("providers.{}", name.replace('-', "_"));
        if let Some(rest) = lower.strip_prefix(&underscored)
            && (rest.is_empty() || rest.starts_with('.'))
        {
            return format!("providers.{name}{rest}").into();
        }
    }
    key.into()
}

/// The compiled defaults: each provider crate's documented section (from its description), then
/// [`DEFAULT_TOML`] over them.
pub fn defaults_figment() -> Figment {
    crate::catalog::default_configs()
        .into_iter()
        .fold(Figment::new(), |figment, section| {
            figment.merge(Toml::string(section))
        })
        .merge(Toml::string(DEFAULT_TOML))
}

/// The whole configuration of a gateway process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server.
    pub server: ServerSettings,
    /// Postgres, the source of truth and the work queue.
    pub database: DatabaseSettings,
    /// `Idempotency-Key` handling for POST requests.
    pub idempotency: IdempotencySettings,
    /// Logs and traces.
    pub telemetry: TelemetrySettings,
    /// Group commit of inbound webhooks.
    pub ingest: IngestSettings,
    /// Confirmation by fetch of the events of providers with weak webhook authentication.
    pub confirmation: ConfirmationSettings,
    /// Re-publishing events to partner apps.
    pub delivery: DeliverySettings,
    /// Encryption of secrets at rest.
    pub encryption: EncryptionSettings,
    /// The optional NATS JetStream sink.
    pub jetstream: JetStreamSettings,
    /// Reconciliation of Pix receipts against loan disbursements.
    pub reconciliation: ReconciliationSettings,
    /// Which provider serves each capability.
    pub routing: RoutingSettings,
    /// How long events, deliveries and attempts are kept (weekly partitions, dropped whole).
    pub retention: RetentionSettings,
    /// One section per provider, owned and validated by the provider's crate (its `Config`).
    pub providers: ProviderSections,
}

/// The outbound webhook dispatcher (see `config/default.toml` for each key).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// Run the dispatcher in this process.
    pub enabled: bool,
    /// Concurrent dispatcher tasks.
    pub workers: u32,
    /// Idle poll interval, in milliseconds.
    pub poll_interval_ms: u64,
    /// Deliveries claimed at once.
    pub batch_size: u32,
    /// Timeout of one POST, in seconds.
    pub request_timeout_secs: u64,
    /// Delay before each attempt, in seconds.
    pub retry_schedule_secs: Vec<u64>,
    /// Jitter applied to each delay, in percent either way.
    pub retry_jitter_percent: u32,
    /// Cap on an honoured `Retry-After`, in seconds.
    pub retry_after_cap_secs: u64,
    /// A subscription failing this long without success is disabled, in seconds.
    pub disable_after_failing_secs: u64,
    /// In-flight deliveries per subscription, per process.
    pub max_concurrency_per_subscription: u32,
    /// Response bytes kept per attempt.
    pub response_body_max_bytes: usize,
    /// Seconds after which an unrecorded claim is taken again.
    pub claim_timeout_secs: u64,
    /// CIDRs partner URLs may resolve to although private.
    pub allow_private_networks: Vec<String>,
}

/// Keys for secrets at rest.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSettings {
    /// Id of the key new secrets are encrypted with.
    pub active_key: String,
    /// Every key that may decrypt.
    pub keys: Vec<EncryptionKey>,
}

/// One data-encryption key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKey {
    /// Key id, stored with every ciphertext.
    pub id: String,
    /// Base64 of 32 random bytes.
    #[serde(serialize_with = "serialize_redacted")]
    pub key: SecretString,
}

/// The NATS JetStream sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamSettings {
    /// NATS URL; empty disables the sink.
    pub url: String,
    /// Stream name.
    pub stream: String,
}

/// Reconciliation (see `config/default.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationSettings {
    /// Reconcile live, on every event.
    pub enabled: bool,
    /// Seconds after a disbursement before its receipt is overdue.
    pub window_secs: u64,
    /// Documents of credit-provider payers.
    pub credit_payer_documents: Vec<String>,
    /// ISPBs of credit-provider payers.
    pub credit_payer_ispbs: Vec<String>,
    /// Period of the overdue and document-resolution job, in seconds.
    pub check_interval_secs: u64,
}

/// Retention of the tables that grow with every event (see `config/default.toml`). Each is
/// partitioned by week and a partition is dropped once all of it is older than its table's
/// retention, so a row lives between its retention and a week more.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days events are kept; also how long their exactly-once keys are remembered, at least.
    pub events_days: u32,
    /// Days deliveries are kept; at most `events_days`.
    pub deliveries_days: u32,
    /// Days delivery attempts are kept; at most `deliveries_days`.
    pub attempts_days: u32,
    /// Days of partitions created ahead of time.
    pub partitions_ahead_days: u32,
    /// Period of the partition and retention job, in seconds.
    pub check_interval_secs: u64,
}

impl RetentionSettings {
    /// How far ahead partitions exist.
    pub fn ahead(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.partitions_ahead_days))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let checks: [(bool, &'static str, &'static str); 5] = [
            (
                (7..=36_500).contains(&self.events_days),
                "retention.events_days",
                "a number of days between 7 and 36500",
            ),
            (
                (7..=self.events_days).contains(&self.deliveries_days),
                "retention.deliveries_days",
                "a number of days between 7 and retention.events_days (deliveries point at events)",
            ),
            (
                (7..=self.deliveries_days).contains(&self.attempts_days),
                "retention.attempts_days",
                "a number of days between 7 and retention.deliveries_days (attempts point at deliveries)",
            ),
            (
                (7..=366).contains(&self.partitions_ahead_days),
                "retention.partitions_ahead_days",
                "a number of days between 7 and 366",
            ),
            (
                (60..=86_400).contains(&self.check_interval_secs),
                "retention.check_interval_secs",
                "a number of seconds between 60 and 86400",
            ),
        ];
        for (ok, key, expected) in checks {
            if !ok {
                return Err(ConfigError::Invalid { key, expected });
            }
        }
        Ok(())
    }
}

/// Which registered provider serves each capability of the `/v1` API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// Provider of the credit API; empty means none.
    pub credit: String,
    /// Provider of the banking API; empty means none.
    pub banking: String,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the HTTP API binds to.
    pub host: String,
    /// Port; 0 lets the OS pick one.
    pub port: u16,
    /// Public base URL at which providers reach the `/webhooks` routes; empty means derived.
    pub public_url: String,
    /// Every request is answered within this many seconds.
    pub request_timeout_secs: u64,
    /// Largest request body accepted on `/v1` routes, in bytes.
    pub body_limit_bytes: usize,
    /// Largest inbound webhook body accepted, in bytes.
    pub webhook_body_limit_bytes: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_secs: u64,
}

/// Where Postgres is and how the pool behaves.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Postgres URL; empty means "find one" (see `crate::db::locate`).
    #[serde(serialize_with = "serialize_redacted")]
    pub url: SecretString,
    /// Database created and used on a server found on localhost:5432.
    pub local_database: String,
    /// Data directory of the private cluster.
    pub private_cluster_dir: PathBuf,
    /// Connection pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before answering 503.
    pub acquire_timeout_secs: u64,
    /// Run migrations at start.
    pub migrate_on_start: bool,
}

/// Group commit of inbound webhooks (see `config/default.toml` for each key).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Concurrent writer tasks, each committing one batch at a time.
    pub writers: u32,
    /// Most webhooks committed together in one transaction.
    pub max_batch: usize,
    /// Webhooks waiting for a writer before new ones wait to be queued (backpressure).
    pub queue_capacity: usize,
    /// Milliseconds the inbound credentials read from Postgres are kept in memory (0: read them
    /// for every webhook).
    pub credential_cache_ms: u64,
}

/// Confirmation by fetch (see `config/default.toml` for each key). Whether a provider's events
/// need it is the provider's own setting (`providers.delbank.confirm_by_fetch`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationSettings {
    /// Milliseconds between two looks for due confirmations when there were none.
    pub poll_interval_ms: u64,
    /// Most confirmations claimed at once.
    pub batch: i64,
    /// Fetches in flight at once per replica.
    pub concurrency: usize,
    /// Seconds a claimed confirmation is this replica's before another may take it.
    pub lease_secs: u64,
    /// Milliseconds before the first retry after the provider could not answer; doubles each time.
    pub retry_base_ms: u64,
    /// Most seconds between two retries.
    pub retry_max_secs: u64,
}

impl ConfirmationSettings {
    /// The wait before the next fetch after `attempts` failed ones: `retry_base_ms` doubled per
    /// attempt, at most `retry_max_secs`.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let delay = self.retry_base_ms.saturating_mul(1u64 << doublings);
        Duration::from_millis(delay.min(self.retry_max_secs.saturating_mul(1000)))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let checks: [(bool, &'static str, &'static str); 6] = [
            (
                (10..=60_000).contains(&self.poll_interval_ms),
                "confirmation.poll_interval_ms",
                "a number of milliseconds between 10 and 60000",
            ),
            (
                (1..=1000).contains(&self.batch),
                "confirmation.batch",
                "a number of confirmations between 1 and 1000",
            ),
            (
                (1..=256).contains(&self.concurrency),
                "confirmation.concurrency",
                "a number of fetches between 1 and 256",
            ),
            (
                (1..=3600).contains(&self.lease_secs),
                "confirmation.lease_secs",
                "a number of seconds between 1 and 3600",
            ),
            (
                (1..=600_000).contains(&self.retry_base_ms),
                "confirmation.retry_base_ms",
                "a number of milliseconds between 1 and 600000",
            ),
            (
                (1..=86_400).contains(&self.retry_max_secs),
                "confirmation.retry_max_secs",
                "a number of seconds between 1 and 86400",
            ),
        ];
        for (ok, key, expected) in checks {
            if !ok {
                return Err(ConfigError::Invalid { key, expected });
            }
        }
        Ok(())
    }
}

/// `Idempotency-Key` handling.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencySettings {
    /// How long a stored response is replayed.
    pub ttl_hours: u32,
    /// A request in flight longer than this is presumed dead and its key can be taken over.
    pub in_flight_lock_secs: u32,
}

/// Logs and traces.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// OTLP/HTTP traces endpoint; empty means no export.
    pub otlp_endpoint: String,
    /// `service.name` reported to OpenTelemetry.
    pub service_name: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A configuration that cannot be used; the message names the key and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or a value has the wrong type.
    #[error("{0}")]
    Figment(String),
    /// A value has the right type but is not acceptable.
    #[error("invalid value for `{key}`: expected {expected}")]
    Invalid {
        /// Dotted path of the key, e.g. `server.request_timeout_secs`.
        key: &'static str,
        /// What an acceptable value looks like.
        expected: &'static str,
    },
}

impl Settings {
    /// Loads the layered configuration; `file` is the `--config` argument.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::from_figment(Settings::figment(file))
    }

    /// The figment with every layer, for callers that extract sub-trees (provider crates own theirs).
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = defaults_figment();
        let local = Path::new("config/default.toml");
        if local.is_file() {
            figment = figment.merge(Toml::file(local));
        }
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("PAYGATE_").split("__").map(provider_env_key));
        if let Ok(url) = std::env::var("DATABASE_URL")
            && std::env::var_os("PAYGATE_DATABASE__URL").is_none()
        {
            figment = figment.merge(("database.url", url));
        }
        figment
    }

    /// The compiled defaults alone: what tests start from before they adjust fields in code.
    pub fn defaults() -> Result<Settings, ConfigError> {
        Settings::from_figment(defaults_figment())
    }

    fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment.extract().map_err(describe_figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Semantic checks that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks: [(bool, &'static str, &'static str); 12] = [
            (
                self.server.host.parse::<std::net::IpAddr>().is_ok(),
                "server.host",
                "an IP address such as 127.0.0.1 or 0.0.0.0",
            ),
            (
                self.server.public_url.is_empty()
                    || self.server.public_url.starts_with("http://")
                    || self.server.public_url.starts_with("https://"),
                "server.public_url",
                "empty or an http(s):// URL",
            ),
            (
                (1..=3600).contains(&self.server.request_timeout_secs),
                "server.request_timeout_secs",
                "a number of seconds between 1 and 3600",
            ),
            (
                (1024..=64 * 1024 * 1024).contains(&self.server.body_limit_bytes),
                "server.body_limit_bytes",
                "a size in bytes between 1024 and 67108864",
            ),
            (
                (1024..=64 * 1024 * 1024).contains(&self.server.webhook_body_limit_bytes),
                "server.webhook_body_limit_bytes",
                "a size in bytes between 1024 and 67108864",
            ),
            (
                (1..=1000).contains(&self.database.max_connections),
                "database.max_connections",
                "a pool size between 1 and 1000",
            ),
            (
                (1..=64).contains(&self.ingest.writers),
                "ingest.writers",
                "a number of writer tasks between 1 and 64",
            ),
            (
                (1..=10_000).contains(&self.ingest.max_batch),
                "ingest.max_batch",
                "a number of webhooks between 1 and 10000",
            ),
            (
                (1..=1_000_000).contains(&self.ingest.queue_capacity),
                "ingest.queue_capacity",
                "a number of webhooks between 1 and 1000000",
            ),
            (
                self.ingest.credential_cache_ms <= 60_000,
                "ingest.credential_cache_ms",
                "a number of milliseconds between 0 and 60000",
            ),
            (
                (1..=24 * 30).contains(&self.idempotency.ttl_hours),
                "idempotency.ttl_hours",
                "a number of hours between 1 and 720",
            ),
            (
                self.database.url.expose_secret().is_empty()
                    || self.database.url.expose_secret().starts_with("postgres://")
                    || self
                        .database
                        .url
                        .expose_secret()
                        .starts_with("postgresql://"),
                "database.url",
                "empty or a postgres:// URL",
            ),
        ];
        for (ok, key, expected) in checks {
            if !ok {
                return Err(ConfigError::Invalid { key, expected });
            }
        }
        if !(1..=600).contains(&self.database.acquire_timeout_secs) {
            return Err(ConfigError::Invalid {
                key: "database.acquire_timeout_secs",
                expected: "a number of seconds between 1 and 600",
            });
        }
        self.confirmation.check()?;
        self.retention.check()
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|error| ConfigError::Figment(error.to_string()))
    }

    /// Per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.server.request_timeout_secs)
    }
}

/// One line per problem: the key as written in `config/default.toml`, what was wrong, and which
/// layer (file or environment) the value came from.
fn describe_figment_error(error: figment::Error) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_lowercase();
            let source = match e.metadata.as_ref() {
                Some(metadata) => match &metadata.source {
                    Some(figment::Source::File(path)) => format!(" (from {})", path.display()),
                    _ => format!(" (from {})", metadata.name),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{}{source}", e.kind.to_string().trim_end())
            } else {
                format!(
                    "invalid value for `{key}`: {}{source}",
                    e.kind.to_string().trim_end()
                )
            }
        })
        .collect();
    ConfigError::Figment(messages.join("; "))
}

fn serialize_redacted<S: Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() {
        serializer.serialize_str("")
    } else {
        serializer.serialize_str("[REDACTED]")
    }
}

/// The `[providers.*]` sections, free-form here (each provider crate parses its own). Any key that
/// looks like a credential is redacted in `Debug` and in the printed configuration.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ProviderSections(pub toml::Table);

impl ProviderSections {
    fn redacted(&self) -> toml::Value {
        fn redact(value: &toml::Value, sensitive: bool) -> toml::Value {
            match value {
                toml::Value::Table(table) => toml::Value::Table(
                    table
                        .iter()
                        .map(|(key, value)| {
                            (
                                key.clone(),
                                redact(value, sensitive || is_sensitive_key(key)),
                            )
                        })
                        .collect(),
                ),
                toml::Value::Array(items) => {
                    toml::Value::Array(items.iter().map(|v| redact(v, sensitive)).collect())
                }
                toml::Value::String(text) if sensitive && !text.is_empty() => {
                    toml::Value::String("[REDACTED]".into())
                }
                other => other.clone(),
            }
        }
        redact(&toml::Value::Table(self.0.clone()), false)
    }
}

impl Serialize for ProviderSections {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(serializer)
    }
}

impl std::fmt::Debug for ProviderSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "secret",
        "password",
        "token",
        "credential",
        "api_key",
        "apikey",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_overlay(overlay: &str) -> Result<Settings, ConfigError> {
        Settings::from_figment(defaults_figment().merge(Toml::string(overlay)))
    }

    #[test]
    fn an_environment_key_names_a_hyphenated_provider_with_an_underscore() {
        let key = |text: &str| {
            provider_env_key(figment::value::UncasedStr::new(text))
                .as_str()
                .to_owned()
        };
        assert_eq!(
            key("PROVIDERS.BACEN_PIX.CLIENT_SECRET"),
            "providers.bacen-pix.client_secret"
        );
        assert_eq!(key("providers.bacen_pix"), "providers.bacen-pix");
        assert_eq!(key("providers.bacen_pixel.x"), "providers.bacen_pixel.x");
        assert_eq!(
            key("providers.dinie.client_id"),
            "providers.dinie.client_id"
        );
        assert_eq!(key("server.port"), "server.port");
    }

    #[test]
    fn compiled_defaults_are_valid() {
        let settings = Settings::defaults().unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.idempotency.ttl_hours, 24);
    }

    #[test]
    fn a_wrongly_typed_value_names_the_key_and_the_expected_type() {
        let error = with_overlay("[server]\nport = \"eighty\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("server.port"), "{error}");
        assert!(error.contains("u16"), "{error}");
    }

    #[test]
    fn an_out_of_range_value_names_the_key_and_what_is_expected() {
        let error = with_overlay("[server]\nrequest_timeout_secs = 0")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid value for `server.request_timeout_secs`: expected a number of seconds between 1 and 3600"
        );
    }

    #[test]
    fn group_commit_settings_outside_their_range_are_refused() {
        for (overlay, key) in [
            ("[ingest]\nwriters = 0", "ingest.writers"),
            ("[ingest]\nmax_batch = 0", "ingest.max_batch"),
            ("[ingest]\nqueue_capacity = 0", "ingest.queue_capacity"),
            (
                "[ingest]\ncredential_cache_ms = 60001",
                "ingest.credential_cache_ms",
            ),
        ] {
            let error = with_overlay(overlay).unwrap_err().to_string();
            assert!(error.contains(key), "{overlay}: {error}");
        }
    }

    #[test]
    fn confirmation_settings_out_of_range_name_their_key() {
        for (overlay, key) in [
            (
                "[confirmation]\npoll_interval_ms = 1",
                "confirmation.poll_interval_ms",
            ),
            ("[confirmation]\nbatch = 0", "confirmation.batch"),
            (
                "[confirmation]\nconcurrency = 0",
                "confirmation.concurrency",
            ),
            ("[confirmation]\nlease_secs = 0", "confirmation.lease_secs"),
            (
                "[confirmation]\nretry_base_ms = 0",
                "confirmation.retry_base_ms",
            ),
            (
                "[confirmation]\nretry_max_secs = 0",
                "confirmation.retry_max_secs",
            ),
        ] {
            let error = with_overlay(overlay).unwrap_err().to_string();
            assert!(error.contains(key), "{overlay}: {error}");
        }
    }

    #[test]
    fn confirmation_retries_double_from_the_base_up_to_the_ceiling() {
        let settings = Settings::defaults().unwrap().confirmation;
        assert_eq!(settings.retry_base_ms, 1000);
        assert_eq!(settings.retry_max_secs, 300);
        let waits: Vec<u64> = [1, 2, 3, 8, 9, 10, 1000]
            .map(|attempts| settings.backoff(attempts).as_secs())
            .to_vec();
        assert_eq!(waits, [1, 2, 4, 128, 256, 300, 300]);
        assert_eq!(settings.backoff(0), Duration::from_secs(1));
        assert_eq!(settings.backoff(-5), Duration::from_secs(1));
    }

    #[test]
    fn retention_that_would_keep_rows_longer_than_what_they_point_at_is_refused() {
        for (overlay, key) in [
            (
                "[retention]\nevents_days = 30\ndeliveries_days = 31",
                "retention.deliveries_days",
            ),
            (
                "[retention]\ndeliveries_days = 20\nattempts_days = 21",
                "retention.attempts_days",
            ),
            ("[retention]\nevents_days = 6", "retention.events_days"),
            (
                "[retention]\npartitions_ahead_days = 3",
                "retention.partitions_ahead_days",
            ),
        ] {
            let error = with_overlay(overlay).unwrap_err().to_string();
            assert!(error.contains(key), "{overlay}: {error}");
        }
        let kept =
            with_overlay("[retention]\nevents_days = 30\ndeliveries_days = 30\nattempts_days = 7")
                .unwrap();
        assert_eq!(kept.retention.attempts_days, 7);
    }

    #[test]
    fn an_unknown_key_is_rejected_rather_than_ignored() {
        let error = with_overlay("[server]\nprot = 1").unwrap_err().to_string();
        assert!(error.contains("prot"), "{error}");
    }

    #[test]
    fn the_redacted_view_never_shows_the_database_password() {
        let settings = with_overlay("[database]\nurl = \"postgres://u:hunter2@db/x\"").unwrap();
        let text = settings.to_redacted_toml().unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn provider_credentials_are_redacted_in_the_printed_configuration() {
        let settings = with_overlay(
            "[providers.acme]\nbase_url = \"http://acme\"\nclient_secret = \"cs_live_123\"\nwebhook_secrets = [\"whsec_abc\"]",
        )
        .unwrap();
        let text = settings.to_redacted_toml().unwrap();
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("cs_live_123") && !debug.contains("whsec_abc"),
            "{debug}"
        );
        assert!(!text.contains("cs_live_123"), "{text}");
        assert!(!text.contains("whsec_abc"), "{text}");
        assert!(text.contains("http://acme"), "{text}");
    }

    #[test]
    fn a_later_layer_wins_over_the_defaults() {
        let settings = with_overlay("[telemetry]\nlog_format = \"json\"").unwrap();
        assert_eq!(settings.telemetry.log_format, LogFormat::Json);
    }
}
