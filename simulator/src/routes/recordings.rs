//! Recording endpoints and the dial-in number list.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body::ok;
use crate::errors::ApiError;
use crate::render;
use crate::shared::Ctx;

/// `GET /recordings/{recording_id}` (getRecording).
pub(crate) async fn get(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| Ok(ok(render::recording(state.recording(&app, &id)?))))
}

/// `DELETE /recordings/{recording_id}` (deleteRecording).
pub(crate) async fn delete(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| {
        state.delete_recording(&app, &id)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /sessions/{session_id}/recordings` (getSessionRecordings).
pub(crate) async fn for_session(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| {
        let list: Vec<_> = state
            .session_recordings(&app, &id)?
            .iter()
            .map(render::recording)
            .collect();
        Ok(ok(json!({ "_embedded": { "recordings": list } })))
    })
}

/// `GET /dial-in-numbers` (getDialInNumbers).
pub(crate) async fn dial_in_numbers(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    ctx.authenticate(&headers)?;
    Ok(ok(render::dial_in_numbers()))
}
