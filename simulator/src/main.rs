//! The `meetings-simulator` command: the Meetings API simulator as a
//! standalone server, for the demo, the benchmark and the fuzzer.

use std::process::ExitCode;

use clap::Parser;
use meetings_simulator::cli::{SimulatorArgs, run};

/// Run the Meetings API simulator.
#[derive(Debug, Parser)]
#[command(name = "meetings-simulator", version, about)]
struct Cli {
    #[command(flatten)]
    args: SimulatorArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(cli.args)).map_err(|e| e.to_string()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meetings-simulator: {error}");
            ExitCode::FAILURE
        }
    }
}
