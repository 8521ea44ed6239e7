//! Credentials never leak: a whole lifecycle (a theme and rooms created,
//! updated, drift corrected, a failing credential, deleted) with the
//! operator's logs captured at debug level, then the logs, the Kubernetes
//! Events, conditions and status are searched for the private key, every
//! host-URL participant token the simulator issued and JWT bearer tokens.
//! The host URL lives only in its Secret, which is owned by its room,
//! garbage-collected with it, and readable only through RBAC on Secrets.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{JoinApprovalLevel, RoomUpdate};
use operator_env::OperatorEnv;
use serde_json::json;

/// Everything the process logs, as formatted lines.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Buffer> = OnceLock::new();

/// Installs the process-wide subscriber, at debug level whatever `RUST_LOG`
/// says, before `OperatorEnv::start_operator` tries to install its own. The
/// in-process simulator is left out: it is the remote service, not the
/// operator, and what it logs is not the operator's output.
fn capture_logs() -> Buffer {
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,meetings_simulator=off",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the first subscriber of this test binary");
        buffer
    })
    .clone()
}

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    meetings_operator::meetings::format_timestamp(&at)
}

fn room(name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({
        "displayName": format!("Secret test {name}"), "type": "long_term",
        "expiresAt": in_days(30), "joinApprovalLevel": "none",
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name}, "spec": spec,
    })
}

/// The `participant_token` query value of a host URL.
fn participant_token(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find_map(|(k, v)| (k == "participant_token" && !v.is_empty()).then(|| v.into_owned()))
}

/// Distinctive pieces of a PEM private key's body: three 40-character
/// slices of the base64 (start, middle, end of the body).
fn pem_needles(pem: &str) -> Vec<String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    assert!(body.len() > 200, "a real key body");
    let mut needles = Vec::new();
    for start in [8, body.len() / 2, body.len() - 48] {
        needles.push(body[start..start + 40].to_owned());
    }
    // Each whole line of the body, too (a log line may keep the breaks).
    needles.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 40)
            .map(|l| l[..40].to_owned())
            .take(3),
    );
    needles
}

async fn wait_ready_false(env: &OperatorEnv, name: &str) -> MeetingRoom {
    env.wait_for::<MeetingRoom, _>(name, "Ready=False", Duration::from_secs(45), |r| {
        r.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "False")
        })
    })
    .await
}

#[tokio::test]
async fn credentials_and_host_urls_appear_nowhere_but_their_secrets() {
    let logs = capture_logs();
    let cp = support::control_plane().await;
    let mut env = OperatorEnv::new("secrets", |_| {}).await;
    env.start_operator();

    // A second application whose key the service stops accepting (401), and
    // a Secret whose key is unusable garbage with a recognisable body.
    let revoked = env.sim.add_application().await.expect("application");
    env.sim
        .revoke_keys(&revoked.application_id)
        .expect("keys revoked");
    let garbage_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpTRUNSRVRLRVlNQVJLRVI".repeat(6)
    );
    let secrets: Api<Secret> = env.api();
    for (name, app_id, pem) in [
        (
            "revoked-credentials",
            revoked.application_id.as_str(),
            revoked.private_key_pem.as_str(),
        ),
        (
            "garbage-credentials",
            "11111111-2222-3333-4444-555555555555",
            garbage_pem.as_str(),
        ),
    ] {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([
                (
                    "applicationId".into(),
                    ByteString(app_id.as_bytes().to_vec()),
                ),
                ("privateKey".into(), ByteString(pem.as_bytes().to_vec())),
            ])),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .expect("credentials Secret created");
    }

    // Created.
    env.create::<MeetingTheme>(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "brand"},
        "spec": {"mainColor": "#0a66c2", "brandText": "Secret test", "shortCompanyUrl": format!("secret-{}", env.ns), "deletionPolicy": "ForceDelete"}
    }))
    .await
    .unwrap();
    let rooms = ["alpha", "beta", "gamma"];
    for name in rooms {
        env.create::<MeetingRoom>(room(name, json!({"themeRef": {"name": "brand"}})))
            .await
            .unwrap();
    }
    env.create::<MeetingRoom>(room(
        "revoked",
        json!({"credentialsRef": {"name": "revoked-credentials"}}),
    ))
    .await
    .unwrap();
    env.create::<MeetingRoom>(room(
        "garbage",
        json!({"credentialsRef": {"name": "garbage-credentials"}}),
    ))
    .await
    .unwrap();
    env.wait_theme("brand", "Ready", "True", "Ready").await;
    for name in rooms {
        env.wait_room(name, "True", "Ready").await;
    }
    let revoked_room = wait_ready_false(&env, "revoked").await;
    let garbage_room = wait_ready_false(&env, "garbage").await;
    eprintln!(
        "failing credentials: revoked key -> {:?}; garbage key -> {:?}",
        revoked_room.status.as_ref().map(|s| s
            .conditions
            .iter()
            .map(|c| &c.reason)
            .collect::<Vec<_>>()),
        garbage_room.status.as_ref().map(|s| s
            .conditions
            .iter()
            .map(|c| &c.reason)
            .collect::<Vec<_>>()),
    );

    // Updated.
    env.patch_room_spec("alpha", json!({"joinApprovalLevel": "explicit_approval"}))
        .await;
    env.wait_for::<MeetingRoom, _>(
        "alpha",
        "synced at generation 2",
        Duration::from_secs(30),
        |r| {
            r.metadata.generation == Some(2)
                && r.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
        },
    )
    .await;

    // Drift corrected (the remote room changed outside Kubernetes).
    let client = env.api_client();
    let beta = env.api::<MeetingRoom>().get("beta").await.unwrap();
    let beta_id = beta.status.unwrap().room_id.unwrap();
    client
        .update_room(
            &beta_id,
            &RoomUpdate {
                join_approval_level: Some(JoinApprovalLevel::ExplicitApproval),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    support::eventually("drift corrected", Duration::from_secs(30), || async {
        let remote = client.get_room(&beta_id).await.ok()?;
        (remote.join_approval_level == Some(JoinApprovalLevel::None)).then_some(())
    })
    .await;

    // The host URLs: one Secret per ready room, owned by it (controller),
    // plus fresh ones from direct reads.
    let mut tokens = BTreeSet::new();
    let mut host_secrets = BTreeMap::new();
    for name in rooms {
        let room = env.api::<MeetingRoom>().get(name).await.unwrap();
        let status = room.status.clone().unwrap();
        let secret_name = status
            .host_url_secret_name
            .clone()
            .expect("host URL Secret");
        let secret = secrets.get(&secret_name).await.unwrap();
        let host_url =
            String::from_utf8(secret.data.clone().unwrap()["hostUrl"].0.clone()).unwrap();
        tokens.insert(participant_token(&host_url).expect("a participant token"));
        let owners = secret.metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(owners.len(), 1, "{owners:?}");
        assert_eq!(owners[0].kind, "MeetingRoom");
        assert_eq!(owners[0].name, name);
        assert_eq!(Some(&owners[0].uid), room.metadata.uid.as_ref());
        assert_eq!(owners[0].controller, Some(true));
        for _ in 0..3 {
            let remote = client
                .get_room(status.room_id.as_deref().unwrap())
                .await
                .unwrap();
            tokens.insert(participant_token(remote.host_url().unwrap()).unwrap());
        }
        host_secrets.insert(name, secret_name);
    }
    // Every participant token the simulator ever sent to anyone.
    for exchange in env.sim.exchanges() {
        let body = exchange.body.map(|b| b.to_string()).unwrap_or_default();
        for piece in body.split('"') {
            if piece.contains("participant_token=")
                && let Some(token) = participant_token(piece)
            {
                tokens.insert(token);
            }
        }
    }
    assert!(tokens.len() >= 12, "tokens collected: {}", tokens.len());

    // Only RBAC that grants Secrets reads them: a ServiceAccount allowed to
    // get MeetingRooms reads the room but not its host-URL Secret.
    let sa = "room-reader";
    env.api::<ServiceAccount>()
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(sa.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    env.api::<Role>()
        .create(
            &PostParams::default(),
            &Role {
                metadata: ObjectMeta {
                    name: Some(sa.into()),
                    ..Default::default()
                },
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec!["meetings.vonage.com".into()]),
                    resources: Some(vec!["meetingrooms".into()]),
                    verbs: vec!["get".into()],
                    ..Default::default()
                }]),
            },
        )
        .await
        .unwrap();
    env.api::<RoleBinding>()
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: ObjectMeta {
                    name: Some(sa.into()),
                    ..Default::default()
                },
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "Role".into(),
                    name: sa.into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: sa.into(),
                    namespace: Some(env.ns.clone()),
                    ..Default::default()
                }]),
            },
        )
        .await
        .unwrap();
    let reader = cp.service_account_client(&env.ns, sa).await;
    let reader_rooms: Api<MeetingRoom> = Api::namespaced(reader.clone(), &env.ns);
    let reader_secrets: Api<Secret> = Api::namespaced(reader, &env.ns);
    let seen = support::eventually("the Role to apply", Duration::from_secs(20), || async {
        reader_rooms.get("alpha").await.ok()
    })
    .await;
    assert!(seen.status.is_some());
    match reader_secrets.get(&host_secrets["alpha"]).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("a room reader read the host-URL Secret: {other:?}"),
    }

    // Status and conditions of everything, before deletion.
    let status_before = format!(
        "{}\n{}",
        serde_json::to_string(
            &env.api::<MeetingRoom>()
                .list(&Default::default())
                .await
                .unwrap()
                .items
        )
        .unwrap(),
        serde_json::to_string(
            &env.api::<MeetingTheme>()
                .list(&Default::default())
                .await
                .unwrap()
                .items
        )
        .unwrap()
    );

    // Deleted: the rooms go through their finalizers and the controller
    // manager's garbage collector removes their Secrets.
    let mut all_rooms: Vec<&str> = rooms.to_vec();
    all_rooms.extend(["revoked", "garbage"]);
    for name in &all_rooms {
        env.delete::<MeetingRoom>(name).await;
    }
    for name in &all_rooms {
        env.wait_gone::<MeetingRoom>(name, Duration::from_secs(45))
            .await;
    }
    for (name, secret) in &host_secrets {
        support::eventually(
            &format!("the host-URL Secret of {name} to be garbage-collected"),
            Duration::from_secs(60),
            || async { matches!(secrets.get_opt(secret).await, Ok(None)).then_some(()) },
        )
        .await;
    }
    env.delete::<MeetingTheme>("brand").await;
    env.wait_gone::<MeetingTheme>("brand", Duration::from_secs(45))
        .await;
    env.stop_operator().await;

    // Now search everything the operator produced.
    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let ns_lines: Vec<&str> = log_text.lines().collect();
    assert!(
        ns_lines.iter().any(|l| l.contains("DEBUG")),
        "debug lines were captured"
    );
    let events_v1: Api<k8s_openapi::api::events::v1::Event> = env.api();
    let events_core: Api<k8s_openapi::api::core::v1::Event> = env.api();
    let events = format!(
        "{}\n{}",
        serde_json::to_string(&events_v1.list(&Default::default()).await.unwrap().items).unwrap(),
        serde_json::to_string(&events_core.list(&Default::default()).await.unwrap().items).unwrap()
    );
    let status_text = format!(
        "{status_before}\n{}\n{}\n{}",
        serde_json::to_string(&revoked_room).unwrap(),
        serde_json::to_string(&garbage_room).unwrap(),
        serde_json::to_string(&seen).unwrap()
    );

    let mut needles: Vec<(String, String)> = Vec::new();
    for pem in [
        env.app.private_key_pem.as_str(),
        revoked.private_key_pem.as_str(),
        garbage_pem.as_str(),
    ] {
        for n in pem_needles(pem) {
            needles.push(("private key PEM".into(), n));
        }
    }
    for t in &tokens {
        needles.push(("participant token".into(), t.clone()));
    }
    needles.push((
        "participant_token parameter".into(),
        "participant_token".into(),
    ));
    needles.push(("JWT".into(), "eyJ".into()));

    let mut hits = Vec::new();
    for (place, text) in [
        ("logs", &log_text),
        ("events", &events),
        ("status/conditions", &status_text),
    ] {
        for (what, needle) in &needles {
            let count = text.matches(needle.as_str()).count();
            if count > 0 {
                let line = text
                    .lines()
                    .find(|l| l.contains(needle.as_str()))
                    .unwrap_or_default();
                hits.push(format!("{count} × {what} in {place}: {line:.300}"));
            }
        }
    }
    eprintln!(
        "searched {} log lines ({} bytes), {} bytes of events, {} bytes of status for {} needles \
         ({} participant tokens, 3 private keys, JWTs): {} hits",
        ns_lines.len(),
        log_text.len(),
        events.len(),
        status_text.len(),
        needles.len(),
        tokens.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "credentials leaked:\n{}", hits.join("\n"));
}
