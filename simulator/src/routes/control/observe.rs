//! Control endpoints for the clock, behaviour, faults, counters, exchanges and callbacks.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{parse, to_json};
use crate::clock::format_ts;
use crate::config::Behavior;
use crate::errors::ControlError;
use crate::faults::{FaultSpec, Latency, RateLimit};
use crate::shared::Ctx;

/// `GET /_sim/health`.
pub(crate) async fn health(State(ctx): State<Ctx>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "base_url": format!("http://{}/v1/meetings", ctx.addr),
        "default_application_id": ctx.default_app_id(),
    }))
}

fn clock_json(ctx: &Ctx) -> Value {
    json!({ "now": format_ts(ctx.clock.now()), "frozen": ctx.clock.is_frozen() })
}

/// `GET /_sim/clock`.
pub(crate) async fn clock(State(ctx): State<Ctx>) -> Json<Value> {
    Json(clock_json(&ctx))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Advance {
    seconds: Option<i64>,
    milliseconds: Option<i64>,
}

/// `POST /_sim/clock/advance` with `{"seconds": N}` or `{"milliseconds": N}`.
pub(crate) async fn advance_clock(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: Advance = parse(&body)?;
    let by = match (req.seconds, req.milliseconds) {
        (Some(s), _) => SignedDuration::from_secs(s),
        (None, Some(ms)) => SignedDuration::from_millis(ms),
        (None, None) => return Err(ControlError::Invalid("give seconds or milliseconds".into())),
    };
    ctx.advance_clock(by);
    Ok(Json(clock_json(&ctx)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetClock {
    now: String,
}

/// `POST /_sim/clock/set` with `{"now": "2024-01-01T00:00:00Z"}`.
pub(crate) async fn set_clock(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: SetClock = parse(&body)?;
    let to: Timestamp = req
        .now
        .parse()
        .map_err(|e| ControlError::Invalid(format!("invalid timestamp: {e}")))?;
    ctx.set_clock(to);
    Ok(Json(clock_json(&ctx)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Freeze {
    frozen: bool,
}

/// `POST /_sim/clock/freeze` with `{"frozen": true|false}`.
pub(crate) async fn freeze_clock(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: Freeze = parse(&body)?;
    ctx.clock.freeze(req.frozen);
    Ok(Json(clock_json(&ctx)))
}

/// `GET /_sim/behavior`.
pub(crate) async fn behavior(State(ctx): State<Ctx>) -> Json<Value> {
    Json(to_json(&ctx.lock().behavior))
}

/// `PUT /_sim/behavior`: replaces every switch (missing ones take defaults).
pub(crate) async fn replace_behavior(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let behavior: Behavior = parse(&body)?;
    let answer = to_json(&behavior);
    ctx.lock().behavior = behavior;
    Ok(Json(answer))
}

/// `PATCH /_sim/behavior`: changes only the given switches.
pub(crate) async fn patch_behavior(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let patch: Value = parse(&body)?;
    let Some(patch) = patch.as_object() else {
        return Err(ControlError::Invalid("expected a JSON object".into()));
    };
    let mut state = ctx.lock();
    let mut current = to_json(&state.behavior);
    for (key, value) in patch {
        if current.get(key).is_none() {
            return Err(ControlError::Invalid(format!(
                "unknown behaviour switch {key}"
            )));
        }
        current[key] = value.clone();
    }
    let behavior: Behavior = serde_json::from_value(current.clone())
        .map_err(|e| ControlError::Invalid(format!("invalid behaviour: {e}")))?;
    state.behavior = behavior;
    Ok(Json(current))
}

/// `GET /_sim/faults`.
pub(crate) async fn faults(State(ctx): State<Ctx>) -> Json<Value> {
    Json(to_json(&ctx.faults.view()))
}

/// `POST /_sim/faults` with a [`FaultSpec`]; answers its id.
pub(crate) async fn add_fault(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let spec: FaultSpec = parse(&body)?;
    let known =
        spec.operation == "*" || crate::paths::OPERATION_IDS.contains(&spec.operation.as_str());
    if !known {
        return Err(ControlError::Invalid(format!(
            "unknown operation {}",
            spec.operation
        )));
    }
    Ok(Json(json!({ "id": ctx.faults.add(spec) })))
}

/// `DELETE /_sim/faults`: removes every rule, latency, error rate and rate limit.
pub(crate) async fn clear_faults(State(ctx): State<Ctx>) -> Json<Value> {
    ctx.faults.clear();
    Json(to_json(&ctx.faults.view()))
}

/// `DELETE /_sim/faults/{id}`.
pub(crate) async fn remove_fault(
    State(ctx): State<Ctx>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, ControlError> {
    if ctx.faults.remove(id) {
        Ok(Json(json!({ "removed": id })))
    } else {
        Err(ControlError::NotFound(format!("fault {id}")))
    }
}

/// `PUT /_sim/faults/latency` with a [`Latency`] or `null`.
pub(crate) async fn set_latency(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let latency: Option<Latency> = parse(&body)?;
    ctx.faults.set_latency(latency);
    Ok(Json(to_json(&ctx.faults.view())))
}

/// `PUT /_sim/faults/rate-limit` with a [`RateLimit`] or `null`.
pub(crate) async fn set_rate_limit(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let limit: Option<RateLimit> = parse(&body)?;
    ctx.faults.set_rate_limit(limit);
    Ok(Json(to_json(&ctx.faults.view())))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorRate {
    rate: f64,
}

/// `PUT /_sim/faults/error-rate` with `{"rate": 0.1}`.
pub(crate) async fn set_error_rate(
    State(ctx): State<Ctx>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: ErrorRate = parse(&body)?;
    ctx.faults.set_error_rate(req.rate);
    Ok(Json(to_json(&ctx.faults.view())))
}

/// `GET /_sim/counters`.
pub(crate) async fn counters(State(ctx): State<Ctx>) -> Json<Value> {
    Json(to_json(&ctx.counters.snapshot()))
}

/// `DELETE /_sim/counters` or `POST /_sim/counters/reset`.
pub(crate) async fn reset_counters(State(ctx): State<Ctx>) -> Json<Value> {
    ctx.counters.reset();
    Json(to_json(&ctx.counters.snapshot()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExchangeQuery {
    since: u64,
    limit: Option<usize>,
}

/// `GET /_sim/exchanges[?since=SEQ&limit=N]`.
pub(crate) async fn exchanges(
    State(ctx): State<Ctx>,
    Query(query): Query<ExchangeQuery>,
) -> Json<Value> {
    let list = ctx
        .exchanges
        .since(query.since, query.limit.unwrap_or(usize::MAX));
    Json(to_json(&list))
}

/// `DELETE /_sim/exchanges`.
pub(crate) async fn clear_exchanges(State(ctx): State<Ctx>) -> Json<Value> {
    ctx.exchanges.clear();
    Json(json!({ "cleared": true }))
}

/// `GET /_sim/callbacks`: delivery records.
pub(crate) async fn callbacks(State(ctx): State<Ctx>) -> Json<Value> {
    Json(to_json(&ctx.callbacks.log()))
}

/// `DELETE /_sim/callbacks`.
pub(crate) async fn clear_callbacks(State(ctx): State<Ctx>) -> Json<Value> {
    ctx.callbacks.clear_log();
    Json(json!({ "cleared": true }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FlushQuery {
    timeout_ms: Option<u64>,
}

/// `POST /_sim/callbacks/flush[?timeout_ms=N]`: waits for queued deliveries.
pub(crate) async fn flush_callbacks(
    State(ctx): State<Ctx>,
    Query(query): Query<FlushQuery>,
) -> Json<Value> {
    let timeout = Duration::from_millis(query.timeout_ms.unwrap_or(5_000));
    let idle = ctx.callbacks.flush(timeout).await;
    Json(json!({ "idle": idle }))
}
