//! The pipeline's phases against a scripted kind and a fake Kubernetes API
//! served over HTTP: what each pass writes, calls and publishes, in order.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector;
use serde_json::{Value, json};

use super::context::Services;
use super::kind::{Change, ManagedKind, Observed, SpecView, Vanished};
use super::outcome::{Halt, Next};
use super::{Settings, pipeline};
use crate::crd::conditions::{
    READY, RECONCILING, STALLED, SYNCED, condition, find, now, set_condition,
};
use crate::crd::{MeetingRoom, MeetingRoomSpec, MeetingRoomStatus, PendingCreate};
use crate::meetings::{
    ApiError, ClientConfig, GatewayError, MeetingsClient, NoopObserver, ServiceError,
};
use crate::services::backoff::ObjectBackoff;
use crate::services::events::EventPublisher;
use crate::services::snapshot::RoomSnapshots;
use crate::services::status_cache::StatusCache;
use crate::services::{CredentialStore, SecretKey};
use crate::telemetry::Metrics;

const NAMESPACE: &str = "team";
const APPLICATION: &str = "00000000-0000-4000-8000-000000000001";

/// A remote object of the scripted kind.
#[derive(Clone, Debug, PartialEq)]
struct Remote {
    id: String,
    name: String,
}

/// What the scripted API answers, and the calls it received.
#[derive(Default)]
struct Script {
    remote: Option<Remote>,
    observe_error: Option<ApiError>,
    /// `observe` finds the object on a listing page not read yet.
    parked: bool,
    create_error: Option<ApiError>,
    lost: Option<Remote>,
    calls: Vec<&'static str>,
}

/// A kind whose Meetings API calls are scripted; everything else is the
/// real pipeline with real services.
struct Scripted {
    services: Services,
    statuses: StatusCache<MeetingRoomStatus>,
    script: Mutex<Script>,
}

impl Scripted {
    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

impl ManagedKind for Scripted {
    type Object = MeetingRoom;
    type Status = MeetingRoomStatus;
    type Remote = Remote;
    type Plan = ();
    type Request = String;
    type Update = String;
    type Extras = ();

    const KIND: &'static str = "MeetingRoom";
    const NOUN: &'static str = "room";

    fn services(&self) -> &Services {
        &self.services
    }

    fn statuses(&self) -> &StatusCache<MeetingRoomStatus> {
        &self.statuses
    }

    fn spec(room: &MeetingRoom) -> SpecView<'_> {
        SpecView {
            credentials_ref: None,
            adopt_id: room.spec.adopt_id.as_deref(),
            management_policy: room.spec.management_policy,
            wants_finalizer: false,
        }
    }

    fn observed_status(room: &MeetingRoom) -> MeetingRoomStatus {
        room.status.clone().unwrap_or_default()
    }

    async fn finalize(
        &self,
        _room: &MeetingRoom,
        _status: &mut MeetingRoomStatus,
    ) -> Result<(), Halt> {
        self.script().calls.push("finalize");
        Ok(())
    }

    fn plan(&self, _room: &MeetingRoom, _client: &MeetingsClient) -> Result<(), Halt> {
        Ok(())
    }

    async fn observe(
        &self,
        _room: &MeetingRoom,
        _client: &MeetingsClient,
        _id: &str,
        _status: &MeetingRoomStatus,
    ) -> Result<Observed<Remote>, ApiError> {
        let mut script = self.script();
        script.calls.push("observe");
        match script.observe_error.take() {
            Some(error) => Err(error),
            None if script.parked => Ok(Observed::Parked),
            None => Ok(script.remote.clone().into()),
        }
    }

    async fn adopt(&self, _client: &MeetingsClient, _id: &str) -> Result<Option<Remote>, ApiError> {
        let mut script = self.script();
        script.calls.push("adopt");
        Ok(script.remote.clone())
    }

    fn vanished(&self, _room: &MeetingRoom, _status: &mut MeetingRoomStatus, id: &str) -> Vanished {
        Vanished::Recreate(format!("{id} vanished"))
    }

    fn forget_remote(status: &mut MeetingRoomStatus) {
        status.room_id = None;
    }

    fn create_request(&self, room: &MeetingRoom, (): &()) -> Result<String, Halt> {
        Ok(room.spec.display_name.clone())
    }

    async fn recover(
        &self,
        _room: &MeetingRoom,
        _client: &MeetingsClient,
        _pending: &PendingCreate,
        _request: &String,
    ) -> Result<Option<Remote>, ApiError> {
        let mut script = self.script();
        script.calls.push("recover");
        Ok(script.lost.clone())
    }

    async fn create(&self, _client: &MeetingsClient, request: &String) -> Result<Remote, ApiError> {
        let mut script = self.script();
        script.calls.push("create");
        if let Some(error) = script.create_error.take() {
            return Err(error);
        }
        let created = Remote {
            id: "remote-1".into(),
            name: request.clone(),
        };
        script.remote = Some(created.clone());
        Ok(created)
    }

    fn remote_id(remote: &Remote) -> &str {
        &remote.id
    }

    fn describe(remote: &Remote) -> String {
        format!("room {}", remote.id)
    }

    fn diff(
        &self,
        room: &MeetingRoom,
        _status: &MeetingRoomStatus,
        (): &(),
        remote: &Remote,
    ) -> Result<Option<Change<String>>, Halt> {
        Ok((remote.name != room.spec.display_name).then(|| Change {
            update: room.spec.display_name.clone(),
            fields: vec!["displayName"],
        }))
    }

    fn may_update(_room: &MeetingRoom, _fields: &[&'static str]) -> Result<(), Halt> {
        Ok(())
    }

    async fn update(
        &self,
        _client: &MeetingsClient,
        id: &str,
        update: &String,
    ) -> Result<Remote, ApiError> {
        let mut script = self.script();
        script.calls.push("update");
        let updated = Remote {
            id: id.to_owned(),
            name: update.clone(),
        };
        script.remote = Some(updated.clone());
        Ok(updated)
    }

    async fn extras(
        &self,
        _room: &MeetingRoom,
        _client: &MeetingsClient,
        _status: &mut MeetingRoomStatus,
        _remote: &Remote,
    ) -> Result<(), Halt> {
        Ok(())
    }

    fn report(
        &self,
        room: &MeetingRoom,
        status: &mut MeetingRoomStatus,
        (): (),
        remote: &Remote,
        drift: &[&'static str],
        (): (),
    ) -> Next {
        let generation = room.metadata.generation;
        status.room_id = Some(remote.id.as_str().into());
        status.pending_create = None;
        status.observed_generation = generation;
        status.unfixable_differences = drift.iter().map(|f| f.to_string()).collect();
        for type_ in [READY, SYNCED] {
            set_condition(
                &mut status.conditions,
                condition(type_, true, "Ready", "ready", generation, now()),
            );
        }
        Next::Resync
    }
}

/// What the fake Kubernetes API received: status writes, other patches, events.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Value)>>>);

impl Received {
    fn of(&self, what: &str) -> Vec<Value> {
        let log = self.0.lock().unwrap();
        log.iter()
            .filter(|(w, _)| w == what)
            .map(|(_, body)| body.clone())
            .collect()
    }

    fn statuses(&self) -> Vec<MeetingRoomStatus> {
        self.of("status")
            .into_iter()
            .map(|body| serde_json::from_value(body["status"].clone()).unwrap())
            .collect()
    }

    fn event_reasons(&self) -> Vec<String> {
        self.of("event")
            .into_iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A PKCS#8 private key, made once per test binary.
fn private_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    })
}

fn sample_room() -> MeetingRoom {
    let spec: MeetingRoomSpec = serde_json::from_value(json!({"displayName": "Standup"})).unwrap();
    let mut room = MeetingRoom::new("standup", spec);
    room.metadata.namespace = Some(NAMESPACE.into());
    room.metadata.uid = Some("uid-1".into());
    room.metadata.generation = Some(1);
    room
}

/// Answers like the API server for what a pass touches.
async fn kubernetes(
    State(received): State<Received>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if method == Method::GET && path.contains("/secrets/") {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("credentials".into()),
                namespace: Some(NAMESPACE.into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            data: Some(
                [
                    (
                        "applicationId".to_owned(),
                        ByteString(APPLICATION.as_bytes().to_vec()),
                    ),
                    (
                        "privateKey".to_owned(),
                        ByteString(private_key().as_bytes().to_vec()),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        };
        return axum::Json(secret).into_response();
    }
    let what = if path.ends_with("/status") {
        "status"
    } else if path.contains("/events") {
        "event"
    } else {
        "patch"
    };
    received
        .0
        .lock()
        .unwrap()
        .push((what.to_owned(), body.clone()));
    if what == "event" {
        return (StatusCode::CREATED, axum::Json(body)).into_response();
    }
    axum::Json(serde_json::to_value(sample_room()).unwrap()).into_response()
}

/// The scripted kind with real services against the fake Kubernetes API.
struct World {
    kind: Arc<Scripted>,
    received: Received,
}

impl World {
    async fn start() -> Self {
        let received = Received::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(kubernetes)
            .with_state(received.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = kube::Config::new(format!("http://{address}").parse().unwrap());
        let kube = kube::Client::try_from(config).unwrap();
        let credentials = CredentialStore::new(
            kube.clone(),
            Some(SecretKey {
                namespace: NAMESPACE.into(),
                name: "credentials".into(),
            }),
            ClientConfig::default(),
            Arc::new(NoopObserver),
            Duration::from_secs(60),
        )
        .unwrap();
        let services = Services {
            kube: kube.clone(),
            credentials: Arc::new(credentials),
            snapshots: Arc::new(RoomSnapshots::default()),
            backoff: Arc::new(ObjectBackoff::new(
                Duration::from_secs(1),
                Duration::from_secs(300),
            )),
            events: Arc::new(EventPublisher::new(kube, "test")),
            settings: Settings::default(),
            metrics: Arc::new(Metrics::default()),
            themes: reflector::store().0,
            rooms: reflector::store().0,
            cycle: Arc::default(),
        };
        let kind = Arc::new(Scripted {
            services,
            statuses: StatusCache::new(Duration::from_secs(60)),
            script: Mutex::new(Script::default()),
        });
        Self { kind, received }
    }

    async fn pass(&self, room: MeetingRoom) -> Action {
        pipeline::reconcile(Arc::new(room), self.kind.clone())
            .await
            .unwrap()
    }

    fn calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.kind.script().calls)
    }

    fn last_status(&self) -> MeetingRoomStatus {
        self.received.statuses().pop().expect("a status write")
    }

    /// Lets the object's backoff run out, as time would.
    fn backoff_elapsed(&self, room: &MeetingRoom) {
        self.kind.services.backoff.reset(&super::object_key(room));
    }
}

fn with_status(status: MeetingRoomStatus) -> MeetingRoom {
    MeetingRoom {
        status: Some(status),
        ..sample_room()
    }
}

fn reason(status: &MeetingRoomStatus, type_: &str) -> String {
    find(&status.conditions, type_)
        .map(|c| c.reason.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_create_records_its_marker_first_and_a_second_pass_creates_nothing() {
    let world = World::start().await;
    world.pass(sample_room()).await;
    assert_eq!(world.calls(), ["create"]);
    let statuses = world.received.statuses();
    assert_eq!(statuses.len(), 2, "marker, then the result");
    let marker = &statuses[0];
    assert_eq!(
        marker.pending_create.as_ref().unwrap().application_id,
        APPLICATION
    );
    assert_eq!(reason(marker, READY), "Creating");
    assert_eq!(reason(marker, RECONCILING), "Creating");
    let created = &statuses[1];
    assert_eq!(created.room_id.as_deref(), Some("remote-1"));
    assert_eq!(created.application_id.as_deref(), Some(APPLICATION));
    assert!(created.pending_create.is_none());
    assert!(find(&created.conditions, RECONCILING).is_none());
    assert_eq!(world.received.event_reasons(), ["Created"]);

    world.pass(with_status(created.clone())).await;
    assert_eq!(world.calls(), ["observe"], "observed, never created again");
    assert_eq!(
        world.received.statuses().len(),
        2,
        "nothing changed, nothing written"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_recovered_not_repeated() {
    let world = World::start().await;
    world.kind.script().create_error = Some(ApiError::Timeout);
    let action = world.pass(sample_room()).await;
    assert_eq!(world.calls(), ["create"]);
    let failed = world.last_status();
    assert!(
        failed.pending_create.is_some(),
        "the create may have committed"
    );
    assert_eq!(reason(&failed, SYNCED), "ApiError");
    assert_ne!(action, Action::await_change(), "retried with backoff");

    world.kind.script().lost = Some(Remote {
        id: "remote-7".into(),
        name: "Standup".into(),
    });
    world.backoff_elapsed(&sample_room());
    world.pass(with_status(failed)).await;
    assert_eq!(world.calls(), ["recover"], "found, not created again");
    let recovered = world.last_status();
    assert_eq!(recovered.room_id.as_deref(), Some("remote-7"));
    assert!(recovered.pending_create.is_none());
    assert!(
        world
            .received
            .event_reasons()
            .contains(&"CreateRecovered".to_owned())
    );
}

#[tokio::test]
async fn a_backing_off_object_is_not_touched_until_its_delay_passes() {
    let world = World::start().await;
    world.kind.script().create_error = Some(ApiError::Timeout);
    world.pass(sample_room()).await;
    world.calls();
    let action = world.pass(with_status(world.last_status())).await;
    assert!(world.calls().is_empty(), "no API call while backing off");
    assert_ne!(action, Action::await_change());
}

#[tokio::test]
async fn a_refused_create_clears_its_marker_and_waits_for_a_spec_change() {
    let world = World::start().await;
    world.kind.script().create_error = Some(ApiError::InvalidRequest(ServiceError {
        message: "displayName too long".into(),
        ..Default::default()
    }));
    let action = world.pass(sample_room()).await;
    assert_eq!(action, Action::await_change());
    let refused = world.last_status();
    assert!(
        refused.pending_create.is_none(),
        "the API refused: nothing was made"
    );
    assert_eq!(reason(&refused, SYNCED), "Rejected");
    assert_eq!(reason(&refused, STALLED), "Rejected");
    assert_eq!(world.received.event_reasons(), ["Rejected"]);
    world.calls();

    world.backoff_elapsed(&sample_room());
    let again = world.pass(with_status(refused.clone())).await;
    assert_eq!(again, Action::await_change());
    assert!(
        world.calls().is_empty(),
        "not retried at the same generation"
    );

    let mut changed = with_status(refused);
    changed.metadata.generation = Some(2);
    world.pass(changed).await;
    assert_eq!(world.calls(), ["create"], "a new generation is tried again");
}

#[tokio::test]
async fn refused_credentials_warn_and_back_off() {
    let world = World::start().await;
    world.kind.script().create_error = Some(ApiError::Unauthorized(GatewayError {
        title: "Unauthorized".into(),
        detail: "invalid token".into(),
    }));
    let action = world.pass(sample_room()).await;
    assert_ne!(action, Action::await_change());
    let status = world.last_status();
    assert_eq!(reason(&status, SYNCED), "CredentialsInvalid");
    assert!(
        find(&status.conditions, SYNCED)
            .unwrap()
            .message
            .contains("check the credentials Secret")
    );
    assert_eq!(world.received.event_reasons(), ["CredentialsInvalid"]);
}

#[tokio::test]
async fn drift_is_corrected_once_and_told_apart_from_a_spec_change() {
    let world = World::start().await;
    world.pass(sample_room()).await;
    let ready = world.last_status();
    world.calls();
    world.kind.script().remote = Some(Remote {
        id: "remote-1".into(),
        name: "Changed by hand".into(),
    });
    world.pass(with_status(ready.clone())).await;
    assert_eq!(world.calls(), ["observe", "update"]);
    assert_eq!(
        world.received.event_reasons().last().unwrap(),
        "DriftCorrected"
    );

    let mut edited = with_status(ready);
    edited.spec.display_name = "Standup (new)".into();
    edited.metadata.generation = Some(2);
    world.pass(edited).await;
    assert_eq!(world.calls(), ["observe", "update"]);
    assert_eq!(world.received.event_reasons().last().unwrap(), "Updated");
}

#[tokio::test]
async fn an_observed_object_reports_drift_and_is_never_written_or_recreated() {
    let world = World::start().await;
    let mut room = sample_room();
    room.spec.management_policy = crate::crd::common::ManagementPolicy::ObserveOnly;
    room.status = Some(MeetingRoomStatus {
        room_id: Some("remote-1".into()),
        application_id: Some(APPLICATION.into()),
        ..Default::default()
    });
    world.kind.script().remote = Some(Remote {
        id: "remote-1".into(),
        name: "Someone else's name".into(),
    });
    world.pass(room.clone()).await;
    assert_eq!(world.calls(), ["observe"]);
    assert_eq!(world.last_status().unfixable_differences, ["displayName"]);

    world.kind.script().remote = None;
    let action = world.pass(room).await;
    assert_eq!(
        world.calls(),
        ["observe"],
        "nothing is created in ObserveOnly mode"
    );
    let gone = world.last_status();
    assert_eq!(reason(&gone, SYNCED), "RemoteNotFound");
    assert_eq!(reason(&gone, STALLED), "RemoteNotFound");
    assert_eq!(
        action,
        Action::await_change(),
        "no timer of its own: the resync cycle observes it again"
    );
}

#[tokio::test]
async fn another_applications_object_is_never_touched() {
    let world = World::start().await;
    let room = with_status(MeetingRoomStatus {
        room_id: Some("remote-1".into()),
        application_id: Some("another-application".into()),
        ..Default::default()
    });
    let action = world.pass(room).await;
    assert_eq!(action, Action::await_change());
    assert!(world.calls().is_empty());
    assert_eq!(reason(&world.last_status(), SYNCED), "ApplicationChanged");
}

#[tokio::test]
async fn a_paused_object_makes_no_api_call_and_says_why() {
    let world = World::start().await;
    let mut room = sample_room();
    room.metadata.annotations = Some(
        [(
            crate::crd::annotations::PAUSED.to_owned(),
            "true".to_owned(),
        )]
        .into(),
    );
    let action = world.pass(room).await;
    assert_eq!(action, Action::await_change());
    assert!(world.calls().is_empty());
    assert_eq!(reason(&world.last_status(), STALLED), "Paused");
}

#[tokio::test]
async fn an_outage_counts_as_failed_reconciles_by_its_class() {
    let world = World::start().await;
    world.pass(sample_room()).await;
    let ready = world.last_status();
    world.kind.script().observe_error = Some(ApiError::Server {
        status: 503,
        message: "unavailable".into(),
    });
    world.pass(with_status(ready)).await;
    let metrics = world.kind.services.metrics.render().unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("meetings_operator_reconcile_errors_total") && l.contains("ServerError")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    assert!(
        metrics
            .contains(r#"meetings_operator_reconciles_total{kind="MeetingRoom",result="error"} 1"#),
        "{metrics}"
    );
    let down = world.last_status();
    assert_eq!(reason(&down, SYNCED), "ApiError");
    assert_eq!(
        reason(&down, READY),
        "Ready",
        "the room exists: still usable"
    );
}

#[tokio::test]
async fn a_parked_pass_writes_and_counts_nothing_and_the_next_one_runs() {
    let world = World::start().await;
    world.pass(sample_room()).await;
    let ready = world.last_status();
    let writes = world.received.statuses().len();
    let reconciles = |world: &World| {
        let metrics = world.kind.services.metrics.render().unwrap();
        metrics
            .lines()
            .filter(|l| l.starts_with("meetings_operator_reconciles_total{"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let counted = reconciles(&world);
    world.calls();

    world.kind.script().parked = true;
    // A spec change would be written by any pass that ran to the end.
    let mut edited = with_status(ready.clone());
    edited.spec.display_name = "Standup (new)".into();
    edited.metadata.generation = Some(2);
    let action = world.pass(edited.clone()).await;
    assert_eq!(action, Action::await_change(), "its listing page wakes it");
    assert_eq!(world.calls(), ["observe"]);
    assert_eq!(world.received.statuses().len(), writes, "no status write");
    assert_eq!(reconciles(&world), counted, "not counted as a reconcile");

    world.kind.script().parked = false;
    world.pass(edited).await;
    assert_eq!(world.calls(), ["observe", "update"]);
    assert_eq!(world.received.statuses().len(), writes + 1);
    assert_ne!(reconciles(&world), counted);
}
