//! Control endpoints that simulate meetings, and state snapshots.

use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{parse, to_json};
use crate::clock::format_ts;
use crate::errors::ControlError;
use crate::shared::Ctx;
use crate::state::State as World;

fn uuid(text: &str, what: &str) -> Result<Uuid, ControlError> {
    Uuid::parse_str(text).map_err(|_| ControlError::NotFound(format!("{what} {text}")))
}

fn app_snapshot(state: &World, app: &str) -> Option<Value> {
    let application = state.application(app)?;
    Some(json!({
        "application": to_json(application),
        "rooms": to_json(&state.rooms_of(app)),
        "themes": to_json(&state.themes_of(app)),
        "sessions": to_json(&state.sessions_of(app)),
        "recordings": to_json(&state.recordings_of(app)),
    }))
}

/// `GET /_sim/state`: every application's rooms, themes, sessions and recordings.
pub(crate) async fn state(State(ctx): State<Ctx>) -> Json<Value> {
    Json(ctx.with_state(|state, now| {
        let apps: Vec<Value> = state
            .application_ids()
            .iter()
            .filter_map(|id| app_snapshot(state, id))
            .collect();
        json!({ "now": format_ts(now), "applications": apps })
    }))
}

/// `GET /_sim/state/{app}`: one application.
pub(crate) async fn app_state(
    State(ctx): State<Ctx>,
    Path(app): Path<String>,
) -> Result<Json<Value>, ControlError> {
    ctx.with_state(|state, _| app_snapshot(state, &app))
        .map(Json)
        .ok_or_else(|| ControlError::NotFound(format!("application {app}")))
}

/// `POST /_sim/rooms/{room_id}/sessions`: starts a session.
pub(crate) async fn start_session(
    State(ctx): State<Ctx>,
    Path(room): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let room = uuid(&room, "room")?;
    let session = ctx.with_state(|state, now| state.start_session(room, now))?;
    Ok(Json(to_json(&session)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Join {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default)]
    is_host: bool,
}

fn default_name() -> String {
    "Participant".into()
}

/// `POST /_sim/sessions/{id}/participants` with `{"name": "..", "is_host": bool}`.
pub(crate) async fn join(
    State(ctx): State<Ctx>,
    Path(session): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: Join = parse(&body)?;
    let participant =
        ctx.with_state(|state, now| state.join_session(&session, &req.name, req.is_host, now))?;
    Ok(Json(to_json(&participant)))
}

/// `DELETE /_sim/sessions/{id}/participants/{participant_id}`.
pub(crate) async fn leave(
    State(ctx): State<Ctx>,
    Path((session, participant)): Path<(String, String)>,
) -> Result<Json<Value>, ControlError> {
    let participant = uuid(&participant, "participant")?;
    let left = ctx.with_state(|state, now| state.leave_session(&session, participant, now))?;
    Ok(Json(to_json(&left)))
}

/// `POST /_sim/sessions/{id}/end`.
pub(crate) async fn end_session(
    State(ctx): State<Ctx>,
    Path(session): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let ended = ctx.with_state(|state, now| state.end_session(&session, now))?;
    Ok(Json(to_json(&ended)))
}

/// `POST /_sim/sessions/{id}/recordings`: starts recording.
pub(crate) async fn start_recording(
    State(ctx): State<Ctx>,
    Path(session): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let recording = ctx.with_state(|state, now| state.start_recording(&session, now))?;
    Ok(Json(to_json(&recording)))
}

/// `POST /_sim/recordings/{id}/stop`.
pub(crate) async fn stop_recording(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let id = uuid(&id, "recording")?;
    let recording = ctx.with_state(|state, now| state.stop_recording(id, now))?;
    Ok(Json(to_json(&recording)))
}

/// `POST /_sim/recordings/{id}/upload`: uploads now.
pub(crate) async fn upload_recording(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let id = uuid(&id, "recording")?;
    let recording = ctx.with_state(|state, now| state.upload_recording(id, now))?;
    Ok(Json(to_json(&recording)))
}
