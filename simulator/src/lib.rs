//! Meetings API simulator: a stateful in-memory implementation of the Vonage Meetings API
//! served over real HTTP, with test controls (clock, faults, counters, meeting events).
//!
//! The API is served under `/v1/meetings`, `/beta/meetings` and `/meetings`; simulated
//! storage under `/_storage`; controls under `/_sim`.

mod auth;
mod callbacks;
pub mod cli;
mod clock;
mod config;
mod conn;
mod control;
mod counters;
mod errors;
mod exchanges;
mod faults;
mod handle;
mod input;
mod keys;
mod observe;
mod pagination;
mod paths;
mod png_check;
mod presign;
mod render;
mod routes;
mod server;
mod shared;
mod state;

pub use callbacks::CallbackRecord;
pub use clock::{format_ts, parse_ts};
pub use config::{
    Behavior, DefaultApplication, EmbeddedShape, ParticipantEventSpelling, RecordingReadyEvent,
    SimulatorConfig,
};
pub use control::AppCredentials;
pub use counters::CountersSnapshot;
pub use errors::{ControlError, SimulatorError};
pub use exchanges::Exchange;
pub use faults::{
    Action, Decision, FaultKind, FaultSpec, Faults, FaultsView, InstalledFault, Latency,
    Malformation, RateLimit, Trigger,
};
pub use handle::{RunningSimulator, Simulator};
pub use keys::{KeyPair, generate_key_pair, mint_app_token};
pub use paths::OPERATION_IDS;
pub use state::values::{
    AvailableFeatures, CallbackKind, CallbackUrls, JoinApprovalLevel, RecordingOptions, RoomType,
};
pub use state::{
    Application, Logo, Participant, Recording, RecordingStatus, Room, Session, StoredObject, Theme,
};
