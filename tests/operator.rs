//! The controllers end to end: a real control plane, the simulator over real
//! HTTP, and the operator in-process.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_simulator::{FaultKind, FaultSpec};
use operator_env::{OperatorEnv, condition_message, has_condition};
use serde_json::json;

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    meetings_operator::meetings::format_timestamp(&at)
}

fn theme(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"mainColor": "#0a66c2", "brandText": "Acme", "shortCompanyUrl": format!("acme-{name}")}
    })
}

fn long_term_room(name: &str, theme: Option<&str>) -> serde_json::Value {
    let mut room = json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {
            "displayName": format!("Room {name}"), "type": "long_term",
            "expiresAt": in_days(30), "joinApprovalLevel": "none",
            "availableFeatures": {"isChatAvailable": true}
        }
    });
    if let Some(theme) = theme {
        room["spec"]["themeRef"] = json!({"name": theme});
    }
    room
}

fn ready_room(env: &OperatorEnv, name: &str) -> impl std::future::Future<Output = MeetingRoom> {
    env.wait_room(name, "True", "Ready")
}

#[tokio::test]
async fn theme_then_room_become_ready_with_code_urls_and_host_secret() {
    let env = OperatorEnv::started("ready").await;
    env.create::<MeetingTheme>(theme("brand")).await.unwrap();
    env.create::<MeetingRoom>(long_term_room("weekly", Some("brand")))
        .await
        .unwrap();

    let theme = env.wait_theme("brand", "Ready", "True", "Ready").await;
    let room = ready_room(&env, "weekly").await;
    let status = room.status.clone().unwrap();
    let theme_id = theme.status.as_ref().unwrap().theme_id.clone().unwrap();

    let code = status.meeting_code.clone().unwrap();
    assert!(
        code.len() >= 9 && code.chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(
        status.guest_url.as_deref(),
        Some(format!("https://meetings.vonage.com/acme-brand/{code}").as_str())
    );
    assert_eq!(status.theme_id.as_deref(), Some(theme_id.as_str()));
    assert_eq!(status.observed_generation, room.metadata.generation);
    assert!(has_condition(
        Some(&status.conditions),
        "Synced",
        "True",
        "Ready"
    ));

    // One remote room, created once, in the simulator.
    let remote = env.sim.rooms(&env.app.application_id);
    assert_eq!(remote.len(), 1);
    assert_eq!(*remote[0].id.to_string(), *status.room_id.clone().unwrap());
    assert_eq!(env.sim.counters().operation("createRoom"), 1);

    // The host URL lives only in a Secret owned by the room.
    let secret_name = status.host_url_secret_name.clone().unwrap();
    let secret: Secret = env.api::<Secret>().get(&secret_name).await.unwrap();
    let host_url = String::from_utf8(secret.data.unwrap()["hostUrl"].0.clone()).unwrap();
    assert!(host_url.contains("participant_token="), "{host_url}");
    let owner = &secret.metadata.owner_references.unwrap()[0];
    assert_eq!(owner.kind, "MeetingRoom");
    assert_eq!(Some(owner.uid.clone()), room.metadata.uid);
    let status_json = serde_json::to_string(&room.status).unwrap();
    assert!(!status_json.contains("participant_token"), "{status_json}");
    let events = env.events_for("weekly").await.join("\n");
    assert!(!events.contains("participant_token"), "{events}");

    // The theme lists the room that uses it.
    let theme = env
        .wait_for::<MeetingTheme, _>("brand", "listing its room", Duration::from_secs(30), |t| {
            t.status.as_ref().is_some_and(|s| s.rooms == ["weekly"])
        })
        .await;
    assert_eq!(theme.status.unwrap().rooms, ["weekly"]);

    // A deleted host-URL Secret is written again from one read of the room
    // (the shared listing keeps no host URLs).
    let reads_before = env.sim.counters().operation("getRoom");
    env.delete::<Secret>(&secret_name).await;
    let rewritten = env
        .wait_for::<Secret, _>(
            &secret_name,
            "written again",
            Duration::from_secs(30),
            |s| s.metadata.deletion_timestamp.is_none() && s.metadata.uid != secret.metadata.uid,
        )
        .await;
    let again = String::from_utf8(rewritten.data.unwrap()["hostUrl"].0.clone()).unwrap();
    assert!(again.contains("participant_token="), "{again}");
    assert!(env.sim.counters().operation("getRoom") > reads_before);
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
}

#[tokio::test]
async fn an_update_sends_one_patch_and_a_resync_without_changes_writes_nothing() {
    let env = OperatorEnv::started("update").await;
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    let room = ready_room(&env, "r").await;
    let room_id = room.status.as_ref().unwrap().room_id.clone().unwrap();

    env.sim.reset_counters();
    env.patch_room_spec("r", json!({"joinApprovalLevel": "explicit_approval"}))
        .await;
    env.wait_for::<MeetingRoom, _>(
        "r",
        "synced at generation 2",
        Duration::from_secs(30),
        |r| {
            r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
                && r.metadata.generation == Some(2)
        },
    )
    .await;
    let counters = env.sim.counters();
    assert_eq!(counters.operation("updateRoom"), 1, "{counters:?}");
    assert_eq!(counters.operation("createRoom"), 0);
    let remote = env
        .sim
        .rooms(&env.app.application_id)
        .into_iter()
        .find(|r| *r.id.to_string() == *room_id)
        .unwrap();
    assert_eq!(
        serde_json::to_value(remote.join_approval_level).unwrap(),
        "explicit_approval"
    );
    let update = env
        .sim
        .exchanges()
        .into_iter()
        .find(|e| e.operation_id.as_deref() == Some("updateRoom"))
        .unwrap();
    assert_eq!(update.status, 200);
    assert_eq!(
        update.request_body,
        Some(json!({"update_details": {"join_approval_level": "explicit_approval"}})),
        "only the changed field is sent"
    );

    // Several resync periods later: no write call at all, and no status write.
    let before = env.api::<MeetingRoom>().get("r").await.unwrap();
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let counters = env.sim.counters();
    for write in [
        "createRoom",
        "updateRoom",
        "createTheme",
        "updateTheme",
        "deleteTheme",
    ] {
        assert_eq!(counters.operation(write), 0, "{write}: {counters:?}");
    }
    assert!(
        counters.operation("getRooms") >= 2,
        "resyncs observe through the listing: {counters:?}"
    );
    assert_eq!(counters.operation("getRoom"), 0, "{counters:?}");
    let after = env.api::<MeetingRoom>().get("r").await.unwrap();
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "a no-op resync writes no status"
    );
}

#[tokio::test]
async fn drift_in_mutable_fields_is_corrected() {
    let env = OperatorEnv::started("drift").await;
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    let room = ready_room(&env, "r").await;
    let room_id = room.status.unwrap().room_id.unwrap();

    // Someone changes the room outside Kubernetes.
    let client = env.api_client();
    client
        .update_room(
            &room_id,
            &meetings_operator::meetings::RoomUpdate {
                join_approval_level: Some(
                    meetings_operator::meetings::JoinApprovalLevel::ExplicitApproval,
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    support::eventually("drift corrected", Duration::from_secs(30), || async {
        let remote = client.get_room(&room_id).await.ok()?;
        (remote.join_approval_level == Some(meetings_operator::meetings::JoinApprovalLevel::None))
            .then_some(())
    })
    .await;
    let events = support::eventually("DriftCorrected event", Duration::from_secs(10), || async {
        let events = env.events_for("r").await;
        events
            .iter()
            .any(|e| e.starts_with("DriftCorrected"))
            .then_some(events)
    })
    .await;
    assert!(
        events.iter().any(|e| e.contains("joinApprovalLevel")),
        "{events:?}"
    );
}

#[tokio::test]
async fn settled_rooms_are_resynced_by_one_listing_per_period_not_a_pass_each() {
    const PASSES: &str =
        r#"meetings_operator_reconciles_total{kind="MeetingRoom",result="success"}"#;
    const CHANGED: &str = r#"meetings_operator_resync_wakeups_total{reason="changed"}"#;
    let env = OperatorEnv::started("listing").await;
    for i in 0..5 {
        env.create::<MeetingRoom>(long_term_room(&format!("r{i}"), None))
            .await
            .unwrap();
    }
    let mut room_ids = Vec::new();
    for i in 0..5 {
        let room = ready_room(&env, &format!("r{i}")).await;
        room_ids.push(room.status.unwrap().room_id.unwrap());
    }
    // One listing period (3 s in tests) for the first comparison.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let passes = env.metric(PASSES);
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let counters = env.sim.counters();
    assert_eq!(
        env.metric(PASSES),
        passes,
        "no settled room was reconciled on a timer of its own"
    );
    assert_eq!(
        env.metric(CHANGED),
        0.0,
        "the listing shows each room as its pass (the create) saw it"
    );
    let listings = counters.operation("getRooms");
    assert!(
        (2..=4).contains(&listings),
        "one page per period: {counters:?}"
    );
    assert_eq!(counters.operation("getRoom"), 0, "{counters:?}");

    // A change outside Kubernetes wakes that room alone, which corrects it.
    let client = env.api_client();
    let update = meetings_operator::meetings::RoomUpdate {
        join_approval_level: Some(meetings_operator::meetings::JoinApprovalLevel::ExplicitApproval),
        ..Default::default()
    };
    client.update_room(&room_ids[2], &update).await.unwrap();
    support::eventually("drift corrected", Duration::from_secs(15), || async {
        let remote = client.get_room(&room_ids[2]).await.ok()?;
        (remote.join_approval_level == Some(meetings_operator::meetings::JoinApprovalLevel::None))
            .then_some(())
    })
    .await;
    assert_eq!(env.metric(CHANGED), 1.0);
    // The pass is counted when it ends, after the correction it sent.
    support::eventually(
        "the correcting pass counted",
        Duration::from_secs(15),
        || async { (env.metric(PASSES) > passes).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let woken = env.metric(PASSES) - passes;
    assert!(
        (1.0..=2.0).contains(&woken),
        "{woken} passes for one changed room"
    );
}

#[tokio::test]
async fn a_room_waits_for_its_theme_and_follows_theme_changes() {
    let env = OperatorEnv::started("themeref").await;
    env.create::<MeetingRoom>(long_term_room("r", Some("later")))
        .await
        .unwrap();
    let waiting = env.wait_room("r", "False", "ThemeNotFound").await;
    assert!(
        condition_message(waiting.status.as_ref().map(|s| &s.conditions[..]), "Ready")
            .contains("MeetingTheme later does not exist"),
    );
    assert_eq!(env.sim.counters().operation("createRoom"), 0);

    env.create::<MeetingTheme>(theme("later")).await.unwrap();
    let room = ready_room(&env, "r").await;
    let first_theme = room.status.unwrap().theme_id.unwrap();

    env.create::<MeetingTheme>(theme("other")).await.unwrap();
    let other = env.wait_theme("other", "Ready", "True", "Ready").await;
    let other_id = other.status.unwrap().theme_id.unwrap();
    env.patch_room_spec("r", json!({"themeRef": {"name": "other"}}))
        .await;
    let room = env
        .wait_for::<MeetingRoom, _>("r", "on the other theme", Duration::from_secs(30), |r| {
            r.status.as_ref().and_then(|s| s.theme_id.as_deref()) == Some(other_id.as_str())
        })
        .await;
    assert_ne!(*first_theme, *other_id);
    let remote = env
        .api_client()
        .get_room(&room.status.unwrap().room_id.unwrap())
        .await
        .unwrap();
    assert_eq!(remote.theme_id.as_deref(), Some(other_id.as_str()));
}

#[tokio::test]
async fn rooms_and_themes_wake_each_other_without_a_resync() {
    let mut env = OperatorEnv::new("tally", |_| {}).await;
    // Resyncs are far away: only the room watch can move the tallies in time.
    env.options.settings.resync = Duration::from_secs(600);
    env.start_operator();
    for name in ["first", "second"] {
        env.create::<MeetingTheme>(theme(name)).await.unwrap();
    }
    env.create::<MeetingRoom>(long_term_room("mover", Some("first")))
        .await
        .unwrap();
    ready_room(&env, "mover").await;
    let tally = |names: &'static [&'static str]| {
        move |t: &MeetingTheme| t.status.as_ref().is_some_and(|s| s.rooms == names)
    };
    let wait = Duration::from_secs(20);
    env.wait_for::<MeetingTheme, _>("first", "listing the room", wait, tally(&["mover"]))
        .await;
    // Past the passes that follow a tally write (TALLY_INTERVAL, 2 s).
    tokio::time::sleep(Duration::from_secs(5)).await;

    env.patch_room_spec("mover", json!({"themeRef": {"name": "second"}}))
        .await;
    env.wait_for::<MeetingTheme, _>("first", "no longer listing it", wait, tally(&[]))
        .await;
    env.wait_for::<MeetingTheme, _>("second", "listing it", wait, tally(&["mover"]))
        .await;

    env.delete::<MeetingRoom>("mover").await;
    env.wait_for::<MeetingTheme, _>("second", "forgetting it", wait, tally(&[]))
        .await;

    // And the other way: a theme that appears wakes the room waiting for it.
    env.create::<MeetingRoom>(long_term_room("early", Some("third")))
        .await
        .unwrap();
    env.wait_room("early", "False", "ThemeNotFound").await;
    env.create::<MeetingTheme>(theme("third")).await.unwrap();
    ready_room(&env, "early").await;
}

#[tokio::test]
async fn theme_deletion_waits_for_its_rooms_then_completes() {
    let env = OperatorEnv::started("delete").await;
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    env.create::<MeetingRoom>(long_term_room("user", Some("t")))
        .await
        .unwrap();
    ready_room(&env, "user").await;
    let theme_id = env
        .wait_theme("t", "Ready", "True", "Ready")
        .await
        .status
        .unwrap()
        .theme_id
        .unwrap();

    env.delete::<MeetingTheme>("t").await;
    let blocked = env
        .wait_theme("t", "Ready", "False", "DeletionBlocked")
        .await;
    let message = condition_message(blocked.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(
        message.contains("MeetingRooms user still use this theme"),
        "{message}"
    );
    let events = env.events_for("t").await.join("\n");
    assert!(events.contains("DeletionBlocked"), "{events}");
    assert_eq!(env.sim.themes(&env.app.application_id).len(), 1);

    // The room moves to no theme; the API no longer sees the theme in use.
    env.patch_room_spec("user", json!({"themeRef": null})).await;
    env.wait_gone::<MeetingTheme>("t", Duration::from_secs(60))
        .await;
    assert!(
        env.sim
            .themes(&env.app.application_id)
            .iter()
            .all(|t| t.id.to_string() != theme_id)
    );
}

#[tokio::test]
async fn force_delete_and_orphan_policies() {
    let env = OperatorEnv::started("policies").await;
    let mut forced = theme("forced");
    forced["spec"]["deletionPolicy"] = json!("ForceDelete");
    let mut orphan = theme("orphan");
    orphan["spec"]["deletionPolicy"] = json!("Orphan");
    env.create::<MeetingTheme>(forced).await.unwrap();
    env.create::<MeetingTheme>(orphan).await.unwrap();
    env.create::<MeetingRoom>(long_term_room("user", Some("forced")))
        .await
        .unwrap();
    ready_room(&env, "user").await;
    env.wait_theme("orphan", "Ready", "True", "Ready").await;

    env.delete::<MeetingTheme>("forced").await;
    env.delete::<MeetingTheme>("orphan").await;
    env.wait_gone::<MeetingTheme>("forced", Duration::from_secs(30))
        .await;
    env.wait_gone::<MeetingTheme>("orphan", Duration::from_secs(30))
        .await;
    let remaining: Vec<String> = env
        .sim
        .themes(&env.app.application_id)
        .into_iter()
        .map(|t| t.theme_name)
        .collect();
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(remaining[0].ends_with("orphan"), "{remaining:?}");
    let room = env.sim.rooms(&env.app.application_id).remove(0);
    assert_eq!(
        room.theme_id, None,
        "rooms of a force-deleted theme fall back"
    );
}

#[tokio::test]
async fn deleting_a_room_with_expire_sets_the_earliest_expiry() {
    let env = OperatorEnv::started("expire").await;
    let mut room = long_term_room("r", None);
    room["spec"]["deletionPolicy"] = json!("Expire");
    env.create::<MeetingRoom>(room).await.unwrap();
    let ready = ready_room(&env, "r").await;
    assert!(
        ready
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"meetings.vonage.com/cleanup".to_owned())
    );
    let room_id = ready.status.unwrap().room_id.unwrap();

    env.delete::<MeetingRoom>("r").await;
    env.wait_gone::<MeetingRoom>("r", Duration::from_secs(30))
        .await;
    let remote = env
        .sim
        .rooms(&env.app.application_id)
        .into_iter()
        .find(|r| *r.id.to_string() == *room_id)
        .unwrap();
    let left = remote.expires_at.as_second() - env.sim.now().as_second();
    assert!((600..=720).contains(&left), "expires in {left}s");

    // Orphan (the default) leaves the room as it is and needs no finalizer.
    env.create::<MeetingRoom>(long_term_room("kept", None))
        .await
        .unwrap();
    let kept = ready_room(&env, "kept").await;
    assert!(kept.metadata.finalizers.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn bad_credentials_are_reported_and_rotation_takes_effect() {
    let mut env = OperatorEnv::new("creds", |_| {}).await;
    let other_key = meetings_simulator::generate_key_pair().unwrap();
    env.write_credentials(&env.app.application_id, &other_key.private_pem)
        .await;
    env.start_operator();
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    let failing = env.wait_room("r", "False", "CredentialsInvalid").await;
    let message = condition_message(failing.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(message.contains("unauthorized"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");

    // Not a PEM at all: a message that says which key is wrong.
    env.write_credentials(&env.app.application_id, "not a key")
        .await;
    env.wait_for::<MeetingRoom, _>(
        "r",
        "told the key is unusable",
        Duration::from_secs(30),
        |r| {
            condition_message(r.status.as_ref().map(|s| &s.conditions[..]), "Ready")
                .contains("not a PEM-encoded RSA private key")
        },
    )
    .await;

    // Rotation to the right key: no restart needed.
    env.write_credentials(&env.app.application_id, &env.app.private_key_pem)
        .await;
    ready_room(&env, "r").await;
    assert_eq!(env.sim.rooms(&env.app.application_id).len(), 1);
    env.stop_operator().await;
}

#[tokio::test]
async fn answers_retrying_cannot_fix_set_a_condition_without_a_hot_loop() {
    let env = OperatorEnv::new("rejected", |config| {
        config.behavior.room_limit = Some(1);
    })
    .await;
    let mut env = env;
    env.start_operator();

    // 409: a theme name already taken in the application.
    let mut first = theme("a");
    first["spec"]["themeName"] = json!("taken");
    let mut second = theme("b");
    second["spec"]["themeName"] = json!("taken");
    env.create::<MeetingTheme>(first).await.unwrap();
    env.wait_theme("a", "Ready", "True", "Ready").await;
    env.create::<MeetingTheme>(second).await.unwrap();
    let conflict = env.wait_theme("b", "Ready", "False", "Rejected").await;
    let message = condition_message(conflict.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(
        message.contains("conflict") && message.contains("already exists"),
        "{message}"
    );

    // 403: the room limit.
    env.create::<MeetingRoom>(long_term_room("one", None))
        .await
        .unwrap();
    ready_room(&env, "one").await;
    env.create::<MeetingRoom>(long_term_room("two", None))
        .await
        .unwrap();
    let quota = env.wait_room("two", "False", "Rejected").await;
    let message = condition_message(quota.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(message.contains("quota exceeded"), "{message}");

    // 400: an expiry the API refuses (more than a year ahead).
    let mut far = long_term_room("far", None);
    far["spec"]["expiresAt"] = json!(in_days(800));
    env.create::<MeetingRoom>(far).await.unwrap();
    let invalid = env.wait_room("far", "False", "Rejected").await;
    let message = condition_message(invalid.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(message.contains("invalid request"), "{message}");

    // No hot loop: nothing is retried until the spec changes.
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let counters = env.sim.counters();
    assert_eq!(counters.operation("createRoom"), 0, "{counters:?}");
    assert_eq!(counters.operation("createTheme"), 0, "{counters:?}");

    // A spec change is retried.
    env.patch_room_spec("far", json!({"expiresAt": in_days(20)}))
        .await;
    env.wait_for::<MeetingRoom, _>("far", "retried", Duration::from_secs(30), |r| {
        r.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
    })
    .await;
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
}

#[tokio::test]
async fn a_lost_create_answer_never_creates_a_second_room() {
    let env = OperatorEnv::new("dropped", |_| {}).await;
    let mut env = env;
    for kind in [FaultKind::CommitThenDrop, FaultKind::CommitThenBadGateway] {
        env.sim
            .faults()
            .add(FaultSpec::new("createRoom", kind).times(1));
    }
    env.sim
        .faults()
        .add(FaultSpec::new("createTheme", FaultKind::CommitThenDrop).times(1));
    env.start_operator();
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    env.create::<MeetingRoom>(long_term_room("r", Some("t")))
        .await
        .unwrap();
    let room = ready_room(&env, "r").await;
    env.wait_theme("t", "Ready", "True", "Ready").await;

    assert_eq!(env.sim.rooms(&env.app.application_id).len(), 1);
    assert_eq!(env.sim.themes(&env.app.application_id).len(), 1);
    assert_eq!(
        env.sim.counters().operation("createRoom"),
        1,
        "the lost create was found, not repeated"
    );
    let events = env.events_for("r").await.join("\n");
    assert!(events.contains("CreateRecovered"), "{events}");
    assert!(room.status.unwrap().pending_create.is_none());
}

#[tokio::test]
async fn an_operator_killed_between_create_and_status_write_recovers_the_room() {
    // The state a crash leaves behind: the pendingCreate marker is in status,
    // the create reached the API, and its answer was never recorded.
    let mut env = OperatorEnv::new("killed", |_| {}).await;
    let manifest = long_term_room("r", None);
    let room: MeetingRoom = env.create(manifest.clone()).await.unwrap();
    let started = jiff::Timestamp::now();
    let created = env
        .api_client()
        .create_room(&meetings_operator::meetings::CreateRoom {
            display_name: "Room r".into(),
            room_type: meetings_operator::meetings::RoomType::LongTerm,
            expires_at: Some(room.spec.expires_at.as_deref().unwrap().parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    env.api::<MeetingRoom>()
        .patch_status(
            "r",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"pendingCreate": {
                "startedAt": meetings_operator::meetings::format_timestamp(&started),
                "applicationId": env.app.application_id,
            }}})),
        )
        .await
        .unwrap();

    env.start_operator();
    let room = ready_room(&env, "r").await;
    let remote = env.sim.rooms(&env.app.application_id);
    assert_eq!(remote.len(), 1, "exactly one remote room");
    assert_eq!(*room.status.unwrap().room_id.unwrap(), *created.id);
    assert_eq!(
        env.sim.counters().operation("createRoom"),
        1,
        "only the crashed operator's create"
    );
    env.stop_operator().await;
}

#[tokio::test]
async fn a_vanished_theme_is_created_again() {
    let env = OperatorEnv::started("vanished").await;
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    let first = env.wait_theme("t", "Ready", "True", "Ready").await;
    let first_id = first.status.unwrap().theme_id.unwrap();

    // Someone deletes it outside Kubernetes.
    env.api_client()
        .delete_theme(&first_id, true)
        .await
        .unwrap();
    let recreated = env
        .wait_for::<MeetingTheme, _>("t", "on a new theme", Duration::from_secs(30), |t| {
            t.status
                .as_ref()
                .and_then(|s| s.theme_id.as_deref())
                .is_some_and(|id| id != first_id)
        })
        .await;
    let themes = env.sim.themes(&env.app.application_id);
    assert_eq!(themes.len(), 1);
    assert_eq!(
        themes[0].id.to_string(),
        recreated.status.unwrap().theme_id.unwrap()
    );
    let events = env.events_for("t").await.join("\n");
    assert!(events.contains("Recreated"), "{events}");
}

#[tokio::test]
async fn room_expiry_is_detected_on_resync() {
    // A lifetime of seconds, so that the operator's own clock sees it pass:
    // the live service kept reporting `is_available: true` after expiry.
    let mut env = OperatorEnv::new("expiry", |config| {
        config.behavior.long_term_min_lifetime_secs = 1;
    })
    .await;
    env.start_operator();
    let mut room = long_term_room("r", None);
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(6);
    room["spec"]["expiresAt"] = json!(meetings_operator::meetings::format_timestamp(&soon));
    env.create::<MeetingRoom>(room).await.unwrap();
    ready_room(&env, "r").await;

    let expired = env.wait_room("r", "False", "Expired").await;
    let status = expired.status.unwrap();
    assert_eq!(status.is_available, Some(false));
    assert!(
        condition_message(Some(&status.conditions), "Ready").contains("expired"),
        "{:?}",
        status.conditions
    );
    assert_eq!(
        env.sim.counters().operation("updateRoom"),
        0,
        "an expired room is not patched"
    );
}

#[tokio::test]
async fn a_permanently_failing_create_backs_off_instead_of_looping() {
    let mut env = OperatorEnv::new("hotloop", |_| {}).await;
    env.sim.faults().add(FaultSpec::new(
        "createRoom",
        FaultKind::ServerError { status: Some(503) },
    ));
    env.start_operator();
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    env.wait_room("r", "False", "ApiError").await;
    env.sim.reset_counters();
    let window = Duration::from_secs(30);
    tokio::time::sleep(window).await;
    let counters = env.sim.counters();
    let creates = counters.operation("createRoom");
    let total: u64 = ["createRoom", "getRooms", "getRoom"]
        .iter()
        .map(|op| counters.operation(op))
        .sum();
    let per_minute = total as f64 * 60.0 / window.as_secs_f64();
    eprintln!(
        "permanently failing room: {creates} creates, {total} API calls in {window:?} ({per_minute:.1} calls/min)"
    );
    // Backoff doubles from 1 s: at most about log2(30) + 1 attempts in 30 s.
    assert!(creates <= 8, "{counters:?}");
    assert!(per_minute <= 40.0, "{per_minute} calls/min: {counters:?}");
    assert_eq!(env.sim.rooms(&env.app.application_id).len(), 0);
}

#[tokio::test]
async fn a_theme_deleted_while_its_create_is_in_doubt_is_deleted_in_the_api() {
    // The create commits but its answer is lost, and listing themes (how a
    // lost create is found) fails: the theme stays in doubt. Deleting the
    // MeetingTheme then must find and delete the remote theme, not leak it.
    let mut env = OperatorEnv::new("theme-doubt", |_| {}).await;
    env.sim
        .faults()
        .add(FaultSpec::new("createTheme", FaultKind::CommitThenDrop).times(1));
    let listing_fails = env.sim.faults().add(FaultSpec::new(
        "getThemes",
        FaultKind::ServerError { status: Some(503) },
    ));
    env.start_operator();
    let mut forced = theme("doubt");
    forced["spec"]["deletionPolicy"] = json!("ForceDelete");
    env.create::<MeetingTheme>(forced).await.unwrap();
    support::eventually("the create to commit", Duration::from_secs(30), || async {
        (env.sim.themes(&env.app.application_id).len() == 1).then_some(())
    })
    .await;
    let in_doubt = env
        .wait_for::<MeetingTheme, _>("doubt", "a pending create", Duration::from_secs(30), |t| {
            t.status
                .as_ref()
                .is_some_and(|s| s.pending_create.is_some() && s.theme_id.is_none())
        })
        .await;
    assert!(in_doubt.status.is_some());

    env.delete::<MeetingTheme>("doubt").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held: Option<MeetingTheme> = env.api::<MeetingTheme>().get_opt("doubt").await.unwrap();
    assert!(
        held.is_some(),
        "the finalizer holds while the remote theme cannot be looked up"
    );
    assert!(env.sim.faults().remove(listing_fails));
    env.wait_gone::<MeetingTheme>("doubt", Duration::from_secs(30))
        .await;
    let left = env.sim.themes(&env.app.application_id);
    assert!(left.is_empty(), "leaked: {left:?}");
}

#[tokio::test]
async fn a_theme_create_that_failed_before_committing_is_made_once() {
    // The create fails without committing: the next reconcile lists the
    // themes to look for it (the live service answers `{}` when there are
    // none), finds nothing and creates it once.
    let mut env = OperatorEnv::new("theme-uncommitted", |_| {}).await;
    env.sim
        .faults()
        .add(FaultSpec::new("createTheme", FaultKind::ServerError { status: Some(503) }).times(1));
    env.start_operator();
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    let ready = env.wait_theme("t", "Ready", "True", "Ready").await;
    let themes = env.sim.themes(&env.app.application_id);
    assert_eq!(themes.len(), 1);
    assert_eq!(
        themes[0].id.to_string(),
        ready.status.unwrap().theme_id.unwrap()
    );
    let counters = env.sim.counters();
    assert!(
        counters.operation("getThemes") >= 1,
        "the lost create was looked for: {counters:?}"
    );
}

/// Sets (or, with `None`, removes) an annotation on an object.
async fn annotate<K>(env: &OperatorEnv, name: &str, key: &str, value: Option<&str>)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    env.api::<K>()
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {key: value}}})),
        )
        .await
        .expect("annotation written");
}

#[tokio::test]
async fn a_paused_object_makes_no_api_writes_and_its_deletion_waits() {
    let env = OperatorEnv::started("paused").await;
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    ready_room(&env, "r").await;
    env.wait_theme("t", "Ready", "True", "Ready").await;
    let paused = "meetings.vonage.com/paused";
    annotate::<MeetingRoom>(&env, "r", paused, Some("true")).await;
    annotate::<MeetingTheme>(&env, "t", paused, Some("true")).await;
    env.sim.reset_counters();

    env.patch_room_spec("r", json!({"joinApprovalLevel": "explicit_approval"}))
        .await;
    let room = env
        .wait_for::<MeetingRoom, _>("r", "Synced=False (Paused)", Duration::from_secs(30), |r| {
            has_condition(
                r.status.as_ref().map(|s| &s.conditions[..]),
                "Synced",
                "False",
                "Paused",
            ) && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
        })
        .await;
    let conditions = room.status.as_ref().map(|s| &s.conditions[..]);
    assert!(
        has_condition(conditions, "Ready", "True", "Ready"),
        "{conditions:?}"
    );
    assert!(
        has_condition(conditions, "Stalled", "True", "Paused"),
        "{conditions:?}"
    );
    assert!(condition_message(conditions, "Synced").contains("paused"));

    env.delete::<MeetingTheme>("t").await;
    let waiting = env
        .wait_for::<MeetingTheme, _>("t", "deletion waiting", Duration::from_secs(30), |t| {
            condition_message(t.status.as_ref().map(|s| &s.conditions[..]), "Synced")
                .contains("deletion waits")
        })
        .await;
    assert!(waiting.metadata.deletion_timestamp.is_some());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let counters = env.sim.counters();
    for operation in [
        "updateRoom",
        "createRoom",
        "deleteTheme",
        "updateTheme",
        "createTheme",
    ] {
        assert_eq!(
            counters.operation(operation),
            0,
            "{operation}: {counters:?}"
        );
    }
    assert_eq!(env.sim.themes(&env.app.application_id).len(), 1);

    // Resumed: the spec change is applied and the deletion finishes.
    annotate::<MeetingRoom>(&env, "r", paused, None).await;
    annotate::<MeetingTheme>(&env, "t", paused, None).await;
    env.wait_gone::<MeetingTheme>("t", Duration::from_secs(30))
        .await;
    assert_eq!(env.sim.themes(&env.app.application_id).len(), 0);
    env.wait_for::<MeetingRoom, _>("r", "Synced again", Duration::from_secs(30), |r| {
        has_condition(
            r.status.as_ref().map(|s| &s.conditions[..]),
            "Synced",
            "True",
            "Ready",
        )
    })
    .await;
    assert_eq!(env.sim.counters().operation("updateRoom"), 1);
}

#[tokio::test]
async fn a_reconcile_request_retries_a_rejected_room_at_once() {
    let mut env = OperatorEnv::new("requested", |config| {
        config.behavior.room_limit = Some(0);
    })
    .await;
    env.start_operator();
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    env.wait_room("r", "False", "Rejected").await;
    // The limit is raised; a rejection waits for a spec change...
    env.sim.update_behavior(|b| b.room_limit = None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(env.sim.counters().operation("createRoom"), 1);
    // ...or for a reconcile request.
    annotate::<MeetingRoom>(
        &env,
        "r",
        "meetings.vonage.com/reconcile-requested-at",
        Some("2026-12-02T21:00:00Z"),
    )
    .await;
    let ready = ready_room(&env, "r").await;
    assert_eq!(
        ready.status.unwrap().last_handled_reconcile_at.as_deref(),
        Some("2026-12-02T21:00:00Z")
    );
    assert_eq!(env.sim.counters().operation("createRoom"), 2);
}

#[tokio::test]
async fn a_themes_room_count_is_right_by_the_time_its_rooms_are_ready() {
    let env = OperatorEnv::started("tally").await;
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    for name in ["a", "b"] {
        env.create::<MeetingRoom>(long_term_room(name, Some("t")))
            .await
            .unwrap();
    }
    ready_room(&env, "a").await;
    ready_room(&env, "b").await;
    let ready_at = std::time::Instant::now();
    // The theme's write follows the rooms' own; a few rooms fit its burst of
    // writes, so the count is not held back by the tally interval.
    env.wait_for::<MeetingTheme, _>("t", "roomCount 2", Duration::from_secs(1), |t| {
        t.status.as_ref().and_then(|s| s.room_count) == Some(2)
    })
    .await;
    eprintln!(
        "roomCount caught up {:?} after the rooms were Ready",
        ready_at.elapsed()
    );
}

/// The simulator's answers to `operation` since `from`, whose path holds `part`.
fn answered_since(
    env: &OperatorEnv,
    from: u64,
    operation: &str,
    part: &str,
) -> Vec<jiff::Timestamp> {
    env.sim
        .exchanges()
        .into_iter()
        .filter(|e| e.seq > from && e.operation_id.as_deref() == Some(operation))
        .filter(|e| e.path.contains(part))
        .map(|e| e.at)
        .collect()
}

fn last_seq(env: &OperatorEnv) -> u64 {
    env.sim.exchanges().last().map_or(0, |e| e.seq)
}

async fn ready_theme_id(env: &OperatorEnv, name: &str) -> String {
    let theme = env.wait_theme(name, "Ready", "True", "Ready").await;
    theme.status.unwrap().theme_id.unwrap()
}

#[tokio::test]
async fn each_settled_theme_is_read_once_per_resync_cycle_beside_the_room_listing() {
    let env = OperatorEnv::started("cycle").await;
    for name in ["a", "c"] {
        env.create::<MeetingTheme>(theme(name)).await.unwrap();
    }
    env.create::<MeetingRoom>(long_term_room("r", None))
        .await
        .unwrap();
    ready_room(&env, "r").await;
    let ids = [
        ready_theme_id(&env, "a").await,
        ready_theme_id(&env, "c").await,
    ];
    // Past the first cycle (3 s in tests), then four more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let from = last_seq(&env);
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(13)).await;

    // One room: each listing is one page.
    let listings = answered_since(&env, from, "getRooms", "");
    assert!(
        (3..=5).contains(&listings.len()),
        "one listing per cycle: {listings:?}"
    );
    for id in &ids {
        let reads = answered_since(&env, from, "getThemeById", id);
        assert!(
            reads.len().abs_diff(listings.len()) <= 1,
            "theme {id}: read {reads:?} against listings {listings:?}"
        );
        for read in &reads {
            let beside_a_listing = listings.iter().any(|listing| {
                listing.duration_since(*read).abs() < jiff::SignedDuration::from_millis(500)
            });
            assert!(
                beside_a_listing,
                "theme {id} read at {read}, not when a cycle began: listings {listings:?}"
            );
        }
    }
    let counters = env.sim.counters();
    for write in ["createTheme", "updateTheme", "createRoom", "updateRoom"] {
        assert_eq!(counters.operation(write), 0, "{write}: {counters:?}");
    }
}

#[tokio::test]
async fn a_theme_with_its_own_resync_period_is_read_on_that_period() {
    let env = OperatorEnv::started("own-period").await;
    let mut own = theme("own");
    own["metadata"]["annotations"] = json!({"meetings.vonage.com/resync-period": "1s"});
    env.create::<MeetingTheme>(own).await.unwrap();
    let id = ready_theme_id(&env, "own").await;
    let from = last_seq(&env);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let reads = answered_since(&env, from, "getThemeById", &id);
    assert!(
        (4..=7).contains(&reads.len()),
        "read about once a second, not once per 3 s cycle: {reads:?}"
    );
}
