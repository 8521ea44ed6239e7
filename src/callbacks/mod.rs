//! Live meeting status from the Meetings API's callbacks.
//!
//! The operator serves `POST /callbacks/{token}/{rooms|sessions|recordings}`
//! ([`server`]). Rooms with `spec.operatorCallbacks: true` get these URLs as
//! their callback URLs (an explicit `spec.callbackUrls` field wins per
//! field, see [`effective_urls`]). The token ([`token`]) is the only
//! authentication the unsigned callbacks can have.
//!
//! Each callback is parsed leniently ([`event`]), mapped to its
//! `MeetingRoom` by `room_id` (recording events, which carry only a session
//! id, through the sessions seen before) and merged into that room's facts
//! ([`state`]), from which `status.live` is written by server-side apply
//! under its own field manager ([`receiver`]); the reconciler never touches
//! `status.live` and the receiver never touches anything else. A
//! `room:expired` callback makes the operator read the room from the API and
//! reconcile it at once, so `Ready` turns `False` (`Expired`) without
//! waiting for the next resync. Callbacks are triggers, not the source of
//! truth: the periodic resync still runs.

pub mod event;
mod index;
pub mod receiver;
pub mod route;
pub mod server;
pub mod state;
pub mod token;

use std::net::SocketAddr;

use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use kube::runtime::reflector::ObjectRef;

use crate::crd::MeetingRoom;
use crate::crd::room::RoomCallbackUrls;
use crate::services::SecretKey;

pub use receiver::{Outcome, Receiver, Scope};
pub use route::{LeaderRoute, RouteError};
pub use server::CallbackServer;
pub use token::Token;

/// Field manager of `status.live` writes, distinct from the reconciler's.
pub const FIELD_MANAGER: &str = "meetings-operator-callbacks";
/// Largest callback body accepted (larger ones get 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Default name of the Secret that keeps a generated token.
pub const DEFAULT_TOKEN_SECRET: &str = "meetings-operator-callback-token";
/// The path segments after the token, one per callback URL of a room.
pub const KINDS: [&str; 3] = ["rooms", "sessions", "recordings"];

/// How to run the callback receiver.
#[derive(Clone, Debug)]
pub struct CallbackOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Base URL under which the Meetings API reaches the listener; when
    /// `None`, `http://<bound address>` unless that address is unspecified
    /// (`0.0.0.0`, `::`), in which case rooms' URLs are not filled in.
    pub public_url: Option<String>,
    /// A fixed token; when `None`, the one kept in `token_secret`.
    pub token: Option<Token>,
    /// Secret keeping the generated token (created when missing).
    pub token_secret: SecretKey,
    /// A Service to route to this replica once it serves (see [`route`]).
    pub leader_route: Option<LeaderRoute>,
}

/// What the room controller of one watched scope takes from the receiver.
pub struct ScopeHooks {
    /// The operator's callback URLs, for rooms with `spec.operatorCallbacks`.
    pub urls: Option<RoomCallbackUrls>,
    /// Rooms to reconcile at once (after `room:expired`); for `Controller::reconcile_on`.
    pub reconcile_requests: UnboundedReceiver<ObjectRef<MeetingRoom>>,
}

impl ScopeHooks {
    /// Hooks with `urls`, and the sender the receiver requests reconciles with.
    pub fn new(urls: Option<RoomCallbackUrls>) -> (Self, UnboundedSender<ObjectRef<MeetingRoom>>) {
        let (sender, reconcile_requests) = mpsc::unbounded();
        (
            Self {
                urls,
                reconcile_requests,
            },
            sender,
        )
    }
}

/// Why the callback receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The listener could not be bound.
    #[error("listening for callbacks on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The public URL is not an absolute http(s) URL without query or fragment.
    #[error(
        "callback public URL {0:?} must be an absolute http or https URL without query or fragment"
    )]
    PublicUrl(String),
    /// A token given by the user is too short or has characters a URL path would escape.
    #[error(
        "the callback token must have at least 16 characters from A-Z, a-z, 0-9, '-', '_', '.', '~'"
    )]
    BadToken,
    /// Reading or creating the token Secret failed.
    #[error("callback token Secret {namespace}/{name}: {source}")]
    Secret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The Kubernetes error.
        source: kube::Error,
    },
    /// The token Secret exists but holds no usable token.
    #[error(
        "callback token Secret {namespace}/{name} has no usable \"token\" key; delete it to have a new one generated"
    )]
    SecretWithoutToken {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The callbacks Service could not be routed to this replica.
    #[error(transparent)]
    Route(#[from] RouteError),
}

/// Checks a public base URL and returns it without a trailing slash.
pub fn public_base(text: &str) -> Result<String, SetupError> {
    let bad = || SetupError::PublicUrl(text.to_owned());
    let url = url::Url::parse(text.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The callback URLs of the operator under `base` (a checked public base URL).
pub fn operator_urls(base: &str, token: &Token) -> RoomCallbackUrls {
    let url = |kind: &str| Some(format!("{base}/callbacks/{}/{kind}", token.expose()));
    RoomCallbackUrls {
        rooms_callback_url: url("rooms"),
        sessions_callback_url: url("sessions"),
        recordings_callback_url: url("recordings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::room::MeetingRoomSpec;

    fn spec(value: serde_json::Value) -> MeetingRoomSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn public_urls_are_checked_and_trimmed() {
        assert_eq!(
            public_base("https://hooks.example.com/").unwrap(),
            "https://hooks.example.com"
        );
        assert_eq!(
            public_base("http://10.0.0.1:8081/meetings/").unwrap(),
            "http://10.0.0.1:8081/meetings"
        );
        for bad in [
            "hooks.example.com",
            "ftp://hooks.example.com",
            "https://hooks.example.com/?a=b",
            "https://hooks.example.com/#x",
        ] {
            assert!(
                matches!(public_base(bad), Err(SetupError::PublicUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn operator_urls_fill_only_what_the_spec_leaves_unset() {
        let token = Token::parse("abcdefghijklmnopqrstuvwxyz").unwrap();
        let operator = operator_urls("https://op.example", &token);
        assert_eq!(
            operator.sessions_callback_url.as_deref(),
            Some("https://op.example/callbacks/abcdefghijklmnopqrstuvwxyz/sessions")
        );
        let with_own = spec(serde_json::json!({
            "displayName": "x", "operatorCallbacks": true,
            "callbackUrls": {"roomsCallbackUrl": "https://mine.example/rooms"}
        }));
        let urls = with_own.effective_callback_urls(Some(&operator)).unwrap();
        assert_eq!(
            urls.rooms_callback_url.as_deref(),
            Some("https://mine.example/rooms")
        );
        assert_eq!(urls.sessions_callback_url, operator.sessions_callback_url);
        assert_eq!(
            urls.recordings_callback_url,
            operator.recordings_callback_url
        );

        // Off, or no public URL: the spec's own URLs only.
        let off = spec(serde_json::json!({"displayName": "x", "operatorCallbacks": false}));
        assert_eq!(off.effective_callback_urls(Some(&operator)), None);
        assert_eq!(
            with_own.effective_callback_urls(None),
            with_own.callback_urls.as_deref().cloned()
        );
    }
}
