//! Value types shared by rooms and applications.

use serde::{Deserialize, Serialize};

/// `instant` or `long_term`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomType {
    /// Expires ten minutes after creation.
    #[default]
    Instant,
    /// Expires at a chosen time.
    LongTerm,
}

impl RoomType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::LongTerm => "long_term",
        }
    }
}

/// Who must approve joiners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinApprovalLevel {
    /// Anyone joins.
    #[default]
    None,
    /// Guests join after the host.
    AfterOwnerOnly,
    /// The host approves each guest.
    ExplicitApproval,
}

impl JoinApprovalLevel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::AfterOwnerOnly => "after_owner_only",
            Self::ExplicitApproval => "explicit_approval",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "after_owner_only" => Some(Self::AfterOwnerOnly),
            "explicit_approval" => Some(Self::ExplicitApproval),
            _ => None,
        }
    }
}

/// Callback URLs of a room or an application; `None` falls back (room → application → none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackUrls {
    /// Receives `room:expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms_callback_url: Option<String>,
    /// Receives session and participant events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_callback_url: Option<String>,
    /// Receives recording events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recordings_callback_url: Option<String>,
}

impl CallbackUrls {
    /// Overwrites the URLs `patch` sets.
    pub fn merge(&mut self, patch: &CallbackUrls) {
        if patch.rooms_callback_url.is_some() {
            self.rooms_callback_url
                .clone_from(&patch.rooms_callback_url);
        }
        if patch.sessions_callback_url.is_some() {
            self.sessions_callback_url
                .clone_from(&patch.sessions_callback_url);
        }
        if patch.recordings_callback_url.is_some() {
            self.recordings_callback_url
                .clone_from(&patch.recordings_callback_url);
        }
    }

    /// The URL for `kind`.
    pub fn get(&self, kind: CallbackKind) -> Option<&str> {
        match kind {
            CallbackKind::Rooms => self.rooms_callback_url.as_deref(),
            CallbackKind::Sessions => self.sessions_callback_url.as_deref(),
            CallbackKind::Recordings => self.recordings_callback_url.as_deref(),
        }
    }

    /// Whether no URL is set.
    pub fn is_empty(&self) -> bool {
        self.rooms_callback_url.is_none()
            && self.sessions_callback_url.is_none()
            && self.recordings_callback_url.is_none()
    }
}

/// Which callback URL an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// `rooms_callback_url`.
    Rooms,
    /// `sessions_callback_url`.
    Sessions,
    /// `recordings_callback_url`.
    Recordings,
}

/// Recording options, fixed at room creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingOptions {
    /// Record every session automatically.
    pub auto_record: bool,
    /// Record only the owner's screen.
    pub record_only_owner: bool,
}

/// UI features of a room; each defaults to `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableFeatures {
    /// Recording button.
    pub is_recording_available: bool,
    /// Chat.
    pub is_chat_available: bool,
    /// Whiteboard.
    pub is_whiteboard_available: bool,
}

impl Default for AvailableFeatures {
    fn default() -> Self {
        Self {
            is_recording_available: true,
            is_chat_available: true,
            is_whiteboard_available: true,
        }
    }
}

/// A partial [`AvailableFeatures`] as given in a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeaturesPatch {
    /// New `is_recording_available`.
    pub is_recording_available: Option<bool>,
    /// New `is_chat_available`.
    pub is_chat_available: Option<bool>,
    /// New `is_whiteboard_available`.
    pub is_whiteboard_available: Option<bool>,
}

impl AvailableFeatures {
    /// Applies the values `patch` sets.
    pub fn merge(&mut self, patch: &FeaturesPatch) {
        if let Some(v) = patch.is_recording_available {
            self.is_recording_available = v;
        }
        if let Some(v) = patch.is_chat_available {
            self.is_chat_available = v;
        }
        if let Some(v) = patch.is_whiteboard_available {
            self.is_whiteboard_available = v;
        }
    }
}
