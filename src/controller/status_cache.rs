//! The statuses this operator wrote and the watch has not shown yet.
//!
//! The operator is the only writer of its objects' status, but its cache lags
//! behind its own writes: a reconcile triggered by the previous write may see
//! the status from before it. Remembering what was written until the watch
//! catches up stops that reconcile from repeating work (such as recovering a
//! create it already recorded) or rewriting an identical status.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Written statuses by object uid, dropped once the watch shows them.
pub struct StatusCache<S> {
    state: Mutex<Entries<S>>,
    max_age: Duration,
}

struct Entries<S> {
    by_uid: HashMap<String, (Instant, S)>,
    last_sweep: Instant,
}

impl<S: Clone + PartialEq> StatusCache<S> {
    /// Entries older than `max_age` are ignored (the watch has surely caught up).
    pub fn new(max_age: Duration) -> Self {
        Self {
            state: Mutex::new(Entries {
                by_uid: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            max_age,
        }
    }

    /// The newest known status: the one written, unless the watch already shows it.
    pub fn latest(&self, uid: &str, observed: S) -> S {
        let mut state = self.lock();
        match state.by_uid.get(uid) {
            Some((written_at, written))
                if *written != observed && written_at.elapsed() < self.max_age =>
            {
                written.clone()
            }
            Some(_) => {
                state.by_uid.remove(uid);
                observed
            }
            None => observed,
        }
    }

    /// Records a status just written. Entries past `max_age` that no
    /// reconcile asked for again are swept here, at most once per `max_age`.
    pub fn remember(&self, uid: &str, status: S) {
        let mut state = self.lock();
        if state.last_sweep.elapsed() >= self.max_age {
            let max_age = self.max_age;
            state
                .by_uid
                .retain(|_, (written_at, _)| written_at.elapsed() < max_age);
            state.last_sweep = Instant::now();
        }
        state
            .by_uid
            .insert(uid.to_owned(), (Instant::now(), status));
    }

    /// Forgets an object (deleted).
    pub fn forget(&self, uid: &str) {
        self.lock().by_uid.remove(uid);
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().by_uid.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<S>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// When each object was last read from the API, so triggers that change
/// nothing remote (such as a room's status write) cost no API call.
#[derive(Default)]
pub struct LastObserved {
    at: Mutex<HashMap<String, Instant>>,
}

impl LastObserved {
    /// Records an observation of `uid` now.
    pub fn mark(&self, uid: &str) {
        self.at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_owned(), Instant::now());
    }

    /// Whether `uid` was observed less than `within` ago.
    pub fn is_recent(&self, uid: &str, within: Duration) -> bool {
        self.at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid)
            .is_some_and(|at| at.elapsed() < within)
    }

    /// Forgets `uid`.
    pub fn forget(&self, uid: &str) {
        self.at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_status_wins_until_observed() {
        let cache = StatusCache::new(Duration::from_secs(60));
        assert_eq!(cache.latest("a", 1), 1);
        cache.remember("a", 2);
        assert_eq!(cache.latest("a", 1), 2, "stale watch");
        assert_eq!(cache.latest("a", 2), 2, "watch caught up");
        assert!(cache.is_empty());
    }

    #[test]
    fn entries_nobody_asks_for_again_are_swept() {
        let cache = StatusCache::new(Duration::from_millis(20));
        cache.remember("a", 1);
        cache.remember("b", 1);
        std::thread::sleep(Duration::from_millis(30));
        cache.remember("c", 1);
        assert_eq!(cache.len(), 1, "a and b were swept, c is new");
    }

    #[test]
    fn a_condition_written_now_reads_back_equal() {
        let written = crate::controller::now();
        let json = serde_json::to_string(&written).unwrap();
        let read: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time =
            serde_json::from_str(&json).unwrap();
        assert_eq!(read, written, "{json}");
    }

    #[test]
    fn old_entries_expire() {
        let cache = StatusCache::new(Duration::ZERO);
        cache.remember("a", 2);
        assert_eq!(cache.latest("a", 1), 1);
    }
}
