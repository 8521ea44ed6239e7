//! The live state of one room, merged from callbacks in any order.
//!
//! The state is a set of facts (a session started, participant `p` joined,
//! recording `r` reached `stopped`, ...) that only grow: applying the same
//! callback twice, or callbacks in another order, gives the same facts, and
//! `status.live` is computed from the facts alone. So duplicate, late and
//! reordered deliveries leave the status as if each event had arrived once,
//! in order:
//!
//! * participants are a set keyed by `participant_id`; leaving is final, so
//!   a `left` that overtakes its `joined` still counts the participant out;
//! * the active session is the newest session (by start time) that has not
//!   ended and is newer than the last ended one; events for a session that
//!   has ended change nothing visible;
//! * each recording keeps its most advanced state
//!   (started < stopped < uploaded), whatever order the events came in.
//!
//! Everything is bounded: a few sessions, the ids of the last ended ones, a
//! few dozen recordings and a cap on participants per session.

use std::collections::{HashMap, VecDeque};

use jiff::Timestamp;

use super::event::{EventKind, Fact, RecordingFacts};
use crate::crd::room::{ActiveSession, EndedSession, LiveStatus, RecordingSummary};
use crate::meetings::{format_timestamp, parse_timestamp};

/// Recordings shown in status, newest first.
pub const MAX_RECORDINGS: usize = 10;
/// Sessions whose details are kept.
const MAX_SESSIONS: usize = 8;
/// Ended session ids remembered so that late events for them are ignored.
const MAX_ENDED_IDS: usize = 64;
/// Recordings whose details are kept.
const MAX_RECORDING_TRACKS: usize = 32;
/// Participants tracked per session.
const MAX_PARTICIPANTS: usize = 10_000;

/// How far a recording has got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// Only known from status written by another process, in a state not listed here.
    #[default]
    Unknown,
    Started,
    Stopped,
    Uploaded,
}

impl Rank {
    fn of(kind: EventKind) -> Self {
        match kind {
            EventKind::RecordingStarted => Self::Started,
            EventKind::RecordingStopped => Self::Stopped,
            EventKind::RecordingReady => Self::Uploaded,
            _ => Self::Unknown,
        }
    }

    fn from_status(status: &str) -> Self {
        match status {
            "started" => Self::Started,
            "stopped" | "ended" => Self::Stopped,
            "uploaded" | "ready" => Self::Uploaded,
            _ => Self::Unknown,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Started => "started",
            Self::Stopped => "stopped",
            Self::Uploaded => "uploaded",
        }
    }
}

#[derive(Clone, Debug, Default)]
struct ParticipantTrack {
    is_host: bool,
    joined: bool,
    left: bool,
}

#[derive(Clone, Debug, Default)]
struct SessionTrack {
    started_at: Option<Timestamp>,
    /// `session:started` was seen (or the session was read from status).
    start_seen: bool,
    ended: bool,
    ended_at: Option<Timestamp>,
    participants: HashMap<String, ParticipantTrack>,
    /// Participants present when the session was read from status, by count only.
    anonymous: u32,
    anonymous_host: bool,
    /// Order of first sight, to order sessions whose start is unknown.
    seq: u64,
}

impl SessionTrack {
    fn key(&self) -> (Option<Timestamp>, u64) {
        (self.started_at, self.seq)
    }

    fn present(&self) -> impl Iterator<Item = &ParticipantTrack> {
        self.participants.values().filter(|p| p.joined && !p.left)
    }
}

#[derive(Clone, Debug, Default)]
struct RecordingTrack {
    rank: Rank,
    /// The state string read from status when the rank is unknown.
    status: Option<String>,
    started_at: Option<Timestamp>,
    duration_seconds: Option<f64>,
    url: Option<String>,
    seq: u64,
}

/// Something worth a Kubernetes Event, reported once per fact.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A session became the active one.
    SessionStarted {
        /// Session id.
        session_id: String,
    },
    /// A session ended.
    SessionEnded {
        /// Session id.
        session_id: String,
        /// How long it lasted, when both times are known.
        seconds: Option<i64>,
    },
    /// A recording can be downloaded.
    RecordingReady {
        /// Recording id.
        recording_id: String,
        /// Its length, when known.
        duration_seconds: Option<f64>,
    },
}

/// The facts known about one room.
#[derive(Clone, Debug, Default)]
pub struct RoomLive {
    sessions: HashMap<String, SessionTrack>,
    ended_ids: VecDeque<String>,
    recordings: HashMap<String, RecordingTrack>,
    seq: u64,
}

impl RoomLive {
    /// The state `status.live` describes (after a restart, or for a room not seen yet).
    pub fn seeded(live: Option<&LiveStatus>) -> Self {
        let mut state = Self::default();
        let Some(live) = live else {
            return state;
        };
        if let Some(last) = &live.last_session {
            let seq = state.next_seq();
            state.sessions.insert(
                last.session_id.clone(),
                SessionTrack {
                    started_at: last.started_at.as_deref().and_then(parse_timestamp),
                    start_seen: true,
                    ended: true,
                    ended_at: last.ended_at.as_deref().and_then(parse_timestamp),
                    seq,
                    ..Default::default()
                },
            );
            state.remember_ended(&last.session_id);
        }
        if let Some(active) = &live.active_session {
            let seq = state.next_seq();
            state
                .sessions
                .entry(active.session_id.clone())
                .or_insert(SessionTrack {
                    started_at: active.started_at.as_deref().and_then(parse_timestamp),
                    start_seen: true,
                    anonymous: active.participant_count,
                    anonymous_host: active.host_present,
                    seq,
                    ..Default::default()
                });
        }
        // Oldest first, so that the order of first sight keeps their order.
        for recording in live.recordings.iter().rev() {
            let seq = state.next_seq();
            let rank = Rank::from_status(&recording.status);
            state.recordings.insert(
                recording.id.clone(),
                RecordingTrack {
                    rank,
                    status: (rank == Rank::Unknown).then(|| recording.status.clone()),
                    duration_seconds: recording.duration_seconds,
                    url: recording.url.clone(),
                    seq,
                    ..Default::default()
                },
            );
        }
        state
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn remember_ended(&mut self, session_id: &str) {
        if self.ended_ids.iter().any(|id| id == session_id) {
            return;
        }
        self.ended_ids.push_back(session_id.to_owned());
        while self.ended_ids.len() > MAX_ENDED_IDS {
            self.ended_ids.pop_front();
        }
    }

    /// Whether the session ended so long ago that its details were dropped.
    fn forgotten(&self, session_id: &str) -> bool {
        !self.sessions.contains_key(session_id) && self.ended_ids.iter().any(|id| id == session_id)
    }

    /// The session's track, created on first sight; `None` for forgotten sessions.
    fn session(&mut self, session_id: &str) -> Option<&mut SessionTrack> {
        if self.forgotten(session_id) {
            return None;
        }
        if !self.sessions.contains_key(session_id) {
            let seq = self.next_seq();
            self.sessions.insert(
                session_id.to_owned(),
                SessionTrack {
                    seq,
                    ..Default::default()
                },
            );
            self.evict_sessions(session_id);
        }
        self.sessions.get_mut(session_id)
    }

    /// Drops the oldest sessions beyond the bound, ended ones first, never `keep`.
    fn evict_sessions(&mut self, keep: &str) {
        while self.sessions.len() > MAX_SESSIONS {
            let victim = self
                .sessions
                .iter()
                .filter(|(id, _)| id.as_str() != keep)
                .min_by_key(|(_, s)| (!s.ended, s.key()))
                .map(|(id, _)| id.clone());
            match victim {
                Some(id) => {
                    if self.sessions.get(&id).is_some_and(|s| s.ended) {
                        self.remember_ended(&id);
                    }
                    self.sessions.remove(&id);
                }
                None => return,
            }
        }
    }

    fn evict_recordings(&mut self) {
        while self.recordings.len() > MAX_RECORDING_TRACKS {
            let oldest = self
                .recordings
                .iter()
                .min_by_key(|(_, r)| (r.started_at, r.seq))
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.recordings.remove(&id),
                None => return,
            };
        }
    }

    /// Merges one fact and reports what deserves an Event.
    pub fn apply(&mut self, fact: &Fact) -> Vec<Notice> {
        let mut notices = Vec::new();
        match fact {
            Fact::RoomExpired => {}
            Fact::SessionStarted {
                session_id,
                started_at,
            } => {
                let Some(track) = self.session(session_id) else {
                    return notices;
                };
                track.started_at = track.started_at.or(*started_at);
                let first = !track.start_seen && !track.ended;
                track.start_seen = true;
                let active = self.active().map(|(id, _)| id.as_str());
                if first && active == Some(session_id.as_str()) {
                    notices.push(Notice::SessionStarted {
                        session_id: session_id.clone(),
                    });
                }
            }
            Fact::SessionEnded {
                session_id,
                started_at,
                ended_at,
            } => {
                let Some(track) = self.session(session_id) else {
                    return notices;
                };
                track.started_at = track.started_at.or(*started_at);
                track.ended_at = track.ended_at.or(*ended_at);
                if !track.ended {
                    track.ended = true;
                    let seconds = match (track.started_at, track.ended_at) {
                        (Some(start), Some(end)) => Some(end.duration_since(start).as_secs()),
                        _ => None,
                    };
                    notices.push(Notice::SessionEnded {
                        session_id: session_id.clone(),
                        seconds,
                    });
                    self.remember_ended(session_id);
                }
            }
            Fact::Participant {
                session_id,
                participant_id,
                is_host,
                joined,
            } => {
                let Some(track) = self.session(session_id) else {
                    return notices;
                };
                let known = track.participants.contains_key(participant_id);
                if !known && track.participants.len() >= MAX_PARTICIPANTS {
                    return notices;
                }
                if !known && !joined && track.anonymous > 0 {
                    // Someone counted before a restart leaves.
                    track.anonymous -= 1;
                    if *is_host {
                        track.anonymous_host = false;
                    }
                }
                let participant = track
                    .participants
                    .entry(participant_id.clone())
                    .or_default();
                participant.is_host |= *is_host;
                if *joined {
                    participant.joined = true;
                } else {
                    participant.left = true;
                }
            }
            Fact::Recording { kind, facts } => {
                if let Some(notice) = self.apply_recording(Rank::of(*kind), facts) {
                    notices.push(notice);
                }
            }
        }
        notices
    }

    fn apply_recording(&mut self, rank: Rank, facts: &RecordingFacts) -> Option<Notice> {
        if !self.recordings.contains_key(&facts.recording_id) {
            let seq = self.next_seq();
            self.recordings.insert(
                facts.recording_id.clone(),
                RecordingTrack {
                    seq,
                    ..Default::default()
                },
            );
        }
        let track = self.recordings.get_mut(&facts.recording_id)?;
        let was = track.rank;
        // Values from the most advanced event win; earlier ones only fill gaps.
        let newest = rank >= track.rank;
        track.started_at = track.started_at.or(facts.started_at);
        if facts.duration_seconds.is_some() && (newest || track.duration_seconds.is_none()) {
            track.duration_seconds = facts.duration_seconds;
        }
        if facts.url.is_some() && (newest || track.url.is_none()) {
            track.url.clone_from(&facts.url);
        }
        if newest {
            track.rank = rank;
            track.status = None;
        }
        let notice = (was < Rank::Uploaded && track.rank == Rank::Uploaded).then(|| {
            Notice::RecordingReady {
                recording_id: facts.recording_id.clone(),
                duration_seconds: track.duration_seconds,
            }
        });
        self.evict_recordings();
        notice
    }

    fn last_ended(&self) -> Option<(&String, &SessionTrack)> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.ended)
            .max_by_key(|(_, s)| s.key())
    }

    fn active(&self) -> Option<(&String, &SessionTrack)> {
        let last = self.last_ended().map(|(_, s)| s.key());
        self.sessions
            .iter()
            .filter(|(_, s)| !s.ended)
            .filter(|(_, s)| last.is_none_or(|last| s.key() > last))
            .max_by_key(|(_, s)| s.key())
    }

    /// What `status.live` should say.
    pub fn status(&self) -> LiveStatus {
        let active_session = self.active().map(|(id, s)| {
            let present: Vec<&ParticipantTrack> = s.present().collect();
            ActiveSession {
                session_id: id.clone(),
                started_at: s.started_at.as_ref().map(format_timestamp),
                participant_count: u32::try_from(present.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(s.anonymous),
                host_present: s.anonymous_host || present.iter().any(|p| p.is_host),
            }
        });
        let last_session = self.last_ended().map(|(id, s)| EndedSession {
            session_id: id.clone(),
            started_at: s.started_at.as_ref().map(format_timestamp),
            ended_at: s.ended_at.as_ref().map(format_timestamp),
        });
        let mut recordings: Vec<(&String, &RecordingTrack)> = self.recordings.iter().collect();
        recordings.sort_by_key(|(_, r)| std::cmp::Reverse((r.started_at, r.seq)));
        let recordings = recordings
            .into_iter()
            .take(MAX_RECORDINGS)
            .map(|(id, r)| RecordingSummary {
                id: id.clone(),
                status: r
                    .status
                    .clone()
                    .unwrap_or_else(|| r.rank.as_str().to_owned()),
                duration_seconds: r.duration_seconds,
                url: if r.rank == Rank::Uploaded {
                    r.url.clone()
                } else {
                    None
                },
            })
            .collect();
        LiveStatus {
            active_session,
            last_session,
            recordings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Option<Timestamp> {
        Some(text.parse().unwrap())
    }

    fn started(session: &str, at: &str) -> Fact {
        Fact::SessionStarted {
            session_id: session.into(),
            started_at: ts(at),
        }
    }

    fn ended(session: &str, from: &str, to: &str) -> Fact {
        Fact::SessionEnded {
            session_id: session.into(),
            started_at: ts(from),
            ended_at: ts(to),
        }
    }

    fn participant(session: &str, id: &str, host: bool, joined: bool) -> Fact {
        Fact::Participant {
            session_id: session.into(),
            participant_id: id.into(),
            is_host: host,
            joined,
        }
    }

    fn recording(kind: EventKind, id: &str, duration: Option<f64>, url: Option<&str>) -> Fact {
        Fact::Recording {
            kind,
            facts: RecordingFacts {
                recording_id: id.into(),
                session_id: "s1".into(),
                started_at: if kind == EventKind::RecordingStarted {
                    None
                } else {
                    ts("2030-01-01T10:05:00Z")
                },
                duration_seconds: duration,
                url: url.map(str::to_owned),
            },
        }
    }

    /// A whole meeting, in the order the service sends it.
    fn meeting() -> Vec<Fact> {
        vec![
            started("s1", "2030-01-01T10:00:00Z"),
            participant("s1", "host", true, true),
            participant("s1", "guest", false, true),
            participant("s1", "guest", false, false),
            recording(EventKind::RecordingStarted, "rec", None, None),
            recording(EventKind::RecordingStopped, "rec", Some(60.0), None),
            participant("s1", "host", true, false),
            ended("s1", "2030-01-01T10:00:00Z", "2030-01-01T10:30:00Z"),
            recording(
                EventKind::RecordingReady,
                "rec",
                Some(60.0),
                Some("https://storage.example/rec.mp4"),
            ),
        ]
    }

    fn run(facts: &[Fact]) -> (LiveStatus, Vec<Notice>) {
        let mut state = RoomLive::default();
        let notices = facts.iter().flat_map(|f| state.apply(f)).collect();
        (state.status(), notices)
    }

    fn expected_end() -> LiveStatus {
        LiveStatus {
            active_session: None,
            last_session: Some(EndedSession {
                session_id: "s1".into(),
                started_at: Some("2030-01-01T10:00:00.000Z".into()),
                ended_at: Some("2030-01-01T10:30:00.000Z".into()),
            }),
            recordings: vec![RecordingSummary {
                id: "rec".into(),
                status: "uploaded".into(),
                duration_seconds: Some(60.0),
                url: Some("https://storage.example/rec.mp4".into()),
            }],
        }
    }

    #[test]
    fn a_meeting_in_order() {
        let facts = meeting();
        let mut state = RoomLive::default();
        for fact in &facts[..3] {
            state.apply(fact);
        }
        assert_eq!(
            state.status().active_session,
            Some(ActiveSession {
                session_id: "s1".into(),
                started_at: Some("2030-01-01T10:00:00.000Z".into()),
                participant_count: 2,
                host_present: true,
            })
        );
        state.apply(&facts[3]);
        assert_eq!(
            state.status().active_session.map(|a| a.participant_count),
            Some(1)
        );
        let (status, notices) = run(&facts);
        assert_eq!(status, expected_end());
        assert_eq!(
            notices,
            [
                Notice::SessionStarted {
                    session_id: "s1".into()
                },
                Notice::SessionEnded {
                    session_id: "s1".into(),
                    seconds: Some(1800)
                },
                Notice::RecordingReady {
                    recording_id: "rec".into(),
                    duration_seconds: Some(60.0)
                },
            ]
        );
    }

    #[test]
    fn duplicates_change_nothing_and_notify_once() {
        let facts: Vec<Fact> = meeting().into_iter().flat_map(|f| [f.clone(), f]).collect();
        let (status, notices) = run(&facts);
        assert_eq!(status, expected_end());
        assert_eq!(notices.len(), 3, "{notices:?}");
        // Replaying everything again is a no-op.
        let mut state = RoomLive::default();
        for fact in &facts {
            state.apply(fact);
        }
        let before = state.status();
        let again: Vec<Notice> = facts.iter().flat_map(|f| state.apply(f)).collect();
        assert_eq!(state.status(), before);
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn any_order_gives_the_same_status() {
        let facts = meeting();
        // Every rotation and the reverse, plus a fixed pseudo-random shuffle per seed.
        let mut orders: Vec<Vec<Fact>> = (0..facts.len())
            .map(|k| {
                let mut rotated = facts.clone();
                rotated.rotate_left(k);
                rotated
            })
            .collect();
        orders.push(facts.iter().rev().cloned().collect());
        for seed in 1..50u64 {
            let mut shuffled = facts.clone();
            let mut x = seed;
            for i in (1..shuffled.len()).rev() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            orders.push(shuffled);
        }
        for order in orders {
            let (status, notices) = run(&order);
            assert_eq!(status, expected_end(), "{order:#?}");
            assert!(
                notices
                    .iter()
                    .filter(|n| matches!(n, Notice::RecordingReady { .. }))
                    .count()
                    == 1
            );
        }
    }

    #[test]
    fn a_left_that_overtakes_its_joined_counts_the_participant_out() {
        let (status, _) = run(&[
            started("s1", "2030-01-01T10:00:00Z"),
            participant("s1", "a", false, false),
            participant("s1", "a", false, true),
            participant("s1", "b", true, true),
        ]);
        let active = status.active_session.unwrap();
        assert_eq!(active.participant_count, 1);
        assert!(active.host_present);
    }

    #[test]
    fn late_events_for_an_ended_session_are_ignored() {
        let mut state = RoomLive::default();
        state.apply(&started("s1", "2030-01-01T10:00:00Z"));
        state.apply(&ended("s1", "2030-01-01T10:00:00Z", "2030-01-01T10:30:00Z"));
        state.apply(&started("s2", "2030-01-01T11:00:00Z"));
        state.apply(&participant("s2", "x", false, true));
        // Late: a join and a start of the old session.
        state.apply(&participant("s1", "late", true, true));
        let notices = state.apply(&started("s1", "2030-01-01T10:00:00Z"));
        assert!(notices.is_empty());
        let status = state.status();
        let active = status.active_session.unwrap();
        assert_eq!(active.session_id, "s2");
        assert_eq!(active.participant_count, 1);
        assert!(!active.host_present);
        assert_eq!(status.last_session.unwrap().session_id, "s1");
        // A start of a session older than the last ended one does not become active.
        state.apply(&ended("s2", "2030-01-01T11:00:00Z", "2030-01-01T11:10:00Z"));
        state.apply(&started("s0", "2030-01-01T09:00:00Z"));
        let status = state.status();
        assert_eq!(status.active_session, None);
        assert_eq!(status.last_session.unwrap().session_id, "s2");
    }

    #[test]
    fn sessions_are_bounded_and_forgotten_ones_stay_ended() {
        let mut state = RoomLive::default();
        for i in 0..40 {
            let id = format!("s{i:02}");
            let from = format!("2030-01-01T{:02}:{:02}:00Z", i / 60, i % 60);
            let to = format!("2030-01-01T{:02}:{:02}:30Z", i / 60, i % 60);
            state.apply(&started(&id, &from));
            state.apply(&ended(&id, &from, &to));
        }
        assert!(state.sessions.len() <= MAX_SESSIONS);
        // A very late join for a forgotten session changes nothing.
        let before = state.status();
        state.apply(&participant("s00", "p", true, true));
        assert_eq!(state.status(), before);
        assert_eq!(before.last_session.unwrap().session_id, "s39");
    }

    #[test]
    fn recordings_keep_their_most_advanced_state_and_are_bounded() {
        let (status, _) = run(&[
            recording(
                EventKind::RecordingReady,
                "rec",
                Some(61.0),
                Some("https://u"),
            ),
            recording(EventKind::RecordingStopped, "rec", Some(60.0), None),
            recording(EventKind::RecordingStarted, "rec", None, None),
        ]);
        assert_eq!(status.recordings.len(), 1);
        assert_eq!(status.recordings[0].status, "uploaded");
        assert_eq!(status.recordings[0].duration_seconds, Some(61.0));
        assert_eq!(status.recordings[0].url.as_deref(), Some("https://u"));

        let mut state = RoomLive::default();
        for i in 0..(MAX_RECORDING_TRACKS + 5) {
            state.apply(&Fact::Recording {
                kind: EventKind::RecordingStopped,
                facts: RecordingFacts {
                    recording_id: format!("r{i}"),
                    session_id: "s".into(),
                    started_at: ts(&format!("2030-01-01T10:{:02}:00Z", i)),
                    duration_seconds: Some(1.0),
                    url: None,
                },
            });
        }
        let shown = state.status().recordings;
        assert_eq!(shown.len(), MAX_RECORDINGS);
        assert_eq!(shown[0].id, format!("r{}", MAX_RECORDING_TRACKS + 4));
        assert!(
            shown
                .iter()
                .all(|r| r.url.is_none() && r.status == "stopped")
        );
        assert!(state.recordings.len() <= MAX_RECORDING_TRACKS);
    }

    #[test]
    fn state_read_back_from_status_continues_where_it_was() {
        let mut state = RoomLive::default();
        let facts = meeting();
        for fact in &facts[..3] {
            state.apply(fact);
        }
        state.apply(&recording(
            EventKind::RecordingStopped,
            "old",
            Some(5.0),
            None,
        ));
        let written = state.status();
        // A restart: only status is left.
        let mut seeded = RoomLive::seeded(Some(&written));
        assert_eq!(seeded.status(), written);
        // Duplicates of what was already known announce nothing.
        assert!(seeded.apply(&facts[0]).is_empty());
        // The guest who was counted leaves; the host stays.
        seeded.apply(&participant("s1", "guest", false, false));
        let active = seeded.status().active_session.unwrap();
        assert_eq!((active.participant_count, active.host_present), (1, true));
        for fact in &facts[4..] {
            seeded.apply(fact);
        }
        let status = seeded.status();
        assert_eq!(status.active_session, None);
        assert_eq!(status.last_session, expected_end().last_session);
        assert_eq!(status.recordings[0].id, "rec");
        assert_eq!(status.recordings[1].id, "old");
    }
}
