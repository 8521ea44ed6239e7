//! `MeetingRoom`s as a [`ManagedKind`]: rooms are observed through the shared
//! listing, created exactly once (a lost create is recognised by what the
//! service stores for the request, see [`lost_create`]), updated in their
//! mutable fields, expired on deletion, and their host URL kept in a Secret.

mod cleanup;
mod host_url;
pub mod lost_create;
mod report;
pub mod resync;
pub mod sync;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::context::Services;
use super::kind::{Change, ManagedKind, Observed, SpecView, Vanished};
use super::outcome::{Failure, Halt, Next};
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{READY, is_true};
use crate::crd::reasons::condition as reason;
use crate::crd::room::RoomCallbackUrls;
use crate::crd::{
    MeetingRoom, MeetingRoomStatus, MeetingTheme, PendingCreate, RoomDeletionPolicy, RoomKind,
};
use crate::meetings::{ApiError, CreateRoom, MeetingsClient, Room, RoomUpdate};
use crate::services::name_index::NameIndex;
use crate::services::snapshot::{Freshness, Listed};
use crate::services::status_cache::StatusCache;
use lost_create::LostCreate;

/// The room controller's state: the shared services and what only rooms need.
pub struct Rooms {
    /// Services shared with the theme controller.
    pub services: Services,
    /// Room statuses written but not yet seen through the watch (shared
    /// with the watch, which drops each once it shows it).
    pub statuses: Arc<StatusCache<MeetingRoomStatus>>,
    /// The operator's callback URLs, for rooms with `spec.operatorCallbacks`.
    pub callback_urls: Option<RoomCallbackUrls>,
    /// Names of the host-URL Secrets seen through their watch.
    pub host_url_secrets: NameIndex,
    /// What each room's last pass saw, for the periodic listing.
    pub seen: resync::Seen,
    /// The room controller's trigger stream (`reconcile_on`): rooms the
    /// listing hands over, and rooms whose listing page has been read.
    pub wakeups: UnboundedSender<ObjectRef<MeetingRoom>>,
}

impl Rooms {
    /// Has the room controller reconcile `room`.
    pub fn wake(&self, room: ObjectRef<MeetingRoom>) {
        self.waker(room)();
    }

    /// What has the room controller reconcile `room` when called.
    fn waker(&self, room: ObjectRef<MeetingRoom>) -> impl FnOnce() + Send + 'static {
        let wakeups = self.wakeups.clone();
        move || {
            // Only fails once the controller has stopped.
            let _ = wakeups.unbounded_send(room);
        }
    }
}

impl ManagedKind for Rooms {
    type Object = MeetingRoom;
    type Status = MeetingRoomStatus;
    type Remote = Room;
    /// The id of the theme the spec resolves to.
    type Plan = Option<String>;
    type Request = CreateRoom;
    type Update = RoomUpdate;
    type Extras = ();

    const KIND: &'static str = crate::telemetry::KIND_ROOM;
    const NOUN: &'static str = "room";

    fn services(&self) -> &Services {
        &self.services
    }

    fn statuses(&self) -> &StatusCache<MeetingRoomStatus> {
        &self.statuses
    }

    fn spec(room: &MeetingRoom) -> SpecView<'_> {
        let managed = room.spec.management_policy == ManagementPolicy::Managed;
        SpecView {
            credentials_ref: room.spec.credentials_ref.as_deref(),
            adopt_id: room.spec.adopt_id.as_deref(),
            management_policy: room.spec.management_policy,
            wants_finalizer: managed && room.spec.deletion_policy == RoomDeletionPolicy::Expire,
        }
    }

    fn observed_status(room: &MeetingRoom) -> MeetingRoomStatus {
        // `live` belongs to the callback receiver: never read or written here.
        let mut status = room.status.clone().unwrap_or_default();
        status.live = None;
        status
    }

    async fn finalize(
        &self,
        room: &MeetingRoom,
        status: &mut MeetingRoomStatus,
    ) -> Result<(), Halt> {
        cleanup::expire(self, room, status).await
    }

    fn plan(&self, room: &MeetingRoom, client: &MeetingsClient) -> Result<Option<String>, Halt> {
        resolve_theme(self, room, client.application_id()).map_err(Halt::from)
    }

    async fn observe(
        &self,
        room: &MeetingRoom,
        client: &MeetingsClient,
        room_id: &str,
        _status: &MeetingRoomStatus,
    ) -> Result<Observed<Room>, ApiError> {
        let freshness = Freshness {
            max_age: self.services.settings.resync,
            not_before: None,
        };
        let snapshots = &self.services.snapshots;
        let wake = self.waker(ObjectRef::from(room));
        match snapshots.room(client, room_id, freshness, wake).await? {
            Listed::Room(listed) => return Ok(Observed::Found((*listed).clone())),
            Listed::Parked => return Ok(Observed::Parked),
            Listed::Absent => {}
        }
        match fetch(self, client, room_id).await? {
            Some(fetched) => Ok(Observed::Found(fetched)),
            None => {
                tracing::info!(room = %room.name_any(), room_id, "remote room vanished");
                Ok(Observed::Gone)
            }
        }
    }

    async fn adopt(
        &self,
        client: &MeetingsClient,
        room_id: &str,
    ) -> Result<Option<Room>, ApiError> {
        fetch(self, client, room_id).await
    }

    fn vanished(
        &self,
        room: &MeetingRoom,
        status: &mut MeetingRoomStatus,
        room_id: &str,
    ) -> Vanished {
        let expired = report::gone_after_expiry(room, status);
        if expired && status.observed_generation == room.metadata.generation {
            report::expired_and_gone(room, status, room_id);
            self.seen.record(&room.uid().unwrap_or_default(), None);
            return Vanished::Settled(Next::AwaitChange);
        }
        Vanished::Recreate(if expired {
            format!(
                "room {room_id} expired and no longer exists in the API; the spec changed since, so a new room is created"
            )
        } else {
            format!(
                "room {room_id} no longer exists in the API before it expired; creating a new one"
            )
        })
    }

    fn forget_remote(status: &mut MeetingRoomStatus) {
        *status = MeetingRoomStatus {
            conditions: std::mem::take(&mut status.conditions),
            ..MeetingRoomStatus::default()
        };
    }

    fn create_request(
        &self,
        room: &MeetingRoom,
        theme_id: &Option<String>,
    ) -> Result<CreateRoom, Halt> {
        let callback_urls = room
            .spec
            .effective_callback_urls(self.callback_urls.as_ref());
        sync::create_request(&room.spec, theme_id.as_deref(), callback_urls.as_ref())
            .map_err(|error| Failure::rejected(reason::INVALID_SPEC, error.to_string()).into())
    }

    async fn recover(
        &self,
        room: &MeetingRoom,
        client: &MeetingsClient,
        pending: &PendingCreate,
        request: &CreateRoom,
    ) -> Result<Option<Room>, ApiError> {
        recover_lost_create(self, room, client, pending, request).await
    }

    async fn create(
        &self,
        client: &MeetingsClient,
        request: &CreateRoom,
    ) -> Result<Room, ApiError> {
        client.create_room(request).await
    }

    fn remember_remote(&self, client: &MeetingsClient, room: &Room) {
        self.services
            .snapshots
            .record(client.application_id(), room.clone());
    }

    fn remote_id(room: &Room) -> &str {
        &room.id
    }

    fn describe(room: &Room) -> String {
        format!("room {} (code {})", room.id, room.meeting_code)
    }

    fn diff(
        &self,
        room: &MeetingRoom,
        status: &MeetingRoomStatus,
        theme_id: &Option<String>,
        remote: &Room,
    ) -> Result<Option<Change<RoomUpdate>>, Halt> {
        let managed = room.spec.management_policy == ManagementPolicy::Managed;
        if managed && remote.is_expired_at(Timestamp::now()) {
            return Ok(None);
        }
        let callback_urls = room
            .spec
            .effective_callback_urls(self.callback_urls.as_ref());
        let update = match sync::mutable_diff(
            &room.spec,
            theme_id.as_deref(),
            status.applied_theme_id.as_deref(),
            callback_urls.as_ref(),
            remote,
        ) {
            Ok(update) => update,
            Err(error) if managed => {
                return Err(Failure::rejected(reason::INVALID_SPEC, error.to_string()).into());
            }
            Err(_) => return Ok(None),
        };
        let fields = sync::changed_fields(&update);
        Ok((!update.is_empty()).then_some(Change { update, fields }))
    }

    fn may_update(room: &MeetingRoom, fields: &[&'static str]) -> Result<(), Halt> {
        if room.spec.room_type != RoomKind::Instant {
            return Ok(());
        }
        let message = format!(
            "instant rooms cannot be changed after creation ({} differ); use a long_term room or create a new MeetingRoom",
            fields.join(", ")
        );
        Err(Failure::rejected(reason::NOT_UPDATABLE, message).into())
    }

    async fn update(
        &self,
        client: &MeetingsClient,
        id: &str,
        update: &RoomUpdate,
    ) -> Result<Room, ApiError> {
        client.update_room(id, update).await
    }

    async fn extras(
        &self,
        room: &MeetingRoom,
        client: &MeetingsClient,
        status: &mut MeetingRoomStatus,
        remote: &Room,
    ) -> Result<(), Halt> {
        host_url::ensure_secret(self, room, client, status, remote).await
    }

    fn report(
        &self,
        room: &MeetingRoom,
        status: &mut MeetingRoomStatus,
        theme_id: Option<String>,
        remote: &Room,
        drift: &[&'static str],
        (): (),
    ) -> Next {
        self.seen
            .record(&room.uid().unwrap_or_default(), Some(remote));
        report::ready(room, status, remote, theme_id, drift)
    }
}

/// Whether `room`, as the watch shows it, carries the status `written`
/// (`live` aside, as in [`ManagedKind::observed_status`]): compared in
/// place unless the callback receiver has written live status.
pub fn shows_status(room: &MeetingRoom, written: &MeetingRoomStatus) -> bool {
    match room.status.as_ref() {
        Some(status) if status.live.is_none() => status == written,
        Some(_) => Rooms::observed_status(room) == *written,
        None => *written == MeetingRoomStatus::default(),
    }
}

/// One room read from the API (and kept in the shared listing's overlay);
/// `None` when the API does not have it.
async fn fetch(
    rooms: &Rooms,
    client: &MeetingsClient,
    room_id: &str,
) -> Result<Option<Room>, ApiError> {
    match client.get_room(room_id).await {
        Ok(found) => {
            rooms.remember_remote(client, &found);
            Ok(Some(found))
        }
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The id of the theme `spec.themeRef` names, once it is Ready in the same
/// application; otherwise the room waits for it.
fn resolve_theme(
    rooms: &Rooms,
    room: &MeetingRoom,
    application_id: &str,
) -> Result<Option<String>, Failure> {
    let Some(theme_ref) = room.spec.theme_ref.as_ref() else {
        return Ok(None);
    };
    let name = &theme_ref.name;
    let namespace = room.namespace().unwrap_or_default();
    let reference = ObjectRef::<MeetingTheme>::new(name).within(&namespace);
    let Some(theme) = rooms.services.themes.get(&reference) else {
        return Err(Failure::waiting(
            reason::THEME_NOT_FOUND,
            format!(
                "MeetingTheme {name} does not exist in namespace {namespace}; create it or change spec.themeRef"
            ),
        ));
    };
    if theme.metadata.deletion_timestamp.is_some() {
        return Err(Failure::waiting(
            reason::THEME_NOT_READY,
            format!("MeetingTheme {name} is being deleted; point spec.themeRef at another theme"),
        ));
    }
    // Borrowed, not cloned: a theme's status lists every room that uses it.
    let status = theme.status.as_ref();
    let ready = status.is_some_and(|s| is_true(&s.conditions, READY));
    let (Some(theme_id), true) = (status.and_then(|s| s.theme_id.as_deref()), ready) else {
        return Err(Failure::waiting(
            reason::THEME_NOT_READY,
            format!("waiting for MeetingTheme {name} to become Ready"),
        ));
    };
    match status.and_then(|s| s.application_id.as_deref()) {
        Some(app) if app != application_id => Err(Failure::waiting(
            reason::THEME_NOT_READY,
            format!(
                "MeetingTheme {name} belongs to application {app}, but this room's credentials are for application {application_id}"
            ),
        )),
        _ => Ok(Some(theme_id.to_owned())),
    }
}

/// Searches a listing taken now for the room a lost create of `request` may
/// have made (see [`LostCreate`]), among rooms no other `MeetingRoom` claims.
async fn recover_lost_create(
    rooms: &Rooms,
    room: &MeetingRoom,
    client: &MeetingsClient,
    pending: &PendingCreate,
    request: &CreateRoom,
) -> Result<Option<Room>, ApiError> {
    let started: Timestamp = pending.started_at.parse().unwrap_or(Timestamp::UNIX_EPOCH);
    let own_uid = room.uid();
    let claimed: std::collections::HashSet<String> = rooms
        .services
        .rooms
        .state()
        .iter()
        .filter(|other| other.uid() != own_uid)
        .filter_map(|other| Some(other.status.as_ref()?.room_id.as_deref()?.to_owned()))
        .collect();
    let fresh = Freshness {
        max_age: Duration::ZERO,
        not_before: Some(Instant::now()),
    };
    let lost = LostCreate::new(request, started);
    let candidates: Vec<Room> = rooms
        .services
        .snapshots
        .find(client, fresh, |candidate| {
            !claimed.contains(&candidate.id) && lost.matches(candidate)
        })
        .await?
        .into_iter()
        .map(|found| (*found).clone())
        .collect();
    Ok(lost.best(&candidates).cloned())
}
