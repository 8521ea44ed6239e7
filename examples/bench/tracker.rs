//! Watching the rooms: when each became Ready and how often each was
//! written; waiting for all Ready and for the themes' room tallies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_simulator::RunningSimulator;

use crate::operator::OperatorProcess;

#[derive(Default)]
struct Seen {
    resource_version: String,
    changes: u64,
    ready_at: Option<Instant>,
    changes_after_ready: u64,
}

#[derive(Default)]
struct TrackerState {
    rooms: HashMap<String, Seen>,
    ready: usize,
    total_changes: u64,
}

/// Watches every MeetingRoom: when each became Ready, how often each was
/// written. Clones share the watch.
#[derive(Clone)]
pub struct Tracker {
    state: Arc<Mutex<TrackerState>>,
}

/// Per-room figures of the convergence.
pub struct PerRoom {
    ready_after: Vec<Duration>,
    pub max_changes: u64,
    pub after_ready_total: u64,
    pub after_ready_max: u64,
}

impl PerRoom {
    pub fn ready_times(&self) -> Vec<Duration> {
        let mut times = self.ready_after.clone();
        times.sort();
        times
    }
}

impl Tracker {
    pub fn start(kube: kube::Client) -> Self {
        let state = Arc::new(Mutex::new(TrackerState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            let api: Api<MeetingRoom> = Api::all(kube);
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.next().await {
                let room = match event {
                    Ok(watcher::Event::Apply(room) | watcher::Event::InitApply(room)) => room,
                    Ok(_) => continue,
                    Err(error) => {
                        eprintln!("bench: room watch: {error}");
                        continue;
                    }
                };
                let key = format!(
                    "{}/{}",
                    room.namespace().unwrap_or_default(),
                    room.name_any()
                );
                let version = room.resource_version().unwrap_or_default();
                let ready = room.status.as_ref().is_some_and(|s| {
                    meetings_operator::crd::conditions::is_true(&s.conditions, "Ready")
                });
                let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                let state = &mut *state;
                let seen = state.rooms.entry(key).or_default();
                if !seen.resource_version.is_empty() && seen.resource_version != version {
                    seen.changes += 1;
                    state.total_changes += 1;
                    if seen.ready_at.is_some() {
                        seen.changes_after_ready += 1;
                    }
                }
                seen.resource_version = version;
                if ready && seen.ready_at.is_none() {
                    seen.ready_at = Some(Instant::now());
                    state.ready += 1;
                }
            }
        });
        Self { state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ready(&self) -> usize {
        self.lock().ready
    }

    pub fn total_changes(&self) -> u64 {
        self.lock().total_changes
    }

    pub fn per_room(&self, applied: &HashMap<String, Instant>) -> PerRoom {
        let state = self.lock();
        let mut ready_after = Vec::new();
        let (mut max_changes, mut after_ready_total, mut after_ready_max) = (0, 0, 0);
        for (key, seen) in &state.rooms {
            if let (Some(ready), Some(sent)) = (seen.ready_at, applied.get(key)) {
                ready_after.push(ready.saturating_duration_since(*sent));
            }
            max_changes = max_changes.max(seen.changes);
            after_ready_total += seen.changes_after_ready;
            after_ready_max = after_ready_max.max(seen.changes_after_ready);
        }
        PerRoom {
            ready_after,
            max_changes,
            after_ready_total,
            after_ready_max,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn wait_all_ready(
    kube: &kube::Client,
    tracker: &Tracker,
    sim: &RunningSimulator,
    rooms: usize,
    themes: usize,
    started: Instant,
    timeout: Duration,
    op: &OperatorProcess,
) -> Result<(), String> {
    let theme_api: Api<MeetingTheme> = Api::all(kube.clone());
    let mut themes_ready = themes == 0;
    let mut last_report = Instant::now();
    loop {
        op.check_alive()?;
        if !themes_ready {
            let listed = theme_api
                .list(&Default::default())
                .await
                .map_err(|e| format!("listing themes: {e}"))?;
            themes_ready = listed.items.iter().all(|t| {
                t.status.as_ref().is_some_and(|s| {
                    meetings_operator::crd::conditions::is_true(&s.conditions, "Ready")
                })
            }) && listed.items.len() == themes;
        }
        let ready = tracker.ready();
        if themes_ready && ready >= rooms {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "only {ready} of {rooms} rooms Ready (themes Ready: {themes_ready}) after {:.0}s",
                timeout.as_secs_f64()
            ));
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            let counters = sim.counters();
            eprintln!(
                "bench:   {:>5.1}s  {ready}/{rooms} rooms Ready, {} API calls, {} answered 429",
                started.elapsed().as_secs_f64(),
                counters.total,
                counters.by_status.get(&429).copied().unwrap_or(0)
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(if themes_ready { 20 } else { 200 })).await;
    }
}

/// Waits until the themes' `status.rooms` name every room that uses them
/// and their `status.roomCount` counts them in the API (the operator writes
/// those tallies at most every few seconds), so that the steady state starts
/// once the operator has nothing left to write.
pub async fn wait_theme_tallies(
    kube: &kube::Client,
    themed_rooms: usize,
    timeout: Duration,
) -> Result<Duration, String> {
    let theme_api: Api<MeetingTheme> = Api::all(kube.clone());
    let started = Instant::now();
    loop {
        let listed = theme_api
            .list(&Default::default())
            .await
            .map_err(|e| format!("listing themes: {e}"))?;
        let statuses: Vec<_> = listed
            .items
            .iter()
            .filter_map(|t| t.status.as_ref())
            .collect();
        let tallied: usize = statuses.iter().map(|s| s.rooms.len()).sum();
        // Every room of the run is ours: the API's count equals the list's.
        let counted = statuses
            .iter()
            .all(|s| s.room_count == u32::try_from(s.rooms.len()).ok());
        if tallied >= themed_rooms && counted {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "the themes list {tallied} of {themed_rooms} rooms after {:.0}s",
                timeout.as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
