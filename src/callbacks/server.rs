//! The HTTP endpoint: `POST /callbacks/{token}/{rooms|sessions|recordings}`.
//!
//! Answers: 204 when the callback was taken (applied, a duplicate, for a
//! room this operator does not manage, or an event it does not handle),
//! 400 for a body that is not a usable event, 413 beyond
//! [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) (answered as soon as the limit is
//! passed; the rest of the body is then read and dropped for a bounded time,
//! so that a sender still sending gets the 413 rather than a reset
//! connection), 404 for a wrong token or any
//! other path, 503 before the caches have synced and 500 when `status.live`
//! could not be written. Every request is counted in
//! `meetings_operator_callbacks_total{event,result}`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, BodyDataStream};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use tokio::net::TcpListener;

use super::event::{self, ParseError};
use super::receiver::{Outcome, Receiver};
use super::token::{self, Token};
use super::{CallbackOptions, KINDS, MAX_BODY_BYTES, SetupError, operator_urls, public_base};
use crate::crd::room::RoomCallbackUrls;
use crate::telemetry::Metrics;

/// `event` label of requests whose event is not known.
const UNKNOWN_EVENT: &str = "unknown";
/// After a 413, at most this much more of the body is read (and dropped) …
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
/// … for at most this long, before the connection is closed.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// A bound listener with its token, not serving yet.
pub struct CallbackServer {
    listener: TcpListener,
    token: Token,
    room_urls: Option<RoomCallbackUrls>,
}

impl std::fmt::Debug for CallbackServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackServer")
            .field("listener", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl CallbackServer {
    /// Resolves the token (reading or creating its Secret), binds the
    /// listener and routes the callbacks Service, if any, to it.
    pub async fn bind(kube: &kube::Client, options: &CallbackOptions) -> Result<Self, SetupError> {
        let public = options.public_url.as_deref().map(public_base).transpose()?;
        let token = match &options.token {
            Some(token) => token.clone(),
            None => token::load_or_create(kube, &options.token_secret).await?,
        };
        let bind_error = |source| SetupError::Bind {
            addr: options.listen,
            source,
        };
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        if let Some(route) = &options.leader_route {
            route.apply(kube, local.port()).await?;
        }
        let base =
            public.or_else(|| (!local.ip().is_unspecified()).then(|| format!("http://{local}")));
        match &base {
            Some(base) => {
                tracing::info!(%local, public_url = %base, "receiving Meetings callbacks");
            }
            None => tracing::warn!(
                %local,
                "receiving Meetings callbacks, but without a public URL rooms with operatorCallbacks get none"
            ),
        }
        Ok(Self {
            listener,
            room_urls: base.map(|base| operator_urls(&base, &token)),
            token,
        })
    }

    /// The callback URLs for rooms with `spec.operatorCallbacks`, when there is a public URL.
    pub fn room_urls(&self) -> Option<RoomCallbackUrls> {
        self.room_urls.clone()
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves callbacks into `receiver` until `shutdown` resolves.
    pub async fn serve(
        self,
        receiver: Arc<Receiver>,
        metrics: Arc<Metrics>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = router(self.token, receiver, metrics);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[derive(Clone)]
struct App {
    token: Arc<Token>,
    receiver: Arc<Receiver>,
    metrics: Arc<Metrics>,
}

/// The routes.
fn router(token: Token, receiver: Arc<Receiver>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/callbacks/{token}/{kind}", post(callback))
        .fallback(not_found)
        .with_state(App {
            token: Arc::new(token),
            receiver,
            metrics,
        })
}

async fn not_found(State(app): State<App>) -> StatusCode {
    app.metrics.callback_handled(UNKNOWN_EVENT, "rejected");
    StatusCode::NOT_FOUND
}

/// Why a body could not be read.
enum BodyError {
    /// Over the limit; the part not read yet.
    TooLarge(BodyDataStream),
    Broken,
}

/// The body, refusing more than [`MAX_BODY_BYTES`] without reading it all.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut stream = body.into_data_stream();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(BodyError::TooLarge(stream));
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(1024).min(MAX_BODY_BYTES));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge(stream));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads and drops the rest of a refused body in the background, up to
/// [`DRAIN_BYTES`] and [`DRAIN_TIME`]: closing the connection while the
/// sender is still sending would reset it, and the sender could lose the 413.
fn drain(mut rest: BodyDataStream) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            let mut drained = 0usize;
            while let Some(Ok(chunk)) = rest.next().await {
                drained += chunk.len();
                if drained > DRAIN_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}

async fn callback(
    State(app): State<App>,
    Path((token, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let count = |event: &'static str, result: &'static str| {
        app.metrics.callback_handled(event, result);
    };
    // The token first, so that nothing else is revealed without it.
    if !app.token.matches(&token) || !KINDS.contains(&kind.as_str()) {
        count(UNKNOWN_EVENT, "rejected");
        return StatusCode::NOT_FOUND.into_response();
    }
    let bytes = match read_body(&headers, body).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge(rest)) => {
            count(UNKNOWN_EVENT, "too_large");
            drain(rest);
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONNECTION, "close")],
            )
                .into_response();
        }
        Err(BodyError::Broken) => {
            count(UNKNOWN_EVENT, "malformed");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let callback = match event::parse(&bytes) {
        Ok(callback) => callback,
        Err(ParseError::UnknownEvent(name)) => {
            tracing::debug!(event = %name, "ignored a callback of an unknown event");
            count(UNKNOWN_EVENT, "ignored");
            return StatusCode::NO_CONTENT.into_response();
        }
        Err(error) => {
            tracing::debug!(%error, "refused a malformed callback");
            let event = match error {
                ParseError::MissingField { event, .. } => event,
                _ => UNKNOWN_EVENT,
            };
            count(event, "malformed");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let event = callback.kind.as_str();
    let outcome = app.receiver.handle(callback).await;
    count(event, outcome.as_str());
    let status = match outcome {
        Outcome::Applied | Outcome::Unchanged | Outcome::Deferred | Outcome::UnknownRoom => {
            StatusCode::NO_CONTENT
        }
        Outcome::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        Outcome::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    };
    status.into_response()
}
