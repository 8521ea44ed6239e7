//! The `MeetingRoom` custom resource.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::interned::SharedStr;

use super::common::{CredentialsRef, LocalObjectRef, ManagementPolicy, PendingCreate};
use super::conditions::Condition;

/// Lifetime model of a room.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Expires ten minutes after creation and cannot be changed.
    #[default]
    Instant,
    /// Lives until `expiresAt`; mutable fields can be changed.
    LongTerm,
}

/// Who may join, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinApproval {
    /// Anyone with the link joins at once.
    None,
    /// Participants wait until the host has joined.
    AfterOwnerOnly,
    /// The host approves each participant.
    ExplicitApproval,
}

/// What happens in the API when a `MeetingRoom` is deleted (the API cannot delete rooms).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RoomDeletionPolicy {
    /// Leave the room as it is.
    #[default]
    Orphan,
    /// Set a long-term room to expire at the earliest time the API allows.
    Expire,
}

/// Recording behaviour, fixed at creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomRecordingOptions {
    /// Record every session automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_record: Option<bool>,
    /// Record only the owner's screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_only_owner: Option<bool>,
}

/// Callback endpoints of a room.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomCallbackUrls {
    /// Receives room events such as `room:expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://.+$"), length(max = 2048))]
    pub rooms_callback_url: Option<String>,
    /// Receives session and participant events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://.+$"), length(max = 2048))]
    pub sessions_callback_url: Option<String>,
    /// Receives recording events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^https?://.+$"), length(max = 2048))]
    pub recordings_callback_url: Option<String>,
}

/// UI features of a room.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomFeatures {
    /// Recording button shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recording_available: Option<bool>,
    /// Chat shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_chat_available: Option<bool>,
    /// Whiteboard shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_whiteboard_available: Option<bool>,
}

/// Desired state of a Meetings room.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "meetings.vonage.com",
    version = "v1alpha1",
    kind = "MeetingRoom",
    doc = "A Vonage Meetings room (instant or long-term) that the operator creates, keeps in line with its spec and reports on: meeting code, join URLs (the host URL in a Secret), expiry and conditions.",
    namespaced,
    status = "MeetingRoomStatus",
    shortname = "mroom",
    shortname = "mrooms",
    category = "meetings",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Code","type":"string","jsonPath":".status.meetingCode"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".status.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Guest URL","type":"string","priority":1,"jsonPath":".status.guestUrl"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    cel
)]
#[x_kube(
    validation = Rule::new("self.type != 'long_term' || has(self.expiresAt)").message("expiresAt is required for long_term rooms"),
    validation = Rule::new("self.type != 'instant' || !has(self.expiresAt)").message("expiresAt is not allowed for instant rooms: they expire 10 minutes after creation"),
    validation = Rule::new("self.type == 'long_term' || !has(self.expireAfterUse)").message("expireAfterUse is only allowed for long_term rooms"),
    validation = Rule::new("self.type == 'long_term' || self.deletionPolicy != 'Expire'").message("deletionPolicy Expire is only allowed for long_term rooms: instant rooms expire on their own"),
    validation = Rule::new("self.managementPolicy != 'ObserveOnly' || has(self.adoptId)").message("managementPolicy ObserveOnly needs adoptId: the id of the remote room to observe"),
    validation = Rule::new("self.type == oldSelf.type").message("type is immutable: the Meetings API sets it only when the room is created; create a new MeetingRoom instead"),
    validation = Rule::new("has(self.metadata) == has(oldSelf.metadata) && (!has(self.metadata) || self.metadata == oldSelf.metadata)").message("metadata is immutable: the Meetings API sets it only when the room is created; create a new MeetingRoom instead"),
    validation = Rule::new("has(self.recordingOptions) == has(oldSelf.recordingOptions) && (!has(self.recordingOptions) || self.recordingOptions == oldSelf.recordingOptions)").message("recordingOptions is immutable: the Meetings API sets it only when the room is created; create a new MeetingRoom instead"),
)]
#[serde(rename_all = "camelCase")]
pub struct MeetingRoomSpec {
    /// Name shown to participants (create-only).
    #[schemars(length(min = 1, max = 200))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("displayName is immutable: the Meetings API sets it only when the room is created; create a new MeetingRoom instead"))]
    pub display_name: String,
    /// `instant` (default) or `long_term` (create-only).
    #[serde(default, rename = "type")]
    pub room_type: RoomKind,
    /// Expiry of a long-term room (RFC 3339); required for them, forbidden for instant rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<String>,
    /// Close a long-term room after its first session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after_use: Option<bool>,
    /// Free text passed in callback headers (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub metadata: Option<String>,
    /// Recording behaviour (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_options: Option<RoomRecordingOptions>,
    /// A `MeetingTheme` in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_ref: Option<LocalObjectRef>,
    /// Join approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_approval_level: Option<JoinApproval>,
    /// Callback endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<Box<RoomCallbackUrls>>,
    /// UI features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_features: Option<RoomFeatures>,
    /// `Orphan` (default) or `Expire`.
    #[serde(default)]
    pub deletion_policy: RoomDeletionPolicy,
    /// Credentials Secret in this namespace; the operator's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<Box<CredentialsRef>>,
    /// Adopt this existing remote room instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("adoptId is immutable: create a new MeetingRoom to adopt another room"))]
    pub adopt_id: Option<String>,
    /// `Managed` (default) or `ObserveOnly` (never writes to the API; needs `adoptId`).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Point the room's callback URLs at the operator's callback endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_callbacks: Option<bool>,
}

impl MeetingRoomSpec {
    /// The callback URLs the room should have: its own `callbackUrls`, with
    /// the operator's filling the fields it leaves unset when
    /// `operatorCallbacks` is true and the operator has a public URL.
    pub fn effective_callback_urls(
        &self,
        operator: Option<&RoomCallbackUrls>,
    ) -> Option<RoomCallbackUrls> {
        let own = self.callback_urls.as_deref().cloned();
        let Some(operator) = operator.filter(|_| self.operator_callbacks == Some(true)) else {
            return own;
        };
        let own = own.unwrap_or_default();
        Some(RoomCallbackUrls {
            rooms_callback_url: own
                .rooms_callback_url
                .or_else(|| operator.rooms_callback_url.clone()),
            sessions_callback_url: own
                .sessions_callback_url
                .or_else(|| operator.sessions_callback_url.clone()),
            recordings_callback_url: own
                .recordings_callback_url
                .or_else(|| operator.recordings_callback_url.clone()),
        })
    }
}

// The operator caches every room, so its strings hold no spare capacity
// (`Box<str>`) and the ids many rooms share are decoded into one shared
// copy (`SharedStr`), as are the conditions' strings.
/// Observed state of a Meetings room.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingRoomStatus {
    /// `Ready` and `Synced`; `Reconciling` while work is in progress and
    /// `Stalled` when nothing can progress without a change (kstatus).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last `meetings.vonage.com/reconcile-requested-at` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<Box<str>>,
    /// Id of the remote room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<Box<str>>,
    /// Numeric meeting code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_code: Option<Box<str>>,
    /// Join URL for guests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_url: Option<Box<str>>,
    /// When the room expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Box<str>>,
    /// Whether sessions can still start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_available: Option<bool>,
    /// Theme id in force (resolved from `themeRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_id: Option<SharedStr>,
    /// Theme id the operator last set from `themeRef`; removing `themeRef`
    /// clears the room's theme only while it is still this one. A theme the
    /// operator never set (such as the application default) is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_theme_id: Option<SharedStr>,
    /// Secret (owned by this room) holding the host URL under `hostUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_url_secret_name: Option<Box<str>>,
    /// Application that owns the remote room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<SharedStr>,
    /// Set just before a create call, cleared when its answer is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<Box<PendingCreate>>,
    /// Create-only fields of an adopted room that differ from the spec (they cannot be changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfixable_differences: Vec<String>,
    /// What is happening in the room now, from the service's callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Box<LiveStatus>>,
}

/// Live meeting state from callbacks (written by the callback receiver only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveStatus {
    /// The session in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_session: Option<ActiveSession>,
    /// The last session that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_session: Option<EndedSession>,
    /// The most recent recordings, newest first (bounded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recordings: Vec<RecordingSummary>,
}

/// A session in progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveSession {
    /// Session id.
    pub session_id: String,
    /// Start time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Participants connected now.
    pub participant_count: u32,
    /// Whether a host is connected.
    pub host_present: bool,
}

/// A session that ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndedSession {
    /// Session id.
    pub session_id: String,
    /// Start time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// End time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
}

/// A recording made in the room.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingSummary {
    /// Recording id.
    pub id: String,
    /// `started`, `stopped`, `uploaded` or another state the service reports.
    pub status: String,
    /// Length in seconds, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Download URL once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
