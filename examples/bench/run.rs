//! The run, phase by phase on one clock: convergence from an empty cluster,
//! steady state over whole listings, a plain LIST and a restart with every
//! room present, then the naive baselines. Each phase returns what it
//! measured; `report` turns the whole into the report and the picture.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use meetings_simulator::{
    AppCredentials, CountersSnapshot, Latency, RateLimit as ServerRateLimit, RunningSimulator,
    Simulator, SimulatorConfig,
};

use crate::apiserver::{
    ListTiming, REFLECTOR_PAGE, Requests, apiserver_latencies, apiserver_requests, diff,
    time_room_lists,
};
use crate::args::Args;
use crate::baseline::{Baselines, naive_baselines};
use crate::bounds::lower_bound;
use crate::manifests::{
    CREDENTIALS_SECRET, RoomPlan, ThemeManifest, apply, create_namespace, theme_manifests, warm_up,
    write_credentials,
};
use crate::operator::{Launch, LogSummary, OperatorProcess, PromText};
use crate::procfs::{HostCpu, ProcStats, host_cpu, proc_stats, reset_peak_rss};
use crate::recorder::{Recorder, Sample, Timeline};
use crate::tracker::{PerRoom, Tracker, wait_all_ready, wait_theme_tallies};
use crate::{plot, report, support};

/// What every phase works with: the simulator, the manifests, the tracker
/// of rooms Ready and how to start the operator.
pub struct Setup {
    pub kube: kube::Client,
    pub sim: RunningSimulator,
    pub app: AppCredentials,
    pub namespaces: Vec<String>,
    pub themes: Vec<ThemeManifest>,
    pub rooms: RoomPlan,
    /// How long the API server's first create of each kind took.
    pub warm_up: Vec<(String, f64)>,
    pub tracker: Tracker,
    pub launch: Launch,
    pub latency: Duration,
    /// One listing of every room: pages × latency.
    pub listing: Duration,
    /// The rate limit's lower bound on all Ready.
    pub bound: Duration,
}

/// Convergence from an empty cluster to every room Ready.
pub struct Convergence {
    pub operator_ready_empty: Duration,
    pub apply_time: Duration,
    pub all_ready: Duration,
    pub timeline: Timeline,
    pub per_room: PerRoom,
    /// Meetings API calls, to the themes' tallies settled.
    pub calls: CountersSnapshot,
    /// Kubernetes requests, to the themes' tallies settled.
    pub kubernetes: Requests,
    pub kubernetes_write_latency: BTreeMap<String, f64>,
    pub operator_metrics: PromText,
    pub cpu_to_ready: f64,
    /// Operator CPU to the themes' tallies settled.
    pub cpu: f64,
    pub rss_at_ready_kib: u64,
    pub host_busy: f64,
}

/// The steady state: the window holds whole listings.
pub struct Steady {
    pub window: Duration,
    pub listings: u32,
    pub calls: CountersSnapshot,
    pub kubernetes: Requests,
    pub cpu: f64,
    /// Room writes the tracker saw.
    pub watched_writes: u64,
    /// Peak RSS before the window opened, KiB.
    pub converge_hwm_kib: u64,
    /// Peak RSS over the window, MiB: VmHWM after `clear_refs` if the kernel
    /// allowed the reset, else the highest sample.
    pub peak_rss_mib: f64,
    pub peak_from_hwm: bool,
    pub rss_end_kib: u64,
    /// The convergence operator's log, to the end of the window.
    pub log: LogSummary,
}

/// A plain LIST of the rooms, then a new operator with every room present.
pub struct Restart {
    pub list: ListTiming,
    pub first_api_call: Option<Duration>,
    pub cpu_at_first_call: Option<f64>,
    pub caches_synced: Duration,
    pub all_reobserved: Duration,
    pub cpu_at_reobserved: f64,
    pub calls: CountersSnapshot,
    pub kubernetes: Requests,
    pub stats: ProcStats,
    pub watched_writes: u64,
    pub log: LogSummary,
}

/// The benchmark process itself and the host, over the run.
pub struct Harness {
    pub bench_peak_rss_kib: u64,
    pub bench_cpu_to_ready: f64,
    pub bench_cpu_total: f64,
    pub host_busy_run: f64,
}

/// The benchmark's and the host's CPU when the clock started, and the
/// benchmark's at all Ready.
struct HarnessClock {
    host_before: HostCpu,
    bench_before: ProcStats,
    bench_at_ready: ProcStats,
}

/// Everything the run measured.
pub struct Measured {
    pub setup: Setup,
    pub convergence: Convergence,
    pub steady: Steady,
    pub restart: Restart,
    pub naive: Option<Baselines>,
    pub samples: Vec<Sample>,
    /// (start, end, name) on the samples' clock.
    pub phases: Vec<(f64, f64, String)>,
    pub harness: Harness,
}

/// Runs every phase against `cp` and the operator at `operator_bin`, its
/// logs in `out`; returns the report and the picture.
pub async fn run(
    args: &Args,
    cp: &support::ControlPlane,
    operator_bin: &Path,
    out: &Path,
) -> Result<(serde_json::Value, plot::Plot), String> {
    let setup = prepare(args, cp, operator_bin).await?;
    let (op, recorder, convergence, clock) = converge(args, &setup, out).await?;
    let steady = steady(args, &setup, &op, &recorder).await?;
    let restart = restart(&setup, op, &recorder, out).await?;

    recorder.phase("naive");
    let naive = if args.no_baseline {
        None
    } else {
        let app = &setup.app;
        Some(naive_baselines(args, &setup.sim, &app.application_id, &app.private_key_pem).await?)
    };
    let (samples, phases) = recorder.finish();
    let bench_end = proc_stats(std::process::id() as i32)?;
    let harness = Harness {
        bench_peak_rss_kib: bench_end.hwm_kib,
        bench_cpu_to_ready: clock.bench_at_ready.cpu_s - clock.bench_before.cpu_s,
        bench_cpu_total: bench_end.cpu_s,
        host_busy_run: clock.host_before.busy_until(&host_cpu()?),
    };
    let measured = Measured {
        setup,
        convergence,
        steady,
        restart,
        naive,
        samples,
        phases,
        harness,
    };
    Ok((
        report::report(args, &measured),
        report::picture(args, &measured),
    ))
}

/// Starts the simulator, creates the namespaces and the credentials Secret,
/// makes the manifests and warms the API server up.
async fn prepare(
    args: &Args,
    cp: &support::ControlPlane,
    operator_bin: &Path,
) -> Result<Setup, String> {
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
    let warm_up = warm_up(&kube, &namespaces[0]).await?;
    let tracker = Tracker::start(kube.clone());
    let launch = Launch {
        binary: operator_bin.to_path_buf(),
        kubeconfig: cp.kubeconfig_path().to_path_buf(),
        api_url: sim.base_url(),
        default_credentials: format!("{}/{CREDENTIALS_SECRET}", namespaces[0]),
        args: args.clone(),
    };
    let bound = lower_bound(args, themes.len(), latency);
    Ok(Setup {
        kube,
        sim,
        app,
        namespaces,
        themes,
        rooms,
        warm_up,
        tracker,
        launch,
        latency,
        listing: args.listing_time(),
        bound,
    })
}

/// Starts the operator on the empty cluster, applies the manifests and
/// waits for every room Ready and the themes' tallies. Returns the operator
/// (still running), the recorder (started with the clock) and the
/// benchmark's own CPU figures.
async fn converge(
    args: &Args,
    setup: &Setup,
    out: &Path,
) -> Result<(OperatorProcess, Recorder, Convergence, HarnessClock), String> {
    let Setup {
        kube,
        sim,
        themes,
        rooms,
        tracker,
        bound,
        ..
    } = setup;
    let n_rooms = rooms.len();
    eprintln!("bench: starting the operator (empty cluster)");
    let op = setup
        .launch
        .spawn(&out.join("operator-converge.log"), &args.operator_log)?;
    let operator_ready_empty = op.wait_ready(Duration::from_secs(60)).await?;
    eprintln!(
        "bench: operator ready after {:.2}s; applying {} themes and {} rooms",
        operator_ready_empty.as_secs_f64(),
        themes.len(),
        n_rooms
    );
    sim.reset_counters();
    let k8s_before = apiserver_requests(kube).await?;
    let cpu_before = proc_stats(op.pid)?;
    let host_before = host_cpu()?;
    let bench_before = proc_stats(std::process::id() as i32)?;
    let started = Instant::now();
    let recorder = Recorder::start(started, op.pid, tracker);
    let timeout = args.converge_timeout_secs.map_or_else(
        || Duration::from_secs(120).max(bound.mul_f64(5.0)),
        Duration::from_secs,
    );
    let done = AtomicBool::new(false);
    let sampling = async {
        let mut timeline = Timeline::default();
        while !done.load(Ordering::SeqCst) {
            timeline.sample(sim, started, n_rooms as u64);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        timeline.sample(sim, started, n_rooms as u64);
        timeline
    };
    let converging = async {
        let result = async {
            let applied = apply(kube, themes, rooms, args.apply_concurrency()).await?;
            let apply_time = started.elapsed();
            let apply_rate = n_rooms as f64 / apply_time.as_secs_f64().max(1e-3);
            eprintln!(
                "bench: applied in {:.2}s ({apply_rate:.0} rooms/s); waiting for all Ready",
                apply_time.as_secs_f64(),
            );
            if apply_time > *bound {
                eprintln!(
                    "bench: the apply took longer than the bound ({:.2}s): the harness or the \
                     API server, not the operator, sets the pace (--apply-concurrency)",
                    bound.as_secs_f64()
                );
            }
            wait_all_ready(
                kube,
                tracker,
                sim,
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
    let kubernetes_write_latency = apiserver_latencies(kube).await?;
    recorder.phase("settle, align");
    eprintln!(
        "bench: all Ready after {:.2}s (bound {:.2}s); settling until the themes list their rooms",
        all_ready.as_secs_f64(),
        bound.as_secs_f64()
    );
    let settled = wait_theme_tallies(
        kube,
        rooms.themed(),
        Duration::from_secs(60).max(*bound / 2),
    )
    .await?;
    eprintln!(
        "bench: themes list all their rooms {:.2}s after all Ready",
        settled.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = sim.counters();
    sim.reset_counters();
    let k8s_converged = apiserver_requests(kube).await?;
    let stats_converged = proc_stats(op.pid)?;
    let per_room = tracker.per_room(&applied);
    let convergence = Convergence {
        operator_ready_empty,
        apply_time,
        all_ready,
        timeline,
        per_room,
        calls,
        kubernetes: diff(&k8s_converged, &k8s_before),
        kubernetes_write_latency,
        operator_metrics,
        cpu_to_ready: stats_at_ready.cpu_s - cpu_before.cpu_s,
        cpu: stats_converged.cpu_s - cpu_before.cpu_s,
        rss_at_ready_kib: stats_at_ready.rss_kib,
        host_busy: host_before.busy_until(&host_at_ready),
    };
    let clock = HarnessClock {
        host_before,
        bench_before,
        bench_at_ready,
    };
    Ok((op, recorder, convergence, clock))
}

/// Waits for the end of a room listing, then measures `--periods` more.
async fn steady(
    args: &Args,
    setup: &Setup,
    op: &OperatorProcess,
    recorder: &Recorder,
) -> Result<Steady, String> {
    let Setup {
        kube,
        sim,
        tracker,
        latency,
        listing,
        ..
    } = setup;
    let quiet = Duration::from_secs(1).max(*latency * 10);
    let one_period = args.resync() + *listing + quiet;
    eprintln!(
        "bench: steady state: waiting for the end of a room listing, then {} more (resync {}s)",
        args.periods,
        args.resync_secs()
    );
    let aligned = wait_listings(sim, op, 1, quiet, one_period * 2).await?;
    if aligned == 0 {
        eprintln!(
            "bench: no room listing seen; measuring {} periods from now",
            args.periods
        );
    }
    // Convergence's peak, then the steady state's own (clear_refs 5 resets VmHWM).
    let converge_hwm_kib = proc_stats(op.pid)?.hwm_kib;
    let hwm_reset = reset_peak_rss(op.pid);
    sim.reset_counters();
    let k8s_before = apiserver_requests(kube).await?;
    let stats_before = proc_stats(op.pid)?;
    let writes_before = tracker.total_changes();
    recorder.phase("steady");
    let steady_started = Instant::now();
    let listings = wait_listings(
        sim,
        op,
        args.periods,
        quiet,
        one_period * (args.periods + 1),
    )
    .await?;
    let window = steady_started.elapsed();
    let calls = sim.counters();
    sim.reset_counters();
    let k8s_after = apiserver_requests(kube).await?;
    let stats = proc_stats(op.pid)?;
    let watched_writes = tracker.total_changes() - writes_before;
    let sampled = recorder.max_rss_since(steady_started);
    let hwm_mib = stats.hwm_kib as f64 / 1024.0;
    Ok(Steady {
        window,
        listings,
        calls,
        kubernetes: diff(&k8s_after, &k8s_before),
        cpu: stats.cpu_s - stats_before.cpu_s,
        watched_writes,
        converge_hwm_kib,
        peak_rss_mib: if hwm_reset {
            hwm_mib
        } else {
            sampled.unwrap_or(hwm_mib)
        },
        peak_from_hwm: hwm_reset,
        rss_end_kib: stats.rss_kib,
        log: op.log_summary(),
    })
}

/// Stops the operator, times a plain LIST of the rooms, then starts a new
/// operator with every room present and waits until it has re-observed
/// them all.
async fn restart(
    setup: &Setup,
    op: OperatorProcess,
    recorder: &Recorder,
    out: &Path,
) -> Result<Restart, String> {
    let Setup {
        kube,
        sim,
        rooms,
        tracker,
        listing,
        ..
    } = setup;
    let n_rooms = rooms.len();
    recorder.phase("LIST");
    op.stop().await;
    recorder.set_pid(0);
    eprintln!("bench: timing a plain LIST of the {n_rooms} rooms (operator stopped)");
    let list = time_room_lists(kube).await?;
    eprintln!(
        "bench: LIST of {} rooms in {} pages of {REFLECTOR_PAGE}: median {:.3}s (unpaged {:.3}s)",
        list.items,
        list.pages,
        list.median().as_secs_f64(),
        list.unpaged.as_secs_f64()
    );
    eprintln!("bench: restarting the operator with {n_rooms} rooms present");
    let k8s_before = apiserver_requests(kube).await?;
    let writes_before = tracker.total_changes();
    sim.reset_counters();
    recorder.phase("restart");
    let op = setup.launch.spawn(
        &out.join("operator-restart.log"),
        "info,meetings_operator::controller=debug",
    )?;
    recorder.set_pid(op.pid);
    let startup_timeout = Duration::from_secs(120).max(Duration::from_millis(2 * n_rooms as u64));
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
    let (first_call, caches_synced) = tokio::join!(
        tokio::time::timeout(startup_timeout, first_call),
        op.wait_ready(startup_timeout)
    );
    let (first_api_call, cpu_at_first_call) = match first_call {
        Ok((at, cpu)) => (Some(at), cpu),
        Err(_) => (None, None),
    };
    let caches_synced = caches_synced?;
    let all_reobserved = op
        .wait_rooms_reconciled(n_rooms, Duration::from_secs(300).max(*listing * 10))
        .await?;
    let cpu_at_reobserved = proc_stats(op.pid)?.cpu_s;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = sim.counters();
    sim.reset_counters();
    let k8s_after = apiserver_requests(kube).await?;
    let stats = proc_stats(op.pid)?;
    let watched_writes = tracker.total_changes() - writes_before;
    let log = op.log_summary();
    op.stop().await;
    recorder.set_pid(0);
    Ok(Restart {
        list,
        first_api_call,
        cpu_at_first_call,
        caches_synced,
        all_reobserved,
        cpu_at_reobserved,
        calls,
        kubernetes: diff(&k8s_after, &k8s_before),
        stats,
        watched_writes,
        log,
    })
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
