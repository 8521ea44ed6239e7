//! Pure translation between a `MeetingRoom` spec and the API's room: what to
//! create, which mutable fields differ, and what to show in status.

use jiff::Timestamp;

use crate::crd::room::{
    JoinApproval, MeetingRoomSpec, RoomCallbackUrls, RoomFeatures, RoomKind, RoomRecordingOptions,
};
use crate::meetings::{
    AvailableFeatures, CallbackUrls, CreateRoom, JoinApprovalLevel, RecordingOptions, Room,
    RoomType, RoomUpdate,
};

/// A spec value the API would refuse, found before any call.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// `expiresAt` is not an RFC 3339 timestamp.
    #[error("spec.expiresAt {0:?} is not an RFC 3339 timestamp such as 2030-01-31T12:00:00Z")]
    BadExpiry(String),
}

fn room_type(kind: RoomKind) -> RoomType {
    match kind {
        RoomKind::Instant => RoomType::Instant,
        RoomKind::LongTerm => RoomType::LongTerm,
    }
}

fn approval(level: JoinApproval) -> JoinApprovalLevel {
    match level {
        JoinApproval::None => JoinApprovalLevel::None,
        JoinApproval::AfterOwnerOnly => JoinApprovalLevel::AfterOwnerOnly,
        JoinApproval::ExplicitApproval => JoinApprovalLevel::ExplicitApproval,
    }
}

fn callbacks(urls: &RoomCallbackUrls) -> CallbackUrls {
    CallbackUrls {
        rooms_callback_url: urls.rooms_callback_url.clone(),
        sessions_callback_url: urls.sessions_callback_url.clone(),
        recordings_callback_url: urls.recordings_callback_url.clone(),
    }
}

fn features(f: &RoomFeatures) -> AvailableFeatures {
    AvailableFeatures {
        is_recording_available: f.is_recording_available,
        is_chat_available: f.is_chat_available,
        is_whiteboard_available: f.is_whiteboard_available,
    }
}

fn recording(options: &RoomRecordingOptions) -> RecordingOptions {
    RecordingOptions {
        auto_record: options.auto_record,
        record_only_owner: options.record_only_owner,
    }
}

/// The spec's expiry as a timestamp.
pub fn expiry(spec: &MeetingRoomSpec) -> Result<Option<Timestamp>, SpecError> {
    spec.expires_at
        .as_deref()
        .map(|text| {
            text.parse::<Timestamp>()
                .map_err(|_| SpecError::BadExpiry(text.to_owned()))
        })
        .transpose()
}

/// The `POST /rooms` body for a spec, its resolved theme and its effective
/// callback URLs (see [`crate::crd::MeetingRoomSpec::effective_callback_urls`]).
pub fn create_request(
    spec: &MeetingRoomSpec,
    theme_id: Option<&str>,
    callback_urls: Option<&RoomCallbackUrls>,
) -> Result<CreateRoom, SpecError> {
    Ok(CreateRoom {
        display_name: spec.display_name.clone(),
        // The service refuses empty metadata and stores none the same way.
        metadata: spec.metadata.clone().filter(|m| !m.is_empty()),
        room_type: room_type(spec.room_type),
        expires_at: expiry(spec)?,
        recording_options: spec.recording_options.as_ref().map(recording),
        expire_after_use: spec.expire_after_use,
        theme_id: theme_id.map(str::to_owned),
        join_approval_level: spec.join_approval_level.map(approval),
        callback_urls: callback_urls.map(callbacks),
        available_features: spec.available_features.as_ref().map(features),
    })
}

/// Fields set in `want` that differ in `have`; fields not set are left alone.
fn differs<T: PartialEq + Clone>(want: Option<T>, have: Option<T>) -> Option<T> {
    want.filter(|w| have.as_ref() != Some(w))
}

/// Merges the set fields of `want` over `have`, returning the merge if it differs.
fn callbacks_update(want: &CallbackUrls, have: Option<&CallbackUrls>) -> Option<CallbackUrls> {
    let current = have.cloned().unwrap_or_default();
    let merged = CallbackUrls {
        rooms_callback_url: want
            .rooms_callback_url
            .clone()
            .or(current.rooms_callback_url.clone()),
        sessions_callback_url: want
            .sessions_callback_url
            .clone()
            .or(current.sessions_callback_url.clone()),
        recordings_callback_url: want
            .recordings_callback_url
            .clone()
            .or(current.recordings_callback_url.clone()),
    };
    (merged != current).then_some(merged)
}

fn features_update(
    want: &AvailableFeatures,
    have: Option<&AvailableFeatures>,
) -> Option<AvailableFeatures> {
    let current = have.cloned().unwrap_or_default();
    let merged = AvailableFeatures {
        is_recording_available: want
            .is_recording_available
            .or(current.is_recording_available),
        is_chat_available: want.is_chat_available.or(current.is_chat_available),
        is_whiteboard_available: want
            .is_whiteboard_available
            .or(current.is_whiteboard_available),
    };
    (merged != current).then_some(merged)
}

/// The mutable fields to send so `remote` matches `spec` with `theme_id`
/// and the effective `callback_urls`. Empty when nothing differs. The host
/// URL is never compared.
///
/// A field the spec leaves unset is no opinion and never sent, with one
/// exception: the theme the operator applied (`applied_theme`) is cleared
/// once `themeRef` is removed, while the room still has it. The API has no
/// way to unset the other fields, so removing them changes nothing.
pub fn mutable_diff(
    spec: &MeetingRoomSpec,
    theme_id: Option<&str>,
    applied_theme: Option<&str>,
    callback_urls: Option<&RoomCallbackUrls>,
    remote: &Room,
) -> Result<RoomUpdate, SpecError> {
    let want_expiry = expiry(spec)?;
    let expires_at = want_expiry.filter(|want| {
        remote
            .expires_at
            .is_none_or(|have| have.as_millisecond() != want.as_millisecond())
    });
    let theme = match (theme_id, remote.theme_id.as_deref()) {
        (Some(want), Some(have)) if want == have => None,
        (Some(want), _) => Some(Some(want.to_owned())),
        (None, Some(have)) if spec.theme_ref.is_none() && applied_theme == Some(have) => Some(None),
        (None, _) => None,
    };
    Ok(RoomUpdate {
        expires_at,
        expire_after_use: differs(spec.expire_after_use, remote.expire_after_use),
        theme_id: theme,
        join_approval_level: differs(
            spec.join_approval_level.map(approval),
            remote.join_approval_level,
        ),
        callback_urls: callback_urls
            .and_then(|want| callbacks_update(&callbacks(want), remote.callback_urls.as_deref())),
        available_features: spec
            .available_features
            .as_ref()
            .and_then(|want| features_update(&features(want), remote.available_features.as_ref())),
    })
}

/// Names of the fields an update sets, for events and logs.
pub fn changed_fields(update: &RoomUpdate) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if update.expires_at.is_some() {
        fields.push("expiresAt");
    }
    if update.expire_after_use.is_some() {
        fields.push("expireAfterUse");
    }
    if update.theme_id.is_some() {
        fields.push("themeRef");
    }
    if update.join_approval_level.is_some() {
        fields.push("joinApprovalLevel");
    }
    if update.callback_urls.is_some() {
        fields.push("callbackUrls");
    }
    if update.available_features.is_some() {
        fields.push("availableFeatures");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: serde_json::Value) -> MeetingRoomSpec {
        serde_json::from_value(value).unwrap()
    }

    fn remote_long_term() -> Room {
        serde_json::from_value(serde_json::json!({
            "id": "r1", "display_name": "Weekly", "type": "long_term",
            "meeting_code": "123456789", "expires_at": "2030-01-01T00:00:00.000Z",
            "theme_id": "t1", "join_approval_level": "none",
            "callback_urls": {"rooms_callback_url": "https://a.example/rooms"},
            "available_features": {"is_chat_available": true, "is_recording_available": true},
            "_links": {"host_url": {"href": "https://meetings.vonage.com/?participant_token=changes-every-read"}}
        }))
        .unwrap()
    }

    #[test]
    fn an_unchanged_room_needs_no_update() {
        let s = spec(serde_json::json!({
            "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z",
            "joinApprovalLevel": "none", "themeRef": {"name": "brand"},
            "callbackUrls": {"roomsCallbackUrl": "https://a.example/rooms"},
            "availableFeatures": {"isChatAvailable": true}
        }));
        let update = mutable_diff(
            &s,
            Some("t1"),
            Some("t1"),
            s.callback_urls.as_deref(),
            &remote_long_term(),
        )
        .unwrap();
        assert!(update.is_empty(), "{update:?}");
    }

    #[test]
    fn only_changed_fields_are_sent() {
        let s = spec(serde_json::json!({
            "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z",
            "joinApprovalLevel": "explicit_approval", "themeRef": {"name": "brand"},
            "availableFeatures": {"isChatAvailable": false}
        }));
        let update = mutable_diff(
            &s,
            Some("t2"),
            Some("t1"),
            s.callback_urls.as_deref(),
            &remote_long_term(),
        )
        .unwrap();
        assert_eq!(
            changed_fields(&update),
            ["themeRef", "joinApprovalLevel", "availableFeatures"]
        );
        let features = update.available_features.unwrap();
        assert_eq!(features.is_chat_available, Some(false));
        assert_eq!(
            features.is_recording_available,
            Some(true),
            "fields the spec leaves unset keep their remote value"
        );
    }

    #[test]
    fn removing_the_theme_ref_clears_the_theme_the_operator_applied() {
        let s = spec(serde_json::json!({
            "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z"
        }));
        let update = mutable_diff(&s, None, Some("t1"), None, &remote_long_term()).unwrap();
        assert_eq!(update.theme_id, Some(None));
    }

    #[test]
    fn a_theme_the_operator_never_applied_is_left_alone() {
        let s = spec(serde_json::json!({
            "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z"
        }));
        // The application default theme, reported on a room created without one.
        let update = mutable_diff(&s, None, None, None, &remote_long_term()).unwrap();
        assert!(update.is_empty(), "{update:?}");
        // A theme applied earlier but since replaced by someone else.
        let update = mutable_diff(&s, None, Some("t0"), None, &remote_long_term()).unwrap();
        assert!(update.is_empty(), "{update:?}");
    }

    #[test]
    fn unset_optional_fields_are_no_opinion() {
        let s = spec(serde_json::json!({
            "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z"
        }));
        let mut remote = remote_long_term();
        remote.expire_after_use = Some(true);
        remote.join_approval_level = Some(JoinApprovalLevel::ExplicitApproval);
        remote.available_features = Some(AvailableFeatures {
            is_recording_available: Some(false),
            is_chat_available: Some(false),
            is_whiteboard_available: Some(false),
        });
        let update = mutable_diff(&s, None, None, None, &remote).unwrap();
        assert!(update.is_empty(), "{update:?}");
    }

    #[test]
    fn bad_expiry_is_reported() {
        let s = spec(serde_json::json!({
            "displayName": "x", "type": "long_term", "expiresAt": "next tuesday"
        }));
        assert!(matches!(
            create_request(&s, None, None),
            Err(SpecError::BadExpiry(_))
        ));
    }
}
