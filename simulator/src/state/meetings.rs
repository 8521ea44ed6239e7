//! Simulated meetings: sessions, participants and recordings, and the events they emit.

use jiff::Timestamp;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::State;
use super::rooms::secs;
use super::storage::StoredObject;
use super::values::{CallbackKind, RoomType};
use crate::clock::format_ts;
use crate::config::{ParticipantEventSpelling, RecordingReadyEvent};
use crate::errors::{ApiError, ControlError};

/// Recording lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// Recording in progress.
    Started,
    /// Stopped, not yet uploaded.
    Stopped,
    /// Paused.
    Paused,
    /// Uploaded and downloadable.
    Uploaded,
}

/// A participant of a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    /// Participant id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Whether they host the session.
    pub is_host: bool,
    /// Participant type as sent in events.
    pub participant_type: String,
    /// Join time.
    pub joined_at: Timestamp,
    /// Leave time.
    pub left_at: Option<Timestamp>,
}

/// A meeting session in a room.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Session id (Video API style).
    pub id: String,
    /// Room it runs in.
    pub room_id: Uuid,
    /// Owning application.
    pub application_id: String,
    /// Start time.
    pub started_at: Timestamp,
    /// End time.
    pub ended_at: Option<Timestamp>,
    /// Everyone who joined.
    pub participants: Vec<Participant>,
}

/// A session recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recording {
    /// Recording id.
    pub id: Uuid,
    /// Session recorded.
    pub session_id: String,
    /// Room of the session.
    pub room_id: Uuid,
    /// Owning application.
    pub application_id: String,
    /// Start time.
    pub started_at: Timestamp,
    /// Stop time.
    pub ended_at: Option<Timestamp>,
    /// Status.
    pub status: RecordingStatus,
    /// Download URL once uploaded.
    pub url: Option<String>,
    /// When the stopped recording will be uploaded.
    pub upload_due: Option<Timestamp>,
}

impl Recording {
    fn duration_secs(&self) -> i64 {
        self.ended_at
            .map(|end| end.duration_since(self.started_at).as_secs())
            .unwrap_or(0)
    }
}

impl Session {
    /// Whether anyone who joined has not left yet.
    fn has_participants(&self) -> bool {
        self.participants.iter().any(|p| p.left_at.is_none())
    }
}

fn session_id() -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(56)
        .map(char::from)
        .collect();
    format!("2_MX4{tail}-fg")
}

fn not_found(what: &str, id: impl std::fmt::Display) -> ControlError {
    ControlError::NotFound(format!("{what} {id}"))
}

impl State {
    fn session_mut(&mut self, id: &str) -> Result<&mut Session, ControlError> {
        self.sessions
            .get_mut(id)
            .ok_or_else(|| not_found("session", id))
    }

    fn active_session(&mut self, id: &str) -> Result<&mut Session, ControlError> {
        let session = self.session_mut(id)?;
        if session.ended_at.is_some() {
            return Err(ControlError::Conflict(format!("session {id} has ended")));
        }
        Ok(session)
    }

    /// Queues an event addressed to the room's URL, else the application's (also when the
    /// room has been purged).
    fn emit_for_room(
        &mut self,
        app_id: &str,
        room_id: Uuid,
        kind: CallbackKind,
        name: &str,
        payload: Value,
    ) {
        let urls = self
            .rooms
            .get(&room_id)
            .map(|room| room.callback_urls.clone());
        self.emit(app_id, urls.as_ref(), kind, name, payload);
    }

    /// A duration in seconds as callbacks send it: a number, or a string when
    /// `duration_as_string` is on.
    fn duration_value(&self, secs: i64) -> Value {
        if self.behavior.duration_as_string {
            json!(secs.to_string())
        } else {
            json!(secs)
        }
    }

    /// Starts a session in an available room; auto-recording rooms start recording too.
    pub fn start_session(
        &mut self,
        room_id: Uuid,
        now: Timestamp,
    ) -> Result<Session, ControlError> {
        let room = self
            .rooms
            .get(&room_id)
            .ok_or_else(|| not_found("room", room_id))?;
        if room.expired {
            return Err(ControlError::Conflict(format!(
                "room {room_id} is not available"
            )));
        }
        let busy = self
            .sessions
            .values()
            .any(|s| s.room_id == room_id && s.ended_at.is_none());
        if busy {
            return Err(ControlError::Conflict(format!(
                "room {room_id} already has a session"
            )));
        }
        let session = Session {
            id: session_id(),
            room_id,
            application_id: room.application_id.clone(),
            started_at: now,
            ended_at: None,
            participants: Vec::new(),
        };
        let auto_record = room.recording_options.auto_record;
        self.sessions.insert(session.id.clone(), session.clone());
        let payload = json!({
            "event": "session:started",
            "session_id": session.id,
            "room_id": room_id,
            "started_at": format_ts(now),
        });
        self.emit_for_room(
            &session.application_id,
            room_id,
            CallbackKind::Sessions,
            "session:started",
            payload,
        );
        if auto_record {
            self.start_recording(&session.id, now)?;
        }
        Ok(session)
    }

    fn participant_event(&mut self, session_id: &str, participant: &Participant, joined: bool) {
        let Some((room_id, app)) = self
            .sessions
            .get(session_id)
            .map(|s| (s.room_id, s.application_id.clone()))
        else {
            return;
        };
        let verb = if joined { "joined" } else { "left" };
        let name = match self.behavior.participant_events {
            ParticipantEventSpelling::Session => format!("session:participant:{verb}"),
            ParticipantEventSpelling::Short => format!("participant:{verb}"),
        };
        let payload = json!({
            "event": name,
            "participant_id": participant.id,
            "session_id": session_id,
            "room_id": room_id,
            "name": participant.name,
            "type": participant.participant_type,
            "is_host": participant.is_host,
        });
        self.emit_for_room(&app, room_id, CallbackKind::Sessions, &name, payload);
    }

    /// A participant joins a running session in an available room; an instant room stops
    /// expiring while anyone is present.
    pub fn join_session(
        &mut self,
        session_id: &str,
        name: &str,
        is_host: bool,
        now: Timestamp,
    ) -> Result<Participant, ControlError> {
        let room_id = self.active_session(session_id)?.room_id;
        if self.rooms.get(&room_id).is_none_or(|r| r.expired) {
            return Err(ControlError::Conflict(format!(
                "room {room_id} is not available"
            )));
        }
        let participant = Participant {
            id: Uuid::new_v4(),
            name: name.to_string(),
            is_host,
            participant_type: if is_host { "host" } else { "guest" }.to_string(),
            joined_at: now,
            left_at: None,
        };
        self.active_session(session_id)?
            .participants
            .push(participant.clone());
        self.room_occupied(room_id, now);
        self.participant_event(session_id, &participant, true);
        Ok(participant)
    }

    /// A participant leaves a running session; when the last one leaves an instant room, it
    /// expires `instant_lifetime_secs` later.
    pub fn leave_session(
        &mut self,
        session_id: &str,
        participant_id: Uuid,
        now: Timestamp,
    ) -> Result<Participant, ControlError> {
        let session = self.active_session(session_id)?;
        let participant = session
            .participants
            .iter_mut()
            .find(|p| p.id == participant_id && p.left_at.is_none())
            .ok_or_else(|| not_found("participant", participant_id))?;
        participant.left_at = Some(now);
        let participant = participant.clone();
        let (room_id, vacated) = (session.room_id, !session.has_participants());
        if vacated {
            self.room_vacated(room_id, now);
        }
        self.participant_event(session_id, &participant, false);
        Ok(participant)
    }

    /// Ends a session: stops recordings, lets everyone leave, closes use-once rooms.
    pub fn end_session(
        &mut self,
        session_id: &str,
        now: Timestamp,
    ) -> Result<Session, ControlError> {
        self.active_session(session_id)?;
        let running: Vec<Uuid> = self
            .recordings
            .values()
            .filter(|r| r.session_id == session_id && r.status == RecordingStatus::Started)
            .map(|r| r.id)
            .collect();
        for id in running {
            self.finish_recording(id, now)?;
        }
        let present: Vec<Uuid> = self
            .sessions
            .get(session_id)
            .map(|s| {
                s.participants
                    .iter()
                    .filter(|p| p.left_at.is_none())
                    .map(|p| p.id)
                    .collect()
            })
            .unwrap_or_default();
        for pid in present {
            self.leave_session(session_id, pid, now)?;
        }
        let session = self.session_mut(session_id)?;
        session.ended_at = Some(now);
        let session = session.clone();
        let payload = json!({
            "event": "session:ended",
            "session_id": session.id,
            "room_id": session.room_id,
            "started_at": format_ts(session.started_at),
            "ended_at": format_ts(now),
        });
        self.emit_for_room(
            &session.application_id,
            session.room_id,
            CallbackKind::Sessions,
            "session:ended",
            payload,
        );
        let close = self
            .rooms
            .get(&session.room_id)
            .is_some_and(|r| r.room_type == RoomType::LongTerm && r.expire_after_use);
        if close {
            self.expire_room(session.room_id, now);
        }
        Ok(session)
    }

    /// Starts recording a running session.
    pub fn start_recording(
        &mut self,
        session_id: &str,
        now: Timestamp,
    ) -> Result<Recording, ControlError> {
        let session = self.active_session(session_id)?;
        let (room_id, app) = (session.room_id, session.application_id.clone());
        let recording_now = self
            .recordings
            .values()
            .any(|r| r.session_id == session_id && r.status == RecordingStatus::Started);
        if recording_now {
            return Err(ControlError::Conflict(format!(
                "session {session_id} is already recording"
            )));
        }
        let recording = Recording {
            id: Uuid::new_v4(),
            session_id: session_id.to_string(),
            room_id,
            application_id: app,
            started_at: now,
            ended_at: None,
            status: RecordingStatus::Started,
            url: None,
            upload_due: None,
        };
        self.recordings.insert(recording.id, recording.clone());
        let payload = json!({
            "event": "recording:started",
            "recording_id": recording.id,
            "session_id": session_id,
        });
        self.emit_for_room(
            &recording.application_id,
            room_id,
            CallbackKind::Recordings,
            "recording:started",
            payload,
        );
        Ok(recording)
    }

    /// Stops a recording; it uploads after the configured delay.
    pub fn stop_recording(&mut self, id: Uuid, now: Timestamp) -> Result<Recording, ControlError> {
        let recording = self
            .recordings
            .get(&id)
            .ok_or_else(|| not_found("recording", id))?;
        let auto = self
            .rooms
            .get(&recording.room_id)
            .is_some_and(|r| r.recording_options.auto_record);
        if auto {
            return Err(ControlError::Conflict(
                "auto_record recordings cannot be stopped; end the session".into(),
            ));
        }
        self.finish_recording(id, now)
    }

    fn finish_recording(&mut self, id: Uuid, now: Timestamp) -> Result<Recording, ControlError> {
        let delay = secs(self.behavior.recording_upload_delay_secs);
        let recording = self
            .recordings
            .get_mut(&id)
            .ok_or_else(|| not_found("recording", id))?;
        if recording.status != RecordingStatus::Started {
            return Err(ControlError::Conflict(format!(
                "recording {id} is not running"
            )));
        }
        recording.status = RecordingStatus::Stopped;
        recording.ended_at = Some(now);
        recording.upload_due = Some(now.saturating_add(delay).unwrap_or(now));
        let recording = recording.clone();
        let payload = json!({
            "event": "recording:ended",
            "recording_id": recording.id,
            "session_id": recording.session_id,
            "started_at": format_ts(recording.started_at),
            "ended_at": format_ts(now),
            "duration": self.duration_value(recording.duration_secs()),
        });
        self.emit_for_room(
            &recording.application_id,
            recording.room_id,
            CallbackKind::Recordings,
            "recording:ended",
            payload,
        );
        Ok(recording)
    }

    /// Uploads a stopped recording now and announces it.
    pub fn upload_recording(
        &mut self,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Recording, ControlError> {
        let key = format!("recordings/{id}.mp4");
        let url = format!("{}/_storage/{}/{key}", self.public_base, super::BUCKET);
        let recording = self
            .recordings
            .get_mut(&id)
            .ok_or_else(|| not_found("recording", id))?;
        if recording.status != RecordingStatus::Stopped {
            return Err(ControlError::Conflict(format!(
                "recording {id} is not stopped"
            )));
        }
        recording.status = RecordingStatus::Uploaded;
        recording.upload_due = None;
        recording.url = Some(url.clone());
        let recording = recording.clone();
        self.objects.insert(
            key,
            StoredObject::permanent(
                &recording.application_id,
                "video/mp4",
                b"simulated recording".to_vec(),
                now,
            ),
        );
        let name = match self.behavior.recording_ready_event {
            RecordingReadyEvent::Ready => "recording:ready",
            RecordingReadyEvent::Uploaded => "recording:uploaded",
        };
        let payload = json!({
            "event": name,
            "recording_id": recording.id,
            "session_id": recording.session_id,
            "room_id": recording.room_id,
            "started_at": format_ts(recording.started_at),
            "ended_at": recording.ended_at.map(format_ts),
            "duration": self.duration_value(recording.duration_secs()),
            "url": url,
        });
        self.emit_for_room(
            &recording.application_id,
            recording.room_id,
            CallbackKind::Recordings,
            name,
            payload,
        );
        Ok(recording)
    }

    pub(crate) fn upload_due_recordings(&mut self, now: Timestamp) {
        let due: Vec<Uuid> = self
            .recordings
            .values()
            .filter(|r| {
                r.status == RecordingStatus::Stopped && r.upload_due.is_some_and(|t| t <= now)
            })
            .map(|r| r.id)
            .collect();
        for id in due {
            // Only stopped recordings were selected, so the upload cannot conflict.
            let _ = self.upload_recording(id, now);
        }
    }

    /// `GET /recordings/{id}`.
    pub fn recording(&self, app_id: &str, id: &str) -> Result<&Recording, ApiError> {
        Uuid::parse_str(id)
            .ok()
            .and_then(|uuid| self.recordings.get(&uuid))
            .filter(|r| r.application_id == app_id)
            .ok_or_else(|| ApiError::NotFound(format!("Recording {id} was not found")))
    }

    /// `DELETE /recordings/{id}`: only uploaded recordings. Others get the spec's 403, or
    /// the live service's 404 `Could not find recording` when
    /// `pending_recording_delete_not_found` is on.
    pub fn delete_recording(&mut self, app_id: &str, id: &str) -> Result<(), ApiError> {
        let recording = self.recording(app_id, id)?;
        if recording.status != RecordingStatus::Uploaded {
            if self.behavior.pending_recording_delete_not_found {
                return Err(ApiError::NotFound("Could not find recording".into()));
            }
            return Err(ApiError::Forbidden(
                "Can only delete recordings in 'uploaded' status".into(),
            ));
        }
        let rid = recording.id;
        self.recordings.remove(&rid);
        self.objects.remove(&format!("recordings/{rid}.mp4"));
        Ok(())
    }

    /// `GET /sessions/{id}/recordings`.
    pub fn session_recordings(
        &self,
        app_id: &str,
        session_id: &str,
    ) -> Result<Vec<Recording>, ApiError> {
        let known = self
            .sessions
            .get(session_id)
            .is_some_and(|s| s.application_id == app_id);
        if !known {
            return Err(ApiError::NotFound(format!(
                "Failed to find session recordings by id: {session_id}"
            )));
        }
        let mut list: Vec<Recording> = self
            .recordings
            .values()
            .filter(|r| r.session_id == session_id)
            .cloned()
            .collect();
        list.sort_by_key(|r| r.started_at);
        Ok(list)
    }

    /// Every session of `app_id`.
    pub fn sessions_of(&self, app_id: &str) -> Vec<Session> {
        let mut list: Vec<Session> = self
            .sessions
            .values()
            .filter(|s| s.application_id == app_id)
            .cloned()
            .collect();
        list.sort_by_key(|s| s.started_at);
        list
    }

    /// Every recording of `app_id`.
    pub fn recordings_of(&self, app_id: &str) -> Vec<Recording> {
        let mut list: Vec<Recording> = self
            .recordings
            .values()
            .filter(|r| r.application_id == app_id)
            .cloned()
            .collect();
        list.sort_by_key(|r| r.started_at);
        list
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::super::rooms::CreateRoom;
    use super::super::test_support::*;
    use super::super::values::CallbackUrls;
    use super::*;

    fn names(state: &mut State) -> Vec<String> {
        state.take_events().into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn a_meeting_emits_the_event_sequence() {
        let mut state = state();
        state
            .set_application_callbacks(
                APP,
                CallbackUrls {
                    sessions_callback_url: Some("http://app/sessions".into()),
                    ..CallbackUrls::default()
                },
            )
            .unwrap();
        let req = CreateRoom {
            display_name: "r".into(),
            callback_urls: CallbackUrls {
                recordings_callback_url: Some("http://room/rec".into()),
                ..CallbackUrls::default()
            },
            ..CreateRoom::default()
        };
        let room = state.create_room(APP, req, t0()).unwrap();
        let session = state.start_session(room.id, t0()).unwrap();
        let host = state.join_session(&session.id, "Ann", true, t0()).unwrap();
        state.join_session(&session.id, "Bob", false, t0()).unwrap();
        state.leave_session(&session.id, host.id, t0()).unwrap();
        let rec = state.start_recording(&session.id, t0()).unwrap();
        let later = t0().saturating_add(SignedDuration::from_secs(90)).unwrap();
        state.end_session(&session.id, later).unwrap();
        let events = state.take_events();
        let got: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            got,
            [
                "session:started",
                "session:participant:joined",
                "session:participant:joined",
                "session:participant:left",
                "recording:started",
                "recording:ended",
                "session:participant:left",
                "session:ended",
            ]
        );
        assert_eq!(events[0].url.as_deref(), Some("http://app/sessions"));
        assert_eq!(events[4].url.as_deref(), Some("http://room/rec"));
        assert_eq!(events[5].payload["duration"], 90);
        assert_eq!(
            state.recording(APP, &rec.id.to_string()).unwrap().status,
            RecordingStatus::Stopped
        );
        let err = state
            .delete_recording(APP, &rec.id.to_string())
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        state.sweep(later.saturating_add(SignedDuration::from_secs(30)).unwrap());
        assert_eq!(names(&mut state), ["recording:ready"]);
        let uploaded = state.recording(APP, &rec.id.to_string()).unwrap();
        assert!(uploaded.url.is_some());
        assert_eq!(state.session_recordings(APP, &session.id).unwrap().len(), 1);
        assert!(state.session_recordings(OTHER, &session.id).is_err());
        state.delete_recording(APP, &rec.id.to_string()).unwrap();
        assert!(state.recording(APP, &rec.id.to_string()).is_err());
    }

    fn at(mins: i64) -> Timestamp {
        t0().saturating_add(SignedDuration::from_mins(mins))
            .unwrap()
    }

    fn instant_room(state: &mut State) -> Uuid {
        let req = CreateRoom {
            display_name: "r".into(),
            ..CreateRoom::default()
        };
        state.create_room(APP, req, t0()).unwrap().id
    }

    fn expires_at(state: &State, room: Uuid) -> Timestamp {
        state.rooms[&room].expires_at
    }

    #[test]
    fn participants_keep_an_instant_room_alive() {
        let mut state = state();
        let room = instant_room(&mut state);
        let session = state.start_session(room, at(2)).unwrap();
        // A session alone does not keep the room alive; the first participant does.
        let ann = state.join_session(&session.id, "Ann", true, at(5)).unwrap();
        assert_eq!(expires_at(&state, room), at(15));
        let bob = state
            .join_session(&session.id, "Bob", false, at(6))
            .unwrap();
        for minute in [10, 30, 60] {
            state.sweep(at(minute));
            assert!(!state.rooms[&room].expired, "minute {minute}");
            assert_eq!(expires_at(&state, room), at(minute + 10));
        }
        state.leave_session(&session.id, ann.id, at(61)).unwrap();
        assert_eq!(expires_at(&state, room), at(70), "Bob is still there");
        state.sweep(at(65));
        state.leave_session(&session.id, bob.id, at(65)).unwrap();
        assert_eq!(expires_at(&state, room), at(75));
        state.sweep(at(74));
        assert!(!state.rooms[&room].expired);
        state.take_events();
        state.sweep(at(75));
        assert!(state.rooms[&room].expired);
        let events = state.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].payload["expires_at"], format_ts(at(75)));
        let err = state.join_session(&session.id, "Cy", false, at(76));
        assert!(matches!(err, Err(ControlError::Conflict(_))), "{err:?}");
    }

    #[test]
    fn leaving_early_never_shortens_the_first_lifetime() {
        let mut state = state();
        let room = instant_room(&mut state);
        let session = state.start_session(room, t0()).unwrap();
        let ann = state.join_session(&session.id, "Ann", true, t0()).unwrap();
        state.leave_session(&session.id, ann.id, t0()).unwrap();
        assert_eq!(expires_at(&state, room), at(10));
        // Ending the session makes the remaining participants leave, with the same effect.
        let bob = state.join_session(&session.id, "Bob", true, at(8)).unwrap();
        assert_eq!(bob.left_at, None);
        state.sweep(at(12));
        assert!(!state.rooms[&room].expired);
        state.end_session(&session.id, at(12)).unwrap();
        assert_eq!(expires_at(&state, room), at(22));
        state.sweep(at(22));
        assert!(state.rooms[&room].expired);
    }

    #[test]
    fn long_term_rooms_keep_their_expiry_during_sessions() {
        let mut state = state();
        let req = CreateRoom {
            display_name: "lt".into(),
            room_type: RoomType::LongTerm,
            expires_at: Some(at(60)),
            ..CreateRoom::default()
        };
        let room = state.create_room(APP, req, t0()).unwrap().id;
        let session = state.start_session(room, at(55)).unwrap();
        let ann = state
            .join_session(&session.id, "Ann", true, at(55))
            .unwrap();
        state.sweep(at(60));
        assert!(state.rooms[&room].expired);
        assert_eq!(expires_at(&state, room), at(60));
        state.leave_session(&session.id, ann.id, at(61)).unwrap();
        assert_eq!(expires_at(&state, room), at(60));
    }

    #[test]
    fn live_durations_are_strings() {
        for (as_string, expected) in [(false, json!(90)), (true, json!("90"))] {
            let mut state = state();
            state.behavior.duration_as_string = as_string;
            let room = instant_room(&mut state);
            let session = state.start_session(room, t0()).unwrap();
            let rec = state.start_recording(&session.id, t0()).unwrap();
            state
                .stop_recording(
                    rec.id,
                    t0().saturating_add(SignedDuration::from_secs(90)).unwrap(),
                )
                .unwrap();
            state.upload_recording(rec.id, at(5)).unwrap();
            let events = state.take_events();
            let durations: Vec<&Value> = events
                .iter()
                .filter_map(|e| e.payload.get("duration"))
                .collect();
            assert_eq!(durations, [&expected, &expected]);
        }
    }

    #[test]
    fn deleting_a_pending_recording_is_403_or_live_404() {
        let mut state = state();
        let room = instant_room(&mut state);
        let session = state.start_session(room, t0()).unwrap();
        let rec = state.start_recording(&session.id, t0()).unwrap();
        let id = rec.id.to_string();
        let err = state.delete_recording(APP, &id).unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert_eq!(
            err.body()["message"],
            "Can only delete recordings in 'uploaded' status"
        );
        state.behavior.pending_recording_delete_not_found = true;
        let err = state.delete_recording(APP, &id).unwrap_err();
        assert_eq!(
            err.body(),
            json!({"status": 404, "name": "NotFoundError", "message": "Could not find recording", "errors": []})
        );
        assert!(state.recording(APP, &id).is_ok(), "nothing was deleted");
    }

    #[test]
    fn expire_after_use_closes_the_room() {
        let mut state = state();
        state.behavior.participant_events = ParticipantEventSpelling::Short;
        let req = CreateRoom {
            display_name: "r".into(),
            room_type: RoomType::LongTerm,
            expires_at: Some(t0().saturating_add(SignedDuration::from_hours(5)).unwrap()),
            expire_after_use: Some(true),
            ..CreateRoom::default()
        };
        let room = state.create_room(APP, req, t0()).unwrap();
        let session = state.start_session(room.id, t0()).unwrap();
        assert!(state.start_session(room.id, t0()).is_err());
        state.join_session(&session.id, "Ann", true, t0()).unwrap();
        state.end_session(&session.id, t0()).unwrap();
        assert_eq!(
            names(&mut state),
            [
                "session:started",
                "participant:joined",
                "participant:left",
                "session:ended",
                "room:expired",
            ]
        );
        assert!(state.start_session(room.id, t0()).is_err());
    }
}
