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
//! `<out>/run.svg` (`plot.rs`). The phases are in `run.rs`, the targets and
//! the report in `report.rs`, the table in `table.rs`.

// The report is one `json!` literal.
#![recursion_limit = "256"]
#![allow(unsafe_code)] // the operator child dies with this process (prctl); clock ticks (sysconf)

#[path = "../../tests/support/mod.rs"]
mod support;

mod apiserver;
mod args;
mod baseline;
mod bounds;
mod manifests;
mod operator;
mod plot;
mod procfs;
mod recorder;
mod report;
mod run;
mod table;
mod tracker;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;

use args::Args;

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
    let result = runtime.block_on(run::run(&args, &cp, &operator, &out));
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
    table::print_table(report);
    println!("\n{text}");
    Ok(())
}
