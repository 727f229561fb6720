//! The composition root: the one place that builds the application (credential store, provider
//! registry over `catalog`'s provider crates, state, workers, listener). `serve`, the CLI's
//! provider commands, the demo and the test harness all build through it.
//!
//! `Application::build` binds the listener (port 0 picks a free one, for tests) and returns before
//! serving, so callers learn the address first; `run_until_stopped` serves until the shutdown
//! future resolves, then drains in-flight requests for at most `server.shutdown_grace_secs`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use providers::CredentialStore;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::credentials::PgCredentialStore;
use crate::crypto::Keyring;
use crate::delivery::dispatcher::Dispatcher;
use crate::http::state::AppState;
use crate::ingest::Ingestor;
use crate::ingest::confirm::Confirmer;
use crate::jobs;
use crate::outbox::Sinks;
use crate::outbox::handoff::Handoff;
pub use crate::registry::ProviderRegistry;
use crate::{db, http, telemetry};

/// Providers registered beyond the configured ones (the test harness's own test provider).
pub type ExtraProviders<'a> = Box<dyn FnOnce(&mut ProviderRegistry, Arc<dyn CredentialStore>) + 'a>;

/// The credential store inbound webhooks are verified with (cached for `cache`; a one-off command
/// passes zero) and the providers the configuration enables, registered against it.
pub fn providers(
    settings: &Settings,
    figment: &figment::Figment,
    pool: &PgPool,
    cache: Duration,
) -> anyhow::Result<(ProviderRegistry, PgCredentialStore)> {
    let keyring = Arc::new(Keyring::from_settings(&settings.encryption)?);
    let store = PgCredentialStore::new(pool.clone(), keyring, cache);
    let registry = register_providers(figment, Arc::new(store.clone()))?;
    Ok((registry, store))
}

/// Registers the providers compiled into this binary ([`crate::catalog`]), each reading its own
/// `[providers.<name>]` section.
pub fn register_providers(
    figment: &figment::Figment,
    credentials: Arc<dyn CredentialStore>,
) -> anyhow::Result<ProviderRegistry> {
    let mut registry = ProviderRegistry::default();
    crate::catalog::register_all(figment, &credentials, &mut registry)?;
    Ok(registry)
}

/// A bound, not yet serving, gateway.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
}

impl Application {
    /// Builds the application the configuration describes: the providers its `[providers.*]`
    /// sections enable (read from `figment`), then `extra` ones, on `pool`.
    pub async fn compose(
        settings: Settings,
        figment: &figment::Figment,
        pool: PgPool,
        extra: ExtraProviders<'_>,
    ) -> anyhow::Result<Application> {
        let cache = Duration::from_millis(settings.ingest.credential_cache_ms);
        let (mut registry, credentials) = providers(&settings, figment, &pool, cache)?;
        extra(&mut registry, Arc::new(credentials.clone()));
        Application::build(settings, pool, registry, credentials).await
    }

    /// Connects to `pool`'s database, migrates if configured, binds the listener. `credentials` is
    /// the store `registry`'s webhook sources were given.
    async fn build(
        mut settings: Settings,
        pool: PgPool,
        registry: ProviderRegistry,
        credentials: PgCredentialStore,
    ) -> anyhow::Result<Application> {
        let keyring = Arc::new(Keyring::from_settings(&settings.encryption)?);
        if settings.database.migrate_on_start {
            db::migrate(&pool).await?;
        }
        // Before taking traffic: an insert for a week with no partition would fail. The job keeps
        // the partitions ahead from here on.
        if db::migrations_applied(&pool).await? {
            let created = crate::store::partitions::ensure_ahead(
                &pool,
                chrono::Utc::now(),
                settings.retention.ahead(),
            )
            .await?;
            if created > 0 {
                tracing::info!(created, "created weekly partitions ahead of time");
            }
        }
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|error| anyhow::anyhow!("cannot listen on {address}: {error}"))?;
        if settings.server.public_url.is_empty() {
            settings.server.public_url = format!("http://{}", listener.local_addr()?);
        }
        // Deliveries enqueued by inbound webhooks go to this process's dispatcher in memory, as
        // far as it has room; the rest are claimed from the outbox.
        let handoff = settings
            .delivery
            .enabled
            .then(|| Handoff::new(&settings.delivery));
        let sinks = Sinks {
            handoff: handoff.clone(),
            ..Sinks::from_settings(&settings)
        };
        let ingestor = Ingestor::start_confirming(
            pool.clone(),
            sinks,
            &settings.ingest,
            Some(credentials.clone()),
            Arc::new(registry.confirmers()),
        );
        let metrics = telemetry::metrics_handle();
        record_provider_info(&registry);
        let sender = Dispatcher::new(pool.clone(), keyring.clone(), &settings)?;
        let state = AppState {
            sender,
            pool,
            ingestor,
            handoff,
            credentials,
            settings: Arc::new(settings),
            registry: Arc::new(registry),
            metrics,
            keyring,
        };
        let router = http::router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests use its pool).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains for at most the configured grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.settings.server.shutdown_grace_secs);
        let workers = CancellationToken::new();
        let housekeeping = tokio::spawn(purge_idempotency_records(
            self.state.pool.clone(),
            workers.clone(),
        ));
        let retention = tokio::spawn(crate::retention::worker(
            self.state.pool.clone(),
            self.state.settings.retention.clone(),
            workers.clone(),
        ));
        let metrics_upkeep = tokio::spawn(telemetry::upkeep_metrics(
            self.state.metrics.clone(),
            workers.clone(),
        ));
        let reconciler = self.state.settings.reconciliation.enabled.then(|| {
            let state = &self.state;
            tokio::spawn(crate::reconcile::items::worker(
                state.pool.clone(),
                state.registry.clone(),
                state.settings.reconciliation.clone(),
                !state.settings.jetstream.url.is_empty(),
                workers.clone(),
            ))
        });
        let confirmations = self.state.registry.has_confirmers().then(|| {
            let state = &self.state;
            let sinks = Sinks {
                handoff: state.handoff.clone(),
                ..Sinks::from_settings(&state.settings)
            };
            let confirmer = Confirmer::new(
                state.pool.clone(),
                sinks,
                Arc::new(state.registry.confirmers()),
                state.settings.confirmation.clone(),
            );
            tokio::spawn(confirmer.run(workers.clone()))
        });
        let dispatcher = if self.state.settings.delivery.enabled {
            Some(start_dispatcher(&self.state, workers.clone())?)
        } else {
            None
        };
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let stop_workers = workers.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight requests and deliveries");
            stop_workers.cancel();
            let _ = stopping_tx.send(true);
        };
        let serve = axum::serve(self.listener, self.router).with_graceful_shutdown(signal);
        let drain_deadline = async move {
            let mut stopping = stopping_rx;
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        let served = tokio::select! {
            result = serve => result.map_err(anyhow::Error::from),
            () = drain_deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; dropping remaining requests");
                Ok(())
            }
        };
        workers.cancel();
        let _ = housekeeping.await;
        let _ = retention.await;
        let _ = metrics_upkeep.await;
        if let Some(reconciler) = reconciler {
            let _ = tokio::time::timeout(grace, reconciler).await;
        }
        if let Some(confirmations) = confirmations {
            let _ = tokio::time::timeout(grace, confirmations).await;
        }
        if let Some(dispatcher) = dispatcher
            && tokio::time::timeout(grace, dispatcher).await.is_err()
        {
            tracing::warn!(
                "deliveries still in flight after the grace period; their claims will expire and be redone"
            );
        }
        served
    }
}

/// `paygate_provider_info`: one series per provider compiled in, from its description, saying
/// whether this configuration registered it.
fn record_provider_info(registry: &ProviderRegistry) {
    for description in crate::catalog::descriptions() {
        let name = description.name.to_string();
        let capabilities: Vec<&str> = description
            .capabilities
            .iter()
            .map(|capability| capability.as_str())
            .collect();
        metrics::gauge!(
            "paygate_provider_info",
            "provider" => name.clone(),
            "capabilities" => capabilities.join(","),
            "webhook_authentication" => description.webhook_authentication.as_str(),
            "registered" => if registry.is_registered(&name) { "true" } else { "false" },
            "confirmed_by_fetch" => if registry.confirmer(&name).is_some() { "true" } else { "false" },
        )
        .set(1.0);
    }
}

/// Starts the outbox dispatcher (its JetStream worker connects when configured).
fn start_dispatcher(
    state: &AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut dispatcher =
        Dispatcher::new(state.pool.clone(), state.keyring.clone(), &state.settings)?;
    if let Some(handoff) = &state.handoff {
        dispatcher = dispatcher.taking_over(handoff.clone());
    }
    Ok(dispatcher.spawn(shutdown))
}

/// Deletes expired idempotency records, as a fleet job every ten minutes (a key reused after its
/// TTL is also freed on the spot), until `shutdown`.
async fn purge_idempotency_records(pool: PgPool, shutdown: CancellationToken) {
    let purging = pool.clone();
    let schedule = jobs::Schedule::every(Duration::from_secs(600));
    jobs::run(
        pool,
        jobs::IDEMPOTENCY_PURGE,
        schedule,
        shutdown,
        move || {
            let pool = purging.clone();
            async move { crate::store::idempotency::purge_expired(&pool).await }
        },
    )
    .await;
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
