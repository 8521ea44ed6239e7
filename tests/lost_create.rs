//! Property test of how a lost create is recognised: for generated valid room
//! specs (every create-only and create-time field set, unset or defaulted),
//! the operator's own create request is sent to the simulator over HTTP,
//! beside near-twins that differ from it in one create-only field each, and
//! the room listing read back must recognise the operator's room and no twin.
//! Runs in the spec-shaped world, the live world, and the live world with
//! rooms that report the application's default theme.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::TryStreamExt;
use jiff::{SignedDuration, Timestamp};
use meetings_operator::controller::room::lost_create::LostCreate;
use meetings_operator::controller::room::sync::create_request;
use meetings_operator::crd::MeetingRoomSpec;
use meetings_operator::meetings::{
    ClientConfig, CreateRoom, CreateTheme, Credentials, MeetingsClient, RateLimit,
    RecordingOptions, Room, RoomScope, RoomType,
};
use meetings_simulator::{Behavior, RunningSimulator, Simulator};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

/// Generated cases per world.
const CASES: usize = 96;

/// A simulator, a client of its application, and a theme to reference.
struct World {
    name: &'static str,
    _sim: RunningSimulator,
    client: MeetingsClient,
    theme_id: String,
}

impl World {
    async fn start(name: &'static str, behavior: Behavior) -> Self {
        let sim = Simulator::builder()
            .with_behavior(behavior)
            .start()
            .await
            .expect("simulator starts");
        let app = sim.default_application().expect("default application");
        let credentials = Credentials::new(&app.application_id, app.private_key_pem.as_bytes())
            .expect("credentials");
        let client = MeetingsClient::new(
            ClientConfig {
                base_url: sim.base_url(),
                // The default 10 requests per second would set the pace.
                rate_limit: RateLimit {
                    per_second: 1000.0,
                    burst: 100,
                },
                ..ClientConfig::default()
            },
            credentials,
        )
        .expect("client");
        let theme_id = client
            .create_theme(&CreateTheme {
                theme_name: Some("brand".into()),
                main_color: "#112233".into(),
                brand_text: "Brand".into(),
                short_company_url: None,
            })
            .await
            .expect("theme created")
            .theme_id;
        client
            .set_default_theme(&theme_id)
            .await
            .expect("default theme set");
        Self {
            name,
            _sim: sim,
            client,
            theme_id,
        }
    }

    /// Creates each named request; their field names with the room ids.
    async fn create_all(
        &self,
        requests: &[(&'static str, CreateRoom)],
    ) -> Vec<(&'static str, String)> {
        let mut ids = Vec::new();
        for (field, request) in requests {
            let created = self.client.create_room(request).await;
            ids.push((*field, created.expect("twin created").id));
        }
        ids
    }

    async fn listing(&self) -> Vec<Room> {
        self.client
            .rooms(RoomScope::All)
            .try_collect()
            .await
            .expect("rooms listed")
    }
}

/// A valid spec as JSON, without its display name (made unique per case).
fn spec_strategy() -> impl Strategy<Value = Value> {
    let maybe_bool = || prop_oneof![Just(None), any::<bool>().prop_map(Some)];
    let recording = prop_oneof![
        Just(None),
        (maybe_bool(), maybe_bool()).prop_map(|(auto, owner)| {
            let mut o = serde_json::Map::new();
            if let Some(auto) = auto {
                o.insert("autoRecord".into(), json!(auto));
            }
            if let Some(owner) = owner {
                o.insert("recordOnlyOwner".into(), json!(owner));
            }
            Some(Value::Object(o))
        }),
    ];
    let metadata = prop_oneof![
        Just(None),
        Just(Some(String::new())),
        "[a-zA-Z0-9 =:,{}\"-]{1,40}".prop_map(Some),
    ];
    let features = prop_oneof![
        Just(None),
        (maybe_bool(), maybe_bool(), maybe_bool()).prop_map(|(r, c, w)| {
            let mut o = serde_json::Map::new();
            for (key, value) in [
                ("isRecordingAvailable", r),
                ("isChatAvailable", c),
                ("isWhiteboardAvailable", w),
            ] {
                if let Some(value) = value {
                    o.insert(key.into(), json!(value));
                }
            }
            Some(Value::Object(o))
        }),
    ];
    let callbacks = prop_oneof![
        Just(None),
        Just(Some(
            json!({"roomsCallbackUrl": "https://hooks.example/rooms"})
        )),
        Just(Some(json!({
            "sessionsCallbackUrl": "https://hooks.example/sessions",
            "recordingsCallbackUrl": "http://hooks.example/recordings"
        }))),
    ];
    let approval = prop_oneof![
        Just(None),
        Just(Some("none")),
        Just(Some("after_owner_only")),
        Just(Some("explicit_approval")),
    ];
    // Long-term expiry: 1 hour to 300 days ahead, sometimes with sub-millisecond digits.
    let expiry = (3_600i64..300 * 86_400, 0u32..1_000_000_000, any::<bool>());
    (
        any::<bool>(),
        expiry,
        maybe_bool(),
        metadata,
        recording,
        any::<bool>(),
        approval,
        callbacks,
        features,
    )
        .prop_map(
            |(
                long_term,
                (secs, nanos, fractional),
                after_use,
                metadata,
                recording,
                themed,
                approval,
                callbacks,
                features,
            )| {
                let mut spec = json!({ "type": if long_term { "long_term" } else { "instant" } });
                if long_term {
                    let at = Timestamp::now()
                        + SignedDuration::new(secs, if fractional { nanos as i32 } else { 0 });
                    spec["expiresAt"] = json!(at.to_string());
                    if let Some(after_use) = after_use {
                        spec["expireAfterUse"] = json!(after_use);
                    }
                }
                for (key, value) in [
                    ("metadata", metadata.map(Value::String)),
                    ("recordingOptions", recording),
                    ("joinApprovalLevel", approval.map(|a| json!(a))),
                    ("callbackUrls", callbacks),
                    ("availableFeatures", features),
                ] {
                    if let Some(value) = value {
                        spec[key] = value;
                    }
                }
                if themed {
                    spec["themeRef"] = json!({"name": "brand"});
                }
                spec
            },
        )
}

/// Requests that differ from `request` in exactly one create-only field, as
/// the service stores it.
fn near_twins(request: &CreateRoom) -> Vec<(&'static str, CreateRoom)> {
    let mut twins = Vec::new();
    let mut twin = request.clone();
    twin.display_name.push('x');
    twins.push(("displayName", twin));

    let mut twin = request.clone();
    twin.metadata = match request.metadata.as_deref() {
        None | Some("") => Some("twin".into()),
        Some(_) => None,
    };
    twins.push(("metadata", twin));

    let mut twin = request.clone();
    let recording = request.recording_options.clone().unwrap_or_default();
    twin.recording_options = Some(RecordingOptions {
        auto_record: Some(!recording.auto_record.unwrap_or(false)),
        record_only_owner: recording.record_only_owner,
    });
    twins.push(("recordingOptions.autoRecord", twin));

    let mut twin = request.clone();
    twin.recording_options = Some(RecordingOptions {
        auto_record: recording.auto_record,
        record_only_owner: Some(!recording.record_only_owner.unwrap_or(false)),
    });
    twins.push(("recordingOptions.recordOnlyOwner", twin));

    let mut twin = request.clone();
    match request.room_type {
        RoomType::LongTerm => {
            twin.room_type = RoomType::Instant;
            twin.expires_at = None;
            twin.expire_after_use = None;
        }
        RoomType::Instant => {
            twin.room_type = RoomType::LongTerm;
            twin.expires_at = Some(Timestamp::now() + SignedDuration::from_hours(48));
        }
    }
    twins.push(("type", twin));
    twins
}

async fn check_world(world: &World, seed: [u8; 32]) {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = spec_strategy();
    let counter = AtomicUsize::new(0);
    for _ in 0..CASES {
        let mut spec = strategy
            .new_tree(&mut runner)
            .expect("a spec is generated")
            .current();
        let case = counter.fetch_add(1, Ordering::Relaxed);
        spec["displayName"] = json!(format!("Room {case} of {}", world.name));
        let spec: MeetingRoomSpec = serde_json::from_value(spec).expect("generated spec parses");
        let theme_id = spec.theme_ref.as_ref().map(|_| world.theme_id.as_str());
        let request = create_request(&spec, theme_id, spec.callback_urls.as_deref())
            .expect("generated spec makes a request");
        let started = Timestamp::now();

        let twins = near_twins(&request);
        // Twins on both sides of the operator's room in creation order.
        let mut twin_ids = world.create_all(&twins[..2]).await;
        let lost = world
            .client
            .create_room(&request)
            .await
            .unwrap_or_else(|e| panic!("{}: create of {request:?} failed: {e}", world.name));
        twin_ids.extend(world.create_all(&twins[2..]).await);

        let listing = world.listing().await;
        let lost_create = LostCreate::new(&request, started);
        let candidates: Vec<Room> = listing
            .iter()
            .filter(|room| lost_create.matches(room))
            .cloned()
            .collect();
        assert!(
            candidates.iter().any(|room| room.id == lost.id),
            "{}: the room stored from {request:?} was not recognised; listed as {:?}",
            world.name,
            listing.iter().find(|room| room.id == lost.id)
        );
        for (field, id) in &twin_ids {
            assert!(
                candidates.iter().all(|room| &room.id != id),
                "{}: a twin differing in {field} was taken for the lost create of {request:?}",
                world.name
            );
        }
        assert_eq!(
            lost_create.best(&candidates).map(|room| room.id.as_str()),
            Some(lost.id.as_str()),
            "{}: another candidate ranked above the operator's room",
            world.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_room_is_recognised_in_the_spec_world_and_no_near_twin_is() {
    let world = World::start("spec", Behavior::default()).await;
    check_world(&world, [1; 32]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_room_is_recognised_in_the_live_world_and_no_near_twin_is() {
    let world = World::start("live", Behavior::live()).await;
    check_world(&world, [2; 32]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_room_is_recognised_when_rooms_report_the_default_theme() {
    let behavior = Behavior {
        rooms_report_default_theme: true,
        ..Behavior::live()
    };
    let world = World::start("live, default theme reported", behavior).await;
    check_world(&world, [3; 32]).await;
}
