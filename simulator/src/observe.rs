//! Middleware around every API and storage request: faults, counters and the exchange log.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::conn::ConnMeta;
use super::errors::ApiError;
use super::exchanges::Exchange;
use super::faults::{Action, Decision};
use super::paths::{CONTROL_PREFIX, operation_id};
use super::shared::Ctx;

/// Longest an injected hang lasts before the connection is cut.
const HANG_LIMIT: Duration = Duration::from_secs(600);
/// Largest response body captured in the exchange log.
const CAPTURE_LIMIT: usize = 16 * 1024 * 1024;
/// Largest JSON request body read (axum's default extractor limit).
const REQUEST_LIMIT: usize = 2 * 1024 * 1024;

/// Applies faults, then records the outcome.
pub(crate) async fn observe(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(CONTROL_PREFIX) {
        return next.run(req).await;
    }
    ctx.counters.record_arrival();
    let method = req.method().clone();
    let path = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let operation = operation_id(&method, req.uri().path());
    // Bodies are parsed for the log only when it keeps them.
    let logging = ctx.exchanges.is_enabled();
    let (req, request_body, request_size) = match capture_request(req, logging).await {
        Ok(captured) => captured,
        Err(error) => return error.into_response(),
    };
    let switch = req
        .extensions()
        .get::<ConnectInfo<ConnMeta>>()
        .map(|info| info.0.switch.clone());
    let decision = match operation {
        Some(op) => ctx.faults.decide(op),
        None => Decision {
            delay: Duration::ZERO,
            action: Action::Proceed,
        },
    };
    if !decision.delay.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(decision.delay) => {}
            _ = ctx.stopped() => {}
        }
    }
    let record = |status: u16, delivered: bool, body: Option<serde_json::Value>, size: usize| {
        tracing::debug!(%method, %path, status, ?operation, delivered, "simulator request");
        ctx.counters.record_request(
            operation.unwrap_or("unmatched"),
            delivered.then_some(status),
        );
        ctx.exchanges.record(
            Exchange {
                seq: 0,
                at: Timestamp::now(),
                operation_id: operation.map(str::to_string),
                method: method.to_string(),
                path: path.clone(),
                request_body: request_body.clone(),
                status,
                delivered,
                body,
            },
            size + request_size,
        );
    };
    let cut = |switch: &Option<std::sync::Arc<super::conn::KillSwitch>>| {
        if let Some(switch) = switch {
            switch.kill();
        }
    };
    let (response, delivered) = match decision.action {
        Action::Proceed => (next.run(req).await, true),
        Action::Respond(error) => (error.into_response(), true),
        Action::CommitThenDrop => (next.run(req).await, switch.is_none()),
        Action::CommitThenBadGateway => {
            let _committed = next.run(req).await;
            (ApiError::Injected(502).into_response(), true)
        }
        Action::DropBeforeCommit => (ApiError::Injected(502).into_response(), switch.is_none()),
        Action::Hang => {
            record(504, false, None, 0);
            tokio::select! {
                _ = tokio::time::sleep(HANG_LIMIT) => {}
                _ = ctx.stopped() => {}
            }
            cut(&switch);
            return ApiError::Injected(504).into_response();
        }
        // Not captured: the point of these bodies is that they cannot be read. The
        // request is read to its end first, so that the answer is not lost to a
        // connection reset while the client is still sending (e.g. a logo upload).
        Action::MalformedBody(shape) => {
            discard_body(req).await;
            record(200, true, None, 0);
            return json_ok(Body::from(shape.body()));
        }
        Action::OversizedBody(bytes) => {
            discard_body(req).await;
            record(200, true, None, 0);
            return json_ok(oversized_body(bytes));
        }
    };
    let status = response.status().as_u16();
    let (response, body, size) = if logging {
        capture_json(response).await
    } else {
        (response, None, 0)
    };
    record(status, delivered, body, size);
    if !delivered {
        cut(&switch);
    }
    response
}

/// Reads a request body to its end without keeping it.
async fn discard_body(req: Request) {
    use futures::StreamExt;
    let mut stream = req.into_body().into_data_stream();
    while let Some(Ok(_)) = stream.next().await {}
}

/// A 200 claiming JSON with `body`.
fn json_ok(body: Body) -> Response {
    (
        axum::http::StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `bytes` bytes of an unterminated JSON string, made piece by piece as the client
/// reads them and sent without `Content-Length`.
fn oversized_body(bytes: u64) -> Body {
    const PIECE: usize = 64 * 1024;
    let opening = bytes::Bytes::from_static(b"{\"id\":\"");
    let filler = bytes::Bytes::from(vec![b'x'; PIECE]);
    let pieces = futures::stream::unfold(0u64, move |sent| {
        let (opening, filler) = (opening.clone(), filler.clone());
        async move {
            if sent >= bytes {
                return None;
            }
            let source = if sent == 0 { opening } else { filler };
            let left = usize::try_from(bytes - sent).unwrap_or(usize::MAX);
            let piece = source.slice(..source.len().min(left));
            let next = sent + piece.len() as u64;
            Some((Ok::<_, std::convert::Infallible>(piece), next))
        }
    });
    Body::from_stream(pieces)
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

/// Buffers a JSON request body (refused above [`REQUEST_LIMIT`]) and parses
/// it for the log when `parse`; other bodies pass through unread.
async fn capture_request(
    req: Request,
    parse: bool,
) -> Result<(Request, Option<serde_json::Value>, usize), ApiError> {
    if !is_json(req.headers()) {
        return Ok((req, None, 0));
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, REQUEST_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let logged = if bytes.is_empty() || !parse {
        None
    } else {
        Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }))
    };
    let size = bytes.len();
    Ok((Request::from_parts(parts, Body::from(bytes)), logged, size))
}

/// Buffers a JSON response body so it can be logged; other bodies pass through.
async fn capture_json(response: Response) -> (Response, Option<serde_json::Value>, usize) {
    if !is_json(response.headers()) {
        return (response, None, 0);
    }
    let (parts, body) = response.into_parts();
    match to_bytes(body, CAPTURE_LIMIT).await {
        Ok(bytes) => {
            let json = serde_json::from_slice(&bytes).ok();
            let size = bytes.len();
            (Response::from_parts(parts, Body::from(bytes)), json, size)
        }
        Err(_) => (ApiError::Injected(500).into_response(), None, 0),
    }
}
