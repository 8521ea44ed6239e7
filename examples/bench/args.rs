//! The benchmark's command line, and what follows from it: the operator's
//! rate, burst and concurrency, pages per listing, the resync period.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "bench",
    about = "Convergence, API economy and footprint of meetings-operator against the test control plane and the simulator"
)]
/// The command line.
pub struct Args {
    /// MeetingRooms to create.
    #[arg(long, default_value_t = 1000)]
    pub rooms: usize,
    /// Namespaces the rooms are spread over (round robin).
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    /// MeetingThemes (theme j lives in namespace j mod namespaces; the rooms
    /// of a namespace with themes use them round robin, the others none).
    #[arg(long, default_value_t = 5)]
    pub themes: usize,
    /// Latency the simulator adds to every API call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
    /// Server-side rate limit, requests per second (429 with Retry-After above it).
    #[arg(long, default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Server-side burst (bucket size); the simulator's default is the rate rounded up.
    #[arg(long)]
    pub server_burst: Option<u32>,
    /// The operator's client rate (default: the server's).
    #[arg(long)]
    pub client_rate: Option<f64>,
    /// The operator's client burst. Default: four fifths of the server's.
    /// Below it: with both buckets equal, requests that leave the client
    /// together reach the server faster than it refills and some are
    /// answered 429; a fifth to spare absorbs arrivals bunched by up to a
    /// fifth of a second.
    #[arg(long)]
    pub client_burst: Option<u32>,
    /// Rooms per page when the operator lists.
    #[arg(long, default_value_t = 100)]
    pub page_size: u32,
    /// The operator's resync period, in seconds (default 30, or three
    /// listings' time, ceil(rooms / page size) × latency × 3, if longer).
    #[arg(long)]
    pub resync_secs: Option<u64>,
    /// Room listings (resync periods) of steady state to measure.
    #[arg(long, default_value_t = 3)]
    pub periods: u32,
    /// The operator's concurrent reconciles per kind (also the naive
    /// baseline's concurrency). Default: enough for the rate, 2 × rate ×
    /// (latency + 100 ms for the rate limiter's wait and the Kubernetes
    /// writes of a create), at least 16.
    #[arg(long)]
    pub concurrency: Option<u16>,
    /// Concurrent Kubernetes creates when applying the manifests (default:
    /// the rate / 5, at least 32).
    #[arg(long)]
    pub apply_concurrency: Option<usize>,
    /// The operator binary (built with `cargo build --release`).
    #[arg(long, default_value = "target/release/meetings-operator")]
    pub operator: PathBuf,
    /// Directory for the operator logs and report.json (default: target/bench/<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `RUST_LOG` of the operator during convergence and steady state (the
    /// start-up run adds debug lines of each reconcile).
    #[arg(long, default_value = "info")]
    pub operator_log: String,
    /// Skip the naive baselines.
    #[arg(long)]
    pub no_baseline: bool,
    /// How long the rooms may take to become Ready, in seconds (default:
    /// five times the lower bound, at least 120). A control plane slower
    /// than the bound's rate needs more at 100,000 rooms.
    #[arg(long)]
    pub converge_timeout_secs: Option<u64>,
    /// Skip the naive sweep with unbounded retries that ignore Retry-After.
    #[arg(long)]
    pub no_storm: bool,
    /// Fixed delay between the storm's retries, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub storm_retry_ms: u64,
    /// Peak RSS allowed to the operator in each phase (convergence, steady
    /// state, start-up), MiB (default 64 up to 10,000 rooms, else 256, the
    /// bound at 100,000).
    #[arg(long)]
    pub rss_bound_mib: Option<f64>,
    /// The operator build's name, for the report and the picture's title
    /// (default: from the binary's path).
    #[arg(long)]
    pub build_name: Option<String>,
}

impl Args {
    pub fn client_rate(&self) -> f64 {
        self.client_rate.unwrap_or(self.rate_limit)
    }

    pub fn server_burst(&self) -> u32 {
        self.server_burst
            .unwrap_or_else(|| self.rate_limit.ceil().max(1.0) as u32)
    }

    pub fn client_burst(&self) -> u32 {
        self.client_burst
            .unwrap_or_else(|| (self.server_burst() * 4 / 5).max(1))
    }

    /// Reconciles in flight for the operator to keep up with the rate (Little's law).
    pub fn concurrency(&self) -> u16 {
        self.concurrency.unwrap_or_else(|| {
            let seconds = (self.latency_ms as f64 + 100.0) / 1000.0;
            let needed = (2.0 * self.rate_limit.min(self.client_rate()) * seconds).ceil();
            needed.clamp(16.0, f64::from(u16::MAX)) as u16
        })
    }

    pub fn apply_concurrency(&self) -> usize {
        self.apply_concurrency
            .unwrap_or_else(|| ((self.rate_limit / 5.0).ceil() as usize).max(32))
    }

    /// Pages of one listing of every room.
    pub fn pages(&self) -> u64 {
        (self.rooms as u64).div_ceil(u64::from(self.page_size.max(1)))
    }

    /// One listing's sequential pages, at the simulator's latency each.
    pub fn listing_time(&self) -> Duration {
        Duration::from_millis(self.latency_ms.saturating_mul(self.pages()))
    }

    pub fn resync_secs(&self) -> u64 {
        self.resync_secs.unwrap_or_else(|| {
            let three_listings = (self.listing_time().as_secs_f64() * 3.0).ceil() as u64;
            three_listings.max(30)
        })
    }

    pub fn resync(&self) -> Duration {
        Duration::from_secs(self.resync_secs())
    }

    pub fn rss_bound_mib(&self) -> f64 {
        self.rss_bound_mib
            .unwrap_or(if self.rooms <= 10_000 { 64.0 } else { 256.0 })
    }

    pub fn build_name(&self) -> String {
        self.build_name.clone().unwrap_or_else(|| {
            let path = self.operator.to_string_lossy();
            if path.contains("musl") {
                "static musl".to_owned()
            } else {
                self.operator
                    .file_name()
                    .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
            }
        })
    }
}
