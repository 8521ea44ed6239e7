//! Convergence, API economy and footprint of the operator, against the real
//! test control plane and the Meetings API simulator, with the naive design
//! (one GET per room per resync) measured in the same run.
//!
//! Run it through `scripts/bench.sh` (which builds the Kubernetes tools, the
//! operator and this binary first), e.g. `bash scripts/bench.sh --rooms 10000`.
//!
//! What it does, in order:
//! 1. starts the control plane (etcd, kube-apiserver, kube-controller-manager
//!    on loopback) and, in this process, the simulator with a per-call latency
//!    and a server-wide rate limit (429 with `Retry-After` above it);
//! 2. starts the operator as a separate process (`meetings-operator run`) with
//!    its client rate set to the server's, so its RSS and CPU time can be read
//!    from `/proc`;
//! 3. applies the themes and N rooms spread over the namespaces (concurrent
//!    creates; the clock starts at the first one) and watches every room until
//!    all are Ready: time to all Ready, per-room time to Ready, Meetings API
//!    calls (the simulator's counters) and Kubernetes writes (the API server's
//!    `apiserver_request_total`) during convergence;
//! 4. measures steady state over whole listings: once one of the operator's
//!    room listings has ended, the window runs until `--periods` more have
//!    ended, so the reads per period count whole listings;
//! 5. times a plain LIST of every MeetingRoom from the same API server, then
//!    stops the operator and starts a new one with the N objects present
//!    (first API call, every room re-observed, memory);
//! 6. stops it and runs the naive baseline through the same client and rate
//!    limit: one GET per room per period; then the same sweep with unbounded
//!    retries that ignore `Retry-After`, to show what that costs.
//!
//! Throughout, it samples rooms Ready and the operator's RSS. It prints a
//! table of every target against its bound and a JSON report (also written
//! to `<out>/report.json`, next to the operator logs), and draws the run in
//! `<out>/run.svg` (`plot.rs`).

// The report is one `json!` literal.
#![recursion_limit = "256"]
#![allow(unsafe_code)] // the operator child dies with this process (prctl); clock ticks (sysconf)

#[path = "../../tests/support/mod.rs"]
mod support;

mod plot;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{
    ClientConfig, Credentials, MeetingsClient, RateLimit as ClientRateLimit, format_timestamp,
};
use meetings_simulator::{
    CountersSnapshot, Latency, RateLimit as ServerRateLimit, RunningSimulator, Simulator,
    SimulatorConfig,
};
use serde_json::{Value, json};

const CREDENTIALS_SECRET: &str = "meetings-credentials";
/// The targets: the first API call after a restart within this many times a
/// plain LIST of the rooms, and every room re-observed within the listing
/// time (pages × latency) times this (all Ready: see [`convergence_ratio`]).
const FIRST_CALL_VS_LIST: f64 = 1.5;
const REOBSERVE_SLACK: f64 = 1.2;
/// All Ready within this many times the lower bound: 1.05 up to 1,000
/// rooms, 1.10 above.
fn convergence_ratio(rooms: usize) -> f64 {
    if rooms <= 1_000 { 1.05 } else { 1.10 }
}

/// The page size of kube-runtime's watcher (the operator's reflectors).
const REFLECTOR_PAGE: u32 = 500;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "bench",
    about = "Convergence, API economy and footprint of meetings-operator against the test control plane and the simulator"
)]
struct Args {
    /// MeetingRooms to create.
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Namespaces the rooms are spread over (round robin).
    #[arg(long, default_value_t = 10)]
    namespaces: usize,
    /// MeetingThemes (theme j lives in namespace j mod namespaces; the rooms
    /// of a namespace with themes use them round robin, the others none).
    #[arg(long, default_value_t = 5)]
    themes: usize,
    /// Latency the simulator adds to every API call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Server-side rate limit, requests per second (429 with Retry-After above it).
    #[arg(long, default_value_t = 50.0)]
    rate_limit: f64,
    /// Server-side burst (bucket size); the simulator's default is the rate rounded up.
    #[arg(long)]
    server_burst: Option<u32>,
    /// The operator's client rate (default: the server's).
    #[arg(long)]
    client_rate: Option<f64>,
    /// The operator's client burst. Default: four fifths of the server's.
    /// Below it: with both buckets equal, requests that leave the client
    /// together reach the server faster than it refills and some are
    /// answered 429; a fifth to spare absorbs arrivals bunched by up to a
    /// fifth of a second.
    #[arg(long)]
    client_burst: Option<u32>,
    /// Rooms per page when the operator lists.
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// The operator's resync period, in seconds (default 30, or three
    /// listings' time, ceil(rooms / page size) × latency × 3, if longer).
    #[arg(long)]
    resync_secs: Option<u64>,
    /// Room listings (resync periods) of steady state to measure.
    #[arg(long, default_value_t = 3)]
    periods: u32,
    /// The operator's concurrent reconciles per kind (also the naive
    /// baseline's concurrency). Default: enough for the rate, 2 × rate ×
    /// (latency + 100 ms for the rate limiter's wait and the Kubernetes
    /// writes of a create), at least 16.
    #[arg(long)]
    concurrency: Option<u16>,
    /// Concurrent Kubernetes creates when applying the manifests (default:
    /// the rate / 5, at least 32).
    #[arg(long)]
    apply_concurrency: Option<usize>,
    /// The operator binary (built with `cargo build --release`).
    #[arg(long, default_value = "target/release/meetings-operator")]
    operator: PathBuf,
    /// Directory for the operator logs and report.json (default: target/bench/<unix time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// `RUST_LOG` of the operator during convergence and steady state (the
    /// start-up run adds debug lines of each reconcile).
    #[arg(long, default_value = "info")]
    operator_log: String,
    /// Skip the naive baselines.
    #[arg(long)]
    no_baseline: bool,
    /// How long the rooms may take to become Ready, in seconds (default:
    /// five times the lower bound, at least 120). A control plane slower
    /// than the bound's rate needs more at 100,000 rooms.
    #[arg(long)]
    converge_timeout_secs: Option<u64>,
    /// Skip the naive sweep with unbounded retries that ignore Retry-After.
    #[arg(long)]
    no_storm: bool,
    /// Fixed delay between the storm's retries, in milliseconds.
    #[arg(long, default_value_t = 10)]
    storm_retry_ms: u64,
    /// Peak RSS allowed to the operator in each phase (convergence, steady
    /// state, start-up), MiB (default 64 up to 10,000 rooms, else 256, the
    /// bound at 100,000).
    #[arg(long)]
    rss_bound_mib: Option<f64>,
    /// The operator build's name, for the report and the picture's title
    /// (default: from the binary's path).
    #[arg(long)]
    build_name: Option<String>,
}

impl Args {
    fn client_rate(&self) -> f64 {
        self.client_rate.unwrap_or(self.rate_limit)
    }

    fn server_burst(&self) -> u32 {
        self.server_burst
            .unwrap_or_else(|| self.rate_limit.ceil().max(1.0) as u32)
    }

    fn client_burst(&self) -> u32 {
        self.client_burst
            .unwrap_or_else(|| (self.server_burst() * 4 / 5).max(1))
    }

    /// Reconciles in flight for the operator to keep up with the rate (Little's law).
    fn concurrency(&self) -> u16 {
        self.concurrency.unwrap_or_else(|| {
            let seconds = (self.latency_ms as f64 + 100.0) / 1000.0;
            let needed = (2.0 * self.rate_limit.min(self.client_rate()) * seconds).ceil();
            needed.clamp(16.0, f64::from(u16::MAX)) as u16
        })
    }

    fn apply_concurrency(&self) -> usize {
        self.apply_concurrency
            .unwrap_or_else(|| ((self.rate_limit / 5.0).ceil() as usize).max(32))
    }

    /// Pages of one listing of every room.
    fn pages(&self) -> u64 {
        (self.rooms as u64).div_ceil(u64::from(self.page_size.max(1)))
    }

    /// One listing's sequential pages, at the simulator's latency each.
    fn listing_time(&self) -> Duration {
        Duration::from_millis(self.latency_ms.saturating_mul(self.pages()))
    }

    fn resync_secs(&self) -> u64 {
        self.resync_secs.unwrap_or_else(|| {
            let three_listings = (self.listing_time().as_secs_f64() * 3.0).ceil() as u64;
            three_listings.max(30)
        })
    }

    fn resync(&self) -> Duration {
        Duration::from_secs(self.resync_secs())
    }

    fn rss_bound_mib(&self) -> f64 {
        self.rss_bound_mib
            .unwrap_or(if self.rooms <= 10_000 { 64.0 } else { 256.0 })
    }

    fn build_name(&self) -> String {
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

fn main() -> ExitCode {
    let args = Args::parse();
    let root = support::repo_root();
    let operator = if args.operator.is_absolute() {
        args.operator.clone()
    } else {
        root.join(&args.operator)
    };
    if !operator.is_file() {
        eprintln!(
            "bench: {} not found; build it with `cargo build --release` (scripts/bench.sh does)",
            operator.display()
        );
        return ExitCode::FAILURE;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        root.join("target/bench").join(now.to_string())
    });
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("bench: creating {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let cp = match support::ControlPlane::start_with_crds(&["crds"]) {
        Ok(cp) => cp,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            cp.shutdown();
            eprintln!("bench: a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The operators are spawned from this (the main) thread, which lives
    // until the process exits: their PR_SET_PDEATHSIG fires only then.
    let result = runtime.block_on(run(&args, &cp, &operator, &out));
    drop(runtime);
    cp.shutdown();
    match result.and_then(|(report, picture)| write_outputs(&out, &report, &picture)) {
        Ok(()) => {
            eprintln!(
                "bench: report, picture (run.svg) and operator logs in {}",
                std::path::absolute(&out).unwrap_or(out).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            eprintln!("bench: operator logs in {}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// Writes `report.json` and `run.svg` into `out`, prints the table and the report.
fn write_outputs(out: &Path, report: &Value, picture: &plot::Plot) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| format!("the report: {e}"))?;
    let path = out.join("report.json");
    std::fs::write(&path, format!("{text}\n"))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let svg = out.join("run.svg");
    std::fs::write(&svg, picture.svg()).map_err(|e| format!("writing {}: {e}", svg.display()))?;
    print_table(report);
    println!("\n{text}");
    Ok(())
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

async fn run(
    args: &Args,
    cp: &support::ControlPlane,
    operator_bin: &Path,
    out: &Path,
) -> Result<(Value, plot::Plot), String> {
    let kube = cp.client().await;
    let latency = Duration::from_millis(args.latency_ms);
    let sim = Simulator::builder()
        .with_config(SimulatorConfig {
            latency: Some(Latency {
                fixed_ms: args.latency_ms,
                jitter_ms: 0,
            }),
            rate_limit: Some(ServerRateLimit {
                per_second: args.rate_limit,
                burst: Some(args.server_burst()),
                retry_after_secs: None,
            }),
            // Nothing reads the exchange log here.
            exchange_log_capacity: 0,
            ..SimulatorConfig::default()
        })
        .start()
        .await
        .map_err(|e| format!("starting the simulator: {e}"))?;
    let app = sim
        .default_application()
        .ok_or("the simulator has no default application")?;

    let namespaces: Vec<String> = (0..args.namespaces.max(1))
        .map(|i| format!("bench-{i}"))
        .collect();
    for ns in &namespaces {
        create_namespace(&kube, ns).await?;
    }
    write_credentials(
        &kube,
        &namespaces[0],
        &app.application_id,
        &app.private_key_pem,
    )
    .await?;
    let themes = theme_manifests(args, &namespaces)?;
    let rooms = RoomPlan::new(args, &namespaces, &themes);
    let n_rooms = rooms.len();

    let warm_up = warm_up(&kube, &namespaces[0]).await?;
    let tracker = Tracker::start(kube.clone());
    let launch = Launch {
        binary: operator_bin.to_path_buf(),
        kubeconfig: cp.kubeconfig_path().to_path_buf(),
        api_url: sim.base_url(),
        default_credentials: format!("{}/{CREDENTIALS_SECRET}", namespaces[0]),
        args: args.clone(),
    };
    // Time-outs grow with the run: a listing of N rooms, the bound.
    let listing = args.listing_time();
    let bound = lower_bound(args, themes.len(), latency);
    let startup_timeout = Duration::from_secs(120).max(Duration::from_millis(2 * n_rooms as u64));

    // --- convergence ---------------------------------------------------
    eprintln!("bench: starting the operator (empty cluster)");
    let op = launch.spawn(&out.join("operator-converge.log"), &args.operator_log)?;
    let empty_start = op.wait_ready(Duration::from_secs(60)).await?;
    eprintln!(
        "bench: operator ready after {:.2}s; applying {} themes and {} rooms",
        empty_start.as_secs_f64(),
        themes.len(),
        n_rooms
    );
    sim.reset_counters();
    let k8s_before = apiserver_requests(&kube).await?;
    let cpu_before = proc_stats(op.pid)?;
    let host_before = host_cpu()?;
    let bench_before = proc_stats(std::process::id() as i32)?;
    let started = Instant::now();
    let recorder = Recorder::start(started, op.pid, &tracker);
    let timeout = args.converge_timeout_secs.map_or_else(
        || Duration::from_secs(120).max(bound.mul_f64(5.0)),
        Duration::from_secs,
    );
    let done = AtomicBool::new(false);
    let sampling = async {
        let mut timeline = Timeline::default();
        while !done.load(Ordering::SeqCst) {
            timeline.sample(&sim, started, n_rooms as u64);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        timeline.sample(&sim, started, n_rooms as u64);
        timeline
    };
    let converging = async {
        let result = async {
            let applied = apply(&kube, &themes, &rooms, args.apply_concurrency()).await?;
            let apply_time = started.elapsed();
            let apply_rate = n_rooms as f64 / apply_time.as_secs_f64().max(1e-3);
            eprintln!(
                "bench: applied in {:.2}s ({apply_rate:.0} rooms/s); waiting for all Ready",
                apply_time.as_secs_f64(),
            );
            if apply_time > bound {
                eprintln!(
                    "bench: the apply took longer than the bound ({:.2}s): the harness or the \
                     API server, not the operator, sets the pace (--apply-concurrency)",
                    bound.as_secs_f64()
                );
            }
            wait_all_ready(
                &kube,
                &tracker,
                &sim,
                n_rooms,
                themes.len(),
                started,
                timeout,
                &op,
            )
            .await?;
            Ok::<_, String>((applied, apply_time))
        }
        .await;
        done.store(true, Ordering::SeqCst);
        result
    };
    let (timeline, converged) = tokio::join!(sampling, converging);
    let (applied, apply_time) = converged?;
    let all_ready = started.elapsed();
    let stats_at_ready = proc_stats(op.pid)?;
    let host_at_ready = host_cpu()?;
    let bench_at_ready = proc_stats(std::process::id() as i32)?;
    let operator_metrics = op.metrics().await?;
    let k8s_latency = apiserver_latencies(&kube).await?;
    recorder.phase("settle, align");
    eprintln!(
        "bench: all Ready after {:.2}s (bound {:.2}s); settling until the themes list their rooms",
        all_ready.as_secs_f64(),
        bound.as_secs_f64()
    );
    let settled = wait_theme_tallies(
        &kube,
        rooms.themed(),
        Duration::from_secs(60).max(bound / 2),
    )
    .await?;
    eprintln!(
        "bench: themes list all their rooms {:.2}s after all Ready",
        settled.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let converge_calls = sim.counters();
    sim.reset_counters();
    let k8s_converged = apiserver_requests(&kube).await?;
    let stats_converged = proc_stats(op.pid)?;
    let per_room = tracker.per_room(&applied);
    drop(applied);

    // --- steady state --------------------------------------------------
    // The window holds whole listings: it opens once a listing has ended
    // and closes when `periods` more have.
    let quiet = Duration::from_secs(1).max(latency * 10);
    let one_period = args.resync() + listing + quiet;
    eprintln!(
        "bench: steady state: waiting for the end of a room listing, then {} more (resync {}s)",
        args.periods,
        args.resync_secs()
    );
    let aligned = wait_listings(&sim, &op, 1, quiet, one_period * 2).await?;
    if aligned == 0 {
        eprintln!(
            "bench: no room listing seen; measuring {} periods from now",
            args.periods
        );
    }
    // Convergence's peak, then the steady state's own (clear_refs 5 resets VmHWM).
    let hwm_converged = proc_stats(op.pid)?.hwm_kib;
    let hwm_reset = reset_peak_rss(op.pid);
    sim.reset_counters();
    let k8s_steady_before = apiserver_requests(&kube).await?;
    let stats_steady_before = proc_stats(op.pid)?;
    let writes_before_steady = tracker.total_changes();
    recorder.phase("steady");
    let steady_started = Instant::now();
    let listings = wait_listings(
        &sim,
        &op,
        args.periods,
        quiet,
        one_period * (args.periods + 1),
    )
    .await?;
    let window = steady_started.elapsed();
    let steady_calls = sim.counters();
    sim.reset_counters();
    let k8s_steady = apiserver_requests(&kube).await?;
    let stats_steady = proc_stats(op.pid)?;
    let watched_writes_steady = tracker.total_changes() - writes_before_steady;
    let steady_rss_sampled = recorder.max_rss_since(steady_started);
    let converge_warnings = op.log_summary();

    // --- a plain LIST of every room, then start-up with them present ----
    recorder.phase("LIST");
    op.stop().await;
    recorder.set_pid(0);
    eprintln!("bench: timing a plain LIST of the {n_rooms} rooms (operator stopped)");
    let list = time_room_lists(&kube).await?;
    eprintln!(
        "bench: LIST of {} rooms in {} pages of {REFLECTOR_PAGE}: median {:.3}s (unpaged {:.3}s)",
        list.items,
        list.pages,
        list.median().as_secs_f64(),
        list.unpaged.as_secs_f64()
    );
    eprintln!("bench: restarting the operator with {n_rooms} rooms present");
    let k8s_before_restart = apiserver_requests(&kube).await?;
    let restart_writes_before = tracker.total_changes();
    sim.reset_counters();
    recorder.phase("restart");
    let op = launch.spawn(
        &out.join("operator-restart.log"),
        "info,meetings_operator::controller=debug",
    )?;
    recorder.set_pid(op.pid);
    let first_call = async {
        loop {
            // As the request arrives, not once its injected latency is over.
            if sim.counters().arrived > 0 {
                let at = op.started.elapsed();
                return (at, proc_stats(op.pid).map(|s| s.cpu_s).ok());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (first_call, restart_ready) = tokio::join!(
        tokio::time::timeout(startup_timeout, first_call),
        op.wait_ready(startup_timeout)
    );
    let (first_api_call, cpu_at_first_call) = match first_call {
        Ok((at, cpu)) => (Some(at), cpu),
        Err(_) => (None, None),
    };
    let restart_ready = restart_ready?;
    let all_reobserved = op
        .wait_rooms_reconciled(n_rooms, Duration::from_secs(300).max(listing * 10))
        .await?;
    let cpu_at_reobserved = proc_stats(op.pid)?.cpu_s;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restart_calls = sim.counters();
    sim.reset_counters();
    let k8s_restart = apiserver_requests(&kube).await?;
    let stats_restart = proc_stats(op.pid)?;
    let restart_watched_writes = tracker.total_changes() - restart_writes_before;
    let restart_log = op.log_summary();
    let first_reconcile_done = restart_log.first_reconciled;
    op.stop().await;
    recorder.set_pid(0);

    // --- the naive baselines ---------------------------------------------
    recorder.phase("naive");
    let naive = if args.no_baseline {
        None
    } else {
        Some(naive_baselines(args, &sim, &app.application_id, &app.private_key_pem).await?)
    };
    let (samples, phases) = recorder.finish();
    let host_end = host_cpu()?;
    let bench_end = proc_stats(std::process::id() as i32)?;

    // --- the report ------------------------------------------------------
    let n = n_rooms as f64;
    let n_themes = themes.len();
    let listings_f = f64::from(listings.max(1));
    let converge_k8s = diff(&k8s_converged, &k8s_before);
    let steady_k8s = diff(&k8s_steady, &k8s_steady_before);
    let restart_k8s = diff(&k8s_restart, &k8s_before_restart);
    let benchmark_creates = (n_rooms + n_themes) as f64;
    let converge_writes = writes(&converge_k8s);
    let operator_converge_writes = converge_writes.total - benchmark_creates;
    let status_writes = converge_writes
        .by_kind
        .iter()
        .filter(|(k, _)| k.ends_with("meetingrooms/status"))
        .map(|(_, v)| v)
        .sum::<f64>();
    let room_creates = converge_calls.operation("createRoom");
    let theme_creates = converge_calls.operation("createTheme");
    let other_api_writes = api_writes(&converge_calls)
        .saturating_sub(room_creates.min(n_rooms as u64))
        .saturating_sub(theme_creates.min(n_themes as u64));
    let answers_429 = converge_calls.by_status.get(&429).copied().unwrap_or(0);
    let page_reads = args.pages() as f64;
    let steady_page_reads = steady_calls.operation("getRooms") as f64;
    let steady_reads_per_period = reads(&steady_calls) as f64 / listings_f;
    let steady_theme_reads_per_period =
        reads(&steady_calls) as f64 / listings_f - steady_page_reads / listings_f;
    let steady_writes = api_writes(&steady_calls);
    let steady_k8s_writes = writes(&steady_k8s);
    let naive_reads_per_period = naive.as_ref().map(|b| b.polite.reads as f64);
    let ratio = all_ready.as_secs_f64() / bound.as_secs_f64();
    let ratio_limit = convergence_ratio(n_rooms);
    let cpu_converge = stats_converged.cpu_s - cpu_before.cpu_s;
    let cpu_to_ready = stats_at_ready.cpu_s - cpu_before.cpu_s;
    let cpu_steady = stats_steady.cpu_s - stats_steady_before.cpu_s;
    let mib = |kib: u64| round(kib as f64 / 1024.0, 1);
    let rss_bound = args.rss_bound_mib();
    let rss_converge = hwm_converged as f64 / 1024.0;
    let rss_steady = if hwm_reset {
        stats_steady.hwm_kib as f64 / 1024.0
    } else {
        steady_rss_sampled.unwrap_or(stats_steady.hwm_kib as f64 / 1024.0)
    };
    let rss_startup = stats_restart.hwm_kib as f64 / 1024.0;
    let list_time = list.median();
    let first_call_ratio = first_api_call.map(|d| d.as_secs_f64() / list_time.as_secs_f64());
    let reobserve = first_api_call.map(|first| all_reobserved.saturating_sub(first));
    let reobserve_ratio = reobserve.map(|d| d.as_secs_f64() / listing.as_secs_f64().max(1e-3));
    let host_busy = |a: &HostCpu, b: &HostCpu| {
        let total = (b.total - a.total).max(1) as f64;
        round((b.busy - a.busy) as f64 / total, 3)
    };
    let mut calls_per_room = serde_json::Map::new();
    for (op_id, count) in &converge_calls.by_operation {
        calls_per_room.insert(op_id.clone(), json!(round(*count as f64 / n, 4)));
    }
    let ready_times = per_room.ready_times();

    let targets = vec![
        Target {
            name: "apply → all Ready vs (N + T − burst)/rate + latency",
            measured: secs(all_ready),
            unit: "s",
            bound: round(bound.as_secs_f64() * ratio_limit, 3),
            ratio: Some(round(ratio, 3)),
            ratio_limit: Some(ratio_limit),
            met: ratio <= ratio_limit,
            cpu_s: Some(round(cpu_to_ready, 2)),
        },
        Target {
            name: "429 answers during convergence",
            measured: answers_429 as f64,
            unit: "",
            bound: 0.0,
            ratio: None,
            ratio_limit: None,
            met: answers_429 == 0,
            cpu_s: None,
        },
        Target {
            name: "room creates per room (exactly 1)",
            measured: round(room_creates as f64 / n, 4),
            unit: "",
            bound: 1.0,
            ratio: None,
            ratio_limit: None,
            met: room_creates == n_rooms as u64,
            cpu_s: None,
        },
        Target {
            name: "other API writes during convergence",
            measured: other_api_writes as f64,
            unit: "",
            bound: 0.0,
            ratio: None,
            ratio_limit: None,
            met: other_api_writes == 0 && theme_creates == n_themes as u64,
            cpu_s: None,
        },
        Target {
            name: "room writes after Ready, max per room",
            measured: per_room.after_ready_max as f64,
            unit: "",
            bound: 1.0,
            ratio: None,
            ratio_limit: None,
            met: per_room.after_ready_max <= 1,
            cpu_s: None,
        },
        Target {
            name: "peak RSS: convergence (to settled)",
            measured: round(rss_converge, 1),
            unit: "MiB",
            bound: rss_bound,
            ratio: Some(round(rss_converge / rss_bound, 3)),
            ratio_limit: Some(1.0),
            met: rss_converge <= rss_bound,
            cpu_s: Some(round(cpu_converge, 2)),
        },
        Target {
            name: "peak RSS: steady state",
            measured: round(rss_steady, 1),
            unit: "MiB",
            bound: rss_bound,
            ratio: Some(round(rss_steady / rss_bound, 3)),
            ratio_limit: Some(1.0),
            met: rss_steady <= rss_bound,
            cpu_s: Some(round(cpu_steady / listings_f, 3)),
        },
        Target {
            name: "peak RSS: start-up (to re-observed + 2 s)",
            measured: round(rss_startup, 1),
            unit: "MiB",
            bound: rss_bound,
            ratio: Some(round(rss_startup / rss_bound, 3)),
            ratio_limit: Some(1.0),
            met: rss_startup <= rss_bound,
            cpu_s: Some(round(stats_restart.cpu_s, 2)),
        },
        Target {
            name: "steady: API reads per period vs pages + themes",
            measured: round(steady_reads_per_period, 2),
            unit: "",
            bound: page_reads + n_themes as f64,
            ratio: Some(round(
                steady_reads_per_period / (page_reads + n_themes as f64).max(1.0),
                3,
            )),
            ratio_limit: Some(1.0),
            met: listings > 0
                && steady_page_reads == page_reads * f64::from(listings)
                && steady_theme_reads_per_period <= n_themes as f64,
            cpu_s: Some(round(cpu_steady / listings_f, 3)),
        },
        Target {
            name: "steady: API writes",
            measured: steady_writes as f64,
            unit: "",
            bound: 0.0,
            ratio: None,
            ratio_limit: None,
            met: steady_writes == 0,
            cpu_s: None,
        },
        Target {
            name: "steady: Kubernetes writes",
            measured: steady_k8s_writes.total,
            unit: "",
            bound: 0.0,
            ratio: None,
            ratio_limit: None,
            met: steady_k8s_writes.total == 0.0 && watched_writes_steady == 0,
            cpu_s: None,
        },
        Target {
            name: "start-up: first API call vs plain LIST of the rooms",
            measured: first_api_call.map_or(f64::NAN, secs),
            unit: "s",
            bound: round(list_time.as_secs_f64() * FIRST_CALL_VS_LIST, 3),
            ratio: first_call_ratio.map(|r| round(r, 3)),
            ratio_limit: Some(FIRST_CALL_VS_LIST),
            met: first_call_ratio.is_some_and(|r| r <= FIRST_CALL_VS_LIST),
            cpu_s: cpu_at_first_call.map(|c| round(c, 2)),
        },
        Target {
            name: "start-up: all rooms re-observed after the first call vs pages × latency",
            measured: reobserve.map_or(f64::NAN, secs),
            unit: "s",
            bound: round(listing.as_secs_f64() * REOBSERVE_SLACK, 3),
            ratio: reobserve_ratio.map(|r| round(r, 3)),
            ratio_limit: Some(REOBSERVE_SLACK),
            met: reobserve_ratio.is_some_and(|r| r <= REOBSERVE_SLACK),
            cpu_s: Some(round(cpu_at_reobserved, 2)),
        },
    ];

    let report = json!({
        "command": command_line(),
        "build": args.build_name(),
        "parameters": {
            "rooms": n_rooms,
            "namespaces": namespaces.len(),
            "themes": n_themes,
            "latency_ms": args.latency_ms,
            "server_rate_per_s": args.rate_limit,
            "server_burst": args.server_burst(),
            "client_rate_per_s": args.client_rate(),
            "client_burst": args.client_burst(),
            "page_size": args.page_size,
            "resync_s": args.resync_secs(),
            "periods": args.periods,
            "concurrency": args.concurrency(),
            "apply_concurrency": args.apply_concurrency(),
            "rss_bound_mib": rss_bound,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        },
        "targets": targets.iter().map(Target::to_json).collect::<Vec<_>>(),
        "convergence": {
            "operator_ready_empty_s": secs(empty_start),
            "warm_up_first_create_s": warm_up.iter().cloned().collect::<BTreeMap<_, _>>(),
            "apply_s": secs(apply_time),
            "apply_rooms_per_s": round(n / apply_time.as_secs_f64().max(1e-3), 1),
            "apply_longer_than_bound": apply_time > bound,
            "all_ready_s": secs(all_ready),
            "lower_bound_s": secs(bound),
            "lower_bound_formula": "(rooms + themes - server_burst) / server_rate + latency",
            "lower_bound_with_client_burst_s": secs(client_bound(args, n_themes, latency)),
            "ratio": round(ratio, 3),
            "ratio_target": ratio_limit,
            "operator_cpu_s_to_all_ready": round(cpu_to_ready, 2),
            "host_cpu_busy_fraction": host_busy(&host_before, &host_at_ready),
            "time_to_ready_p50_s": percentile(&ready_times, 0.50).map(secs),
            "time_to_ready_p99_s": percentile(&ready_times, 0.99).map(secs),
            "time_to_ready_max_s": percentile(&ready_times, 1.0).map(secs),
            "api_calls_total": converge_calls.total,
            "api_calls_per_room": Value::Object(calls_per_room),
            "api_calls_by_operation": converge_calls.by_operation,
            "api_answers_by_status": status_map(&converge_calls),
            "api_429": answers_429,
            "api_room_creates_per_room": round(room_creates as f64 / n, 4),
            "api_theme_creates": theme_creates,
            "api_other_writes": other_api_writes,
            "kubernetes_writes_total": converge_writes.total,
            "kubernetes_writes_by_operator": operator_converge_writes,
            "kubernetes_writes_by_operator_per_room": round(operator_converge_writes / n, 3),
            "kubernetes_room_status_writes_per_room": round(status_writes / n, 3),
            "kubernetes_writes": converge_writes.by_kind,
            "kubernetes_reads": reads_k8s(&converge_k8s),
            "room_writes_seen_per_room_max": per_room.max_changes,
            "room_writes_seen_after_ready_total": per_room.after_ready_total,
            "room_writes_seen_after_ready_per_room_max": per_room.after_ready_max,
            "first_create_s": timeline.first_create.map(secs),
            "last_create_s": timeline.last_create.map(secs),
            "creates_by_second": timeline.per_second,
            "diagnostics": {
                "room_reconciles": operator_metrics.sum("meetings_operator_reconciles_total", "kind=\"MeetingRoom\""),
                "theme_reconciles": operator_metrics.sum("meetings_operator_reconciles_total", "kind=\"MeetingTheme\""),
                "room_reconcile_mean_s": operator_metrics.mean("meetings_operator_reconcile_duration_seconds", "kind=\"MeetingRoom\"").map(|v| round(v, 4)),
                "rate_limiter_wait_mean_s": operator_metrics.mean("meetings_operator_rate_limiter_wait_seconds", "").map(|v| round(v, 4)),
                "create_room_call_mean_s": operator_metrics.mean("meetings_operator_api_request_duration_seconds", "operation=\"createRoom\"").map(|v| round(v, 4)),
                "kubernetes_write_mean_s": k8s_latency,
            },
        },
        "steady_state": {
            "window_s": secs(window),
            "listings": listings,
            "period_s": round(window.as_secs_f64() / listings_f, 2),
            "api_reads_per_period": round(steady_reads_per_period, 2),
            "api_room_page_reads_per_listing": round(steady_page_reads / listings_f, 2),
            "api_theme_reads_per_period": round(steady_theme_reads_per_period, 2),
            "page_reads_per_listing": page_reads,
            "api_writes": steady_writes,
            "api_calls_by_operation": steady_calls.by_operation,
            "api_answers_by_status": status_map(&steady_calls),
            "kubernetes_writes": steady_k8s_writes.by_kind,
            "kubernetes_writes_total": steady_k8s_writes.total,
            "kubernetes_reads_per_period": round(reads_k8s(&steady_k8s).values().sum::<f64>() / listings_f, 2),
            "kubernetes_reads": reads_k8s(&steady_k8s),
            "room_writes_seen": watched_writes_steady,
            "naive_reads_per_period": naive_reads_per_period,
            "reads_vs_naive": naive_reads_per_period.map(|naive| round(steady_reads_per_period / naive, 4)),
        },
        "footprint": {
            "rss_bound_mib": rss_bound,
            "peak_rss_convergence_mib": round(rss_converge, 1),
            "peak_rss_steady_mib": round(rss_steady, 1),
            "peak_rss_steady_from": if hwm_reset { "VmHWM after clear_refs" } else { "RSS sampled every 100 ms" },
            "peak_rss_startup_mib": round(rss_startup, 1),
            "rss_at_all_ready_mib": mib(stats_at_ready.rss_kib),
            "rss_steady_end_mib": mib(stats_steady.rss_kib),
            "cpu_s_to_all_ready": round(cpu_to_ready, 2),
            "cpu_s_convergence": round(cpu_converge, 2),
            "cpu_s_steady": round(cpu_steady, 2),
            "cpu_s_steady_per_period": round(cpu_steady / listings_f, 3),
            "log_warnings": converge_warnings.warnings,
            "log_errors": converge_warnings.errors,
        },
        "startup": {
            "list": {
                "how": "Api::<MeetingRoom>::all().list as kube-runtime's watcher does its initial list: limit 500, resourceVersion 0 (NotOlderThan), following continue tokens; median of 3",
                "items": list.items,
                "pages": list.pages,
                "runs_s": list.runs.iter().copied().map(secs).collect::<Vec<_>>(),
                "median_s": secs(list_time),
                "unpaged_consistent_s": secs(list.unpaged),
            },
            "to_caches_synced_s": secs(restart_ready),
            "to_first_api_call_s": first_api_call.map(secs),
            "first_api_call_vs_list": first_call_ratio.map(|r| round(r, 3)),
            "cpu_s_to_first_api_call": cpu_at_first_call.map(|c| round(c, 2)),
            "to_first_reconcile_done_s": first_reconcile_done.map(secs),
            "to_all_rooms_reobserved_s": secs(all_reobserved),
            "reobserved_after_first_call_s": reobserve.map(secs),
            "listing_time_s": secs(listing),
            "reobserve_vs_listing": reobserve_ratio.map(|r| round(r, 3)),
            "cpu_s_to_all_reobserved": round(cpu_at_reobserved, 2),
            "api_calls_by_operation": restart_calls.by_operation,
            "api_calls_total": restart_calls.total,
            "kubernetes_writes": writes(&restart_k8s).by_kind,
            "room_writes_seen": restart_watched_writes,
            "peak_rss_mib": round(rss_startup, 1),
            "cpu_s": round(stats_restart.cpu_s, 2),
            "log_warnings": restart_log.warnings,
            "log_errors": restart_log.errors,
        },
        "naive": naive.as_ref().map(|b| json!({
            "polite": b.polite.to_json(),
            "unbounded_retries": b.storm.as_ref().map(Sweep::to_json),
        })),
        "harness": {
            "bench_peak_rss_mib": mib(bench_end.hwm_kib),
            "bench_cpu_s_to_all_ready": round(bench_at_ready.cpu_s - bench_before.cpu_s, 2),
            "bench_cpu_s_total": round(bench_end.cpu_s, 2),
            "host_cpu_busy_fraction_run": host_busy(&host_before, &host_end),
        },
    });

    let picture = plot::Plot {
        title: format!(
            "meetings-operator: {n_rooms} rooms, {} namespaces, {n_themes} themes ({} build)",
            namespaces.len(),
            args.build_name()
        ),
        subtitle: format!(
            "API latency {} ms, server {}/s burst {}, client {}/s burst {}; all Ready {:.1} s = {:.3} × bound {:.1} s; operator CPU {:.1} s",
            args.latency_ms,
            args.rate_limit,
            args.server_burst(),
            args.client_rate(),
            args.client_burst(),
            all_ready.as_secs_f64(),
            ratio,
            bound.as_secs_f64(),
            cpu_to_ready
        ),
        rooms: n_rooms as u64,
        ready: samples
            .iter()
            .filter(|s| s.t <= all_ready.as_secs_f64() + 1.0)
            .map(|s| (s.t, s.ready as f64))
            .collect(),
        creates: timeline.points.clone(),
        bound: bound_curve(args, n_themes, latency),
        bound_deadline: bound.as_secs_f64() * ratio_limit,
        ratio_limit,
        naive: naive
            .as_ref()
            .map(|b| {
                b.polite
                    .progress
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (*t, (i + 1) as f64))
                    .collect()
            })
            .unwrap_or_default(),
        rss: samples
            .iter()
            .filter_map(|s| s.rss_kib.map(|kib| (s.pid, s.t, kib as f64 / 1024.0)))
            .collect(),
        phases,
        rss_bound_mib: rss_bound,
    };
    Ok((report, picture))
}

fn lower_bound(args: &Args, themes: usize, latency: Duration) -> Duration {
    let creates = (args.rooms + themes) as f64;
    let after_burst = (creates - f64::from(args.server_burst())).max(0.0);
    Duration::from_secs_f64(after_burst / args.rate_limit) + latency
}

/// What the bound allows at the client's own burst and rate (the operator
/// cannot spend more of the server's bucket than its own holds).
fn client_bound(args: &Args, themes: usize, latency: Duration) -> Duration {
    let creates = (args.rooms + themes) as f64;
    let burst = args.server_burst().min(args.client_burst());
    let rate = args.rate_limit.min(args.client_rate());
    Duration::from_secs_f64((creates - f64::from(burst)).max(0.0) / rate) + latency
}

/// The lower bound as rooms over time: the themes' and then the rooms'
/// creates spend the server's burst at once and then its rate, each room
/// Ready one latency after its create.
fn bound_curve(args: &Args, themes: usize, latency: Duration) -> Vec<(f64, f64)> {
    let burst = f64::from(args.server_burst());
    let rooms = args.rooms as f64;
    let lat = latency.as_secs_f64();
    let at_start = (burst - themes as f64).clamp(0.0, rooms);
    let end = lower_bound(args, themes, latency).as_secs_f64();
    vec![
        (0.0, 0.0),
        (lat, 0.0),
        (lat, at_start),
        (end.max(lat), rooms),
    ]
}

fn command_line() -> String {
    let mut words = vec!["bash scripts/bench.sh".to_owned()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64(), 3)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn status_map(counters: &CountersSnapshot) -> BTreeMap<String, u64> {
    counters
        .by_status
        .iter()
        .map(|(status, count)| (status.to_string(), *count))
        .collect()
}

/// Meetings API reads: every `get*` operation.
fn reads(counters: &CountersSnapshot) -> u64 {
    counters
        .by_operation
        .iter()
        .filter(|(op, _)| op.starts_with("get"))
        .map(|(_, count)| count)
        .sum()
}

/// Meetings API writes: everything else (create, update, delete, finalize, uploads).
fn api_writes(counters: &CountersSnapshot) -> u64 {
    counters.total - reads(counters)
}

// ---------------------------------------------------------------------------
// Manifests and applying them
// ---------------------------------------------------------------------------

struct ThemeManifest {
    namespace: String,
    name: String,
    object: MeetingTheme,
}

fn theme_manifests(args: &Args, namespaces: &[String]) -> Result<Vec<ThemeManifest>, String> {
    (0..args.themes)
        .map(|j| {
            let namespace = namespaces[j % namespaces.len()].clone();
            let name = format!("theme-{j}");
            let object = serde_json::from_value(json!({
                "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "themeName": format!("bench-theme-{j}"),
                    "mainColor": "#0a66c2",
                    "brandText": format!("Bench {j}"),
                    "shortCompanyUrl": format!("bench-co-{j}"),
                }
            }))
            .map_err(|e| format!("theme {name}: {e}"))?;
            Ok(ThemeManifest {
                namespace,
                name,
                object,
            })
        })
        .collect()
}

/// The rooms, made one at a time as they are applied: at 100,000 rooms a
/// list of typed objects would cost the benchmark a few hundred MiB.
/// Room `i` lives in namespace `i mod namespaces` and uses that namespace's
/// themes round robin (none if it has none).
struct RoomPlan {
    count: usize,
    namespaces: Vec<String>,
    themes_of: HashMap<String, Vec<String>>,
    expires: String,
}

impl RoomPlan {
    fn new(args: &Args, namespaces: &[String], themes: &[ThemeManifest]) -> Self {
        let mut themes_of: HashMap<String, Vec<String>> = HashMap::new();
        for theme in themes {
            themes_of
                .entry(theme.namespace.clone())
                .or_default()
                .push(theme.name.clone());
        }
        Self {
            count: args.rooms,
            namespaces: namespaces.to_vec(),
            themes_of,
            expires: format_timestamp(
                &(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)),
            ),
        }
    }

    fn len(&self) -> usize {
        self.count
    }

    fn namespace(&self, i: usize) -> &str {
        &self.namespaces[i % self.namespaces.len()]
    }

    fn name(i: usize) -> String {
        format!("room-{i:05}")
    }

    fn theme(&self, i: usize) -> Option<&str> {
        let names = self.themes_of.get(self.namespace(i))?;
        Some(names[(i / self.namespaces.len()) % names.len()].as_str())
    }

    /// Rooms that name a theme.
    fn themed(&self) -> usize {
        (0..self.count).filter(|i| self.theme(*i).is_some()).count()
    }

    fn object(&self, i: usize) -> Result<MeetingRoom, String> {
        let mut spec = json!({
            "displayName": format!("Bench room {i}"),
            "type": "long_term",
            "expiresAt": self.expires,
            "joinApprovalLevel": "none",
        });
        if let Some(theme) = self.theme(i) {
            spec["themeRef"] = json!({ "name": theme });
        }
        serde_json::from_value(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": Self::name(i), "namespace": self.namespace(i)},
            "spec": spec,
        }))
        .map_err(|e| format!("room {i}: {e}"))
    }
}

/// Creates and deletes one MeetingTheme and one MeetingRoom before the
/// operator starts: the API server's first write of a custom resource kind
/// after it started takes about two seconds (once), which is no part of what
/// is measured. Returns how long each took.
async fn warm_up(kube: &kube::Client, namespace: &str) -> Result<Vec<(String, f64)>, String> {
    let theme: MeetingTheme = serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "warm-up"},
        "spec": {"mainColor": "#000000", "brandText": "warm-up"}
    }))
    .map_err(|e| format!("warm-up theme: {e}"))?;
    let room: MeetingRoom = serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "warm-up"},
        "spec": {"displayName": "warm-up", "type": "instant"}
    }))
    .map_err(|e| format!("warm-up room: {e}"))?;
    let themes: Api<MeetingTheme> = Api::namespaced(kube.clone(), namespace);
    let rooms: Api<MeetingRoom> = Api::namespaced(kube.clone(), namespace);
    let mut took = Vec::new();
    let at = Instant::now();
    themes
        .create(&PostParams::default(), &theme)
        .await
        .map_err(|e| format!("warm-up theme: {e}"))?;
    took.push(("MeetingTheme".to_owned(), secs(at.elapsed())));
    let at = Instant::now();
    rooms
        .create(&PostParams::default(), &room)
        .await
        .map_err(|e| format!("warm-up room: {e}"))?;
    took.push(("MeetingRoom".to_owned(), secs(at.elapsed())));
    themes
        .delete("warm-up", &Default::default())
        .await
        .map_err(|e| format!("warm-up theme: {e}"))?;
    rooms
        .delete("warm-up", &Default::default())
        .await
        .map_err(|e| format!("warm-up room: {e}"))?;
    Ok(took)
}

async fn create_namespace(kube: &kube::Client, name: &str) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(kube.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .map(drop)
        .map_err(|e| format!("creating namespace {name}: {e}"))
}

async fn write_credentials(
    kube: &kube::Client,
    namespace: &str,
    application_id: &str,
    private_key_pem: &str,
) -> Result<(), String> {
    let secret = support::credentials_secret(CREDENTIALS_SECRET, application_id, private_key_pem);
    Api::<Secret>::namespaced(kube.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .map(drop)
        .map_err(|e| format!("creating the credentials Secret: {e}"))
}

/// Creates the themes, then the rooms, `concurrency` at a time (each room's
/// object made as its create is sent); returns when each room's create was
/// sent, by `namespace/name`.
async fn apply(
    kube: &kube::Client,
    themes: &[ThemeManifest],
    rooms: &RoomPlan,
    concurrency: usize,
) -> Result<HashMap<String, Instant>, String> {
    futures::stream::iter(themes.iter().map(|theme| async move {
        Api::<MeetingTheme>::namespaced(kube.clone(), &theme.namespace)
            .create(&PostParams::default(), &theme.object)
            .await
            .map(drop)
            .map_err(|e| format!("creating theme {}: {e}", theme.name))
    }))
    .buffer_unordered(concurrency.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    let sent = futures::stream::iter((0..rooms.len()).map(|i| async move {
        let namespace = rooms.namespace(i);
        let object = rooms.object(i)?;
        let at = Instant::now();
        Api::<MeetingRoom>::namespaced(kube.clone(), namespace)
            .create(&PostParams::default(), &object)
            .await
            .map_err(|e| format!("creating room {namespace}/{}: {e}", RoomPlan::name(i)))?;
        Ok::<_, String>((format!("{namespace}/{}", RoomPlan::name(i)), at))
    }))
    .buffer_unordered(concurrency.max(1))
    .try_collect::<HashMap<String, Instant>>()
    .await?;
    Ok(sent)
}

// ---------------------------------------------------------------------------
// Watching rooms: when each became Ready, and how often each was written
// ---------------------------------------------------------------------------

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

struct Tracker {
    state: Arc<Mutex<TrackerState>>,
}

struct PerRoom {
    ready_after: Vec<Duration>,
    max_changes: u64,
    after_ready_total: u64,
    after_ready_max: u64,
}

impl PerRoom {
    fn ready_times(&self) -> Vec<Duration> {
        let mut times = self.ready_after.clone();
        times.sort();
        times
    }
}

impl Tracker {
    fn start(kube: kube::Client) -> Self {
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

    fn ready(&self) -> usize {
        self.lock().ready
    }

    fn total_changes(&self) -> u64 {
        self.lock().total_changes
    }

    fn per_room(&self, applied: &HashMap<String, Instant>) -> PerRoom {
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
async fn wait_all_ready(
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
async fn wait_theme_tallies(
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

/// When the simulator answered the rooms' creates: cumulative counts per
/// second since the clock started, as points for the picture, and the first
/// and last create.
#[derive(Default)]
struct Timeline {
    per_second: Vec<u64>,
    points: Vec<(f64, f64)>,
    first_create: Option<Duration>,
    last_create: Option<Duration>,
}

impl Timeline {
    fn sample(&mut self, sim: &RunningSimulator, started: Instant, rooms: u64) {
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
struct Sample {
    t: f64,
    ready: usize,
    pid: i32,
    rss_kib: Option<u64>,
}

/// Samples rooms Ready and the operator's RSS every 100 ms, from the first
/// room's create until the end of the naive baselines, and the phases'
/// start times on the same clock.
struct Recorder {
    origin: Instant,
    pid: Arc<AtomicI32>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    phases: Mutex<Vec<(f64, String)>>,
}

impl Recorder {
    fn start(origin: Instant, pid: i32, tracker: &Tracker) -> Self {
        let recorder = Self {
            origin,
            pid: Arc::new(AtomicI32::new(pid)),
            stop: Arc::new(AtomicBool::new(false)),
            samples: Arc::new(Mutex::new(Vec::new())),
            phases: Mutex::new(vec![(0.0, "converge".to_owned())]),
        };
        let (pid, stop, samples, state) = (
            recorder.pid.clone(),
            recorder.stop.clone(),
            recorder.samples.clone(),
            tracker.state.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let ready = state.lock().unwrap_or_else(|e| e.into_inner()).ready;
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

    fn phase(&self, name: &str) {
        let t = self.origin.elapsed().as_secs_f64();
        self.phases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((t, name.to_owned()));
    }

    /// The process whose RSS is sampled (0: none).
    fn set_pid(&self, pid: i32) {
        self.pid.store(pid, Ordering::SeqCst);
    }

    /// The highest RSS sampled since `since`, MiB.
    fn max_rss_since(&self, since: Instant) -> Option<f64> {
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
    fn finish(&self) -> (Vec<Sample>, Vec<(f64, f64, String)>) {
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

/// Waits until `count` of the operator's room listings have ended (a
/// listing: `getRooms` calls with less than `quiet` between them; it has
/// ended once `quiet` has passed without one). Returns how many ended
/// before `timeout`.
async fn wait_listings(
    sim: &RunningSimulator,
    op: &OperatorProcess,
    count: u32,
    quiet: Duration,
    timeout: Duration,
) -> Result<u32, String> {
    let started = Instant::now();
    let mut last = sim.counters().operation("getRooms");
    let mut last_change: Option<Instant> = None;
    let mut ended = 0;
    while ended < count {
        if started.elapsed() > timeout {
            eprintln!(
                "bench: only {ended} of {count} room listings ended within {:.0}s",
                timeout.as_secs_f64()
            );
            break;
        }
        op.check_alive()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = sim.counters().operation("getRooms");
        if now != last {
            last = now;
            last_change = Some(Instant::now());
        } else if last_change.is_some_and(|at| at.elapsed() >= quiet) {
            ended += 1;
            last_change = None;
        }
    }
    Ok(ended)
}

/// Plain LISTs of every MeetingRoom from the API server.
struct ListTiming {
    /// As the operator's reflector lists: pages of 500, resourceVersion "0".
    runs: Vec<Duration>,
    pages: usize,
    items: usize,
    /// One unpaged, consistent (quorum) list.
    unpaged: Duration,
}

impl ListTiming {
    fn median(&self) -> Duration {
        let mut runs = self.runs.clone();
        runs.sort();
        runs.get(runs.len() / 2).copied().unwrap_or_default()
    }
}

/// Times three LISTs of every MeetingRoom the way kube-runtime's watcher
/// makes its initial list (the operator's reflectors use
/// `watcher::Config::default().any_semantic()`): `limit=500`,
/// `resourceVersion=0` with `NotOlderThan`, following continue tokens, each
/// page decoded into typed objects; then one unpaged consistent list.
async fn time_room_lists(kube: &kube::Client) -> Result<ListTiming, String> {
    let api: Api<MeetingRoom> = Api::all(kube.clone());
    let mut timing = ListTiming {
        runs: Vec::new(),
        pages: 0,
        items: 0,
        unpaged: Duration::ZERO,
    };
    for _ in 0..3 {
        let started = Instant::now();
        let (mut pages, mut items) = (0, 0);
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().match_any().limit(REFLECTOR_PAGE);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let page = api
                .list(&params)
                .await
                .map_err(|e| format!("listing the rooms: {e}"))?;
            pages += 1;
            items += page.items.len();
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        timing.runs.push(started.elapsed());
        (timing.pages, timing.items) = (pages, items);
    }
    let started = Instant::now();
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("listing the rooms: {e}"))?;
    timing.unpaged = started.elapsed();
    drop(all);
    Ok(timing)
}

/// One of issue 16's targets, measured in this run.
struct Target {
    name: &'static str,
    measured: f64,
    unit: &'static str,
    /// The bound on `measured` (for a ratio target, the ratio limit times
    /// its reference).
    bound: f64,
    ratio: Option<f64>,
    ratio_limit: Option<f64>,
    met: bool,
    /// The operator's CPU seconds over what the target measures.
    cpu_s: Option<f64>,
}

impl Target {
    fn to_json(&self) -> Value {
        json!({
            "target": self.name,
            // Counts as integers; + 0.0 turns a difference's -0.0 into 0.
            "measured": if !self.measured.is_finite() {
                Value::Null
            } else if self.measured.fract() == 0.0 && self.measured.abs() < 1e15 {
                json!(self.measured as i64)
            } else {
                json!(self.measured + 0.0)
            },
            "unit": self.unit,
            "bound": if self.bound.fract() == 0.0 { json!(self.bound as i64) } else { json!(self.bound) },
            "ratio": self.ratio,
            "ratio_limit": self.ratio_limit,
            "met": self.met,
            "operator_cpu_s": self.cpu_s,
        })
    }
}

/// Busy and total jiffies of all CPUs (`/proc/stat`).
struct HostCpu {
    busy: u64,
    total: u64,
}

fn host_cpu() -> Result<HostCpu, String> {
    let stat =
        std::fs::read_to_string("/proc/stat").map_err(|e| format!("reading /proc/stat: {e}"))?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .ok_or("no cpu line in /proc/stat")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok(HostCpu {
        busy: total - idle,
        total,
    })
}

/// Resets `pid`'s peak RSS (VmHWM) to its current RSS; false if the kernel
/// refused.
fn reset_peak_rss(pid: i32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

// ---------------------------------------------------------------------------
// The operator process
// ---------------------------------------------------------------------------

struct Launch {
    binary: PathBuf,
    kubeconfig: PathBuf,
    api_url: String,
    default_credentials: String,
    args: Args,
}

#[derive(Default, Clone)]
struct LogSummary {
    metrics_addr: Option<SocketAddr>,
    first_reconciled: Option<Duration>,
    /// Distinct rooms reconciled without error (debug logs of the runner),
    /// and when the last of them was first.
    rooms_reconciled: usize,
    last_new_room: Option<Duration>,
    warnings: u64,
    errors: u64,
    last_problem: Option<String>,
}

struct OperatorProcess {
    child: Child,
    pid: i32,
    started: Instant,
    log: Arc<Mutex<LogSummary>>,
    http: reqwest::Client,
}

impl Launch {
    fn spawn(&self, log_path: &Path, rust_log: &str) -> Result<OperatorProcess, String> {
        let a = &self.args;
        let log = File::create(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let stderr = log
            .try_clone()
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut command = Command::new(&self.binary);
        command
            .arg("run")
            .arg(format!("--api-url={}", self.api_url))
            .arg(format!(
                "--default-credentials={}",
                self.default_credentials
            ))
            .arg(format!("--rate-limit={}", a.client_rate()))
            .arg(format!("--rate-burst={}", a.client_burst()))
            .arg(format!("--resync-period={}s", a.resync_secs()))
            .arg(format!("--concurrency={}", a.concurrency()))
            .arg(format!("--page-size={}", a.page_size))
            .arg("--leader-election=false")
            .arg("--metrics-addr=127.0.0.1:0")
            .arg("--log-json")
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", rust_log)
            .env_remove("WATCH_NAMESPACES")
            .env_remove("LABEL_SELECTOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        // SAFETY: prctl is async-signal-safe; the operator dies with this process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        let pid = i32::try_from(child.id()).map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no operator stdout")?;
        let summary = Arc::new(Mutex::new(LogSummary::default()));
        let shared = summary.clone();
        std::thread::spawn(move || read_log(stdout, log, started, &shared));
        Ok(OperatorProcess {
            child,
            pid,
            started,
            log: summary,
            http: reqwest::Client::new(),
        })
    }
}

fn read_log(
    stdout: std::process::ChildStdout,
    mut file: File,
    started: Instant,
    summary: &Mutex<LogSummary>,
) {
    let mut rooms = std::collections::HashSet::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let at = started.elapsed();
        let _ = writeln!(file, "{line}");
        let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let message = entry.get("message").and_then(Value::as_str).unwrap_or("");
        let level = entry.get("level").and_then(Value::as_str).unwrap_or("");
        let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
        if s.metrics_addr.is_none()
            && let Some(addr) = entry.get("addr").and_then(Value::as_str)
        {
            s.metrics_addr = addr.parse().ok();
        }
        if message == "reconciled" && s.first_reconciled.is_none() {
            s.first_reconciled = Some(at);
        }
        if message == "reconciled"
            && entry.get("kind").and_then(Value::as_str) == Some("MeetingRoom")
            && entry.get("ok").and_then(Value::as_bool) == Some(true)
        {
            let namespace = entry.get("namespace").and_then(Value::as_str).unwrap_or("");
            let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
            if rooms.insert(format!("{namespace}/{name}")) {
                s.rooms_reconciled = rooms.len();
                s.last_new_room = Some(at);
            }
        }
        match level {
            "WARN" => {
                s.warnings += 1;
                s.last_problem = Some(line.clone());
            }
            "ERROR" => {
                s.errors += 1;
                s.last_problem = Some(line.clone());
            }
            _ => {}
        }
    }
}

impl OperatorProcess {
    fn check_alive(&self) -> Result<(), String> {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) if !stat_state(&stat).is_some_and(|s| s == 'Z' || s == 'X') => Ok(()),
            _ => Err(format!(
                "the operator (pid {}) exited; last problem: {}",
                self.pid,
                self.log_summary().last_problem.unwrap_or_default()
            )),
        }
    }

    fn log_summary(&self) -> LogSummary {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn metrics_addr(&self, timeout: Duration) -> Result<SocketAddr, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(addr) = self.log_summary().metrics_addr {
                return Ok(addr);
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err("the operator did not log its metrics address".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits for `/readyz` (every cache synced); returns the time since start.
    async fn wait_ready(&self, timeout: Duration) -> Result<Duration, String> {
        let addr = self.metrics_addr(timeout).await?;
        let url = format!("http://{addr}/readyz");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(self.started.elapsed());
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err("the operator did not become ready".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every one of `count` rooms has been reconciled without
    /// error (the runner's debug log names each); returns the time since
    /// start at which the last of them was first.
    async fn wait_rooms_reconciled(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let summary = self.log_summary();
            if summary.rooms_reconciled >= count
                && let Some(at) = summary.last_new_room
            {
                return Ok(at);
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(format!(
                    "the operator reconciled {} of {count} rooms in {:.0}s",
                    summary.rooms_reconciled,
                    timeout.as_secs_f64()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The operator's `/metrics`.
    async fn metrics(&self) -> Result<PromText, String> {
        let addr = self.metrics_addr(Duration::from_secs(10)).await?;
        let text = self
            .http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .map_err(|e| format!("reading the operator's metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("reading the operator's metrics: {e}"))?;
        Ok(PromText(text))
    }

    /// SIGTERM, then SIGKILL after 15 s.
    async fn stop(mut self) {
        // SAFETY: kill(2) on the pid of a child this process started and has not reaped.
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prometheus text exposition.
struct PromText(String);

impl PromText {
    /// The sum of the samples of `name` whose labels contain `label` (`""`: all).
    fn sum(&self, name: &str, label: &str) -> f64 {
        self.0
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?;
                let (labels, value) = match rest.strip_prefix('{') {
                    Some(rest) => rest.rsplit_once("} ")?,
                    None => ("", rest.strip_prefix(' ')?),
                };
                labels
                    .contains(label)
                    .then(|| value.trim().parse::<f64>().ok())?
            })
            .sum()
    }

    /// `<name>_sum / <name>_count` over the samples whose labels contain `label`.
    fn mean(&self, name: &str, label: &str) -> Option<f64> {
        let count = self.sum(&format!("{name}_count"), label);
        (count > 0.0).then(|| self.sum(&format!("{name}_sum"), label) / count)
    }
}

fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

struct ProcStats {
    cpu_s: f64,
    rss_kib: u64,
    hwm_kib: u64,
}

/// CPU seconds (user + system), resident and peak resident memory of `pid`.
fn proc_stats(pid: i32) -> Result<ProcStats, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(14), ticks(15)) else {
        return Err(format!("unexpected /proc/{pid}/stat: {stat}"));
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(ProcStats {
        cpu_s: (utime + stime) as f64 / hz,
        rss_kib: kib("VmRSS:"),
        hwm_kib: kib("VmHWM:"),
    })
}

// ---------------------------------------------------------------------------
// Kubernetes requests, from the API server's own metrics
// ---------------------------------------------------------------------------

/// `apiserver_request_total` summed by (verb, resource[/subresource]).
type Requests = BTreeMap<(String, String), f64>;

async fn apiserver_requests(kube: &kube::Client) -> Result<Requests, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| format!("a metrics request: {e}"))?;
    let text = kube
        .request_text(request)
        .await
        .map_err(|e| format!("reading the API server's metrics: {e}"))?;
    let mut totals = Requests::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = parse_labels(labels);
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let mut resource = label("resource");
        let subresource = label("subresource");
        if !subresource.is_empty() {
            resource = format!("{resource}/{subresource}");
        }
        *totals.entry((label("verb"), resource)).or_default() += value;
    }
    Ok(totals)
}

/// Mean duration of the API server's writes to the operator's resources, by
/// (verb, resource), since it started.
async fn apiserver_latencies(kube: &kube::Client) -> Result<BTreeMap<String, f64>, String> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| format!("a metrics request: {e}"))?;
    let text = kube
        .request_text(request)
        .await
        .map_err(|e| format!("reading the API server's metrics: {e}"))?;
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let (which, rest) = if let Some(rest) =
            line.strip_prefix("apiserver_request_duration_seconds_sum{")
        {
            (0, rest)
        } else if let Some(rest) = line.strip_prefix("apiserver_request_duration_seconds_count{") {
            (1, rest)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = parse_labels(labels);
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let verb = label("verb");
        let mut resource = label("resource");
        if !WRITE_VERBS.contains(&verb.as_str()) || !ours(&resource) {
            continue;
        }
        let subresource = label("subresource");
        if !subresource.is_empty() {
            resource = format!("{resource}/{subresource}");
        }
        let entry = sums.entry(format!("{verb} {resource}")).or_default();
        if which == 0 {
            entry.0 += value;
        } else {
            entry.1 += value;
        }
    }
    Ok(sums
        .into_iter()
        .filter(|(_, (_, count))| *count > 0.0)
        .map(|(k, (sum, count))| (k, round(sum / count, 4)))
        .collect())
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}

fn diff(after: &Requests, before: &Requests) -> Requests {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

struct Writes {
    total: f64,
    by_kind: BTreeMap<String, f64>,
}

const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];
const OUR_RESOURCES: [&str; 4] = ["meetingrooms", "meetingthemes", "secrets", "events"];

fn ours(resource: &str) -> bool {
    OUR_RESOURCES.contains(&resource.split('/').next().unwrap_or(""))
}

/// Writes to the resources the operator and the benchmark touch.
fn writes(requests: &Requests) -> Writes {
    let by_kind: BTreeMap<String, f64> = requests
        .iter()
        .filter(|((verb, resource), _)| WRITE_VERBS.contains(&verb.as_str()) && ours(resource))
        .map(|((verb, resource), v)| (format!("{verb} {resource}"), *v))
        .collect();
    Writes {
        total: by_kind.values().sum(),
        by_kind,
    }
}

/// GETs and LISTs of the resources the operator and the benchmark touch.
fn reads_k8s(requests: &Requests) -> BTreeMap<String, f64> {
    requests
        .iter()
        .filter(|((verb, resource), _)| matches!(verb.as_str(), "GET" | "LIST") && ours(resource))
        .map(|((verb, resource), v)| (format!("{verb} {resource}"), *v))
        .collect()
}

// ---------------------------------------------------------------------------
// The naive baselines
// ---------------------------------------------------------------------------

struct Sweep {
    what: &'static str,
    /// When each successful read completed, seconds since the sweep began, in order.
    progress: Vec<f64>,
    reads: u64,
    attempts: u64,
    answers_429: u64,
    failed: u64,
    seconds: f64,
}

impl Sweep {
    fn to_json(&self) -> Value {
        json!({
            "design": self.what,
            "reads_per_period": self.reads,
            "attempts": self.attempts,
            "api_429": self.answers_429,
            "failed": self.failed,
            "sweep_s": round(self.seconds, 2),
        })
    }
}

struct Baselines {
    polite: Sweep,
    storm: Option<Sweep>,
}

async fn naive_baselines(
    args: &Args,
    sim: &RunningSimulator,
    application_id: &str,
    private_key_pem: &str,
) -> Result<Baselines, String> {
    let ids: Vec<String> = sim
        .rooms(application_id)
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    let credentials = Credentials::new(application_id, private_key_pem.as_bytes())
        .map_err(|e| format!("credentials: {e}"))?;
    let client = MeetingsClient::new(
        ClientConfig {
            base_url: sim.base_url(),
            rate_limit: ClientRateLimit {
                per_second: args.client_rate(),
                burst: args.client_burst(),
            },
            page_size: args.page_size,
            ..ClientConfig::default()
        },
        credentials,
    )
    .map_err(|e| format!("client: {e}"))?;
    // Let the server's bucket refill after the previous phase.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "bench: naive baseline: one GET per room ({} rooms) at {}/s",
        ids.len(),
        args.client_rate()
    );
    sim.reset_counters();
    let started = Instant::now();
    let mut progress = Vec::with_capacity(ids.len());
    let results: Vec<bool> = futures::stream::iter(ids.iter().map(|id| {
        let client = &client;
        async move { client.get_room(id).await.is_ok() }
    }))
    .buffer_unordered(usize::from(args.concurrency().max(1)))
    .map(|ok| {
        if ok {
            progress.push(started.elapsed().as_secs_f64());
        }
        ok
    })
    .collect()
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let counters = sim.counters();
    let polite = Sweep {
        what: "one GET per room per period, client rate limit, Retry-After honoured",
        progress,
        reads: counters.operation_status("getRoom", 200),
        attempts: counters.operation("getRoom"),
        answers_429: counters.operation_status("getRoom", 429),
        failed: results.iter().filter(|ok| !**ok).count() as u64,
        seconds,
    };
    let storm = if args.no_storm {
        None
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
        eprintln!(
            "bench: naive baseline: no client limit, unbounded retries every {} ms ignoring Retry-After",
            args.storm_retry_ms
        );
        let token = sim
            .token(application_id)
            .map_err(|e| format!("minting a token: {e}"))?;
        let http = reqwest::Client::new();
        let base = sim.base_url();
        let pause = Duration::from_millis(args.storm_retry_ms);
        sim.reset_counters();
        let started = Instant::now();
        let results: Vec<bool> = futures::stream::iter(ids.iter().map(|id| {
            let (http, token, base) = (&http, &token, &base);
            async move {
                loop {
                    let answer = http
                        .get(format!("{base}/rooms/{id}"))
                        .bearer_auth(token)
                        .send()
                        .await;
                    match answer.map(|r| r.status().as_u16()) {
                        Ok(200) => return true,
                        Ok(429) => tokio::time::sleep(pause).await,
                        _ => return false,
                    }
                }
            }
        }))
        .buffer_unordered(usize::from(args.concurrency().max(1)))
        .collect()
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let counters = sim.counters();
        Some(Sweep {
            what: "one GET per room per period, no client limit, retried every few ms regardless of Retry-After",
            progress: Vec::new(),
            reads: counters.operation_status("getRoom", 200),
            attempts: counters.operation("getRoom"),
            answers_429: counters.operation_status("getRoom", 429),
            failed: results.iter().filter(|ok| !**ok).count() as u64,
            seconds,
        })
    };
    Ok(Baselines { polite, storm })
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

fn print_table(r: &Value) {
    let p = &r["parameters"];
    let c = &r["convergence"];
    let s = &r["steady_state"];
    let f = &r["footprint"];
    let u = &r["startup"];
    let n = &r["naive"];
    let h = &r["harness"];
    let num = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let slashed = |values: &[&Value]| {
        values
            .iter()
            .map(|v| num(v))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let map = |v: &Value| {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", num(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_owned())
    };
    println!(
        "\nmeetings-operator benchmark ({} build): {} rooms in {} namespaces, {} themes; API latency {} ms, \
         server limit {}/s (burst {}), client {}/s (burst {}), page size {}, resync {} s, concurrency {}, {} CPUs",
        num(&r["build"]),
        num(&p["rooms"]),
        num(&p["namespaces"]),
        num(&p["themes"]),
        num(&p["latency_ms"]),
        num(&p["server_rate_per_s"]),
        num(&p["server_burst"]),
        num(&p["client_rate_per_s"]),
        num(&p["client_burst"]),
        num(&p["page_size"]),
        num(&p["resync_s"]),
        num(&p["concurrency"]),
        num(&p["cpus"]),
    );
    println!("command: {}\n", r["command"].as_str().unwrap_or(""));

    // The targets: measured, bound, ratio to the reference, CPU, verdict.
    let header = [
        "target".to_owned(),
        "measured".to_owned(),
        "bound".to_owned(),
        "ratio (limit)".to_owned(),
        "operator CPU s".to_owned(),
        String::new(),
    ];
    let mut table = vec![header];
    for t in r["targets"].as_array().into_iter().flatten() {
        let unit = t["unit"].as_str().unwrap_or("");
        let with_unit = |v: &Value| {
            if unit.is_empty() || v.is_null() {
                num(v)
            } else {
                format!("{} {unit}", num(v))
            }
        };
        let ratio = if t["ratio"].is_null() {
            "-".to_owned()
        } else {
            format!("{} (≤ {})", num(&t["ratio"]), num(&t["ratio_limit"]))
        };
        table.push([
            num(&t["target"]),
            with_unit(&t["measured"]),
            format!("≤ {}", with_unit(&t["bound"])),
            ratio,
            num(&t["operator_cpu_s"]),
            if t["met"].as_bool() == Some(true) {
                "met".to_owned()
            } else {
                "NOT met".to_owned()
            },
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            table
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    println!();

    let rows: Vec<(&str, String)> = vec![
        (
            "apply (Kubernetes creates), s / rooms per s",
            format!(
                "{} / {}{}",
                num(&c["apply_s"]),
                num(&c["apply_rooms_per_s"]),
                if c["apply_longer_than_bound"].as_bool() == Some(true) {
                    " (longer than the bound: the harness sets the pace)"
                } else {
                    ""
                }
            ),
        ),
        (
            "lower bound / at the client's burst, s",
            slashed(&[&c["lower_bound_s"], &c["lower_bound_with_client_burst_s"]]),
        ),
        (
            "host CPU busy while converging (all cores)",
            num(&c["host_cpu_busy_fraction"]),
        ),
        (
            "time to Ready per room p50 / p99, s",
            slashed(&[&c["time_to_ready_p50_s"], &c["time_to_ready_p99_s"]]),
        ),
        (
            "first / last create answered, s",
            slashed(&[&c["first_create_s"], &c["last_create_s"]]),
        ),
        (
            "room reconciles / mean s / limiter wait mean s",
            slashed(&[
                &c["diagnostics"]["room_reconciles"],
                &c["diagnostics"]["room_reconcile_mean_s"],
                &c["diagnostics"]["rate_limiter_wait_mean_s"],
            ]),
        ),
        (
            "API calls per room (convergence)",
            map(&c["api_calls_per_room"]),
        ),
        (
            "Kubernetes writes by the operator per room",
            format!(
                "{} (room status {})",
                num(&c["kubernetes_writes_by_operator_per_room"]),
                num(&c["kubernetes_room_status_writes_per_room"])
            ),
        ),
        ("  of which", map(&c["kubernetes_writes"])),
        (
            "room writes after Ready: total",
            num(&c["room_writes_seen_after_ready_total"]),
        ),
        (
            "steady: listings / period s / window s",
            slashed(&[&s["listings"], &s["period_s"], &s["window_s"]]),
        ),
        (
            "steady: room pages per listing / theme reads per period",
            format!(
                "{} (of {}) / {}",
                num(&s["api_room_page_reads_per_listing"]),
                num(&s["page_reads_per_listing"]),
                num(&s["api_theme_reads_per_period"])
            ),
        ),
        (
            "steady: reads vs naive",
            format!(
                "{} ({} reads per period)",
                num(&s["reads_vs_naive"]),
                num(&s["naive_reads_per_period"])
            ),
        ),
        (
            "steady: Kubernetes reads per period",
            num(&s["kubernetes_reads_per_period"]),
        ),
        (
            "operator CPU s: convergence / steady per period",
            slashed(&[&f["cpu_s_convergence"], &f["cpu_s_steady_per_period"]]),
        ),
        (
            "start-up: LIST of the rooms, s (runs; unpaged)",
            format!(
                "{} ({}; {})",
                num(&u["list"]["median_s"]),
                u["list"]["runs_s"]
                    .as_array()
                    .map(|runs| runs.iter().map(num).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
                num(&u["list"]["unpaged_consistent_s"])
            ),
        ),
        (
            "start-up: caches synced / first API call / all re-observed, s",
            slashed(&[
                &u["to_caches_synced_s"],
                &u["to_first_api_call_s"],
                &u["to_all_rooms_reobserved_s"],
            ]),
        ),
        (
            "start-up: API calls to re-observe",
            map(&u["api_calls_by_operation"]),
        ),
        (
            "naive: reads per period / sweep s / 429s",
            slashed(&[
                &n["polite"]["reads_per_period"],
                &n["polite"]["sweep_s"],
                &n["polite"]["api_429"],
            ]),
        ),
        (
            "naive, unbounded retries: attempts / 429s / sweep s",
            slashed(&[
                &n["unbounded_retries"]["attempts"],
                &n["unbounded_retries"]["api_429"],
                &n["unbounded_retries"]["sweep_s"],
            ]),
        ),
        (
            "bench process: peak RSS MiB / CPU s to all Ready",
            slashed(&[&h["bench_peak_rss_mib"], &h["bench_cpu_s_to_all_ready"]]),
        ),
    ];
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    for (name, value) in rows {
        let pad = width - name.chars().count();
        println!("{name}{}  {value}", " ".repeat(pad));
    }
}
