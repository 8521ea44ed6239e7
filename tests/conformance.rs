//! Conformance of the simulator's answers to the repository's spec copy
//! (`api/meetings-openapi.yaml`): a broad workload runs through the client, then every
//! logged exchange is validated against the spec's response schemas (2xx, and the
//! error bodies the spec details) or the documented error shapes.
//!
//! The unit tests at the end prove the validator rejects wrong fields and types.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/spec.rs"]
mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::TryStreamExt;
use jiff::SignedDuration;
use meetings_operator::meetings::{
    ApiError, AvailableFeatures, CallbackUrls, ClientConfig, CreateRoom, CreateTheme, Credentials,
    ErrorClass, JoinApprovalLevel, MeetingsClient, PageQuery, RateLimit, RecordingOptions,
    RetryPolicy, RoomScope, RoomType, RoomUpdate, ThemeUpdate,
};
use meetings_simulator::{
    AppCredentials, Behavior, Exchange, FaultKind, FaultSpec, RunningSimulator, Simulator,
};
use serde_json::{Value, json};
use spec::{Contract, Profile, Verdict};

// ---------------------------------------------------------------------------------------
// Workload helpers

/// A callback target on loopback where nothing listens: deliveries fail fast and stay local.
const CALLBACK: &str = "http://127.0.0.1:9/callbacks";

fn client(sim: &RunningSimulator, app: &AppCredentials, max_attempts: u32) -> MeetingsClient {
    let config = ClientConfig {
        base_url: sim.base_url(),
        request_timeout: Duration::from_secs(10),
        rate_limit: RateLimit {
            per_second: 0.0,
            burst: 1,
        },
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(50),
        },
        ..ClientConfig::default()
    };
    let credentials =
        Credentials::new(&app.application_id, app.private_key_pem.as_bytes()).unwrap();
    MeetingsClient::new(config, credentials).unwrap()
}

#[track_caller]
fn expect_class<T: std::fmt::Debug>(result: Result<T, ApiError>, class: ErrorClass) -> ApiError {
    match result {
        Err(error) if error.class() == class => error,
        other => panic!("expected {class:?}, got {other:?}"),
    }
}

fn png(width: u32, height: u32, transparent: bool) -> Vec<u8> {
    let mut data = vec![180u8; (width * height * 4) as usize];
    if transparent {
        data[3] = 0;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
    }
    out
}

/// Uploads a valid logo for every slot and returns the keys.
async fn upload_logos(client: &MeetingsClient) -> Vec<String> {
    let targets = client.logo_upload_targets().await.unwrap();
    assert_eq!(targets.len(), 3);
    let mut keys = Vec::new();
    for target in &targets {
        let image = match target.logo_type() {
            Some(meetings_operator::meetings::LogoType::Favicon) => png(32, 32, true),
            _ => png(120, 40, true),
        };
        client.upload_logo(target, image.into()).await.unwrap();
        keys.push(target.key().unwrap().to_owned());
    }
    keys
}

fn long_term(sim: &RunningSimulator, name: &str) -> CreateRoom {
    CreateRoom {
        display_name: name.into(),
        room_type: RoomType::LongTerm,
        expires_at: Some(sim.now() + SignedDuration::from_hours(48)),
        ..CreateRoom::default()
    }
}

fn instant(name: &str) -> CreateRoom {
    CreateRoom {
        display_name: name.into(),
        ..CreateRoom::default()
    }
}

fn missing() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Every operation with the spec's switches, and every kind of error answer.
async fn spec_workload(sim: &RunningSimulator) {
    let app = sim.default_application().unwrap();
    let client = client(sim, &app, 3);
    let strict = self::client(sim, &app, 1);

    // Themes.
    assert!(client.themes().await.unwrap().is_empty());
    let main = client
        .create_theme(&CreateTheme {
            theme_name: Some("Main".into()),
            main_color: "#12f64e".into(),
            brand_text: "Brand".into(),
            short_company_url: Some("conformance-main".into()),
        })
        .await
        .unwrap();
    let other = client
        .create_theme(&CreateTheme {
            main_color: "#fff".into(),
            brand_text: "Other".into(),
            ..CreateTheme::default()
        })
        .await
        .unwrap();
    let clash = CreateTheme {
        theme_name: Some("Main".into()),
        main_color: "#000".into(),
        brand_text: "Clash".into(),
        short_company_url: None,
    };
    expect_class(client.create_theme(&clash).await, ErrorClass::Conflict);
    let short_clash = CreateTheme {
        theme_name: Some("Elsewhere".into()),
        short_company_url: Some("conformance-main".into()),
        ..clash.clone()
    };
    expect_class(
        client.create_theme(&short_clash).await,
        ErrorClass::Conflict,
    );
    let invalid_colour = CreateTheme {
        main_color: "green".into(),
        ..CreateTheme::default()
    };
    expect_class(
        client.create_theme(&invalid_colour).await,
        ErrorClass::InvalidRequest,
    );
    assert_eq!(client.themes().await.unwrap().len(), 2);
    client.get_theme(&main.theme_id).await.unwrap();
    expect_class(client.get_theme(&missing()).await, ErrorClass::NotFound);
    expect_class(client.get_theme("not-a-uuid").await, ErrorClass::NotFound);
    let rename = ThemeUpdate {
        brand_text: Some("Brand 2".into()),
        main_color: Some("#abc".into()),
        ..ThemeUpdate::default()
    };
    client.update_theme(&main.theme_id, &rename).await.unwrap();
    expect_class(
        client
            .update_theme(&main.theme_id, &ThemeUpdate::default())
            .await,
        ErrorClass::InvalidRequest,
    );
    let taken = ThemeUpdate {
        theme_name: Some("Main".into()),
        ..ThemeUpdate::default()
    };
    expect_class(
        client.update_theme(&other.theme_id, &taken).await,
        ErrorClass::Conflict,
    );
    expect_class(
        client.update_theme(&missing(), &rename).await,
        ErrorClass::NotFound,
    );

    // Logos: success, invalid images, unknown keys, unknown theme.
    let keys = upload_logos(&client).await;
    client.finalize_logos(&main.theme_id, &keys).await.unwrap();
    let finalized = client.get_theme(&main.theme_id).await.unwrap();
    assert!(finalized.brand_image_white_url.is_some());
    let targets = client.logo_upload_targets().await.unwrap();
    client
        .upload_logo(&targets[0], png(50, 50, false).into())
        .await
        .unwrap();
    client
        .upload_logo(&targets[1], b"not a png".to_vec().into())
        .await
        .unwrap();
    let bad_keys: Vec<String> = targets[..2]
        .iter()
        .map(|t| t.key().unwrap().to_owned())
        .collect();
    expect_class(
        client.finalize_logos(&other.theme_id, &bad_keys).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client
            .finalize_logos(
                &other.theme_id,
                &["auto-expiring-temp/logos/white/none".into()],
            )
            .await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.finalize_logos(&other.theme_id, &[]).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.finalize_logos(&missing(), &keys).await,
        ErrorClass::NotFound,
    );

    // Rooms.
    let plain = client
        .create_room(&CreateRoom {
            metadata: Some("{\"team\":\"a\"}".into()),
            recording_options: Some(RecordingOptions {
                auto_record: Some(false),
                record_only_owner: Some(true),
            }),
            join_approval_level: Some(JoinApprovalLevel::AfterOwnerOnly),
            available_features: Some(AvailableFeatures {
                is_chat_available: Some(false),
                ..AvailableFeatures::default()
            }),
            ..instant("Plain")
        })
        .await
        .unwrap();
    let themed = client
        .create_room(&CreateRoom {
            theme_id: Some(main.theme_id.clone()),
            expire_after_use: Some(true),
            callback_urls: Some(CallbackUrls {
                rooms_callback_url: Some(CALLBACK.into()),
                sessions_callback_url: Some(CALLBACK.into()),
                recordings_callback_url: Some(CALLBACK.into()),
            }),
            ..long_term(sim, "Themed")
        })
        .await
        .unwrap();
    for n in 0..5 {
        client
            .create_room(&instant(&format!("Filler {n}")))
            .await
            .unwrap();
    }
    let no_expiry = CreateRoom {
        expires_at: None,
        ..long_term(sim, "Broken")
    };
    expect_class(
        client.create_room(&no_expiry).await,
        ErrorClass::InvalidRequest,
    );
    let unknown_theme = CreateRoom {
        theme_id: Some(missing()),
        ..instant("Unknown theme")
    };
    assert!(client.create_room(&unknown_theme).await.is_err());
    client.get_room(&plain.id).await.unwrap();
    expect_class(client.get_room(&missing()).await, ErrorClass::NotFound);
    let unthemed = RoomUpdate {
        theme_id: Some(None),
        join_approval_level: Some(JoinApprovalLevel::ExplicitApproval),
        ..RoomUpdate::default()
    };
    client.update_room(&themed.id, &unthemed).await.unwrap();
    let rethemed = RoomUpdate {
        theme_id: Some(Some(main.theme_id.clone())),
        expires_at: Some(sim.now() + SignedDuration::from_hours(72)),
        ..RoomUpdate::default()
    };
    client.update_room(&themed.id, &rethemed).await.unwrap();
    expect_class(
        client.update_room(&plain.id, &rethemed).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.update_room(&themed.id, &RoomUpdate::default()).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.update_room(&missing(), &rethemed).await,
        ErrorClass::NotFound,
    );

    // Listings: pages, an empty page past the end, an invalid page size, theme scope.
    let mut query = PageQuery {
        page_size: Some(3),
        ..PageQuery::default()
    };
    let mut seen = 0;
    loop {
        let page = client.rooms_page(&RoomScope::All, &query).await.unwrap();
        seen += page.rooms.len();
        if page.rooms.len() < 3 {
            break;
        }
        query.start_id = PageQuery::start_id_from_link(&page.links.next.unwrap().href);
    }
    assert_eq!(seen, 7);
    let past_end = PageQuery {
        start_id: Some("999999999999".into()),
        ..PageQuery::default()
    };
    let empty = client.rooms_page(&RoomScope::All, &past_end).await.unwrap();
    assert!(empty.rooms.is_empty());
    let zero = PageQuery {
        page_size: Some(0),
        ..PageQuery::default()
    };
    expect_class(
        client.rooms_page(&RoomScope::All, &zero).await,
        ErrorClass::InvalidRequest,
    );
    let all: Vec<_> = client.rooms(RoomScope::All).try_collect().await.unwrap();
    assert_eq!(all.len(), 7);
    let by_theme: Vec<_> = client
        .rooms(RoomScope::Theme(main.theme_id.clone()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_theme.len(), 1);
    expect_class(
        client
            .rooms_page(&RoomScope::Theme(missing()), &PageQuery::default())
            .await,
        ErrorClass::NotFound,
    );
    assert_eq!(client.dial_in_numbers().await.unwrap().len(), 4);

    // Recordings through a meeting's lifecycle.
    let room_id: uuid::Uuid = themed.id.parse().unwrap();
    let session = sim.start_session(room_id).unwrap();
    sim.join_session(&session.id, "Host", true).unwrap();
    let recording = sim.start_recording(&session.id).unwrap();
    let rec_id = recording.id.to_string();
    client.get_recording(&rec_id).await.unwrap();
    expect_class(
        client.delete_recording(&rec_id).await,
        ErrorClass::QuotaExceeded,
    );
    sim.stop_recording(recording.id).unwrap();
    client.get_recording(&rec_id).await.unwrap();
    sim.upload_recording(recording.id).unwrap();
    client.get_recording(&rec_id).await.unwrap();
    assert_eq!(
        client.session_recordings(&session.id).await.unwrap().len(),
        1
    );
    client.delete_recording(&rec_id).await.unwrap();
    expect_class(client.get_recording(&rec_id).await, ErrorClass::NotFound);
    expect_class(client.delete_recording(&rec_id).await, ErrorClass::NotFound);
    expect_class(
        client.session_recordings("2_MX4unknown-fg").await,
        ErrorClass::NotFound,
    );
    sim.end_session(&session.id).unwrap();

    // The application's default theme, and theme deletion.
    client.set_default_theme(&other.theme_id).await.unwrap();
    expect_class(
        client.set_default_theme(&missing()).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.set_default_theme("not-a-uuid").await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.delete_theme(&other.theme_id, false).await,
        ErrorClass::InvalidRequest,
    );
    expect_class(
        client.delete_theme(&main.theme_id, false).await,
        ErrorClass::InvalidRequest,
    );
    client.delete_theme(&other.theme_id, true).await.unwrap();
    client.delete_theme(&main.theme_id, true).await.unwrap();
    expect_class(
        client.delete_theme(&main.theme_id, false).await,
        ErrorClass::NotFound,
    );
    let spare = client
        .create_theme(&CreateTheme {
            main_color: "#123".into(),
            brand_text: "Spare".into(),
            ..CreateTheme::default()
        })
        .await
        .unwrap();
    client.delete_theme(&spare.theme_id, false).await.unwrap();

    // Limits.
    sim.update_behavior(|b| {
        b.theme_limit = Some(0);
        b.room_limit = Some(0);
    });
    expect_class(client.create_theme(&clash).await, ErrorClass::QuotaExceeded);
    expect_class(
        client.create_room(&instant("Over")).await,
        ErrorClass::QuotaExceeded,
    );
    sim.update_behavior(|b| {
        b.theme_limit = None;
        b.room_limit = None;
    });

    // Injected failures: each is an answer the validator must also accept.
    let faults = sim.faults();
    faults.add(
        FaultSpec::new(
            "getDialInNumbers",
            FaultKind::RateLimited {
                retry_after_secs: 0,
            },
        )
        .times(1),
    );
    expect_class(strict.dial_in_numbers().await, ErrorClass::RateLimited);
    for status in [500, 502, 503, 504] {
        faults.add(
            FaultSpec::new(
                "getDialInNumbers",
                FaultKind::ServerError {
                    status: Some(status),
                },
            )
            .times(1),
        );
        expect_class(strict.dial_in_numbers().await, ErrorClass::Server);
    }
    faults.add(FaultSpec::new("getThemes", FaultKind::Unauthorized).times(1));
    client.themes().await.unwrap();
    faults.add(FaultSpec::new("createRoom", FaultKind::CommitThenBadGateway).times(1));
    expect_class(
        client.create_room(&instant("Committed")).await,
        ErrorClass::Server,
    );
    faults.add(FaultSpec::new("getRoom", FaultKind::CommitThenDrop).times(1));
    expect_class(strict.get_room(&plain.id).await, ErrorClass::Transport);
    faults.clear();

    // Credentials the service refuses.
    let revoked = sim.add_application().await.unwrap();
    let revoked_client = self::client(sim, &revoked, 1);
    sim.revoke_keys(&revoked.application_id).unwrap();
    expect_class(revoked_client.themes().await, ErrorClass::Unauthorized);

    // Requests the client never makes: no header, no route, wrong method.
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let answer = http.get(format!("{base}/rooms")).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let answer = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(answer.status(), 404);
    let answer = http.delete(format!("{base}/rooms")).send().await.unwrap();
    assert_eq!(answer.status(), 405);
}

/// The live service's variations: flat `_embedded`, string `page_size`, `{}` for no
/// themes, `null` for unset fields, 404 for deleting a recording not uploaded yet, expired
/// rooms still `is_available`.
async fn live_workload(sim: &RunningSimulator) {
    sim.update_behavior(|b| *b = Behavior::live());
    // A fresh tenant, so `GET /themes` starts empty.
    let app = sim.add_application().await.unwrap();
    let client = client(sim, &app, 3);

    assert!(client.themes().await.unwrap().is_empty());
    let theme = client
        .create_theme(&CreateTheme {
            main_color: "#0a0".into(),
            brand_text: "Live".into(),
            ..CreateTheme::default()
        })
        .await
        .unwrap();
    assert!(theme.brand_image_white.is_none());
    client.get_theme(&theme.theme_id).await.unwrap();
    let update = ThemeUpdate {
        short_company_url: Some("live-short".into()),
        ..ThemeUpdate::default()
    };
    client.update_theme(&theme.theme_id, &update).await.unwrap();
    assert_eq!(client.themes().await.unwrap().len(), 1);

    let bare = client.create_room(&instant("Bare")).await.unwrap();
    let themed = client
        .create_room(&CreateRoom {
            theme_id: Some(theme.theme_id.clone()),
            callback_urls: Some(CallbackUrls {
                rooms_callback_url: Some(CALLBACK.into()),
                ..CallbackUrls::default()
            }),
            ..long_term(sim, "Live themed")
        })
        .await
        .unwrap();
    for n in 0..4 {
        client
            .create_room(&CreateRoom {
                theme_id: Some(theme.theme_id.clone()),
                ..instant(&format!("Live {n}"))
            })
            .await
            .unwrap();
    }
    client.get_room(&bare.id).await.unwrap();
    let unthemed = RoomUpdate {
        theme_id: Some(None),
        ..RoomUpdate::default()
    };
    client.update_room(&themed.id, &unthemed).await.unwrap();

    let mut query = PageQuery {
        page_size: Some(2),
        ..PageQuery::default()
    };
    let mut pages = 0;
    loop {
        let page = client.rooms_page(&RoomScope::All, &query).await.unwrap();
        pages += 1;
        if page.rooms.len() < 2 {
            break;
        }
        query.start_id = PageQuery::start_id_from_link(&page.links.next.unwrap().href);
    }
    assert_eq!(pages, 4, "6 rooms in pages of 2, then an empty page");
    let all: Vec<_> = client.rooms(RoomScope::All).try_collect().await.unwrap();
    assert_eq!(all.len(), 6);
    let by_theme: Vec<_> = client
        .rooms(RoomScope::Theme(theme.theme_id.clone()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_theme.len(), 4);

    let keys = upload_logos(&client).await;
    client.finalize_logos(&theme.theme_id, &keys).await.unwrap();
    client.get_theme(&theme.theme_id).await.unwrap();
    assert_eq!(client.dial_in_numbers().await.unwrap().len(), 4);

    let session = sim.start_session(themed.id.parse().unwrap()).unwrap();
    let recording = sim.start_recording(&session.id).unwrap();
    sim.stop_recording(recording.id).unwrap();
    client
        .get_recording(&recording.id.to_string())
        .await
        .unwrap();
    // Not uploaded yet: the live service answered 404 where the spec says 403.
    let refused = expect_class(
        client.delete_recording(&recording.id.to_string()).await,
        ErrorClass::NotFound,
    );
    assert_eq!(
        refused.service_error().unwrap().message,
        "Could not find recording"
    );
    assert_eq!(
        client.session_recordings(&session.id).await.unwrap().len(),
        1
    );
    sim.end_session(&session.id).unwrap();

    client.set_default_theme(&theme.theme_id).await.unwrap();
    expect_class(
        client.delete_theme(&theme.theme_id, false).await,
        ErrorClass::InvalidRequest,
    );
    client.delete_theme(&theme.theme_id, true).await.unwrap();
    expect_class(
        client.get_theme(&theme.theme_id).await,
        ErrorClass::NotFound,
    );

    // Past the instant rooms' ten minutes: the live service still lists them as available.
    sim.advance_clock(SignedDuration::from_mins(11));
    let expired = client.get_room(&bare.id).await.unwrap();
    assert!(expired.is_available == Some(true) && expired.is_expired_at(sim.now()));
    let all: Vec<_> = client.rooms(RoomScope::All).try_collect().await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(client.themes().await.unwrap().is_empty());
}

/// Validates every exchange's answer, and the request of every accepted one; returns
/// the number of answer bodies validated per status and of request bodies per operation.
fn validate_all(
    contract: &Contract,
    exchanges: &[Exchange],
) -> (BTreeMap<u16, usize>, BTreeMap<String, usize>) {
    let mut failures = Vec::new();
    let mut validated = BTreeMap::new();
    let mut requests = BTreeMap::new();
    for exchange in exchanges {
        match contract.check_exchange(exchange) {
            Ok(Verdict::Validated) => *validated.entry(exchange.status).or_insert(0) += 1,
            Ok(Verdict::NoBody | Verdict::NotAnswered) => {}
            Err(failure) => failures.push(failure),
        }
        match contract.check_accepted_request(exchange) {
            Ok(true) => {
                let op = exchange.operation_id.clone().unwrap_or_default();
                *requests.entry(op).or_insert(0) += 1;
            }
            Ok(false) => {}
            Err(failure) => failures.push(failure),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} answers do not conform:\n\n{}",
        failures.len(),
        exchanges.len(),
        failures.join("\n\n")
    );
    (validated, requests)
}

#[tokio::test]
async fn every_simulator_answer_conforms_to_the_spec() {
    let sim = Simulator::builder().start().await.unwrap();

    spec_workload(&sim).await;
    let spec_exchanges = sim.exchanges();
    sim.clear_exchanges();
    live_workload(&sim).await;
    let live_exchanges = sim.exchanges();

    let (spec_validated, spec_requests) =
        validate_all(&Contract::new(Profile::Spec), &spec_exchanges);
    let (live_validated, live_requests) =
        validate_all(&Contract::new(Profile::Live), &live_exchanges);
    // The live answers really deviate: the spec profile alone refuses some of them.
    let strict = Contract::new(Profile::Spec);
    let deviating = live_exchanges
        .iter()
        .filter(|e| strict.check_exchange(e).is_err())
        .count();
    assert!(
        deviating > 0,
        "the live workload produced only spec answers"
    );
    println!("spec profile: validated bodies per status {spec_validated:?}");
    println!("live profile: validated bodies per status {live_validated:?}");
    println!("accepted request bodies validated: {spec_requests:?} and {live_requests:?}");

    // Coverage: every operation of the spec answered at least once...
    let contract = Contract::new(Profile::Spec);
    let answered: BTreeSet<String> = spec_exchanges
        .iter()
        .chain(&live_exchanges)
        .filter_map(|e| e.operation_id.clone())
        .collect();
    let unanswered: Vec<_> = contract
        .operation_ids()
        .into_iter()
        .filter(|op| !answered.contains(op))
        .collect();
    assert!(unanswered.is_empty(), "never exercised: {unanswered:?}");
    assert_eq!(contract.operation_ids().len(), 17);
    // Every request body the client sends was validated at least once.
    for op in contract.operations_with_bodies() {
        assert!(
            spec_requests.contains_key(&op),
            "no accepted {op} request validated"
        );
    }
    // ...in both profiles for the ones whose shape the live switches change...
    let live_ops: BTreeSet<&str> = live_exchanges
        .iter()
        .filter_map(|e| e.operation_id.as_deref())
        .collect();
    for op in [
        "getRooms",
        "getRoomsByThemeId",
        "getThemes",
        "getThemeById",
        "getRoom",
    ] {
        assert!(
            live_ops.contains(op),
            "{op} not exercised in the live profile"
        );
    }
    // ...and every kind of answer validated, errors included.
    for status in [
        200, 201, 400, 401, 403, 404, 405, 409, 429, 500, 502, 503, 504,
    ] {
        assert!(
            spec_validated.contains_key(&status),
            "no {status} body validated: {spec_validated:?}"
        );
    }
    assert!(
        spec_exchanges.iter().any(|e| e.status == 204),
        "no 204 answer"
    );
    // The flat `_embedded`, the string page size and `{}` were really produced.
    let listing = live_exchanges
        .iter()
        .find(|e| e.operation_id.as_deref() == Some("getRooms") && e.status == 200)
        .and_then(|e| e.body.clone())
        .unwrap();
    assert!(listing["_embedded"].is_array() && listing["page_size"].is_string());
    assert!(
        live_exchanges.iter().any(|e| {
            e.operation_id.as_deref() == Some("getThemes") && e.body == Some(json!({}))
        })
    );
    assert!(live_exchanges.iter().any(|e| {
        e.operation_id.as_deref() == Some("getRoom")
            && e.body.as_ref().is_some_and(|b| b["metadata"].is_null())
    }));
}

// ---------------------------------------------------------------------------------------
// The validator itself: it must reject wrong fields and types.

fn room() -> Value {
    json!({
        "id": "6f7c2f2e-1c7c-4d3c-9b43-4a4f7b1a7c11",
        "display_name": "Standup",
        "metadata": "free text",
        "type": "long_term",
        "recording_options": {"auto_record": false, "record_only_owner": false},
        "meeting_code": "123456789",
        "is_available": true,
        "theme_id": "0d6b4a0e-8f1c-4a5e-9c38-2f7b9f0a1b2c",
        "created_at": "2023-01-24T03:20:38.629Z",
        "expires_at": "2023-01-25T03:20:38.629Z",
        "expire_after_use": false,
        "join_approval_level": "none",
        "callback_urls": {"rooms_callback_url": "https://example.com/rooms"},
        "available_features": {
            "is_recording_available": true,
            "is_chat_available": true,
            "is_whiteboard_available": true
        },
        "_links": {
            "guest_url": {"href": "https://meetings.vonage.com/123456789"},
            "host_url": {"href": "https://meetings.vonage.com/?room_token=123456789&participant_token=x"}
        }
    })
}

fn theme() -> Value {
    json!({
        "theme_id": "0d6b4a0e-8f1c-4a5e-9c38-2f7b9f0a1b2c",
        "theme_name": "Theme1",
        "domain": "VCP",
        "account_id": "acc",
        "application_id": "6f7c2f2e-1c7c-4d3c-9b43-4a4f7b1a7c11",
        "main_color": "#12f64e",
        "brand_text": "Brand"
    })
}

fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
    *value.pointer_mut(pointer).unwrap() = replacement;
    value
}

#[track_caller]
fn rejected(contract: &Contract, op: &str, status: u16, body: Value) -> String {
    match contract.check(Some(op), status, Some(&body)) {
        Err(message) => message,
        Ok(verdict) => panic!("{op} {status} accepted ({verdict:?}): {body:#}"),
    }
}

#[test]
fn a_conforming_room_is_accepted() {
    let contract = Contract::new(Profile::Spec);
    for (op, status) in [("getRoom", 200), ("createRoom", 201), ("updateRoom", 200)] {
        assert_eq!(
            contract.check(Some(op), status, Some(&room())),
            Ok(Verdict::Validated)
        );
    }
    let plain_date = with(room(), "/expires_at", json!("2023-01-25"));
    assert!(
        contract
            .check(Some("getRoom"), 200, Some(&plain_date))
            .is_ok()
    );
}

#[test]
fn wrong_types_and_values_are_rejected() {
    let contract = Contract::new(Profile::Spec);
    let cases = [
        ("/meeting_code", json!(123)),
        ("/meeting_code", json!("12ab")),
        ("/is_available", json!("yes")),
        ("/type", json!("permanent")),
        ("/id", json!("not-a-uuid")),
        ("/created_at", json!("yesterday")),
        ("/expires_at", json!(1674530438)),
        ("/join_approval_level", json!("sometimes")),
        ("/recording_options/auto_record", json!("true")),
        (
            "/callback_urls/rooms_callback_url",
            json!("ftp://example.com"),
        ),
        ("/_links/guest_url/href", json!(null)),
        ("/metadata", json!(null)),
    ];
    for (pointer, value) in cases {
        let message = rejected(
            &contract,
            "getRoom",
            200,
            with(room(), pointer, value.clone()),
        );
        assert!(
            message.contains(pointer.trim_start_matches('/').split('/').next().unwrap()),
            "{pointer} = {value}: {message}"
        );
    }
    rejected(
        &contract,
        "getThemeById",
        200,
        with(theme(), "/domain", json!("XYZ")),
    );
    rejected(
        &contract,
        "getThemeById",
        200,
        with(theme(), "/theme_name", json!(7)),
    );
    rejected(
        &contract,
        "getThemes",
        200,
        json!([with(theme(), "/main_color", json!(false))]),
    );
    rejected(
        &contract,
        "getDialInNumbers",
        200,
        json!([{"number": 17323338801u64}]),
    );
    rejected(&contract, "getDialInNumbers", 200, json!({"number": "1"}));
}

#[test]
fn misspelt_or_invented_fields_are_rejected() {
    let contract = Contract::new(Profile::Spec);
    let mut misspelt = room();
    let code = misspelt
        .as_object_mut()
        .unwrap()
        .remove("meeting_code")
        .unwrap();
    misspelt["meetingCode"] = code;
    let message = rejected(&contract, "getRoom", 200, misspelt);
    assert!(message.contains("meetingCode"), "{message}");
    rejected(
        &contract,
        "getRoom",
        200,
        with(room(), "/_links/guest_url", json!({"url": "x"})),
    );
    let mut extra = theme();
    extra["logo"] = json!("x");
    rejected(&contract, "createTheme", 201, extra);
    rejected(
        &contract,
        "getRecording",
        200,
        json!({"id": "6f7c2f2e-1c7c-4d3c-9b43-4a4f7b1a7c11", "state": "started"}),
    );
}

#[test]
fn room_pages_follow_the_profile() {
    let spec = Contract::new(Profile::Spec);
    let live = Contract::new(Profile::Live);
    let links = json!({"first": {"href": "h/meetings/rooms?page_size=1"},
                       "next": {"href": "h/meetings/rooms?page_size=1&start_id=9"}});
    let wrapped = json!({"page_size": 1, "total_items": 1,
                         "_embedded": {"rooms": [room()]}, "_links": links});
    let flat = json!({"page_size": "1", "total_items": 1,
                      "_embedded": [room()], "_links": links});
    for op in ["getRooms", "getRoomsByThemeId"] {
        assert!(spec.check(Some(op), 200, Some(&wrapped)).is_ok());
        assert!(live.check(Some(op), 200, Some(&wrapped)).is_ok());
        assert!(live.check(Some(op), 200, Some(&flat)).is_ok());
        rejected(&spec, op, 200, flat.clone());
        rejected(
            &spec,
            op,
            200,
            with(wrapped.clone(), "/page_size", json!("1")),
        );
        rejected(
            &live,
            op,
            200,
            with(flat.clone(), "/page_size", json!("ten")),
        );
        rejected(
            &live,
            op,
            200,
            with(flat.clone(), "/_embedded/0/is_available", json!("yes")),
        );
        rejected(
            &live,
            op,
            200,
            with(wrapped.clone(), "/total_items", json!(-1.5)),
        );
    }
    assert!(live.check(Some("getThemes"), 200, Some(&json!({}))).is_ok());
    rejected(&spec, "getThemes", 200, json!({}));
    rejected(&live, "getThemes", 200, json!({"themes": []}));
}

#[test]
fn null_is_allowed_only_where_the_profile_says() {
    let spec = Contract::new(Profile::Spec);
    let live = Contract::new(Profile::Live);
    let nulled_room = with(room(), "/metadata", json!(null));
    let nulled_theme = with(theme(), "/theme_id", json!(null));
    let mut logo_null = theme();
    logo_null["brand_image_white"] = json!(null);
    logo_null["brand_image_white_url"] = json!(null);
    assert!(live.check(Some("getRoom"), 200, Some(&nulled_room)).is_ok());
    assert!(
        live.check(Some("getThemeById"), 200, Some(&logo_null))
            .is_ok()
    );
    rejected(&spec, "getRoom", 200, nulled_room);
    rejected(&spec, "getThemeById", 200, logo_null);
    rejected(&live, "getThemeById", 200, nulled_theme);
    rejected(
        &live,
        "getRoom",
        200,
        with(room(), "/meeting_code", json!(null)),
    );

    // The translation itself: `nullable` with and without `type`, and with `enum`.
    let schema = spec::to_draft4(&json!({"type": "string", "enum": ["a"], "nullable": true}));
    let validator = spec::compile(&schema);
    assert!(validator.is_valid(&json!(null)) && validator.is_valid(&json!("a")));
    assert!(!validator.is_valid(&json!("b")));
    let validator = spec::compile(&spec::to_draft4(
        &json!({"properties": {"a": {"type": "integer"}}, "nullable": true}),
    ));
    assert!(validator.is_valid(&json!(null)) && validator.is_valid(&json!({"a": 1})));
    assert!(!validator.is_valid(&json!({"a": "1"})) && !validator.is_valid(&json!({"b": 1})));
}

#[test]
fn the_spec_callback_pattern_is_corrected() {
    let raw = spec::compile(&json!({"type": "string", "pattern": spec::BROKEN_CALLBACK_PATTERN}));
    assert!(!raw.is_valid(&json!("https://example.com/hook")));
    let mut document = spec::load_spec();
    assert_eq!(spec::fix_known_mistakes(&mut document), 3);
    assert_eq!(spec::fix_known_mistakes(&mut document), 0);
    let fixed = spec::compile(&spec::to_draft4(
        &document["components"]["schemas"]["CallbackUrls"],
    ));
    assert!(fixed.is_valid(&json!({"rooms_callback_url": "https://example.com/hook"})));
    assert!(fixed.is_valid(&json!({"sessions_callback_url": "http://127.0.0.1:9/x"})));
    assert!(!fixed.is_valid(&json!({"rooms_callback_url": "ftp://example.com"})));
}

#[test]
fn error_bodies_must_have_a_documented_shape() {
    let contract = Contract::new(Profile::Spec);
    let service = json!({"status": 404, "name": "NotFoundError",
                         "message": "room not found", "errors": []});
    let gateway = json!({"title": "Unauthorized",
                         "detail": "You did not provide correct credentials"});
    assert!(contract.check(Some("getRoom"), 404, Some(&service)).is_ok());
    assert!(contract.check(Some("getRoom"), 401, Some(&gateway)).is_ok());
    assert!(contract.check(None, 404, Some(&gateway)).is_ok());
    assert!(contract.check(Some("getRoom"), 429, Some(&gateway)).is_ok());
    let server = with(service.clone(), "/status", json!(500));
    assert!(contract.check(Some("getRoom"), 500, Some(&server)).is_ok());

    rejected(
        &contract,
        "getRoom",
        404,
        with(service.clone(), "/status", json!(400)),
    );
    rejected(
        &contract,
        "getRoom",
        404,
        with(service.clone(), "/status", json!("404")),
    );
    rejected(
        &contract,
        "getRoom",
        404,
        with(service.clone(), "/errors", json!("x")),
    );
    rejected(
        &contract,
        "getRoom",
        404,
        with(service.clone(), "/errors", json!([1])),
    );
    let mut no_errors = service.clone();
    no_errors.as_object_mut().unwrap().remove("errors");
    rejected(&contract, "getRoom", 404, no_errors);
    rejected(&contract, "getRoom", 404, gateway.clone());
    rejected(&contract, "getRoom", 401, service.clone());
    let mut extra = gateway.clone();
    extra["status"] = json!(401);
    rejected(&contract, "getRoom", 401, extra);
    rejected(&contract, "getRoom", 418, service.clone());
    assert!(contract.check(Some("getRoom"), 404, None).is_err());
}

#[test]
fn error_details_the_spec_documents_are_enforced() {
    let contract = Contract::new(Profile::Spec);
    let finalize = json!({"status": 400, "name": "BadRequestError",
                          "message": "could not finalize logos",
                          "errors": [{"logoKey": "k", "code": "invalid_logo_properties",
                                      "invalidProperty": "transparent_bg"}]});
    assert!(
        contract
            .check(Some("finalizeLogosForTheme"), 400, Some(&finalize))
            .is_ok()
    );
    rejected(
        &contract,
        "finalizeLogosForTheme",
        400,
        with(finalize.clone(), "/errors/0/code", json!("bogus")),
    );
    rejected(
        &contract,
        "finalizeLogosForTheme",
        400,
        with(
            finalize.clone(),
            "/errors/0/invalidProperty",
            json!("colour"),
        ),
    );
    rejected(
        &contract,
        "finalizeLogosForTheme",
        400,
        with(finalize.clone(), "/message", json!("nope")),
    );
    let delete = json!({"status": 400, "name": "BadRequestError",
                        "message": "could not delete theme", "errors": ["Theme t is used by 1 room"]});
    assert!(
        contract
            .check(Some("deleteTheme"), 400, Some(&delete))
            .is_ok()
    );
    rejected(
        &contract,
        "deleteTheme",
        400,
        with(delete.clone(), "/name", json!("InputValidationError")),
    );
    rejected(
        &contract,
        "deleteTheme",
        400,
        with(delete, "/errors/0", json!({"x": 1})),
    );
}

#[test]
fn success_statuses_and_bodies_must_be_documented() {
    let contract = Contract::new(Profile::Spec);
    rejected(&contract, "createRoom", 200, room());
    rejected(&contract, "deleteRecording", 204, json!({}));
    assert_eq!(
        contract.check(Some("deleteRecording"), 204, None),
        Ok(Verdict::NoBody)
    );
    assert_eq!(
        contract.check(Some("finalizeLogosForTheme"), 200, None),
        Ok(Verdict::NoBody)
    );
    assert!(contract.check(Some("getRoom"), 200, None).is_err());
    assert!(contract.check(Some("deleteRoom"), 204, None).is_err());
    assert!(contract.check(None, 200, Some(&room())).is_err());
}

#[test]
fn request_bodies_follow_the_spec_and_the_notes() {
    let contract = Contract::new(Profile::Spec);
    assert_eq!(
        contract.operations_with_bodies(),
        BTreeSet::from(
            [
                "createRoom",
                "createTheme",
                "finalizeLogosForTheme",
                "updateApplication",
                "updateRoom",
                "updateTheme"
            ]
            .map(String::from)
        )
    );
    let ok = |op: &str, body: Value| {
        assert_eq!(
            contract.check_request(op, Some(&body)),
            Ok(()),
            "{op}: {body}"
        )
    };
    let refused = |op: &str, body: Value| {
        assert!(
            contract.check_request(op, Some(&body)).is_err(),
            "{op} accepted {body}"
        )
    };
    ok(
        "createRoom",
        json!({"display_name": "a", "type": "long_term",
               "expires_at": "2024-03-02T00:00:00.000Z",
               "callback_urls": {"rooms_callback_url": "http://127.0.0.1:9/x"}}),
    );
    refused("createRoom", json!({"display_name": "a", "type": "weekly"}));
    refused(
        "createRoom",
        json!({"display_name": "a", "expires_at": "soon"}),
    );
    refused("createRoom", json!({"name": "a"}));
    ok("updateRoom", json!({"update_details": {"theme_id": null}}));
    ok(
        "updateRoom",
        json!({"update_details": {"theme_id": "0d6b4a0e-8f1c-4a5e-9c38-2f7b9f0a1b2c"}}),
    );
    refused("updateRoom", json!({"update_details": {"theme_id": 5}}));
    // The SDK mistake the notes warn about.
    refused(
        "updateRoom",
        json!({"update_options": {"expire_after_use": true}}),
    );
    refused(
        "updateRoom",
        json!({"update_details": {"display_name": "renamed"}}),
    );
    ok(
        "createTheme",
        json!({"main_color": "#fff", "brand_text": "B"}),
    );
    refused("createTheme", json!({"main_color": "#fff"}));
    refused(
        "createTheme",
        json!({"main_color": "green", "brand_text": "B"}),
    );
    refused(
        "createTheme",
        json!({"main_color": "#fff", "brand_text": "B", "short_company_url": "a b"}),
    );
    ok(
        "updateTheme",
        json!({"update_details": {"brand_text": "C"}}),
    );
    refused("updateTheme", json!({"update_details": {"brand_text": 3}}));
    ok(
        "finalizeLogosForTheme",
        json!({"keys": ["k1", {"key": "k2"}]}),
    );
    refused("finalizeLogosForTheme", json!({"keys": [1]}));
    refused("finalizeLogosForTheme", json!({"key": "k1"}));
    let theme = "0d6b4a0e-8f1c-4a5e-9c38-2f7b9f0a1b2c";
    ok(
        "updateApplication",
        json!({"update_details": {"default_theme_id": theme}}),
    );
    refused("updateApplication", json!({"default_theme_id": theme}));
    refused(
        "updateApplication",
        json!({"update_details": {"default_theme_id": "not-a-uuid"}}),
    );
    assert!(
        contract
            .check_request("getRooms", Some(&json!({})))
            .is_err()
    );
    assert!(contract.check_request("createRoom", None).is_err());
}

#[test]
fn references_are_inlined_and_cycles_refused() {
    let root = json!({
        "components": {"schemas": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "string"},
            "Loop": {"properties": {"next": {"$ref": "#/components/schemas/Loop"}}},
        }},
    });
    let resolved = spec::resolve_refs(&json!({"$ref": "#/components/schemas/A"}), &root).unwrap();
    assert_eq!(resolved["properties"]["b"], json!({"type": "string"}));
    assert!(spec::resolve_refs(&json!({"$ref": "#/components/schemas/Loop"}), &root).is_err());
    assert!(spec::resolve_refs(&json!({"$ref": "#/components/schemas/None"}), &root).is_err());
    assert!(spec::resolve_refs(&json!({"$ref": "other.yaml#/A"}), &root).is_err());

    let schemas = spec::response_schemas(&spec::load_spec());
    assert_eq!(schemas.len(), 17);
    let room = schemas["getRoom"][&200].as_ref().unwrap();
    assert_eq!(room["properties"]["join_approval_level"]["type"], "string");
    assert!(!room.to_string().contains("$ref"));
}
