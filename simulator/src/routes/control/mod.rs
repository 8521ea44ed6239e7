//! `/_sim` control endpoints: the HTTP face of the test API, for out-of-process tools.
//!
//! | endpoint | purpose |
//! | --- | --- |
//! | `GET /health` | liveness, base URL, default application id |
//! | `GET, POST /applications` | list; add (generated keys, or `private_key_pem` / `public_key_pem`, optional `callback_urls`) |
//! | `PUT /applications/{id}/callback-urls` | application-level callback URLs |
//! | `POST /applications/{id}/keys/rotate[?keep_old=true]` | new key pair (old keys revoked unless kept) |
//! | `PUT, DELETE /applications/{id}/keys` | replace keys with `public_key_pem`; revoke all keys |
//! | `GET /token[?application_id=&ttl_secs=]` | a valid bearer token |
//! | `GET /clock`, `POST /clock/advance|set|freeze` | simulated time (`seconds`/`milliseconds`, `now`, `frozen`) |
//! | `GET, PUT, PATCH /behavior` | behaviour switches |
//! | `GET, POST, DELETE /faults`, `DELETE /faults/{id}` | fault rules (a `FaultSpec` as JSON) |
//! | `PUT /faults/latency|rate-limit|error-rate` | global latency, rate limit, random 5xx rate |
//! | `GET, DELETE /counters`, `POST /counters/reset` | request and callback counters |
//! | `GET, DELETE /exchanges[?since=&limit=]` | request/response log |
//! | `GET, DELETE /callbacks`, `POST /callbacks/flush[?timeout_ms=]` | callback delivery log |
//! | `GET /state`, `GET /state/{app}` | rooms, themes, sessions, recordings |
//! | `POST /rooms/{id}/sessions` | start a session |
//! | `POST /sessions/{id}/participants`, `DELETE /sessions/{id}/participants/{pid}` | join (`name`, `is_host`), leave |
//! | `POST /sessions/{id}/end`, `POST /sessions/{id}/recordings` | end session, start recording |
//! | `POST /recordings/{id}/stop|upload` | stop, upload now |

mod apps;
mod meetings;
mod observe;

use axum::Router;
use axum::routing::{delete, get, post, put};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::errors::ControlError;
use crate::shared::Ctx;

/// Parses an optional JSON body (empty reads as `{}`).
pub(crate) fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text)
        .map_err(|e| ControlError::Invalid(format!("invalid JSON body: {e}")))
}

/// Serializes a value for a control answer.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// The control router, nested under `/_sim`.
pub(crate) fn router() -> Router<Ctx> {
    Router::new()
        .route("/health", get(observe::health))
        .route("/applications", get(apps::list).post(apps::add))
        .route("/applications/{id}/callback-urls", put(apps::set_callbacks))
        .route(
            "/applications/{id}/keys",
            put(apps::set_key).delete(apps::revoke),
        )
        .route("/applications/{id}/keys/rotate", post(apps::rotate))
        .route("/token", get(apps::token))
        .route("/clock", get(observe::clock))
        .route("/clock/advance", post(observe::advance_clock))
        .route("/clock/set", post(observe::set_clock))
        .route("/clock/freeze", post(observe::freeze_clock))
        .route(
            "/behavior",
            get(observe::behavior)
                .put(observe::replace_behavior)
                .patch(observe::patch_behavior),
        )
        .route(
            "/faults",
            get(observe::faults)
                .post(observe::add_fault)
                .delete(observe::clear_faults),
        )
        .route("/faults/{id}", delete(observe::remove_fault))
        .route("/faults/latency", put(observe::set_latency))
        .route("/faults/rate-limit", put(observe::set_rate_limit))
        .route("/faults/error-rate", put(observe::set_error_rate))
        .route(
            "/counters",
            get(observe::counters).delete(observe::reset_counters),
        )
        .route("/counters/reset", post(observe::reset_counters))
        .route(
            "/exchanges",
            get(observe::exchanges).delete(observe::clear_exchanges),
        )
        .route(
            "/callbacks",
            get(observe::callbacks).delete(observe::clear_callbacks),
        )
        .route("/callbacks/flush", post(observe::flush_callbacks))
        .route("/state", get(meetings::state))
        .route("/state/{app}", get(meetings::app_state))
        .route("/rooms/{room_id}/sessions", post(meetings::start_session))
        .route("/sessions/{session_id}/participants", post(meetings::join))
        .route(
            "/sessions/{session_id}/participants/{participant_id}",
            delete(meetings::leave),
        )
        .route("/sessions/{session_id}/end", post(meetings::end_session))
        .route(
            "/sessions/{session_id}/recordings",
            post(meetings::start_recording),
        )
        .route(
            "/recordings/{recording_id}/stop",
            post(meetings::stop_recording),
        )
        .route(
            "/recordings/{recording_id}/upload",
            post(meetings::upload_recording),
        )
}
