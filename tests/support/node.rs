//! A Kubernetes node beside the control plane, for tests that run pods:
//! containerd (with runc and the CNI plugins bridge, host-local, loopback
//! and portmap), kubelet, kube-proxy (nftables), kube-scheduler and CoreDNS,
//! built by `scripts/kube-tools.sh`.
//!
//! It runs inside the namespaces of [`super::isolation`]: the node has its
//! own address on a veth pair, pods get addresses on a bridge, Services
//! live in the control plane's service range; the network namespace has no
//! route anywhere else, which [`check_routes`] proves before any pod
//! starts. Every image comes from a local archive (`scripts/image.sh`): the
//! sandbox image too, since no registry is reachable.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Endpoints, Node as NodeObject};
use kube::api::Api;

use super::control_plane::ControlPlane;
use super::isolation::{self, CGROUP_VAR};

/// The binaries of the node, built by `scripts/kube-tools.sh`.
pub const NODE_TOOLS: [&str; 13] = [
    "kubelet",
    "kube-proxy",
    "kube-scheduler",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "bridge",
    "host-local",
    "loopback",
    "portmap",
    "coredns",
    "image",
];

/// The node's name.
pub const NODE_NAME: &str = "meetings-node";
/// The node's address (on `node0`); the API server advertises it, CoreDNS
/// and the tests' simulator listen on it.
pub const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// The node's network.
const NODE_NETWORK: &str = "10.200.0.0/24";
/// The pods' network, on the bridge `cni0`.
pub const POD_NETWORK: &str = "10.244.0.0/24";
/// The control plane's `--service-cluster-ip-range`.
pub const SERVICE_NETWORK: &str = "10.0.0.0/24";
/// The image of every pod's sandbox, imported from `pause.tar`.
pub const SANDBOX_IMAGE: &str = "localhost/meetings-pause:1";

/// Sets up the node's network in the current (fresh) network namespace:
/// loopback, the node's address on one end of a veth pair (whose other end
/// only gives it a carrier), a route for Service addresses, forwarding.
pub fn setup_network() -> Result<(), String> {
    let run = isolation::run;
    run("ip", &["link", "set", "lo", "up"])?;
    run(
        "ip",
        &[
            "link",
            "add",
            "node0",
            "type",
            "veth",
            "peer",
            "name",
            "node0-peer",
        ],
    )?;
    run(
        "ip",
        &["addr", "add", &format!("{NODE_ADDRESS}/24"), "dev", "node0"],
    )?;
    run("ip", &["link", "set", "node0", "up"])?;
    run("ip", &["link", "set", "node0-peer", "up"])?;
    // Service addresses are translated by kube-proxy; they need a route to
    // be sent at all.
    run("ip", &["route", "add", SERVICE_NETWORK, "dev", "node0"])?;
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(|e| format!("enabling forwarding: {e}"))?;
    Ok(())
}

/// Fails unless every route of this network namespace leads to one of its
/// own networks (node, pods, Services, loopback): no default route, nothing
/// off the machine.
pub fn check_routes() -> Result<(), String> {
    let own = [NODE_NETWORK, POD_NETWORK, SERVICE_NETWORK];
    let mut foreign = Vec::new();
    for family in ["-4", "-6"] {
        let routes = isolation::run("ip", &[family, "route", "show", "table", "main"])?;
        for route in routes.lines() {
            let destination = route.split_whitespace().next().unwrap_or_default();
            let ipv6_link_local = destination.starts_with("fe80::");
            if !(own.contains(&destination) || ipv6_link_local) {
                foreign.push(route.to_owned());
            }
        }
    }
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the node's network namespace has routes beyond its own networks; refusing to \
             start pods: {foreign:?}"
        ))
    }
}

/// A running node. Its processes die with the pid namespace of the test.
pub struct Node {
    dir: PathBuf,
    bin: PathBuf,
    socket: PathBuf,
    children: Mutex<Vec<(String, Child)>>,
    /// Time from the first process started to the node being Ready.
    pub startup: Duration,
}

impl Node {
    /// Starts containerd, imports `images` (archives from
    /// `scripts/image.sh`, the sandbox image among them), then CoreDNS,
    /// kube-scheduler, kubelet and kube-proxy, and waits until the node is
    /// Ready and the `kubernetes` Service has the API server as endpoint.
    pub async fn start(cp: &ControlPlane, images: &[PathBuf]) -> Result<Node, String> {
        let started = Instant::now();
        let bin = cp.bin_dir().to_owned();
        let missing: Vec<&str> = NODE_TOOLS
            .iter()
            .copied()
            .filter(|t| !bin.join(t).is_file())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the node's tools are missing ({}) in {}: build them with \
                 `bash scripts/kube-tools.sh`",
                missing.join(", "),
                bin.display()
            ));
        }
        // Under the control plane's directory, on the tmpfs that covers
        // /tmp in the test's mount namespace (see `isolation`).
        let dir = cp.dir().join("node");
        for sub in ["logs", "cni", "kubelet", "pod-logs", "containerd"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("creating {}: {e}", dir.join(sub).display()))?;
        }
        let node = Node {
            socket: dir.join("containerd.sock"),
            dir,
            bin,
            children: Mutex::new(Vec::new()),
            startup: Duration::ZERO,
        };
        node.start_containerd()?;
        for image in images {
            node.import(image)?;
        }
        node.write_cni_config()?;
        node.start_coredns(cp)?;
        node.spawn(
            "kube-scheduler",
            &[
                format!("--kubeconfig={}", path(cp.kubeconfig_path())),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                "--secure-port=0".into(),
            ],
        )?;
        node.start_kubelet(cp)?;
        node.start_kube_proxy(cp)?;

        let client = cp.client().await;
        node.wait_ready(&client).await?;
        check_routes()?;
        Ok(Node {
            startup: started.elapsed(),
            ..node
        })
    }

    fn start_containerd(&self) -> Result<(), String> {
        let config = self.dir.join("containerd.toml");
        let text = format!(
            r#"version = 3
root = {root}
state = {state}

[grpc]
  address = {socket}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = {sandbox}

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # This machine withholds CAP_SYS_RESOURCE: nothing may lower oom_score_adj.
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [{bin}]
  conf_dir = {cni}

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = {runc}
  SystemdCgroup = false

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
"#,
            root = toml_str(&self.dir.join("containerd/root")),
            state = toml_str(&self.dir.join("containerd/state")),
            socket = toml_str(&self.socket),
            sandbox = toml_str(Path::new(SANDBOX_IMAGE)),
            bin = toml_str(&self.bin),
            cni = toml_str(&self.dir.join("cni")),
            runc = toml_str(&self.bin.join("runc")),
        );
        write(&config, &text)?;
        self.spawn("containerd", &[format!("--config={}", path(&config))])?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ctr(&["version"]).is_err() {
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(self.timeout("containerd to answer", "containerd"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Imports an image archive into the namespace the kubelet uses.
    pub fn import(&self, archive: &Path) -> Result<(), String> {
        self.ctr(&["images", "import", &path(archive)]).map(|_| ())
    }

    /// Runs `ctr` against this node's containerd, in the `k8s.io` namespace.
    pub fn ctr(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec![
            "--address",
            self.socket.to_str().unwrap_or_default(),
            "--namespace",
            "k8s.io",
        ];
        all.extend_from_slice(args);
        isolation::run(&path(&self.bin.join("ctr")), &all)
    }

    fn write_cni_config(&self) -> Result<(), String> {
        let config = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "meetings-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": true,
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{ "subnet": POD_NETWORK }]],
                        "routes": [{ "dst": "0.0.0.0/0" }],
                        "dataDir": path(&self.dir.join("cni/ipam")),
                    },
                },
                { "type": "portmap", "capabilities": { "portMappings": true } },
            ],
        });
        write(
            &self.dir.join("cni/10-meetings-node.conflist"),
            &serde_json::to_string_pretty(&config).expect("JSON"),
        )
    }

    /// CoreDNS on the node's address: the cluster DNS of every pod.
    fn start_coredns(&self, cp: &ControlPlane) -> Result<(), String> {
        let corefile = self.dir.join("Corefile");
        write(
            &corefile,
            &format!(
                ".:53 {{\n  bind {NODE_ADDRESS}\n  errors\n  kubernetes cluster.local \
                 in-addr.arpa ip6.arpa {{\n    kubeconfig {kubeconfig}\n    pods insecure\n  \
                 }}\n  cache 5\n}}\n",
                kubeconfig = path(cp.kubeconfig_path()),
            ),
        )?;
        self.spawn("coredns", &["-conf".into(), path(&corefile)])
    }

    fn start_kubelet(&self, cp: &ControlPlane) -> Result<(), String> {
        let cgroup_root = std::env::var(CGROUP_VAR)
            .map_err(|_| format!("{CGROUP_VAR} is not set: run the node inside isolation"))?;
        let resolv = self.dir.join("resolv.conf");
        write(&resolv, &format!("nameserver {NODE_ADDRESS}\n"))?;
        let config = self.dir.join("kubelet.yaml");
        let text = format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: {cgroup_root}
containerRuntimeEndpoint: unix://{socket}
address: {NODE_ADDRESS}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: {ca}}}
authorization: {{mode: AlwaysAllow}}
clusterDomain: cluster.local
clusterDNS: [{NODE_ADDRESS}]
resolvConf: {resolv}
podLogsDir: {pod_logs}
failSwapOn: false
protectKernelDefaults: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}}
"#,
            socket = path(&self.socket),
            ca = yaml_path(cp.ca_cert_path()),
            resolv = yaml_path(&resolv),
            pod_logs = yaml_path(&self.dir.join("pod-logs")),
        );
        write(&config, &text)?;
        self.spawn(
            "kubelet",
            &[
                format!("--config={}", path(&config)),
                format!("--kubeconfig={}", path(cp.kubeconfig_path())),
                format!("--root-dir={}", path(&self.dir.join("kubelet"))),
                format!("--hostname-override={NODE_NAME}"),
                format!("--node-ip={NODE_ADDRESS}"),
            ],
        )
    }

    fn start_kube_proxy(&self, cp: &ControlPlane) -> Result<(), String> {
        let config = self.dir.join("kube-proxy.yaml");
        let text = format!(
            r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {NODE_NAME}
clusterCIDR: {POD_NETWORK}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Pods on one bridge reach each other through Services only when the
# replies come back through the node.
nftables:
  masqueradeAll: true
# Leave the (machine-wide) conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"#,
            kubeconfig = yaml_path(cp.kubeconfig_path()),
        );
        write(&config, &text)?;
        self.spawn("kube-proxy", &[format!("--config={}", path(&config))])
    }

    async fn wait_ready(&self, client: &kube::Client) -> Result<(), String> {
        let nodes: Api<NodeObject> = Api::all(client.clone());
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_alive()?;
            let ready = nodes
                .get_opt(NODE_NAME)
                .await
                .ok()
                .flatten()
                .is_some_and(|n| {
                    n.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                });
            let api_endpoint = endpoints
                .get_opt("kubernetes")
                .await
                .ok()
                .flatten()
                .and_then(|e| e.subsets)
                .is_some_and(|s| !s.is_empty());
            if ready && api_endpoint {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.timeout("the node to be Ready", "kubelet"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn spawn(&self, name: &str, args: &[String]) -> Result<(), String> {
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let out =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let path_var = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(self.bin.join(name))
            .args(args)
            .env("PATH", path_var)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_owned(), child));
        Ok(())
    }

    /// Fails if a node process has exited, with the end of its log.
    pub fn check_alive(&self) -> Result<(), String> {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        for (name, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{name} exited ({status}):\n{}",
                    self.log_tail(name, 40)
                ));
            }
        }
        Ok(())
    }

    fn timeout(&self, what: &str, component: &str) -> String {
        format!(
            "timed out waiting for {what}; last lines of {component}'s log:\n{}",
            self.log_tail(component, 40)
        )
    }

    /// The last `lines` lines of a component's log.
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("logs").join(format!("{component}.log")))
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Where the node keeps its files (on tmpfs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A TOML literal string (paths here hold no single quote).
fn toml_str(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// A YAML scalar for a path (a JSON string is valid YAML).
fn yaml_path(p: &Path) -> String {
    serde_json::to_string(&p.to_string_lossy()).expect("a string serializes")
}

fn write(file: &Path, text: &str) -> Result<(), String> {
    std::fs::write(file, text).map_err(|e| format!("writing {}: {e}", file.display()))
}
