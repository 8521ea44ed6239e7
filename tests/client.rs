//! The Meetings API client over real HTTP: every operation against the in-process
//! simulator, every error class, pagination past 1,000 rooms, token refresh, retries,
//! and the rate limiter measured on the wire. A few cases the simulator cannot produce
//! (a `next` link that does not advance, unexpected statuses, recorded request headers)
//! use a small scripted HTTP server on loopback.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/rss.rs"]
mod rss;
use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::{StreamExt, TryStreamExt};
use jiff::SignedDuration;
use meetings_operator::meetings::{
    ApiError, ApiObserver, AvailableFeatures, CallbackUrls, ClientConfig, CreateRoom, CreateTheme,
    Credentials, ErrorClass, GatewayError, JoinApprovalLevel, LogoType, LogoUploadTarget,
    MeetingsClient, Outcome, PageQuery, RateLimit, RecordingOptions, RecordingStatus, RetryPolicy,
    Room, RoomScope, RoomType, RoomUpdate, ThemeUpdate,
};
use meetings_simulator::{
    AppCredentials, EmbeddedShape, Exchange, FaultKind, FaultSpec, RateLimit as ServerRateLimit,
    RunningSimulator, Simulator,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Helpers

/// A callback target on loopback where nothing listens: deliveries fail fast and stay local.
const CALLBACK: &str = "http://127.0.0.1:9/callbacks";

/// No client-side rate limit, quick retries.
fn config(base_url: String) -> ClientConfig {
    ClientConfig {
        base_url,
        request_timeout: Duration::from_secs(10),
        rate_limit: RateLimit {
            per_second: 0.0,
            burst: 1,
        },
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(5),
        },
        ..ClientConfig::default()
    }
}

fn credentials(app: &AppCredentials) -> Credentials {
    Credentials::new(&app.application_id, app.private_key_pem.as_bytes()).unwrap()
}

fn client_with(config: ClientConfig, app: &AppCredentials) -> MeetingsClient {
    MeetingsClient::new(config, credentials(app)).unwrap()
}

struct Harness {
    sim: RunningSimulator,
    app: AppCredentials,
    client: MeetingsClient,
}

impl Harness {
    async fn start() -> Self {
        let sim = Simulator::builder().start().await.unwrap();
        let app = sim.default_application().unwrap();
        let client = client_with(config(sim.base_url()), &app);
        Self { sim, app, client }
    }

    /// Another client of the same application.
    fn client(&self, change: impl FnOnce(&mut ClientConfig)) -> MeetingsClient {
        let mut config = config(self.sim.base_url());
        change(&mut config);
        client_with(config, &self.app)
    }

    fn count(&self, operation: &str) -> u64 {
        self.sim.counters().operation(operation)
    }

    fn count_status(&self, operation: &str, status: u16) -> u64 {
        self.sim.counters().operation_status(operation, status)
    }

    fn exchanges_of(&self, operation: &str) -> Vec<Exchange> {
        self.sim
            .exchanges()
            .into_iter()
            .filter(|e| e.operation_id.as_deref() == Some(operation))
            .collect()
    }

    fn rooms_created(&self) -> usize {
        self.sim.rooms(&self.app.application_id).len()
    }
}

/// Records every attempt the client makes.
#[derive(Default)]
struct Attempts(Mutex<Vec<(&'static str, Outcome)>>);

impl ApiObserver for Attempts {
    fn request_finished(&self, operation: &'static str, outcome: Outcome, _: Duration) {
        self.0.lock().unwrap().push((operation, outcome));
    }
    fn rate_limit_waited(&self, _: Duration) {}
}

impl Attempts {
    fn outcomes(&self) -> Vec<Outcome> {
        self.0.lock().unwrap().iter().map(|(_, o)| *o).collect()
    }
}

#[track_caller]
fn expect_class<T: std::fmt::Debug>(result: Result<T, ApiError>, class: ErrorClass) -> ApiError {
    match result {
        Err(error) if error.class() == class => error,
        other => panic!("expected {class:?}, got {other:?}"),
    }
}

fn missing() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn instant(name: &str) -> CreateRoom {
    CreateRoom {
        display_name: name.into(),
        ..CreateRoom::default()
    }
}

fn long_term(sim: &RunningSimulator, name: &str) -> CreateRoom {
    CreateRoom {
        display_name: name.into(),
        room_type: RoomType::LongTerm,
        expires_at: Some(sim.now() + SignedDuration::from_hours(48)),
        ..CreateRoom::default()
    }
}

fn theme(color: &str, text: &str) -> CreateTheme {
    CreateTheme {
        main_color: color.into(),
        brand_text: text.into(),
        ..CreateTheme::default()
    }
}

/// An RGBA PNG; `transparent` makes its first pixel fully transparent.
fn png(width: u32, height: u32, transparent: bool) -> Vec<u8> {
    let mut data = vec![200u8; (width * height * 4) as usize];
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

fn target_for(targets: &[LogoUploadTarget], kind: LogoType) -> &LogoUploadTarget {
    targets
        .iter()
        .find(|t| t.logo_type() == Some(kind))
        .unwrap()
}

/// Held by the tests that load the machine or measure time closely, so that they do not
/// run at the same time.
static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn span_secs(exchanges: &[Exchange]) -> f64 {
    let first = exchanges.first().unwrap().at;
    let last = exchanges.last().unwrap().at;
    last.duration_since(first).as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// A scripted HTTP server on loopback, for answers the simulator never gives.

#[derive(Clone, Debug)]
struct Seen {
    uri: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Seen {
    fn query(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&format!("http://x{}", self.uri)).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

type Script = Arc<dyn Fn(usize, &Seen) -> (u16, String) + Send + Sync>;
type FakeState = (Arc<Mutex<Vec<Seen>>>, Script);

struct FakeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Serves `script(n, request)` (n counts from 1) as a JSON answer.
    async fn start(script: impl Fn(usize, &Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
        async fn handle(
            State((seen, script)): State<FakeState>,
            request: axum::extract::Request,
        ) -> axum::response::Response {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 22)
                .await
                .unwrap_or_default();
            let header = |name| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let record = Seen {
                uri: parts.uri.to_string(),
                authorization: header(header::AUTHORIZATION),
                content_type: header(header::CONTENT_TYPE),
                body: body.to_vec(),
            };
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(record.clone());
                seen.len()
            };
            let (status, body) = script(n, &record);
            (
                StatusCode::from_u16(status).unwrap(),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state: FakeState = (seen.clone(), Arc::new(script));
        let app = axum::Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, seen, task }
    }

    fn base_url(&self) -> String {
        format!("http://{}/v1/meetings", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A full page of `size` rooms whose `next` link carries `next_start`, without `total_items`.
fn fake_page(first: usize, size: usize, next_start: &str) -> String {
    let rooms: Vec<Value> = (first..first + size)
        .map(|i| json!({"id": format!("room-{i}"), "display_name": "r", "meeting_code": "123456789"}))
        .collect();
    json!({
        "page_size": size,
        "_embedded": {"rooms": rooms},
        "_links": {"next": {"href": format!("fake.example/meetings/rooms?page_size={size}&start_id={next_start}")}},
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------
// Every operation against the simulator

#[tokio::test]
async fn rooms_are_created_read_updated_and_listed() {
    let h = Harness::start().await;
    let client = &h.client;
    let short = client
        .create_theme(&CreateTheme {
            short_company_url: Some("acme-rooms".into()),
            ..theme("#123456", "Acme")
        })
        .await
        .unwrap();

    let plain = client
        .create_room(&CreateRoom {
            metadata: Some("{\"team\":\"core\"}".into()),
            recording_options: Some(RecordingOptions {
                auto_record: Some(false),
                record_only_owner: Some(true),
            }),
            join_approval_level: Some(JoinApprovalLevel::AfterOwnerOnly),
            available_features: Some(AvailableFeatures {
                is_chat_available: Some(false),
                ..AvailableFeatures::default()
            }),
            ..instant("Standup")
        })
        .await
        .unwrap();
    assert_eq!(plain.display_name, "Standup");
    assert_eq!(plain.room_type, RoomType::Instant);
    assert_eq!(plain.metadata.as_deref(), Some("{\"team\":\"core\"}"));
    assert!(
        (9..=10).contains(&plain.meeting_code.len())
            && plain.meeting_code.bytes().all(|b| b.is_ascii_digit())
    );
    assert_eq!(plain.is_available, Some(true));
    assert_eq!(
        plain
            .expires_at
            .unwrap()
            .duration_since(plain.created_at.unwrap()),
        SignedDuration::from_mins(10)
    );
    assert_eq!(
        plain.recording_options.as_ref().unwrap().record_only_owner,
        Some(true)
    );
    assert_eq!(
        plain.join_approval_level,
        Some(JoinApprovalLevel::AfterOwnerOnly)
    );
    let features = plain.available_features.clone().unwrap();
    assert_eq!(features.is_chat_available, Some(false));
    assert_eq!(features.is_recording_available, Some(true));
    assert_eq!(
        plain.guest_url().unwrap(),
        format!("https://meetings.vonage.com/{}", plain.meeting_code)
    );
    assert!(plain.host_url().unwrap().contains("participant_token="));

    let expires = h.sim.now() + SignedDuration::from_hours(48);
    let themed = client
        .create_room(&CreateRoom {
            theme_id: Some(short.theme_id.clone()),
            expire_after_use: Some(true),
            callback_urls: Some(CallbackUrls {
                rooms_callback_url: Some(CALLBACK.into()),
                ..CallbackUrls::default()
            }),
            expires_at: Some(expires),
            ..long_term(&h.sim, "Weekly")
        })
        .await
        .unwrap();
    assert_eq!(themed.room_type, RoomType::LongTerm);
    assert_eq!(themed.theme_id.as_deref(), Some(short.theme_id.as_str()));
    assert_eq!(themed.expire_after_use, Some(true));
    assert_eq!(
        themed.expires_at.unwrap().as_millisecond(),
        expires.as_millisecond()
    );
    assert_eq!(
        themed
            .callback_urls
            .as_ref()
            .unwrap()
            .rooms_callback_url
            .as_deref(),
        Some(CALLBACK)
    );
    assert_eq!(
        themed.guest_url().unwrap(),
        format!(
            "https://meetings.vonage.com/acme-rooms/{}",
            themed.meeting_code
        )
    );

    // A read returns the same room; only the host link (a fresh credential) differs.
    let read = client.get_room(&themed.id).await.unwrap();
    assert_ne!(read.host_url(), themed.host_url());
    let mut comparable = read.clone();
    comparable.links.host_url = themed.links.host_url.clone();
    assert_eq!(comparable, themed);

    // Updates send only what is set.
    let later = h.sim.now() + SignedDuration::from_hours(96);
    let updated = client
        .update_room(
            &themed.id,
            &RoomUpdate {
                expires_at: Some(later),
                expire_after_use: Some(false),
                theme_id: Some(None),
                join_approval_level: Some(JoinApprovalLevel::ExplicitApproval),
                callback_urls: Some(CallbackUrls {
                    sessions_callback_url: Some(CALLBACK.into()),
                    ..CallbackUrls::default()
                }),
                available_features: Some(AvailableFeatures {
                    is_whiteboard_available: Some(false),
                    ..AvailableFeatures::default()
                }),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.expires_at.unwrap().as_millisecond(),
        later.as_millisecond()
    );
    assert_eq!(updated.expire_after_use, Some(false));
    assert_eq!(updated.theme_id, None);
    assert_eq!(
        updated.join_approval_level,
        Some(JoinApprovalLevel::ExplicitApproval)
    );
    let urls = updated.callback_urls.clone().unwrap();
    assert_eq!(urls.rooms_callback_url.as_deref(), Some(CALLBACK));
    assert_eq!(urls.sessions_callback_url.as_deref(), Some(CALLBACK));
    assert_eq!(
        updated.available_features.unwrap().is_whiteboard_available,
        Some(false)
    );
    assert_eq!(updated.display_name, "Weekly");
    let rethemed = client
        .update_room(
            &themed.id,
            &RoomUpdate {
                theme_id: Some(Some(short.theme_id.clone())),
                ..RoomUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rethemed.theme_id.as_deref(), Some(short.theme_id.as_str()));
    assert_eq!(rethemed.join_approval_level, updated.join_approval_level);

    // One page at a time, following `next`, then the stream.
    let first = client
        .rooms_page(
            &RoomScope::All,
            &PageQuery {
                page_size: Some(1),
                ..PageQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.page_size, Some(1));
    assert_eq!(first.total_items, Some(2));
    assert_eq!(first.rooms[0].id, plain.id);
    let next = PageQuery::start_id_from_link(&first.links.next.unwrap().href).unwrap();
    let second = client
        .rooms_page(
            &RoomScope::All,
            &PageQuery {
                start_id: Some(next),
                page_size: Some(1),
                ..PageQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.rooms[0].id, themed.id);
    let all: Vec<Room> = client.rooms(RoomScope::All).try_collect().await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [plain.id.as_str(), themed.id.as_str()]
    );
}

#[tokio::test]
async fn recordings_follow_the_meeting_lifecycle() {
    let h = Harness::start().await;
    let client = &h.client;
    let room = client
        .create_room(&long_term(&h.sim, "Recorded"))
        .await
        .unwrap();
    let session = h.sim.start_session(room.id.parse().unwrap()).unwrap();
    h.sim.join_session(&session.id, "Host", true).unwrap();
    let started = h.sim.start_recording(&session.id).unwrap();
    let id = started.id.to_string();

    let recording = client.get_recording(&id).await.unwrap();
    assert_eq!(recording.id, id);
    assert_eq!(recording.session_id.as_deref(), Some(session.id.as_str()));
    assert_eq!(recording.status, Some(RecordingStatus::Started));
    assert!(recording.started_at.is_some() && recording.ended_at.is_none());
    assert!(recording.links.is_none());

    // Not uploaded yet: deleting is refused with 403.
    let refused = expect_class(
        client.delete_recording(&id).await,
        ErrorClass::QuotaExceeded,
    );
    assert_eq!(
        refused.service_error().unwrap().message,
        "Can only delete recordings in 'uploaded' status"
    );
    h.sim.stop_recording(started.id).unwrap();
    let stopped = client.get_recording(&id).await.unwrap();
    assert_eq!(stopped.status, Some(RecordingStatus::Stopped));
    assert!(stopped.ended_at.is_some());
    expect_class(
        client.delete_recording(&id).await,
        ErrorClass::QuotaExceeded,
    );

    h.sim.upload_recording(started.id).unwrap();
    let uploaded = client.get_recording(&id).await.unwrap();
    assert_eq!(uploaded.status, Some(RecordingStatus::Uploaded));
    let url = uploaded.links.unwrap().url.unwrap().href;
    let download = reqwest::get(&url).await.unwrap();
    assert_eq!(download.status(), 200);

    let listed = client.session_recordings(&session.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].status, Some(RecordingStatus::Uploaded));

    client.delete_recording(&id).await.unwrap();
    expect_class(client.get_recording(&id).await, ErrorClass::NotFound);
    assert!(
        client
            .session_recordings(&session.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.count_status("deleteRecording", 403), 2);
    assert_eq!(h.count_status("deleteRecording", 204), 1);
}

#[tokio::test]
async fn dial_in_numbers_are_listed() {
    let h = Harness::start().await;
    let numbers = h.client.dial_in_numbers().await.unwrap();
    assert_eq!(numbers.len(), 4);
    let us = numbers.iter().find(|n| n.number == "17323338801").unwrap();
    assert_eq!(us.locale.as_deref(), Some("en-US"));
    assert_eq!(us.display_name.as_deref(), Some("United States"));
    assert!(
        numbers
            .iter()
            .all(|n| n.number.bytes().all(|b| b.is_ascii_digit()))
    );
}

#[tokio::test]
async fn themes_are_managed_and_deleted_with_and_without_force() {
    let h = Harness::start().await;
    let client = &h.client;
    let app = h.app.application_id.as_str();

    // No themes: `[]` by the spec, `{}` as the live service answered.
    assert!(client.themes().await.unwrap().is_empty());
    h.sim.update_behavior(|b| b.empty_themes_as_object = true);
    assert!(client.themes().await.unwrap().is_empty());
    assert_eq!(
        h.exchanges_of("getThemes")
            .iter()
            .map(|e| e.body.clone().unwrap())
            .collect::<Vec<_>>(),
        [json!([]), json!({})]
    );

    let main = client
        .create_theme(&CreateTheme {
            theme_name: Some("Main".into()),
            short_company_url: Some("acme-themes".into()),
            ..theme("#12f64e", "Acme")
        })
        .await
        .unwrap();
    assert_eq!(main.theme_name.as_deref(), Some("Main"));
    assert_eq!(main.main_color.as_deref(), Some("#12f64e"));
    assert_eq!(main.brand_text.as_deref(), Some("Acme"));
    assert_eq!(main.short_company_url.as_deref(), Some("acme-themes"));
    assert_eq!(main.application_id.as_deref(), Some(app));
    assert_eq!(main.domain.as_deref(), Some("VCP"));
    assert!(main.brand_image_white.is_none() && main.brand_image_white_url.is_none());
    let generated = client.create_theme(&theme("#fff", "Other")).await.unwrap();
    assert!(
        generated
            .theme_name
            .as_deref()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(client.get_theme(&main.theme_id).await.unwrap(), main);

    let updated = client
        .update_theme(
            &main.theme_id,
            &ThemeUpdate {
                theme_name: Some("Main 2".into()),
                main_color: Some("#abc".into()),
                brand_text: Some("Acme 2".into()),
                short_company_url: Some("acme-themes-2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.theme_name.as_deref(), Some("Main 2"));
    assert_eq!(updated.main_color.as_deref(), Some("#abc"));
    assert_eq!(updated.brand_text.as_deref(), Some("Acme 2"));
    assert_eq!(updated.short_company_url.as_deref(), Some("acme-themes-2"));
    let partial = client
        .update_theme(
            &main.theme_id,
            &ThemeUpdate {
                brand_text: Some("Acme 3".into()),
                ..ThemeUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(partial.theme_name.as_deref(), Some("Main 2"));
    let listed = client.themes().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| t.theme_id.as_str())
            .collect::<Vec<_>>(),
        [main.theme_id.as_str(), generated.theme_id.as_str()]
    );

    // Rooms by theme.
    let mut themed = Vec::new();
    for n in 0..3 {
        let room = client
            .create_room(&CreateRoom {
                theme_id: Some(main.theme_id.clone()),
                ..instant(&format!("Themed {n}"))
            })
            .await
            .unwrap();
        themed.push(room.id);
    }
    let unthemed = client.create_room(&instant("Plain")).await.unwrap();
    let by_theme: Vec<String> = client
        .rooms(RoomScope::Theme(main.theme_id.clone()))
        .map_ok(|r| r.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_theme, themed);
    let none: Vec<Room> = client
        .rooms(RoomScope::Theme(generated.theme_id.clone()))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());

    // Used by rooms: refused without force, deleted with it; the rooms lose the theme.
    let refused = expect_class(
        client.delete_theme(&main.theme_id, false).await,
        ErrorClass::InvalidRequest,
    );
    let body = refused.service_error().unwrap();
    assert_eq!(body.message, "could not delete theme");
    assert_eq!(body.name, "BadRequestError");
    assert_eq!(
        body.errors,
        [json!(format!("Theme {} is used by 3 rooms", main.theme_id))]
    );
    client.delete_theme(&main.theme_id, true).await.unwrap();
    expect_class(client.get_theme(&main.theme_id).await, ErrorClass::NotFound);
    for id in &themed {
        assert_eq!(client.get_room(id).await.unwrap().theme_id, None);
    }
    assert_eq!(client.get_room(&unthemed.id).await.unwrap().theme_id, None);

    // The application default: refused without force, deleted with it.
    let application = client.set_default_theme(&generated.theme_id).await.unwrap();
    assert_eq!(application.application_id.as_deref(), Some(app));
    assert_eq!(
        application.default_theme_id.as_deref(),
        Some(generated.theme_id.as_str())
    );
    let refused = expect_class(
        client.delete_theme(&generated.theme_id, false).await,
        ErrorClass::InvalidRequest,
    );
    assert_eq!(
        refused.service_error().unwrap().errors,
        [json!(format!(
            "Theme {} is the default theme of application {app}",
            generated.theme_id
        ))]
    );
    client
        .delete_theme(&generated.theme_id, true)
        .await
        .unwrap();
    assert_eq!(h.sim.application(app).unwrap().default_theme_id, None);

    // An unused theme goes without force.
    let spare = client.create_theme(&theme("#000", "Spare")).await.unwrap();
    client.delete_theme(&spare.theme_id, false).await.unwrap();
    assert!(client.themes().await.unwrap().is_empty());

    // An unknown default theme is a 400.
    let unknown = missing();
    let refused = expect_class(
        client.set_default_theme(&unknown).await,
        ErrorClass::InvalidRequest,
    );
    assert_eq!(
        refused.service_error().unwrap().message,
        format!("Failed to update application because theme id {unknown} not found")
    );
}

#[tokio::test]
async fn logos_are_uploaded_without_authorization_and_finalized() {
    let h = Harness::start().await;
    let client = &h.client;
    let theme = client.create_theme(&theme("#fff", "Logos")).await.unwrap();

    let targets = client.logo_upload_targets().await.unwrap();
    assert_eq!(targets.len(), 3);
    let kinds: HashSet<_> = targets.iter().filter_map(|t| t.logo_type()).collect();
    assert_eq!(
        kinds,
        HashSet::from([LogoType::White, LogoType::Colored, LogoType::Favicon])
    );
    for target in &targets {
        assert!(
            target
                .url
                .starts_with(&format!("http://{}/_storage/", h.sim.addr()))
        );
        assert!(
            target
                .key()
                .unwrap()
                .starts_with("auto-expiring-temp/logos/")
        );
    }

    // The storage refuses any Authorization header, so these succeeding proves none is sent.
    let images = [
        (LogoType::White, png(120, 40, true)),
        (LogoType::Colored, png(300, 90, true)),
        (LogoType::Favicon, png(32, 32, true)),
    ];
    let mut keys = Vec::new();
    for (kind, image) in &images {
        let target = target_for(&targets, *kind);
        client
            .upload_logo(target, image.clone().into())
            .await
            .unwrap();
        let key = target.key().unwrap();
        assert_eq!(&h.sim.storage_object(key).unwrap().bytes, image);
        keys.push(key.to_owned());
    }
    assert_eq!(h.count_status("storageUpload", 204), 3);
    client.finalize_logos(&theme.theme_id, &keys).await.unwrap();
    let finalized = client.get_theme(&theme.theme_id).await.unwrap();
    for (key, url, kind) in [
        (
            &finalized.brand_image_white,
            &finalized.brand_image_white_url,
            "white",
        ),
        (
            &finalized.brand_image_colored,
            &finalized.brand_image_colored_url,
            "colored",
        ),
        (
            &finalized.branded_favicon,
            &finalized.branded_favicon_url,
            "favicon",
        ),
    ] {
        let key = key.as_deref().unwrap();
        assert!(key.starts_with(&format!("logos/{kind}/")), "{key}");
        assert!(url.as_deref().unwrap().ends_with(key));
    }
    let white = reqwest::get(finalized.brand_image_white_url.unwrap())
        .await
        .unwrap();
    assert_eq!(white.bytes().await.unwrap().to_vec(), images[0].1);

    // Invalid images: finalize answers 400 with an error per key and changes nothing.
    let targets = client.logo_upload_targets().await.unwrap();
    let bad = [
        (LogoType::White, png(50, 50, false), "transparent_bg"),
        (LogoType::Colored, png(400, 40, true), "dimensions"),
        (LogoType::Favicon, b"GIF89a not a png".to_vec(), "type"),
    ];
    let mut bad_keys = Vec::new();
    let mut expected = BTreeSet::new();
    for (kind, image, property) in bad {
        let target = target_for(&targets, kind);
        client.upload_logo(target, image.into()).await.unwrap();
        let key = target.key().unwrap().to_owned();
        expected.insert(
            json!({"logoKey": key, "code": "invalid_logo_properties", "invalidProperty": property})
                .to_string(),
        );
        bad_keys.push(key);
    }
    let refused = expect_class(
        client.finalize_logos(&theme.theme_id, &bad_keys).await,
        ErrorClass::InvalidRequest,
    );
    let body = refused.service_error().unwrap();
    assert_eq!(body.message, "could not finalize logos");
    assert_eq!(body.status, Some(400));
    let got: BTreeSet<String> = body.errors.iter().map(Value::to_string).collect();
    assert_eq!(got, expected);
    let unchanged = client.get_theme(&theme.theme_id).await.unwrap();
    assert_eq!(unchanged.brand_image_white, finalized.brand_image_white);

    // A key nobody uploaded.
    let unknown = "auto-expiring-temp/logos/white/never-uploaded".to_owned();
    let refused = expect_class(
        client
            .finalize_logos(&theme.theme_id, std::slice::from_ref(&unknown))
            .await,
        ErrorClass::InvalidRequest,
    );
    assert_eq!(
        refused.service_error().unwrap().errors,
        [json!({"logoKey": unknown, "code": "key_not_found"})]
    );
    expect_class(
        client.finalize_logos(&missing(), &keys).await,
        ErrorClass::NotFound,
    );
}

#[tokio::test]
async fn logo_upload_sends_every_field_then_the_file_without_authorization() {
    let storage = FakeServer::start(|_, _| (204, String::new())).await;
    let h = Harness::start().await;
    let mut target = h.client.logo_upload_targets().await.unwrap().remove(0);
    target.url = format!("http://{}/bucket", storage.addr);
    let image = png(20, 20, true);
    h.client
        .upload_logo(&target, image.clone().into())
        .await
        .unwrap();
    let seen = storage.seen();
    assert_eq!(seen.len(), 1);
    let upload = &seen[0];
    assert_eq!(upload.authorization, None);
    assert!(
        upload
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let body = String::from_utf8_lossy(&upload.body);
    let file_at = body.find("name=\"file\"").unwrap();
    for (name, value) in &target.fields {
        let at = body
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("field {name} not sent"));
        assert!(at < file_at, "{name} must come before the file");
        assert!(body.contains(value.as_str().unwrap()));
    }
    let png_at = upload
        .body
        .windows(8)
        .position(|w| w == &image[..8])
        .unwrap();
    assert_eq!(&upload.body[png_at..png_at + image.len()], &image[..]);
}

// ---------------------------------------------------------------------------------------
// Every error class

#[tokio::test]
async fn unauthorized_after_revocation_rotation_or_with_a_wrong_key() {
    let h = Harness::start().await;
    h.client.dial_in_numbers().await.unwrap();

    // A key of another application, presented under this application's id.
    let other = h.sim.add_application().await.unwrap();
    let wrong = MeetingsClient::new(
        config(h.sim.base_url()),
        Credentials::new(&h.app.application_id, other.private_key_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let error = expect_class(wrong.dial_in_numbers().await, ErrorClass::Unauthorized);
    let ApiError::Unauthorized(GatewayError { title, detail }) = &error else {
        unreachable!()
    };
    assert_eq!(title, "Unauthorized");
    assert_eq!(detail, "You did not provide correct credentials");
    assert!(!error.is_retryable() && !error.may_have_committed());
    // One re-mint, then the 401 surfaces.
    assert_eq!(h.count_status("getDialInNumbers", 401), 2);

    // After a rotation the old key is refused and the new one works.
    let rotated = h.sim.rotate_key(&h.app.application_id).await.unwrap();
    expect_class(h.client.dial_in_numbers().await, ErrorClass::Unauthorized);
    let fresh = client_with(config(h.sim.base_url()), &rotated);
    fresh.dial_in_numbers().await.unwrap();

    // Revoked keys: every request is refused.
    h.sim.revoke_keys(&h.app.application_id).unwrap();
    expect_class(fresh.themes().await, ErrorClass::Unauthorized);
    assert_eq!(h.count_status("getThemes", 401), 2);
}

#[tokio::test]
async fn both_gateway_error_bodies_are_parsed() {
    // Without any header the simulator answers "Missing Auth"; the client always sends
    // one, so read that body directly, then have a scripted server answer it to the client.
    let sim = Simulator::builder().start().await.unwrap();
    let answer = reqwest::get(format!("{}/rooms", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let missing_auth: GatewayError = answer.json().await.unwrap();
    assert_eq!(
        missing_auth,
        GatewayError {
            title: "Missing Auth".into(),
            detail: "Auth header is required".into()
        }
    );

    let body = json!({"title": "Missing Auth", "detail": "Auth header is required"}).to_string();
    let server = FakeServer::start(move |_, _| (401, body.clone())).await;
    let app = sim.default_application().unwrap();
    let client = client_with(config(server.base_url()), &app);
    let error = expect_class(client.themes().await, ErrorClass::Unauthorized);
    let ApiError::Unauthorized(parsed) = &error else {
        unreachable!()
    };
    assert_eq!(parsed, &missing_auth);
    assert_eq!(
        error.to_string(),
        "unauthorized: Missing Auth: Auth header is required"
    );
    // Re-minted once, then surfaced: two requests, two different tokens.
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0].authorization, seen[1].authorization);
}

#[tokio::test]
async fn not_found_carries_the_service_message() {
    let h = Harness::start().await;
    let client = &h.client;
    let id = missing();
    let cases: Vec<(&str, Result<(), ApiError>, String)> = vec![
        (
            "getRoom",
            client.get_room(&id).await.map(drop),
            "room not found".to_owned(),
        ),
        (
            "getThemeById",
            client.get_theme(&id).await.map(drop),
            format!("could not find theme {id}"),
        ),
        (
            "getRecording",
            client.get_recording(&id).await.map(drop),
            format!("Recording {id} was not found"),
        ),
        (
            "getSessionRecordings",
            client.session_recordings(&id).await.map(drop),
            format!("Failed to find session recordings by id: {id}"),
        ),
        (
            "deleteTheme",
            client.delete_theme(&id, true).await,
            format!("could not find theme {id}"),
        ),
        (
            "getRoomsByThemeId",
            client
                .rooms_page(&RoomScope::Theme(id.clone()), &PageQuery::default())
                .await
                .map(drop),
            format!("could not find theme {id}"),
        ),
    ];
    for (operation, result, message) in cases {
        let error = expect_class(result, ErrorClass::NotFound);
        let body = error.service_error().unwrap();
        assert_eq!(body.status, Some(404), "{operation}");
        assert_eq!(body.name, "NotFoundError", "{operation}");
        assert_eq!(body.message, message, "{operation}");
        assert!(!error.is_retryable());
        assert_eq!(h.count(operation), 1, "{operation} was repeated");
    }
}

#[tokio::test]
async fn conflicts_on_theme_name_and_short_url() {
    let h = Harness::start().await;
    let named = CreateTheme {
        theme_name: Some("Brand".into()),
        short_company_url: Some("brand-url".into()),
        ..theme("#fff", "Brand")
    };
    let first = h.client.create_theme(&named).await.unwrap();
    let same_name = CreateTheme {
        short_company_url: None,
        ..named.clone()
    };
    let error = expect_class(
        h.client.create_theme(&same_name).await,
        ErrorClass::Conflict,
    );
    let body = error.service_error().unwrap();
    assert_eq!(
        (body.status, body.name.as_str(), body.message.as_str()),
        (
            Some(409),
            "ConflictError",
            "theme_name already exists in application"
        )
    );
    // Short URLs are unique across the whole service, not just the application.
    let other_app = h.sim.add_application().await.unwrap();
    let other = client_with(config(h.sim.base_url()), &other_app);
    let error = expect_class(other.create_theme(&named).await, ErrorClass::Conflict);
    assert_eq!(
        error.service_error().unwrap().message,
        "short_company_url already exists"
    );
    let second = h
        .client
        .create_theme(&theme("#000", "Second"))
        .await
        .unwrap();
    let rename = ThemeUpdate {
        theme_name: Some("Brand".into()),
        ..ThemeUpdate::default()
    };
    expect_class(
        h.client.update_theme(&second.theme_id, &rename).await,
        ErrorClass::Conflict,
    );
    let take_url = ThemeUpdate {
        short_company_url: first.short_company_url.clone(),
        ..ThemeUpdate::default()
    };
    expect_class(
        h.client.update_theme(&second.theme_id, &take_url).await,
        ErrorClass::Conflict,
    );
    assert_eq!(h.count_status("createTheme", 409), 2);
    assert_eq!(h.count("createTheme"), 3 + 1);
}

#[tokio::test]
async fn quota_exceeded_for_themes_and_rooms() {
    let h = Harness::start().await;
    h.sim.update_behavior(|b| {
        b.theme_limit = Some(2);
        b.room_limit = Some(2);
    });
    for n in 0..2 {
        h.client
            .create_theme(&theme("#fff", &format!("T{n}")))
            .await
            .unwrap();
        h.client
            .create_room(&instant(&format!("R{n}")))
            .await
            .unwrap();
    }
    let error = expect_class(
        h.client.create_theme(&theme("#fff", "T2")).await,
        ErrorClass::QuotaExceeded,
    );
    assert_eq!(
        error.service_error().unwrap().message,
        "exceeded maximum theme limit"
    );
    let error = expect_class(
        h.client.create_room(&instant("R2")).await,
        ErrorClass::QuotaExceeded,
    );
    let body = error.service_error().unwrap();
    assert_eq!(body.status, Some(403));
    assert_eq!(body.message, "Maximum number of rooms for owner exceeded");
    assert!(!error.is_retryable());
    assert_eq!(h.count_status("createRoom", 403), 1);
    assert_eq!(h.count_status("createTheme", 403), 1);
}

#[tokio::test]
async fn invalid_requests_carry_the_service_message_and_errors() {
    let h = Harness::start().await;
    let client = &h.client;
    let room = client.create_room(&instant("Instant")).await.unwrap();
    let update = RoomUpdate {
        expire_after_use: Some(true),
        ..RoomUpdate::default()
    };
    let error = expect_class(
        client.update_room(&room.id, &update).await,
        ErrorClass::InvalidRequest,
    );
    let body = error.service_error().unwrap();
    assert_eq!(body.name, "BadRequestError");
    assert_eq!(
        body.message,
        format!(
            "The room with id: {} could not be updated because of its type: temporary",
            room.id
        )
    );
    assert!(error.to_string().contains(&body.message));

    let long = client
        .create_room(&long_term(&h.sim, "Long"))
        .await
        .unwrap();
    let error = expect_class(
        client.update_room(&long.id, &RoomUpdate::default()).await,
        ErrorClass::InvalidRequest,
    );
    let body = error.service_error().unwrap();
    assert_eq!(body.name, "InputValidationError");
    assert_eq!(body.message, "\"update_details\" must have at least 1 key");
    assert_eq!(body.errors, [json!(body.message)]);

    let no_expiry = CreateRoom {
        expires_at: None,
        ..long_term(&h.sim, "No expiry")
    };
    let error = expect_class(
        client.create_room(&no_expiry).await,
        ErrorClass::InvalidRequest,
    );
    let body = error.service_error().unwrap();
    assert_eq!(body.name, "InputValidationError");
    assert!(body.message.contains("expires_at"), "{}", body.message);
    assert_eq!(body.errors.first(), Some(&json!(body.message)));

    let error = expect_class(
        client
            .update_theme(&missing(), &ThemeUpdate::default())
            .await,
        ErrorClass::NotFound,
    );
    assert!(error.service_error().is_some());
    assert_eq!(h.count_status("updateRoom", 400), 2);
}

#[tokio::test]
async fn rate_limited_answers_carry_retry_after() {
    let h = Harness::start().await;
    h.sim.faults().add(FaultSpec::new(
        "getRoom",
        FaultKind::RateLimited {
            retry_after_secs: 7,
        },
    ));
    let once = h.client(|c| c.retry.max_attempts = 1);
    let error = expect_class(once.get_room(&missing()).await, ErrorClass::RateLimited);
    assert!(matches!(
        error,
        ApiError::RateLimited {
            retry_after: Some(d)
        } if d == Duration::from_secs(7)
    ));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(error.is_retryable() && !error.may_have_committed());
    assert_eq!(h.count_status("getRoom", 429), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_surface() {
    let h = Harness::start().await;
    h.sim.faults().add(FaultSpec::new(
        "getThemes",
        FaultKind::ServerError { status: Some(503) },
    ));
    let error = expect_class(h.client.themes().await, ErrorClass::Server);
    assert!(matches!(error, ApiError::Server { status: 503, .. }));
    assert!(error.may_have_committed());
    assert_eq!(h.count_status("getThemes", 503), 4, "max_attempts is 4");

    h.sim.faults().add(FaultSpec::new(
        "getDialInNumbers",
        FaultKind::ServerError { status: Some(500) },
    ));
    let once = h.client(|c| c.retry.max_attempts = 1);
    let error = expect_class(once.dial_in_numbers().await, ErrorClass::Server);
    let ApiError::Server { status, message } = &error else {
        unreachable!()
    };
    assert_eq!((*status, message.as_str()), (500, "Internal server error"));
}

#[tokio::test]
async fn timeouts_surface_as_timeout() {
    let h = Harness::start().await;
    h.sim
        .faults()
        .add(FaultSpec::new("getRoom", FaultKind::Timeout));
    let client = h.client(|c| {
        c.request_timeout = Duration::from_millis(300);
        c.retry.max_attempts = 2;
    });
    let started = Instant::now();
    let error = expect_class(client.get_room(&missing()).await, ErrorClass::Transport);
    assert!(matches!(error, ApiError::Timeout), "{error:?}");
    assert!(error.may_have_committed() && error.is_retryable());
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(h.count("getRoom"), 2, "an idempotent read is retried");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_that_was_never_sent() {
    // A port bound but not listening refuses connections, and no other
    // socket (such as the simulator's) can take it while the test runs.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let sim = Simulator::builder().start().await.unwrap();
    let app = sim.default_application().unwrap();
    let attempts = Arc::new(Attempts::default());
    let mut config = config(format!("http://127.0.0.1:{port}/v1/meetings"));
    config.retry.max_attempts = 3;
    let client = MeetingsClient::builder(config, credentials(&app))
        .observer(attempts.clone())
        .build()
        .unwrap();
    let error = expect_class(client.get_room(&missing()).await, ErrorClass::Transport);
    let ApiError::Transport { maybe_sent, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(!maybe_sent);
    assert!(!error.may_have_committed() && error.is_retryable());
    // Never sent, so even a create is safe to repeat.
    let error = expect_class(
        client.create_room(&instant("x")).await,
        ErrorClass::Transport,
    );
    assert!(!error.may_have_committed());
    assert_eq!(attempts.outcomes(), vec![Outcome::Transport; 6]);
    drop(reserved);
}

#[tokio::test]
async fn storage_refusals_are_storage_errors() {
    let h = Harness::start().await;
    let targets = h.client.logo_upload_targets().await.unwrap();
    let mut tampered = targets[0].clone();
    tampered.fields.insert(
        "key".into(),
        json!("auto-expiring-temp/logos/white/someone-elses"),
    );
    let error = expect_class(
        h.client
            .upload_logo(&tampered, png(10, 10, true).into())
            .await,
        ErrorClass::InvalidRequest,
    );
    assert!(
        matches!(&error, ApiError::Storage { status: 403, code } if code == "SignatureDoesNotMatch"),
        "{error:?}"
    );
    let mut unsigned = targets[1].clone();
    unsigned.fields.remove("X-Amz-Signature");
    let error = h
        .client
        .upload_logo(&unsigned, png(10, 10, true).into())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ApiError::Storage { status: 403, code } if code == "AccessDenied"),
        "{error:?}"
    );
    assert_eq!(h.count("storageUpload"), 2, "refusals are not retried");
}

#[tokio::test]
async fn unexpected_answers_are_protocol_errors() {
    let server = FakeServer::start(|_, seen| {
        if seen.uri.contains("/rooms/") {
            (200, "{\"rooms\": \"not a room\"".into())
        } else {
            (418, "{\"status\":418,\"message\":\"teapot\"}".into())
        }
    })
    .await;
    let sim = Simulator::builder().start().await.unwrap();
    let client = client_with(
        config(server.base_url()),
        &sim.default_application().unwrap(),
    );
    let error = expect_class(client.get_room("r").await, ErrorClass::Protocol);
    assert!(matches!(
        error,
        ApiError::Decode {
            operation: "getRoom",
            ..
        }
    ));
    let error = expect_class(client.themes().await, ErrorClass::Protocol);
    assert!(
        matches!(&error, ApiError::UnexpectedStatus { status: 418, message } if message == "teapot"),
        "{error:?}"
    );
    assert_eq!(server.seen().len(), 2, "neither is retried");
}

// ---------------------------------------------------------------------------------------
// Pagination

/// Lists every room of the application with a client of `page_size`; returns the ids
/// and how many list requests it took.
async fn list_all(h: &Harness, page_size: u32, scope: RoomScope) -> (Vec<String>, u64) {
    let client = h.client(|c| c.page_size = page_size);
    let operation = match scope {
        RoomScope::All => "getRooms",
        RoomScope::Theme(_) => "getRoomsByThemeId",
    };
    let before = h.count(operation);
    let ids = tokio::time::timeout(
        Duration::from_secs(60),
        client.rooms(scope).map_ok(|r| r.id).try_collect::<Vec<_>>(),
    )
    .await
    .expect("the listing ends")
    .unwrap();
    (ids, h.count(operation) - before)
}

#[track_caller]
fn assert_each_once(listed: &[String], expected: &BTreeSet<String>) {
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "a room was listed twice");
    assert_eq!(&unique, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_over_a_thousand_rooms_in_both_embedded_shapes() {
    let _serial = TIMING.lock().await;
    const ROOMS: usize = 1050;
    const THEMED: usize = 25;
    let h = Harness::start().await;
    let theme = h
        .client
        .create_theme(&theme("#fff", "Paged"))
        .await
        .unwrap();
    let started = Instant::now();
    futures::stream::iter(0..ROOMS)
        .map(|n| {
            let room = CreateRoom {
                theme_id: (n % (ROOMS / THEMED) == 0).then(|| theme.theme_id.clone()),
                ..instant(&format!("Room {n}"))
            };
            let client = h.client.clone();
            async move { client.create_room(&room).await }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    println!("created {ROOMS} rooms in {:?}", started.elapsed());
    let rooms = h.sim.rooms(&h.app.application_id);
    assert_eq!(rooms.len(), ROOMS);
    let all: BTreeSet<String> = rooms.iter().map(|r| r.id.to_string()).collect();
    let themed: BTreeSet<String> = rooms
        .iter()
        .filter(|r| r.theme_id.is_some())
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(themed.len(), THEMED);

    // The stop rules (src/meetings/pagination.rs): a short page ends the listing, and so
    // does reaching `total_items`, so an exact multiple needs no trailing empty page.
    let cases = [
        (100, 11), // 10 full pages, then a short one of 50
        (50, 21),  // exactly 21 full pages; total_items stops it
        (1000, 2), // 1000, then 50
        (7, 150),  // exactly 150 full pages
    ];
    for shape in [EmbeddedShape::Spec, EmbeddedShape::LiveFlatArray] {
        h.sim.update_behavior(|b| {
            b.embedded_shape = shape;
            b.page_size_as_string = shape == EmbeddedShape::LiveFlatArray;
        });
        for (page_size, calls) in cases {
            let (listed, requests) = list_all(&h, page_size, RoomScope::All).await;
            assert_each_once(&listed, &all);
            assert_eq!(requests, calls, "{shape:?}, page size {page_size}");
            assert_eq!(requests, (ROOMS as u64).div_ceil(u64::from(page_size)));
        }
        let (listed, requests) = list_all(&h, 10, RoomScope::Theme(theme.theme_id.clone())).await;
        assert_each_once(&listed, &themed);
        assert_eq!(requests, 3, "{shape:?}: 10, 10, then 5");
    }
    // The shapes were really produced.
    let pages = h.exchanges_of("getRooms");
    assert!(
        pages
            .iter()
            .any(|e| e.body.as_ref().unwrap()["_embedded"]["rooms"].is_array())
    );
    assert!(pages.iter().any(|e| {
        let body = e.body.as_ref().unwrap();
        body["_embedded"].is_array() && body["page_size"].is_string()
    }));
}

/// Which `start_id` a scripted page links to, given the request's.
type NextStart = fn(Option<&str>) -> &'static str;

#[tokio::test]
async fn listing_stops_when_next_does_not_advance() {
    let sim = Simulator::builder().start().await.unwrap();
    let app = sim.default_application().unwrap();
    // Each script answers full pages of 3 rooms without `total_items`; after 50 requests
    // it answers an empty page so that a looping client still ends.
    let scenarios: [(&str, NextStart, usize); 4] = [
        ("next repeats a numeric start", |_| "5", 2),
        (
            "next goes backwards",
            |start| if start.is_none() { "100" } else { "50" },
            2,
        ),
        ("next repeats a non-numeric start", |_| "abc", 2),
        (
            "next cycles between non-numeric starts",
            |start| match start {
                Some("a") => "b",
                _ => "a",
            },
            3,
        ),
    ];
    for (what, next, expected) in scenarios {
        let server = FakeServer::start(move |n, seen| {
            let start = seen.query("start_id");
            if n > 50 {
                return (200, fake_page(0, 0, "0"));
            }
            (200, fake_page(n * 3, 3, next(start.as_deref())))
        })
        .await;
        let mut config = config(server.base_url());
        config.page_size = 3;
        let client = client_with(config, &app);
        let listed: Vec<Room> = tokio::time::timeout(
            Duration::from_secs(10),
            client.rooms(RoomScope::All).try_collect(),
        )
        .await
        .expect("the listing ends")
        .unwrap();
        let requests = server.seen().len();
        assert_eq!(requests, expected, "{what}: {requests} requests");
        assert_eq!(listed.len(), expected * 3, "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// Tokens

fn claims(authorization: &str) -> Value {
    let token = authorization.strip_prefix("Bearer ").unwrap();
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

#[tokio::test]
async fn token_is_cached_and_reminted_near_expiry() {
    let server = FakeServer::start(|_, _| (200, "[]".into())).await;
    let sim = Simulator::builder().start().await.unwrap();
    let app = sim.default_application().unwrap();
    let mut config = config(server.base_url());
    // Lifetime 2 s: re-minted within 200 ms of expiry.
    config.token_ttl = Duration::from_secs(2);
    let client = client_with(config, &app);

    client.dial_in_numbers().await.unwrap();
    client.dial_in_numbers().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1900)).await;
    client.dial_in_numbers().await.unwrap();
    client.dial_in_numbers().await.unwrap();

    let tokens: Vec<String> = server
        .seen()
        .into_iter()
        .map(|s| s.authorization.unwrap())
        .collect();
    assert_eq!(tokens[0], tokens[1], "cached while fresh");
    assert_ne!(tokens[1], tokens[2], "re-minted near expiry");
    assert_eq!(tokens[2], tokens[3], "the new token is cached");
    for token in [&tokens[0], &tokens[2]] {
        let claims = claims(token);
        assert_eq!(claims["application_id"], app.application_id.as_str());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            2
        );
    }
    assert_ne!(claims(&tokens[0])["jti"], claims(&tokens[2])["jti"]);
}

/// Waits until the wall clock is `at` (0..1) into a second.
async fn align_to_subsecond(at: f64) {
    let nanos = jiff::Timestamp::now().subsec_nanosecond();
    let now = f64::from(nanos) / 1e9;
    let wait = (at - now).rem_euclid(1.0);
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
}

#[tokio::test]
async fn token_is_reminted_before_the_service_considers_it_expired() {
    let h = Harness::start().await;
    // `iat` and `exp` are whole seconds: minted 0.9 s into a second, a 3 s token expires
    // for the service 2.1 s later. The client must not send it after that.
    let client = h.client(|c| c.token_ttl = Duration::from_secs(3));
    align_to_subsecond(0.9).await;
    client.dial_in_numbers().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2400)).await;
    client.dial_in_numbers().await.unwrap();
    assert_eq!(h.count_status("getDialInNumbers", 200), 2);
    assert_eq!(
        h.count_status("getDialInNumbers", 401),
        0,
        "an expired token was sent"
    );
}

#[tokio::test]
async fn token_is_reminted_once_after_a_401() {
    let h = Harness::start().await;
    h.sim
        .faults()
        .add(FaultSpec::new("getThemes", FaultKind::Unauthorized).times(1));
    h.client.themes().await.unwrap();
    assert_eq!(h.count("getThemes"), 2);
    assert_eq!(h.count_status("getThemes", 401), 1);
    assert_eq!(h.count_status("getThemes", 200), 1);

    // A second 401 in a row surfaces, whatever the retry budget.
    h.sim
        .faults()
        .add(FaultSpec::new("getDialInNumbers", FaultKind::Unauthorized).times(2));
    let error = expect_class(h.client.dial_in_numbers().await, ErrorClass::Unauthorized);
    assert!(matches!(error, ApiError::Unauthorized(_)));
    assert_eq!(h.count("getDialInNumbers"), 2);
    // The client is not stuck: the next call mints again and succeeds.
    h.client.dial_in_numbers().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Retries and backoff

#[tokio::test]
async fn idempotent_requests_are_retried_until_they_succeed() {
    let h = Harness::start().await;
    let room = h.client.create_room(&instant("Retried")).await.unwrap();
    let faults = h.sim.faults();
    faults.add(FaultSpec::new("getRoom", FaultKind::ServerError { status: Some(503) }).times(2));
    faults.add(FaultSpec::new("getRoom", FaultKind::DropBeforeCommit).times(1));
    let got = h.client.get_room(&room.id).await.unwrap();
    assert_eq!(got.id, room.id);
    assert_eq!(h.count("getRoom"), 4);
    assert_eq!(h.count_status("getRoom", 503), 2);
    assert_eq!(h.count_status("getRoom", 200), 1);
    assert_eq!(h.sim.counters().dropped_connections, 1);

    // PATCH and DELETE are idempotent too.
    faults.add(FaultSpec::new("updateTheme", FaultKind::CommitThenBadGateway).times(1));
    let theme = h.client.create_theme(&theme("#fff", "T")).await.unwrap();
    let update = ThemeUpdate {
        brand_text: Some("T2".into()),
        ..ThemeUpdate::default()
    };
    let updated = h
        .client
        .update_theme(&theme.theme_id, &update)
        .await
        .unwrap();
    assert_eq!(updated.brand_text.as_deref(), Some("T2"));
    assert_eq!(h.count("updateTheme"), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    let h = Harness::start().await;
    h.sim.faults().add(
        FaultSpec::new(
            "getDialInNumbers",
            FaultKind::RateLimited {
                retry_after_secs: 1,
            },
        )
        .times(1),
    );
    let started = Instant::now();
    h.client.dial_in_numbers().await.unwrap();
    let elapsed = started.elapsed();
    let tries = h.exchanges_of("getDialInNumbers");
    assert_eq!(
        tries.iter().map(|e| e.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let gap = span_secs(&tries);
    println!("Retry-After 1 s: retried after {gap:.3} s (client saw {elapsed:?})");
    assert!(gap >= 0.99, "retried {gap} s after the 429");
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3));

    // A hint beyond `max_delay` waits only `max_delay`.
    h.sim.faults().add(
        FaultSpec::new(
            "getThemes",
            FaultKind::RateLimited {
                retry_after_secs: 30,
            },
        )
        .times(1),
    );
    let capped = h.client(|c| c.retry.max_delay = Duration::from_millis(300));
    let started = Instant::now();
    capped.themes().await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn creates_are_never_repeated_once_they_may_have_committed() {
    let h = Harness::start().await;
    let client = h.client(|c| {
        c.retry.max_attempts = 5;
        c.request_timeout = Duration::from_millis(500);
    });
    let cases = [
        (FaultKind::CommitThenBadGateway, 1),
        (FaultKind::CommitThenDrop, 1),
        (FaultKind::ServerError { status: Some(503) }, 0),
        (FaultKind::DropBeforeCommit, 0),
        (FaultKind::Timeout, 0),
    ];
    for (kind, committed) in cases {
        h.sim.faults().clear();
        h.sim.reset_counters();
        let rooms_before = h.rooms_created();
        h.sim
            .faults()
            .add(FaultSpec::new("createRoom", kind).times(1));
        let error = client
            .create_room(&instant("Exactly once"))
            .await
            .unwrap_err();
        assert!(error.may_have_committed(), "{kind:?}: {error:?}");
        assert_eq!(h.count("createRoom"), 1, "{kind:?} was repeated");
        assert_eq!(h.rooms_created() - rooms_before, committed, "{kind:?}");
        match kind {
            FaultKind::CommitThenBadGateway => {
                assert!(matches!(error, ApiError::Server { status: 502, .. }))
            }
            FaultKind::Timeout => assert!(matches!(error, ApiError::Timeout)),
            FaultKind::ServerError { .. } => {
                assert!(matches!(error, ApiError::Server { status: 503, .. }))
            }
            _ => assert!(
                matches!(
                    error,
                    ApiError::Transport {
                        maybe_sent: true,
                        ..
                    }
                ),
                "{kind:?}: {error:?}"
            ),
        }
    }
    // The same holds for theme creates.
    h.sim.faults().clear();
    h.sim
        .faults()
        .add(FaultSpec::new("createTheme", FaultKind::CommitThenBadGateway).times(1));
    let error = client
        .create_theme(&CreateTheme {
            theme_name: Some("Once".into()),
            ..theme("#fff", "Once")
        })
        .await
        .unwrap_err();
    assert!(error.may_have_committed());
    assert_eq!(h.count("createTheme"), 1);
    assert_eq!(h.sim.themes(&h.app.application_id).len(), 1);
}

#[tokio::test]
async fn creates_are_retried_when_refused() {
    let h = Harness::start().await;
    h.sim.faults().add(
        FaultSpec::new(
            "createRoom",
            FaultKind::RateLimited {
                retry_after_secs: 1,
            },
        )
        .times(2),
    );
    let started = Instant::now();
    let room = h
        .client
        .create_room(&instant("Refused first"))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(h.count_status("createRoom", 429), 2);
    assert_eq!(h.count_status("createRoom", 201), 1);
    assert_eq!(h.rooms_created(), 1);
    assert_eq!(
        h.sim.rooms(&h.app.application_id)[0].id.to_string(),
        room.id
    );
}

#[tokio::test]
async fn max_attempts_is_respected() {
    let h = Harness::start().await;
    h.sim.faults().add(FaultSpec::new(
        "getDialInNumbers",
        FaultKind::ServerError { status: Some(502) },
    ));
    for max_attempts in [1, 2, 5] {
        h.sim.reset_counters();
        let attempts = Arc::new(Attempts::default());
        let mut config = config(h.sim.base_url());
        config.retry.max_attempts = max_attempts;
        config.retry.base_delay = Duration::from_millis(1);
        let client = MeetingsClient::builder(config, credentials(&h.app))
            .observer(attempts.clone())
            .build()
            .unwrap();
        expect_class(client.dial_in_numbers().await, ErrorClass::Server);
        assert_eq!(h.count("getDialInNumbers"), u64::from(max_attempts));
        assert_eq!(
            attempts.outcomes(),
            vec![Outcome::Status(502); max_attempts as usize]
        );
    }
}

// ---------------------------------------------------------------------------------------
// The rate limiter, measured on the wire

const RATE: f64 = 20.0;
const REQUESTS: usize = 60;

/// Fires `REQUESTS` concurrent reads through `client`; returns the exchanges the
/// simulator logged for them, in the order it answered. One read first mints the token
/// and opens a connection, so that neither delays the first measured request.
async fn burst_of_reads(h: &Harness, client: &MeetingsClient) -> (Vec<Exchange>, Duration) {
    client.dial_in_numbers().await.unwrap();
    h.sim.clear_exchanges();
    h.sim.reset_counters();
    let started = Instant::now();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.dial_in_numbers().await })
        })
        .collect();
    for task in tasks {
        let _ = task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let mut exchanges = h.exchanges_of("getDialInNumbers");
    exchanges.sort_by_key(|e| e.at);
    (exchanges, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiter_holds_its_rate_over_http() {
    let _serial = TIMING.lock().await;
    let h = Harness::start().await;
    let limited = |per_second: f64| {
        h.client(move |c| {
            c.rate_limit = RateLimit {
                per_second,
                burst: 1,
            }
        })
    };

    // Client alone: 60 requests, burst 1, so 59 intervals at 20/s.
    let (exchanges, elapsed) = burst_of_reads(&h, &limited(RATE)).await;
    assert_eq!(exchanges.len(), REQUESTS);
    let span = span_secs(&exchanges);
    let achieved = (REQUESTS - 1) as f64 / span;
    println!(
        "client limit {RATE}/s, burst 1: {REQUESTS} requests over {span:.3} s on the server \
         ({elapsed:?} on the client) = {achieved:.2}/s ({:.3}x)",
        achieved / RATE
    );
    assert!(
        (0.9 * RATE..=1.05 * RATE).contains(&achieved),
        "achieved {achieved:.2}/s"
    );

    // The server limits at the same rate (burst 2 absorbs arrival jitter): no 429 at all.
    h.sim.faults().set_rate_limit(Some(ServerRateLimit {
        per_second: RATE,
        burst: Some(2),
        retry_after_secs: None,
    }));
    let (exchanges, _) = burst_of_reads(&h, &limited(RATE)).await;
    let refused = h.sim.counters().by_status.get(&429).copied().unwrap_or(0);
    let achieved = (REQUESTS - 1) as f64 / span_secs(&exchanges);
    println!("same limit on the server: {refused} answers 429, achieved {achieved:.2}/s");
    assert_eq!(refused, 0);
    assert_eq!(h.count_status("getDialInNumbers", 200), REQUESTS as u64);

    // Control: a client 50% faster than the server's limit is refused.
    h.sim.faults().set_rate_limit(Some(ServerRateLimit {
        per_second: RATE,
        burst: Some(2),
        retry_after_secs: None,
    }));
    let faster = h.client(|c| {
        c.rate_limit = RateLimit {
            per_second: RATE * 1.5,
            burst: 1,
        };
        c.retry.max_attempts = 1;
    });
    burst_of_reads(&h, &faster).await;
    let refused = h.count_status("getDialInNumbers", 429);
    println!(
        "client at {}/s against the server's {RATE}/s: {refused} answers 429",
        RATE * 1.5
    );
    assert!(refused > 0);
}

// ---------------------------------------------------------------------------------------
// Secrets stay out of debug output

#[tokio::test]
async fn debug_output_never_contains_the_private_key() {
    let h = Harness::start().await;
    let pem = &h.app.private_key_pem;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let room = h.client.create_room(&instant("Debug")).await.unwrap();
    let host_token = room
        .host_url()
        .unwrap()
        .split("participant_token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let printed = [
        format!("{:?}", h.client),
        format!("{:#?}", h.client),
        format!("{:?}", h.client.credentials()),
        format!("{:?}", credentials(&h.app)),
        format!("{:?}", Credentials::new("app", pem.as_bytes())),
        format!("{room:?}"),
    ];
    for text in &printed {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        for chunk in body.as_bytes().chunks(32) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(!text.contains(chunk), "key material in {text}");
        }
        assert!(!text.contains(&host_token), "host token in {text}");
    }
    assert!(printed[0].contains(&h.app.application_id));
}

// ---------------------------------------------------------------------------------------
// Malformed and oversized 200 answers

mod malformed_answers {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::rss::RssSampler;
    use meetings_operator::meetings::client::MAX_RESPONSE_BYTES;
    use meetings_simulator::Malformation;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    use super::*;

    /// Every operation the client has, by the simulator's operation id: all
    /// the simulator serves but the logo download, which only browsers use.
    /// An operation the simulator gains fails `Fixture::call` until the
    /// client and this test cover it.
    fn operations() -> Vec<&'static str> {
        meetings_simulator::OPERATION_IDS
            .into_iter()
            .filter(|op| *op != "storageDownload")
            .collect()
    }

    /// Operations whose answer body the client does not use (it still reads it, up to the cap).
    const BODYLESS: [&str; 4] = [
        "deleteRecording",
        "deleteTheme",
        "finalizeLogosForTheme",
        "storageUpload",
    ];

    /// A simulator with one object of each kind to call the operations on.
    struct Fixture {
        h: Harness,
        room: String,
        long_term: String,
        theme: String,
        target: LogoUploadTarget,
        names: AtomicUsize,
    }

    impl Fixture {
        async fn start() -> Self {
            let h = Harness::start().await;
            let room = h.client.create_room(&instant("Fuzzed")).await.unwrap().id;
            let long_term = h
                .client
                .create_room(&long_term(&h.sim, "Fuzzed long"))
                .await
                .unwrap()
                .id;
            let theme = h
                .client
                .create_theme(&theme("#123456", "Fuzzed"))
                .await
                .unwrap()
                .theme_id;
            let targets = h.client.logo_upload_targets().await.unwrap();
            let target = target_for(&targets, LogoType::Favicon).clone();
            Self {
                h,
                room,
                long_term,
                theme,
                target,
                names: AtomicUsize::new(0),
            }
        }

        /// Calls `operation`, keeping only whether it succeeded.
        async fn call(&self, operation: &str) -> Result<(), ApiError> {
            let client = &self.h.client;
            let name = || format!("Fuzzed {}", self.names.fetch_add(1, Ordering::Relaxed));
            match operation {
                "getRooms" => client
                    .rooms_page(&RoomScope::All, &PageQuery::default())
                    .await
                    .map(drop),
                "getRoomsByThemeId" => client
                    .rooms_page(&RoomScope::Theme(self.theme.clone()), &PageQuery::default())
                    .await
                    .map(drop),
                "createRoom" => client.create_room(&instant(&name())).await.map(drop),
                "getRoom" => client.get_room(&self.room).await.map(drop),
                "updateRoom" => {
                    let update = RoomUpdate {
                        expire_after_use: Some(false),
                        ..RoomUpdate::default()
                    };
                    client.update_room(&self.long_term, &update).await.map(drop)
                }
                "getRecording" => client.get_recording(&missing()).await.map(drop),
                "deleteRecording" => client.delete_recording(&missing()).await,
                "getSessionRecordings" => client.session_recordings(&missing()).await.map(drop),
                "getDialInNumbers" => client.dial_in_numbers().await.map(drop),
                "getThemes" => client.themes().await.map(drop),
                "createTheme" => {
                    let mut new = theme("#654321", "Another");
                    new.theme_name = Some(name());
                    client.create_theme(&new).await.map(drop)
                }
                "getThemeById" => client.get_theme(&self.theme).await.map(drop),
                "updateTheme" => {
                    let update = ThemeUpdate {
                        brand_text: Some(name()),
                        ..ThemeUpdate::default()
                    };
                    client.update_theme(&self.theme, &update).await.map(drop)
                }
                "deleteTheme" => client.delete_theme(&missing(), false).await,
                "getUploadUrlsForTheme" => client.logo_upload_targets().await.map(drop),
                "finalizeLogosForTheme" => client.finalize_logos(&self.theme, &[]).await,
                "updateApplication" => client.set_default_theme(&self.theme).await.map(drop),
                "storageUpload" => {
                    client
                        .upload_logo(&self.target, png(32, 32, true).into())
                        .await
                }
                other => panic!("no call for {other}"),
            }
        }
    }

    /// What an answer amounts to: success or the error's class.
    fn kind(result: &Result<(), ApiError>) -> Result<(), ErrorClass> {
        result.as_ref().map(|_| ()).map_err(ApiError::class)
    }

    fn fault() -> impl Strategy<Value = FaultKind> {
        prop_oneof![
            prop::option::of(prop::sample::select(Malformation::ALL.to_vec()))
                .prop_map(|shape| FaultKind::MalformedBody { shape }),
            (MAX_RESPONSE_BYTES as u64 + 1..4 * MAX_RESPONSE_BYTES as u64)
                .prop_map(|bytes| FaultKind::OversizedBody { bytes }),
            (1u64..(1 << 20)).prop_map(|bytes| FaultKind::OversizedBody { bytes }),
        ]
    }

    #[test]
    fn malformed_and_oversized_answers_are_protocol_errors_for_every_operation() {
        let cases: u32 = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // `tokio::time::timeout` below is built outside `block_on`.
        let _entered = rt.enter();
        let f = rt.block_on(Fixture::start());
        // What each operation answers without faults; it must answer the same afterwards.
        let mut baseline = std::collections::BTreeMap::new();
        for operation in operations() {
            let result = rt.block_on(f.call(operation));
            baseline.insert(operation, kind(&result));
        }
        println!("baseline: {baseline:?}");
        let control = reqwest::Client::new();
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let seen = Mutex::new(std::collections::BTreeMap::<String, u32>::new());
        let strategy = (prop::sample::select(operations()), fault(), any::<bool>());
        let result = runner.run(&strategy, |(operation, fault, over_http)| {
            let spec = FaultSpec::new(operation, fault).times(1);
            let before = f.h.count(operation);
            if over_http {
                let status = rt
                    .block_on(
                        control
                            .post(format!("{}/faults", f.h.sim.control_url()))
                            .json(&spec)
                            .send(),
                    )
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                    .status();
                prop_assert!(status.is_success(), "POST /_sim/faults: {status}");
            } else {
                f.h.sim.faults().add(spec);
            }
            let started = Instant::now();
            let result = rt
                .block_on(tokio::time::timeout(
                    Duration::from_secs(15),
                    f.call(operation),
                ))
                .map_err(|_| TestCaseError::fail(format!("{operation} with {fault:?} hung")))?;
            let took = started.elapsed();
            prop_assert_eq!(
                f.h.count(operation) - before,
                1,
                "{} with {:?} was repeated",
                operation,
                fault
            );
            let oversized = matches!(fault, FaultKind::OversizedBody { bytes } if bytes > MAX_RESPONSE_BYTES as u64);
            match &result {
                Err(ApiError::Decode {
                    operation: reported,
                    message,
                }) => {
                    prop_assert_eq!(*reported, operation);
                    prop_assert!(
                        !BODYLESS.contains(&operation) || oversized,
                        "{operation} does not read its body, yet: {message}"
                    );
                    prop_assert_eq!(
                        message.contains("larger than"),
                        oversized,
                        "{} with {:?}: {}",
                        operation,
                        fault,
                        message
                    );
                }
                Ok(()) => prop_assert!(
                    BODYLESS.contains(&operation) && !oversized,
                    "{operation} took a {fault:?} answer"
                ),
                Err(other) => {
                    return Err(TestCaseError::fail(format!(
                        "{operation} with {fault:?}: {other:?}"
                    )));
                }
            }
            if let Err(error) = &result {
                prop_assert_eq!(error.class(), ErrorClass::Protocol);
                prop_assert!(!error.is_retryable());
            }
            let label = match &result {
                Ok(()) => "ok".to_owned(),
                Err(e) if oversized => format!("{:?} (cut off)", e.class()),
                Err(e) => format!("{:?}", e.class()),
            };
            *seen.lock().unwrap().entry(label).or_default() += 1;
            // The fault fired once; the next call is answered normally.
            let after = rt.block_on(f.call(operation));
            prop_assert_eq!(
                kind(&after),
                baseline[operation],
                "{} after {:?}: {:?}",
                operation,
                fault,
                after
            );
            prop_assert!(took < Duration::from_secs(12), "{operation} took {took:?}");
            Ok(())
        });
        if let Err(error) = result {
            panic!("{error}");
        }
        println!(
            "client fuzz: {cases} faulted calls over {} operations: {:?}",
            operations().len(),
            seen.lock().unwrap()
        );
        assert!(
            f.h.sim
                .faults()
                .view()
                .rules
                .iter()
                .all(|r| r.remaining == Some(0))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversized_answers_are_cut_off_at_the_cap_and_memory_stays_bounded() {
        const CALLS: usize = 4;
        const OFFERED: u64 = 256 << 20;
        let f = Fixture::start().await;
        let id = f.h.sim.faults().add(FaultSpec::new(
            "getRoom",
            FaultKind::OversizedBody { bytes: OFFERED },
        ));
        let sampler = RssSampler::start();
        let started = Instant::now();
        let results = futures::future::join_all((0..CALLS).map(|_| f.call("getRoom"))).await;
        let took = started.elapsed();
        let rss = sampler.stop();
        println!(
            "{CALLS} getRoom answers of {} MiB at once, cut at {} MiB, in {took:?}: \
             RSS before {} MiB, peak {} MiB (+{} MiB), after {} MiB",
            OFFERED >> 20,
            MAX_RESPONSE_BYTES >> 20,
            rss.before >> 10,
            rss.peak >> 10,
            rss.growth() >> 10,
            rss.after >> 10,
        );
        for result in &results {
            assert!(
                matches!(result, Err(ApiError::Decode { operation: "getRoom", message }) if message.contains("larger than")),
                "{result:?}"
            );
        }
        assert_eq!(f.h.count("getRoom"), CALLS as u64, "never repeated");
        // Each call holds at most the cap (4 x 16 MiB, plus other tests running
        // alongside); reading whole answers would need 1 GiB.
        assert!(
            rss.growth() < 256 * 1024,
            "RSS grew by {} MiB",
            rss.growth() >> 10
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(f.h.sim.faults().remove(id));
        assert_eq!(f.h.client.get_room(&f.room).await.unwrap().id, f.room);
    }
}
