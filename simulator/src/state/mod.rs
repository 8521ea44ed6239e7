//! The simulator's in-memory world: applications, rooms, themes, meetings and storage.
//!
//! All mutation goes through [`State`] under one lock; changes that notify the outside world
//! push [`Event`]s to an outbox that the server drains after releasing the lock.

mod applications;
pub mod events;
mod meetings;
mod rooms;
mod storage;
mod themes;
pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use serde_json::Value;
use uuid::Uuid;

use super::config::Behavior;
pub use applications::Application;
pub use events::Event;
pub use meetings::{Participant, Recording, RecordingStatus, Session};
pub(crate) use rooms::secs as rooms_secs;
pub use rooms::{CreateRoom, Room, RoomPage, UpdateRoom};
pub use storage::{StorageError, StoredObject};
pub use themes::{CreateTheme, Logo, Theme, UpdateTheme};
use values::{CallbackKind, CallbackUrls};

/// Bucket name of the simulated storage service.
pub const BUCKET: &str = "meetings-sim-logos";

/// The whole simulated service.
#[derive(Debug)]
pub struct State {
    /// Runtime behaviour switches.
    pub behavior: Behavior,
    /// Secret for participant tokens and presigned forms.
    pub(crate) secret: Vec<u8>,
    /// `http://host:port` under which the simulator's storage is reachable.
    pub(crate) public_base: String,
    pub(crate) apps: BTreeMap<String, Application>,
    pub(crate) rooms: HashMap<Uuid, Room>,
    meeting_codes: HashSet<String>,
    last_serial: u64,
    /// Rooms not yet expired, by the time they expire (rooms kept alive by present
    /// participants are left out until the last one leaves).
    expiry: BTreeSet<(Timestamp, Uuid)>,
    /// Instant rooms with participants present: their `expires_at` slides with the clock.
    occupied: HashSet<Uuid>,
    /// Expired rooms still stored, by the time they became inactive (for purging).
    expired: BTreeSet<(Timestamp, Uuid)>,
    pub(crate) themes: HashMap<Uuid, Theme>,
    short_urls: HashMap<String, Uuid>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) recordings: HashMap<Uuid, Recording>,
    uploads: HashMap<String, storage::PresignedUpload>,
    pub(crate) objects: HashMap<String, StoredObject>,
    outbox: Vec<Event>,
}

impl State {
    /// An empty world.
    pub fn new(behavior: Behavior, secret: Vec<u8>) -> Self {
        Self {
            behavior,
            secret,
            public_base: "http://127.0.0.1".to_string(),
            apps: BTreeMap::new(),
            rooms: HashMap::new(),
            meeting_codes: HashSet::new(),
            last_serial: 0,
            expiry: BTreeSet::new(),
            occupied: HashSet::new(),
            expired: BTreeSet::new(),
            themes: HashMap::new(),
            short_urls: HashMap::new(),
            sessions: HashMap::new(),
            recordings: HashMap::new(),
            uploads: HashMap::new(),
            objects: HashMap::new(),
            outbox: Vec::new(),
        }
    }

    /// Sets the `http://host:port` base used in generated download URLs.
    pub fn set_public_base(&mut self, base: String) {
        self.public_base = base;
    }

    /// Removes and returns the events produced since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.outbox)
    }

    /// Applies the passage of time: keeps occupied instant rooms alive, expires and purges
    /// rooms, uploads recordings, drops stale uploads.
    pub fn sweep(&mut self, now: Timestamp) {
        self.extend_occupied_rooms(now);
        while let Some(&(at, id)) = self.expiry.first() {
            if at > now {
                break;
            }
            self.expiry.pop_first();
            self.expire_room(id, now);
        }
        self.purge_expired_rooms(now);
        self.upload_due_recordings(now);
        self.purge_storage(now);
    }

    /// Queues an event for `app`, addressed to the room's URL or else the application's.
    fn emit(
        &mut self,
        application_id: &str,
        room_urls: Option<&CallbackUrls>,
        kind: CallbackKind,
        name: &str,
        payload: Value,
    ) {
        let url = room_urls
            .and_then(|urls| urls.get(kind))
            .or_else(|| {
                self.apps
                    .get(application_id)
                    .and_then(|a| a.callback_urls.get(kind))
            })
            .map(str::to_string);
        self.outbox.push(Event {
            name: name.to_string(),
            kind,
            application_id: application_id.to_string(),
            url,
            payload,
        });
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub(crate) const APP: &str = "11111111-1111-4111-8111-111111111111";
    pub(crate) const OTHER: &str = "22222222-2222-4222-8222-222222222222";

    pub(crate) fn t0() -> Timestamp {
        "2024-03-01T12:00:00Z".parse().unwrap()
    }

    pub(crate) fn state() -> State {
        let mut state = State::new(Behavior::default(), b"test-secret".to_vec());
        state.add_application(APP.to_string()).unwrap();
        state.add_application(OTHER.to_string()).unwrap();
        state
    }
}
