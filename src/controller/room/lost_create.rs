//! Recognising the room that a create whose answer was lost made.
//!
//! A create request is compared with a listed room as the service stores it:
//! the service fills in what the request leaves out (omitted recording
//! options are `false`, omitted features `true`), reports absent metadata as
//! missing, `null` or empty, keeps expiry to the millisecond, and may report
//! the application's default theme on a room created without one. So the
//! request is turned once into the [`LostCreate`] the service would hold,
//! and each listed room is compared with it field by field.

use jiff::{SignedDuration, Timestamp};

use crate::meetings::{
    AvailableFeatures, CallbackUrls, CreateRoom, JoinApprovalLevel, RecordingOptions, Room,
    RoomType,
};

/// How far the service's clock may be behind the operator's.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(120);

/// A create whose answer was lost: what the service stores for its request,
/// and when it was sent. `None` in a field whose service default is not
/// recorded means "any value".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostCreate {
    /// Rooms created before this (less the clock skew) are not candidates.
    created_after: Timestamp,
    /// Create-only: the name shown to participants.
    display_name: String,
    /// Create-only: free text; absent and empty are the same.
    metadata: String,
    /// Create-only: the lifetime model.
    room_type: RoomType,
    /// Create-only: `recording_options` (`auto_record`, `record_only_owner`),
    /// `false` when omitted.
    recording: (bool, bool),
    /// Create-time: expiry in milliseconds (long-term rooms only; the service
    /// computes an instant room's).
    expires_at_ms: Option<i64>,
    /// Create-time: close after use (long-term rooms only), `false` when omitted.
    expire_after_use: bool,
    /// Create-time: the theme; `None` accepts any, since a room created
    /// without one may report the application's default theme.
    theme_id: Option<String>,
    /// Create-time: join approval; `None` accepts any (the default is not recorded).
    join_approval_level: Option<JoinApprovalLevel>,
    /// Create-time: callback endpoints, empty strings read as unset.
    callback_urls: [Option<String>; 3],
    /// Create-time: recording, chat and whiteboard features, `true` when omitted.
    features: [bool; 3],
}

fn recording_flags(options: Option<&RecordingOptions>) -> (bool, bool) {
    options.map_or((false, false), |o| {
        (
            o.auto_record.unwrap_or(false),
            o.record_only_owner.unwrap_or(false),
        )
    })
}

fn feature_flags(features: Option<&AvailableFeatures>) -> [bool; 3] {
    let f = features.cloned().unwrap_or_default();
    [
        f.is_recording_available.unwrap_or(true),
        f.is_chat_available.unwrap_or(true),
        f.is_whiteboard_available.unwrap_or(true),
    ]
}

fn callback_list(urls: Option<&CallbackUrls>) -> [Option<String>; 3] {
    let set = |url: &Option<String>| url.clone().filter(|u| !u.is_empty());
    urls.map_or([None, None, None], |u| {
        [
            set(&u.rooms_callback_url),
            set(&u.sessions_callback_url),
            set(&u.recordings_callback_url),
        ]
    })
}

/// Expiry to the millisecond, for long-term rooms only.
fn long_term_expiry(room_type: RoomType, at: Option<Timestamp>) -> Option<i64> {
    at.filter(|_| room_type == RoomType::LongTerm)
        .map(|at| at.as_millisecond())
}

impl LostCreate {
    /// What the service stores for `request`, sent at `attempt_started`.
    pub fn new(request: &CreateRoom, attempt_started: Timestamp) -> Self {
        Self {
            created_after: attempt_started - CLOCK_SKEW,
            display_name: request.display_name.clone(),
            metadata: request.metadata.clone().unwrap_or_default(),
            room_type: request.room_type,
            recording: recording_flags(request.recording_options.as_ref()),
            expires_at_ms: long_term_expiry(request.room_type, request.expires_at),
            expire_after_use: request.room_type == RoomType::LongTerm
                && request.expire_after_use.unwrap_or(false),
            theme_id: request.theme_id.clone(),
            join_approval_level: request.join_approval_level,
            callback_urls: callback_list(request.callback_urls.as_ref()),
            features: feature_flags(request.available_features.as_ref()),
        }
    }

    /// Whether `room` could be what the request created: it was created after
    /// the attempt began and has the create-only fields the service stores
    /// for the request (they cannot change after creation, so they identify
    /// the room). Allocates nothing: it runs over whole listings.
    pub fn matches(&self, room: &Room) -> bool {
        room.created_at
            .is_none_or(|created| created >= self.created_after)
            && room.display_name == self.display_name
            && room.metadata.as_deref().unwrap_or("") == self.metadata
            && room.room_type == self.room_type
            && recording_flags(room.recording_options.as_ref()) == self.recording
    }

    /// How many create-time fields of `room` still hold what the request set
    /// (they can change after creation, so they only rank rooms that match).
    pub fn agreement(&self, room: &Room) -> usize {
        let long_term = room.room_type == RoomType::LongTerm;
        [
            long_term_expiry(room.room_type, room.expires_at) == self.expires_at_ms,
            (long_term && room.expire_after_use.unwrap_or(false)) == self.expire_after_use,
            self.theme_id.is_none() || room.theme_id.as_deref() == self.theme_id.as_deref(),
            self.join_approval_level.is_none()
                || room.join_approval_level == self.join_approval_level,
            callback_list(room.callback_urls.as_deref()) == self.callback_urls,
            feature_flags(room.available_features.as_ref()) == self.features,
        ]
        .into_iter()
        .filter(|same| *same)
        .count()
    }

    /// The most likely room among `candidates` (each already [`Self::matches`]):
    /// the one that agrees with the request in most create-time fields, then
    /// the earliest created.
    pub fn best<'a>(&self, candidates: &'a [Room]) -> Option<&'a Room> {
        candidates.iter().min_by_key(|room| {
            (
                std::cmp::Reverse(self.agreement(room)),
                room.created_at.map(|at| at.as_millisecond()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CreateRoom {
        CreateRoom {
            display_name: "Weekly".into(),
            room_type: RoomType::LongTerm,
            expires_at: Some("2030-01-01T00:00:00.123456Z".parse().unwrap()),
            recording_options: Some(RecordingOptions {
                auto_record: Some(true),
                record_only_owner: None,
            }),
            ..CreateRoom::default()
        }
    }

    fn stored(value: serde_json::Value) -> Room {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn omitted_fields_match_the_values_the_service_fills_in() {
        let room = stored(serde_json::json!({
            "id": "r1", "display_name": "Weekly", "type": "long_term", "metadata": null,
            "recording_options": {"auto_record": true, "record_only_owner": false},
            "expires_at": "2030-01-01T00:00:00.123Z", "expire_after_use": false,
            "theme_id": "default-theme", "join_approval_level": "none",
            "available_features": {"is_recording_available": true, "is_chat_available": true, "is_whiteboard_available": true},
            "created_at": "2029-01-01T00:00:10Z"
        }));
        let started: Timestamp = "2029-01-01T00:00:00Z".parse().unwrap();
        let lost = LostCreate::new(&request(), started);
        assert!(lost.matches(&room));
        assert_eq!(lost.agreement(&room), 6);
    }

    #[test]
    fn a_room_created_before_the_attempt_is_not_the_lost_create() {
        let room = stored(serde_json::json!({
            "id": "r1", "display_name": "Weekly", "type": "long_term",
            "recording_options": {"auto_record": true, "record_only_owner": false},
            "created_at": "2029-01-01T00:00:00Z"
        }));
        let long_after: Timestamp = "2029-01-02T00:00:00Z".parse().unwrap();
        assert!(!LostCreate::new(&request(), long_after).matches(&room));
    }

    #[test]
    fn the_closest_twin_wins_then_the_earliest() {
        let twin = |id: &str, created: &str, chat: bool| {
            stored(serde_json::json!({
                "id": id, "display_name": "Weekly", "type": "long_term",
                "recording_options": {"auto_record": true},
                "expires_at": "2030-01-01T00:00:00.123Z",
                "available_features": {"is_chat_available": chat},
                "created_at": created
            }))
        };
        let rooms = [
            twin("changed", "2029-01-01T00:00:01Z", false),
            twin("later", "2029-01-01T00:00:03Z", true),
            twin("first", "2029-01-01T00:00:02Z", true),
        ];
        assert_eq!(
            LostCreate::new(&request(), Timestamp::UNIX_EPOCH)
                .best(&rooms)
                .map(|r| r.id.as_str()),
            Some("first")
        );
    }
}
