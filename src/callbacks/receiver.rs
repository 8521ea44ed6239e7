//! What happens to a parsed callback: find its room, merge it into the
//! room's live state, write `status.live`, publish Events, and for
//! `room:expired` have the room reconciled at once.

use std::sync::{Arc, Mutex};

use futures::channel::mpsc::UnboundedSender;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};

use super::FIELD_MANAGER;
use super::event::{Callback, Fact};
use super::index::{Rooms, Sessions, Waiting};
use super::state::Notice;
use crate::crd::reasons::event;
use crate::crd::room::LiveStatus;
use crate::crd::{MeetingRoom, MeetingRoomStatus};
use crate::services::CredentialStore;
use crate::services::events::EventPublisher;
use crate::services::snapshot::RoomSnapshots;
use crate::services::status_cache::StatusCache;
use crate::telemetry::{Health, Phase};

/// The rooms of one watched scope and how to have one reconciled.
#[derive(Clone)]
pub struct Scope {
    /// The room controller's cache.
    pub rooms: Store<MeetingRoom>,
    /// Room statuses the room controller wrote that its cache does not
    /// show yet: a room created moments ago is known by its id here first.
    pub written: Arc<StatusCache<MeetingRoomStatus>>,
    /// Sends a room to the room controller for an immediate reconcile.
    pub reconcile: UnboundedSender<ObjectRef<MeetingRoom>>,
}

/// What became of one callback; also the `result` label of the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `status.live` changed and was written (or a reconcile was requested).
    Applied,
    /// Nothing visible changed (a duplicate, or a late event).
    Unchanged,
    /// Kept until an event of its session names the room.
    Deferred,
    /// No watched `MeetingRoom` has this room id.
    UnknownRoom,
    /// The caches have not synced yet.
    NotReady,
    /// Writing `status.live` failed.
    Failed,
}

impl Outcome {
    /// The `result` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Deferred => "deferred",
            Self::UnknownRoom => "unknown_room",
            Self::NotReady => "not_ready",
            Self::Failed => "failed",
        }
    }
}

/// Receives parsed callbacks for every watched scope.
pub struct Receiver {
    kube: kube::Client,
    scopes: Vec<Scope>,
    credentials: Arc<CredentialStore>,
    snapshots: Arc<RoomSnapshots>,
    events: Arc<EventPublisher>,
    health: Arc<Health>,
    sessions: Mutex<Sessions>,
    waiting: Mutex<Waiting>,
    rooms: Mutex<Rooms>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Receiver {
    /// A receiver for `scopes`, sharing the controllers' credentials and
    /// room snapshots, ready once `health` says the caches synced.
    pub fn new(
        kube: kube::Client,
        scopes: Vec<Scope>,
        credentials: Arc<CredentialStore>,
        snapshots: Arc<RoomSnapshots>,
        events: Arc<EventPublisher>,
        health: Arc<Health>,
    ) -> Self {
        Self {
            kube,
            scopes,
            credentials,
            snapshots,
            events,
            health,
            sessions: Mutex::default(),
            waiting: Mutex::default(),
            rooms: Mutex::default(),
        }
    }

    fn find_room(&self, room_id: &str) -> Option<(Arc<MeetingRoom>, &Scope)> {
        let has_id = |status: &MeetingRoomStatus| status.room_id.as_deref() == Some(room_id);
        self.scopes.iter().find_map(|scope| {
            let written = scope.written.uid_where(has_id);
            let room = scope.rooms.find(|room| {
                room.status.as_ref().is_some_and(has_id)
                    || (written.is_some() && room.metadata.uid == written)
            })?;
            Some((room, scope))
        })
    }

    /// Handles one callback.
    pub async fn handle(&self, callback: Callback) -> Outcome {
        if !matches!(self.health.phase(), Phase::Running | Phase::Stopping) {
            return Outcome::NotReady;
        }
        let session_id = callback.fact.session_id().map(str::to_owned);
        let room_id = match (&callback.room_id, &session_id) {
            (Some(room_id), Some(session_id)) => {
                lock(&self.sessions).insert(session_id, room_id);
                Some(room_id.clone())
            }
            (Some(room_id), None) => Some(room_id.clone()),
            (None, Some(session_id)) => lock(&self.sessions).room_of(session_id),
            (None, None) => None,
        };
        let Some(room_id) = room_id else {
            if let Some(session_id) = &session_id {
                lock(&self.waiting).push(session_id, callback);
                return Outcome::Deferred;
            }
            return Outcome::UnknownRoom;
        };
        let Some((room, scope)) = self.find_room(&room_id) else {
            return Outcome::UnknownRoom;
        };
        if callback.fact == Fact::RoomExpired {
            self.confirm_expiry(room, scope, room_id);
            return Outcome::Applied;
        }
        let mut facts = vec![callback.fact];
        if let Some(session_id) = &session_id {
            facts.extend(
                lock(&self.waiting)
                    .take(session_id)
                    .into_iter()
                    .map(|c| c.fact),
            );
        }
        self.merge(&room, &facts).await
    }

    /// Merges `facts` into the room's state and writes `status.live` if it changed.
    async fn merge(&self, room: &MeetingRoom, facts: &[Fact]) -> Outcome {
        let uid = room.uid().unwrap_or_default();
        let live = room.status.as_ref().and_then(|s| s.live.as_deref());
        let entry = lock(&self.rooms).entry(&uid, live);
        // One merge and write at a time per room, so writes never go back in time.
        let mut entry = entry.lock().await;
        let notices: Vec<Notice> = facts.iter().flat_map(|f| entry.state.apply(f)).collect();
        let status = entry.state.status();
        let outcome = if entry.written.as_ref() == Some(&status)
            || (entry.written.is_none() && status == LiveStatus::default())
        {
            Outcome::Unchanged
        } else {
            match self.write(room, &status).await {
                Ok(()) => {
                    entry.written = Some(status);
                    Outcome::Applied
                }
                Err(error) => {
                    tracing::warn!(
                        room = %room.name_any(),
                        namespace = %room.namespace().unwrap_or_default(),
                        %error,
                        "could not write status.live"
                    );
                    Outcome::Failed
                }
            }
        };
        drop(entry);
        for notice in notices {
            self.publish(room, notice).await;
        }
        outcome
    }

    async fn write(&self, room: &MeetingRoom, live: &LiveStatus) -> Result<(), kube::Error> {
        let namespace = room.namespace().unwrap_or_default();
        let api: Api<MeetingRoom> = Api::namespaced(self.kube.clone(), &namespace);
        let body = serde_json::json!({
            "apiVersion": MeetingRoom::api_version(&()),
            "kind": MeetingRoom::kind(&()),
            "status": { "live": live },
        });
        api.patch_status(
            &room.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await?;
        Ok(())
    }

    async fn publish(&self, room: &MeetingRoom, notice: Notice) {
        let (why, note) = match notice {
            Notice::SessionStarted { session_id } => (
                event::SESSION_STARTED,
                format!("session {session_id} started"),
            ),
            Notice::SessionEnded {
                session_id,
                seconds,
            } => (
                event::SESSION_ENDED,
                match seconds {
                    Some(s) => format!("session {session_id} ended after {s} s"),
                    None => format!("session {session_id} ended"),
                },
            ),
            Notice::RecordingReady {
                recording_id,
                duration_seconds,
            } => (
                event::RECORDING_READY,
                match duration_seconds {
                    Some(d) => format!(
                        "recording {recording_id} ({d} s) is ready; its URL is in status.live.recordings"
                    ),
                    None => format!(
                        "recording {recording_id} is ready; its URL is in status.live.recordings"
                    ),
                },
            ),
        };
        self.events.normal(room, why, "Callback", note).await;
    }

    /// Reads the room from the API (so the reconciler sees the expiry the
    /// callback announced, without trusting the unsigned callback itself)
    /// and has it reconciled at once.
    fn confirm_expiry(&self, room: Arc<MeetingRoom>, scope: &Scope, room_id: String) {
        let credentials = self.credentials.clone();
        let snapshots = self.snapshots.clone();
        let reconcile = scope.reconcile.clone();
        tokio::spawn(async move {
            let namespace = room.namespace().unwrap_or_default();
            let read = match credentials
                .client(&namespace, room.spec.credentials_ref.as_deref())
                .await
            {
                Ok(client) => client
                    .get_room(&room_id)
                    .await
                    .map(|remote| snapshots.record(client.application_id(), remote))
                    .map_err(|error| error.to_string()),
                Err(problem) => Err(problem.to_string()),
            };
            if let Err(problem) = read {
                tracing::warn!(%problem, room_id, "could not read a room reported expired; its expiry shows at the next listing");
            }
            if reconcile
                .unbounded_send(ObjectRef::from_obj(room.as_ref()))
                .is_err()
            {
                tracing::debug!(room_id, "the room controller has stopped");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kube::runtime::reflector;
    use kube::runtime::watcher;

    use super::*;
    use crate::meetings::{ClientConfig, NoopObserver};

    fn room(uid: &str, room_id: Option<&str>) -> MeetingRoom {
        let mut room: MeetingRoom = serde_json::from_value(serde_json::json!({
            "apiVersion": "meetings.vonage.com/v1alpha1",
            "kind": "MeetingRoom",
            "metadata": {"name": uid, "namespace": "team", "uid": uid},
            "spec": {"displayName": "Standup", "type": "instant"}
        }))
        .expect("a room");
        room.status = room_id.map(|id| MeetingRoomStatus {
            room_id: Some(id.into()),
            ..MeetingRoomStatus::default()
        });
        room
    }

    /// A receiver over one scope caching `rooms`, with `written` as the
    /// statuses written and not yet shown. No request is made.
    fn receiver(rooms: Vec<MeetingRoom>, written: Arc<StatusCache<MeetingRoomStatus>>) -> Receiver {
        let kube = kube::Client::new(axum::Router::new(), "default");
        let (store, mut writer) = reflector::store();
        for room in rooms {
            writer.apply_watcher_event(&watcher::Event::Apply(room));
        }
        let (reconcile, _) = futures::channel::mpsc::unbounded();
        let credentials = CredentialStore::new(
            kube.clone(),
            None,
            ClientConfig::default(),
            Arc::new(NoopObserver),
            Duration::from_secs(60),
        )
        .expect("a credential store");
        Receiver::new(
            kube.clone(),
            vec![Scope {
                rooms: store,
                written,
                reconcile,
            }],
            Arc::new(credentials),
            Arc::new(RoomSnapshots::default()),
            Arc::new(EventPublisher::new(kube, "test")),
            Arc::new(Health::default()),
        )
    }

    fn found(receiver: &Receiver, room_id: &str) -> Option<String> {
        receiver
            .find_room(room_id)
            .and_then(|(room, _)| room.metadata.uid.clone())
    }

    #[tokio::test]
    async fn a_room_is_found_by_its_id_in_the_cache() {
        let written = Arc::new(StatusCache::new(Duration::from_secs(60)));
        let receiver = receiver(vec![room("u1", Some("r1")), room("u2", None)], written);
        assert_eq!(found(&receiver, "r1").as_deref(), Some("u1"));
        assert_eq!(found(&receiver, "r2"), None);
    }

    #[tokio::test]
    async fn a_room_whose_written_status_the_cache_does_not_show_yet_is_found() {
        let written = Arc::new(StatusCache::new(Duration::from_secs(60)));
        let receiver = receiver(vec![room("u1", None)], written.clone());
        assert_eq!(found(&receiver, "r1"), None);
        written.remember(
            "u1",
            MeetingRoomStatus {
                room_id: Some("r1".into()),
                ..MeetingRoomStatus::default()
            },
        );
        assert_eq!(
            found(&receiver, "r1").as_deref(),
            Some("u1"),
            "the status written moments ago names the room"
        );
        assert_eq!(found(&receiver, "r2"), None);
    }
}
