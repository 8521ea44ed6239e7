//! Adoption of existing remote objects, observe-only management, and the
//! application default theme, end to end.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::time::Duration;

use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{
    CreateRoom, CreateTheme, JoinApprovalLevel, RoomType, format_timestamp,
};
use operator_env::{OperatorEnv, condition_message, has_condition};
use serde_json::json;

fn in_days(days: i64) -> jiff::Timestamp {
    jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days)
}

async fn remote_room(env: &OperatorEnv, name: &str) -> meetings_operator::meetings::Room {
    env.api_client()
        .create_room(&CreateRoom {
            display_name: name.into(),
            room_type: RoomType::LongTerm,
            expires_at: Some(in_days(30)),
            join_approval_level: Some(JoinApprovalLevel::None),
            ..Default::default()
        })
        .await
        .unwrap()
}

fn room_manifest(name: &str, adopt: &str, display: &str, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {
            "displayName": display, "type": "long_term",
            "expiresAt": format_timestamp(&in_days(40)),
            "joinApprovalLevel": "explicit_approval",
            "adoptId": adopt, "managementPolicy": policy, "deletionPolicy": "Expire"
        }
    })
}

#[tokio::test]
async fn an_adopted_room_is_managed_without_recreating_it() {
    let env = OperatorEnv::started("adopt-room").await;
    let existing = remote_room(&env, "Legacy standup").await;
    env.sim.reset_counters();
    env.create::<MeetingRoom>(room_manifest("legacy", &existing.id, "Standup", "Managed"))
        .await
        .unwrap();
    let room = env
        .wait_for::<MeetingRoom, _>("legacy", "adopted", Duration::from_secs(30), |r| {
            has_condition(
                r.status.as_ref().map(|s| &s.conditions[..]),
                "Synced",
                "True",
                "CreateOnlyDifferences",
            )
        })
        .await;
    let status = room.status.unwrap();
    assert_eq!(status.room_id.as_deref(), Some(existing.id.as_str()));
    assert_eq!(
        status.meeting_code.as_deref(),
        Some(existing.meeting_code.as_str())
    );
    assert!(
        condition_message(Some(&status.conditions), "Synced")
            .contains("displayName is \"Legacy standup\""),
        "{:?}",
        status.conditions
    );
    let counters = env.sim.counters();
    assert_eq!(
        counters.operation("createRoom"),
        0,
        "adoption creates nothing"
    );
    assert_eq!(
        counters.operation("updateRoom"),
        1,
        "mutable fields are brought in line"
    );
    let remote = env.api_client().get_room(&existing.id).await.unwrap();
    assert_eq!(
        remote.display_name, "Legacy standup",
        "create-only fields are never overwritten"
    );
    assert_eq!(
        remote.join_approval_level,
        Some(JoinApprovalLevel::ExplicitApproval)
    );
}

#[tokio::test]
async fn observe_only_never_writes_to_the_api() {
    let env = OperatorEnv::started("observe").await;
    let existing = remote_room(&env, "Watched").await;
    env.sim.reset_counters();
    env.create::<MeetingRoom>(room_manifest(
        "watched",
        &existing.id,
        "Watched",
        "ObserveOnly",
    ))
    .await
    .unwrap();
    let room = env.wait_room("watched", "True", "Ready").await;
    let status = room.status.clone().unwrap();
    assert_eq!(
        status.meeting_code.as_deref(),
        Some(existing.meeting_code.as_str())
    );
    assert!(status.guest_url.is_some());
    let synced = condition_message(Some(&status.conditions), "Synced");
    assert!(
        synced.contains("joinApprovalLevel (not changed in ObserveOnly mode)"),
        "{synced}"
    );
    assert!(synced.contains("expiresAt"), "{synced}");
    assert!(room.metadata.finalizers.unwrap_or_default().is_empty());

    // Resyncs and deletion (even with deletionPolicy Expire) write nothing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    env.delete::<MeetingRoom>("watched").await;
    env.wait_gone::<MeetingRoom>("watched", Duration::from_secs(30))
        .await;
    let counters = env.sim.counters();
    for write in [
        "createRoom",
        "updateRoom",
        "createTheme",
        "updateTheme",
        "deleteTheme",
        "updateApplication",
    ] {
        assert_eq!(counters.operation(write), 0, "{write}: {counters:?}");
    }
    let remote = env.api_client().get_room(&existing.id).await.unwrap();
    assert_eq!(remote.expires_at, existing.expires_at);

    // The theme side: an observed theme is mirrored, never changed.
    let theme = env
        .api_client()
        .create_theme(&CreateTheme {
            theme_name: Some("legacy-brand".into()),
            main_color: "#123456".into(),
            brand_text: "Legacy".into(),
            short_company_url: None,
        })
        .await
        .unwrap();
    env.sim.reset_counters();
    env.create::<MeetingTheme>(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "legacy"},
        "spec": {"mainColor": "#ffffff", "brandText": "Legacy", "adoptId": theme.theme_id,
                 "managementPolicy": "ObserveOnly"}
    }))
    .await
    .unwrap();
    let observed = env
        .wait_theme("legacy", "Synced", "True", "ObserveOnly")
        .await;
    let status = observed.status.unwrap();
    assert_eq!(status.theme_id.as_deref(), Some(theme.theme_id.as_str()));
    assert_eq!(
        status.remote.unwrap().main_color.as_deref(),
        Some("#123456")
    );
    assert!(condition_message(Some(&status.conditions), "Synced").contains("mainColor"));
    assert_eq!(env.sim.counters().operation("updateTheme"), 0);
}

#[tokio::test]
async fn adopting_an_unknown_id_is_reported() {
    let env = OperatorEnv::started("adopt-missing").await;
    env.create::<MeetingRoom>(room_manifest(
        "ghost",
        "00000000-0000-4000-8000-000000000000",
        "Ghost",
        "Managed",
    ))
    .await
    .unwrap();
    let room = env.wait_room("ghost", "False", "Rejected").await;
    let message = condition_message(room.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(message.contains("spec.adoptId"), "{message}");
    assert_eq!(env.sim.counters().operation("createRoom"), 0);
}

fn default_theme(name: &str, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"mainColor": "#0a66c2", "brandText": name, "applicationDefault": true,
                 "deletionPolicy": policy}
    })
}

#[tokio::test]
async fn the_application_default_is_set_reasserted_and_conflicts_reported() {
    let env = OperatorEnv::started("default").await;
    env.create::<MeetingTheme>(default_theme("main", "Delete"))
        .await
        .unwrap();
    let theme = env
        .wait_for::<MeetingTheme, _>("main", "the default", Duration::from_secs(30), |t| {
            t.status
                .as_ref()
                .and_then(|s| s.application_default.as_ref())
                .is_some_and(|d| d.applied)
        })
        .await;
    let theme_id = theme.status.unwrap().theme_id.unwrap();
    assert_eq!(
        env.sim
            .application(&env.app.application_id)
            .unwrap()
            .default_theme_id
            .map(|id| id.to_string()),
        Some(theme_id.clone())
    );

    // Re-asserted on resync (the API cannot be read back).
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let reasserted = env.sim.counters().operation("updateApplication");
    assert!(reasserted >= 1, "re-asserted {reasserted} times");
    let before = env.api::<MeetingTheme>().get("main").await.unwrap();

    // A second contender: both report the conflict, nobody changes the default.
    env.create::<MeetingTheme>(default_theme("rival", "Delete"))
        .await
        .unwrap();
    env.wait_theme("rival", "Synced", "False", "DefaultThemeConflict")
        .await;
    let main = env
        .wait_theme("main", "Synced", "False", "DefaultThemeConflict")
        .await;
    let message = condition_message(main.status.as_ref().map(|s| &s.conditions[..]), "Synced");
    assert!(message.contains("/rival"), "{message}");
    assert_eq!(
        env.sim
            .application(&env.app.application_id)
            .unwrap()
            .default_theme_id
            .map(|id| id.to_string()),
        Some(theme_id.clone())
    );
    assert!(before.status.is_some());

    // The rival steps back: main is the default again, without conflict.
    env.api::<MeetingTheme>()
        .patch(
            "rival",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"applicationDefault": false}})),
        )
        .await
        .unwrap();
    env.wait_theme("main", "Synced", "True", "Ready").await;

    // Deleting the default with Delete waits: the API refuses while it is the default.
    env.delete::<MeetingTheme>("main").await;
    let blocked = env
        .wait_theme("main", "Ready", "False", "DeletionBlocked")
        .await;
    let message = condition_message(blocked.status.as_ref().map(|s| &s.conditions[..]), "Ready");
    assert!(message.contains("refused to delete"), "{message}");
    // Switching to ForceDelete deletes it and says what happens to the default.
    env.api::<MeetingTheme>()
        .patch(
            "main",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"deletionPolicy": "ForceDelete"}})),
        )
        .await
        .unwrap();
    env.wait_gone::<MeetingTheme>("main", Duration::from_secs(60))
        .await;
    let events = env.events_for("main").await.join("\n");
    assert!(events.contains("no default theme"), "{events}");
}
