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

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<(Exchange, usize)>,
    bytes: usize,
    next_seq: u64,
}

/// Ring buffer of the most recent exchanges, bounded by count and by body bytes.
#[derive(Debug)]
pub struct ExchangeLog {
    capacity: usize,
    max_bytes: usize,
    inner: Mutex<Ring>,
}

impl ExchangeLog {
    /// A log keeping at most `capacity` exchanges whose bodies total at most `max_bytes`.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            inner: Mutex::new(Ring::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether exchanges are kept at all (a capacity above zero).
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Appends an exchange whose bodies took `size` bytes (its `seq` is assigned here), and
    /// evicts the oldest past either bound.
    pub fn record(&self, mut exchange: Exchange, size: usize) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.lock();
        ring.next_seq += 1;
        exchange.seq = ring.next_seq;
        ring.entries.push_back((exchange, size));
        ring.bytes += size;
        while ring.entries.len() > self.capacity
            || (ring.bytes > self.max_bytes && ring.entries.len() > 1)
        {
            if let Some((_, freed)) = ring.entries.pop_front() {
                ring.bytes -= freed;
            }
        }
    }

    /// Exchanges with `seq > after`, at most `limit` of them.
    pub fn since(&self, after: u64, limit: usize) -> Vec<Exchange> {
        self.lock()
            .entries
            .iter()
            .map(|(e, _)| e)
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
        let mut ring = self.lock();
        ring.entries.clear();
        ring.bytes = 0;
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
        let log = ExchangeLog::new(2, usize::MAX);
        for status in [200, 201, 202] {
            log.record(exchange(status), 10);
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

    #[test]
    fn byte_budget_evicts_but_keeps_the_latest() {
        let log = ExchangeLog::new(100, 25);
        for status in [200, 201, 202] {
            log.record(exchange(status), 10);
        }
        assert_eq!(
            log.all().iter().map(|e| e.status).collect::<Vec<_>>(),
            vec![201, 202]
        );
        log.record(exchange(203), 1000);
        assert_eq!(
            log.all().iter().map(|e| e.status).collect::<Vec<_>>(),
            vec![203]
        );
    }
}
