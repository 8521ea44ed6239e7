//! Observability: Prometheus metrics, health and readiness endpoints, logs.
//!
//! The HTTP server ([`server::serve`]) answers `/metrics` (OpenMetrics
//! text), `/healthz` (the process is alive) and `/readyz` (see [`health`]
//! for what ready means with and without leader election).

pub mod health;
pub mod logging;
mod metrics;
mod objects;
pub mod server;

use std::sync::Arc;

pub use health::{Health, Phase};
pub use metrics::Metrics;

/// `kind` label of `MeetingRoom` metrics.
pub const KIND_ROOM: &str = "MeetingRoom";
/// `kind` label of `MeetingTheme` metrics.
pub const KIND_THEME: &str = "MeetingTheme";

/// Metrics and health, shared by the controllers, the elector and the HTTP server.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The replica's phase, behind `/readyz`.
    pub health: Arc<Health>,
}
