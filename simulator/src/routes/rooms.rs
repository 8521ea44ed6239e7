//! Room endpoints: list, create, get, update.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::body::{created, json_body, lifetime_rules, ok};
use crate::errors::ApiError;
use crate::input::{parse_create_room, parse_update_room};
use crate::pagination::PageRequest;
use crate::render;
use crate::shared::Ctx;

/// `GET /rooms` (getRooms).
pub(crate) async fn list(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let base = format!("{}/meetings/rooms", ctx.host(&headers));
    ctx.with_state(|state, now| {
        let behavior = &state.behavior;
        let req = PageRequest::parse(
            query.as_deref(),
            behavior.page_size_default,
            behavior.page_size_max,
        )?;
        let page = state.list_rooms(&app, None, &req);
        Ok(render::rooms_page(state, &page, &req, &base, now))
    })
    // Written out after the state is released: a page is the largest answer.
    .map(ok)
}

/// `POST /rooms` (createRoom).
pub(crate) async fn create(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let body = json_body(&headers, &body)?;
    ctx.with_state(|state, now| {
        let req = parse_create_room(&body, &lifetime_rules(&state.behavior, now))?;
        let room = state.create_room(&app, req, now)?;
        Ok(created(render::room(state, &room, now)))
    })
}

/// `GET /rooms/{room_id}` (getRoom).
pub(crate) async fn get(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, now| {
        let room = state.room(&app, &id)?;
        Ok(ok(render::room(state, room, now)))
    })
}

/// `PATCH /rooms/{room_id}` (updateRoom).
pub(crate) async fn update(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let body = json_body(&headers, &body)?;
    ctx.with_state(|state, now| {
        state.room(&app, &id)?;
        let req = parse_update_room(&body, &lifetime_rules(&state.behavior, now))?;
        let room = state.update_room(&app, &id, req)?;
        Ok(ok(render::room(state, &room, now)))
    })
}
