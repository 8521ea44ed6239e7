//! What a room's status says once the room is located: its code, URLs,
//! expiry, and the `Ready`/`Synced` conditions.

use std::time::Duration;

use jiff::Timestamp;

use crate::controller::outcome::Next;
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{READY, SYNCED, condition, now, set_condition};
use crate::crd::reasons::condition as reason;
use crate::crd::{MeetingRoom, MeetingRoomSpec, MeetingRoomStatus, RoomKind};
use crate::interned::SharedStr;
use crate::meetings::{Room, RoomType, format_timestamp};

/// `Ready`'s message for a room that is ready.
const READY_MESSAGE: &str = "the room is ready; its meeting code and join URLs are in status";

/// The status of a room that exists, and when to look at it again: just
/// after it expires, or at the resync when it has no expiry ahead.
pub(super) fn ready(
    room: &MeetingRoom,
    status: &mut MeetingRoomStatus,
    remote: &Room,
    theme_id: Option<String>,
    drift: &[&'static str],
) -> Next {
    let generation = room.metadata.generation;
    let expired = remote.is_expired_at(Timestamp::now());
    status.room_id = Some(remote.id.as_str().into());
    status.meeting_code = Some(remote.meeting_code.as_str())
        .filter(|code| !code.is_empty())
        .map(Into::into);
    status.guest_url = remote.guest_url().map(Into::into);
    status.expires_at = remote
        .expires_at
        .as_ref()
        .map(|at| format_timestamp(at).into());
    // Judged by time too: the live service kept `is_available: true` after expiry.
    status.is_available = Some(!expired);
    status.theme_id = remote
        .theme_id
        .as_deref()
        .or(theme_id.as_deref())
        .map(Into::into);
    if room.spec.management_policy == ManagementPolicy::Managed && !expired {
        // The update pass made the room's theme what the spec resolves to.
        status.applied_theme_id = theme_id.map(Into::into);
    }
    status.pending_create = None;
    status.observed_generation = generation;
    status.unfixable_differences = create_only_differences(&room.spec, remote);
    status.unfixable_differences.extend(
        drift
            .iter()
            .map(|field| format!("{field} (not changed in ObserveOnly mode)")),
    );
    let (ready_reason, message) = if expired {
        let at = status.expires_at.as_deref().unwrap_or("an unknown time");
        let message = format!(
            "room {} expired at {at}; no new sessions can start",
            remote.meeting_code
        );
        (reason::EXPIRED, SharedStr::from(message))
    } else {
        // The same text for every room (its code is in status), so that
        // cached rooms share one copy of it.
        (reason::READY, SharedStr::from(READY_MESSAGE))
    };
    set_condition(
        &mut status.conditions,
        condition(READY, !expired, ready_reason, message, generation, now()),
    );
    let (synced_reason, synced_message) =
        synced(room.spec.management_policy, &status.unfixable_differences);
    set_condition(
        &mut status.conditions,
        condition(
            SYNCED,
            true,
            synced_reason,
            synced_message,
            generation,
            now(),
        ),
    );
    if expired {
        // Observed again from the shared listing, so that an expiry the
        // service moves later (a room kept alive by a session) is seen.
        return Next::Resync;
    }
    let until_expiry = remote
        .expires_at
        .map(|expiry| expiry.as_millisecond() - Timestamp::now().as_millisecond())
        .filter(|until| *until > 0)
        .map(|until| Duration::from_millis(until as u64 + 1000));
    until_expiry.map_or(Next::Resync, Next::After)
}

/// The `Synced` reason and message of a located room.
fn synced(policy: ManagementPolicy, differences: &[String]) -> (&'static str, SharedStr) {
    match (policy, differences.is_empty()) {
        (ManagementPolicy::Managed, true) => (reason::READY, "the room matches the spec".into()),
        (ManagementPolicy::Managed, false) => (
            reason::CREATE_ONLY_DIFFERENCES,
            format!(
                "adopted room differs in create-only fields that cannot be changed: {}",
                differences.join("; ")
            )
            .into(),
        ),
        (ManagementPolicy::ObserveOnly, true) => (
            reason::OBSERVE_ONLY,
            "observing; the remote room matches the spec".into(),
        ),
        (ManagementPolicy::ObserveOnly, false) => (
            reason::OBSERVE_ONLY,
            format!(
                "observing only; the remote room differs: {}",
                differences.join("; ")
            )
            .into(),
        ),
    }
}

/// Whether a room that vanished from the API had expired first: its last
/// observed expiry has passed, it was already reported `Expired`, or it
/// closes after use (its first session may have ended it at any time). The
/// service may purge expired rooms, so such a vanish is not a loss.
pub(super) fn gone_after_expiry(room: &MeetingRoom, status: &MeetingRoomStatus) -> bool {
    let expiry_passed = status
        .expires_at
        .as_deref()
        .and_then(|at| at.parse::<Timestamp>().ok())
        .is_some_and(|at| at <= Timestamp::now());
    let reported_expired = status
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.reason == reason::EXPIRED);
    expiry_passed || reported_expired || room.spec.expire_after_use == Some(true)
}

/// The terminal status of a room that expired and then vanished: nothing is
/// created until the spec changes.
pub(super) fn expired_and_gone(room: &MeetingRoom, status: &mut MeetingRoomStatus, room_id: &str) {
    let generation = room.metadata.generation;
    let code = status.meeting_code.as_deref().unwrap_or(room_id).to_owned();
    let next_step = match room.spec.room_type {
        RoomKind::Instant => "delete and re-apply this MeetingRoom for a new room",
        RoomKind::LongTerm => {
            "change the spec (for example a later expiresAt) to create a new room, or delete this MeetingRoom"
        }
    };
    let at = status
        .expires_at
        .as_deref()
        .map(|at| format!(" at {at}"))
        .unwrap_or_default();
    let message = format!(
        "room {code} expired{at} and the Meetings API no longer has it; no new room is created: {next_step}"
    );
    status.is_available = Some(false);
    status.pending_create = None;
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            false,
            reason::EXPIRED,
            message.clone(),
            generation,
            now(),
        ),
    );
    set_condition(
        &mut status.conditions,
        condition(SYNCED, true, reason::EXPIRED, message, generation, now()),
    );
}

/// Create-only fields where the remote room differs from the spec; they can
/// never be changed, only reported (adopted rooms).
fn create_only_differences(spec: &MeetingRoomSpec, remote: &Room) -> Vec<String> {
    let mut differences = Vec::new();
    if remote.display_name != spec.display_name {
        differences.push(format!(
            "displayName is {:?} in the API",
            remote.display_name
        ));
    }
    if remote.metadata.as_deref().unwrap_or("") != spec.metadata.as_deref().unwrap_or("") {
        differences.push("metadata differs in the API".to_owned());
    }
    let want_type = match spec.room_type {
        RoomKind::Instant => RoomType::Instant,
        RoomKind::LongTerm => RoomType::LongTerm,
    };
    if remote.room_type != want_type {
        differences.push(format!("type is {:?} in the API", remote.room_type));
    }
    if let Some(want) = spec.recording_options.as_ref() {
        let have = remote.recording_options.clone().unwrap_or_default();
        let auto = want
            .auto_record
            .is_some_and(|v| have.auto_record != Some(v));
        let owner = want
            .record_only_owner
            .is_some_and(|v| have.record_only_owner != Some(v));
        if auto || owner {
            differences.push("recordingOptions differ in the API".to_owned());
        }
    }
    differences
}
