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
/// Defaults follow the spec; [`Behavior::live`] switches on every quirk recorded of the
/// retired service.
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
    /// Lifetime of an instant room, in seconds: after creation, after the last participant
    /// leaves, and (sliding) while participants are present.
    pub instant_lifetime_secs: u64,
    /// Send the `duration` of recording callbacks as a string (live) instead of a number.
    pub duration_as_string: bool,
    /// Answer `DELETE /recordings/{id}` for a recording not uploaded yet with 404
    /// `Could not find recording` (live) instead of the spec's 403.
    pub pending_recording_delete_not_found: bool,
    /// Point the `_links` of `GET /themes/{id}/rooms` at `/meetings/rooms` (live) instead of
    /// at the theme's rooms path.
    pub theme_room_links_use_rooms_path: bool,
    /// Remove a room once it has been expired for this many simulated seconds: it answers
    /// 404 and leaves every listing. `None` keeps expired rooms listed forever.
    pub purge_expired_after_secs: Option<u64>,
    /// While participants keep an instant room alive, report its `expires_at` moving to
    /// `now + instant_lifetime_secs` (`true`), or keep reporting its first expiry until the
    /// last participant leaves (`false`). The service's answer is not recorded.
    pub instant_expiry_moves_during_use: bool,
    /// Report the application's default theme as the `theme_id` of rooms that have no
    /// explicit theme, and list them under that theme's rooms.
    pub rooms_report_default_theme: bool,
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
            duration_as_string: false,
            pending_recording_delete_not_found: false,
            theme_room_links_use_rooms_path: false,
            purge_expired_after_secs: None,
            instant_expiry_moves_during_use: true,
            rooms_report_default_theme: false,
        }
    }
}

impl Behavior {
    /// Every switch set the way the retired live service behaved. Behaviour the notes do
    /// not record (purging expired rooms, reporting the default theme) stays as in the spec.
    pub fn live() -> Self {
        Self {
            embedded_shape: EmbeddedShape::LiveFlatArray,
            page_size_as_string: true,
            expired_rooms_report_available: true,
            empty_themes_as_object: true,
            null_unset_fields: true,
            participant_events: ParticipantEventSpelling::Short,
            recording_ready_event: RecordingReadyEvent::Uploaded,
            duration_as_string: true,
            pending_recording_delete_not_found: true,
            theme_room_links_use_rooms_path: true,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_switches_every_recorded_quirk_and_nothing_unrecorded() {
        let spec = Behavior::default();
        let live = Behavior::live();
        assert_eq!(spec.embedded_shape, EmbeddedShape::Spec);
        assert_eq!(live.embedded_shape, EmbeddedShape::LiveFlatArray);
        assert_eq!(spec.participant_events, ParticipantEventSpelling::Session);
        assert_eq!(live.participant_events, ParticipantEventSpelling::Short);
        assert_eq!(spec.recording_ready_event, RecordingReadyEvent::Ready);
        assert_eq!(live.recording_ready_event, RecordingReadyEvent::Uploaded);
        for (name, spec_value, live_value) in [
            (
                "page_size_as_string",
                spec.page_size_as_string,
                live.page_size_as_string,
            ),
            (
                "expired_rooms_report_available",
                spec.expired_rooms_report_available,
                live.expired_rooms_report_available,
            ),
            (
                "empty_themes_as_object",
                spec.empty_themes_as_object,
                live.empty_themes_as_object,
            ),
            (
                "null_unset_fields",
                spec.null_unset_fields,
                live.null_unset_fields,
            ),
            (
                "duration_as_string",
                spec.duration_as_string,
                live.duration_as_string,
            ),
            (
                "pending_recording_delete_not_found",
                spec.pending_recording_delete_not_found,
                live.pending_recording_delete_not_found,
            ),
            (
                "theme_room_links_use_rooms_path",
                spec.theme_room_links_use_rooms_path,
                live.theme_room_links_use_rooms_path,
            ),
        ] {
            assert!(!spec_value && live_value, "{name}");
        }
        assert_eq!(spec.purge_expired_after_secs, None);
        assert_eq!(live.purge_expired_after_secs, None);
        assert!(!spec.rooms_report_default_theme && !live.rooms_report_default_theme);
        // Everything else (limits, lifetimes, delays) is shared.
        let aligned = Behavior {
            embedded_shape: spec.embedded_shape,
            page_size_as_string: false,
            expired_rooms_report_available: false,
            empty_themes_as_object: false,
            null_unset_fields: false,
            participant_events: spec.participant_events,
            recording_ready_event: spec.recording_ready_event,
            duration_as_string: false,
            pending_recording_delete_not_found: false,
            theme_room_links_use_rooms_path: false,
            ..live
        };
        assert_eq!(aligned, spec);
    }

    #[test]
    fn new_switches_round_trip_through_json() {
        let mut behavior = Behavior::live();
        behavior.purge_expired_after_secs = Some(90);
        behavior.rooms_report_default_theme = true;
        let value = serde_json::to_value(&behavior).unwrap();
        assert_eq!(value["purge_expired_after_secs"], 90);
        assert_eq!(value["duration_as_string"], true);
        let back: Behavior = serde_json::from_value(value).unwrap();
        assert_eq!(back, behavior);
        let partial: Behavior = serde_json::from_str("{}").unwrap();
        assert_eq!(partial, Behavior::default());
    }
}
