//! A real Kubernetes control plane on loopback: etcd, kube-apiserver and
//! kube-controller-manager, built by `scripts/kube-tools.sh`.
//!
//! Lifetime: the processes run in their own sessions (process groups) and
//! are tied to the process that started them in two ways:
//! * `PR_SET_PDEATHSIG(SIGKILL)`: the kernel kills them when the thread that
//!   spawned them ends. They are spawned from a dedicated thread that never
//!   ends, so this fires exactly when the owning process exits, however it
//!   exits (normal exit, panic, abort, SIGKILL).
//! * A watchdog (`sh`) that reads a pipe from the owning process. When the
//!   pipe closes (the process exited, or [`ControlPlane::shutdown`] was
//!   called) it terminates the process groups and removes the temp dir.

// Process control (sessions, signals, locks, reaping) goes through libc.
#![allow(unsafe_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::certs;

/// The binaries built by `scripts/kube-tools.sh`.
pub const TOOLS: [&str; 7] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kubectl",
    "helm",
    "health",
    "promtool",
];

/// Directories, relative to the repository root, whose `*.yaml`/`*.yml`
/// CustomResourceDefinitions are installed before the controller manager
/// starts (so that its garbage collector knows their kinds from the start).
pub const CRD_DIRS: [&str; 2] = ["crds", "tests/support/crds"];

const WATCHDOG: &str = r#"
dir=$1
trap '' INT TERM HUP PIPE
pids=
# Newest first: the controller manager, the API server, then etcd.
while IFS= read -r pid; do pids="$pid $pids"; done
alive() {
  for p in $pids; do
    st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
    case "$st" in '' | Z | X) ;; *) return 0 ;; esac
  done
  return 1
}
for p in $pids; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
i=0
while alive && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
for p in $pids; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
i=0
while alive && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$2" = keep ] && exit 0
rm -rf -- "$dir" 2>/dev/null || { sleep 1; rm -rf -- "$dir"; }
"#;

/// How to start a control plane.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directories whose CRDs are installed (see [`CRD_DIRS`]).
    pub crd_dirs: Vec<&'static str>,
    /// The address of a node beside the control plane (see `node.rs`): the
    /// API server then listens on every address and advertises this one.
    /// `None`: loopback only.
    pub node_address: Option<std::net::Ipv4Addr>,
}

/// A running control plane. See the module docs for its lifetime.
#[derive(Debug)]
pub struct ControlPlane {
    root: PathBuf,
    bin: PathBuf,
    dir: PathBuf,
    server: String,
    ca_cert: PathBuf,
    kubeconfig: PathBuf,
    crds: Vec<(String, String)>,
    startup: Duration,
    counter: AtomicU64,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
    children: Mutex<Vec<(&'static str, Child)>>,
    apiserver_args: Vec<String>,
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
}

/// Work run on the control-plane thread, so that the processes it spawns die
/// with the test process (see the module docs).
type Job = Box<dyn FnOnce() + Send>;

/// Repository root (where `Cargo.toml`, `crds/` and `scripts/` are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the tool binaries are: `$MEETINGS_KUBE_BIN`, else the directory
/// `scripts/kube-tools.sh --print-dir` names. Errors if any is missing.
pub fn tools_dir() -> Result<PathBuf, String> {
    let root = repo_root();
    let how = "Build them with `bash scripts/kube-tools.sh` (the first build takes a while; \
               see README.md, section Tests), or point MEETINGS_KUBE_BIN at a directory \
               that has them.";
    let dir = match std::env::var_os("MEETINGS_KUBE_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let out = Command::new("bash")
                .arg(root.join("scripts/kube-tools.sh"))
                .arg("--print-dir")
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("running scripts/kube-tools.sh --print-dir: {e}. {how}"))?;
            if !out.status.success() {
                return Err(format!(
                    "scripts/kube-tools.sh --print-dir failed ({}). {how}",
                    out.status
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            PathBuf::from(text.lines().last().unwrap_or_default().trim())
        }
    };
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| !dir.join(t).is_file())
        .collect();
    if missing.is_empty() {
        Ok(dir)
    } else {
        Err(format!(
            "the Kubernetes test tools are missing ({}) in {}. {how}",
            missing.join(", "),
            dir.display()
        ))
    }
}

/// `n` distinct free loopback ports (all bound at once, then released).
fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
        *port = listener
            .local_addr()
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// A YAML scalar for a path or string (a JSON string is valid YAML).
fn yaml_str(s: impl AsRef<str>) -> String {
    serde_json::to_string(s.as_ref()).expect("a string serializes")
}

fn kubeconfig_yaml(server: &str, ca: &Path, user: &str, user_fields: &[(&str, String)]) -> String {
    let mut fields = String::new();
    for (k, v) in user_fields {
        let _ = writeln!(fields, "    {k}: {}", yaml_str(v));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: meetings-test\n  cluster:\n    \
         server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n\
         {fields}contexts:\n- name: meetings-test\n  context:\n    cluster: meetings-test\n    \
         user: {user}\n    namespace: default\ncurrent-context: meetings-test\n",
        server = yaml_str(server),
        ca = yaml_str(ca.to_string_lossy()),
        user = yaml_str(user),
    )
}

/// Builds a client for the calling tokio runtime from a kubeconfig file.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, String> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| format!("reading kubeconfig {}: {e}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("loading kubeconfig {}: {e}", path.display()))?;
    kube::Client::try_from(config).map_err(|e| format!("building a client: {e}"))
}

/// The end of a log, preceded by its last error lines (klog `E`/`F`
/// lines, etcd `"level":"error"`) if they are earlier than that.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let is_error = |l: &&&str| {
        let b = l.as_bytes();
        (b.len() > 1 && (b[0] == b'E' || b[0] == b'F') && b[1].is_ascii_digit())
            || l.contains("\"level\":\"error\"")
            || l.contains("\"level\":\"fatal\"")
    };
    let errors: Vec<&str> = all[..start].iter().filter(is_error).copied().collect();
    let mut out = String::new();
    if !errors.is_empty() {
        out.push_str("[earlier errors]\n");
        out.push_str(&errors[errors.len().saturating_sub(lines / 2)..].join("\n"));
        out.push_str("\n[last lines]\n");
    }
    out.push_str(&all[start..].join("\n"));
    out
}

/// Spawns `cmd` in its own session, killed by the kernel when the calling
/// thread ends.
fn spawn_tied(cmd: &mut Command) -> std::io::Result<Child> {
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Starts one component from `bin`, its output appended to `logs/<name>.log`.
fn spawn_component(bin: &Path, dir: &Path, name: &str, args: &[String]) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("logs").join(format!("{name}.log")))
        .map_err(|e| format!("opening the log of {name}: {e}"))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("opening the log of {name}: {e}"))?;
    let mut cmd = Command::new(bin.join(name));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    spawn_tied(&mut cmd).map_err(|e| format!("starting {name}: {e}"))
}

fn register_with_watchdog(pipe: &mut ChildStdin, child: &Child, name: &str) -> Result<(), String> {
    writeln!(pipe, "{}", child.id())
        .and_then(|()| pipe.flush())
        .map_err(|e| format!("registering {name} with the watchdog: {e}"))
}

/// Polls the API server's `/readyz` until it answers `ok`.
fn wait_apiserver_ready(
    kubeconfig: &Path,
    timeout: Duration,
    mut check_alive: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building a tokio runtime: {e}"))?;
    let client = rt.block_on(client_from_kubeconfig(kubeconfig))?;
    let deadline = Instant::now() + timeout;
    loop {
        check_alive()?;
        let req = http::Request::get("/readyz")
            .body(Vec::new())
            .expect("a valid request");
        if let Ok(body) = rt.block_on(client.request_text(req))
            && body.trim() == "ok"
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("kube-apiserver not ready within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Starter {
    root: PathBuf,
    bin: PathBuf,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
    children: Vec<(&'static str, Child)>,
}

impl Starter {
    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    fn spawn(&mut self, name: &'static str, args: &[String]) -> Result<(), String> {
        let child = spawn_component(&self.bin, &self.dir, name, args)?;
        if let Some((_, pipe)) = self.watchdog.as_mut() {
            register_with_watchdog(pipe, &child, name)?;
        }
        self.children.push((name, child));
        Ok(())
    }

    /// An error if a component has exited, with the end of its log.
    fn check_alive(&mut self) -> Result<(), String> {
        for (name, child) in &mut self.children {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the last lines of its log land.
                std::thread::sleep(Duration::from_millis(300));
                let log = self.dir.join("logs").join(format!("{name}.log"));
                return Err(format!(
                    "{name} exited ({status}); end of its log:\n{}",
                    tail(&log, 40)
                ));
            }
        }
        Ok(())
    }

    fn timeout(&self, what: &str, component: &str) -> String {
        format!(
            "timed out waiting for {what}; end of the {component} log:\n{}",
            tail(&self.log_path(component), 40)
        )
    }
}

impl ControlPlane {
    /// Starts a control plane and blocks until it is ready.
    ///
    /// The processes are spawned from a dedicated thread that never ends
    /// (see the module docs); this call waits for it to report.
    pub fn start() -> Result<ControlPlane, String> {
        Self::start_with_crds(&CRD_DIRS)
    }

    /// Like [`start`](Self::start), installing the CRDs of `crd_dirs`
    /// (relative to the repository root) only.
    pub fn start_with_crds(crd_dirs: &[&'static str]) -> Result<ControlPlane, String> {
        Self::start_with(&Options {
            crd_dirs: crd_dirs.to_vec(),
            node_address: None,
        })
    }

    /// Starts a control plane as `options` say.
    pub fn start_with(options: &Options) -> Result<ControlPlane, String> {
        match Self::start_once(options.clone()) {
            // A port picked as free was taken by someone else meanwhile.
            Err(e) if e.contains("address already in use") => {
                let _ = writeln!(std::io::stderr(), "{e}\nretrying once");
                Self::start_once(options.clone())
            }
            result => result,
        }
    }

    fn start_once(options: Options) -> Result<ControlPlane, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("control-plane".into())
            .spawn(move || {
                let result =
                    std::panic::catch_unwind(|| Self::start_on_this_thread(&options, job_tx))
                        .unwrap_or_else(|p| {
                            let msg = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            Err(format!("control plane start-up panicked: {msg}"))
                        });
                let _ = tx.send(result);
                // Restarts spawn from here too (see `restart_apiserver`).
                while let Ok(job) = job_rx.recv() {
                    job();
                }
                // The processes die with this thread (PR_SET_PDEATHSIG).
                loop {
                    std::thread::park();
                }
            })
            .map_err(|e| format!("spawning the control-plane thread: {e}"))?;
        rx.recv()
            .map_err(|_| "the control-plane thread died".to_string())?
    }

    fn start_on_this_thread(
        options: &Options,
        jobs: std::sync::mpsc::Sender<Job>,
    ) -> Result<ControlPlane, String> {
        let started = Instant::now();
        let root = repo_root();
        let bin = tools_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("meetings-cp-")
            .tempdir()
            .map_err(|e| format!("creating a temp dir: {e}"))?
            .keep();
        let mut s = Starter {
            root,
            bin,
            dir,
            watchdog: None,
            children: Vec::new(),
        };
        let keep_dir = std::env::var_os("MEETINGS_CP_KEEP_DIR").is_some_and(|v| v == "1");
        // The watchdog first, so that it removes the temp dir even if
        // anything below fails.
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg("meetings-cp-watchdog")
            .arg(&s.dir)
            .arg(if keep_dir { "keep" } else { "remove" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut watchdog = cmd
            .spawn()
            .map_err(|e| format!("starting the cleanup watchdog (sh): {e}"))?;
        let pipe = watchdog.stdin.take().expect("piped stdin");
        s.watchdog = Some((watchdog, pipe));

        let result = Self::start_components(&mut s, options, started, jobs);
        match result {
            Ok(cp) => Ok(cp),
            Err(e) => {
                Self::stop(s.watchdog.take(), &mut s.children);
                Err(format!("starting the Kubernetes control plane: {e}"))
            }
        }
    }

    fn start_components(
        s: &mut Starter,
        options: &Options,
        started: Instant,
        jobs: std::sync::mpsc::Sender<Job>,
    ) -> Result<ControlPlane, String> {
        let dir = s.dir.clone();
        for sub in ["logs", "pki", "etcd", "apiserver-certs", "helm"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("creating {}: {e}", dir.join(sub).display()))?;
        }
        let pki = certs::generate(&dir.join("pki"), options.node_address)?;
        let [etcd_port, peer_port, api_port] = free_ports()?;
        let p = |path: &Path| path.to_string_lossy().into_owned();

        // etcd
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        s.spawn(
            "etcd",
            &[
                "--name=default".into(),
                format!("--data-dir={}", p(&dir.join("etcd"))),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            s.check_alive()?;
            if etcd_healthy(etcd_port) {
                break;
            }
            if Instant::now() > deadline {
                return Err(s.timeout("etcd to become healthy", "etcd"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let etcd_ready = started.elapsed();

        // kube-apiserver
        let server = format!("https://127.0.0.1:{api_port}");
        let mut apiserver_args = vec![format!("--etcd-servers={etcd_url}")];
        match options.node_address {
            // Pods reach the API server at the node's address, through the
            // `kubernetes` Service, whose endpoint the lease reconciler keeps.
            Some(address) => apiserver_args.extend([
                "--bind-address=0.0.0.0".into(),
                format!("--advertise-address={address}"),
                "--endpoint-reconciler-type=lease".into(),
                // `kubectl logs` and `exec` through the node's kubelet.
                format!("--kubelet-client-certificate={}", p(&pki.admin_cert)),
                format!("--kubelet-client-key={}", p(&pki.admin_key)),
            ]),
            // The endpoint reconciler refuses loopback addresses; nothing
            // here reaches the API server through the `kubernetes` Service.
            None => apiserver_args.extend([
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                "--endpoint-reconciler-type=none".into(),
            ]),
        }
        apiserver_args.extend([
            format!("--secure-port={api_port}"),
            format!("--cert-dir={}", p(&dir.join("apiserver-certs"))),
            format!("--tls-cert-file={}", p(&pki.serving_cert)),
            format!("--tls-private-key-file={}", p(&pki.serving_key)),
            format!("--client-ca-file={}", p(&pki.ca_cert)),
            format!(
                "--service-account-key-file={}",
                p(&pki.service_account_public_key)
            ),
            format!(
                "--service-account-signing-key-file={}",
                p(&pki.service_account_key)
            ),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            "--authorization-mode=RBAC".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
        ]);
        s.spawn("kube-apiserver", &apiserver_args)?;
        let kubeconfig = dir.join("admin.kubeconfig");
        std::fs::write(
            &kubeconfig,
            kubeconfig_yaml(
                &server,
                &pki.ca_cert,
                "admin",
                &[
                    ("client-certificate", p(&pki.admin_cert)),
                    ("client-key", p(&pki.admin_key)),
                ],
            ),
        )
        .map_err(|e| format!("writing {}: {e}", kubeconfig.display()))?;

        wait_apiserver_ready(&kubeconfig, Duration::from_secs(120), || s.check_alive())
            .map_err(|_| s.timeout("kube-apiserver /readyz", "kube-apiserver"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("building a tokio runtime: {e}"))?;
        let client = rt.block_on(client_from_kubeconfig(&kubeconfig))?;
        let apiserver_ready = started.elapsed();

        // CRDs, before the controller manager starts (see CRD_DIRS).
        let crds = install_crds(s, &options.crd_dirs, &kubeconfig)?;
        let names: Vec<String> = crds.iter().map(|(_, name)| name.clone()).collect();
        rt.block_on(wait_established(&client, &names, Duration::from_secs(60)))?;
        let crds_ready = started.elapsed();

        // kube-controller-manager
        s.spawn(
            "kube-controller-manager",
            &[
                format!("--kubeconfig={}", p(&kubeconfig)),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                "--secure-port=0".into(),
                "--controllers=*".into(),
                format!(
                    "--service-account-private-key-file={}",
                    p(&pki.service_account_key)
                ),
                format!("--root-ca-file={}", p(&pki.ca_cert)),
                format!("--cluster-signing-cert-file={}", p(&pki.ca_cert)),
                format!("--cluster-signing-key-file={}", p(&pki.ca_key)),
                "--use-service-account-credentials=false".into(),
                "--profiling=false".into(),
            ],
        )?;
        // The service-account controller creating `default` in `default`
        // shows that the controller manager runs with synced informers.
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            s.check_alive()?;
            if let Ok(Some(_)) = rt.block_on(sas.get_opt("default")) {
                break;
            }
            if Instant::now() > deadline {
                return Err(s.timeout(
                    "the controller manager (default ServiceAccount)",
                    "kube-controller-manager",
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(client);
        drop(rt);
        let startup = started.elapsed();
        let _ = writeln!(
            std::io::stderr(),
            "control plane ready in {:.1}s (etcd {:.1}s, kube-apiserver {:.1}s, CRDs {:.1}s, \
             kube-controller-manager {:.1}s) at {server}, KUBECONFIG={}",
            startup.as_secs_f64(),
            etcd_ready.as_secs_f64(),
            (apiserver_ready - etcd_ready).as_secs_f64(),
            (crds_ready - apiserver_ready).as_secs_f64(),
            (startup - crds_ready).as_secs_f64(),
            kubeconfig.display(),
        );

        Ok(ControlPlane {
            root: s.root.clone(),
            bin: s.bin.clone(),
            dir,
            server,
            ca_cert: pki.ca_cert,
            kubeconfig,
            crds,
            startup,
            counter: AtomicU64::new(0),
            watchdog: Mutex::new(s.watchdog.take()),
            children: Mutex::new(std::mem::take(&mut s.children)),
            apiserver_args,
            jobs: Mutex::new(jobs),
        })
    }

    /// Closes the watchdog's pipe, so that it stops the components and
    /// removes the temp dir, and waits for all of that.
    fn stop(watchdog: Option<(Child, ChildStdin)>, children: &mut Vec<(&'static str, Child)>) {
        if let Some((mut watchdog, pipe)) = watchdog {
            drop(pipe);
            for (_, child) in children.iter_mut() {
                let _ = child.wait();
            }
            let _ = watchdog.wait();
        } else {
            for (_, child) in children.iter_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        children.clear();
    }

    /// Stops the control plane now and removes its files. Not needed in
    /// tests: everything is stopped and removed when the process exits.
    pub fn shutdown(&self) {
        let watchdog = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        Self::stop(watchdog, &mut children);
    }

    /// Kills kube-apiserver (SIGKILL: every watch and connection is cut at
    /// once), waits `down_for`, starts it again with the same flags, port and
    /// certificates, and waits for `/readyz`. Blocking: call it from
    /// `spawn_blocking`. Returns how long the API server was unavailable.
    pub fn restart_apiserver(&self, down_for: Duration) -> Result<Duration, String> {
        let name = "kube-apiserver";
        let killed_at = Instant::now();
        {
            let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
            let index = children
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or("kube-apiserver is not running")?;
            let (_, mut old) = children.remove(index);
            // Its own session: the group id is its pid.
            // SAFETY: kill(2) with a process group id has no memory effects.
            unsafe { libc::kill(-(old.id() as i32), libc::SIGKILL) };
            let _ = old.wait();
        }
        std::thread::sleep(down_for);
        let (reply_tx, reply_rx) = std::sync::mpsc::channel();
        let (bin, dir, args) = (
            self.bin.clone(),
            self.dir.clone(),
            self.apiserver_args.clone(),
        );
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Box::new(move || {
                let _ = reply_tx.send(spawn_component(&bin, &dir, name, &args));
            }))
            .map_err(|_| "the control-plane thread is gone".to_string())?;
        let child = reply_rx
            .recv()
            .map_err(|_| "the control-plane thread did not answer".to_string())??;
        if let Some((_, pipe)) = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            register_with_watchdog(pipe, &child, name)?;
        }
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, child));
        wait_apiserver_ready(&self.kubeconfig, Duration::from_secs(120), || Ok(()))
            .map_err(|e| format!("{e}; end of its log:\n{}", tail(&self.log_path(name), 40)))?;
        Ok(killed_at.elapsed())
    }

    /// A new client for the calling tokio runtime, authenticated as a
    /// cluster admin (group `system:masters`).
    pub async fn client(&self) -> kube::Client {
        client_from_kubeconfig(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The CA certificate that signed the API server's serving certificate.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert
    }

    /// The directory with the tool binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    pub fn kubectl(&self) -> PathBuf {
        self.bin.join("kubectl")
    }

    pub fn helm(&self) -> PathBuf {
        self.bin.join("helm")
    }

    /// `kubectl` with the admin kubeconfig.
    pub fn kubectl_cmd(&self) -> Command {
        let mut cmd = Command::new(self.kubectl());
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// `helm` with the admin kubeconfig and its own config/cache/data dirs.
    pub fn helm_cmd(&self) -> Command {
        let mut cmd = Command::new(self.helm());
        let home = self.dir.join("helm");
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        cmd
    }

    /// The temp dir that holds the control plane's files (removed at exit).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The repository root.
    pub fn repo_root(&self) -> &Path {
        &self.root
    }

    /// Names of all CustomResourceDefinitions installed at start-up.
    pub fn installed_crds(&self) -> Vec<String> {
        self.crds.iter().map(|(_, name)| name.clone()).collect()
    }

    /// Names of the project's own CustomResourceDefinitions, from `crds/`.
    pub fn project_crds(&self) -> Vec<String> {
        self.crds
            .iter()
            .filter(|(dir, _)| dir == "crds")
            .map(|(_, name)| name.clone())
            .collect()
    }

    /// How long start-up took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The directory with the components' logs.
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The log file of a component (`etcd`, `kube-apiserver`, ...).
    pub fn log_path(&self, component: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{component}.log"))
    }

    fn unique(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates a namespace of its own for a test, named after `prefix`.
    pub async fn new_namespace(&self, prefix: &str) -> String {
        let mut base: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        base.truncate(40);
        let base = base.trim_matches('-');
        let name = format!(
            "{}-{}",
            if base.is_empty() { "test" } else { base },
            self.unique()
        );
        let api: Api<Namespace> = Api::all(self.client().await);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        name
    }

    /// A token for ServiceAccount `namespace/name` from the TokenRequest
    /// API (valid for an hour). The ServiceAccount must exist.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await, namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..Default::default()
            }),
            ..Default::default()
        };
        let response = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("requesting a token for {namespace}/{name}: {e}"));
        response
            .status
            .and_then(|s| s.token)
            .unwrap_or_else(|| panic!("the TokenRequest for {namespace}/{name} has no status"))
    }

    /// A kubeconfig file that acts as ServiceAccount `namespace/name`, with
    /// a TokenRequest-issued token, e.g. for `kubectl` or `helm`.
    pub async fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self.service_account_token(namespace, name).await;
        let path = self.dir.join(format!(
            "sa-{namespace}-{name}-{}.kubeconfig",
            self.unique()
        ));
        let user = format!("system:serviceaccount:{namespace}:{name}");
        std::fs::write(
            &path,
            kubeconfig_yaml(&self.server, &self.ca_cert, &user, &[("token", token)]),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// A client for the calling tokio runtime that acts as ServiceAccount
    /// `namespace/name` (TokenRequest-issued token).
    pub async fn service_account_client(&self, namespace: &str, name: &str) -> kube::Client {
        let path = self.service_account_kubeconfig(namespace, name).await;
        client_from_kubeconfig(&path)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn etcd_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"health\":\"true\"")
}

/// Applies every `*.yaml`/`*.yml` file of each of `dirs` with `kubectl
/// apply --server-side`; returns `(dir, CRD name)` pairs.
fn install_crds(
    s: &mut Starter,
    dirs: &[&'static str],
    kubeconfig: &Path,
) -> Result<Vec<(String, String)>, String> {
    let mut crds = Vec::new();
    for &dir in dirs {
        let Ok(entries) = std::fs::read_dir(s.root.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        if files.is_empty() {
            continue;
        }
        files.sort();
        let mut cmd = Command::new(s.bin.join("kubectl"));
        cmd.env("KUBECONFIG", kubeconfig).args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "-o",
            "name",
        ]);
        for f in &files {
            cmd.arg("-f").arg(f);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("running kubectl apply: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "installing the CRDs of {dir}/ with kubectl apply failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        crds.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix("customresourcedefinition.apiextensions.k8s.io/")
                })
                .map(|name| (dir.to_string(), name.to_string())),
        );
    }
    Ok(crds)
}

async fn wait_established(
    client: &kube::Client,
    names: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    for name in names {
        loop {
            let established = api
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|crd| crd.status)
                .and_then(|st| st.conditions)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("CRD {name} did not become Established"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
