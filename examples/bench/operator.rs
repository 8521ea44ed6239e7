//! The operator as a child process: its command line, its JSON log read as
//! it is written (metrics address, rooms reconciled, warnings), readiness,
//! metrics, and stopping it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::args::Args;
use crate::procfs::stat_state;

/// How to start the operator: its binary, the cluster, the simulator and
/// the benchmark's arguments.
pub struct Launch {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub api_url: String,
    pub default_credentials: String,
    pub args: Args,
}

#[derive(Default, Clone)]
pub struct LogSummary {
    metrics_addr: Option<SocketAddr>,
    pub first_reconciled: Option<Duration>,
    /// Distinct rooms reconciled without error (debug logs of the runner),
    /// and when the last of them was first.
    rooms_reconciled: usize,
    last_new_room: Option<Duration>,
    pub warnings: u64,
    pub errors: u64,
    last_problem: Option<String>,
}

/// A running operator.
pub struct OperatorProcess {
    child: Child,
    pub pid: i32,
    pub started: Instant,
    log: Arc<Mutex<LogSummary>>,
    http: reqwest::Client,
}

impl Launch {
    pub fn spawn(&self, log_path: &Path, rust_log: &str) -> Result<OperatorProcess, String> {
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

/// Copies the operator's log to `file` and keeps `summary` current.
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
    pub fn check_alive(&self) -> Result<(), String> {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) if !stat_state(&stat).is_some_and(|s| s == 'Z' || s == 'X') => Ok(()),
            _ => Err(format!(
                "the operator (pid {}) exited; last problem: {}",
                self.pid,
                self.log_summary().last_problem.unwrap_or_default()
            )),
        }
    }

    pub fn log_summary(&self) -> LogSummary {
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
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Duration, String> {
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
    pub async fn wait_rooms_reconciled(
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
    pub async fn metrics(&self) -> Result<PromText, String> {
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
    pub async fn stop(mut self) {
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
pub struct PromText(String);

impl PromText {
    /// The sum of the samples of `name` whose labels contain `label` (`""`: all).
    pub fn sum(&self, name: &str, label: &str) -> f64 {
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
    pub fn mean(&self, name: &str, label: &str) -> Option<f64> {
        let count = self.sum(&format!("{name}_count"), label);
        (count > 0.0).then(|| self.sum(&format!("{name}_sum"), label) / count)
    }
}
