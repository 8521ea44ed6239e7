//! Rooms are resynced by listing, not one by one: every resync cycle one
//! listing per application (its pages taken from spare rate-limit capacity
//! for up to three periods, see [`Priority::Background`]) is compared with
//! what each room's last pass saw, and only the rooms that need a pass are
//! handed to the controller:
//! their remote room changed or vanished, is about to expire, or their
//! credentials now name another application. A settled room holds no timer
//! of its own, so an idle operator costs one listing per period.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::Rooms;
use crate::crd::annotations;
use crate::crd::common::CredentialsRef;
use crate::crd::{MeetingRoom, MeetingRoomStatus};
use crate::meetings::{Priority, Room, RoomLinks};
use crate::services::key_digest::key_digest;
use crate::services::snapshot::{Freshness, View};

/// What each room's last pass saw of its remote room, by the room's uid.
#[derive(Default)]
pub struct Seen {
    /// Fingerprints by the digest of the room's uid.
    fingerprints: Mutex<HashMap<u128, u64>>,
}

impl Seen {
    /// Notes that the pass of the room with `uid` saw `remote` (`None`:
    /// the remote room is gone and the pass settled that).
    pub fn record(&self, uid: &str, remote: Option<&Room>) {
        let fingerprint = fingerprint(remote);
        self.lock().insert(key_digest(&[uid]), fingerprint);
    }

    fn get(&self, uid: &str) -> Option<u64> {
        self.lock().get(&key_digest(&[uid])).copied()
    }

    /// Forgets every room whose uid is not among `uids`.
    fn retain<'a>(&self, uids: impl Iterator<Item = &'a str>) {
        let kept: HashSet<u128> = uids.map(|uid| key_digest(&[uid])).collect();
        self.lock().retain(|uid, _| kept.contains(uid));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u128, u64>> {
        self.fingerprints.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A hash of everything the service says about a room but its host URL (a
/// credential re-issued on every read, and kept out of listings). The room
/// is taken apart field by field, so a field added to [`Room`] does not
/// compile here until it is hashed or left out on purpose.
fn fingerprint(remote: Option<&Room>) -> u64 {
    let mut hasher = DefaultHasher::new();
    let Some(room) = remote else {
        0u8.hash(&mut hasher);
        return hasher.finish();
    };
    let Room {
        id,
        display_name,
        metadata,
        room_type,
        recording_options,
        meeting_code,
        is_available,
        theme_id,
        created_at,
        expires_at,
        expire_after_use,
        join_approval_level,
        callback_urls,
        available_features,
        links: RoomLinks {
            guest_url,
            host_url: _,
        },
    } = room;
    1u8.hash(&mut hasher);
    (id, display_name, metadata, room_type, recording_options).hash(&mut hasher);
    (meeting_code, is_available, theme_id, created_at, expires_at).hash(&mut hasher);
    (expire_after_use, join_approval_level, callback_urls).hash(&mut hasher);
    (available_features, guest_url).hash(&mut hasher);
    hasher.finish()
}

/// Why a room is handed to the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// No pass of this process has seen the remote room yet.
    Unseen,
    /// The remote room differs from what the last pass saw.
    Changed,
    /// The remote room is no longer listed.
    Vanished,
    /// The remote room expires before the listing after next.
    Expiring,
    /// The credentials now name another application than the room's.
    Application,
    /// The credentials could not be read.
    Credentials,
}

impl Why {
    /// The `reason` label of `meetings_operator_resync_wakeups_total`.
    pub fn label(self) -> &'static str {
        match self {
            Why::Unseen => "unseen",
            Why::Changed => "changed",
            Why::Vanished => "vanished",
            Why::Expiring => "expiring",
            Why::Application => "application",
            Why::Credentials => "credentials",
        }
    }
}

/// Whether a room of application `application_id` with `status` needs a
/// pass, given the room the listing holds for it, the fingerprint its last
/// pass recorded, and the time window `now..horizon` in which an expiry
/// needs a timer.
pub fn needs_pass(
    status: &MeetingRoomStatus,
    application_id: &str,
    listed: Option<&Room>,
    seen: Option<u64>,
    (now, horizon): (Timestamp, Timestamp),
) -> Option<Why> {
    if status
        .application_id
        .as_deref()
        .is_some_and(|app| app != application_id)
    {
        return Some(Why::Application);
    }
    let Some(seen) = seen else {
        return Some(Why::Unseen);
    };
    if seen != fingerprint(listed) {
        return Some(if listed.is_some() {
            Why::Changed
        } else {
            Why::Vanished
        });
    }
    let expiring = listed
        .and_then(|room| room.expires_at)
        .is_some_and(|expiry| expiry > now && expiry <= horizon);
    expiring.then_some(Why::Expiring)
}

/// Lists at each beginning of the resync cycle (a listing of 1,000 pages
/// takes about a minute), and hands the rooms that need a pass to the room
/// controller ([`Rooms::wakeups`]). Runs until the cycle ends.
///
/// Each sweep takes a listing begun after the last sweep ended: one that a
/// theme's count began in between serves it, the one the last sweep
/// compared never does, however short the jittered period since.
pub async fn run(rooms: Arc<Rooms>) {
    let cycle = &rooms.services.cycle;
    let mut last_sweep_ended = cycle.began();
    let mut beginnings = std::pin::pin!(cycle.beginnings());
    while beginnings.next().await.is_some() {
        sweep(&rooms, last_sweep_ended.into_std()).await;
        last_sweep_ended = tokio::time::Instant::now();
    }
}

/// Rooms grouped by the credentials they use: (namespace, reference).
type ByCredentials = HashMap<(String, Option<Box<CredentialsRef>>), Vec<Arc<MeetingRoom>>>;

/// One period: a listing per application, newer than `not_before`, and the
/// rooms that need a pass woken.
async fn sweep(rooms: &Rooms, not_before: Instant) {
    let services = &rooms.services;
    let settings = &services.settings;
    let all = services.rooms.state();
    rooms
        .seen
        .retain(all.iter().filter_map(|room| room.metadata.uid.as_deref()));
    let mut groups = ByCredentials::new();
    for room in &all {
        let listed = room.status.as_ref().is_some_and(|s| s.room_id.is_some());
        if !listed
            || room.metadata.deletion_timestamp.is_some()
            || annotations::paused(&room.metadata)
        {
            continue;
        }
        let key = (
            room.namespace().unwrap_or_default(),
            room.spec.credentials_ref.clone(),
        );
        groups.entry(key).or_default().push(room.clone());
    }
    let freshness = Freshness {
        max_age: settings.resync,
        not_before: Some(not_before),
    };
    // While rooms are being created the bucket is seldom full: the listing
    // waits up to three periods for spare tokens, then takes its turn.
    let priority = Priority::Background {
        until: tokio::time::Instant::now() + settings.resync * 3,
    };
    let now = Timestamp::now();
    let window = (now, now + settings.expiry_horizon());
    let hand_over = |room: &MeetingRoom, why: Why| {
        services.metrics.resync_wakeup(why.label());
        rooms.wake(ObjectRef::from(room));
    };
    let mut views: HashMap<String, View> = HashMap::new();
    for ((namespace, credentials_ref), members) in groups {
        let client = match services
            .credentials
            .client(&namespace, credentials_ref.as_deref())
            .await
        {
            Ok(client) => client,
            Err(_) => {
                // Each pass reports the problem in its own status.
                members
                    .iter()
                    .for_each(|room| hand_over(room, Why::Credentials));
                continue;
            }
        };
        let app = client.application_id().to_owned();
        if !views.contains_key(&app) {
            match services.snapshots.view(&client, freshness, priority).await {
                Ok(view) => views.insert(app.clone(), view),
                Err(error) => {
                    tracing::warn!(application = %app, %error, "resync listing failed; the next period lists again");
                    continue;
                }
            };
        }
        let Some(view) = views.get(&app) else {
            continue;
        };
        for room in &members {
            let Some(status) = room.status.as_ref() else {
                continue;
            };
            let listed = status.room_id.as_deref().and_then(|id| view.get(id));
            let uid = room.uid().unwrap_or_default();
            let seen = rooms.seen.get(&uid);
            if let Some(why) = needs_pass(status, &app, listed, seen, window) {
                if why == Why::Unseen {
                    // Woken once: later periods compare with this listing
                    // unless a pass records what it saw.
                    rooms.seen.record(&uid, listed);
                }
                hand_over(room, why);
            }
        }
    }
    tracing::debug!(rooms = all.len(), "resync listing compared");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meetings::{AvailableFeatures, JoinApprovalLevel, Link, RecordingOptions, RoomType};

    fn room(id: &str, expires_in_secs: i64) -> Room {
        Room {
            id: id.to_owned(),
            display_name: "r".to_owned(),
            meeting_code: "123".to_owned(),
            expires_at: Some(Timestamp::now() + jiff::SignedDuration::from_secs(expires_in_secs)),
            ..Room::default()
        }
    }

    fn status(app: &str) -> MeetingRoomStatus {
        MeetingRoomStatus {
            room_id: Some("id".into()),
            application_id: Some(app.into()),
            ..MeetingRoomStatus::default()
        }
    }

    /// What `needs_pass` says of an app-"app" room whose pass saw `seen`
    /// while the listing holds `listed`.
    fn verdict(listed: Option<&Room>, seen: Option<&Room>) -> Option<Why> {
        let seen = Some(fingerprint(seen));
        needs_pass(&status("app"), "app", listed, seen, window(1))
    }

    fn window(hours: i64) -> (Timestamp, Timestamp) {
        let now = Timestamp::now();
        (now, now + jiff::SignedDuration::from_hours(hours))
    }

    #[test]
    fn a_room_as_its_pass_saw_it_needs_no_pass() {
        let listed = room("id", 86_400 * 30);
        assert_eq!(verdict(Some(&listed), Some(&listed)), None);
    }

    #[test]
    fn the_host_url_is_not_part_of_what_a_pass_saw() {
        let listed = room("id", 86_400 * 30);
        let mut created = listed.clone();
        created.links = RoomLinks {
            host_url: Some(Link {
                href: "https://example.test/?participant_token=secret".to_owned(),
            }),
            ..created.links
        };
        assert_eq!(verdict(Some(&listed), Some(&created)), None);
    }

    #[test]
    fn every_field_but_the_host_url_is_part_of_what_a_pass_saw() {
        let listed = room("id", 86_400 * 30);
        let seen = fingerprint(Some(&listed));
        let changes: [fn(&mut Room); 14] = [
            |r| r.id = "other".to_owned(),
            |r| r.display_name = "other".to_owned(),
            |r| r.metadata = Some("other".to_owned()),
            |r| r.room_type = RoomType::LongTerm,
            |r| r.recording_options = Some(RecordingOptions::default()),
            |r| r.meeting_code = "999".to_owned(),
            |r| r.is_available = Some(false),
            |r| r.theme_id = Some("other".into()),
            |r| r.created_at = Some(Timestamp::UNIX_EPOCH),
            |r| r.expires_at = None,
            |r| r.expire_after_use = Some(true),
            |r| r.join_approval_level = Some(JoinApprovalLevel::ExplicitApproval),
            |r| r.callback_urls = Some(Box::default()),
            |r| {
                r.links.guest_url = Some(Link {
                    href: "https://example.test/other".to_owned(),
                })
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = listed.clone();
            change(&mut changed);
            assert_ne!(changed, listed, "change {i} changes the room");
            assert_ne!(fingerprint(Some(&changed)), seen, "change {i}");
        }
        let mut features = listed.clone();
        features.available_features = Some(AvailableFeatures {
            is_chat_available: Some(false),
            ..AvailableFeatures::default()
        });
        assert_ne!(fingerprint(Some(&features)), seen);
        assert_ne!(fingerprint(None), seen);
    }

    #[test]
    fn changed_vanished_unseen_and_moved_rooms_need_a_pass() {
        let listed = room("id", 86_400 * 30);
        let seen = Some(fingerprint(Some(&listed)));
        let mut renamed = listed.clone();
        renamed.display_name = "changed".to_owned();
        let cases = [
            (status("app"), "app", Some(&renamed), seen, Why::Changed),
            (status("app"), "app", None, seen, Why::Vanished),
            (status("app"), "app", Some(&listed), None, Why::Unseen),
            (
                status("other"),
                "app",
                Some(&listed),
                seen,
                Why::Application,
            ),
        ];
        for (status, app, listed, seen, why) in cases {
            assert_eq!(needs_pass(&status, app, listed, seen, window(1)), Some(why));
        }
    }

    #[test]
    fn a_room_gone_when_its_pass_settled_that_needs_no_pass() {
        assert_eq!(verdict(None, None), None);
    }

    #[test]
    fn a_room_expiring_within_the_horizon_gets_a_timer_once_expired_none() {
        let soon = room("id", 600);
        assert_eq!(verdict(Some(&soon), Some(&soon)), Some(Why::Expiring));
        let expired = room("id", -600);
        assert_eq!(verdict(Some(&expired), Some(&expired)), None);
    }
}
