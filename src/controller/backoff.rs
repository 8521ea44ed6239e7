//! Exponential backoff per object: kube-runtime requeues failures at a fixed
//! delay, so each object's failure count is kept here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

/// Failure counts per object key, turned into jittered exponential delays.
#[derive(Debug)]
pub struct ObjectBackoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
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
        let failures = {
            let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            let count = map.entry(key.to_owned()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        let exp = self.base.saturating_mul(1u32 << (failures - 1).min(20));
        let capped = exp.min(self.max);
        // Equal jitter: at least half the delay, so a failing object never spins.
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
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
            .copied()
            .unwrap_or(0)
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
        backoff.reset("a");
        assert_eq!(backoff.failures("a"), 0);
    }
}
