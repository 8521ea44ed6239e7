//! Live meeting status from callbacks, end to end: a real control plane, the
//! simulator driving meetings and POSTing its callbacks over real HTTP, and
//! the operator in-process with its callback receiver.

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use meetings_operator::callbacks::{CallbackOptions, DEFAULT_TOKEN_SECRET};
use meetings_operator::controller::SecretKey;
use meetings_operator::controller::runner::run_supervised;
use meetings_operator::crd::MeetingRoom;
use meetings_operator::crd::room::LiveStatus;
use meetings_operator::simulator::{ParticipantEventSpelling, RecordingReadyEvent};
use meetings_operator::telemetry::Telemetry;
use operator_env::OperatorEnv;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

/// The operator with its callback receiver on a loopback port; aborted on drop.
struct Operator {
    telemetry: Telemetry,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Operator {
    /// Starts the operator with its callback receiver on `listen`.
    fn start(env: &mut OperatorEnv, listen: &str) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        env.options.callbacks = Some(CallbackOptions {
            listen: listen.parse().expect("an address"),
            public_url: None,
            token: None,
            token_secret: SecretKey {
                namespace: env.ns.clone(),
                name: DEFAULT_TOKEN_SECRET.into(),
            },
        });
        let telemetry = Telemetry::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let (kube, options, t) = (env.kube.clone(), env.options.clone(), telemetry.clone());
        let handle = tokio::spawn(async move {
            run_supervised(
                kube,
                options,
                &t,
                async {
                    let _ = stopped.await;
                },
                std::future::pending(),
            )
            .await
            .expect("the operator runs");
        });
        Self {
            telemetry,
            running: Some((stop, handle)),
        }
    }

    async fn stop(mut self) {
        if let Some((stop, handle)) = self.running.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(20), handle).await;
        }
    }

    /// The value of one series of the callbacks counter.
    fn callbacks(&self, event: &str, result: &str) -> f64 {
        let series =
            format!("meetings_operator_callbacks_total{{event=\"{event}\",result=\"{result}\"}} ");
        let text = self.telemetry.metrics.render().expect("metrics render");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some((_, handle)) = self.running.take() {
            handle.abort();
        }
    }
}

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    meetings_operator::meetings::format_timestamp(&at)
}

fn room(name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut room = json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {
            "displayName": format!("Room {name}"), "type": "long_term",
            "expiresAt": in_days(30), "operatorCallbacks": true,
            "availableFeatures": {"isRecordingAvailable": true}
        }
    });
    if let (Some(spec), Some(extra)) = (room["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    room
}

/// The remote room of a Ready MeetingRoom.
async fn ready_remote(env: &OperatorEnv, name: &str) -> meetings_operator::simulator::Room {
    let room = env.wait_room(name, "True", "Ready").await;
    let id = room
        .status
        .and_then(|s| s.room_id)
        .expect("a Ready room has an id");
    env.sim
        .rooms(&env.app.application_id)
        .into_iter()
        .find(|r| r.id.to_string() == id)
        .expect("the remote room")
}

/// Waits until the room's `status.live` satisfies `check`.
async fn wait_live(
    env: &OperatorEnv,
    name: &str,
    what: &str,
    check: impl Fn(&LiveStatus) -> bool,
) -> LiveStatus {
    let room = env
        .wait_for::<MeetingRoom, _>(name, what, WAIT, |room| {
            room.status
                .as_ref()
                .and_then(|s| s.live.as_ref())
                .is_some_and(&check)
        })
        .await;
    room.status.and_then(|s| s.live).expect("status.live")
}

/// How many times each reason was reported for `name`: Kubernetes folds
/// repeats of a reason into one Event with a series count.
async fn event_counts(env: &OperatorEnv, name: &str) -> BTreeMap<String, i32> {
    let api: Api<k8s_openapi::api::events::v1::Event> = env.api();
    let mut counts = BTreeMap::new();
    for event in api.list(&Default::default()).await.expect("events").items {
        if event.regarding.as_ref().and_then(|r| r.name.as_deref()) != Some(name) {
            continue;
        }
        let times = event.series.as_ref().map_or(1, |s| s.count);
        *counts.entry(event.reason.unwrap_or_default()).or_insert(0) += times;
    }
    counts
}

/// Waits until the reasons were reported exactly as often as `expected` says.
async fn wait_events(
    env: &OperatorEnv,
    name: &str,
    expected: &[(&str, i32)],
) -> BTreeMap<String, i32> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last = event_counts(env, name).await;
        if expected.iter().all(|(r, n)| last.get(*r) == Some(n)) {
            return last;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("events for {name}: expected {expected:?}, have {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_meeting_shows_in_live_status_with_events() {
    let mut env = OperatorEnv::new("cb-meeting", |_| {}).await;
    let operator = Operator::start(&mut env, "127.0.0.1:0");
    env.create::<MeetingRoom>(room("weekly", json!({})))
        .await
        .unwrap();
    env.create::<MeetingRoom>(room(
        "own-rooms-url",
        json!({"callbackUrls": {"roomsCallbackUrl": "https://mine.example.com/rooms"}}),
    ))
    .await
    .unwrap();

    // The callback URLs point at the operator, with the token kept in the Secret.
    let remote = ready_remote(&env, "weekly").await;
    let secret: Secret = env.api::<Secret>().get(DEFAULT_TOKEN_SECRET).await.unwrap();
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    assert!(token.len() >= 32);
    let urls = &remote.callback_urls;
    for (url, kind) in [
        (&urls.rooms_callback_url, "rooms"),
        (&urls.sessions_callback_url, "sessions"),
        (&urls.recordings_callback_url, "recordings"),
    ] {
        let url = url.as_deref().expect("a callback URL");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(
            url.ends_with(&format!("/callbacks/{token}/{kind}")),
            "{url}"
        );
    }
    // An explicit field of spec.callbackUrls wins; the others are the operator's.
    let own = ready_remote(&env, "own-rooms-url").await;
    assert_eq!(
        own.callback_urls.rooms_callback_url.as_deref(),
        Some("https://mine.example.com/rooms")
    );
    assert_eq!(
        own.callback_urls.sessions_callback_url,
        urls.sessions_callback_url
    );
    // The token appears in no status and no event.
    let listed = serde_json::to_string(
        &env.api::<MeetingRoom>()
            .list(&Default::default())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!listed.contains(&token));

    // A meeting: the host and a guest join, the guest leaves.
    let session = env.sim.start_session(remote.id).unwrap();
    env.sim.join_session(&session.id, "Host", true).unwrap();
    let guest = env.sim.join_session(&session.id, "Guest", false).unwrap();
    let live = wait_live(&env, "weekly", "showing two participants", |live| {
        live.active_session
            .as_ref()
            .is_some_and(|a| a.participant_count == 2)
    })
    .await;
    let active = live.active_session.unwrap();
    assert_eq!(active.session_id, session.id);
    assert!(active.host_present);
    assert!(active.started_at.is_some());
    env.sim.leave_session(&session.id, guest.id).unwrap();
    wait_live(&env, "weekly", "showing one participant", |live| {
        live.active_session
            .as_ref()
            .is_some_and(|a| a.participant_count == 1 && a.host_present)
    })
    .await;

    // A recording, then the end of the session.
    let recording = env.sim.start_recording(&session.id).unwrap();
    wait_live(&env, "weekly", "showing a started recording", |live| {
        live.recordings
            .first()
            .is_some_and(|r| r.status == "started")
    })
    .await;
    env.sim.stop_recording(recording.id).unwrap();
    env.sim.upload_recording(recording.id).unwrap();
    env.sim.end_session(&session.id).unwrap();
    let live = wait_live(
        &env,
        "weekly",
        "showing the ended session and the recording",
        |live| {
            live.active_session.is_none()
                && live.last_session.is_some()
                && live.recordings.first().is_some_and(|r| r.url.is_some())
        },
    )
    .await;
    let last = live.last_session.unwrap();
    assert_eq!(last.session_id, session.id);
    assert!(last.started_at.is_some() && last.ended_at.is_some());
    assert_eq!(live.recordings.len(), 1);
    let summary = &live.recordings[0];
    assert_eq!(summary.id, recording.id.to_string());
    assert_eq!(summary.status, "uploaded");
    assert!(summary.duration_seconds.is_some());
    assert!(
        summary
            .url
            .as_deref()
            .is_some_and(|u| u.contains(&recording.id.to_string()))
    );

    wait_events(
        &env,
        "weekly",
        &[
            ("SessionStarted", 1),
            ("SessionEnded", 1),
            ("RecordingReady", 1),
        ],
    )
    .await;
    let notes = env.events_for("weekly").await.join("\n");
    assert!(
        notes.contains(&format!("session {} started", session.id)),
        "{notes}"
    );
    assert!(!notes.contains(&token));

    // The reconciler's writes leave status.live alone (and the other way round).
    let room = env
        .wait_for::<MeetingRoom, _>("weekly", "Ready", WAIT, |r| {
            operator_env::has_condition(
                r.status.as_ref().map(|s| &s.conditions[..]),
                "Ready",
                "True",
                "Ready",
            )
        })
        .await;
    assert!(room.status.as_ref().and_then(|s| s.live.as_ref()).is_some());
    let managers: Vec<String> = room
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.iter().any(|m| m == "meetings-operator-callbacks"),
        "{managers:?}"
    );
    assert!(operator.callbacks("session:started", "applied") >= 1.0);
    assert!(operator.callbacks("recording:ready", "applied") >= 1.0);
    operator.stop().await;
}

#[tokio::test]
async fn duplicated_reordered_and_renamed_callbacks_give_the_same_status() {
    let mut env = OperatorEnv::new("cb-shuffle", |_| {}).await;
    let operator = Operator::start(&mut env, "127.0.0.1:0");
    env.create::<MeetingRoom>(room("busy", json!({})))
        .await
        .unwrap();
    let remote = ready_remote(&env, "busy").await;
    env.sim.update_behavior(|b| {
        b.duplicate_callbacks = true;
        b.shuffle_callbacks = true;
        b.participant_events = ParticipantEventSpelling::Short;
        b.recording_ready_event = RecordingReadyEvent::Uploaded;
    });

    // Two meetings driven quickly, so that their callbacks are delivered
    // twice and shuffled together.
    let mut expected_recordings = Vec::new();
    let mut last_session = String::new();
    for _ in 0..2 {
        let session = env.sim.start_session(remote.id).unwrap();
        env.sim.join_session(&session.id, "Host", true).unwrap();
        let guest = env.sim.join_session(&session.id, "Guest", false).unwrap();
        env.sim.join_session(&session.id, "Other", false).unwrap();
        let recording = env.sim.start_recording(&session.id).unwrap();
        env.sim.leave_session(&session.id, guest.id).unwrap();
        env.sim.stop_recording(recording.id).unwrap();
        env.sim.upload_recording(recording.id).unwrap();
        env.sim.end_session(&session.id).unwrap();
        expected_recordings.insert(0, recording.id.to_string());
        last_session = session.id;
        // Sessions a few milliseconds apart (times are sent in milliseconds),
        // still within one shuffling window.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // A third meeting still running: the guest left, two remain.
    let session = env.sim.start_session(remote.id).unwrap();
    env.sim.join_session(&session.id, "Host", true).unwrap();
    let guest = env.sim.join_session(&session.id, "Guest", false).unwrap();
    env.sim.join_session(&session.id, "Other", false).unwrap();
    env.sim.leave_session(&session.id, guest.id).unwrap();
    assert!(env.sim.flush_callbacks(WAIT).await);

    let live = wait_live(&env, "busy", "showing everything", |live| {
        live.active_session
            .as_ref()
            .is_some_and(|a| a.session_id == session.id && a.participant_count == 2)
            && live.last_session.as_ref().map(|l| l.session_id.as_str())
                == Some(last_session.as_str())
            && live.recordings.len() == 2
            && live
                .recordings
                .iter()
                .all(|r| r.status == "uploaded" && r.url.is_some())
    })
    .await;
    assert!(live.active_session.unwrap().host_present);
    // Both recordings, whatever order their events came in.
    let mut shown: Vec<String> = live.recordings.iter().map(|r| r.id.clone()).collect();
    shown.sort();
    expected_recordings.sort();
    assert_eq!(shown, expected_recordings);

    // Every callback was delivered twice and accepted; the copies changed nothing.
    let deliveries = env.sim.callbacks();
    assert!(
        deliveries.iter().all(|d| d.status == Some(204)),
        "{deliveries:#?}"
    );
    assert!(deliveries.iter().any(|d| d.event == "participant:joined"));
    assert!(deliveries.iter().any(|d| d.event == "recording:uploaded"));
    let unchanged: f64 = [
        "session:started",
        "session:participant:joined",
        "recording:ready",
    ]
    .iter()
    .map(|e| operator.callbacks(e, "unchanged"))
    .sum();
    assert!(unchanged >= 3.0, "duplicates were counted as unchanged");
    // One Event per fact despite the duplicates.
    let counts = wait_events(&env, "busy", &[("SessionEnded", 2), ("RecordingReady", 2)]).await;
    assert!(
        counts
            .get("SessionStarted")
            .is_some_and(|n| (1..=3).contains(n)),
        "{counts:?}"
    );
    operator.stop().await;
}

#[tokio::test]
async fn bad_callbacks_are_refused_and_counted_and_the_token_survives_a_restart() {
    let mut env = OperatorEnv::new("cb-bad", |_| {}).await;
    let operator = Operator::start(&mut env, "127.0.0.1:0");
    env.create::<MeetingRoom>(room("r", json!({})))
        .await
        .unwrap();
    let remote = ready_remote(&env, "r").await;
    let sessions_url = remote
        .callback_urls
        .sessions_callback_url
        .clone()
        .expect("a sessions URL");
    let base = sessions_url
        .split("/callbacks/")
        .next()
        .expect("a base URL")
        .to_owned();
    let http = reqwest::Client::new();
    let post = |url: String, body: Vec<u8>| {
        let http = http.clone();
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(body)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .expect("the receiver answers")
                .status()
                .as_u16()
        }
    };

    assert_eq!(post(sessions_url.clone(), b"{not json".to_vec()).await, 400);
    assert_eq!(
        post(
            sessions_url.clone(),
            b"{\"event\":\"session:started\"}".to_vec()
        )
        .await,
        400
    );
    let mut huge = b"{\"event\":\"session:started\",\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 70 * 1024));
    huge.extend(b"\"}");
    assert_eq!(post(sessions_url.clone(), huge).await, 413);
    let valid = json!({
        "event": "session:started", "session_id": "s-unknown",
        "room_id": "00000000-0000-4000-8000-000000000000",
        "started_at": "2030-01-01T00:00:00Z"
    })
    .to_string()
    .into_bytes();
    let wrong = format!("{base}/callbacks/wrong-token-000000000000000000000000000/sessions");
    assert_eq!(post(wrong, valid.clone()).await, 404);
    assert_eq!(post(format!("{base}/anything"), valid.clone()).await, 404);
    let token_path = sessions_url.trim_end_matches("/sessions");
    assert_eq!(
        post(format!("{token_path}/other"), valid.clone()).await,
        404
    );
    // A room this operator does not manage, and an event it does not handle.
    assert_eq!(post(sessions_url.clone(), valid).await, 204);
    let unknown_event = json!({"event": "room:renamed", "room_id": remote.id}).to_string();
    assert_eq!(
        post(sessions_url.clone(), unknown_event.into_bytes()).await,
        204
    );

    assert_eq!(operator.callbacks("unknown", "malformed"), 1.0);
    assert_eq!(operator.callbacks("session:started", "malformed"), 1.0);
    assert_eq!(operator.callbacks("unknown", "too_large"), 1.0);
    assert_eq!(operator.callbacks("unknown", "rejected"), 3.0);
    assert_eq!(operator.callbacks("session:started", "unknown_room"), 1.0);
    assert_eq!(operator.callbacks("unknown", "ignored"), 1.0);

    // Still working: a real meeting is seen.
    let session = env.sim.start_session(remote.id).unwrap();
    env.sim.join_session(&session.id, "Host", true).unwrap();
    wait_live(&env, "r", "showing the host", |live| {
        live.active_session.as_ref().is_some_and(|a| a.host_present)
    })
    .await;

    // After a restart on the same address the token is the same, so the
    // rooms' callback URLs need no update.
    operator.stop().await;
    env.sim.reset_counters();
    let listen = base.trim_start_matches("http://").to_owned();
    let operator = Operator::start(&mut env, &listen);
    // Several resyncs (3 s in tests) reconcile the room.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let counters = env.sim.counters();
    assert!(
        counters.operation("getRooms") + counters.operation("getRoom") > 0,
        "{counters:?}"
    );
    assert_eq!(counters.operation("updateRoom"), 0, "{counters:?}");
    // The restarted receiver continues from status.live: the guest joining counts on top of the host.
    env.sim.join_session(&session.id, "Guest", false).unwrap();
    wait_live(&env, "r", "showing two participants", |live| {
        live.active_session
            .as_ref()
            .is_some_and(|a| a.participant_count == 2 && a.host_present)
    })
    .await;
    operator.stop().await;
}

#[tokio::test]
async fn room_expired_callback_marks_the_room_expired_at_once() {
    let mut env = OperatorEnv::new("cb-expired", |_| {}).await;
    // Resync far away: only the callback can make the operator notice in time.
    env.options.settings.resync = Duration::from_secs(600);
    let operator = Operator::start(&mut env, "127.0.0.1:0");
    env.create::<MeetingRoom>(room("short", json!({})))
        .await
        .unwrap();
    ready_remote(&env, "short").await;

    env.sim
        .advance_clock(jiff::SignedDuration::from_hours(24 * 31));
    assert!(env.sim.flush_callbacks(WAIT).await);
    let expired = env.sim.callbacks();
    assert!(
        expired
            .iter()
            .any(|d| d.event == "room:expired" && d.status == Some(204)),
        "{expired:#?}"
    );
    let room = env
        .wait_for::<MeetingRoom, _>(
            "short",
            "Ready=False (Expired)",
            Duration::from_secs(15),
            |r| {
                operator_env::has_condition(
                    r.status.as_ref().map(|s| &s.conditions[..]),
                    "Ready",
                    "False",
                    "Expired",
                )
            },
        )
        .await;
    assert_eq!(room.status.and_then(|s| s.is_available), Some(false));
    assert_eq!(operator.callbacks("room:expired", "applied"), 1.0);
    operator.stop().await;
}
