//! Typed request and response bodies of the Meetings API.
//!
//! Responses tolerate unknown fields and the variations the live service showed
//! (numbers as strings, timestamps with or without time, both `_embedded` shapes).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::lenient;
use crate::interned::SharedStr;

/// Room lifetime model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomType {
    /// Expires ten minutes after creation; cannot be updated.
    #[default]
    Instant,
    /// Lives until its `expires_at`; can be updated.
    LongTerm,
}

/// Who may join a meeting, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinApprovalLevel {
    /// Anyone with the link joins at once.
    None,
    /// Participants wait until the host has joined.
    AfterOwnerOnly,
    /// The host approves each participant.
    ExplicitApproval,
}

/// Recording behaviour, fixed at creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordingOptions {
    /// Record every session automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_record: Option<bool>,
    /// Record only the owner's screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_only_owner: Option<bool>,
}

/// Per-room callback endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallbackUrls {
    /// Receives room events such as `room:expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms_callback_url: Option<String>,
    /// Receives session and participant events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_callback_url: Option<String>,
    /// Receives recording events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recordings_callback_url: Option<String>,
}

/// UI features offered in a room.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AvailableFeatures {
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

/// A `{"href": ...}` link object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// Target of the link; may lack a scheme.
    #[serde(default)]
    pub href: String,
}

/// Join links of a room.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLinks {
    /// Link for guests.
    #[serde(default)]
    pub guest_url: Option<Link>,
    /// Link with host rights: a credential, re-issued on every read.
    #[serde(default)]
    pub host_url: Option<Link>,
}

impl std::fmt::Debug for RoomLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomLinks")
            .field("guest_url", &self.guest_url)
            .field("host_url", &self.host_url.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A room as the API returns it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// Room UUID.
    pub id: String,
    /// Name shown to participants.
    #[serde(default)]
    pub display_name: String,
    /// Free text attached at creation.
    #[serde(default)]
    pub metadata: Option<String>,
    /// Lifetime model.
    #[serde(default, rename = "type")]
    pub room_type: RoomType,
    /// Recording behaviour.
    #[serde(default)]
    pub recording_options: Option<RecordingOptions>,
    /// Numeric code that identifies the meeting.
    #[serde(default)]
    pub meeting_code: String,
    /// Whether new sessions can still start.
    #[serde(default)]
    pub is_available: Option<bool>,
    /// Theme of the room, if any (one shared copy per theme).
    #[serde(default)]
    pub theme_id: Option<SharedStr>,
    /// Creation time.
    #[serde(default, with = "lenient::timestamp")]
    pub created_at: Option<Timestamp>,
    /// Expiry time.
    #[serde(default, with = "lenient::timestamp")]
    pub expires_at: Option<Timestamp>,
    /// Close after a session ends (long-term rooms).
    #[serde(default)]
    pub expire_after_use: Option<bool>,
    /// Join approval.
    #[serde(default)]
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// Callback endpoints (boxed: most rooms have none, and a listing
    /// holds every room).
    #[serde(default)]
    pub callback_urls: Option<Box<CallbackUrls>>,
    /// UI features.
    #[serde(default)]
    pub available_features: Option<AvailableFeatures>,
    /// Join links.
    #[serde(default, rename = "_links")]
    pub links: RoomLinks,
}

impl Room {
    /// The guest join URL, if the API returned one.
    pub fn guest_url(&self) -> Option<&str> {
        self.links.guest_url.as_ref().map(|l| l.href.as_str())
    }

    /// The host join URL. It grants host rights: store it only in a Secret.
    pub fn host_url(&self) -> Option<&str> {
        self.links.host_url.as_ref().map(|l| l.href.as_str())
    }

    /// Whether the room can no longer host sessions at `now`, judged from the
    /// flag and from time (the service may keep `is_available: true` after expiry).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.is_available == Some(false) || self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Body of `POST /rooms`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRoom {
    /// Required name, at most 200 characters.
    pub display_name: String,
    /// Free text, at most 500 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// Lifetime model.
    #[serde(rename = "type")]
    pub room_type: RoomType,
    /// Required for long-term rooms, forbidden for instant ones.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "lenient::timestamp",
        default
    )]
    pub expires_at: Option<Timestamp>,
    /// Recording behaviour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_options: Option<RecordingOptions>,
    /// Long-term rooms only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_after_use: Option<bool>,
    /// Theme to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_id: Option<String>,
    /// Join approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// Callback endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<CallbackUrls>,
    /// UI features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_features: Option<AvailableFeatures>,
}

/// Mutable fields of a long-term room; only the fields set are sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomUpdate {
    /// New expiry.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "lenient::timestamp",
        default
    )]
    pub expires_at: Option<Timestamp>,
    /// New expire-after-use flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_after_use: Option<bool>,
    /// `Some(Some(id))` sets the theme, `Some(None)` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_id: Option<Option<String>>,
    /// New join approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// New callback endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<CallbackUrls>,
    /// New UI features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_features: Option<AvailableFeatures>,
}

impl RoomUpdate {
    /// True when no field is set (the API refuses an empty update).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Wrapper the API expects around every update.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct UpdateDetails<T> {
    pub update_details: T,
}

/// One page of rooms.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RoomsPage {
    /// Page size the server echoed (it was once seen as a string).
    #[serde(default, with = "lenient::opt_u64")]
    pub page_size: Option<u64>,
    /// Rooms over all pages.
    #[serde(default, with = "lenient::opt_u64")]
    pub total_items: Option<u64>,
    /// Rooms on this page, from either `_embedded` shape.
    #[serde(
        default,
        rename = "_embedded",
        deserialize_with = "lenient::embedded_rooms"
    )]
    pub rooms: Vec<Room>,
    /// Navigation links.
    #[serde(default, rename = "_links")]
    pub links: PageLinks,
}

/// Navigation links of a page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageLinks {
    /// First page.
    #[serde(default)]
    pub first: Option<Link>,
    /// This page.
    #[serde(default, rename = "self")]
    pub this: Option<Link>,
    /// Next page (present even on the last page).
    #[serde(default)]
    pub next: Option<Link>,
    /// Previous page.
    #[serde(default)]
    pub prev: Option<Link>,
}

/// Recording state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// Recording in progress.
    Started,
    /// Recording stopped, not yet uploaded.
    Stopped,
    /// Recording paused.
    Paused,
    /// Uploaded and downloadable.
    Uploaded,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

/// A recording.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Recording {
    /// Recording UUID.
    pub id: String,
    /// Underlying video session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Start time.
    #[serde(default, with = "lenient::timestamp")]
    pub started_at: Option<Timestamp>,
    /// End time.
    #[serde(default, with = "lenient::timestamp")]
    pub ended_at: Option<Timestamp>,
    /// State.
    #[serde(default)]
    pub status: Option<RecordingStatus>,
    /// Download link once uploaded.
    #[serde(default, rename = "_links")]
    pub links: Option<RecordingLinks>,
}

/// Links of a recording.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RecordingLinks {
    /// Download URL.
    #[serde(default)]
    pub url: Option<Link>,
}

/// A phone number to dial into meetings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct DialInNumber {
    /// E.164 digits.
    pub number: String,
    /// Locale such as `en-US`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Country name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A theme as the API returns it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Theme {
    /// Theme UUID.
    pub theme_id: String,
    /// Name, unique in the application.
    #[serde(default)]
    pub theme_name: Option<String>,
    /// Service domain (`VCP`).
    #[serde(default)]
    pub domain: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Owning application.
    #[serde(default)]
    pub application_id: Option<String>,
    /// Main colour, `#rgb` or `#rrggbb`.
    #[serde(default)]
    pub main_color: Option<String>,
    /// Short URL segment, unique across the service.
    #[serde(default)]
    pub short_company_url: Option<String>,
    /// Brand text.
    #[serde(default)]
    pub brand_text: Option<String>,
    /// Storage key of the coloured logo.
    #[serde(default)]
    pub brand_image_colored: Option<String>,
    /// Storage key of the white logo.
    #[serde(default)]
    pub brand_image_white: Option<String>,
    /// Storage key of the favicon.
    #[serde(default)]
    pub branded_favicon: Option<String>,
    /// URL of the coloured logo.
    #[serde(default)]
    pub brand_image_colored_url: Option<String>,
    /// URL of the white logo.
    #[serde(default)]
    pub brand_image_white_url: Option<String>,
    /// URL of the favicon.
    #[serde(default)]
    pub branded_favicon_url: Option<String>,
}

/// Body of `POST /themes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTheme {
    /// Name, generated by the service when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_name: Option<String>,
    /// Required main colour.
    pub main_color: String,
    /// Required brand text.
    pub brand_text: String,
    /// Short URL segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_company_url: Option<String>,
}

/// Theme fields to change; only the fields set are sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThemeUpdate {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_name: Option<String>,
    /// New main colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_color: Option<String>,
    /// New brand text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand_text: Option<String>,
    /// New short URL segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_company_url: Option<String>,
}

impl ThemeUpdate {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Which logo slot an upload fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoType {
    /// Logo for dark backgrounds.
    White,
    /// Logo for light backgrounds.
    Colored,
    /// Browser favicon.
    Favicon,
}

/// A presigned storage upload target.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct LogoUploadTarget {
    /// Storage URL to POST to.
    pub url: String,
    /// Form fields to send before the file, in order.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl LogoUploadTarget {
    /// The logo slot, from `fields.logoType`.
    pub fn logo_type(&self) -> Option<LogoType> {
        self.fields
            .get("logoType")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
    }

    /// The storage key to finalize after upload.
    pub fn key(&self) -> Option<&str> {
        self.fields.get("key").and_then(|v| v.as_str())
    }
}

/// Body of `PUT /themes/{id}/finalizeLogos`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FinalizeLogos<'a> {
    pub keys: &'a [String],
}

/// Application settings returned by `PATCH /applications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Application {
    /// Application UUID.
    #[serde(default)]
    pub application_id: Option<String>,
    /// Owning account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Default theme now in force.
    #[serde(default)]
    pub default_theme_id: Option<String>,
}

/// Body of `PATCH /applications`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ApplicationUpdate<'a> {
    pub default_theme_id: &'a str,
}

/// Recordings of a session.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct SessionRecordings {
    #[serde(default, rename = "_embedded")]
    pub embedded: Option<SessionRecordingsEmbedded>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct SessionRecordingsEmbedded {
    #[serde(default)]
    pub recordings: Vec<Recording>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_parses_live_shape_with_unknown_fields() {
        let room: Room = serde_json::from_value(serde_json::json!({
            "id": "6f7c2f2e-1c7c-4d3c-9b43-4a4f7b1a7c11",
            "display_name": "Standup",
            "type": "long_term",
            "meeting_code": "1234567890",
            "is_available": true,
            "created_at": "2023-01-24T03:20:38.629Z",
            "expires_at": "2023-01-25",
            "future_field": {"x": 1},
            "_links": {"guest_url": {"href": "https://meetings.vonage.com/1234567890"},
                        "host_url": {"href": "https://meetings.vonage.com/?participant_token=secret"}}
        }))
        .unwrap();
        assert_eq!(room.room_type, RoomType::LongTerm);
        assert_eq!(
            room.guest_url(),
            Some("https://meetings.vonage.com/1234567890")
        );
        assert!(room.expires_at.is_some());
        assert!(!format!("{room:?}").contains("secret"));
    }

    #[test]
    fn room_update_sends_only_set_fields_and_null_theme() {
        let update = RoomUpdate {
            theme_id: Some(None),
            expire_after_use: Some(true),
            ..Default::default()
        };
        let body = serde_json::to_value(UpdateDetails {
            update_details: &update,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"update_details": {"expire_after_use": true, "theme_id": null}})
        );
        assert!(RoomUpdate::default().is_empty());
    }

    #[test]
    fn pages_accept_both_embedded_shapes_and_string_sizes() {
        let spec: RoomsPage = serde_json::from_value(serde_json::json!({
            "page_size": "2", "total_items": 3,
            "_embedded": {"rooms": [{"id": "a"}, {"id": "b"}]}
        }))
        .unwrap();
        let live: RoomsPage = serde_json::from_value(serde_json::json!({
            "page_size": 2, "_embedded": [{"id": "a"}]
        }))
        .unwrap();
        assert_eq!(spec.page_size, Some(2));
        assert_eq!(spec.rooms.len(), 2);
        assert_eq!(live.rooms.len(), 1);
        // As the client reads a page: from its text.
        let ids = |text: &str| -> Vec<String> {
            let page: RoomsPage = serde_json::from_str(text).unwrap();
            page.rooms.into_iter().map(|room| room.id).collect()
        };
        assert_eq!(
            ids(r#"{"_embedded": {"links": {}, "rooms": [{"id": "a"}, {"id": "b"}], "n": 2}}"#),
            ["a", "b"]
        );
        assert_eq!(ids(r#"{"_embedded": [{"id": "a"}]}"#), ["a"]);
        for none in [
            r#"{}"#,
            r#"{"_embedded": null}"#,
            r#"{"_embedded": {}}"#,
            r#"{"_embedded": {"rooms": null}}"#,
        ] {
            assert!(ids(none).is_empty(), "{none}");
        }
        assert!(serde_json::from_str::<RoomsPage>(r#"{"_embedded": "rooms"}"#).is_err());
    }

    #[test]
    fn unknown_recording_status_is_tolerated() {
        let rec: Recording =
            serde_json::from_value(serde_json::json!({"id": "r", "status": "archived"})).unwrap();
        assert_eq!(rec.status, Some(RecordingStatus::Unknown));
    }
}
