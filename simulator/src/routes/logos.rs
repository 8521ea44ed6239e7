//! Logo endpoints: presigned upload URLs and finalisation.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::body::{json_body, ok};
use crate::errors::ApiError;
use crate::input::parse_finalize_keys;
use crate::shared::Ctx;
use crate::state::BUCKET;

fn storage_url(ctx: &Ctx, headers: &HeaderMap) -> String {
    format!("http://{}/_storage/{BUCKET}", ctx.host(headers))
}

/// `GET /themes/logos-upload-urls` (getUploadUrlsForTheme).
pub(crate) async fn upload_urls(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    let url = storage_url(&ctx, &headers);
    let forms = ctx.with_state(|state, now| state.issue_upload_forms(&app, now, &url));
    Ok(ok(serde_json::to_value(forms).unwrap_or_default()))
}

/// `PUT /themes/{theme_id}/finalizeLogos` (finalizeLogosForTheme).
pub(crate) async fn finalize(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let app = ctx.authenticate(&headers)?;
    // Unreadable bodies get the operation's documented error shape, like any unusable body.
    let body = json_body(&headers, &body).unwrap_or(Value::Null);
    let url = storage_url(&ctx, &headers);
    ctx.with_state(|state, now| {
        state.theme(&app, &id)?;
        let keys = parse_finalize_keys(&body)?;
        state.finalize_logos(&app, &id, &keys, now, &url)?;
        Ok(StatusCode::OK.into_response())
    })
}
