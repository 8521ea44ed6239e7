//! Simulator configuration: startup settings and runtime-adjustable behaviour switches.

use std::net::SocketAddr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::faults::{Latency, RateLimit};

/// Shape of `_embedded` in paginated room listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddedShape {
    /// As the spec says: `{"_embedded":{"rooms":[...]}}`.
    #[default]
    Spec,
    /// As the live service answered: `{"_embedded":[...]}`.
    LiveFlatArray,
}

/// Spelling of participant callback events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantEventSpelling {
    /// `session:participant:joined` / `session:participant:left` (spec).
    #[default]
    Session,
    /// `participant:joined` / `participant:left`.
    Short,
}

/// Name of the event sent when a recording can be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingReadyEvent {
    /// `recording:ready` (spec).
    #[default]
    Ready,
    /// `recording:uploaded` (later name).
    Uploaded,
}

/// Behaviour switches; all may be changed while the simulator runs.
/// Defaults follow the spec; the `live_*`-style switches reproduce the retired service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Behavior {
    /// Shape of `_embedded` in room listings.
    pub embedded_shape: EmbeddedShape,
    /// Echo `page_size` as a string rather than a number.
    pub page_size_as_string: bool,
    /// Page size when the request gives none.
    pub page_size_default: u32,
    /// Largest accepted page size.
    pub page_size_max: u32,
    /// Keep reporting `is_available: true` after a room expired (live behaviour).
    pub expired_rooms_report_available: bool,
    /// Answer `GET /themes` with `{}` when there are none (live behaviour).
    pub empty_themes_as_object: bool,
    /// Render unset optional fields (logos, short URL, metadata) as `null` (live) instead of omitting them.
    pub null_unset_fields: bool,
    /// Maximum themes per application (403 beyond).
    pub theme_limit: Option<usize>,
    /// Maximum available rooms per application (403 beyond).
    pub room_limit: Option<usize>,
    /// Spelling of participant events.
    pub participant_events: ParticipantEventSpelling,
    /// Name of the recording-downloadable event.
    pub recording_ready_event: RecordingReadyEvent,
    /// Deliver every callback twice.
    pub duplicate_callbacks: bool,
    /// Deliver queued callbacks in random order.
    pub shuffle_callbacks: bool,
    /// Simulated seconds between a recording stopping and it being uploaded.
    pub recording_upload_delay_secs: u64,
    /// Probability that a new meeting code has 10 digits instead of 9.
    pub ten_digit_meeting_code_probability: f64,
    /// Longest token lifetime honoured (`exp - iat`), in seconds.
    pub max_token_lifetime_secs: u64,
    /// Judge token expiry by the simulated clock instead of real time.
    pub jwt_uses_sim_clock: bool,
    /// Simulated seconds an uploaded, unfinalised logo stays in storage.
    pub temp_logo_ttl_secs: u64,
    /// Simulated seconds a presigned upload form stays valid.
    pub presign_ttl_secs: u64,
    /// Largest object the storage endpoint accepts, in bytes.
    pub storage_max_object_bytes: usize,
    /// Minimum lifetime of a long-term room at creation/update, in seconds.
    pub long_term_min_lifetime_secs: u64,
    /// Maximum lifetime of a long-term room at creation/update, in seconds.
    pub long_term_max_lifetime_secs: u64,
    /// Lifetime of an instant room, in seconds.
    pub instant_lifetime_secs: u64,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            embedded_shape: EmbeddedShape::Spec,
            page_size_as_string: false,
            page_size_default: 20,
            page_size_max: 1000,
            expired_rooms_report_available: false,
            empty_themes_as_object: false,
            null_unset_fields: false,
            theme_limit: None,
            room_limit: None,
            participant_events: ParticipantEventSpelling::Session,
            recording_ready_event: RecordingReadyEvent::Ready,
            duplicate_callbacks: false,
            shuffle_callbacks: false,
            recording_upload_delay_secs: 30,
            ten_digit_meeting_code_probability: 0.05,
            max_token_lifetime_secs: 24 * 3600,
            jwt_uses_sim_clock: false,
            temp_logo_ttl_secs: 24 * 3600,
            presign_ttl_secs: 3600,
            storage_max_object_bytes: 5 * 1024 * 1024,
            long_term_min_lifetime_secs: 10 * 60,
            long_term_max_lifetime_secs: 366 * 24 * 3600,
            instant_lifetime_secs: 10 * 60,
        }
    }
}

impl Behavior {
    /// Every switch set the way the retired live service behaved.
    pub fn live() -> Self {
        Self {
            embedded_shape: EmbeddedShape::LiveFlatArray,
            expired_rooms_report_available: true,
            empty_themes_as_object: true,
            null_unset_fields: true,
            ..Self::default()
        }
    }
}

/// The application created at startup.
#[derive(Debug, Clone, Default)]
pub enum DefaultApplication {
    /// Generate an id and a fresh key pair.
    #[default]
    Generate,
    /// Use this private key (PKCS#8 or PKCS#1 PEM); generate the id when absent.
    PrivateKey {
        /// Application id to register, or a fresh UUID.
        application_id: Option<String>,
        /// The private key PEM.
        private_key_pem: String,
    },
    /// Start without any application.
    None,
}

/// Startup configuration.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Initial behaviour switches.
    pub behavior: Behavior,
    /// The application registered at startup.
    pub default_application: DefaultApplication,
    /// Simulated start time (default: now).
    pub start_time: Option<Timestamp>,
    /// Start with a frozen clock that moves only when advanced.
    pub freeze_clock: bool,
    /// Real-time interval of the background expiry sweep.
    pub sweep_interval: Duration,
    /// Latency added to every API request.
    pub latency: Option<Latency>,
    /// Server-wide request rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Probability of a random 5xx on any API request.
    pub error_rate: f64,
    /// How many exchanges the log keeps.
    pub exchange_log_capacity: usize,
    /// Budget for the serialized request and response bodies the log keeps (memory use is
    /// a small multiple of it).
    pub exchange_log_max_bytes: usize,
    /// Timeout for each callback delivery.
    pub callback_timeout: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            behavior: Behavior::default(),
            default_application: DefaultApplication::Generate,
            start_time: None,
            freeze_clock: false,
            sweep_interval: Duration::from_secs(1),
            latency: None,
            rate_limit: None,
            error_rate: 0.0,
            exchange_log_capacity: 50_000,
            exchange_log_max_bytes: 64 * 1024 * 1024,
            callback_timeout: Duration::from_secs(5),
        }
    }
}
