//! When and how long to wait before repeating a failed request.

use std::time::Duration;

use rand::Rng;

use super::error::ApiError;

/// Exponential backoff with full jitter, capped, honouring `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Upper bound of the first backoff.
    pub base_delay: Duration,
    /// Upper bound of any backoff (and of an honoured `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Whether a request may be sent twice without changing the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT, PATCH, DELETE: repeating converges to the same state.
    Idempotent,
    /// POST creating an object: a repeat may create a second one.
    NotIdempotent,
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` after `error` on attempt `attempt`
    /// (1-based), or `None` when the request must not be repeated.
    pub fn next_delay(
        &self,
        attempt: u32,
        error: &ApiError,
        idempotency: Idempotency,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !error.is_retryable() {
            return None;
        }
        // A request that may have reached the server is repeated only when
        // repeating is harmless; a refusal (429) or unsent request always is.
        if idempotency == Idempotency::NotIdempotent && error.may_have_committed() {
            return None;
        }
        if let Some(hint) = error.retry_after() {
            return Some(hint.min(self.max_delay));
        }
        Some(self.backoff(attempt))
    }

    /// Full-jitter exponential backoff for the given 1-based attempt.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error() -> ApiError {
        ApiError::Server {
            status: 503,
            message: String::new(),
        }
    }

    #[test]
    fn retries_idempotent_server_errors_until_the_budget_ends() {
        let policy = RetryPolicy::default();
        for attempt in 1..4 {
            assert!(
                policy
                    .next_delay(attempt, &server_error(), Idempotency::Idempotent)
                    .is_some()
            );
        }
        assert!(
            policy
                .next_delay(4, &server_error(), Idempotency::Idempotent)
                .is_none()
        );
    }

    #[test]
    fn never_repeats_a_create_that_may_have_committed() {
        let policy = RetryPolicy::default();
        assert!(
            policy
                .next_delay(1, &server_error(), Idempotency::NotIdempotent)
                .is_none()
        );
        assert!(
            policy
                .next_delay(1, &ApiError::Timeout, Idempotency::NotIdempotent)
                .is_none()
        );
        let refused = ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            policy.next_delay(1, &refused, Idempotency::NotIdempotent),
            Some(Duration::from_secs(1))
        );
        let unsent = ApiError::Transport {
            message: "connection refused".into(),
            maybe_sent: false,
        };
        assert!(
            policy
                .next_delay(1, &unsent, Idempotency::NotIdempotent)
                .is_some()
        );
    }

    #[test]
    fn answers_are_not_retried() {
        let policy = RetryPolicy::default();
        let invalid = ApiError::from_response(400, b"{}", None);
        assert!(
            policy
                .next_delay(1, &invalid, Idempotency::Idempotent)
                .is_none()
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 30,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        for attempt in 1..30 {
            let bound = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20)))
                .min(Duration::from_secs(2));
            for _ in 0..50 {
                assert!(policy.backoff(attempt) <= bound);
            }
        }
        let retry_after = ApiError::RateLimited {
            retry_after: Some(Duration::from_secs(600)),
        };
        assert_eq!(
            policy.next_delay(1, &retry_after, Idempotency::Idempotent),
            Some(Duration::from_secs(2))
        );
    }
}
