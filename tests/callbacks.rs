//! Live meeting status from callbacks, end to end: a real control plane, the
//! simulator driving meetings and POSTing its callbacks over real HTTP, and
//! the operator in-process with its callback receiver.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
#[path = "support/rss.rs"]
mod rss;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use meetings_operator::app::run_supervised;
use meetings_operator::callbacks::{CallbackOptions, DEFAULT_TOKEN_SECRET};
use meetings_operator::crd::MeetingRoom;
use meetings_operator::crd::room::LiveStatus;
use meetings_operator::services::SecretKey;
use meetings_operator::telemetry::Telemetry;
use meetings_simulator::{ParticipantEventSpelling, RecordingReadyEvent};
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
            leader_route: None,
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
async fn ready_remote(env: &OperatorEnv, name: &str) -> meetings_simulator::Room {
    let room = env.wait_room(name, "True", "Ready").await;
    let id = room
        .status
        .and_then(|s| s.room_id)
        .expect("a Ready room has an id");
    env.sim
        .rooms(&env.app.application_id)
        .into_iter()
        .find(|r| *r.id.to_string() == *id)
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
                .and_then(|s| s.live.as_deref())
                .is_some_and(&check)
        })
        .await;
    *room.status.and_then(|s| s.live).expect("status.live")
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
    // The simulated clock jumps a month here, which the operator's clock does
    // not see, so the room must say it expired by its flag: the live
    // service's `is_available: true` after expiry would hide it (the
    // operator confirms a callback's expiry from the API, never trusts it).
    let mut env = OperatorEnv::new("cb-expired", |config| {
        config.behavior.expired_rooms_report_available = false;
    })
    .await;
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

// ---------------------------------------------------------------------------------------
// Generated bodies against the receiver over HTTP. These need no control plane: the
// receiver watches no scope (every usable event is for an unknown room) and its
// Kubernetes client points at a closed port and is never used.

mod fuzz {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use crate::rss::RssSampler;
    use bytes::Bytes;
    use meetings_operator::callbacks::event::{self, EventKind};
    use meetings_operator::callbacks::{
        CallbackOptions, CallbackServer, KINDS, MAX_BODY_BYTES, Receiver, Token,
    };
    use meetings_operator::meetings::{ClientConfig, NoopObserver};
    use meetings_operator::services::events::EventPublisher;
    use meetings_operator::services::snapshot::RoomSnapshots;
    use meetings_operator::services::{CredentialStore, SecretKey};
    use meetings_operator::telemetry::{Health, Metrics, Phase};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use serde_json::{Value, json};
    use tokio::sync::oneshot;

    const TOKEN: &str = "fuzz-token-0123456789abcdef";

    /// The callback endpoint alone on a loopback port; stops on drop.
    struct Endpoint {
        /// `http://<addr>/callbacks/<token>`.
        base: String,
        metrics: Arc<Metrics>,
        _stop: oneshot::Sender<()>,
    }

    impl Endpoint {
        async fn start() -> Self {
            let config = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
            let kube = kube::Client::try_from(config).expect("a Kubernetes client");
            let health = Arc::new(Health::default());
            health.set(Phase::Running);
            let credentials = CredentialStore::new(
                kube.clone(),
                None,
                ClientConfig::default(),
                Arc::new(NoopObserver),
                Duration::from_secs(60),
            )
            .expect("a credential store");
            let receiver = Arc::new(Receiver::new(
                kube.clone(),
                Vec::new(),
                Arc::new(credentials),
                Arc::new(RoomSnapshots::default()),
                Arc::new(EventPublisher::new(kube.clone(), "fuzz")),
                health,
            ));
            let options = CallbackOptions {
                listen: "127.0.0.1:0".parse().expect("an address"),
                public_url: None,
                token: Some(Token::parse(TOKEN).expect("a token")),
                token_secret: SecretKey {
                    namespace: "unused".into(),
                    name: "unused".into(),
                },
                leader_route: None,
            };
            let server = CallbackServer::bind(&kube, &options)
                .await
                .expect("the listener binds");
            let addr = server.local_addr().expect("a bound address");
            let metrics = Arc::new(Metrics::new());
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(server.serve(receiver, metrics.clone(), async {
                let _ = stopped.await;
            }));
            Self {
                base: format!("http://{addr}/callbacks/{TOKEN}"),
                metrics,
                _stop: stop,
            }
        }

        /// The value of one series of the callbacks counter.
        fn counted(&self, event: &str, result: &str) -> f64 {
            let series = format!(
                "meetings_operator_callbacks_total{{event=\"{event}\",result=\"{result}\"}} "
            );
            let text = self.metrics.render().expect("metrics render");
            text.lines()
                .find_map(|l| l.strip_prefix(&series))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        }

        /// Posts a valid callback; the receiver must still take it (204, for an unknown room).
        async fn still_answers(&self, http: &reqwest::Client) -> Result<(), String> {
            let before = self.counted("session:started", "unknown_room");
            let valid = json!({
                "event": "session:started", "session_id": "s-check",
                "room_id": "00000000-0000-4000-8000-000000000000",
                "started_at": "2030-01-01T00:00:00Z"
            });
            let status = post(
                http,
                format!("{}/sessions", self.base),
                "application/json",
                reqwest::Body::from(valid.to_string()),
            )
            .await?;
            let after = self.counted("session:started", "unknown_room");
            if status != 204 || after != before + 1.0 {
                return Err(format!(
                    "a valid callback got {status} (counted {before} -> {after})"
                ));
            }
            Ok(())
        }
    }

    /// Posts `body`; the status, or why there was none (a dropped connection, a timeout).
    async fn post(
        http: &reqwest::Client,
        url: String,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<u16, String> {
        let mut request = http.post(url).body(body).timeout(Duration::from_secs(20));
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        Ok(response.status().as_u16())
    }

    /// A body sent chunked (no Content-Length) in pieces of `piece` bytes.
    fn chunked(bytes: Vec<u8>, piece: usize) -> reqwest::Body {
        let bytes = Bytes::from(bytes);
        let pieces: Vec<Result<Bytes, std::io::Error>> = (0..bytes.len())
            .step_by(piece.max(1))
            .map(|at| Ok(bytes.slice(at..(at + piece.max(1)).min(bytes.len()))))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(pieces))
    }

    /// `total` bytes of `x` sent chunked in 64 KiB pieces, counting what the client
    /// actually handed to the connection in `pulled`.
    fn endless(total: usize, pulled: Arc<AtomicUsize>) -> reqwest::Body {
        let piece = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures::stream::unfold(0usize, move |sent| {
            let piece = piece.clone();
            let pulled = pulled.clone();
            async move {
                if sent >= total {
                    return None;
                }
                let n = piece.len().min(total - sent);
                pulled.fetch_add(n, Ordering::Relaxed);
                Some((Ok::<_, std::io::Error>(piece.slice(..n)), sent + n))
            }
        });
        reqwest::Body::wrap_stream(stream)
    }

    // -----------------------------------------------------------------------------------
    // The contract's callback events and what the receiver must make of them.

    /// The fields of each event in the contract (`x-webhooks` of api/meetings-openapi.yaml).
    fn contract_fields(kind: EventKind) -> &'static [&'static str] {
        match kind {
            EventKind::RoomExpired => &["room_id", "room_type", "expires_at", "created_at"],
            EventKind::SessionStarted => &["session_id", "room_id", "started_at"],
            EventKind::SessionEnded => &["session_id", "room_id", "started_at", "ended_at"],
            EventKind::RecordingStarted => &["recording_id", "session_id"],
            EventKind::RecordingStopped => &[
                "recording_id",
                "session_id",
                "started_at",
                "ended_at",
                "duration",
            ],
            EventKind::RecordingReady => &[
                "recording_id",
                "session_id",
                "room_id",
                "started_at",
                "ended_at",
                "duration",
                "url",
            ],
            EventKind::ParticipantJoined | EventKind::ParticipantLeft => &[
                "participant_id",
                "session_id",
                "room_id",
                "name",
                "type",
                "is_host",
            ],
        }
    }

    /// The fields without which the receiver cannot use the event.
    fn required_fields(kind: EventKind) -> &'static [&'static str] {
        match kind {
            EventKind::RoomExpired => &["room_id"],
            EventKind::SessionStarted | EventKind::SessionEnded => &["session_id"],
            EventKind::ParticipantJoined | EventKind::ParticipantLeft => {
                &["session_id", "participant_id"]
            }
            EventKind::RecordingStarted
            | EventKind::RecordingStopped
            | EventKind::RecordingReady => &["recording_id", "session_id"],
        }
    }

    /// Every spelling of every event name the receiver knows.
    const SPELLINGS: [&str; 12] = [
        "room:expired",
        "session:started",
        "session:ended",
        "session:participant:joined",
        "participant:joined",
        "session:participant:left",
        "participant:left",
        "recording:started",
        "recording:ended",
        "recording:stopped",
        "recording:ready",
        "recording:uploaded",
    ];

    /// A well-typed value for a contract field.
    fn good_value(field: &str) -> Value {
        match field {
            "room_id" | "recording_id" | "participant_id" => {
                json!("3fa85f64-5717-4562-b3fc-2c963f66afa6")
            }
            "session_id" => json!("2_MX4xMjM0NTY3OH5-"),
            "room_type" => json!("long_term"),
            "expires_at" | "created_at" => json!("2030-01-01"),
            "started_at" | "ended_at" => json!("2030-01-01T10:00:00.000Z"),
            "duration" => json!(42),
            "url" => json!("https://storage.example.com/rec.mp4"),
            "is_host" => json!(true),
            "name" => json!("Ann"),
            "type" => json!("host"),
            _ => json!("x"),
        }
    }

    /// A complete, valid body of `spelling` with every contract field.
    fn valid_body(spelling: &str) -> serde_json::Map<String, Value> {
        let kind = EventKind::from_name(spelling).expect("a known spelling");
        let mut body = serde_json::Map::new();
        body.insert("event".into(), json!(spelling));
        for field in contract_fields(kind) {
            body.insert((*field).into(), good_value(field));
        }
        body
    }

    /// Any JSON value, nested a few levels.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".{0,40}".prop_map(Value::String),
            Just(json!("")),
            Just(json!("   ")),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// What the receiver must answer for a body of at most [`MAX_BODY_BYTES`].
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Expect {
        Status(u16),
        /// 204 or 400: arbitrary JSON the oracle does not model.
        Taken,
    }

    /// One generated request.
    #[derive(Debug)]
    struct Case {
        what: String,
        body: Vec<u8>,
        expect: Expect,
    }

    impl Case {
        fn new(what: impl Into<String>, body: Vec<u8>, expect: Expect) -> Self {
            let expect = if body.len() > MAX_BODY_BYTES {
                Expect::Status(413)
            } else {
                expect
            };
            Self {
                what: what.into(),
                body,
                expect,
            }
        }
    }

    fn random_bytes() -> impl Strategy<Value = Case> {
        prop::collection::vec(any::<u8>(), 0..4096).prop_map(|bytes| {
            let expect = match serde_json::from_slice::<Value>(&bytes) {
                Ok(_) => Expect::Taken,
                Err(_) => Expect::Status(400),
            };
            Case::new("random bytes", bytes, expect)
        })
    }

    fn truncated() -> impl Strategy<Value = Case> {
        (
            prop::sample::select(SPELLINGS.to_vec()),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(spelling, at)| {
                let full = Value::Object(valid_body(spelling)).to_string().into_bytes();
                let cut = at.index(full.len());
                // A proper prefix of a JSON object is never JSON.
                Case::new(
                    format!("{spelling} cut at {cut}"),
                    full[..cut].to_vec(),
                    Expect::Status(400),
                )
            })
    }

    fn wrong_types() -> impl Strategy<Value = Case> {
        (
            prop::sample::select(SPELLINGS.to_vec()),
            any::<prop::sample::Index>(),
            any_json(),
        )
            .prop_map(|(spelling, which, value)| {
                let kind = EventKind::from_name(spelling).expect("a known spelling");
                let mut fields = vec!["event"];
                fields.extend(contract_fields(kind));
                let field = *which.get(&fields);
                let mut body = valid_body(spelling);
                body.insert(field.into(), value.clone());
                let usable_id = match &value {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Number(_) => true,
                    _ => false,
                };
                let expect = if field == "event" {
                    match &value {
                        Value::String(name) if name.trim().is_empty() => Expect::Status(400),
                        Value::String(name) if EventKind::from_name(name).is_none() => {
                            Expect::Status(204)
                        }
                        // Another known event, perhaps without its own fields.
                        Value::String(_) => Expect::Taken,
                        _ => Expect::Status(400),
                    }
                } else if required_fields(kind).contains(&field) && !usable_id {
                    Expect::Status(400)
                } else {
                    // Optional fields are read leniently; the room is unknown here.
                    Expect::Status(204)
                };
                Case::new(
                    format!("{spelling} with {field} = {value}"),
                    Value::Object(body).to_string().into_bytes(),
                    expect,
                )
            })
    }

    fn huge_strings() -> impl Strategy<Value = Case> {
        (
            prop::sample::select(SPELLINGS.to_vec()),
            prop::sample::select(vec!["session_id", "room_id", "url", "name", "pad", "event"]),
            1024usize..(3 * MAX_BODY_BYTES),
            any::<char>(),
        )
            .prop_map(|(spelling, field, len, fill)| {
                let mut body = valid_body(spelling);
                let text: String = std::iter::repeat_n(fill, len / fill.len_utf8()).collect();
                body.insert(field.into(), Value::String(text.clone()));
                let kind = EventKind::from_name(spelling).expect("a known spelling");
                let expect = if field == "event" {
                    if text.trim().is_empty() {
                        Expect::Status(400)
                    } else {
                        Expect::Status(204)
                    }
                } else if required_fields(kind).contains(&field) && text.trim().is_empty() {
                    Expect::Status(400)
                } else {
                    Expect::Status(204)
                };
                Case::new(
                    format!("{spelling} with a {len}-byte {field} of {fill:?}"),
                    Value::Object(body).to_string().into_bytes(),
                    expect,
                )
            })
    }

    fn deep_nesting() -> impl Strategy<Value = Case> {
        (
            prop_oneof![1usize..=100, 200usize..(MAX_BODY_BYTES / 2 + 1000)],
            any::<bool>(),
            prop::sample::select(vec!["[", "{\"a\":"]),
        )
            .prop_map(|(depth, closed, open)| {
                let mut body =
                    br#"{"event":"session:started","session_id":"s","room_id":"r","pad":"#.to_vec();
                let close = if open == "[" { b"]" } else { b"}" };
                for _ in 0..depth {
                    body.extend_from_slice(open.as_bytes());
                }
                if closed {
                    body.extend_from_slice(b"1");
                    for _ in 0..depth {
                        body.extend_from_slice(close);
                    }
                    body.push(b'}');
                }
                // serde_json refuses more than 127 levels; the event object is one.
                let expect = if closed && depth < 127 {
                    Expect::Status(204)
                } else {
                    Expect::Status(400)
                };
                Case::new(
                    format!("{depth} levels of {open} (closed: {closed})"),
                    body,
                    expect,
                )
            })
    }

    fn unknown_events() -> impl Strategy<Value = Case> {
        prop_oneof!["[a-z]{1,12}(:[a-z]{1,12}){0,3}", ".{0,80}", "\\PC{0,30}"].prop_map(
            |name: String| {
                let body = json!({"event": name, "room_id": "r", "session_id": "s"});
                let expect = if name.trim().is_empty() {
                    Expect::Status(400)
                } else if EventKind::from_name(&name).is_some() {
                    Expect::Taken
                } else {
                    Expect::Status(204)
                };
                Case::new(
                    format!("event {name:?}"),
                    body.to_string().into_bytes(),
                    expect,
                )
            },
        )
    }

    fn around_the_limit() -> impl Strategy<Value = Case> {
        (prop::sample::select(SPELLINGS.to_vec()), -64isize..=64).prop_map(|(spelling, offset)| {
            let mut body = valid_body(spelling);
            body.insert("pad".into(), json!(""));
            let bare = Value::Object(body.clone()).to_string().len();
            let target = (MAX_BODY_BYTES as isize + offset) as usize;
            body.insert("pad".into(), Value::String("p".repeat(target - bare)));
            let bytes = Value::Object(body).to_string().into_bytes();
            assert_eq!(bytes.len(), target);
            Case::new(
                format!("{spelling} of {target} bytes"),
                bytes,
                Expect::Status(204),
            )
        })
    }

    fn any_case() -> impl Strategy<Value = Case> {
        prop_oneof![
            random_bytes(),
            truncated(),
            wrong_types(),
            wrong_types(),
            huge_strings(),
            deep_nesting(),
            unknown_events(),
            around_the_limit(),
        ]
    }

    const CONTENT_TYPES: [&str; 8] = [
        "application/json",
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "image/png",
        "not a media type",
    ];

    #[test]
    fn serde_json_refuses_deep_nesting_without_overflowing_the_stack() {
        for depth in [100_000usize, 1_000_000] {
            let mut body = br#"{"event":"session:started","session_id":"s","x":"#.to_vec();
            body.extend(std::iter::repeat_n(b'[', depth));
            body.extend(std::iter::repeat_n(b']', depth));
            body.push(b'}');
            match event::parse(&body) {
                Err(event::ParseError::NotJson(message)) => {
                    assert!(message.contains("recursion limit"), "{message}")
                }
                other => panic!("{depth} levels: {other:?}"),
            }
        }
        // serde_json's limit: at most 127 levels, the event object included.
        let nested = |depth: usize| {
            let mut body = br#"{"event":"session:started","session_id":"s","x":"#.to_vec();
            body.extend(std::iter::repeat_n(b'[', depth));
            body.extend(std::iter::repeat_n(b']', depth));
            body.push(b'}');
            event::parse(&body)
        };
        assert!(nested(126).is_ok());
        assert!(
            matches!(nested(127), Err(event::ParseError::NotJson(m)) if m.contains("recursion limit"))
        );
    }

    #[test]
    fn generated_bodies_get_2xx_or_4xx_and_the_receiver_keeps_working() {
        let cases: u32 = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let endpoint = rt.block_on(Endpoint::start());
        let http = reqwest::Client::new();
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
        let run = AtomicUsize::new(0);
        let strategy = (
            any_case(),
            prop::sample::select(KINDS.to_vec()),
            prop::sample::select(CONTENT_TYPES.to_vec()),
            prop::option::of(64usize..20_000),
        );
        let result = runner.run(&strategy, |(case, kind, content_type, piece)| {
            let body = match piece {
                Some(piece) => chunked(case.body.clone(), piece),
                None => reqwest::Body::from(case.body.clone()),
            };
            let url = format!("{}/{kind}", endpoint.base);
            let status = rt
                .block_on(post(&http, url, content_type, body))
                .map_err(|e| TestCaseError::fail(format!("{}: no answer: {e}", case.what)))?;
            *seen.lock().expect("lock").entry(status).or_default() += 1;
            let n = run.fetch_add(1, Ordering::Relaxed) + 1;
            prop_assert!(
                (200..300).contains(&status) || (400..500).contains(&status),
                "{}: {status}",
                case.what
            );
            match case.expect {
                Expect::Status(expected) => prop_assert_eq!(
                    status,
                    expected,
                    "{} ({} bytes, chunked: {:?})",
                    case.what,
                    case.body.len(),
                    piece
                ),
                Expect::Taken => {
                    prop_assert!(status == 204 || status == 400, "{}: {status}", case.what)
                }
            }
            if n.is_multiple_of(100) {
                rt.block_on(endpoint.still_answers(&http))
                    .map_err(TestCaseError::fail)?;
            }
            Ok(())
        });
        if let Err(error) = result {
            panic!("{error}");
        }
        rt.block_on(endpoint.still_answers(&http))
            .expect("still answering");
        println!(
            "callback fuzz: {} requests, statuses {:?}; counted too_large {}, malformed {}, ignored {}",
            run.load(Ordering::Relaxed),
            seen.lock().expect("lock"),
            endpoint.counted("unknown", "too_large"),
            endpoint.counted("unknown", "malformed"),
            endpoint.counted("unknown", "ignored"),
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversized_chunked_bodies_get_413_unread_and_memory_stays_bounded() {
        let endpoint = Endpoint::start().await;
        let http = reqwest::Client::new();
        let url = format!("{}/sessions", endpoint.base);

        // One body far larger than any socket buffer: refused long before its
        // end. The receiver answers 413 at once and drains at most 16 MiB
        // before closing; a sender that is still writing then (a busy machine)
        // sees the connection reset instead of the 413. Either way the body
        // is cut off early.
        let pulled = Arc::new(AtomicUsize::new(0));
        const HUGE: usize = 1 << 30;
        let answer = post(
            &http,
            url.clone(),
            "application/json",
            endless(HUGE, pulled.clone()),
        )
        .await;
        let pulled = pulled.load(Ordering::Relaxed);
        println!(
            "1 GiB chunked body: {answer:?} after {pulled} bytes were handed to the connection"
        );
        assert!(
            matches!(answer, Ok(413) | Err(_)),
            "a 1 GiB body got {answer:?}"
        );
        assert!(pulled < 64 << 20, "{pulled} bytes were sent");

        // 200 bodies of 8 MiB at once, sampling RSS all along.
        const BODIES: usize = 200;
        const EACH: usize = 8 << 20;
        let sampler = RssSampler::start();
        let started = Instant::now();
        let pulled = Arc::new(AtomicUsize::new(0));
        let answers = futures::future::join_all((0..BODIES).map(|_| {
            let body = endless(EACH, pulled.clone());
            post(&http, url.clone(), "application/json", body)
        }))
        .await;
        let rss = sampler.stop();
        let mut statuses = std::collections::BTreeMap::<String, usize>::new();
        for answer in &answers {
            let key = match answer {
                Ok(status) => status.to_string(),
                Err(error) => error.clone(),
            };
            *statuses.entry(key).or_default() += 1;
        }
        let sent_mib = (BODIES * EACH) >> 20;
        let pulled_mib = pulled.load(Ordering::Relaxed) >> 20;
        println!(
            "{BODIES} x {} MiB chunked at once in {:?}: {statuses:?}; {pulled_mib} MiB of {sent_mib} MiB handed to connections; \
             RSS before {} MiB, peak {} MiB (+{} MiB), after {} MiB",
            EACH >> 20,
            started.elapsed(),
            rss.before >> 10,
            rss.peak >> 10,
            rss.growth() >> 10,
            rss.after >> 10,
        );
        assert_eq!(statuses.get("413"), Some(&BODIES), "{statuses:?}");
        // About 0.5 MiB per open connection (HTTP buffers on both ends, the 64 KiB
        // kept per request); holding the bodies would take 1,600 MiB.
        assert!(
            rss.growth() < 256 * 1024,
            "RSS grew by {} MiB while {sent_mib} MiB were offered",
            rss.growth() >> 10
        );
        assert_eq!(
            endpoint.counted("unknown", "too_large"),
            (BODIES + 1) as f64
        );
        endpoint
            .still_answers(&http)
            .await
            .expect("still answering");
    }
}
