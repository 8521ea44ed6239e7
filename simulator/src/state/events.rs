//! Callback events produced by state changes, addressed when they are produced.

use serde::Serialize;
use serde_json::Value;

use super::values::CallbackKind;

/// An event to POST to a callback URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Event name as sent (`room:expired`, `session:started`, ...).
    pub name: String,
    /// Which callback URL family it targets.
    pub kind: CallbackKind,
    /// Owning application.
    pub application_id: String,
    /// Resolved URL (room's, else application's); `None` when neither is set.
    pub url: Option<String>,
    /// The JSON body.
    pub payload: Value,
}
