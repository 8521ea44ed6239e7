//! The `meetings-operator` command: the operator, the CRD generator and the API simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
        args: meetings_operator::run_args::RunArgs,
        /// Log as JSON lines instead of human-readable text.
        #[arg(long, env = "LOG_JSON")]
        log_json: bool,
    },
    /// Print the CRDs as YAML, write them to a directory, or check a directory is current.
    Crd {
        /// Write one file per CRD into this directory.
        #[arg(long, conflicts_with = "check")]
        write: Option<PathBuf>,
        /// Fail when the files in this directory differ from the generated CRDs.
        #[arg(long)]
        check: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd { write, check } => crd_command(write, check),
        Command::Run { args, log_json } => {
            init_logging(log_json);
            tokio::runtime::Runtime::new()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(run(args)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn crd_command(write: Option<PathBuf>, check: Option<PathBuf>) -> Result<(), String> {
    let mut stale = Vec::new();
    for (file, crd) in meetings_operator::crd::all() {
        let yaml = meetings_operator::crd::to_yaml(&crd).map_err(|e| e.to_string())?;
        if let Some(dir) = &write {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(file);
            std::fs::write(&path, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
        } else if let Some(dir) = &check {
            let path = dir.join(file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            print!("---\n{yaml}");
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "stale CRD files (regenerate with `meetings-operator crd --write crds`): {}",
            stale.join(", ")
        ))
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(args: meetings_operator::run_args::RunArgs) -> Result<(), String> {
    let kube = kube::Client::try_default()
        .await
        .map_err(|e| format!("connecting to Kubernetes: {e}"))?;
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        }
        tracing::info!("shutting down: finishing in-flight reconciles");
    };
    meetings_operator::controller::runner::run(kube, args.options(), shutdown)
        .await
        .map_err(|e| e.to_string())
}
