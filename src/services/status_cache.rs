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

    /// Drops the entry of `uid` once the watch shows the status written
    /// (`shows` tells whether what the watch shows is the written status; it
    /// is asked only when there is an entry), so that a status no reconcile
    /// asks for again is not held for `max_age`.
    pub fn shown(&self, uid: &str, shows: impl FnOnce(&S) -> bool) {
        let mut state = self.lock();
        if state
            .by_uid
            .get(uid)
            .is_some_and(|(_, written)| shows(written))
        {
            state.by_uid.remove(uid);
        }
    }

    /// The uid of an object whose written status, not yet shown by the
    /// watch, satisfies `predicate`.
    pub fn uid_where(&self, predicate: impl Fn(&S) -> bool) -> Option<String> {
        let state = self.lock();
        state
            .by_uid
            .iter()
            .find(|(_, (written_at, written))| {
                written_at.elapsed() < self.max_age && predicate(written)
            })
            .map(|(uid, _)| uid.clone())
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
        self.last(uid).is_some_and(|at| at.elapsed() < within)
    }

    /// Whether `uid` was observed at or after `instant`.
    pub fn since(&self, uid: &str, instant: Instant) -> bool {
        self.last(uid).is_some_and(|at| at >= instant)
    }

    fn last(&self, uid: &str) -> Option<Instant> {
        self.at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(uid)
            .copied()
    }

    /// Forgets `uid`.
    pub fn forget(&self, uid: &str) {
        self.at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

/// A per-object budget of writes: a burst of `burst` at once, then one per
/// `interval` (a token bucket), so that a few changes show at once and a
/// stream of changes is written at a bounded rate.
#[derive(Debug)]
pub struct WriteBudget {
    burst: f64,
    interval: Duration,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl WriteBudget {
    /// A budget of `burst` writes, refilled by one every `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            interval,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `uid` has left now (a full bucket for an unknown object).
    fn tokens(&self, buckets: &HashMap<String, (f64, Instant)>, uid: &str) -> f64 {
        buckets.get(uid).map_or(self.burst, |(tokens, at)| {
            let refilled = at.elapsed().as_secs_f64() / self.interval.as_secs_f64();
            (tokens + refilled).min(self.burst)
        })
    }

    /// How long until `uid` may write again; zero when it may write now.
    pub fn wait(&self, uid: &str) -> Duration {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let missing = 1.0 - self.tokens(&buckets, uid);
        if missing <= 0.0 {
            Duration::ZERO
        } else {
            self.interval.mul_f64(missing)
        }
    }

    /// Spends one write of `uid`'s budget.
    pub fn spend(&self, uid: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let left = (self.tokens(&buckets, uid) - 1.0).max(0.0);
        buckets.insert(uid.to_owned(), (left, Instant::now()));
    }

    /// Forgets `uid`.
    pub fn forget(&self, uid: &str) {
        self.buckets
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
    fn an_entry_goes_once_the_watch_shows_it() {
        let cache = StatusCache::new(Duration::from_secs(60));
        cache.remember("a", 2);
        cache.shown("a", |written| *written == 1);
        assert_eq!(cache.len(), 1, "an older status shown keeps the entry");
        cache.shown("b", |_| unreachable!("no entry, nothing to compare"));
        cache.shown("a", |written| *written == 2);
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
        let written = crate::crd::conditions::now();
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

    #[test]
    fn a_write_budget_allows_a_burst_then_one_write_per_interval() {
        let budget = WriteBudget::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(budget.wait("t"), Duration::ZERO);
            budget.spend("t");
        }
        let wait = budget.wait("t");
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(
            budget.wait("other"),
            Duration::ZERO,
            "budgets are per object"
        );
        budget.forget("t");
        assert_eq!(budget.wait("t"), Duration::ZERO);
    }

    #[test]
    fn a_write_budget_refills_with_time() {
        let budget = WriteBudget::new(1, Duration::from_millis(20));
        budget.spend("t");
        assert!(budget.wait("t") > Duration::ZERO);
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(budget.wait("t"), Duration::ZERO);
    }

    #[test]
    fn an_observation_counts_since_the_instant_it_was_made() {
        let observed = LastObserved::default();
        let before = Instant::now();
        assert!(!observed.since("t", before), "never observed");
        observed.mark("t");
        let after = Instant::now() + Duration::from_millis(1);
        assert!(observed.since("t", before));
        assert!(!observed.since("t", after), "observed before that instant");
        assert!(observed.is_recent("t", Duration::from_secs(60)));
        observed.forget("t");
        assert!(!observed.since("t", before));
    }
}
