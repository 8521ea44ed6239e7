//! The health GitOps tools compute for live objects: each MeetingRoom and
//! MeetingTheme state the operator reports is read back from the real API
//! server and judged by the kstatus library (what Flux and `kubectl wait`
//! use) and by the shipped Argo CD health check run in gopher-lua (the
//! interpreter Argo CD embeds), through `tools/health`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::format_timestamp;
use meetings_simulator::{FaultKind, FaultSpec};
use operator_env::OperatorEnv;
use serde_json::{Value, json};

/// What the tools say of one object.
#[derive(Debug, PartialEq)]
struct Health {
    kstatus: String,
    argocd: String,
}

fn health_of(object: &Value) -> Health {
    let tool = support::tools_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("health");
    let script = support::repo_root().join("integrations/argocd/health.lua");
    let mut child = Command::new(&tool)
        .arg("-argocd")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    serde_json::to_writer(child.stdin.take().unwrap(), object).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{} failed", tool.display());
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    Health {
        kstatus: answer["kstatus"].as_str().unwrap_or_default().to_owned(),
        argocd: answer["argocd"].as_str().unwrap_or_default().to_owned(),
    }
}

fn expect(kstatus: &str, argocd: &str) -> Health {
    Health {
        kstatus: kstatus.to_owned(),
        argocd: argocd.to_owned(),
    }
}

fn room(name: &str, spec: Value) -> Value {
    let mut room = json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {"displayName": format!("Room {name}"), "type": "long_term",
                 "expiresAt": in_secs(30 * 86_400)}
    });
    if let (Some(target), Some(extra)) = (room["spec"].as_object_mut(), spec.as_object()) {
        target.extend(extra.clone());
    }
    room
}

fn theme(name: &str) -> Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"mainColor": "#0a66c2", "brandText": "Acme"}
    })
}

fn in_secs(secs: i64) -> String {
    format_timestamp(&(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(secs)))
}

/// Waits until the room's `Ready` reason is `reason`, then returns the
/// health of the object as the API server serves it.
async fn room_health(env: &OperatorEnv, name: &str, reason: &str) -> Health {
    let room = env
        .wait_for::<MeetingRoom, _>(name, reason, Duration::from_secs(60), |r| {
            r.status.as_ref().is_some_and(|s| {
                s.observed_generation == r.metadata.generation
                    && s.conditions.iter().any(|c| c.reason == reason)
            })
        })
        .await;
    health_of(&serde_json::to_value(room).unwrap())
}

async fn theme_health(env: &OperatorEnv, name: &str, reason: &str) -> Health {
    let theme = env
        .wait_for::<MeetingTheme, _>(name, reason, Duration::from_secs(60), |t| {
            t.status.as_ref().is_some_and(|s| {
                s.observed_generation == t.metadata.generation
                    && s.conditions.iter().any(|c| c.reason == reason)
            })
        })
        .await;
    health_of(&serde_json::to_value(theme).unwrap())
}

#[tokio::test]
async fn ready_waiting_and_retrying_objects() {
    let mut env = OperatorEnv::new("health-progress", |_| {}).await;
    env.start_operator();
    env.create::<MeetingTheme>(theme("t")).await.unwrap();
    env.create::<MeetingRoom>(room("ready", json!({"themeRef": {"name": "t"}})))
        .await
        .unwrap();
    env.create::<MeetingRoom>(room("waiting", json!({"themeRef": {"name": "missing"}})))
        .await
        .unwrap();
    assert_eq!(
        theme_health(&env, "t", "Ready").await,
        expect("Current", "Healthy")
    );
    assert_eq!(
        room_health(&env, "ready", "Ready").await,
        expect("Current", "Healthy")
    );
    assert_eq!(
        room_health(&env, "waiting", "ThemeNotFound").await,
        expect("InProgress", "Progressing")
    );

    // The API fails: retrying with backoff is progress, not failure.
    env.sim.faults().add(FaultSpec::new(
        "createRoom",
        FaultKind::ServerError { status: Some(503) },
    ));
    env.create::<MeetingRoom>(room("retrying", json!({})))
        .await
        .unwrap();
    assert_eq!(
        room_health(&env, "retrying", "ApiError").await,
        expect("InProgress", "Progressing")
    );
}

#[tokio::test]
async fn each_reason_that_needs_a_change_is_failed() {
    let mut env = OperatorEnv::new("health-stalled", |config| {
        config.behavior.long_term_min_lifetime_secs = 1;
    })
    .await;
    env.start_operator();
    let failed = expect("Failed", "Degraded");

    // Invalid credentials: a Secret without the keys.
    env.create::<k8s_openapi::api::core::v1::Secret>(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broken"},
        "stringData": {"applicationId": "not-an-application"}
    }))
    .await
    .unwrap();
    env.create::<MeetingRoom>(room("creds", json!({"credentialsRef": {"name": "broken"}})))
        .await
        .unwrap();
    assert_eq!(
        room_health(&env, "creds", "CredentialsInvalid").await,
        failed
    );

    // Not updatable: an instant room whose mutable field changes.
    env.create::<MeetingRoom>(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "instant"},
        "spec": {"displayName": "Instant", "type": "instant"}
    }))
    .await
    .unwrap();
    env.wait_room("instant", "True", "Ready").await;
    env.patch_room_spec("instant", json!({"joinApprovalLevel": "explicit_approval"}))
        .await;
    assert_eq!(room_health(&env, "instant", "NotUpdatable").await, failed);

    // Expired: a long-term room whose lifetime passes.
    env.create::<MeetingRoom>(room("expired", json!({"expiresAt": in_secs(4)})))
        .await
        .unwrap();
    assert_eq!(room_health(&env, "expired", "Expired").await, failed);

    // Rejected by the API: past the application's room limit.
    env.sim.update_behavior(|b| b.room_limit = Some(0));
    env.create::<MeetingRoom>(room("rejected", json!({})))
        .await
        .unwrap();
    assert_eq!(room_health(&env, "rejected", "Rejected").await, failed);

    // Deletion blocked: a theme still used by a room.
    env.create::<MeetingTheme>(theme("used")).await.unwrap();
    env.wait_theme("used", "Ready", "True", "Ready").await;
    env.api::<MeetingRoom>()
        .patch(
            "instant",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"joinApprovalLevel": null, "themeRef": {"name": "used"}}}),
            ),
        )
        .await
        .unwrap();
    env.delete::<MeetingTheme>("used").await;
    // kstatus reports any object with a deletion timestamp as Terminating
    // before it reads conditions; Argo CD's check sees the stall.
    assert_eq!(
        theme_health(&env, "used", "DeletionBlocked").await,
        expect("Terminating", "Degraded")
    );
}

#[test]
fn the_health_tool_is_built() {
    let tool: PathBuf = support::tools_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("health");
    assert!(tool.is_file(), "{} is missing", tool.display());
}

#[tokio::test]
async fn a_paused_object_is_suspended_for_argo_cd() {
    let mut env = OperatorEnv::new("health-paused", |_| {}).await;
    env.start_operator();
    env.create::<MeetingRoom>(room("paused", json!({})))
        .await
        .unwrap();
    env.wait_room("paused", "True", "Ready").await;
    env.api::<MeetingRoom>()
        .patch(
            "paused",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"meetings.vonage.com/paused": "true"}}}),
            ),
        )
        .await
        .unwrap();
    // Pausing needs undoing before anything progresses: Stalled to kstatus.
    assert_eq!(
        room_health(&env, "paused", "Paused").await,
        expect("Failed", "Suspended")
    );
}
