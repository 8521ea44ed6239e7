//! Theme endpoints: list, create, get, update, delete, and the theme's rooms.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::body::{created, json_body, ok};
use crate::errors::ApiError;
use crate::input::{parse_create_theme, parse_update_theme};
use crate::pagination::PageRequest;
use crate::render;
use crate::shared::Ctx;

/// `GET /themes` (getThemes).
pub(crate) async fn list(State(ctx): State<Ctx>, headers: HeaderMap) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| Ok(ok(render::themes(&state.behavior, &state.themes_of(&app)))))
}

/// `POST /themes` (createTheme).
pub(crate) async fn create(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let body = json_body(&headers, &body)?;
    ctx.with_state(|state, _| {
        let req = parse_create_theme(&body)?;
        let theme = state.create_theme(&app, req)?;
        Ok(created(render::theme(&state.behavior, &theme)))
    })
}

/// `GET /themes/{theme_id}` (getThemeById).
pub(crate) async fn get(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| {
        let theme = state.theme(&app, &id)?;
        Ok(ok(render::theme(&state.behavior, theme)))
    })
}

/// `PATCH /themes/{theme_id}` (updateTheme).
pub(crate) async fn update(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let body = json_body(&headers, &body)?;
    ctx.with_state(|state, _| {
        state.theme(&app, &id)?;
        let req = parse_update_theme(&body)?;
        let theme = state.update_theme(&app, &id, req)?;
        Ok(ok(render::theme(&state.behavior, &theme)))
    })
}

/// Reads `force` from the query: only `true` (any case) or `1` forces, as a query-string
/// comparison would; anything else does not.
fn force_flag(query: Option<&str>) -> bool {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "force")
        .last()
        .is_some_and(|(_, value)| value.eq_ignore_ascii_case("true") || value == "1")
}

/// `DELETE /themes/{theme_id}` (deleteTheme).
pub(crate) async fn delete(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    ctx.with_state(|state, _| {
        state.theme(&app, &id)?;
        state.delete_theme(&app, &id, force_flag(query.as_deref()))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /themes/{theme_id}/rooms` (getRoomsByThemeId).
pub(crate) async fn rooms(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let host = ctx.host(&headers);
    ctx.with_state(|state, now| {
        let theme_id = state.theme(&app, &id)?.id;
        let behavior = &state.behavior;
        let req = PageRequest::parse(
            query.as_deref(),
            behavior.page_size_default,
            behavior.page_size_max,
        )?;
        let page = state.list_rooms(&app, Some(theme_id), &req);
        let base = if behavior.theme_room_links_use_rooms_path {
            format!("{host}/meetings/rooms")
        } else {
            format!("{host}/meetings/themes/{theme_id}/rooms")
        };
        Ok(ok(render::rooms_page(state, &page, &req, &base, now)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_parsing() {
        assert!(!force_flag(None));
        assert!(force_flag(Some("force=true")));
        assert!(force_flag(Some("force=TRUE")));
        assert!(!force_flag(Some("force=0")));
        assert!(!force_flag(Some("force=yes")));
    }
}
