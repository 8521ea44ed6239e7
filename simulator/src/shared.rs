//! The state every handler and the control API share.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::{HeaderMap, header};
use jiff::Timestamp;
use tokio::sync::watch;

use super::auth::KeyRing;
use super::callbacks::Callbacks;
use super::clock::SimClock;
use super::conn::ConnectionRegistry;
use super::counters::Counters;
use super::errors::ApiError;
use super::exchanges::ExchangeLog;
use super::faults::Faults;
use super::state::State;

/// Everything handlers and the test API share.
#[derive(Debug)]
pub struct Shared {
    pub(crate) state: Mutex<State>,
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
