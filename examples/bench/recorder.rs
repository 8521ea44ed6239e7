//! Samples over the run, for the picture: the simulator's room creates,
//! rooms Ready and the operator's RSS, and the phases' start times.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meetings_simulator::RunningSimulator;

use crate::procfs::proc_stats;
use crate::tracker::Tracker;

/// When the simulator answered the rooms' creates: cumulative counts per
/// second since the clock started, as points for the picture, and the first
/// and last create.
#[derive(Default)]
pub struct Timeline {
    pub per_second: Vec<u64>,
    pub points: Vec<(f64, f64)>,
    pub first_create: Option<Duration>,
    pub last_create: Option<Duration>,
}

impl Timeline {
    pub fn sample(&mut self, sim: &RunningSimulator, started: Instant, rooms: u64) {
        let at = started.elapsed();
        let creates = sim.counters().operation("createRoom");
        if creates > 0 && self.first_create.is_none() {
            self.first_create = Some(at);
        }
        if creates >= rooms && self.last_create.is_none() {
            self.last_create = Some(at);
        }
        let second = at.as_secs() as usize;
        if self.per_second.len() <= second {
            let last = self.per_second.last().copied().unwrap_or(0);
            self.per_second.resize(second, last);
            self.per_second.push(creates);
        } else if let Some(slot) = self.per_second.get_mut(second) {
            *slot = creates;
        }
        // A point every 100 ms at most.
        let t = at.as_secs_f64();
        if self.points.last().is_none_or(|last| t - last.0 >= 0.1) {
            self.points.push((t, creates as f64));
        }
    }
}

/// One sample of the run: seconds since the first room was applied, rooms
/// Ready (the tracker's count) and the operator's RSS (none between
/// processes).
#[derive(Clone, Copy)]
pub struct Sample {
    pub t: f64,
    pub ready: usize,
    pub pid: i32,
    pub rss_kib: Option<u64>,
}

/// Samples rooms Ready and the operator's RSS every 100 ms, from the first
/// room's create until the end of the naive baselines, and the phases'
/// start times on the same clock.
pub struct Recorder {
    origin: Instant,
    pid: Arc<AtomicI32>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    phases: Mutex<Vec<(f64, String)>>,
}

impl Recorder {
    pub fn start(origin: Instant, pid: i32, tracker: &Tracker) -> Self {
        let recorder = Self {
            origin,
            pid: Arc::new(AtomicI32::new(pid)),
            stop: Arc::new(AtomicBool::new(false)),
            samples: Arc::new(Mutex::new(Vec::new())),
            phases: Mutex::new(vec![(0.0, "converge".to_owned())]),
        };
        let (pid, stop, samples, tracker) = (
            recorder.pid.clone(),
            recorder.stop.clone(),
            recorder.samples.clone(),
            tracker.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let ready = tracker.ready();
                let pid = pid.load(Ordering::SeqCst);
                let rss_kib = (pid > 0)
                    .then(|| proc_stats(pid).ok().map(|s| s.rss_kib))
                    .flatten()
                    .filter(|kib| *kib > 0);
                let sample = Sample {
                    t: origin.elapsed().as_secs_f64(),
                    ready,
                    pid,
                    rss_kib,
                };
                samples
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sample);
            }
        });
        recorder
    }

    pub fn phase(&self, name: &str) {
        let t = self.origin.elapsed().as_secs_f64();
        self.phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((t, name.to_owned()));
    }

    /// The process whose RSS is sampled (0: none).
    pub fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::SeqCst);
    }

    /// The highest RSS sampled since `since`, MiB.
    pub fn max_rss_since(&self, since: Instant) -> Option<f64> {
        let from = since.saturating_duration_since(self.origin).as_secs_f64();
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.t >= from)
            .filter_map(|s| s.rss_kib)
            .max()
            .map(|kib| kib as f64 / 1024.0)
    }

    /// Stops sampling; the samples, and the phases as (start, end, name).
    pub fn finish(&self) -> (Vec<Sample>, Vec<(f64, f64, String)>) {
        self.stop.store(true, Ordering::SeqCst);
        let end = self.origin.elapsed().as_secs_f64();
        let samples = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        let starts = self
            .phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let phases = starts
            .iter()
            .enumerate()
            .map(|(i, (start, name))| {
                let until = starts.get(i + 1).map_or(end, |next| next.0);
                (*start, until, name.clone())
            })
            .collect();
        (samples, phases)
    }
}
