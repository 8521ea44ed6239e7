//! Parsing of callback bodies, leniently: every spelling of an event name
//! seen in the contract or from the service, ids as strings or numbers,
//! numbers as numbers or numeric strings, booleans as booleans, numbers or
//! strings, and timestamps that cannot be read are simply left out.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::meetings::parse_timestamp;

/// The callback events the operator understands, by canonical name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `room:expired`.
    RoomExpired,
    /// `session:started`.
    SessionStarted,
    /// `session:ended`.
    SessionEnded,
    /// `session:participant:joined` or `participant:joined`.
    ParticipantJoined,
    /// `session:participant:left` or `participant:left`.
    ParticipantLeft,
    /// `recording:started`.
    RecordingStarted,
    /// `recording:ended` or `recording:stopped`.
    RecordingStopped,
    /// `recording:ready` or `recording:uploaded`.
    RecordingReady,
}

impl EventKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [Self; 8] = [
        Self::RoomExpired,
        Self::SessionStarted,
        Self::SessionEnded,
        Self::ParticipantJoined,
        Self::ParticipantLeft,
        Self::RecordingStarted,
        Self::RecordingStopped,
        Self::RecordingReady,
    ];

    /// The kind an event name stands for, in any known spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "room:expired" => Self::RoomExpired,
            "session:started" => Self::SessionStarted,
            "session:ended" => Self::SessionEnded,
            "session:participant:joined" | "participant:joined" => Self::ParticipantJoined,
            "session:participant:left" | "participant:left" => Self::ParticipantLeft,
            "recording:started" => Self::RecordingStarted,
            "recording:ended" | "recording:stopped" => Self::RecordingStopped,
            "recording:ready" | "recording:uploaded" => Self::RecordingReady,
            _ => return None,
        })
    }

    /// The canonical name, used as the `event` label of the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomExpired => "room:expired",
            Self::SessionStarted => "session:started",
            Self::SessionEnded => "session:ended",
            Self::ParticipantJoined => "session:participant:joined",
            Self::ParticipantLeft => "session:participant:left",
            Self::RecordingStarted => "recording:started",
            Self::RecordingStopped => "recording:ended",
            Self::RecordingReady => "recording:ready",
        }
    }
}

/// A recording event's facts.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordingFacts {
    /// Recording id.
    pub recording_id: String,
    /// Session recorded.
    pub session_id: String,
    /// Start of the recording, when sent.
    pub started_at: Option<Timestamp>,
    /// Length in seconds, when sent.
    pub duration_seconds: Option<f64>,
    /// Download URL, when sent.
    pub url: Option<String>,
}

/// What one callback says.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// The room can no longer start sessions.
    RoomExpired,
    /// A session started.
    SessionStarted {
        /// Session id.
        session_id: String,
        /// Start time, when sent.
        started_at: Option<Timestamp>,
    },
    /// A session ended.
    SessionEnded {
        /// Session id.
        session_id: String,
        /// Start time, when sent.
        started_at: Option<Timestamp>,
        /// End time, when sent.
        ended_at: Option<Timestamp>,
    },
    /// Someone joined (`joined`) or left a session.
    Participant {
        /// Session id.
        session_id: String,
        /// Participant id.
        participant_id: String,
        /// Whether they host the session.
        is_host: bool,
        /// Joined (true) or left (false).
        joined: bool,
    },
    /// A recording reached the state of `kind` (started, stopped or ready).
    Recording {
        /// Which recording event.
        kind: EventKind,
        /// What it says.
        facts: RecordingFacts,
    },
}

impl Fact {
    /// The session the fact is about, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::RoomExpired => None,
            Self::SessionStarted { session_id, .. }
            | Self::SessionEnded { session_id, .. }
            | Self::Participant { session_id, .. } => Some(session_id),
            Self::Recording { facts, .. } => Some(&facts.session_id),
        }
    }
}

/// A parsed callback.
#[derive(Clone, Debug, PartialEq)]
pub struct Callback {
    /// Canonical event.
    pub kind: EventKind,
    /// The remote room, when the event names it.
    pub room_id: Option<String>,
    /// What it says.
    pub fact: Fact,
}

/// Why a body was refused or set aside.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    /// No `event` string.
    #[error("the body has no \"event\" name")]
    NoEventName,
    /// An event name the operator does not handle (answered, not an error for the sender).
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// A field the event needs is missing or empty.
    #[error("{event} without {field}")]
    MissingField {
        /// Canonical event name.
        event: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// An id sent as a non-empty string or as a number.
fn id(body: &Map<String, Value>, field: &str) -> Option<String> {
    match body.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(
    body: &Map<String, Value>,
    kind: EventKind,
    field: &'static str,
) -> Result<String, ParseError> {
    id(body, field).ok_or(ParseError::MissingField {
        event: kind.as_str(),
        field,
    })
}

/// A timestamp; unreadable values are dropped rather than refusing the event.
fn timestamp(body: &Map<String, Value>, field: &str) -> Option<Timestamp> {
    match body.get(field)? {
        Value::String(s) => parse_timestamp(s.trim()),
        _ => None,
    }
}

/// A non-negative finite number sent as a number or a numeric string.
pub fn lenient_number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// A boolean sent as `true`, `1` or `"true"`; anything else is false.
fn flag(body: &Map<String, Value>, field: &str) -> bool {
    match body.get(field) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
        _ => false,
    }
}

/// Parses one callback body.
pub fn parse(body: &[u8]) -> Result<Callback, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(body) = value else {
        return Err(ParseError::NotJson("expected an object".into()));
    };
    let name = match body.get("event") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        _ => return Err(ParseError::NoEventName),
    };
    let kind = EventKind::from_name(name).ok_or_else(|| {
        // Cut very long names so that logs stay readable.
        ParseError::UnknownEvent(name.chars().take(64).collect())
    })?;
    let room_id = id(&body, "room_id");
    let fact = match kind {
        EventKind::RoomExpired => {
            if room_id.is_none() {
                return Err(ParseError::MissingField {
                    event: kind.as_str(),
                    field: "room_id",
                });
            }
            Fact::RoomExpired
        }
        EventKind::SessionStarted => Fact::SessionStarted {
            session_id: required(&body, kind, "session_id")?,
            started_at: timestamp(&body, "started_at"),
        },
        EventKind::SessionEnded => Fact::SessionEnded {
            session_id: required(&body, kind, "session_id")?,
            started_at: timestamp(&body, "started_at"),
            ended_at: timestamp(&body, "ended_at"),
        },
        EventKind::ParticipantJoined | EventKind::ParticipantLeft => Fact::Participant {
            session_id: required(&body, kind, "session_id")?,
            participant_id: required(&body, kind, "participant_id")?,
            is_host: flag(&body, "is_host"),
            joined: kind == EventKind::ParticipantJoined,
        },
        EventKind::RecordingStarted | EventKind::RecordingStopped | EventKind::RecordingReady => {
            Fact::Recording {
                kind,
                facts: RecordingFacts {
                    recording_id: required(&body, kind, "recording_id")?,
                    session_id: required(&body, kind, "session_id")?,
                    started_at: timestamp(&body, "started_at"),
                    duration_seconds: body.get("duration").and_then(lenient_number),
                    url: match body.get("url") {
                        Some(Value::String(url)) if !url.trim().is_empty() => {
                            Some(url.trim().to_owned())
                        }
                        _ => None,
                    },
                },
            }
        }
    };
    Ok(Callback {
        kind,
        room_id,
        fact,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_json(value: Value) -> Result<Callback, ParseError> {
        parse(value.to_string().as_bytes())
    }

    #[test]
    fn every_spelling_of_every_event_is_understood() {
        for (name, kind) in [
            ("room:expired", EventKind::RoomExpired),
            ("session:started", EventKind::SessionStarted),
            ("session:ended", EventKind::SessionEnded),
            ("session:participant:joined", EventKind::ParticipantJoined),
            ("participant:joined", EventKind::ParticipantJoined),
            ("session:participant:left", EventKind::ParticipantLeft),
            ("participant:left", EventKind::ParticipantLeft),
            ("recording:started", EventKind::RecordingStarted),
            ("recording:ended", EventKind::RecordingStopped),
            ("recording:stopped", EventKind::RecordingStopped),
            ("recording:ready", EventKind::RecordingReady),
            ("recording:uploaded", EventKind::RecordingReady),
            (" Recording:Uploaded ", EventKind::RecordingReady),
        ] {
            assert_eq!(EventKind::from_name(name), Some(kind), "{name}");
        }
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::from_name("session:paused"), None);
    }

    #[test]
    fn participant_events_in_both_spellings() {
        for name in ["session:participant:joined", "participant:joined"] {
            let callback = parse_json(json!({
                "event": name, "participant_id": "p1", "session_id": "s1",
                "room_id": "r1", "name": "Ann", "type": "host", "is_host": true
            }))
            .unwrap();
            assert_eq!(callback.kind, EventKind::ParticipantJoined);
            assert_eq!(callback.room_id.as_deref(), Some("r1"));
            assert_eq!(
                callback.fact,
                Fact::Participant {
                    session_id: "s1".into(),
                    participant_id: "p1".into(),
                    is_host: true,
                    joined: true
                }
            );
        }
        let left = parse_json(json!({
            "event": "participant:left", "participant_id": 7, "session_id": "s1", "is_host": "false"
        }))
        .unwrap();
        assert_eq!(
            left.fact,
            Fact::Participant {
                session_id: "s1".into(),
                participant_id: "7".into(),
                is_host: false,
                joined: false
            }
        );
        assert_eq!(left.room_id, None);
    }

    #[test]
    fn durations_are_read_from_numbers_and_strings() {
        for (duration, expected) in [
            (json!(42), Some(42.0)),
            (json!(12.5), Some(12.5)),
            (json!("17"), Some(17.0)),
            (json!(" 3.25 "), Some(3.25)),
            (json!("soon"), None),
            (json!(-1), None),
            (json!(null), None),
        ] {
            let callback = parse_json(json!({
                "event": "recording:uploaded", "recording_id": "rec", "session_id": "s",
                "room_id": "r", "duration": duration, "url": "https://x.example/rec.mp4",
                "started_at": "2030-01-01T00:00:00Z", "ended_at": "garbage"
            }))
            .unwrap();
            let Fact::Recording { kind, facts } = callback.fact else {
                panic!("not a recording fact");
            };
            assert_eq!(kind, EventKind::RecordingReady);
            assert_eq!(facts.duration_seconds, expected, "{duration}");
            assert_eq!(facts.url.as_deref(), Some("https://x.example/rec.mp4"));
            assert_eq!(facts.started_at, "2030-01-01T00:00:00Z".parse().ok());
        }
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        assert!(matches!(parse(b"{not json"), Err(ParseError::NotJson(_))));
        assert!(matches!(parse(b"[1,2]"), Err(ParseError::NotJson(_))));
        assert_eq!(parse(b"{}"), Err(ParseError::NoEventName));
        assert_eq!(
            parse_json(json!({"event": 3})),
            Err(ParseError::NoEventName)
        );
        assert_eq!(
            parse_json(json!({"event": "room:expired"})),
            Err(ParseError::MissingField {
                event: "room:expired",
                field: "room_id"
            })
        );
        assert_eq!(
            parse_json(json!({"event": "session:started", "room_id": "r", "session_id": ""})),
            Err(ParseError::MissingField {
                event: "session:started",
                field: "session_id"
            })
        );
        assert_eq!(
            parse_json(json!({"event": "recording:started", "session_id": "s"})),
            Err(ParseError::MissingField {
                event: "recording:started",
                field: "recording_id"
            })
        );
        assert_eq!(
            parse_json(json!({"event": "room:renamed", "room_id": "r"})),
            Err(ParseError::UnknownEvent("room:renamed".into()))
        );
    }

    #[test]
    fn sessions_carry_their_times() {
        let ended = parse_json(json!({
            "event": "session:ended", "session_id": "s", "room_id": "r",
            "started_at": "2030-01-01T10:00:00.000Z", "ended_at": "2030-01-01T11:00:00.000Z"
        }))
        .unwrap();
        assert_eq!(
            ended.fact,
            Fact::SessionEnded {
                session_id: "s".into(),
                started_at: "2030-01-01T10:00:00Z".parse().ok(),
                ended_at: "2030-01-01T11:00:00Z".parse().ok(),
            }
        );
        assert_eq!(ended.fact.session_id(), Some("s"));
    }
}
