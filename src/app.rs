//! Application state, routes and `start` — the seam tests use to run a real server.

use crate::config::Config;
use crate::engine::{Engine, EngineSettings};
use crate::providers::Registry;
use crate::service::{accounts::Accounts, catalog::Catalog, sessions::Sessions, tasks::Tasks};
use crate::storage::Storage;
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub storage: Storage,
    pub catalog: Arc<Catalog>,
    pub registry: Arc<Registry>,
    pub engine: Arc<Engine>,
    pub accounts: Accounts,
    pub tasks: Arc<Tasks>,
    pub sessions: Arc<Sessions>,
    pub janitor: Arc<crate::storage::janitor::Janitor>,
    /// Sign-up, invites, email links (issue 13).
    pub signup: Arc<crate::service::signup::Signup>,
    /// Redemption codes.
    pub codes: Arc<crate::service::codes::Codes>,
    /// Online top-ups.
    pub payments: Arc<crate::service::payments::Payments>,
    pub limits: Arc<crate::service::limits::LimitsService>,
}

impl AppState {
    /// Open the data dir and database, load the catalog, create the first admin.
    /// Returns the state and the admin password when one was generated.
    pub async fn open(config: Config) -> anyhow::Result<(AppState, Option<String>)> {
        crate::storage::private_dir(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data dir {}: {e}", config.data_dir.display())
        })?;
        let store = Store::open(&config.db_path())?;
        let storage = Storage::open(
            &config.data_dir,
            store.clone(),
            crate::storage::MediaSettings {
                retention: config.retention.clone(),
                quotas: config.quotas.clone(),
                low_free_bytes: config.min_free_bytes,
                critical_free_bytes: config.critical_free_bytes,
                probe: config.free_space_probe.clone(),
                s3: config.storage_backend.active_s3().cloned(),
            },
            config.clock.clone(),
        )?;
        let janitor = crate::storage::janitor::Janitor::new(storage.clone(), store.clone());
        let registry = Arc::new(
            Registry::new(Duration::from_millis(config.demo_delay_ms)).with_local_assets(
                crate::providers::http::LocalAssets {
                    public_url: config.public_url.clone(),
                    root: config.data_dir.clone(),
                    storage: Some(storage.clone()),
                },
            ),
        );
        let catalog = Arc::new(Catalog::load(store.clone(), registry.clone(), &config).await?);
        let engine = Engine::new(
            store.clone(),
            storage.clone(),
            catalog.clone(),
            registry.clone(),
            EngineSettings {
                poll_interval_override: config.poll_interval_ms.map(Duration::from_millis),
                max_result_bytes: config.max_result_bytes,
            },
            config.clock.clone(),
            callback_signer(&config)?,
        );
        let accounts = Accounts::new(store.clone()).with_clock(config.clock.clone());
        let limits = Arc::new(crate::service::limits::LimitsService::new(
            store.clone(),
            config.clock.clone(),
            &config.limits_time_zone,
        )?);
        let generated = accounts
            .bootstrap_admin(config.admin_password.clone())
            .await?;
        let tasks = Arc::new(Tasks {
            store: store.clone(),
            catalog: catalog.clone(),
            registry: registry.clone(),
            queue: engine.clone(),
            clock: config.clock.clone(),
            deadline: Duration::from_secs(config.task_deadline_secs),
            allow_private_callbacks: config.allow_private_callbacks,
            limits: limits.clone(),
        });
        let sessions = Arc::new(Sessions::new(store.clone()));
        let (signup, codes, payments) = money_services(&store, &config)?;
        let state = AppState {
            config: Arc::new(config),
            store,
            storage,
            catalog,
            registry,
            engine,
            accounts,
            tasks,
            sessions,
            janitor,
            signup,
            codes,
            payments,
            limits,
        };
        Ok((state, generated))
    }
}

/// Upstream completion callbacks need an address upstreams can reach: a public
/// `public_url`, or any when private callbacks are allowed (a private network, tests).
fn callback_signer(config: &Config) -> anyhow::Result<Option<crate::engine::callbacks::Signer>> {
    let reachable = config.allow_private_callbacks
        || crate::domain::network::url_host(&config.public_url)
            .is_some_and(|h| !crate::domain::network::is_internal_host(h));
    if !reachable {
        return Ok(None);
    }
    let signer = crate::engine::callbacks::Signer::load(&config.data_dir, &config.public_url)
        .map_err(|e| anyhow::anyhow!("cannot read or create the callback key: {e}"))?;
    Ok(Some(signer))
}

type MoneyServices = (
    Arc<crate::service::signup::Signup>,
    Arc<crate::service::codes::Codes>,
    Arc<crate::service::payments::Payments>,
);

/// Sign-up, codes and payments, from the config (`[smtp]`, `[payments.stripe]`).
fn money_services(store: &Store, config: &Config) -> anyhow::Result<MoneyServices> {
    use crate::service::payments::{Payments, Processor, stripe::Stripe};
    let signup = crate::service::signup::Signup::new(store.clone(), config)?;
    let codes = crate::service::codes::Codes::new(store.clone(), config.clock.clone());
    let processor: Option<Arc<dyn Processor>> = match &config.stripe {
        Some(c) => Some(Arc::new(Stripe::new(c)?)),
        None => None,
    };
    let payments = Payments::new(
        store.clone(),
        config.clock.clone(),
        processor,
        config.public_url.clone(),
    );
    Ok((Arc::new(signup), Arc::new(codes), Arc::new(payments)))
}

/// A running server: its state, address, and how to stop it.
pub struct Running {
    pub state: AppState,
    pub addr: SocketAddr,
    pub admin_password: Option<String>,
    stop_http: Option<tokio::sync::oneshot::Sender<()>>,
    stop_engine: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    engine: tokio::task::JoinHandle<()>,
    webhooks: tokio::task::JoinHandle<()>,
    session_purge: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
    control: tokio::task::JoinHandle<()>,
}

/// Serve on `listener` with the engine running; the test seam and what `serve` uses.
pub async fn start(config: Config, listener: std::net::TcpListener) -> anyhow::Result<Running> {
    let (state, admin_password) = AppState::open(config).await?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let resumed = state.engine.resume().await?;
    if resumed > 0 {
        tracing::info!(tasks = resumed, "resuming unfinished tasks");
    }
    let (stop_engine, engine_rx) = watch::channel(false);
    let engine = tokio::spawn(state.engine.clone().run(engine_rx.clone()));
    // Expired console sessions go on a timer, never inside a login.
    let session_purge = tokio::spawn(state.sessions.clone().run_purge(engine_rx.clone()));
    // Expired media goes in bounded passes on its own timer.
    let janitor = if state.config.janitor_timer {
        tokio::spawn(state.janitor.clone().run(engine_rx.clone()))
    } else {
        tokio::spawn(async {})
    };
    // `videoapi backup` reaches the running server (which holds the database) here.
    let control = tokio::spawn(crate::control::serve(state.clone(), engine_rx.clone()));
    let public_url = state.config.public_url.clone();
    let storage = state.storage.clone();
    let webhooks = Arc::new(crate::engine::webhooks::Webhooks::new(
        state.store.clone(),
        Arc::new(move |t| {
            use poem_openapi::types::ToJSON;
            crate::http::views::TaskView::from_task(t, &public_url)
                .expiring(storage.video_expiry(t))
                .to_json_string()
        }),
        state.config.allow_private_callbacks,
        state
            .config
            .poll_interval_ms
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(5)),
    ));
    let webhooks = tokio::spawn(webhooks.run(engine_rx));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let acceptor =
        crate::http::conn::GuardedAcceptor::from_std(listener, connection_limits(&state.config))?;
    let app = crate::http::routes(state.clone());
    let server = tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stop_rx.await;
                },
                Some(Duration::from_secs(30)),
            )
            .await
    });
    Ok(Running {
        state,
        addr,
        admin_password,
        stop_http: Some(stop_tx),
        stop_engine,
        server,
        engine,
        webhooks,
        session_purge,
        janitor,
        control,
    })
}

/// The connection limits from the config; an unset cap is sized from the fd limit.
fn connection_limits(config: &Config) -> crate::http::conn::Limits {
    use crate::http::conn;
    let max_connections = if config.max_connections == 0 {
        conn::raise_fd_limit();
        conn::default_max_connections()
    } else {
        config.max_connections
    };
    conn::Limits {
        header_read: Duration::from_secs(config.header_read_timeout_secs),
        body_idle: Duration::from_secs(config.body_read_timeout_secs),
        keep_alive: Duration::from_secs(config.keep_alive_timeout_secs),
        max_connections,
    }
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful stop: finish in-flight requests, let the engine record its last steps,
    /// then close the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop_http.take() {
            let _ = tx.send(());
        }
        let served = self.server.await;
        let _ = self.stop_engine.send(true);
        let _ = self.engine.await;
        let _ = self.webhooks.await;
        let _ = self.session_purge.await;
        let _ = self.janitor.await;
        let _ = self.control.await;
        self.state.store.close();
        served??;
        Ok(())
    }

    /// Stop without any of the graceful steps, as close to `kill -9` as a test can get
    /// in-process: tasks stay wherever they were.
    pub async fn abort(self) {
        self.server.abort();
        self.engine.abort();
        self.webhooks.abort();
        self.session_purge.abort();
        self.janitor.abort();
        self.control.abort();
        let _ = self.janitor.await;
        let _ = self.control.await;
        let _ = self.server.await;
        let _ = self.engine.await;
        let _ = self.webhooks.await;
        let _ = self.session_purge.await;
        self.state.store.close();
    }
}
