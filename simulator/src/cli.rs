//! The `simulator` subcommand: run the simulator as a standalone server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::config::{Behavior, DefaultApplication, EmbeddedShape, SimulatorConfig};
use super::errors::SimulatorError;
use super::faults::{Latency, RateLimit};
use super::handle::Simulator;

/// Options of `meetings-operator simulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "MEETINGS_SIM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PEM private key of the application to register; a key pair is generated when absent.
    #[arg(long, env = "MEETINGS_SIM_PRIVATE_KEY_FILE")]
    pub private_key_file: Option<PathBuf>,
    /// Id of the application to register (default: a fresh UUID).
    #[arg(long, env = "MEETINGS_SIM_APPLICATION_ID")]
    pub application_id: Option<String>,
    /// Write `application_id` and `private.key` for the registered application into this directory.
    #[arg(long)]
    pub write_credentials: Option<PathBuf>,
    /// Reproduce every known quirk of the retired live service.
    #[arg(long)]
    pub live: bool,
    /// Answer room listings with `_embedded` as a flat array (live behaviour).
    #[arg(long)]
    pub live_embedded_shape: bool,
    /// Keep reporting `is_available: true` after rooms expire (live behaviour).
    #[arg(long)]
    pub expired_rooms_available: bool,
    /// Remove rooms that have been expired for this many simulated seconds (404, unlisted).
    #[arg(long)]
    pub purge_expired_after_secs: Option<u64>,
    /// Report the application's default theme as the `theme_id` of rooms without one.
    #[arg(long)]
    pub rooms_report_default_theme: bool,
    /// Maximum themes per application.
    #[arg(long)]
    pub theme_limit: Option<usize>,
    /// Maximum available rooms per application.
    #[arg(long)]
    pub room_limit: Option<usize>,
    /// Page size when a listing request gives none.
    #[arg(long, default_value_t = 20)]
    pub page_size_default: u32,
    /// Fixed latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Extra random latency bound, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_jitter_ms: u64,
    /// Server-wide rate limit in requests per second (429 with Retry-After above it).
    #[arg(long)]
    pub rate_limit_rps: Option<f64>,
    /// Burst size of the rate limit (default: the rate rounded up).
    #[arg(long, requires = "rate_limit_rps")]
    pub rate_limit_burst: Option<u32>,
    /// Probability of a random 5xx on any API request.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Start with a frozen clock that moves only through the control API.
    #[arg(long)]
    pub freeze_clock: bool,
}

impl SimulatorArgs {
    /// The startup configuration these options describe.
    pub fn config(&self) -> Result<SimulatorConfig, SimulatorError> {
        let mut behavior = if self.live {
            Behavior::live()
        } else {
            Behavior::default()
        };
        if self.live_embedded_shape {
            behavior.embedded_shape = EmbeddedShape::LiveFlatArray;
        }
        if self.expired_rooms_available {
            behavior.expired_rooms_report_available = true;
        }
        if self.purge_expired_after_secs.is_some() {
            behavior.purge_expired_after_secs = self.purge_expired_after_secs;
        }
        if self.rooms_report_default_theme {
            behavior.rooms_report_default_theme = true;
        }
        behavior.theme_limit = self.theme_limit;
        behavior.room_limit = self.room_limit;
        if self.page_size_default == 0 || self.page_size_default > behavior.page_size_max {
            return Err(SimulatorError::Config(format!(
                "--page-size-default must be between 1 and {}",
                behavior.page_size_max
            )));
        }
        behavior.page_size_default = self.page_size_default;
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(SimulatorError::Config(
                "--error-rate must be between 0 and 1".into(),
            ));
        }
        let default_application = match &self.private_key_file {
            Some(path) => DefaultApplication::PrivateKey {
                application_id: self.application_id.clone(),
                private_key_pem: read(path)?,
            },
            None if self.application_id.is_some() => {
                return Err(SimulatorError::Config(
                    "--application-id needs --private-key-file (or omit both to generate)".into(),
                ));
            }
            None => DefaultApplication::Generate,
        };
        let latency = (self.latency_ms > 0 || self.latency_jitter_ms > 0).then_some(Latency {
            fixed_ms: self.latency_ms,
            jitter_ms: self.latency_jitter_ms,
        });
        let rate_limit = match self.rate_limit_rps {
            Some(rps) if rps > 0.0 => Some(RateLimit {
                per_second: rps,
                burst: self.rate_limit_burst,
                retry_after_secs: None,
            }),
            Some(_) => {
                return Err(SimulatorError::Config(
                    "--rate-limit-rps must be positive".into(),
                ));
            }
            None => None,
        };
        Ok(SimulatorConfig {
            listen: self.listen,
            behavior,
            default_application,
            freeze_clock: self.freeze_clock,
            latency,
            rate_limit,
            error_rate: self.error_rate,
            ..SimulatorConfig::default()
        })
    }
}

fn read(path: &Path) -> Result<String, SimulatorError> {
    std::fs::read_to_string(path).map_err(|source| SimulatorError::File {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), SimulatorError> {
    let file_error = |source| SimulatorError::File {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, contents).map_err(file_error)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(file_error)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

/// Runs the simulator until Ctrl-C or SIGTERM, printing its address and credentials.
pub async fn run(args: SimulatorArgs) -> Result<(), SimulatorError> {
    let config = args.config()?;
    let sim = Simulator::builder().with_config(config).start().await?;
    let addr = sim.addr();
    println!("listening=http://{addr}");
    println!("base_url={}", sim.base_url());
    println!("control_url={}", sim.control_url());
    println!("token_url={}/token", sim.control_url());
    if let Some(credentials) = sim.default_application() {
        println!("application_id={}", credentials.application_id);
        let key_file = match (&args.write_credentials, &args.private_key_file) {
            (Some(dir), _) => {
                std::fs::create_dir_all(dir).map_err(|source| SimulatorError::File {
                    path: dir.clone(),
                    source,
                })?;
                let key_path = dir.join("private.key");
                write(&key_path, &credentials.private_key_pem, true)?;
                write(
                    &dir.join("application_id"),
                    &credentials.application_id,
                    false,
                )?;
                Some(key_path)
            }
            (None, Some(path)) => Some(path.clone()),
            (None, None) => None,
        };
        match key_file {
            Some(path) => println!("private_key_file={}", path.display()),
            None => println!(
                "private_key_pem=\n{}",
                credentials.private_key_pem.trim_end()
            ),
        }
    }
    println!("ready");
    wait_for_signal().await?;
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> Result<(), SimulatorError> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulatorArgs,
    }

    #[test]
    fn flags_map_to_config() {
        let cli = Cli::parse_from([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--live-embedded-shape",
            "--theme-limit",
            "3",
            "--rate-limit-rps",
            "5",
            "--latency-ms",
            "10",
        ]);
        let config = cli.args.config().unwrap();
        assert_eq!(config.behavior.embedded_shape, EmbeddedShape::LiveFlatArray);
        assert_eq!(config.behavior.theme_limit, Some(3));
        assert_eq!(config.rate_limit.map(|r| r.per_second), Some(5.0));
        assert_eq!(config.latency.map(|l| l.fixed_ms), Some(10));
        assert!(matches!(
            config.default_application,
            DefaultApplication::Generate
        ));
    }

    #[test]
    fn live_flag_equals_behavior_live() {
        let cli = Cli::parse_from(["sim", "--live"]);
        assert_eq!(cli.args.config().unwrap().behavior, Behavior::live());
        let cli = Cli::parse_from(["sim"]);
        assert_eq!(cli.args.config().unwrap().behavior, Behavior::default());
    }

    #[test]
    fn purge_and_default_theme_flags() {
        let cli = Cli::parse_from([
            "sim",
            "--live",
            "--purge-expired-after-secs",
            "3600",
            "--rooms-report-default-theme",
        ]);
        let behavior = cli.args.config().unwrap().behavior;
        assert_eq!(behavior.purge_expired_after_secs, Some(3600));
        assert!(behavior.rooms_report_default_theme);
        assert_eq!(
            Behavior {
                purge_expired_after_secs: None,
                rooms_report_default_theme: false,
                ..behavior
            },
            Behavior::live()
        );
    }

    #[test]
    fn application_id_needs_a_key() {
        let cli = Cli::parse_from(["sim", "--application-id", "x"]);
        assert!(cli.args.config().is_err());
    }
}
