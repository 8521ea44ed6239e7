//! Exponential backoff per object: kube-runtime requeues failures at a fixed
//! delay, so each object's failure count is kept here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

/// Failure counts per object key, turned into jittered exponential delays.
#[derive(Debug)]
pub struct ObjectBackoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl ObjectBackoff {
    /// Delays start near `base` and double up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::default(),
        }
    }

    /// Records one more failure of `key` and returns how long to wait.
    pub fn next_delay(&self, key: &str) -> Duration {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(key.to_owned()).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        let exp = self.base.saturating_mul(1u32 << (entry.0 - 1).min(20));
        let capped = exp.min(self.max);
        // Equal jitter: at least half the delay, so a failing object never spins.
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let delay = half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
        entry.1 = Instant::now() + delay;
        delay
    }

    /// Time left before `key` may be retried, if it is backing off. Triggers
    /// that arrive meanwhile (such as the watch event of the failure's own
    /// status write) must wait for it, or a failing object would spin.
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|(_, retry_at)| retry_at.saturating_duration_since(Instant::now()))
            .filter(|left| !left.is_zero())
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Failures recorded for `key`.
    pub fn failures(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map_or(0, |(count, _)| *count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_object_and_reset() {
        let backoff = ObjectBackoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let first = backoff.next_delay("a");
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
        let second = backoff.next_delay("a");
        assert!(second >= Duration::from_secs(1) && second <= Duration::from_secs(2));
        for _ in 0..20 {
            backoff.next_delay("a");
        }
        let capped = backoff.next_delay("a");
        assert!(capped >= Duration::from_secs(30) && capped <= Duration::from_secs(60));
        let other = backoff.next_delay("b");
        assert!(other <= Duration::from_secs(1), "objects are independent");
        assert!(
            backoff
                .remaining("a")
                .is_some_and(|left| left > Duration::from_secs(20))
        );
        backoff.reset("a");
        assert_eq!(backoff.remaining("a"), None);
        assert_eq!(backoff.failures("a"), 0);
    }
}
