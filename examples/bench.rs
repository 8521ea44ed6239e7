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
//! 4. measures several resync periods of steady state;
//! 5. stops the operator and starts a new one with the N objects present
//!    (start-up time, calls to re-observe, memory);
//! 6. stops it and runs the naive baseline through the same client and rate
//!    limit: one GET per room per period; then the same sweep with unbounded
//!    retries that ignore `Retry-After`, to show what that costs.
//!
//! It prints a table and a JSON report (also written to `<out>/report.json`,
//! next to the operator logs).

#![allow(unsafe_code)] // the operator child dies with this process (prctl); clock ticks (sysconf)

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ObjectMeta, PostParams};
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
const MIB: f64 = 1024.0 * 1024.0;

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
    /// The operator's client burst.
    #[arg(long, default_value_t = 10)]
    client_burst: u32,
    /// Rooms per page when the operator lists.
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// The operator's resync period, in seconds.
    #[arg(long, default_value_t = 30)]
    resync_secs: u64,
    /// Resync periods of steady state to measure.
    #[arg(long, default_value_t = 3)]
    periods: u32,
    /// The operator's concurrent reconciles per kind (also the naive baseline's concurrency).
    #[arg(long, default_value_t = 8)]
    concurrency: u16,
    /// Concurrent Kubernetes creates when applying the manifests.
    #[arg(long, default_value_t = 32)]
    apply_concurrency: usize,
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
    /// Skip the naive sweep with unbounded retries that ignore Retry-After.
    #[arg(long)]
    no_storm: bool,
    /// Fixed delay between the storm's retries, in milliseconds.
    #[arg(long, default_value_t = 10)]
    storm_retry_ms: u64,
}

impl Args {
    fn client_rate(&self) -> f64 {
        self.client_rate.unwrap_or(self.rate_limit)
    }

    fn server_burst(&self) -> u32 {
        self.server_burst
            .unwrap_or_else(|| self.rate_limit.ceil().max(1.0) as u32)
    }

    fn resync(&self) -> Duration {
        Duration::from_secs(self.resync_secs)
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The operators are spawned from this (the main) thread, which lives
    // until the process exits: their PR_SET_PDEATHSIG fires only then.
    let result = runtime.block_on(run(&args, &cp, &operator, &out));
    drop(runtime);
    cp.shutdown();
    match result {
        Ok(report) => {
            let text = serde_json::to_string_pretty(&report).expect("the report serialises");
            let path = out.join("report.json");
            if let Err(e) = std::fs::write(&path, format!("{text}\n")) {
                eprintln!("bench: writing {}: {e}", path.display());
            }
            print_table(&report);
            println!("\n{text}");
            eprintln!(
                "bench: report and operator logs in {}",
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

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

async fn run(
    args: &Args,
    cp: &support::ControlPlane,
    operator_bin: &Path,
    out: &Path,
) -> Result<Value, String> {
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

    let namespaces: Vec<String> = (0..args.namespaces).map(|i| format!("bench-{i}")).collect();
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
    let themes = theme_manifests(args, &namespaces);
    let rooms = room_manifests(args, &namespaces, &themes);

    let warm_up = warm_up(&kube, &namespaces[0]).await?;
    let tracker = Tracker::start(kube.clone());
    let launch = Launch {
        binary: operator_bin.to_path_buf(),
        kubeconfig: cp.kubeconfig_path().to_path_buf(),
        api_url: sim.base_url(),
        default_credentials: format!("{}/{CREDENTIALS_SECRET}", namespaces[0]),
        args: args.clone(),
    };

    // --- convergence ---------------------------------------------------
    eprintln!("bench: starting the operator (empty cluster)");
    let op = launch.spawn(&out.join("operator-converge.log"), &args.operator_log)?;
    let empty_start = op.wait_ready(Duration::from_secs(60)).await?;
    eprintln!(
        "bench: operator ready after {:.2}s; applying {} themes and {} rooms",
        empty_start.as_secs_f64(),
        themes.len(),
        rooms.len()
    );
    sim.reset_counters();
    let k8s_before = apiserver_requests(&kube).await?;
    let cpu_before = proc_stats(op.pid)?;
    let started = Instant::now();
    let bound = lower_bound(args, themes.len(), latency);
    let timeout = Duration::from_secs(120).max(bound.mul_f64(5.0));
    let done = std::sync::atomic::AtomicBool::new(false);
    let sampling = async {
        let mut timeline = Timeline::default();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            timeline.sample(&sim, started, rooms.len() as u64);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        timeline.sample(&sim, started, rooms.len() as u64);
        timeline
    };
    let converging = async {
        let result = async {
            let applied = apply(&kube, &themes, &rooms, args.apply_concurrency).await?;
            let apply_time = started.elapsed();
            eprintln!(
                "bench: applied in {:.2}s; waiting for all Ready",
                apply_time.as_secs_f64()
            );
            wait_all_ready(
                &kube,
                &tracker,
                &sim,
                rooms.len(),
                themes.len(),
                started,
                timeout,
                &op,
            )
            .await?;
            Ok::<_, String>((applied, apply_time))
        }
        .await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        result
    };
    let (timeline, converged) = tokio::join!(sampling, converging);
    let (applied, apply_time) = converged?;
    let all_ready = started.elapsed();
    let stats_at_ready = proc_stats(op.pid)?;
    let operator_metrics = op.metrics().await?;
    let k8s_latency = apiserver_latencies(&kube).await?;
    eprintln!(
        "bench: all Ready after {:.2}s (bound {:.2}s); settling until the themes list their rooms",
        all_ready.as_secs_f64(),
        bound.as_secs_f64()
    );
    let themed_rooms = rooms
        .iter()
        .filter(|r| r.object.spec.theme_ref.is_some())
        .count();
    let settled = wait_theme_tallies(&kube, themed_rooms, Duration::from_secs(60)).await?;
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

    // --- steady state --------------------------------------------------
    let window = args.resync() * args.periods;
    eprintln!(
        "bench: steady state: {} periods of {}s",
        args.periods, args.resync_secs
    );
    let steady_started = Instant::now();
    let writes_before_steady = tracker.total_changes();
    let mut rss_samples = Vec::new();
    while steady_started.elapsed() < window {
        tokio::time::sleep(Duration::from_secs(1)).await;
        op.check_alive()?;
        rss_samples.push(proc_stats(op.pid)?.rss_kib);
    }
    let steady_calls = sim.counters();
    sim.reset_counters();
    let k8s_steady = apiserver_requests(&kube).await?;
    let stats_steady = proc_stats(op.pid)?;
    let watched_writes_steady = tracker.total_changes() - writes_before_steady;
    let converge_warnings = op.log_summary();
    op.stop().await;

    // --- start-up with N objects present ---------------------------------
    eprintln!(
        "bench: restarting the operator with {} rooms present",
        rooms.len()
    );
    let k8s_before_restart = apiserver_requests(&kube).await?;
    let restart_writes_before = tracker.total_changes();
    sim.reset_counters();
    let op = launch.spawn(
        &out.join("operator-restart.log"),
        "info,meetings_operator::controller::finish=debug",
    )?;
    let first_call = async {
        loop {
            if sim.counters().total > 0 {
                return op.started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (first_api_call, restart_ready) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(120), first_call),
        op.wait_ready(Duration::from_secs(120))
    );
    let first_api_call = first_api_call.ok();
    let restart_ready = restart_ready?;
    let all_reconciled = op
        .wait_reconciled(rooms.len() as u64, Duration::from_secs(300))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restart_calls = sim.counters();
    sim.reset_counters();
    let k8s_restart = apiserver_requests(&kube).await?;
    let stats_restart = proc_stats(op.pid)?;
    let restart_watched_writes = tracker.total_changes() - restart_writes_before;
    let restart_log = op.log_summary();
    let first_reconcile_done = restart_log.first_reconciled;
    op.stop().await;

    // --- the naive baselines ---------------------------------------------
    let naive = if args.no_baseline {
        None
    } else {
        Some(naive_baselines(args, &sim, &app.application_id, &app.private_key_pem).await?)
    };

    // --- the report ------------------------------------------------------
    let n = rooms.len() as f64;
    let periods = f64::from(args.periods);
    let converge_k8s = diff(&k8s_converged, &k8s_before);
    let steady_k8s = diff(&k8s_steady, &k8s_converged);
    let restart_k8s = diff(&k8s_restart, &k8s_before_restart);
    let benchmark_creates = (rooms.len() + themes.len()) as f64;
    let converge_writes = writes(&converge_k8s);
    let operator_converge_writes = converge_writes.total - benchmark_creates;
    let steady_reads_per_period = reads(&steady_calls) as f64 / periods;
    let steady_writes_per_period = api_writes(&steady_calls) as f64 / periods;
    let naive_reads_per_period = naive.as_ref().map(|b| b.polite.reads as f64);
    let page_reads = (rooms.len() as f64 / f64::from(args.page_size)).ceil();
    let ratio = all_ready.as_secs_f64() / bound.as_secs_f64();
    let mut calls_per_room = serde_json::Map::new();
    for (op_id, count) in &converge_calls.by_operation {
        calls_per_room.insert(op_id.clone(), json!(round(*count as f64 / n, 4)));
    }
    let ready_times = per_room.ready_times();
    let report = json!({
        "command": command_line(),
        "parameters": {
            "rooms": rooms.len(),
            "namespaces": args.namespaces,
            "themes": themes.len(),
            "latency_ms": args.latency_ms,
            "server_rate_per_s": args.rate_limit,
            "server_burst": args.server_burst(),
            "client_rate_per_s": args.client_rate(),
            "client_burst": args.client_burst,
            "page_size": args.page_size,
            "resync_s": args.resync_secs,
            "periods": args.periods,
            "concurrency": args.concurrency,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        },
        "convergence": {
            "operator_ready_empty_s": secs(empty_start),
            "warm_up_first_create_s": warm_up.iter().cloned().collect::<BTreeMap<_, _>>(),
            "apply_s": secs(apply_time),
            "all_ready_s": secs(all_ready),
            "lower_bound_s": secs(bound),
            "lower_bound_formula": "(rooms + themes - server_burst) / server_rate + latency",
            "ratio": round(ratio, 3),
            "time_to_ready_p50_s": percentile(&ready_times, 0.50).map(secs),
            "time_to_ready_p99_s": percentile(&ready_times, 0.99).map(secs),
            "time_to_ready_max_s": percentile(&ready_times, 1.0).map(secs),
            "api_calls_total": converge_calls.total,
            "api_calls_per_room": Value::Object(calls_per_room),
            "api_calls_by_operation": converge_calls.by_operation,
            "api_answers_by_status": status_map(&converge_calls),
            "api_429": converge_calls.by_status.get(&429).copied().unwrap_or(0),
            "kubernetes_writes_total": converge_writes.total,
            "kubernetes_writes_by_operator": operator_converge_writes,
            "kubernetes_writes_by_operator_per_room": round(operator_converge_writes / n, 3),
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
            "api_reads_per_period": round(steady_reads_per_period, 2),
            "api_writes_per_period": round(steady_writes_per_period, 2),
            "api_calls_by_operation": steady_calls.by_operation,
            "api_answers_by_status": status_map(&steady_calls),
            "page_reads_per_listing": page_reads,
            "kubernetes_writes_per_period": round(writes(&steady_k8s).total / periods, 2) + 0.0,
            "kubernetes_writes": writes(&steady_k8s).by_kind,
            "kubernetes_reads_per_period": round(reads_k8s(&steady_k8s).values().sum::<f64>() / periods, 2),
            "kubernetes_reads": reads_k8s(&steady_k8s),
            "room_writes_seen": watched_writes_steady,
            "naive_reads_per_period": naive_reads_per_period,
            "reads_vs_naive": naive_reads_per_period.map(|naive| round(steady_reads_per_period / naive, 4)),
        },
        "footprint": {
            "peak_rss_mib": round(stats_steady.hwm_kib as f64 / 1024.0, 1),
            "rss_at_all_ready_mib": round(stats_at_ready.rss_kib as f64 / 1024.0, 1),
            "rss_end_mib": round(stats_steady.rss_kib as f64 / 1024.0, 1),
            "rss_steady_max_mib": rss_samples.iter().max().map(|k| round(*k as f64 / 1024.0, 1)),
            "cpu_s_convergence": round(stats_converged.cpu_s - cpu_before.cpu_s, 2),
            "cpu_s_steady": round(stats_steady.cpu_s - stats_converged.cpu_s, 2),
            "cpu_s_steady_per_period": round((stats_steady.cpu_s - stats_converged.cpu_s) / periods, 3),
            "cpu_s_total": round(stats_steady.cpu_s, 2),
            "log_warnings": converge_warnings.warnings,
            "log_errors": converge_warnings.errors,
        },
        "startup": {
            "to_caches_synced_s": secs(restart_ready),
            "to_first_api_call_s": first_api_call.map(secs),
            "to_first_reconcile_done_s": first_reconcile_done.map(secs),
            "to_all_rooms_reconciled_s": secs(all_reconciled),
            "api_calls_by_operation": restart_calls.by_operation,
            "api_calls_total": restart_calls.total,
            "kubernetes_writes": writes(&restart_k8s).by_kind,
            "room_writes_seen": restart_watched_writes,
            "peak_rss_mib": round(stats_restart.hwm_kib as f64 / 1024.0, 1),
            "cpu_s": round(stats_restart.cpu_s, 2),
            "log_warnings": restart_log.warnings,
            "log_errors": restart_log.errors,
        },
        "naive": naive.as_ref().map(|b| json!({
            "polite": b.polite.to_json(),
            "unbounded_retries": b.storm.as_ref().map(Sweep::to_json),
        })),
        "targets": {
            "convergence_ratio_le_1_15": ratio <= 1.15,
            "zero_429": converge_calls.by_status.get(&429).copied().unwrap_or(0) == 0,
            "one_create_per_room": converge_calls.operation("createRoom") == rooms.len() as u64,
            "no_other_api_write": api_writes(&converge_calls) == (rooms.len() + themes.len()) as u64,
            "at_most_one_status_write_after_ready": per_room.after_ready_max <= 1,
            "steady_zero_api_writes": api_writes(&steady_calls) == 0,
            "steady_zero_kubernetes_writes": writes(&steady_k8s).total == 0.0,
            "steady_reads_about_pages": steady_reads_per_period <= page_reads + themes.len() as f64 + 1.0,
            "peak_rss_le_64_mib": stats_steady.hwm_kib.max(stats_restart.hwm_kib) as f64 * 1024.0 <= 64.0 * MIB,
            "startup_first_reconcile_lt_2_s": first_api_call.is_some_and(|d| d < Duration::from_secs(2)),
        },
    });
    Ok(report)
}

fn lower_bound(args: &Args, themes: usize, latency: Duration) -> Duration {
    let creates = (args.rooms + themes) as f64;
    let after_burst = (creates - f64::from(args.server_burst())).max(0.0);
    Duration::from_secs_f64(after_burst / args.rate_limit) + latency
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

struct RoomManifest {
    namespace: String,
    name: String,
    object: MeetingRoom,
}

fn theme_manifests(args: &Args, namespaces: &[String]) -> Vec<ThemeManifest> {
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
            .expect("a valid MeetingTheme");
            ThemeManifest {
                namespace,
                name,
                object,
            }
        })
        .collect()
}

fn room_manifests(
    args: &Args,
    namespaces: &[String],
    themes: &[ThemeManifest],
) -> Vec<RoomManifest> {
    let expires =
        format_timestamp(&(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)));
    let mut themes_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for theme in themes {
        themes_of
            .entry(theme.namespace.as_str())
            .or_default()
            .push(theme.name.as_str());
    }
    (0..args.rooms)
        .map(|i| {
            let namespace = namespaces[i % namespaces.len()].clone();
            let name = format!("room-{i:05}");
            let mut spec = json!({
                "displayName": format!("Bench room {i}"),
                "type": "long_term",
                "expiresAt": expires,
                "joinApprovalLevel": "none",
            });
            if let Some(names) = themes_of.get(namespace.as_str()) {
                let theme = names[(i / namespaces.len()) % names.len()];
                spec["themeRef"] = json!({ "name": theme });
            }
            let object = serde_json::from_value(json!({
                "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            }))
            .expect("a valid MeetingRoom");
            RoomManifest {
                namespace,
                name,
                object,
            }
        })
        .collect()
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
    .expect("a valid MeetingTheme");
    let room: MeetingRoom = serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "warm-up"},
        "spec": {"displayName": "warm-up", "type": "instant"}
    }))
    .expect("a valid MeetingRoom");
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
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(CREDENTIALS_SECRET.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (
                "applicationId".to_owned(),
                ByteString(application_id.as_bytes().to_vec()),
            ),
            (
                "privateKey".to_owned(),
                ByteString(private_key_pem.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(kube.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .map(drop)
        .map_err(|e| format!("creating the credentials Secret: {e}"))
}

/// Creates the themes, then the rooms, `concurrency` at a time; returns when
/// each room's create was sent, by `namespace/name`.
async fn apply(
    kube: &kube::Client,
    themes: &[ThemeManifest],
    rooms: &[RoomManifest],
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
    let sent = futures::stream::iter(rooms.iter().map(|room| async move {
        let at = Instant::now();
        Api::<MeetingRoom>::namespaced(kube.clone(), &room.namespace)
            .create(&PostParams::default(), &room.object)
            .await
            .map_err(|e| format!("creating room {}/{}: {e}", room.namespace, room.name))?;
        Ok::<_, String>((format!("{}/{}", room.namespace, room.name), at))
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
/// second since the clock started, and the first and last create.
#[derive(Default)]
struct Timeline {
    per_second: Vec<u64>,
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
    }
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
            .arg(format!("--rate-burst={}", a.client_burst))
            .arg(format!("--resync-period={}s", a.resync_secs))
            .arg(format!("--concurrency={}", a.concurrency))
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

    /// Waits until `meetings_operator_reconciles_total{kind="MeetingRoom"}`
    /// reaches `count`; returns the time since start.
    async fn wait_reconciled(&self, count: u64, timeout: Duration) -> Result<Duration, String> {
        let addr = self.metrics_addr(timeout).await?;
        let url = format!("http://{addr}/metrics");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && let Ok(text) = response.text().await
            {
                let done: f64 = text
                    .lines()
                    .filter(|l| l.starts_with("meetings_operator_reconciles_total{"))
                    .filter(|l| l.contains("kind=\"MeetingRoom\""))
                    .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                    .sum();
                if done >= count as f64 {
                    return Ok(self.started.elapsed());
                }
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(format!("the operator did not reconcile {count} rooms"));
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
        .expect("a valid request");
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
        .expect("a valid request");
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
                burst: args.client_burst,
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
    let results: Vec<bool> = futures::stream::iter(ids.iter().map(|id| {
        let client = &client;
        async move { client.get_room(id).await.is_ok() }
    }))
    .buffer_unordered(usize::from(args.concurrency.max(1)))
    .collect()
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let counters = sim.counters();
    let polite = Sweep {
        what: "one GET per room per period, client rate limit, Retry-After honoured",
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
        .buffer_unordered(usize::from(args.concurrency.max(1)))
        .collect()
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let counters = sim.counters();
        Some(Sweep {
            what: "one GET per room per period, no client limit, retried every few ms regardless of Retry-After",
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
    let t = &r["targets"];
    let num = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    let mark = |key: &str| match t[key].as_bool() {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "-",
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
        "\nmeetings-operator benchmark: {} rooms in {} namespaces, {} themes; API latency {} ms, \
         server limit {}/s (burst {}), client {}/s (burst {}), page size {}, resync {} s, concurrency {}, {} CPUs",
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
    let rows: Vec<(String, String, &str)> = vec![
        (
            "apply (Kubernetes creates), s".into(),
            num(&c["apply_s"]),
            "",
        ),
        ("apply → all Ready, s".into(), num(&c["all_ready_s"]), ""),
        (
            "lower bound (N+T−burst)/rate + latency, s".into(),
            num(&c["lower_bound_s"]),
            "",
        ),
        (
            "ratio to the bound (target ≤ 1.15)".into(),
            num(&c["ratio"]),
            mark("convergence_ratio_le_1_15"),
        ),
        (
            "time to Ready per room p50 / p99, s".into(),
            format!(
                "{} / {}",
                num(&c["time_to_ready_p50_s"]),
                num(&c["time_to_ready_p99_s"])
            ),
            "",
        ),
        (
            "first / last create answered, s".into(),
            format!(
                "{} / {}",
                num(&c["first_create_s"]),
                num(&c["last_create_s"])
            ),
            "",
        ),
        (
            "room reconciles / mean s / limiter wait mean s".into(),
            format!(
                "{} / {} / {}",
                num(&c["diagnostics"]["room_reconciles"]),
                num(&c["diagnostics"]["room_reconcile_mean_s"]),
                num(&c["diagnostics"]["rate_limiter_wait_mean_s"])
            ),
            "",
        ),
        (
            "API calls per room (convergence)".into(),
            map(&c["api_calls_per_room"]),
            mark("one_create_per_room"),
        ),
        (
            "API writes other than creates".into(),
            if t["no_other_api_write"].as_bool() == Some(true) {
                "0".into()
            } else {
                "some".into()
            },
            mark("no_other_api_write"),
        ),
        (
            "429 answers (convergence)".into(),
            num(&c["api_429"]),
            mark("zero_429"),
        ),
        (
            "Kubernetes writes by the operator per room".into(),
            num(&c["kubernetes_writes_by_operator_per_room"]),
            "",
        ),
        ("  of which".into(), map(&c["kubernetes_writes"]), ""),
        (
            "room writes after Ready (max per room)".into(),
            num(&c["room_writes_seen_after_ready_per_room_max"]),
            mark("at_most_one_status_write_after_ready"),
        ),
        (
            "steady: API reads per period".into(),
            format!(
                "{} (pages per listing {}; naive {})",
                num(&s["api_reads_per_period"]),
                num(&s["page_reads_per_listing"]),
                num(&s["naive_reads_per_period"])
            ),
            mark("steady_reads_about_pages"),
        ),
        (
            "steady: API reads by operation".into(),
            map(&s["api_calls_by_operation"]),
            "",
        ),
        (
            "steady: reads vs naive".into(),
            num(&s["reads_vs_naive"]),
            "",
        ),
        (
            "steady: API writes per period".into(),
            num(&s["api_writes_per_period"]),
            mark("steady_zero_api_writes"),
        ),
        (
            "steady: Kubernetes writes per period".into(),
            num(&s["kubernetes_writes_per_period"]),
            mark("steady_zero_kubernetes_writes"),
        ),
        (
            "steady: Kubernetes reads per period".into(),
            num(&s["kubernetes_reads_per_period"]),
            "",
        ),
        (
            "operator peak RSS (converge + steady), MiB".into(),
            num(&f["peak_rss_mib"]),
            mark("peak_rss_le_64_mib"),
        ),
        (
            "operator CPU s: convergence / steady per period".into(),
            format!(
                "{} / {}",
                num(&f["cpu_s_convergence"]),
                num(&f["cpu_s_steady_per_period"])
            ),
            "",
        ),
        (
            "start-up: to caches synced / first API call, s".into(),
            format!(
                "{} / {}",
                num(&u["to_caches_synced_s"]),
                num(&u["to_first_api_call_s"])
            ),
            mark("startup_first_reconcile_lt_2_s"),
        ),
        (
            "start-up: to first / all rooms reconciled, s".into(),
            format!(
                "{} / {}",
                num(&u["to_first_reconcile_done_s"]),
                num(&u["to_all_rooms_reconciled_s"])
            ),
            "",
        ),
        (
            "start-up: API calls to re-observe".into(),
            map(&u["api_calls_by_operation"]),
            "",
        ),
        (
            "start-up: peak RSS, MiB / CPU s".into(),
            format!("{} / {}", num(&u["peak_rss_mib"]), num(&u["cpu_s"])),
            "",
        ),
        (
            "naive: reads per period / sweep s / 429s".into(),
            format!(
                "{} / {} / {}",
                num(&n["polite"]["reads_per_period"]),
                num(&n["polite"]["sweep_s"]),
                num(&n["polite"]["api_429"])
            ),
            "",
        ),
        (
            "naive, unbounded retries: attempts / 429s / sweep s".into(),
            format!(
                "{} / {} / {}",
                num(&n["unbounded_retries"]["attempts"]),
                num(&n["unbounded_retries"]["api_429"]),
                num(&n["unbounded_retries"]["sweep_s"])
            ),
            "",
        ),
    ];
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    for (name, value, target) in rows {
        let pad = width - name.chars().count();
        println!(
            "{name}{}  {value}{}",
            " ".repeat(pad),
            if target.is_empty() {
                String::new()
            } else {
                format!("  [{target}]")
            }
        );
    }
}
