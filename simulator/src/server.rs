//! Startup and shutdown of the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
use super::errors::SimulatorError;
use super::exchanges::ExchangeLog;
use super::faults::Faults;
use super::routes;
use super::shared::{Ctx, Shared};
use super::state::State;

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
