//! Recognising the room that a create whose answer was lost made.
//!
//! A create request is compared with a listed room as the service stores it:
//! the service fills in what the request leaves out (omitted recording
//! options are `false`, omitted features `true`), reports absent metadata as
//! missing, `null` or empty, keeps expiry to the millisecond, and may report
//! the application's default theme on a room created without one. So the
//! request is first turned into the [`StoredRoom`] the service would hold,
//! and that is compared with the [`StoredRoom`] read back from the listing.

use jiff::{SignedDuration, Timestamp};

use crate::meetings::{
    AvailableFeatures, CallbackUrls, CreateRoom, JoinApprovalLevel, RecordingOptions, Room,
    RoomType,
};

/// How far the service's clock may be behind the operator's.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(120);

/// The fields a create sets, as the service stores them. `None` in a field
/// whose service default is not recorded means "any value".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRoom {
    /// Create-only: the name shown to participants.
    pub display_name: String,
    /// Create-only: free text; absent and empty are the same.
    pub metadata: String,
    /// Create-only: the lifetime model.
    pub room_type: RoomType,
    /// Create-only: `recording_options.auto_record`, `false` when omitted.
    pub auto_record: bool,
    /// Create-only: `recording_options.record_only_owner`, `false` when omitted.
    pub record_only_owner: bool,
    /// Create-time: expiry in milliseconds (long-term rooms only; the service
    /// computes an instant room's).
    pub expires_at_ms: Option<i64>,
    /// Create-time: close after use (long-term rooms only), `false` when omitted.
    pub expire_after_use: bool,
    /// Create-time: the theme; `None` accepts any, since a room created
    /// without one may report the application's default theme.
    pub theme_id: Option<String>,
    /// Create-time: join approval; `None` accepts any (the default is not recorded).
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// Create-time: callback endpoints, empty strings read as unset.
    pub callback_urls: [Option<String>; 3],
    /// Create-time: recording, chat and whiteboard features, `true` when omitted.
    pub features: [bool; 3],
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

impl StoredRoom {
    /// What the service stores for `request`.
    pub fn expected(request: &CreateRoom) -> Self {
        let long_term = request.room_type == RoomType::LongTerm;
        let (auto_record, record_only_owner) = recording_flags(request.recording_options.as_ref());
        Self {
            display_name: request.display_name.clone(),
            metadata: request.metadata.clone().unwrap_or_default(),
            room_type: request.room_type,
            auto_record,
            record_only_owner,
            expires_at_ms: request
                .expires_at
                .filter(|_| long_term)
                .map(|at| at.as_millisecond()),
            expire_after_use: long_term && request.expire_after_use.unwrap_or(false),
            theme_id: request.theme_id.clone(),
            join_approval_level: request.join_approval_level,
            callback_urls: callback_list(request.callback_urls.as_ref()),
            features: feature_flags(request.available_features.as_ref()),
        }
    }

    /// What a listed room shows the service stored.
    pub fn observed(room: &Room) -> Self {
        let long_term = room.room_type == RoomType::LongTerm;
        let (auto_record, record_only_owner) = recording_flags(room.recording_options.as_ref());
        Self {
            display_name: room.display_name.clone(),
            metadata: room.metadata.clone().unwrap_or_default(),
            room_type: room.room_type,
            auto_record,
            record_only_owner,
            expires_at_ms: room
                .expires_at
                .filter(|_| long_term)
                .map(|at| at.as_millisecond()),
            expire_after_use: long_term && room.expire_after_use.unwrap_or(false),
            theme_id: room.theme_id.clone(),
            join_approval_level: room.join_approval_level,
            callback_urls: callback_list(room.callback_urls.as_ref()),
            features: feature_flags(room.available_features.as_ref()),
        }
    }

    /// Whether `stored` has the create-only fields this expectation fixes.
    /// These cannot change after creation, so they identify the room.
    pub fn same_create_only_fields(&self, stored: &StoredRoom) -> bool {
        self.display_name == stored.display_name
            && self.metadata == stored.metadata
            && self.room_type == stored.room_type
            && self.auto_record == stored.auto_record
            && self.record_only_owner == stored.record_only_owner
    }

    /// How many create-time fields of `stored` still hold what this
    /// expectation sets (they can be changed after creation, so they only rank
    /// rooms that share the create-only fields).
    pub fn create_time_agreement(&self, stored: &StoredRoom) -> usize {
        let any_or = |want: bool, same: bool| want || same;
        [
            self.expires_at_ms == stored.expires_at_ms,
            self.expire_after_use == stored.expire_after_use,
            any_or(self.theme_id.is_none(), self.theme_id == stored.theme_id),
            any_or(
                self.join_approval_level.is_none(),
                self.join_approval_level == stored.join_approval_level,
            ),
            self.callback_urls == stored.callback_urls,
            self.features == stored.features,
        ]
        .into_iter()
        .filter(|same| *same)
        .count()
    }
}

/// Whether `room` could be what `request`, sent at `attempt_started`, created:
/// it was created after the attempt began (allowing for clock skew) and the
/// service stores the same create-only fields for both.
pub fn matches(request: &CreateRoom, room: &Room, attempt_started: Timestamp) -> bool {
    let created_after = room
        .created_at
        .is_none_or(|created| created >= attempt_started - CLOCK_SKEW);
    created_after
        && StoredRoom::expected(request).same_create_only_fields(&StoredRoom::observed(room))
}

/// The most likely room among `candidates` (each already [`matches`]): the
/// one that agrees with `request` in most create-time fields, then the
/// earliest created.
pub fn best<'a>(request: &CreateRoom, candidates: &'a [Room]) -> Option<&'a Room> {
    let expected = StoredRoom::expected(request);
    candidates.iter().min_by_key(|room| {
        let agreement = expected.create_time_agreement(&StoredRoom::observed(room));
        (
            std::cmp::Reverse(agreement),
            room.created_at.map(|at| at.as_millisecond()),
        )
    })
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
        assert!(matches(&request(), &room, started));
        let expected = StoredRoom::expected(&request());
        assert_eq!(
            expected.create_time_agreement(&StoredRoom::observed(&room)),
            6
        );
    }

    #[test]
    fn a_room_created_before_the_attempt_is_not_the_lost_create() {
        let room = stored(serde_json::json!({
            "id": "r1", "display_name": "Weekly", "type": "long_term",
            "recording_options": {"auto_record": true, "record_only_owner": false},
            "created_at": "2029-01-01T00:00:00Z"
        }));
        let long_after: Timestamp = "2029-01-02T00:00:00Z".parse().unwrap();
        assert!(!matches(&request(), &room, long_after));
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
            best(&request(), &rooms).map(|r| r.id.as_str()),
            Some("first")
        );
    }
}
