//! A bounded log of answered requests, for conformance checks against the spec.

use std::collections::VecDeque;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// One request and the answer the simulator gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exchange {
    /// Monotonic sequence number.
    pub seq: u64,
    /// Real time the answer was produced.
    pub at: Timestamp,
    /// Operation id from the spec (`storageUpload` for storage), if the route is known.
    pub operation_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query as requested.
    pub path: String,
    /// The JSON request body, when the request had one (unparsable JSON is kept as text).
    pub request_body: Option<Value>,
    /// Status produced by the simulator.
    pub status: u16,
    /// Whether the answer reached the client (false when the connection was dropped).
    pub delivered: bool,
    /// The JSON body, when the answer had one.
    pub body: Option<Value>,
}

/// Ring buffer of the most recent exchanges.
#[derive(Debug)]
pub struct ExchangeLog {
    capacity: usize,
    inner: Mutex<(VecDeque<Exchange>, u64)>,
}

impl ExchangeLog {
    /// A log keeping the last `capacity` exchanges.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new((VecDeque::new(), 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<Exchange>, u64)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an exchange (its `seq` is assigned here) and evicts the oldest past capacity.
    pub fn record(&self, mut exchange: Exchange) {
        if self.capacity == 0 {
            return;
        }
        let mut guard = self.lock();
        let (log, next) = &mut *guard;
        *next += 1;
        exchange.seq = *next;
        log.push_back(exchange);
        while log.len() > self.capacity {
            log.pop_front();
        }
    }

    /// Exchanges with `seq > after`, at most `limit` of them.
    pub fn since(&self, after: u64, limit: usize) -> Vec<Exchange> {
        self.lock()
            .0
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Every retained exchange.
    pub fn all(&self) -> Vec<Exchange> {
        self.since(0, usize::MAX)
    }

    /// Forgets every exchange (sequence numbers keep increasing).
    pub fn clear(&self) {
        self.lock().0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(status: u16) -> Exchange {
        Exchange {
            seq: 0,
            at: Timestamp::now(),
            operation_id: Some("getRooms".into()),
            method: "GET".into(),
            path: "/v1/meetings/rooms".into(),
            request_body: None,
            status,
            delivered: true,
            body: None,
        }
    }

    #[test]
    fn keeps_the_most_recent() {
        let log = ExchangeLog::new(2);
        for status in [200, 201, 202] {
            log.record(exchange(status));
        }
        let all = log.all();
        assert_eq!(
            all.iter().map(|e| e.status).collect::<Vec<_>>(),
            vec![201, 202]
        );
        assert_eq!(all[1].seq, 3);
        assert_eq!(log.since(2, 10).len(), 1);
        log.clear();
        assert!(log.all().is_empty());
    }
}
