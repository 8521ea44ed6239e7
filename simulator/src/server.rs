//! Shared server context, startup and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use jiff::Timestamp;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::auth::KeyRing;
use super::callbacks::{Callbacks, run_dispatcher};
use super::clock::SimClock;
use super::config::{DefaultApplication, SimulatorConfig};
use super::conn::{ConnMeta, ConnectionRegistry, KillableListener};
use super::counters::Counters;
use super::errors::{ApiError, SimulatorError};
use super::exchanges::ExchangeLog;
use super::faults::Faults;
use super::routes;
use super::state::State;

/// Everything handlers and the test API share.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    pub(crate) keys: KeyRing,
    pub(crate) clock: SimClock,
    pub(crate) faults: Faults,
    pub(crate) counters: Arc<Counters>,
    pub(crate) exchanges: ExchangeLog,
    pub(crate) callbacks: Arc<Callbacks>,
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) connections: Arc<ConnectionRegistry>,
    /// Private keys the simulator knows (generated or supplied), for minting tokens.
    pub(crate) private_keys: Mutex<HashMap<String, String>>,
    pub(crate) default_application: Mutex<Option<String>>,
}

/// Handle type used as axum state.
pub type Ctx = Arc<Shared>;

impl Shared {
    /// The state, tolerating a poisoned lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the state after applying elapsed time, then dispatches the resulting events.
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State, Timestamp) -> T) -> T {
        let now = self.clock.now();
        let (out, events, duplicate, shuffle) = {
            let mut state = self.lock();
            state.sweep(now);
            let out = f(&mut state, now);
            let events = state.take_events();
            (
                out,
                events,
                state.behavior.duplicate_callbacks,
                state.behavior.shuffle_callbacks,
            )
        };
        self.callbacks.enqueue(events, duplicate, shuffle);
        out
    }

    /// Verifies the request's bearer token; returns the application id.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let header = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| ApiError::Unauthorized)?),
        };
        let (max_lifetime, sim_time) = {
            let state = self.lock();
            (
                state.behavior.max_token_lifetime_secs,
                state.behavior.jwt_uses_sim_clock,
            )
        };
        let now = if sim_time {
            self.clock.now()
        } else {
            Timestamp::now()
        };
        self.keys.authenticate(header, now, max_lifetime)
    }

    /// `host[:port]` the client addressed (for links), else the bound address.
    pub(crate) fn host(&self, headers: &HeaderMap) -> String {
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
            .map(str::to_string)
            .unwrap_or_else(|| self.addr.to_string())
    }

    /// Resolves once shutdown has been requested.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        // An error means the sender is gone, which also means shutdown.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Requests shutdown and cuts every connection.
    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
        self.connections.kill_all();
    }
}

/// Binds, registers the default application and starts serving.
pub(crate) async fn start(
    config: SimulatorConfig,
) -> Result<(Ctx, Vec<JoinHandle<()>>), SimulatorError> {
    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimulatorError::Bind {
                addr: config.listen,
                source,
            })?;
    let addr = listener.local_addr()?;
    let mut secret = vec![0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let mut state = State::new(config.behavior.clone(), secret);
    state.set_public_base(format!("http://{addr}"));
    let counters = Arc::new(Counters::default());
    let (callbacks, rx) = Callbacks::new(counters.clone());
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        keys: KeyRing::default(),
        clock: SimClock::new(config.start_time, config.freeze_clock),
        faults: Faults::default(),
        counters,
        exchanges: ExchangeLog::new(config.exchange_log_capacity, config.exchange_log_max_bytes),
        callbacks: callbacks.clone(),
        addr,
        shutdown,
        connections: Arc::new(ConnectionRegistry::default()),
        private_keys: Mutex::new(HashMap::new()),
        default_application: Mutex::new(None),
    });
    shared.faults.set_latency(config.latency);
    shared.faults.set_rate_limit(config.rate_limit);
    shared.faults.set_error_rate(config.error_rate);
    register_default_application(&shared, &config.default_application).await?;

    let client = reqwest::Client::builder()
        .timeout(config.callback_timeout)
        .user_agent("meetings-simulator")
        .build()
        .map_err(|e| SimulatorError::Config(format!("callback client: {e}")))?;
    let mut tasks = vec![tokio::spawn(run_dispatcher(callbacks, rx, client))];
    tasks.push(tokio::spawn(sweeper(shared.clone(), config.sweep_interval)));

    let app = routes::router(shared.clone());
    let serve_shared = shared.clone();
    let listener = KillableListener::new(listener, shared.connections.clone());
    tasks.push(tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<ConnMeta>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(async move { serve_shared.stopped().await })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "simulator server stopped with an error");
        }
    }));
    Ok((shared, tasks))
}

async fn register_default_application(
    shared: &Ctx,
    default: &DefaultApplication,
) -> Result<(), SimulatorError> {
    let credentials = match default {
        DefaultApplication::None => return Ok(()),
        DefaultApplication::Generate => shared.add_generated_application(None).await?,
        DefaultApplication::PrivateKey {
            application_id,
            private_key_pem,
        } => shared.add_application_with_private_key(application_id.clone(), private_key_pem)?,
    };
    *shared
        .default_application
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(credentials.application_id);
    Ok(())
}

/// Applies the passage of real time even when nobody calls.
async fn sweeper(shared: Ctx, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => shared.with_state(|_, _| ()),
            _ = shared.stopped() => return,
        }
    }
}
