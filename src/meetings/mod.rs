//! Typed client for the Vonage Meetings API.
//!
//! Every request goes through one client-wide [`RateLimiter`], carries an RS256
//! bearer token minted from the application's [`Credentials`] (cached, re-minted
//! before expiry and once after a 401), and is retried with jittered exponential
//! backoff on 429, 5xx and transport errors when repeating it is safe.
//!
//! # Exactly-once creates
//! `POST /rooms` and `POST /themes` are never repeated blindly: when an attempt
//! may have reached the server ([`ApiError::may_have_committed`]) the error is
//! returned to the caller, who must look the object up before creating again.
//! The operator records a `pendingCreate` marker in status before the call and,
//! when the answer is lost, recognises the room by what the service stores for
//! the request, or the theme by its unique name, before creating again.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
mod lenient;
pub mod models;
pub mod observe;
mod operations;
pub mod pagination;
pub mod rate_limit;
pub mod retry;

pub use auth::{Credentials, CredentialsError};
pub use client::{ClientBuilder, MeetingsClient, http_client};
pub use config::{ClientConfig, DEFAULT_BASE_URL};
pub use error::{ApiError, ErrorClass, GatewayError, ServiceError};
pub use lenient::timestamp::{format as format_timestamp, parse as parse_timestamp};
pub use models::*;
pub use observe::{ApiObserver, NoopObserver, Outcome};
pub use pagination::{PageQuery, RoomScope};
pub use rate_limit::{Priority, RateLimit, RateLimiter};
pub use retry::{Idempotency, RetryPolicy};
