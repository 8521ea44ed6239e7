//! Hooks through which callers measure the client (metrics, benchmarks).

use std::time::Duration;

/// How one HTTP attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The server answered with this status.
    Status(u16),
    /// The attempt timed out.
    Timeout,
    /// The connection failed.
    Transport,
}

impl Outcome {
    /// Label for metrics: the status code, `timeout` or `transport`.
    pub fn label(self) -> String {
        match self {
            Self::Status(status) => status.to_string(),
            Self::Timeout => "timeout".to_owned(),
            Self::Transport => "transport".to_owned(),
        }
    }
}

/// Receives one call per HTTP attempt and per rate-limit wait.
pub trait ApiObserver: Send + Sync {
    /// An attempt of `operation` (the spec's operationId) ended with `outcome` after `latency`.
    fn request_finished(&self, operation: &'static str, outcome: Outcome, latency: Duration);

    /// A request waited `waited` for the client-wide rate limiter.
    fn rate_limit_waited(&self, waited: Duration);
}

/// Observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl ApiObserver for NoopObserver {
    fn request_finished(&self, _: &'static str, _: Outcome, _: Duration) {}
    fn rate_limit_waited(&self, _: Duration) {}
}
