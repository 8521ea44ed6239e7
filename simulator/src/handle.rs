//! The public test API: build, start, control, inspect and stop a simulator.

use std::net::SocketAddr;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::callbacks::CallbackRecord;
use super::config::{Behavior, SimulatorConfig};
use super::control::{AppCredentials, DEFAULT_TOKEN_TTL_SECS};
use super::counters::CountersSnapshot;
use super::errors::{ControlError, SimulatorError};
use super::exchanges::Exchange;
use super::faults::Faults;
use super::server::start;
use super::shared::Ctx;
use super::state::values::CallbackUrls;
use super::state::{Application, Participant, Recording, Room, Session, StoredObject, Theme};

/// Builds a simulator.
#[derive(Debug, Default)]
pub struct Simulator {
    config: SimulatorConfig,
}

impl Simulator {
    /// A builder with the default configuration (spec behaviour, `127.0.0.1:0`).
    pub fn builder() -> Self {
        Self::default()
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: SimulatorConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces only the behaviour switches.
    pub fn with_behavior(mut self, behavior: Behavior) -> Self {
        self.config.behavior = behavior;
        self
    }

    /// Binds and starts serving.
    pub async fn start(self) -> Result<RunningSimulator, SimulatorError> {
        let (shared, tasks) = start(self.config).await?;
        Ok(RunningSimulator { shared, tasks })
    }
}

/// A running simulator; dropping it stops the server and cuts its connections.
#[derive(Debug)]
pub struct RunningSimulator {
    shared: Ctx,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSimulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/v1/meetings`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1/meetings", self.shared.addr)
    }

    /// The control base URL, `http://127.0.0.1:PORT/_sim`.
    pub fn control_url(&self) -> String {
        format!("http://{}/_sim", self.shared.addr)
    }

    // --- applications and credentials ---

    /// The application registered at startup, if its key is known.
    pub fn default_application(&self) -> Option<AppCredentials> {
        self.shared
            .default_app_id()
            .and_then(|id| self.shared.credentials(&id))
    }

    /// Registers a new application with a generated key pair.
    pub async fn add_application(&self) -> Result<AppCredentials, ControlError> {
        self.shared.add_generated_application(None).await
    }

    /// Registers an application with a supplied private key (PKCS#8 or PKCS#1 PEM).
    pub fn add_application_with_key(
        &self,
        application_id: Option<String>,
        private_key_pem: &str,
    ) -> Result<AppCredentials, ControlError> {
        self.shared
            .add_application_with_private_key(application_id, private_key_pem)
    }

    /// Registers an application known only by its SPKI public key; returns its id.
    pub fn add_application_with_public_key(
        &self,
        application_id: Option<String>,
        public_key_pem: &str,
    ) -> Result<String, ControlError> {
        self.shared
            .add_application_with_public_key(application_id, public_key_pem)
    }

    /// Issues a new key pair for `application_id`; the old keys stop verifying.
    pub async fn rotate_key(&self, application_id: &str) -> Result<AppCredentials, ControlError> {
        self.shared.rotate_key(application_id, false).await
    }

    /// Issues an additional key pair; old keys keep verifying (overlap during rotation).
    pub async fn add_key(&self, application_id: &str) -> Result<AppCredentials, ControlError> {
        self.shared.rotate_key(application_id, true).await
    }

    /// Replaces the application's keys with `public_key_pem`.
    pub fn set_public_key(
        &self,
        application_id: &str,
        public_key_pem: &str,
    ) -> Result<(), ControlError> {
        self.shared.set_public_key(application_id, public_key_pem)
    }

    /// Revokes every key of the application; its requests get 401.
    pub fn revoke_keys(&self, application_id: &str) -> Result<(), ControlError> {
        self.shared.revoke_keys(application_id)
    }

    /// Mints a valid 15-minute token for an application whose private key is known.
    pub fn token(&self, application_id: &str) -> Result<String, ControlError> {
        self.shared
            .mint_token(Some(application_id), DEFAULT_TOKEN_TTL_SECS)
    }

    /// Sets the application-level callback URLs (fallback for rooms without their own).
    pub fn set_application_callbacks(
        &self,
        application_id: &str,
        urls: CallbackUrls,
    ) -> Result<(), ControlError> {
        self.shared
            .with_state(|state, _| state.set_application_callbacks(application_id, urls))
    }

    // --- clock ---

    /// Current simulated time.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Moves the clock forward (or back) and applies expiries immediately.
    pub fn advance_clock(&self, by: SignedDuration) -> Timestamp {
        self.shared.advance_clock(by)
    }

    /// Sets the clock and applies expiries immediately.
    pub fn set_clock(&self, to: Timestamp) -> Timestamp {
        self.shared.set_clock(to)
    }

    /// Freezes (`true`) or resumes (`false`) the passing of real time.
    pub fn freeze_clock(&self, frozen: bool) {
        self.shared.clock.freeze(frozen);
    }

    // --- behaviour, faults, observation ---

    /// Current behaviour switches.
    pub fn behavior(&self) -> Behavior {
        self.shared.lock().behavior.clone()
    }

    /// Changes behaviour switches at runtime.
    pub fn update_behavior(&self, change: impl FnOnce(&mut Behavior)) {
        change(&mut self.shared.lock().behavior);
    }

    /// Fault injection controls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Request and callback counters.
    pub fn counters(&self) -> CountersSnapshot {
        self.shared.counters.snapshot()
    }

    /// Zeroes the counters.
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }

    /// The retained request/response log.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.exchanges.all()
    }

    /// Empties the request/response log.
    pub fn clear_exchanges(&self) {
        self.shared.exchanges.clear();
    }

    /// Callback delivery records.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.shared.callbacks.log()
    }

    /// Waits until every queued callback has been attempted; false on timeout.
    pub async fn flush_callbacks(&self, timeout: Duration) -> bool {
        self.shared.callbacks.flush(timeout).await
    }

    // --- state ---

    /// Every registered application id.
    pub fn application_ids(&self) -> Vec<String> {
        self.shared.with_state(|state, _| state.application_ids())
    }

    /// One application's state.
    pub fn application(&self, application_id: &str) -> Option<Application> {
        self.shared
            .with_state(|state, _| state.application(application_id).cloned())
    }

    /// The application's rooms, in creation order.
    pub fn rooms(&self, application_id: &str) -> Vec<Room> {
        self.shared
            .with_state(|state, _| state.rooms_of(application_id))
    }

    /// Removes a room at once, expired or not, as if the service had purged it (no
    /// callback); it then answers 404 and leaves every listing.
    pub fn remove_room(&self, application_id: &str, room_id: &str) -> Result<Room, ControlError> {
        self.shared
            .with_state(|state, _| state.remove_room(application_id, room_id))
    }

    /// The application's themes, in creation order.
    pub fn themes(&self, application_id: &str) -> Vec<Theme> {
        self.shared
            .with_state(|state, _| state.themes_of(application_id))
    }

    /// The application's sessions.
    pub fn sessions(&self, application_id: &str) -> Vec<Session> {
        self.shared
            .with_state(|state, _| state.sessions_of(application_id))
    }

    /// The application's recordings.
    pub fn recordings(&self, application_id: &str) -> Vec<Recording> {
        self.shared
            .with_state(|state, _| state.recordings_of(application_id))
    }

    /// A storage object by key.
    pub fn storage_object(&self, key: &str) -> Option<StoredObject> {
        self.shared
            .with_state(|state, now| state.object(key, now).cloned())
    }

    // --- meetings ---

    /// Starts a session in a room (emits `session:started`).
    pub fn start_session(&self, room_id: Uuid) -> Result<Session, ControlError> {
        self.shared
            .with_state(|state, now| state.start_session(room_id, now))
    }

    /// A participant joins (emits the participant-joined event).
    pub fn join_session(
        &self,
        session_id: &str,
        name: &str,
        is_host: bool,
    ) -> Result<Participant, ControlError> {
        self.shared
            .with_state(|state, now| state.join_session(session_id, name, is_host, now))
    }

    /// A participant leaves.
    pub fn leave_session(
        &self,
        session_id: &str,
        participant_id: Uuid,
    ) -> Result<Participant, ControlError> {
        self.shared
            .with_state(|state, now| state.leave_session(session_id, participant_id, now))
    }

    /// Ends a session (stops recordings, closes use-once rooms).
    pub fn end_session(&self, session_id: &str) -> Result<Session, ControlError> {
        self.shared
            .with_state(|state, now| state.end_session(session_id, now))
    }

    /// Starts recording a session.
    pub fn start_recording(&self, session_id: &str) -> Result<Recording, ControlError> {
        self.shared
            .with_state(|state, now| state.start_recording(session_id, now))
    }

    /// Stops a recording; it uploads after the configured delay.
    pub fn stop_recording(&self, recording_id: Uuid) -> Result<Recording, ControlError> {
        self.shared
            .with_state(|state, now| state.stop_recording(recording_id, now))
    }

    /// Uploads a stopped recording now (emits the ready/uploaded event).
    pub fn upload_recording(&self, recording_id: Uuid) -> Result<Recording, ControlError> {
        self.shared
            .with_state(|state, now| state.upload_recording(recording_id, now))
    }

    /// Stops serving and waits briefly for the server task to end.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        let tasks = std::mem::take(&mut self.tasks);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.shared.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}
