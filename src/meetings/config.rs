//! Settings of a [`MeetingsClient`](super::MeetingsClient).

use std::time::Duration;

use super::rate_limit::RateLimit;
use super::retry::RetryPolicy;

/// The production base URL of the Meetings API.
pub const DEFAULT_BASE_URL: &str = "https://api-eu.vonage.com/v1/meetings";

/// How the client reaches and treats the API.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL ending in the API prefix, e.g. `https://api-eu.vonage.com/v1/meetings`.
    pub base_url: String,
    /// Timeout of one HTTP attempt.
    pub request_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Client-wide rate limit.
    pub rate_limit: RateLimit,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// Lifetime of minted tokens (the service honours at most 24 h).
    pub token_ttl: Duration,
    /// Rooms per page when listing.
    pub page_size: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            request_timeout: Duration::from_secs(30),
            user_agent: format!("meetings-operator/{}", env!("CARGO_PKG_VERSION")),
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            token_ttl: Duration::from_secs(15 * 60),
            page_size: 100,
        }
    }
}

#[cfg(test)]
impl ClientConfig {
    /// For unit tests against a local server: no rate limit and one attempt,
    /// so that a fault answers the question instead of a retry.
    pub(crate) fn unlimited_single_attempt(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            rate_limit: RateLimit {
                per_second: 0.0,
                burst: 1,
            },
            retry: RetryPolicy {
                max_attempts: 1,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
            ..Self::default()
        }
    }
}
