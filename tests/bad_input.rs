//! Bad input, generated: invalid manifests are refused at admission by the
//! real API server with a message naming the field and never reach the
//! Meetings API; valid manifests the API refuses get a clear condition and
//! no hot loop; the client survives malformed, truncated and oversized
//! answers.
//!
//! The properties run `PROPTEST_CASES` cases each (64 by default) from a
//! fixed seed, so a CI run is repeatable and short.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::discovery::ApiResource;
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{
    ClientConfig, CreateRoom, CreateTheme, Credentials, MeetingsClient, RateLimit, RetryPolicy,
    RoomScope, RoomUpdate,
};
use operator_env::{OperatorEnv, condition_message};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// A runner with a fixed seed (repeatable in CI) and `cases()` cases.
fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "meetings.vonage.com".into(),
        version: "v1alpha1".into(),
        api_version: "meetings.vonage.com/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// One invalid manifest (or edit) and the text the refusal must contain.
#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    spec: Value,
    /// Merge patch of `spec` applied to a valid object created from `spec`;
    /// `None` when `spec` itself is the invalid manifest.
    edit: Option<Value>,
    field: String,
}

fn set(mut spec: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut spec;
    for key in &path[..path.len() - 1] {
        if at.get(*key).is_none() {
            at[*key] = json!({});
        }
        at = at.get_mut(*key).unwrap();
    }
    let last = path[path.len() - 1];
    if value.is_null() {
        at.as_object_mut().unwrap().remove(last);
    } else {
        at[last] = value;
    }
    spec
}

fn base_room() -> Value {
    // The theme never exists: even a valid room would wait for it, so any
    // createRoom call would come from an invalid manifest that got through.
    json!({"displayName": "Bad input", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z",
           "themeRef": {"name": "never-created"}})
}

fn base_theme() -> Value {
    json!({"mainColor": "#12f64e", "brandText": "Brand", "managementPolicy": "ObserveOnly",
           "adoptId": "00000000-0000-0000-0000-000000000000"})
}

/// A value of the wrong JSON type for a field of type `expected`.
fn wrong_type(expected: &'static str) -> impl Strategy<Value = Value> {
    let all = vec![
        ("string", Just(json!("text")).boxed()),
        ("integer", any::<i32>().prop_map(|n| json!(n)).boxed()),
        ("boolean", any::<bool>().prop_map(|b| json!(b)).boxed()),
        ("object", Just(json!({"a": 1})).boxed()),
        ("array", Just(json!(["x"])).boxed()),
    ];
    proptest::strategy::Union::new(
        all.into_iter()
            .filter(move |(t, _)| *t != expected && !(expected == "boolean" && *t == "string"))
            .map(|(_, s)| s),
    )
}

fn string_of(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::char::range('a', 'z'), len)
        .prop_map(|c| c.into_iter().collect())
}

/// An enum value that is not one of `allowed`.
fn not_in(allowed: &'static [&'static str]) -> impl Strategy<Value = String> {
    "[A-Za-z_]{1,16}".prop_filter("not an allowed value", move |s| {
        !allowed.contains(&s.as_str())
    })
}

fn room_case(
    path: &'static [&'static str],
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Case> {
    value
        .prop_map(move |v| Case {
            kind: "MeetingRoom",
            spec: set(base_room(), path, v),
            edit: None,
            field: format!("spec.{}", path.join(".")),
        })
        .boxed()
}

fn theme_case(
    path: &'static [&'static str],
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Case> {
    value
        .prop_map(move |v| Case {
            kind: "MeetingTheme",
            spec: set(base_theme(), path, v),
            edit: None,
            field: format!("spec.{}", path.join(".")),
        })
        .boxed()
}

fn cel_room(spec: Value, field: &str) -> Case {
    Case {
        kind: "MeetingRoom",
        spec,
        edit: None,
        field: field.to_owned(),
    }
}

fn invalid_room() -> impl Strategy<Value = Case> {
    let s = |v: String| json!(v);
    let url_fields: [&'static [&'static str]; 3] = [
        &["callbackUrls", "roomsCallbackUrl"],
        &["callbackUrls", "sessionsCallbackUrl"],
        &["callbackUrls", "recordingsCallbackUrl"],
    ];
    let mut cases: Vec<BoxedStrategy<Case>> = vec![
        room_case(&["displayName"], string_of(201..400).prop_map(s)),
        room_case(&["displayName"], Just(json!(""))),
        room_case(&["displayName"], wrong_type("string")),
        room_case(&["metadata"], string_of(501..800).prop_map(s)),
        room_case(&["metadata"], wrong_type("string")),
        room_case(&["type"], not_in(&["instant", "long_term"]).prop_map(s)),
        room_case(&["type"], wrong_type("string")),
        room_case(
            &["joinApprovalLevel"],
            not_in(&["none", "after_owner_only", "explicit_approval"]).prop_map(s),
        ),
        room_case(
            &["deletionPolicy"],
            not_in(&["Orphan", "Expire"]).prop_map(s),
        ),
        room_case(
            &["managementPolicy"],
            not_in(&["Managed", "ObserveOnly"]).prop_map(s),
        ),
        room_case(&["expiresAt"], "[a-z ]{1,20}".prop_map(s)),
        room_case(&["expiresAt"], wrong_type("string")),
        room_case(&["expireAfterUse"], wrong_type("boolean")),
        room_case(
            &["availableFeatures", "isChatAvailable"],
            wrong_type("boolean"),
        ),
        room_case(
            &["availableFeatures", "isRecordingAvailable"],
            wrong_type("boolean"),
        ),
        room_case(&["recordingOptions", "autoRecord"], wrong_type("boolean")),
        room_case(&["themeRef", "name"], Just(json!(""))),
        room_case(&["themeRef", "name"], string_of(254..300).prop_map(s)),
        room_case(&["credentialsRef", "name"], string_of(254..300).prop_map(s)),
        room_case(&["credentialsRef", "privateKeyKey"], Just(json!(""))),
        room_case(&["adoptId"], string_of(65..100).prop_map(s)),
    ];
    for path in url_fields {
        cases.push(room_case(
            path,
            "(ftp|file|mailto|ws)://[a-z]{1,10}|[a-z]{1,20}".prop_map(s),
        ));
        cases.push(room_case(
            path,
            string_of(2049..2100).prop_map(|t| json!(format!("https://{t}"))),
        ));
    }
    // The CEL rules; their messages name the field.
    cases.push(
        Just(cel_room(
            set(base_room(), &["expiresAt"], Value::Null),
            "expiresAt is required",
        ))
        .boxed(),
    );
    cases.push(
        Just(cel_room(
            set(base_room(), &["type"], json!("instant")),
            "expiresAt is not allowed",
        ))
        .boxed(),
    );
    cases.push(
        any::<bool>()
            .prop_map(|b| {
                cel_room(
                    json!({"displayName": "x", "type": "instant", "expireAfterUse": b}),
                    "expireAfterUse is only allowed",
                )
            })
            .boxed(),
    );
    cases.push(
        Just(cel_room(
            json!({"displayName": "x", "type": "instant", "deletionPolicy": "Expire"}),
            "deletionPolicy Expire is only allowed",
        ))
        .boxed(),
    );
    cases.push(
        Just(cel_room(
            set(base_room(), &["managementPolicy"], json!("ObserveOnly")),
            "ObserveOnly needs adoptId",
        ))
        .boxed(),
    );
    // Immutable fields: a valid room, then an edit that changes one.
    let immutable: Vec<BoxedStrategy<Case>> = vec![
        string_of(1..50)
            .prop_map(|n| {
                (
                    "displayName",
                    json!({"displayName": format!("Renamed {n}")}),
                )
            })
            .boxed(),
        string_of(1..50)
            .prop_map(|m| ("metadata", json!({"metadata": format!("other {m}")})))
            .boxed(),
        Just(("metadata", json!({"metadata": null}))).boxed(),
        any::<bool>()
            .prop_map(|b| {
                (
                    "recordingOptions",
                    json!({"recordingOptions": {"autoRecord": !b, "recordOnlyOwner": b}}),
                )
            })
            .boxed(),
        Just(("type", json!({"type": "instant", "expiresAt": null}))).boxed(),
    ]
    .into_iter()
    .map(|s| {
        s.prop_map(|(field, edit)| Case {
            kind: "MeetingRoom",
            spec: set(base_room(), &["metadata"], json!("team=a")),
            edit: Some(edit),
            field: format!("{field} is immutable"),
        })
        .boxed()
    })
    .collect();
    cases.extend(immutable);
    proptest::strategy::Union::new(cases)
}

fn invalid_theme() -> impl Strategy<Value = Case> {
    let s = |v: String| json!(v);
    let cases: Vec<BoxedStrategy<Case>> = vec![
        theme_case(
            &["mainColor"],
            "[#]?[0-9a-zA-Z]{0,8}"
                .prop_filter("not a colour", |c| {
                    !(c.starts_with('#')
                        && (c.len() == 4 || c.len() == 7)
                        && c[1..].chars().all(|ch| ch.is_ascii_hexdigit()))
                })
                .prop_map(s),
        ),
        theme_case(&["mainColor"], wrong_type("string")),
        theme_case(&["mainColor"], Just(Value::Null)),
        theme_case(&["brandText"], string_of(201..300).prop_map(s)),
        theme_case(&["brandText"], Just(json!(""))),
        theme_case(&["brandText"], Just(Value::Null)),
        theme_case(&["themeName"], string_of(201..300).prop_map(s)),
        theme_case(&["themeName"], Just(json!(""))),
        theme_case(
            &["shortCompanyUrl"],
            "[a-z]{1,5}[ /?#.!@][a-z]{1,5}".prop_map(s),
        ),
        theme_case(&["shortCompanyUrl"], string_of(129..200).prop_map(s)),
        theme_case(
            &["deletionPolicy"],
            not_in(&["Delete", "ForceDelete", "Orphan"]).prop_map(s),
        ),
        theme_case(&["applicationDefault"], wrong_type("boolean")),
        theme_case(&["credentialsRef", "name"], Just(json!(""))),
        theme_case(&["adoptId"], string_of(65..90).prop_map(s)),
        "[0-9]{1,20}"
            .prop_map(|digits| Case {
                kind: "MeetingTheme",
                spec: set(base_theme(), &["shortCompanyUrl"], json!(digits)),
                edit: None,
                field: "shortCompanyUrl must contain at least one letter".into(),
            })
            .boxed(),
        prop_oneof![Just("white"), Just("colored"), Just("favicon")]
            .prop_flat_map(|slot| {
                prop_oneof![
                    Just(json!({})),
                    Just(json!({"configMapKeyRef": {"name": "a", "key": "b"},
                                "secretKeyRef": {"name": "a", "key": "b"}})),
                ]
                .prop_map(move |v| Case {
                    kind: "MeetingTheme",
                    spec: {
                        let mut spec = base_theme();
                        spec["logos"] = json!({ slot: v });
                        spec
                    },
                    edit: None,
                    field: "set exactly one of configMapKeyRef and secretKeyRef".into(),
                })
            })
            .boxed(),
    ];
    proptest::strategy::Union::new(cases)
}

struct Admission {
    rooms: Api<DynamicObject>,
    themes: Api<DynamicObject>,
    counter: AtomicU64,
}

impl Admission {
    /// Applies a case; returns the refusal message, or an error if accepted.
    async fn refusal(&self, case: &Case) -> Result<String, String> {
        let api = if case.kind == "MeetingRoom" {
            &self.rooms
        } else {
            &self.themes
        };
        let name = format!("bad-{}", self.counter.fetch_add(1, Ordering::Relaxed));
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": case.kind,
            "metadata": {"name": name}, "spec": case.spec,
        }))
        .unwrap();
        let result = match &case.edit {
            None => api.create(&PostParams::default(), &object).await,
            Some(edit) => {
                api.create(&PostParams::default(), &object)
                    .await
                    .map_err(|e| format!("the valid base was refused: {e}"))?;
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({ "spec": edit })),
                )
                .await
            }
        };
        match result {
            Ok(_) => Err("accepted".into()),
            Err(kube::Error::Api(status)) if status.code == 422 => Ok(status.message),
            Err(other) => Err(format!("unexpected error: {other}")),
        }
    }
}

/// Runs a property with shrinking; each case goes to the real API server.
fn check_refused(
    rt: &tokio::runtime::Runtime,
    admission: &Admission,
    strategy: impl Strategy<Value = Case>,
) -> u32 {
    let mut runner = runner();
    let checked = AtomicU64::new(0);
    let leaf_only = std::sync::Mutex::new(Vec::<(String, String)>::new());
    let result = runner.run(&strategy, |case| {
        checked.fetch_add(1, Ordering::Relaxed);
        let outcome = rt.block_on(admission.refusal(&case));
        match outcome {
            Ok(message) => {
                let leaf = case.field.rsplit('.').next().unwrap_or_default();
                if !message.contains(&case.field) && message.contains(leaf) {
                    // Named, but only through a CEL rule that failed on the
                    // wrong type rather than by the schema's own error.
                    if let Ok(mut seen) = leaf_only.lock()
                        && seen.len() < 5
                        && !seen.iter().any(|(f, _)| f == &case.field)
                    {
                        seen.push((case.field.clone(), message.clone()));
                    }
                    return Ok(());
                }
                prop_assert!(
                    message.contains(&case.field),
                    "refusal of {:?} does not name {:?}: {message}",
                    case.spec,
                    case.field
                );
                Ok(())
            }
            Err(e) => Err(TestCaseError::fail(format!("{case:?}: {e}"))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    for (field, message) in leaf_only.into_inner().unwrap() {
        eprintln!("named only by a CEL rule's message ({field}): {message}");
    }
    checked.load(Ordering::Relaxed) as u32
}

#[test]
fn generated_invalid_manifests_are_refused_naming_the_field_and_never_reach_the_api() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut env, admission) = rt.block_on(async {
        let mut env = OperatorEnv::new("badinput", |_| {}).await;
        env.start_operator();
        let admission = Admission {
            rooms: Api::namespaced_with(
                env.kube.clone(),
                &env.ns,
                &resource("MeetingRoom", "meetingrooms"),
            ),
            themes: Api::namespaced_with(
                env.kube.clone(),
                &env.ns,
                &resource("MeetingTheme", "meetingthemes"),
            ),
            counter: AtomicU64::new(0),
        };
        (env, admission)
    });
    let started = Instant::now();
    let rooms = check_refused(&rt, &admission, invalid_room());
    let themes = check_refused(&rt, &admission, invalid_theme());
    rt.block_on(async {
        // Let the operator see whatever got through (nothing should have).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let counters = env.sim.counters();
        eprintln!(
            "{rooms} invalid rooms and {themes} invalid themes refused in {:.1?}; \
             Meetings API calls meanwhile: {:?}",
            started.elapsed(),
            counters.by_operation
        );
        for write in ["createRoom", "updateRoom", "createTheme", "updateTheme"] {
            assert_eq!(counters.operation(write), 0, "{write}: {counters:?}");
        }
        // The operator was watching all along: a valid room is created.
        env.create::<MeetingRoom>(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": "canary"}, "spec": {"displayName": "Canary"}
        }))
        .await
        .unwrap();
        env.wait_room("canary", "True", "Ready").await;
        assert_eq!(env.sim.counters().operation("createRoom"), 1);
        env.stop_operator().await;
    });
}

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    meetings_operator::meetings::format_timestamp(&at)
}

/// Calls per minute to the Meetings API over `window`, per operation.
async fn calls_per_minute(env: &OperatorEnv, window: Duration) -> (f64, Vec<(String, u64)>) {
    env.sim.reset_counters();
    tokio::time::sleep(window).await;
    let counters = env.sim.counters();
    let per_minute = counters.total as f64 * 60.0 / window.as_secs_f64();
    (per_minute, counters.by_operation.into_iter().collect())
}

#[tokio::test]
async fn valid_input_the_api_refuses_gets_a_clear_condition_and_no_hot_loop() {
    let mut env = OperatorEnv::new("refused", |c| c.behavior.room_limit = Some(1)).await;
    env.start_operator();
    let theme = |name: &str, theme_name: &str, url: &str| {
        json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
            "metadata": {"name": name},
            "spec": {"themeName": theme_name, "mainColor": "#123456", "brandText": "B", "shortCompanyUrl": url}
        })
    };
    let room = |name: &str, theme: Option<&str>| {
        let mut room = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": name},
            "spec": {"displayName": format!("Refused {name}"), "type": "long_term", "expiresAt": in_days(30)}
        });
        if let Some(theme) = theme {
            room["spec"]["themeRef"] = json!({"name": theme});
        }
        room
    };
    let url = format!("refused-{}", env.ns);
    env.create::<MeetingTheme>(theme("first", "same-name", &url))
        .await
        .unwrap();
    env.wait_theme("first", "Ready", "True", "Ready").await;
    // Same theme name (unique per application) and same short URL.
    env.create::<MeetingTheme>(theme("second", "same-name", &format!("{url}-2")))
        .await
        .unwrap();
    env.create::<MeetingTheme>(theme("third", "other-name", &url))
        .await
        .unwrap();
    env.create::<MeetingRoom>(room("fits", None)).await.unwrap();
    env.wait_room("fits", "True", "Ready").await;
    // Beyond the simulator's room limit (quota exceeded, 403).
    env.create::<MeetingRoom>(room("over-quota", None))
        .await
        .unwrap();
    // An expiry the API refuses (more than a year ahead).
    let mut too_far = room("too-far", None);
    too_far["spec"]["expiresAt"] = json!(in_days(800));
    env.create::<MeetingRoom>(too_far).await.unwrap();
    // A theme that does not exist.
    env.create::<MeetingRoom>(room("no-theme", Some("missing")))
        .await
        .unwrap();

    let second = env
        .wait_theme("second", "Synced", "False", "Rejected")
        .await;
    let third = env.wait_theme("third", "Synced", "False", "Rejected").await;
    let quota = env
        .wait_for::<MeetingRoom, _>(
            "over-quota",
            "Synced=False (Rejected)",
            Duration::from_secs(30),
            |r| {
                operator_env::has_condition(
                    r.status.as_ref().map(|s| &s.conditions[..]),
                    "Synced",
                    "False",
                    "Rejected",
                )
            },
        )
        .await;
    let missing = env.wait_room("no-theme", "False", "ThemeNotFound").await;
    let far = env
        .wait_for::<MeetingRoom, _>(
            "too-far",
            "Synced=False (Rejected)",
            Duration::from_secs(30),
            |r| {
                operator_env::has_condition(
                    r.status.as_ref().map(|s| &s.conditions[..]),
                    "Synced",
                    "False",
                    "Rejected",
                )
            },
        )
        .await;
    let messages = [
        (
            "theme name conflict",
            condition_message(second.status.as_ref().map(|s| &s.conditions[..]), "Synced"),
        ),
        (
            "short URL conflict",
            condition_message(third.status.as_ref().map(|s| &s.conditions[..]), "Synced"),
        ),
        (
            "room quota exceeded",
            condition_message(quota.status.as_ref().map(|s| &s.conditions[..]), "Synced"),
        ),
        (
            "expiry too far ahead",
            condition_message(far.status.as_ref().map(|s| &s.conditions[..]), "Synced"),
        ),
        (
            "unknown theme",
            condition_message(missing.status.as_ref().map(|s| &s.conditions[..]), "Ready"),
        ),
    ];
    for (what, message) in &messages {
        eprintln!("{what}: {message}");
        assert!(!message.is_empty(), "{what} has a message");
    }
    assert!(messages[4].1.contains("missing"), "{}", messages[4].1);

    // No hot loop: with four refused objects and one ready room, the
    // operator's calls stay at resync level (resync here is 3 s).
    let window = Duration::from_secs(15);
    let (per_minute, by_operation) = calls_per_minute(&env, window).await;
    let creates: u64 = by_operation
        .iter()
        .filter(|(op, _)| op.starts_with("create"))
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "refused objects: {per_minute:.0} Meetings API calls per minute over {window:?} \
         ({by_operation:?}); creates retried: {creates}"
    );
    assert_eq!(
        creates, 0,
        "a refused create is not retried until the spec changes"
    );
    assert!(per_minute <= 120.0, "hot loop: {per_minute:.0} calls/min");
    env.stop_operator().await;
}

// ---------------------------------------------------------------------------
// The client against a server that answers garbage.

/// How a fake server answers every request.
#[derive(Debug, Clone)]
enum Answer {
    /// A status and body (bytes) with a JSON content type.
    Body(u16, Vec<u8>),
    /// Declares `declared` bytes, sends `sent` and closes.
    Truncated(u16, usize, Vec<u8>),
    /// A 200 whose body streams `total` bytes of `[` (or until the client
    /// stops reading); counts what was sent.
    Endless(usize),
}

async fn fake_server(answer: Answer, sent: Arc<AtomicU64>) -> String {
    use axum::body::Body;
    use axum::response::Response;
    let app = axum::Router::new().fallback(move || {
        let answer = answer.clone();
        let sent = sent.clone();
        async move {
            match answer {
                Answer::Body(status, body) => Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
                Answer::Truncated(status, declared, body) => {
                    let stream = futures::stream::iter(vec![
                        Ok::<_, std::io::Error>(bytes::Bytes::from(body)),
                        Err(std::io::Error::other("cut")),
                    ]);
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .header("content-length", declared)
                        .body(Body::from_stream(stream))
                        .unwrap()
                }
                Answer::Endless(total) => {
                    let chunk = bytes::Bytes::from(vec![b'['; 64 * 1024]);
                    let stream = futures::stream::iter(0..total / chunk.len()).map(move |_| {
                        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        Ok::<_, std::io::Error>(chunk.clone())
                    });
                    Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(Body::from_stream(stream))
                        .unwrap()
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v1/meetings")
}

/// A private key for the fake servers' clients (generated once).
fn test_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        meetings_simulator::generate_key_pair()
            .expect("a key pair")
            .private_pem
    })
}

fn test_client(base_url: String, timeout: Duration) -> MeetingsClient {
    let key = test_key();
    MeetingsClient::new(
        ClientConfig {
            base_url,
            request_timeout: timeout,
            rate_limit: RateLimit {
                per_second: 1000.0,
                burst: 1000,
            },
            retry: RetryPolicy {
                max_attempts: 1,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
            ..ClientConfig::default()
        },
        Credentials::new("fuzz-app", key.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Every operation once; the number that returned errors.
async fn every_operation(client: &MeetingsClient) -> (usize, usize) {
    let room = CreateRoom {
        display_name: "fuzz".into(),
        ..Default::default()
    };
    let theme = CreateTheme {
        main_color: "#123456".into(),
        brand_text: "b".into(),
        ..Default::default()
    };
    let results: Vec<bool> = vec![
        client.get_room("r").await.is_err(),
        client.create_room(&room).await.is_err(),
        client
            .update_room("r", &RoomUpdate::default())
            .await
            .is_err(),
        client.themes().await.is_err(),
        client.get_theme("t").await.is_err(),
        client.create_theme(&theme).await.is_err(),
        client.delete_theme("t", false).await.is_err(),
        client.logo_upload_targets().await.is_err(),
        client.dial_in_numbers().await.is_err(),
        client.get_recording("x").await.is_err(),
        client.session_recordings("s").await.is_err(),
        client
            .rooms(RoomScope::All)
            .take(5)
            .collect::<Vec<_>>()
            .await
            .iter()
            .any(|r| r.is_err()),
    ];
    (results.len(), results.iter().filter(|e| **e).count())
}

fn garbage_body() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let status = prop_oneof![
        Just(200u16),
        Just(201),
        Just(400),
        Just(404),
        Just(409),
        Just(500),
        100u16..600
    ];
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        Just(b"{".to_vec()),
        Just(b"null".to_vec()),
        Just(b"[]".to_vec()),
        Just(br#"{"id": 5, "_links": "x"}"#.to_vec()),
        Just(
            br#"{"_embedded": {"rooms": [{"id": null}]}, "_links": {"next": {"href": 7}}}"#
                .to_vec()
        ),
        Just(br#"{"title": 1, "errors": {"a": [1]}}"#.to_vec()),
        "\\PC{0,200}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(Just(b'['), 1000..20_000),
    ];
    (status, body)
}

#[test]
fn the_client_returns_errors_for_garbage_answers_and_never_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: cases().min(32),
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let ops_total = AtomicU64::new(0);
    let errors_total = AtomicU64::new(0);
    let started = Instant::now();
    runner
        .run(&garbage_body(), |(status, body)| {
            let (ops, errors) = rt.block_on(async {
                let url = fake_server(Answer::Body(status, body.clone()), Arc::default()).await;
                let client = test_client(url, Duration::from_secs(2));
                // A panic inside the client would fail the runner here.
                every_operation(&client).await
            });
            ops_total.fetch_add(ops as u64, Ordering::Relaxed);
            errors_total.fetch_add(errors as u64, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    // Truncated bodies: valid JSON cut short, with a longer Content-Length.
    let truncated = rt.block_on(async {
        let body = br#"{"id":"r","display_name":"x","meeting_code":"123456789","_links":{"host_url":{"href":"https://h"#.to_vec();
        let url = fake_server(Answer::Truncated(200, body.len() + 500, body), Arc::default()).await;
        every_operation(&test_client(url, Duration::from_secs(2))).await
    });
    assert_eq!(
        truncated.0, truncated.1,
        "every truncated answer is an error"
    );
    eprintln!(
        "client fuzz: {} operations on garbage answers in {:.1?} ({} errors, the rest parsed as valid), \
         {}/{} truncated answers refused, no panic",
        ops_total.load(Ordering::Relaxed),
        started.elapsed(),
        errors_total.load(Ordering::Relaxed),
        truncated.1,
        truncated.0
    );
}

/// A 100 MB answer: the client stops reading at its body limit
/// (`MAX_RESPONSE_BYTES`, 16 MiB) and returns an error, whatever the server sends.
#[tokio::test]
async fn an_endless_body_is_cut_at_the_body_limit() {
    let sent = Arc::new(AtomicU64::new(0));
    let url = fake_server(Answer::Endless(100 * 1024 * 1024), sent.clone()).await;
    let client = test_client(url, Duration::from_secs(2));
    let started = Instant::now();
    let result = client.get_room("r").await;
    let read = sent.load(Ordering::Relaxed);
    eprintln!(
        "100 MB body: client returned {} after {:.1?}, having let the server send {:.1} MB",
        match &result {
            Ok(_) => "Ok".to_owned(),
            Err(e) => format!("an error ({e:.120})"),
        },
        started.elapsed(),
        read as f64 / 1e6
    );
    let error = result.expect_err("an oversized body is refused");
    assert!(error.to_string().contains("larger than"), "{error}");
    // The server may have pushed a little more into socket buffers than was read.
    assert!(
        read < 2 * meetings_operator::meetings::client::MAX_RESPONSE_BYTES as u64,
        "read {read} bytes"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
