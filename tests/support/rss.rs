//! The test process's resident memory, sampled while something runs, for
//! tests that show memory stays bounded.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// This process's resident set size, in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// Samples RSS every 2 ms from a thread of its own until stopped.
pub struct RssSampler {
    before: u64,
    peak: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What a sampler saw, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct RssSamples {
    pub before: u64,
    pub peak: u64,
    pub after: u64,
}

impl RssSamples {
    /// Peak growth over the start, in KiB.
    pub fn growth(&self) -> u64 {
        self.peak.saturating_sub(self.before)
    }
}

impl RssSampler {
    /// Starts sampling now.
    pub fn start() -> Self {
        let before = rss_kib();
        let peak = Arc::new(AtomicU64::new(before));
        let sampling = Arc::new(AtomicBool::new(true));
        let thread = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Self {
            before,
            peak,
            sampling,
            thread,
        }
    }

    /// Stops sampling and returns the figures.
    pub fn stop(self) -> RssSamples {
        self.sampling.store(false, Ordering::Relaxed);
        self.thread.join().expect("the sampler thread");
        RssSamples {
            before: self.before,
            peak: self.peak.load(Ordering::Relaxed).max(rss_kib()),
            after: rss_kib(),
        }
    }
}
