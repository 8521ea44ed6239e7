//! Request plumbing shared by API handlers: JSON bodies, path ids, lifetime rules.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::Value;

use crate::config::Behavior;
use crate::errors::ApiError;
use crate::input::LifetimeRules;
use crate::state::rooms_secs;

/// Parses a JSON body the way an Express JSON parser does: non-JSON content types and empty
/// bodies read as `{}`; malformed JSON is a 400.
pub(crate) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        });
    if !is_json || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        message: "Invalid JSON body".into(),
        errors: vec![Value::String(e.to_string())],
    })
}

/// The window for a long-term room's `expires_at` at `now`.
pub(crate) fn lifetime_rules(behavior: &Behavior, now: Timestamp) -> LifetimeRules {
    LifetimeRules {
        now,
        earliest: now
            .saturating_add(rooms_secs(behavior.long_term_min_lifetime_secs))
            .unwrap_or(now),
        latest: now
            .saturating_add(rooms_secs(behavior.long_term_max_lifetime_secs))
            .unwrap_or(now),
    }
}

/// `200` with a JSON body.
pub(crate) fn ok(value: Value) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

/// `201` with a JSON body.
pub(crate) fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}
