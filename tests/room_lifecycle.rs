//! A room's life as the service documents it, end to end: an instant room
//! kept alive by a session, expired rooms that the service purges (never
//! created again), a room that vanishes before it expires (created again),
//! the lost create of a room with partial recording options, and the
//! application default theme left alone. Runs in the world
//! `MEETINGS_SIM_WORLD` picks (`scripts/test.sh` runs both).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{
    AvailableFeatures, JoinApprovalLevel, RoomUpdate, format_timestamp,
};
use meetings_simulator::{FaultKind, FaultSpec};
use operator_env::{OperatorEnv, condition_message};
use serde_json::json;
use uuid::Uuid;

/// Lifetime of an instant room in these tests, in seconds.
const INSTANT_LIFETIME: u64 = 6;

fn room(name: &str, spec: serde_json::Value) -> serde_json::Value {
    let mut room = json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {"displayName": format!("Room {name}")}
    });
    if let (Some(target), Some(extra)) = (room["spec"].as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    room
}

fn theme(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"mainColor": "#0a66c2", "brandText": "Acme"}
    })
}

fn in_secs(secs: i64) -> String {
    format_timestamp(&(Timestamp::now() + SignedDuration::from_secs(secs)))
}

/// A simulator whose rooms live seconds, not minutes, so that the operator's
/// own clock sees them expire (it judges expiry by time as well as by the
/// flag, which the live service kept `true`).
async fn short_lived(prefix: &str, purge_after: Option<u64>) -> OperatorEnv {
    let mut env = OperatorEnv::new(prefix, |config| {
        config.behavior.instant_lifetime_secs = INSTANT_LIFETIME;
        config.behavior.long_term_min_lifetime_secs = 1;
        config.behavior.purge_expired_after_secs = purge_after;
    })
    .await;
    env.start_operator();
    env
}

fn room_id(room: &MeetingRoom) -> String {
    room.status
        .as_ref()
        .and_then(|s| s.room_id.as_deref().map(str::to_owned))
        .expect("status has the room id")
}

/// Waits until the simulator has purged every room, then nudges the room
/// until the operator reports it expired and gone (the shared listing it
/// observes through may be a resync period old).
async fn wait_expired_and_gone(env: &OperatorEnv, name: &str) -> MeetingRoom {
    support::eventually("the room purged", Duration::from_secs(20), || async {
        env.sim
            .rooms(&env.app.application_id)
            .is_empty()
            .then_some(())
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        nudge(env, name).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let room = env.api::<MeetingRoom>().get(name).await.expect("room read");
        let message = condition_message(room.status.as_ref().map(|s| &s.conditions[..]), "Ready");
        if message.contains("no new room is created") {
            return room;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} not reported expired and gone: {message}"
        );
    }
}

/// Touches the object without changing its spec, so the operator reconciles it.
async fn nudge(env: &OperatorEnv, name: &str) {
    env.api::<MeetingRoom>()
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {
                "test/nudged": Timestamp::now().to_string()
            }}})),
        )
        .await
        .expect("room annotated");
}

#[tokio::test]
async fn a_lost_create_with_partial_recording_options_gives_one_room() {
    let mut env = OperatorEnv::new("lost-recording", |_| {}).await;
    env.sim
        .faults()
        .add(FaultSpec::new("createRoom", FaultKind::CommitThenDrop).times(1));
    env.start_operator();
    env.create::<MeetingRoom>(room(
        "r",
        json!({"type": "long_term", "expiresAt": in_secs(30 * 86_400),
               "recordingOptions": {"autoRecord": true}}),
    ))
    .await
    .unwrap();
    env.wait_room("r", "True", "Ready").await;
    let named = env
        .sim
        .rooms(&env.app.application_id)
        .into_iter()
        .filter(|r| r.display_name == "Room r")
        .count();
    assert_eq!(named, 1, "the lost create was adopted, not repeated");
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
    let events = env.events_for("r").await.join("\n");
    assert!(events.contains("CreateRecovered"), "{events}");
}

#[tokio::test]
async fn an_instant_room_in_use_outlives_its_first_expiry_and_is_not_recreated_once_purged() {
    let env = short_lived("instant-life", Some(2)).await;
    env.create::<MeetingRoom>(room("i", json!({"type": "instant"})))
        .await
        .unwrap();
    let ready = env.wait_room("i", "True", "Ready").await;
    let id: Uuid = room_id(&ready).parse().unwrap();
    let first_expiry = ready.status.unwrap().expires_at.unwrap();

    let session = env.sim.start_session(id).unwrap();
    let guest = env.sim.join_session(&session.id, "Guest", false).unwrap();
    // Past the first expiry, the session keeps the room alive.
    tokio::time::sleep(Duration::from_secs(INSTANT_LIFETIME + 3)).await;
    let alive = env
        .wait_for::<MeetingRoom, _>(
            "i",
            "Ready past its first expiry",
            Duration::from_secs(10),
            |r| {
                r.status.as_ref().is_some_and(|s| {
                    s.expires_at.as_deref() > Some(&*first_expiry)
                        && s.conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            },
        )
        .await;
    assert!(Timestamp::now() > first_expiry.parse::<Timestamp>().unwrap());
    assert!(alive.status.unwrap().expires_at.is_some());

    // The last participant leaves: the room expires a lifetime later, then is purged.
    env.sim.leave_session(&session.id, guest.id).unwrap();
    let expired = env.wait_room("i", "False", "Expired").await;
    env.sim.end_session(&session.id).ok();
    let after = wait_expired_and_gone(&env, "i").await;
    assert!(operator_env::has_condition(
        after.status.as_ref().map(|s| &s.conditions[..]),
        "Ready",
        "False",
        "Expired"
    ));
    assert_eq!(room_id(&after), room_id(&expired));
    assert_eq!(
        env.sim.counters().operation("createRoom"),
        1,
        "never created again"
    );
    let events = env.events_for("i").await.join("\n");
    assert!(!events.contains("Recreated"), "{events}");
}

#[tokio::test]
async fn an_instant_room_in_use_is_ready_again_when_the_service_reports_its_expiry_late() {
    // The other way the service may report a room kept alive by a session:
    // its first expiry until the last participant leaves, then a new one.
    let mut env = OperatorEnv::new("instant-late", |config| {
        config.behavior.instant_lifetime_secs = INSTANT_LIFETIME;
        config.behavior.instant_expiry_moves_during_use = false;
        config.behavior.purge_expired_after_secs = Some(2);
    })
    .await;
    env.start_operator();
    env.create::<MeetingRoom>(room("i", json!({"type": "instant"})))
        .await
        .unwrap();
    let ready = env.wait_room("i", "True", "Ready").await;
    let id: Uuid = room_id(&ready).parse().unwrap();
    let session = env.sim.start_session(id).unwrap();
    let guest = env.sim.join_session(&session.id, "Guest", false).unwrap();
    // By its first expiry the room looks expired, though it is in use.
    env.wait_room("i", "False", "Expired").await;
    env.sim.leave_session(&session.id, guest.id).unwrap();
    // The service now reports a later expiry: the room is Ready again...
    env.wait_room("i", "True", "Ready").await;
    // ...until it expires for good and is purged, and nothing is created.
    env.sim.end_session(&session.id).ok();
    let after = wait_expired_and_gone(&env, "i").await;
    assert_eq!(room_id(&after), id.to_string());
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
    let events = env.events_for("i").await.join("\n");
    assert!(!events.contains("Recreated"), "{events}");
}

#[tokio::test]
async fn an_expired_room_that_is_purged_stays_expired_until_the_spec_changes() {
    let env = short_lived("purged", Some(0)).await;
    env.create::<MeetingRoom>(room(
        "lt",
        json!({"type": "long_term", "expiresAt": in_secs(5)}),
    ))
    .await
    .unwrap();
    let ready = env.wait_room("lt", "True", "Ready").await;
    let first = room_id(&ready);
    let expired = env.wait_room("lt", "False", "Expired").await;
    wait_expired_and_gone(&env, "lt").await;
    let still = env.wait_room("lt", "False", "Expired").await;
    assert_eq!(room_id(&still), first);
    assert_eq!(
        still.status.as_ref().unwrap().is_available,
        Some(false),
        "{:?}",
        expired.status
    );
    assert_eq!(env.sim.counters().operation("createRoom"), 1);

    // A new expiry is a new spec: now a new room is created, and says so.
    env.patch_room_spec("lt", json!({"expiresAt": in_secs(30 * 86_400)}))
        .await;
    let renewed = env
        .wait_for::<MeetingRoom, _>("lt", "Ready on a new room", Duration::from_secs(30), |r| {
            r.status.as_ref().is_some_and(|s| {
                s.room_id.as_deref() != Some(first.as_str())
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .await;
    assert_eq!(env.sim.counters().operation("createRoom"), 2);
    assert_eq!(env.sim.rooms(&env.app.application_id).len(), 1);
    let events = env.events_for("lt").await.join("\n");
    assert!(events.contains("spec changed since"), "{events}");
    assert!(renewed.status.unwrap().room_id.is_some());
}

#[tokio::test]
async fn an_expired_room_that_stays_listed_is_reported_expired_without_a_new_room() {
    let env = short_lived("listed", None).await;
    env.create::<MeetingRoom>(room(
        "lt",
        json!({"type": "long_term", "expiresAt": in_secs(5)}),
    ))
    .await
    .unwrap();
    env.wait_room("lt", "True", "Ready").await;
    let expired = env.wait_room("lt", "False", "Expired").await;
    assert_eq!(expired.status.unwrap().is_available, Some(false));
    nudge(&env, "lt").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        env.sim.rooms(&env.app.application_id).len(),
        1,
        "still listed"
    );
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
    assert_eq!(env.sim.counters().operation("updateRoom"), 0);
}

#[tokio::test]
async fn a_room_that_vanishes_before_it_expires_is_created_again() {
    let env = short_lived("vanished", None).await;
    env.create::<MeetingRoom>(room(
        "lt",
        json!({"type": "long_term", "expiresAt": in_secs(30 * 86_400)}),
    ))
    .await
    .unwrap();
    let ready = env.wait_room("lt", "True", "Ready").await;
    let first = room_id(&ready);
    env.sim
        .remove_room(&env.app.application_id, &first)
        .expect("room removed");
    let recreated = env
        .wait_for::<MeetingRoom, _>("lt", "on a new room", Duration::from_secs(30), |r| {
            r.status.as_ref().is_some_and(|s| {
                s.room_id.as_deref().is_some_and(|id| id != first)
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .await;
    assert!(recreated.status.unwrap().meeting_code.is_some());
    assert_eq!(env.sim.rooms(&env.app.application_id).len(), 1);
    let events = env.events_for("lt").await.join("\n");
    assert!(events.contains("Recreated"), "{events}");
    assert!(events.contains("before it expired"), "{events}");
}

#[tokio::test]
async fn the_default_theme_and_other_unset_fields_are_left_alone() {
    let mut env = OperatorEnv::new("default-theme", |config| {
        config.behavior.rooms_report_default_theme = true;
    })
    .await;
    env.start_operator();
    env.create::<MeetingTheme>(theme("default")).await.unwrap();
    env.create::<MeetingTheme>(theme("brand")).await.unwrap();
    let default = env.wait_theme("default", "Ready", "True", "Ready").await;
    let brand = env.wait_theme("brand", "Ready", "True", "Ready").await;
    let default_id = default.status.unwrap().theme_id.unwrap();
    let brand_id = brand.status.unwrap().theme_id.unwrap();
    let api = env.api_client();
    api.set_default_theme(&default_id).await.unwrap();

    env.create::<MeetingRoom>(room(
        "r",
        json!({"type": "long_term", "expiresAt": in_secs(30 * 86_400)}),
    ))
    .await
    .unwrap();
    let ready = env.wait_room("r", "True", "Ready").await;
    let id = room_id(&ready);
    assert_eq!(
        api.get_room(&id).await.unwrap().theme_id.as_deref(),
        Some(default_id.as_str()),
        "the service reports the default theme on a room created without one"
    );
    // Someone changes fields the spec says nothing about.
    api.update_room(
        &id,
        &RoomUpdate {
            expire_after_use: Some(true),
            join_approval_level: Some(JoinApprovalLevel::ExplicitApproval),
            available_features: Some(AvailableFeatures {
                is_chat_available: Some(false),
                ..AvailableFeatures::default()
            }),
            ..RoomUpdate::default()
        },
    )
    .await
    .unwrap();
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        env.sim.counters().operation("updateRoom"),
        0,
        "unset fields and the default theme are no opinion"
    );

    // A theme the operator applies, then removes, is cleared once.
    env.patch_room_spec("r", json!({"themeRef": {"name": "brand"}}))
        .await;
    env.wait_for::<MeetingRoom, _>("r", "on the brand theme", Duration::from_secs(30), |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.applied_theme_id.as_deref() == Some(brand_id.as_str()))
    })
    .await;
    env.patch_room_spec("r", json!({"themeRef": null})).await;
    env.wait_for::<MeetingRoom, _>("r", "off the brand theme", Duration::from_secs(30), |r| {
        r.status.as_ref().is_some_and(|s| {
            s.applied_theme_id.is_none() && s.observed_generation == r.metadata.generation
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        env.sim.counters().operation("updateRoom"),
        2,
        "one update to apply the theme, one to clear it"
    );
    assert_eq!(
        api.get_room(&id).await.unwrap().theme_id.as_deref(),
        Some(default_id.as_str()),
        "back on the default theme"
    );
    let remote = env.sim.rooms(&env.app.application_id);
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].theme_id, None, "no explicit theme is left");
}
