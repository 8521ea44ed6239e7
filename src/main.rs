//! The `meetings-operator` command: the operator and the CRD generator.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use futures::FutureExt;
use meetings_operator::app::{self as runner, Stopped};
use meetings_operator::leader::{Elector, KubeLeases, LeaderState};
use meetings_operator::run_args::RunArgs;
use meetings_operator::telemetry::{Phase, Telemetry, logging, server};
use tokio::sync::watch;

/// With the `mimalloc` feature, mimalloc serves every allocation.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// With the `jemalloc` feature, jemalloc serves every allocation.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, which it reads at start-up (the `_RJEM_MALLOC_CONF`
/// environment variable overrides them): one arena instead of four per
/// core, since a handful of threads allocate, and freed pages returned to
/// the system after one second instead of ten.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[allow(unsafe_code, non_upper_case_globals)] // the C symbol jemalloc looks for
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: Option<&'static u8> = Some(&b"narenas:1,dirty_decay_ms:1000\0"[0]);

#[derive(Parser)]
#[command(
    name = "meetings-operator",
    version,
    about = "Vonage Meetings rooms and themes from Kubernetes manifests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run {
        #[command(flatten)]
        args: Box<RunArgs>,
        /// Log as JSON lines instead of human-readable text.
        #[arg(long, env = "LOG_JSON")]
        log_json: bool,
        /// Threads that run the operator's tasks. One runs them all on a
        /// single-threaded runtime, which spends least CPU (no task wakes or
        /// steals across threads) and keeps up with creating about 400 rooms
        /// per second, far above the default rate limit; raise it for a rate
        /// limit near that.
        #[arg(long, env = "WORKER_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        worker_threads: u16,
    },
    /// Print the CRDs as YAML, write them to a directory, or check a directory is current.
    Crd {
        /// Write one file per CRD into this directory (repeatable).
        #[arg(long, conflicts_with = "check")]
        write: Vec<PathBuf>,
        /// Fail when the files in this directory differ from the generated CRDs (repeatable).
        #[arg(long)]
        check: Vec<PathBuf>,
    },
    /// Fetch a URL (such as the operator Service's /readyz) and succeed on a
    /// 2xx answer. The chart's `helm test` hook runs it, so the hook needs no
    /// image but the operator's.
    Probe {
        /// The http or https URL to fetch.
        url: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "10s", value_parser = meetings_operator::run_args::fine_duration)]
        timeout: Duration,
    },
}

fn main() -> ExitCode {
    meetings_operator::allocator::return_large_buffers_to_the_system();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd { write, check } => crd_command(write, check),
        Command::Probe { url, timeout } => probe(&url, timeout),
        Command::Run {
            args,
            log_json,
            worker_threads,
        } => logging::init(log_json)
            .map_err(|e| e.to_string())
            .and_then(|()| runtime(worker_threads).map_err(|e| e.to_string()))
            .and_then(|rt| {
                let result = rt.block_on(run(*args));
                // Do not wait for tasks stuck in blocking calls.
                rt.shutdown_timeout(Duration::from_secs(1));
                result
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A runtime of `worker_threads` threads: with one, a single-threaded
/// runtime that runs every task on the calling thread (a multi-threaded
/// runtime with one worker runs the entry future on the calling thread and
/// its tasks on the worker, waking one from the other).
fn runtime(worker_threads: u16) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(usize::from(worker_threads));
        builder
    };
    builder.enable_all().build()
}

fn crd_command(write: Vec<PathBuf>, check: Vec<PathBuf>) -> Result<(), String> {
    let mut stale = Vec::new();
    for (file, crd) in meetings_operator::crd::all() {
        let yaml = meetings_operator::crd::to_yaml(&crd).map_err(|e| e.to_string())?;
        for dir in &write {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(file);
            std::fs::write(&path, &yaml).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        for dir in &check {
            let path = dir.join(file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        if write.is_empty() && check.is_empty() {
            print!("---\n{yaml}");
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "stale CRD files (regenerate with `meetings-operator crd --write crds --write charts/meetings-operator/files/crds`): {}",
            stale.join(", ")
        ))
    }
}

/// Runs the operator: the telemetry server, then (as leader, or always
/// without leader election) the controllers until SIGTERM or Ctrl-C.
///
/// A leader that loses its lease stops the controllers at once and the
/// process exits with status 1, so that Kubernetes restarts it as a
/// follower; on SIGTERM the leader finishes its in-flight reconciles, then
/// releases the lease so that a follower takes over at once.
async fn run(args: RunArgs) -> Result<(), String> {
    args.check()?;
    let kube = kube::Client::try_default()
        .await
        .map_err(|e| format!("connecting to Kubernetes: {e}"))?;
    let telemetry = Telemetry::default();
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .map_err(|e| format!("listening on {}: {e}", args.metrics_addr))?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    }
    tokio::spawn({
        let telemetry = telemetry.clone();
        async move {
            if let Err(error) = server::serve(listener, telemetry).await {
                tracing::error!(%error, "the metrics server stopped");
            }
        }
    });
    let mut options = args.options();
    options.observer = telemetry.metrics.clone();
    let shutdown = shutdown_signal(telemetry.clone()).shared();

    if !args.leader_election {
        telemetry.metrics.set_leader(true);
        runner::run_supervised(kube, options, &telemetry, shutdown, std::future::pending())
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }

    let config = args.lease_config();
    let store = KubeLeases::new(kube.clone(), &config.namespace, &config.name);
    let elector = Elector::new(store, config).map_err(|e| format!("leader election: {e}"))?;
    tokio::spawn(mirror_leadership(elector.subscribe(), telemetry.clone()));
    tracing::info!(identity = %elector.identity(), "waiting for leadership");
    let leadership = tokio::select! {
        leadership = elector.acquire() => leadership,
        () = shutdown.clone() => return Ok(()),
    };
    let result =
        runner::run_supervised(kube, options, &telemetry, shutdown, leadership.lost()).await;
    match result {
        Ok(Stopped::Aborted) => Err(
            "lost leadership: stopped reconciling; exiting so that a new leader takes over".into(),
        ),
        Ok(Stopped::Shutdown) => {
            // Errors are logged; the lease then simply expires.
            let _ = leadership.release().await;
            Ok(())
        }
        Err(error) => {
            let _ = leadership.release().await;
            Err(error.to_string())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C, marking the replica as stopping.
async fn shutdown_signal(telemetry: Telemetry) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
    telemetry.health.set(Phase::Stopping);
    tracing::info!("shutting down: finishing in-flight reconciles");
}

/// Keeps the leader gauge and the follower's readiness in step with the elector.
async fn mirror_leadership(mut states: watch::Receiver<LeaderState>, telemetry: Telemetry) {
    loop {
        let state = states.borrow_and_update().clone();
        telemetry.metrics.set_leader(state == LeaderState::Leading);
        if matches!(state, LeaderState::Following { .. }) {
            telemetry.health.advance(Phase::Starting, Phase::Standby);
        }
        if states.changed().await.is_err() {
            return;
        }
    }
}

/// `meetings-operator probe`: GET `url`, succeed on 2xx.
fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    let rt = runtime(1).map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("building an HTTP client: {e}"))?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        println!("GET {url}: {status} {}", body.trim());
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("GET {url} answered {status}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    use super::runtime;

    #[test]
    fn one_thread_is_a_single_threaded_runtime_and_more_are_a_pool() {
        let flavor = |threads| runtime(threads).unwrap().handle().runtime_flavor();
        assert_eq!(flavor(1), RuntimeFlavor::CurrentThread);
        assert_eq!(flavor(2), RuntimeFlavor::MultiThread);
        let pool = runtime(3).unwrap();
        assert_eq!(pool.metrics().num_workers(), 3);
    }
}
