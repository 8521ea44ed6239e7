//! `PATCH /applications` (updateApplication).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::body::{json_body, ok};
use crate::errors::ApiError;
use crate::input::parse_update_application;
use crate::render;
use crate::shared::Ctx;

/// Sets the application's default theme.
pub(crate) async fn update(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let body = json_body(&headers, &body)?;
    let theme_id = parse_update_application(&body)?;
    ctx.with_state(|state, _| {
        let application = state.set_default_theme(&app, theme_id)?;
        Ok(ok(render::application(&application)))
    })
}
