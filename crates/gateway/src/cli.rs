//! The `paygate` command line: `serve`, `migrate`, `keys`, `providers`, `secrets rekey`,
//! `config check`.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::credentials;
use crate::crypto::Keyring;
use crate::keys;
use crate::keys::Scope;
use crate::secrets;
use crate::startup::{self, Application};
use crate::store::api_keys;
use crate::{db, telemetry};

/// paygate: one API in front of Dinie (credit) and Delbank (banking).
#[derive(Debug, Parser)]
#[command(name = "paygate", version)]
pub struct Cli {
    /// A TOML file layered over the defaults (before PAYGATE_* environment variables).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: REST API, inbound webhooks, workers.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// A provider compiled into this binary: what it is, and the gateway's webhook registrations
    /// at it.
    Providers {
        /// The provider's name (`paygate providers any describe` lists them).
        provider: String,
        /// What to do.
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Manage secrets encrypted at rest.
    Secrets {
        /// What to do with secrets.
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Check the Postgres server for what the gateway's guarantees and speed depend on;
    /// exits 1 when a finding fails.
    Doctor,
    /// The weekly partitions of events, deliveries and attempts, and their retention.
    Partitions {
        /// What to do with partitions.
        #[command(subcommand)]
        command: PartitionsCommand,
    },
    /// Inspect the configuration.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `paygate keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// Who or what will use the key.
        #[arg(long)]
        name: String,
        /// A scope to grant (repeat for several): admin, events:read, keys:write, pii.
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (key_...).
        id: String,
    },
}

/// `paygate providers NAME ...`
#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// What the provider is: capabilities, webhook authentication, whether this configuration
    /// enables it, and its configuration section with defaults (NAME `any` lists every provider).
    Describe,
    /// Register the gateway's webhook endpoint(s) at the provider (`server.public_url`) and store
    /// the credentials; safe to run again.
    #[command(name = "register-webhooks", alias = "register-webhook")]
    RegisterWebhooks,
    /// Rotate the webhook credential(s), keeping the previous ones valid for a grace period.
    #[command(name = "rotate-webhooks", alias = "rotate-webhook")]
    RotateWebhooks {
        /// Seconds the previous credential stays valid.
        #[arg(long, default_value_t = 3600)]
        grace_seconds: u64,
        /// Only this registration (all of the provider's by default).
        #[arg(long)]
        registration_id: Option<String>,
    },
}

/// `paygate secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret that is not under `encryption.active_key` (online, in small
    /// batches; run it after making a new key active, before removing the old one).
    Rekey {
        /// Rows read per batch.
        #[arg(long, default_value_t = secrets::DEFAULT_BATCH_SIZE)]
        batch_size: u32,
    },
}

/// `paygate partitions ...`
#[derive(Debug, Subcommand)]
pub enum PartitionsCommand {
    /// List each table's partitions: name, the weeks they cover, estimated rows.
    List,
    /// Run the `partitions.maintain` job now: create weeks ahead, drop expired ones (per
    /// `[retention]`), rotate the exactly-once key generation when due.
    Maintain,
}

/// `paygate config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it, secrets redacted.
    Check,
}

impl clap::ValueEnum for Scope {
    fn value_variants<'a>() -> &'a [Self] {
        &Scope::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// The `paygate` binary's whole `main`: parses the command line, runs it, and reports an error on
/// stderr with exit code 1. (The end-to-end tests build the same binary under another name.)
pub async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("paygate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            print!("{}", settings.to_redacted_toml()?);
            Ok(())
        }
        Command::Serve => serve(cli.config, settings).await,
        Command::Doctor => {
            let (pool, _cluster) = open_database(&settings).await?;
            let findings = crate::doctor::examine(&pool, &settings).await?;
            let mut failed = false;
            for finding in &findings {
                let mark = match finding.level {
                    crate::doctor::Level::Ok => "ok  ",
                    crate::doctor::Level::Warn => "warn",
                    crate::doctor::Level::Fail => {
                        failed = true;
                        "FAIL"
                    }
                };
                println!("{mark} {:<20} {}", finding.check, finding.found);
                if !finding.advice.is_empty() {
                    println!("     {:<20} → {}", "", finding.advice);
                }
            }
            if failed {
                anyhow::bail!("the database fails a check the gateway's guarantees depend on");
            }
            Ok(())
        }
        Command::Partitions { command } => {
            let _telemetry = telemetry::init(&settings.telemetry)?;
            let (pool, _cluster) = open_database(&settings).await?;
            db::migrate(&pool).await?;
            partitions_command(&pool, &settings, command).await
        }
        Command::Migrate => {
            let _telemetry = telemetry::init(&settings.telemetry)?;
            let (pool, _cluster) = open_database(&settings).await?;
            db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Providers {
            provider,
            command: ProvidersCommand::Describe,
        } => describe_providers(cli.config, &provider),
        Command::Providers { provider, command } => {
            if crate::catalog::describe(&provider).is_none() {
                anyhow::bail!("{}", unknown_provider(&provider));
            }
            let _telemetry = telemetry::init(&settings.telemetry)?;
            let (pool, _cluster) = open_database(&settings).await?;
            db::migrate(&pool).await?;
            providers_command(cli.config, &settings, &pool, &provider, command).await
        }
        Command::Keys { command } => {
            let (pool, _cluster) = open_database(&settings).await?;
            db::migrate(&pool).await?;
            keys_command(&pool, command).await
        }
        Command::Secrets {
            command: SecretsCommand::Rekey { batch_size },
        } => {
            let _telemetry = telemetry::init(&settings.telemetry)?;
            let keyring = Keyring::from_settings(&settings.encryption)?;
            let (pool, _cluster) = open_database(&settings).await?;
            db::migrate(&pool).await?;
            rekey_command(&pool, &keyring, batch_size).await
        }
    }
}

async fn serve(config: Option<PathBuf>, settings: Settings) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(&settings.telemetry)?;
    let (pool, _cluster) = open_database(&settings).await?;
    let figment = Settings::figment(config.as_deref());
    let app = Application::compose(settings, &figment, pool, Box::new(|_, _| {})).await?;
    let address = app.local_addr()?;
    tracing::info!(%address, docs = %format!("http://{address}/docs"), "paygate listening");
    app.run_until_stopped(startup::shutdown_signal()).await
}

/// Locates and opens the database; the cluster handle keeps a private cluster's watchdog alive.
async fn open_database(
    settings: &Settings,
) -> anyhow::Result<(sqlx::PgPool, Option<db::PrivateCluster>)> {
    let located = db::locate(&settings.database).await?;
    tracing::info!(source = located.source, "database located");
    let pool = db::connect(&located.url, &settings.database).await?;
    Ok((pool, located.cluster))
}

async fn partitions_command(
    pool: &sqlx::PgPool,
    settings: &Settings,
    command: PartitionsCommand,
) -> anyhow::Result<()> {
    use crate::store::partitions::{self, Partitioned};
    match command {
        PartitionsCommand::List => {
            for table in Partitioned::ALL {
                for partition in partitions::list(pool, table).await? {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        table.table(),
                        partition.name,
                        partition.from.format("%Y-%m-%d"),
                        partition.to.format("%Y-%m-%d"),
                        partition.estimated_rows.max(0)
                    );
                }
            }
            let (generation, since) = partitions::key_generation(pool).await?;
            println!(
                "event_key\tgeneration {generation}\tsince {}",
                since.format("%Y-%m-%d")
            );
        }
        PartitionsCommand::Maintain => {
            let started = std::time::Instant::now();
            let done =
                crate::retention::maintain(pool, &settings.retention, chrono::Utc::now()).await?;
            println!("created {} partition(s) ahead", done.created);
            for name in &done.dropped {
                println!("dropped {name}");
            }
            if let Some(generation) = done.rotated_to {
                println!("exactly-once keys now in generation {generation}");
            }
            println!("took {} ms", started.elapsed().as_millis());
        }
    }
    Ok(())
}

async fn keys_command(pool: &sqlx::PgPool, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { name, scopes } => {
            let created = keys::create(pool, &name, &scopes).await?;
            let scopes = created.record.scopes.join(",");
            println!("id:     {}", created.record.id());
            println!("name:   {}", created.record.name);
            println!("scopes: {scopes}");
            println!("key:    {}", keys::reveal(&created));
            eprintln!("Store the key now: it is shown only once.");
        }
        KeysCommand::List => {
            for record in api_keys::list(pool).await? {
                let state = if record.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}…\t{}\t{state}",
                    record.id(),
                    record.name,
                    record.key_prefix,
                    record.scopes.join(",")
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let id = id.parse().map_err(|error| anyhow::anyhow!("{error}"))?;
            match api_keys::revoke(pool, id).await? {
                Some(record) => println!("revoked {}", record.id()),
                None => anyhow::bail!("no API key {id}"),
            }
        }
    }
    Ok(())
}

/// `paygate providers NAME describe`.
fn describe_providers(config: Option<PathBuf>, provider: &str) -> anyhow::Result<()> {
    let figment = Settings::figment(config.as_deref());
    let chosen: Vec<providers::ProviderDescription> = match provider {
        "any" => crate::catalog::descriptions(),
        name => vec![
            crate::catalog::describe(name)
                .ok_or_else(|| anyhow::anyhow!("{}", unknown_provider(name)))?,
        ],
    };
    for description in chosen {
        let name = description.name.as_str();
        let enabled = figment
            .extract_inner::<bool>(&format!("providers.{name}.enabled"))
            .unwrap_or(false);
        let capabilities: Vec<&str> = description
            .capabilities
            .iter()
            .map(|capability| capability.as_str())
            .collect();
        println!("{name}\t{}", description.summary);
        println!("  capabilities:            {}", capabilities.join(", "));
        println!(
            "  webhook authentication:  {}{}",
            description.webhook_authentication.as_str(),
            if description.webhook_authentication.is_weak() {
                " (weak: money-moving events are confirmed by fetch when the provider enables it)"
            } else {
                ""
            }
        );
        println!(
            "  webhook self-registration: {}",
            if description.webhook_self_registration {
                "yes (register-webhooks, rotate-webhooks)"
            } else {
                "no"
            }
        );
        println!("  enabled here:            {enabled}");
        if provider != "any" {
            println!("  defaults ([providers.{name}]):");
            for line in description.default_config.lines() {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

/// The error for a name no compiled-in provider has, listing those there are.
fn unknown_provider(name: &str) -> String {
    let known: Vec<String> = crate::catalog::descriptions()
        .iter()
        .map(|description| description.name.to_string())
        .collect();
    format!(
        "no provider `{name}` is compiled into this binary; there are: {}",
        known.join(", ")
    )
}

async fn providers_command(
    config: Option<PathBuf>,
    settings: &Settings,
    pool: &sqlx::PgPool,
    provider: &str,
    command: ProvidersCommand,
) -> anyhow::Result<()> {
    // A one-off command: nothing to cache.
    let figment = Settings::figment(config.as_deref());
    let (registry, credentials) = startup::providers(settings, &figment, pool, Duration::ZERO)?;
    let registration = registry.webhook_registration(provider).ok_or_else(|| {
        anyhow::anyhow!("provider `{provider}` is not configured or has no webhook registration")
    })?;
    let name =
        providers::ProviderName::parse(provider).map_err(|error| anyhow::anyhow!("{error}"))?;
    let public_url = &settings.server.public_url;
    let registered = match command {
        ProvidersCommand::RegisterWebhooks => {
            if public_url.is_empty() {
                anyhow::bail!(
                    "server.public_url must be set: it is the URL the provider will call"
                );
            }
            credentials::register(&credentials, &name, registration.as_ref(), public_url).await?
        }
        ProvidersCommand::RotateWebhooks {
            grace_seconds,
            registration_id,
        } => {
            credentials::rotate(
                &credentials,
                &name,
                registration.as_ref(),
                registration_id.as_deref(),
                std::time::Duration::from_secs(grace_seconds),
            )
            .await?
        }
        ProvidersCommand::Describe => return describe_providers(config, provider),
    };
    for webhook in registered {
        let grace = webhook
            .previous_secret_expires_at
            .map(|at| format!("\tprevious credential valid until {at}"))
            .unwrap_or_default();
        println!(
            "{}\t{}\t{}{grace}",
            webhook.registration_id,
            webhook.url,
            webhook.event_types.join(",")
        );
    }
    Ok(())
}

async fn rekey_command(
    pool: &sqlx::PgPool,
    keyring: &Keyring,
    batch_size: u32,
) -> anyhow::Result<()> {
    let report = secrets::rekey(pool, keyring, batch_size).await?;
    println!("active key: {}", report.active_key);
    println!("column\texamined\trekeyed\twere_plaintext\tchanged_concurrently\tfailed");
    for column in &report.columns {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            column.column,
            column.examined,
            column.rekeyed,
            column.were_plaintext,
            column.changed_concurrently,
            column.failed
        );
    }
    let failed = report.failed();
    if failed > 0 {
        anyhow::bail!(
            "{failed} secret(s) could not be decrypted and were left as they are (see the log); \
             keep their keys configured"
        );
    }
    Ok(())
}
