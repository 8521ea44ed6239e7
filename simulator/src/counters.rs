//! Request and callback counters, resettable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Counts of requests per operation and status, and of callback deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CountersSnapshot {
    /// Requests observed on API and storage routes, counted once answered.
    pub total: u64,
    /// Requests on API and storage routes counted as they arrive, before any
    /// injected latency: when a client made its first call.
    pub arrived: u64,
    /// Requests per operation id (`unmatched` for unknown routes).
    pub by_operation: BTreeMap<String, u64>,
    /// Answered requests per status.
    pub by_status: BTreeMap<u16, u64>,
    /// Answered requests per operation id and status.
    pub by_operation_status: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Connections closed without an answer (injected drops and hangs).
    pub dropped_connections: u64,
    /// Callback POSTs answered with 2xx.
    pub callbacks_delivered: u64,
    /// Callback POSTs that failed or got a non-2xx answer.
    pub callbacks_failed: u64,
    /// Events not sent because no callback URL applied.
    pub callbacks_skipped: u64,
}

impl CountersSnapshot {
    /// Requests seen for `operation`.
    pub fn operation(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).copied().unwrap_or(0)
    }

    /// Answers with `status` for `operation`.
    pub fn operation_status(&self, operation: &str, status: u16) -> u64 {
        self.by_operation_status
            .get(operation)
            .and_then(|m| m.get(&status))
            .copied()
            .unwrap_or(0)
    }
}

/// Outcome of one callback attempt, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// 2xx answer.
    Delivered,
    /// Error or non-2xx answer.
    Failed,
    /// No URL to send to.
    Skipped,
}

/// Thread-safe counters.
#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<CountersSnapshot>,
}

impl Counters {
    fn lock(&self) -> std::sync::MutexGuard<'_, CountersSnapshot> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that a request arrived.
    pub fn record_arrival(&self) {
        self.lock().arrived += 1;
    }

    /// Records one request; `status` is `None` when the connection was dropped.
    pub fn record_request(&self, operation: &str, status: Option<u16>) {
        let mut c = self.lock();
        c.total += 1;
        *c.by_operation.entry(operation.to_string()).or_default() += 1;
        match status {
            Some(status) => {
                *c.by_status.entry(status).or_default() += 1;
                *c.by_operation_status
                    .entry(operation.to_string())
                    .or_default()
                    .entry(status)
                    .or_default() += 1;
            }
            None => c.dropped_connections += 1,
        }
    }

    /// Records one callback outcome.
    pub fn record_callback(&self, outcome: CallbackOutcome) {
        let mut c = self.lock();
        match outcome {
            CallbackOutcome::Delivered => c.callbacks_delivered += 1,
            CallbackOutcome::Failed => c.callbacks_failed += 1,
            CallbackOutcome::Skipped => c.callbacks_skipped += 1,
        }
    }

    /// A copy of the current counts.
    pub fn snapshot(&self) -> CountersSnapshot {
        self.lock().clone()
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        *self.lock() = CountersSnapshot::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let counters = Counters::default();
        counters.record_request("createRoom", Some(201));
        counters.record_request("createRoom", Some(429));
        counters.record_request("createRoom", None);
        counters.record_callback(CallbackOutcome::Failed);
        counters.record_arrival();
        let snap = counters.snapshot();
        assert_eq!(snap.arrived, 1);
        assert_eq!(snap.total, 3);
        assert_eq!(snap.operation("createRoom"), 3);
        assert_eq!(snap.operation_status("createRoom", 429), 1);
        assert_eq!(snap.dropped_connections, 1);
        assert_eq!(snap.callbacks_failed, 1);
        counters.reset();
        assert_eq!(counters.snapshot(), CountersSnapshot::default());
    }
}
