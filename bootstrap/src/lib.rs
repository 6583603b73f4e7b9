//! The composition root: the only place that knows which adapter runs.
//! It reads the configuration, builds the adapters, hands them to the use
//! cases and the HTTP layer, and runs the server.

pub mod config;
pub mod metrics;
mod process;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use adapter_argon2::Argon2Hasher;
use adapter_catalog::BundledCatalog;
use adapter_dofusdb::{DofusDbConfig, DofusDbSource};
use adapter_http::{HttpConfig, HttpDeps, MetricsSource};
use adapter_memory::MemoryStorage;
use adapter_memory::{InProcessCache, InProcessRateLimiter};
use adapter_paseto::PasetoSigner;
use adapter_postgres::PgStorage;
use adapter_redis::{Redis, RedisCache, RedisConfig, RedisRateLimiter};
use adapter_system::OsRandom;
use adapter_worker::{Worker, WorkerConfig};
use application::admin::AdminService;
use application::api_keys::ApiKeyService;
use application::audit::AuditLog;
use application::auth::{AuthPolicy, AuthPorts, AuthService, TokenSealer};
use application::cache::ReadCache;
use application::catalog::CatalogService;
use application::catalog_sync::CatalogSync;
use application::health::Health;
use application::jobs::{JobRegistry, JobsService};
use application::maintenance;
use application::roster::Roster;
use domain::ports::{Cache, CacheLifetimes, Clock, JobSignal, Random, RateLimiter, Storage};
use domain::session::SessionLifetimes;
use hkdf::Hkdf;
use poem::listener::{Acceptor, AcceptorExt, BoxAcceptor, Listener, TcpListener};
use poem::{Endpoint, Server};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

pub use config::{Config, ConfigError};

/// How long a request may take to finish once shutdown starts.
const SHUTDOWN_GRACE: StdDuration = StdDuration::from_secs(30);
/// How often expired grace copies of refresh tokens are erased.
const PURGE_EVERY: StdDuration = StdDuration::from_secs(30);

/// How often the embedded worker of memory mode runs each periodic task
/// (with PostgreSQL, a platform scheduler calls `roster cron`).
const MAINTENANCE_EVERY: StdDuration = StdDuration::from_secs(3600);

/// The assembled service, before it listens.
#[allow(missing_debug_implementations)]
pub struct App {
    pub auth: Arc<AuthService>,
    pub http: HttpDeps,
    pub http_config: HttpConfig,
    /// Whether data lives only in this process.
    pub embedded: bool,
    /// Whether the signing key is made up at start.
    pub ephemeral_key: bool,
    /// Whether the signing key is the one the database keeps (PostgreSQL
    /// without `ROSTER_TOKEN_KEY`).
    pub database_key: bool,
    /// Whether `serve` runs a worker too (`ROSTER_WORKER=embedded`).
    pub embedded_worker: bool,
    /// Where `/metrics` is served when not on the API's address
    /// (`ROSTER_METRICS_BIND`).
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// The API listener's header timeout and connection cap.
    pub connections: adapter_http::server::ConnectionLimits,
    /// What `/metrics` shows.
    metrics: Arc<dyn MetricsSource>,
    jobs: JobsWiring,
}

/// What a worker of this app is made of; its bell is made when it starts.
#[derive(Clone)]
struct JobsWiring {
    backend: Backend,
    storage: Arc<dyn Storage>,
    registry: Arc<JobRegistry>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    config: WorkerConfig,
}

impl App {
    /// Builds every adapter from `config` around `storage` (see
    /// [`open_storage`]). `clock` is the system clock in production and a
    /// manual one in tests.
    pub fn build(
        config: &Config,
        storage: StorageChoice,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        // Before any adapter is built: some register their series at once.
        let recorder = metrics::recorder();
        let random: Arc<dyn Random> = Arc::new(OsRandom);
        let StorageChoice {
            storage,
            embedded,
            backend,
            token_key: database_key,
        } = storage;

        let mut issuer = config.public_url.clone();
        // Instances sharing a database's key but left on their own default
        // public URL (each its bind address) are one deployment: they are
        // named by that key, so each accepts the others' tokens.
        if let Some(key) = &database_key
            && config.public_url == format!("http://{}", config.bind)
        {
            use sha2::Digest;
            let digest = Sha256::digest(key.expose_secret().as_bytes());
            let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            issuer = format!("urn:roster:{name}");
        }
        let audience = format!("{issuer}/api/v1");
        // `open_storage` reads the database's key only when none is configured.
        let signer = if let Some(key) = &database_key {
            PasetoSigner::from_paserk_secrets(&[key.expose_secret()], issuer, audience)?
        } else if config.token_keys.is_empty() {
            PasetoSigner::ephemeral(random.as_ref(), issuer, audience)?
        } else {
            let keys: Vec<&str> = config
                .token_keys
                .iter()
                .map(|k| k.expose_secret())
                .collect();
            PasetoSigner::from_paserk_secrets(&keys, issuer, audience).map_err(|e| {
                let example = config::Setting::named("ROSTER_TOKEN_KEY")
                    .map_or_else(String::new, |s| format!(" (e.g. {})", s.example));
                ConfigError {
                    variable: "ROSTER_TOKEN_KEY".into(),
                    message: format!("{e}{example}"),
                }
            })?
        };
        let sealer = TokenSealer::new(&derive_key(
            &signer.signing_key_bytes(),
            b"roster refresh-token grace copies v1",
        ));
        let hasher = Argon2Hasher::new(
            config.argon2,
            config.argon2_concurrency,
            adapter_argon2::DEFAULT_MAX_WAIT,
            Arc::clone(&random),
        )?;

        let policy = AuthPolicy {
            access_ttl: config.access_ttl,
            lifetimes: SessionLifetimes {
                absolute: config.refresh_ttl,
                idle: config.refresh_idle,
                reuse_grace: config.refresh_reuse_grace,
            },
            admin_emails: config.admin_emails.clone(),
            login_account: config.login_account_limit,
            ..AuthPolicy::default()
        };
        let redis = redis(config)?;
        let limiter = rate_limiter(redis.as_ref(), &clock);
        let caches = if config.cache {
            read_caches(redis.as_ref(), &backend)?
        } else {
            Caches::off()
        };
        let ports = AuthPorts {
            storage: Arc::clone(&storage),
            hasher: Arc::new(hasher),
            signer: Arc::new(signer),
            clock: Arc::clone(&clock),
            random: Arc::clone(&random),
            limiter: Arc::clone(&limiter),
        };
        let auth = Arc::new(AuthService::new(ports, sealer, policy));
        let registry = Arc::new(job_registry(config, &storage, &clock, &random, &caches)?);
        let schedule = if embedded {
            vec![
                (maintenance::SESSIONS_PURGE, MAINTENANCE_EVERY),
                (maintenance::JOBS_PRUNE, MAINTENANCE_EVERY),
            ]
        } else {
            Vec::new()
        };
        let scrape: Arc<dyn MetricsSource> = Arc::new(metrics::Scrape {
            handle: recorder,
            storage: Arc::clone(&storage),
            postgres: match &backend {
                Backend::Postgres(postgres) => Some(postgres.as_ref().clone()),
                Backend::Memory(_) => None,
            },
            kinds: registry.kinds(),
            shown: Default::default(),
        });
        let jobs = JobsWiring {
            backend,
            storage: Arc::clone(&storage),
            registry,
            clock: Arc::clone(&clock),
            random: Arc::clone(&random),
            config: WorkerConfig {
                concurrency: config.worker_concurrency,
                poll: config.worker_poll,
                schedule,
                ..WorkerConfig::default()
            },
        };
        let mut http = services(
            Arc::clone(&auth),
            storage,
            clock,
            random,
            limiter,
            caches,
            config.catalog_source.is_some(),
        );
        if config.metrics_bind.is_none() {
            http.metrics = Some(Arc::clone(&scrape));
        }
        Ok(Self {
            http,
            embedded_worker: config.worker_embedded,
            metrics_bind: config.metrics_bind,
            connections: fitted_connections(config),
            metrics: scrape,
            jobs,
            http_config: HttpConfig {
                public_url: config.public_url.clone(),
                body_limit: config.body_limit,
                cors_origins: config.cors_origins.clone(),
                rate_limits: config.rate_limits,
                trusted_proxies: config.trusted_proxies.clone(),
            },
            auth,
            embedded,
            ephemeral_key: config.token_keys.is_empty() && database_key.is_none(),
            database_key: database_key.is_some(),
        })
    }

    pub fn openapi_document(&self) -> String {
        adapter_http::openapi_document(&self.http, &self.http_config)
    }

    pub fn endpoint(&self) -> impl Endpoint + use<> {
        adapter_http::app(self.http.clone(), &self.http_config)
    }

    /// A worker over this app's storage, running every registered kind;
    /// its bell (for PostgreSQL, a `LISTEN` connection) is made now.
    pub fn worker(&self) -> Worker {
        let jobs = &self.jobs;
        Worker::new(
            Arc::clone(&jobs.storage),
            jobs.backend.job_signal(),
            Arc::clone(&jobs.registry),
            Arc::clone(&jobs.clock),
            Arc::clone(&jobs.random),
            jobs.config.clone(),
        )
    }

    /// The job kinds this app runs, by name.
    pub fn job_registry(&self) -> Arc<JobRegistry> {
        Arc::clone(&self.jobs.registry)
    }

    /// `GET /metrics` alone, for [`App::metrics_bind`].
    pub fn metrics_endpoint(&self) -> impl Endpoint + use<> {
        adapter_http::metrics_app(Arc::clone(&self.metrics), &self.http, &self.http_config)
    }

    /// Binds [`App::metrics_bind`], when it is set.
    pub async fn bind_metrics(&self) -> std::io::Result<Option<BoxAcceptor>> {
        match self.metrics_bind {
            Some(bind) => Ok(Some(TcpListener::bind(bind).into_acceptor().await?.boxed())),
            None => Ok(None),
        }
    }

    /// Serves `/metrics` alone on `acceptor` until `shutdown` completes.
    pub async fn serve_metrics(
        &self,
        acceptor: BoxAcceptor,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(self.metrics_endpoint(), shutdown, Some(SHUTDOWN_GRACE))
            .await
    }

    /// Serves on `acceptor` until `shutdown` completes, then lets in-flight
    /// requests finish (up to 30 s); `/metrics` too on `metrics` when given
    /// (see [`App::bind_metrics`]), stopped with it. With the embedded
    /// worker, jobs run beside it and stop with it (running ones finish
    /// within the worker's grace period, the rest go back to the queue).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        metrics: Option<BoxAcceptor>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let purge = tokio::spawn(purge_grace_copies(Arc::clone(&self.auth)));
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let metrics = metrics.map(|acceptor| {
            let mut stopping = stopping.clone();
            let endpoint = self.metrics_endpoint();
            tokio::spawn(
                Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                    endpoint,
                    async move {
                        let _ = stopping.wait_for(|stop| *stop).await;
                    },
                    Some(SHUTDOWN_GRACE),
                ),
            )
        });
        let worker = self.embedded_worker.then(|| {
            let mut stopping = stopping.clone();
            tokio::spawn(self.worker().run(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }))
        });
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let protocol_errors = Arc::new(adapter_http::ProtocolErrors {
            clock: Arc::clone(&self.http.clock),
            random: Arc::clone(&self.http.random),
            https: self.http_config.https(),
        });
        let result = adapter_http::server::serve(
            listener,
            self.endpoint(),
            protocol_errors,
            self.connections,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        // The server may also have stopped on an error: the shutdown future
        // is gone then, and with it the sender, which stops the rest.
        drop(stopping);
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        let metrics = match metrics {
            Some(server) => server.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        };
        purge.abort();
        result.and(metrics)
    }
}

/// Every use case the HTTP layer serves, built over one storage: the one
/// place where they are wired. `auth` is built apart because it needs the
/// configured signer, hasher and policy.
pub fn services(
    auth: Arc<AuthService>,
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    limiter: Arc<dyn RateLimiter>,
    caches: Caches,
    catalog_source: bool,
) -> HttpDeps {
    HttpDeps {
        auth,
        api_keys: Arc::new(ApiKeyService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
        )),
        roster: Arc::new(
            Roster::new(
                Arc::clone(&storage),
                Arc::clone(&clock),
                Arc::clone(&random),
            )
            .with_cache(caches.user),
        ),
        admin: Arc::new(AdminService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
        )),
        jobs: Arc::new(JobsService::new(
            Arc::clone(&storage),
            Arc::clone(&clock),
            Arc::clone(&random),
            catalog_source,
        )),
        audit: Arc::new(AuditLog::new(Arc::clone(&storage))),
        catalog: Arc::new(CatalogService::new(Arc::clone(&storage)).with_cache(caches.reference)),
        health: Arc::new(Health::new(storage, Arc::clone(&limiter))),
        clock,
        random,
        limiter,
        metrics: None,
    }
}

/// Descriptors kept for everything but client connections: the database
/// pool's, Redis', the listeners', log and metrics files, and some slack.
const DESCRIPTORS_KEPT: usize = 64;

/// `ROSTER_MAX_CONNECTIONS`, lowered (with a warning) when the process may
/// not open that many files beside the rest: a connection the server cannot
/// take is better refused by the cap than by the kernel, which would also
/// starve the database pool.
fn fitted_connections(config: &Config) -> adapter_http::server::ConnectionLimits {
    let Some(limit) = process::open_files_limit() else {
        return config.connections;
    };
    let budget = limit.saturating_sub(DESCRIPTORS_KEPT + config.database_pool);
    match config.connections.fitted_to(budget) {
        Some(fitted) => {
            tracing::warn!(
                open_files_limit = limit,
                configured = config.connections.max_connections,
                max_connections = fitted.max_connections,
                "ROSTER_MAX_CONNECTIONS lowered to fit the open-files limit (ulimit -n)"
            );
            fitted
        }
        None => config.connections,
    }
}

/// The Redis `REDIS_URL` names, if any; connected on first use.
fn redis(config: &Config) -> Result<Option<Redis>, ConfigError> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    Redis::new(&RedisConfig {
        url: url.expose_secret().to_owned(),
        prefix: config.redis_prefix.clone(),
    })
    .map(Some)
    .map_err(|e| ConfigError {
        variable: "REDIS_URL".into(),
        message: e.to_string(),
    })
}

/// The rate limiter: Redis, shared by every instance, with in-process
/// buckets while it does not answer; or in-process only.
fn rate_limiter(redis: Option<&Redis>, clock: &Arc<dyn Clock>) -> Arc<dyn RateLimiter> {
    let in_process: Arc<dyn RateLimiter> = Arc::new(InProcessRateLimiter::new(Arc::clone(clock)));
    match redis {
        Some(redis) => Arc::new(RedisRateLimiter::new(redis.clone(), in_process)),
        None => in_process,
    }
}

/// The caches of the two tiers (`API.md`, Caching).
#[derive(Clone, Debug)]
pub struct Caches {
    /// The catalog's answers.
    pub reference: ReadCache,
    /// Per-user reads.
    pub user: ReadCache,
}

impl Caches {
    /// Nothing cached: every read loads.
    pub fn off() -> Self {
        Self {
            reference: ReadCache::off(),
            user: ReadCache::off(),
        }
    }

    fn both(cache: Arc<dyn Cache>) -> Self {
        let cache = ReadCache::new(cache);
        Self {
            reference: cache.clone(),
            user: cache,
        }
    }
}

/// Where each tier is cached: with Redis, there, shared by every instance;
/// on memory storage, whose one process sees every write, in-process. On
/// PostgreSQL without Redis the reference tier lives in the database, read
/// through the cache's own small pool so the public catalog never waits
/// behind the storage pool; the user tier is off there, as `API.md` says.
fn read_caches(redis: Option<&Redis>, backend: &Backend) -> Result<Caches, ConfigError> {
    let lifetimes = CacheLifetimes::default();
    Ok(match (redis, backend) {
        (Some(redis), _) => Caches::both(Arc::new(RedisCache::new(redis.clone(), lifetimes))),
        (None, Backend::Memory(_)) => Caches::both(Arc::new(InProcessCache::default())),
        (None, Backend::Postgres(postgres)) => Caches {
            reference: ReadCache::new(Arc::new(postgres.cache(lifetimes).map_err(|e| {
                ConfigError {
                    variable: "DATABASE_URL".into(),
                    message: e.to_string(),
                }
            })?)),
            user: ReadCache::off(),
        },
    })
}

/// The storage backend `config` names, and whether it is the embedded one.
#[allow(missing_debug_implementations)]
pub struct StorageChoice {
    pub storage: Arc<dyn Storage>,
    pub embedded: bool,
    backend: Backend,
    /// The signing key the database keeps when `ROSTER_TOKEN_KEY` is unset
    /// (PostgreSQL only): shared by every instance on that database.
    token_key: Option<SecretString>,
}

/// The concrete backend, for what only it can make (the job queue's bell).
#[derive(Clone)]
enum Backend {
    Memory(MemoryStorage),
    Postgres(Box<PgStorage>),
}

impl Backend {
    fn job_signal(&self) -> Arc<dyn JobSignal> {
        match self {
            Backend::Memory(memory) => memory.job_signal(),
            Backend::Postgres(postgres) => postgres.job_signal(),
        }
    }
}

/// Every job kind this build runs: the one place handlers are registered.
fn job_registry(
    config: &Config,
    storage: &Arc<dyn Storage>,
    clock: &Arc<dyn Clock>,
    random: &Arc<dyn Random>,
    caches: &Caches,
) -> anyhow::Result<JobRegistry> {
    let mut registry = JobRegistry::default()
        .with(Arc::new(maintenance::SessionsPurge {
            storage: Arc::clone(storage),
            clock: Arc::clone(clock),
            reuse_grace: config.refresh_reuse_grace,
        }))
        .with(Arc::new(maintenance::JobsPrune {
            storage: Arc::clone(storage),
            clock: Arc::clone(clock),
        }));
    if let Some(url) = &config.catalog_source {
        let source = DofusDbSource::new(DofusDbConfig {
            language: config.catalog_lang,
            requests_per_second: config.catalog_rps,
            ..DofusDbConfig::new(url.clone())
        })
        .map_err(|e| ConfigError {
            variable: "ROSTER_CATALOG_SOURCE".into(),
            message: e.to_string(),
        })?;
        registry = registry.with(Arc::new(CatalogSync {
            storage: Arc::clone(storage),
            source: Arc::new(source),
            clock: Arc::clone(clock),
            random: Arc::clone(random),
            cache: caches.reference.clone(),
        }));
    }
    Ok(registry)
}

impl StorageChoice {
    /// In-process memory: lost when the process exits.
    pub fn memory() -> Self {
        let memory = MemoryStorage::new();
        Self {
            storage: Arc::new(memory.clone()),
            embedded: true,
            backend: Backend::Memory(memory),
            token_key: None,
        }
    }

    pub fn postgres(postgres: PgStorage) -> Self {
        Self {
            storage: Arc::new(postgres.clone()),
            embedded: false,
            backend: Backend::Postgres(Box::new(postgres)),
            token_key: None,
        }
    }

    /// The job queue's bell for this backend: in-process for memory, a
    /// `LISTEN` connection for PostgreSQL (made on first use, in the
    /// background).
    pub fn job_signal(&self) -> Arc<dyn JobSignal> {
        self.backend.job_signal()
    }
}

/// Opens the storage `config` names: PostgreSQL when `DATABASE_URL` is set
/// (with its migrations applied, or checked when `ROSTER_AUTO_MIGRATE` is
/// false), else memory; and loads the bundled catalog into it if it has none.
pub async fn open_storage(config: &Config) -> anyhow::Result<StorageChoice> {
    let choice = match &config.database_url {
        None => StorageChoice::memory(),
        Some(url) => {
            let postgres = connect_postgres(config, url.expose_secret())?;
            postgres.migrator().prepare(config.auto_migrate).await?;
            // Without a configured key, instances sharing the database share
            // the one it keeps, so each verifies the others' tokens.
            let token_key = if config.token_keys.is_empty() {
                let candidate = adapter_paseto::generate_paserk_secret(&OsRandom)?;
                Some(SecretString::from(
                    postgres.generated_token_key(&candidate).await?,
                ))
            } else {
                None
            };
            StorageChoice {
                token_key,
                ..StorageChoice::postgres(postgres)
            }
        }
    };
    // A new store starts with the catalog that ships with the server.
    application::catalog::load_if_empty(choice.storage.as_ref(), &BundledCatalog).await?;
    Ok(choice)
}

/// A pool for `url`, sized by `ROSTER_DATABASE_POOL`; no connection is made yet.
pub fn connect_postgres(config: &Config, url: &str) -> Result<PgStorage, ConfigError> {
    PgStorage::connect(url, config.database_pool).map_err(|e| ConfigError {
        variable: "DATABASE_URL".into(),
        message: e.to_string(),
    })
}

/// A server started on a free local port, for black-box tests.
#[derive(Debug)]
pub struct RunningServer {
    pub base_url: String,
    /// `http://127.0.0.1:<port>` of `/metrics` when the app serves it on an
    /// address of its own (`ROSTER_METRICS_BIND`; port 0 picks a free one).
    pub metrics_url: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Binds 127.0.0.1 on a port the OS picks and serves `app` there.
    pub async fn start(app: App) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let metrics = app.bind_metrics().await?;
        let metrics_url = match &metrics {
            Some(acceptor) => Some(format!("http://{}", local_socket(acceptor)?)),
            None => None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(app.serve(listener, metrics, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}"),
            metrics_url,
            stop: Some(stop),
            task,
        })
    }

    /// Starts a graceful shutdown and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address `acceptor` listens on.
pub fn local_socket(acceptor: &impl Acceptor) -> std::io::Result<std::net::SocketAddr> {
    acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("no local address"))
}

async fn purge_grace_copies(auth: Arc<AuthService>) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        every.tick().await;
        match auth.purge_expired_grace_copies().await {
            Ok(0) => {}
            Ok(erased) => tracing::debug!(erased, "erased expired refresh-token grace copies"),
            Err(error) => tracing::warn!(%error, "could not erase expired grace copies"),
        }
    }
}

/// A 32-byte key for one purpose, derived from the signing key with
/// HKDF-SHA256, so one configured secret serves several purposes safely.
fn derive_key(secret: &SecretBox<[u8; 32]>, purpose: &[u8]) -> SecretBox<[u8; 32]> {
    let mut key = Box::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(None, secret.expose_secret()).expand(purpose, key.as_mut());
    SecretBox::new(key)
}
