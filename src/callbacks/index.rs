//! Bounded bookkeeping of the receiver: which room each session belongs to,
//! recording events waiting for their session to be known, and the live
//! state of each room.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::Callback;
use super::state::RoomLive;
use crate::crd::room::LiveStatus;

/// Sessions remembered (oldest forgotten first).
const MAX_SESSIONS: usize = 4096;
/// Callbacks waiting for their session.
const MAX_WAITING: usize = 256;
/// How long a callback waits for its session.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// Rooms whose live state is kept in memory (least recently used forgotten first).
const MAX_ROOMS: usize = 4096;

/// Session id → remote room id, bounded.
#[derive(Debug, Default)]
pub struct Sessions {
    rooms: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Sessions {
    /// Remembers that `session_id` runs in `room_id`.
    pub fn insert(&mut self, session_id: &str, room_id: &str) {
        if self.rooms.contains_key(session_id) {
            return;
        }
        self.rooms.insert(session_id.to_owned(), room_id.to_owned());
        self.order.push_back(session_id.to_owned());
        while self.order.len() > MAX_SESSIONS {
            if let Some(old) = self.order.pop_front() {
                self.rooms.remove(&old);
            }
        }
    }

    /// The room of a session, if known.
    pub fn room_of(&self, session_id: &str) -> Option<String> {
        self.rooms.get(session_id).cloned()
    }
}

/// Callbacks whose room is not known yet (recording events that overtook
/// every event of their session), bounded in number and age.
#[derive(Debug, Default)]
pub struct Waiting {
    queue: VecDeque<(Instant, String, Callback)>,
}

impl Waiting {
    /// Keeps `callback` until its session's room is known.
    pub fn push(&mut self, session_id: &str, callback: Callback) {
        self.expire();
        self.queue
            .push_back((Instant::now(), session_id.to_owned(), callback));
        while self.queue.len() > MAX_WAITING {
            self.queue.pop_front();
        }
    }

    /// Takes the callbacks waiting for `session_id`.
    pub fn take(&mut self, session_id: &str) -> Vec<Callback> {
        self.expire();
        let mut taken = Vec::new();
        self.queue.retain(|(_, session, callback)| {
            if session == session_id {
                taken.push(callback.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    fn expire(&mut self) {
        while self
            .queue
            .front()
            .is_some_and(|(at, _, _)| at.elapsed() > MAX_WAIT)
        {
            self.queue.pop_front();
        }
    }
}

/// The live state of one room and what was last written for it.
#[derive(Debug)]
pub struct RoomEntry {
    /// Facts so far.
    pub state: RoomLive,
    /// `status.live` as last written or read.
    pub written: Option<LiveStatus>,
}

/// A shared entry; its lock orders the merges and writes of one room.
pub type SharedEntry = Arc<tokio::sync::Mutex<RoomEntry>>;

/// Entries by room uid, least recently used forgotten first.
#[derive(Debug, Default)]
pub struct Rooms {
    entries: HashMap<String, (u64, SharedEntry)>,
    tick: u64,
}

impl Rooms {
    /// The entry of room `uid`, created from `live` (its status) on first use.
    pub fn entry(&mut self, uid: &str, live: Option<&LiveStatus>) -> SharedEntry {
        self.tick += 1;
        let tick = self.tick;
        if let Some((used, entry)) = self.entries.get_mut(uid) {
            *used = tick;
            return entry.clone();
        }
        let entry = Arc::new(tokio::sync::Mutex::new(RoomEntry {
            state: RoomLive::seeded(live),
            written: live.cloned(),
        }));
        self.entries.insert(uid.to_owned(), (tick, entry.clone()));
        self.evict();
        entry
    }

    fn evict(&mut self) {
        while self.entries.len() > MAX_ROOMS {
            // Entries in use (held outside this map) are never dropped.
            let victim = self
                .entries
                .iter()
                .filter(|(_, (_, entry))| Arc::strong_count(entry) == 1)
                .min_by_key(|(_, (used, _))| *used)
                .map(|(uid, _)| uid.clone());
            match victim {
                Some(uid) => self.entries.remove(&uid),
                None => return,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::event::{EventKind, Fact, RecordingFacts};

    fn recording(session: &str) -> Callback {
        Callback {
            kind: EventKind::RecordingStarted,
            room_id: None,
            fact: Fact::Recording {
                kind: EventKind::RecordingStarted,
                facts: RecordingFacts {
                    recording_id: "r".into(),
                    session_id: session.into(),
                    started_at: None,
                    duration_seconds: None,
                    url: None,
                },
            },
        }
    }

    #[test]
    fn sessions_are_bounded() {
        let mut sessions = Sessions::default();
        for i in 0..(MAX_SESSIONS + 10) {
            sessions.insert(&format!("s{i}"), "room");
        }
        assert_eq!(sessions.room_of("s0"), None);
        assert_eq!(
            sessions
                .room_of(&format!("s{}", MAX_SESSIONS + 9))
                .as_deref(),
            Some("room")
        );
        assert_eq!(sessions.rooms.len(), MAX_SESSIONS);
    }

    #[test]
    fn waiting_callbacks_are_taken_by_session_and_bounded() {
        let mut waiting = Waiting::default();
        waiting.push("a", recording("a"));
        waiting.push("b", recording("b"));
        waiting.push("a", recording("a"));
        assert_eq!(waiting.take("a").len(), 2);
        assert!(waiting.take("a").is_empty());
        for _ in 0..(MAX_WAITING + 5) {
            waiting.push("c", recording("c"));
        }
        assert_eq!(
            waiting.take("c").len() + waiting.take("b").len(),
            MAX_WAITING
        );
    }

    #[test]
    fn room_entries_are_reused_and_bounded() {
        let mut rooms = Rooms::default();
        let first = rooms.entry("uid-0", None);
        let again = rooms.entry("uid-0", None);
        assert!(Arc::ptr_eq(&first, &again));
        drop(again);
        for i in 1..(MAX_ROOMS + 5) {
            rooms.entry(&format!("uid-{i}"), None);
        }
        assert_eq!(rooms.entries.len(), MAX_ROOMS);
        // In use, so kept although least recently used.
        assert!(rooms.entries.contains_key("uid-0"));
    }
}
