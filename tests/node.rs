//! End-to-end on a real node: the image that `scripts/image.sh` builds, the
//! chart installed with `helm install`, its pod started by a kubelet, and
//! the operator in it reconciling against the simulator over the pod
//! network.
//!
//! The binary runs in namespaces of its own (see `support/isolation.rs`):
//! one control plane, one node and one simulator serve the tests, which
//! run in order, each building on the release the one before left. Its own
//! runner (`harness = false`) prints results as libtest does.
//!
//! Needs the tools of `scripts/kube-tools.sh` and the image archives of
//! `scripts/image.sh` (`scripts/test.sh` builds both).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use meetings_operator::crd::conditions::Condition;
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_simulator::{RunningSimulator, Simulator, SimulatorConfig};
use serde_json::json;

use support::control_plane::{ControlPlane, Options};
use support::eventually;
use support::isolation::{self, Role};
use support::node::{self, NODE_ADDRESS, Node};

/// The release's name and namespace; the chart's objects are named after it.
const RELEASE: &str = "meetings-operator";
const RELEASE_NS: &str = "meetings-system";
/// The namespace of the teams' MeetingThemes and MeetingRooms.
const TEAM_NS: &str = "team-video";
const CHART: &str = "charts/meetings-operator";

fn main() -> ExitCode {
    match isolation::role() {
        Role::Outer => isolation::run_outer(),
        Role::Init => isolation::run_init(),
        Role::Tests => run_tests(),
    }
}

/// What every test shares.
struct World {
    cp: ControlPlane,
    node: Node,
    sim: RunningSimulator,
    operator_image: String,
    /// The simulator application's private key, for `--set-file`.
    private_key_file: PathBuf,
}

type TestFn = fn(&'static World) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// `(name, test)` of each test named, in the order given.
macro_rules! in_order {
    ($($test:ident),* $(,)?) => {
        [$((stringify!($test), (|w| Box::pin($test(w))) as TestFn)),*]
    };
}

/// The tests, in the order they run.
const TESTS: [(&str, TestFn); 6] = in_order![
    helm_install_runs_the_pod_which_reconciles_and_passes_helm_test,
    the_running_pod_keeps_the_security_defaults,
    helm_upgrade_rolls_the_pod_and_recreates_nothing_remotely,
    two_replicas_elect_one_leader_and_hand_over_when_its_pod_is_deleted,
    callbacks_through_the_service_reach_the_leader,
    helm_uninstall_removes_the_charts_objects_and_keeps_the_resources,
];

fn run_tests() -> ExitCode {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let world = match runtime.block_on(World::start()) {
        Ok(world) => Box::leak(Box::new(world)),
        Err(e) => {
            println!("\nthe node world did not start: {e}");
            println!(
                "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
            );
            return ExitCode::FAILURE;
        }
    };
    let world: &'static World = world;
    println!("\nrunning {} tests", TESTS.len());
    let (mut passed, mut failed, mut filtered) = (0, Vec::new(), 0);
    for (name, test) in TESTS {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        let started = Instant::now();
        let outcome = runtime.block_on(runtime.spawn(test(world)));
        match outcome {
            Ok(()) => {
                println!(
                    "test {name} ... ok ({:.1}s)",
                    started.elapsed().as_secs_f64()
                );
                passed += 1;
            }
            Err(e) => {
                println!("test {name} ... FAILED ({e})");
                failed.push(name);
                // Later tests build on this one's release.
                break;
            }
        }
    }
    if !failed.is_empty() {
        for component in ["kubelet", "containerd", "kube-proxy", "coredns"] {
            println!(
                "\n---- last lines of {component}'s log ----\n{}",
                world.node.log_tail(component, 30)
            );
        }
        println!("\nfailures:\n    {}", failed.join("\n    "));
    }
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered} \
         filtered out",
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

impl World {
    async fn start() -> Result<World, String> {
        isolation::mask_host_dirs()?;
        node::setup_network()?;
        node::check_routes()?;
        let images = support::images_dir();
        let archive = |name: &str| images.join(format!("{name}.tar"));
        let tag = |name: &str| {
            std::fs::read_to_string(images.join(format!("{name}.tag")))
                .map(|t| t.trim().to_owned())
                .map_err(|e| {
                    format!(
                        "reading {}: {e}. Build the images with `bash scripts/image.sh` \
                         (scripts/test.sh does).",
                        images.join(format!("{name}.tag")).display()
                    )
                })
        };
        let operator_image = tag("meetings-operator")?;
        let cp = tokio::task::spawn_blocking(|| {
            ControlPlane::start_with(&Options {
                // The chart installs the CRDs.
                crd_dirs: Vec::new(),
                node_address: Some(NODE_ADDRESS),
            })
        })
        .await
        .map_err(|e| e.to_string())??;
        let node = Node::start(&cp, &[archive("pause"), archive("meetings-operator")]).await?;
        eprintln!("node Ready in {:.1}s", node.startup.as_secs_f64());
        let sim = Simulator::builder()
            .with_config(SimulatorConfig {
                listen: (NODE_ADDRESS, 0).into(),
                behavior: support::world_behavior(),
                ..SimulatorConfig::default()
            })
            .start()
            .await
            .map_err(|e| format!("starting the simulator: {e}"))?;
        let app = sim
            .default_application()
            .ok_or("the simulator has no default application")?;
        let private_key_file = cp.dir().join("app.key");
        std::fs::write(&private_key_file, &app.private_key_pem)
            .map_err(|e| format!("writing {}: {e}", private_key_file.display()))?;
        Ok(World {
            cp,
            node,
            sim,
            operator_image,
            private_key_file,
        })
    }

    /// `helm` with the chart's values for this world plus `extra`.
    fn helm(&self, verb: &str, extra: &[&str]) -> Result<String, String> {
        let app = self
            .sim
            .default_application()
            .ok_or("the simulator has no default application")?;
        let (repository, tag) = self.operator_image.rsplit_once(':').ok_or("an image tag")?;
        let mut cmd = self.cp.helm_cmd();
        cmd.args([verb, RELEASE])
            .arg(self.cp.repo_root().join(CHART))
            .args(["--namespace", RELEASE_NS, "--create-namespace", "--wait"])
            .args(["--timeout", "120s"])
            .args(["--set", &format!("image.repository={repository}")])
            .args(["--set", &format!("image.tag={tag}")])
            .args(["--set", "image.pullPolicy=Never"])
            .args(["--set", &format!("apiUrl={}", self.sim.base_url())])
            .args([
                "--set",
                &format!("credentials.applicationId={}", app.application_id),
            ])
            .args([
                "--set-file",
                &format!("credentials.privateKey={}", self.private_key_file.display()),
            ])
            .args(["--set", "resyncPeriod=30s"])
            .args(extra);
        run_ok(&mut cmd)
    }

    async fn client(&self) -> kube::Client {
        self.cp.client().await
    }
}

/// Runs a command, returning its stdout, or failing with all its output.
fn run_ok(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The operator's pods, Ready or not.
async fn operator_pods(client: &kube::Client) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NS);
    pods.list(&ListParams::default().labels(&format!(
        "app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=meetings-operator"
    )))
    .await
    .map(|l| l.items)
    .unwrap_or_default()
    .into_iter()
    .filter(|p| p.metadata.deletion_timestamp.is_none())
    .collect()
}

/// The Meetings API id of a MeetingRoom, once it has one.
async fn remote_id(rooms: &Api<MeetingRoom>, name: &str) -> Option<String> {
    rooms
        .get(name)
        .await
        .expect("the room")
        .status?
        .room_id
        .map(String::from)
}

/// The manifest of an instant MeetingRoom.
fn instant_room(name: &str, display_name: &str, theme: Option<&str>) -> serde_json::Value {
    let mut room = json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {"displayName": display_name, "type": "instant"}
    });
    if let Some(theme) = theme {
        room["spec"]["themeRef"] = json!({ "name": theme });
    }
    room
}

/// Creates an object from its manifest.
async fn create<K>(api: &Api<K>, manifest: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let object: K = serde_json::from_value(manifest).expect("a valid manifest");
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating {}: {e}",
                object.meta().name.clone().unwrap_or_default()
            )
        })
}

/// Waits until exactly `count` operator pods run, all Ready.
async fn ready_pods(client: &kube::Client, count: usize) -> Vec<Pod> {
    eventually(
        &format!("{count} Ready pods"),
        Duration::from_secs(90),
        || async {
            let pods = operator_pods(client).await;
            (pods.len() == count && pods.iter().all(is_ready)).then_some(pods)
        },
    )
    .await
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn condition_is(conditions: Option<&Vec<Condition>>, type_: &str, status: &str) -> bool {
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == status))
}

fn room_conditions(room: &MeetingRoom) -> Option<&Vec<Condition>> {
    room.status.as_ref().map(|s| &s.conditions)
}

fn theme_conditions(theme: &MeetingTheme) -> Option<&Vec<Condition>> {
    theme.status.as_ref().map(|s| &s.conditions)
}

/// Waits until `name` in `api` is Ready (within a minute) and returns it.
async fn wait_ready<K>(api: &Api<K>, name: &str, conditions: fn(&K) -> Option<&Vec<Condition>>) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(
        &format!("{name} to be Ready"),
        Duration::from_secs(60),
        || async {
            api.get(name)
                .await
                .ok()
                .filter(|o| condition_is(conditions(o), "Ready", "True"))
        },
    )
    .await
}

async fn ensure_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).expect("a Namespace");
    let _ = namespaces.create(&PostParams::default(), &ns).await;
}

async fn helm_install_runs_the_pod_which_reconciles_and_passes_helm_test(w: &'static World) {
    let client = w.client().await;
    let started = Instant::now();
    let out = w.helm("install", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("STATUS: deployed"), "{out}");
    let pod = eventually("a Ready operator pod", Duration::from_secs(60), || async {
        operator_pods(&client).await.into_iter().find(is_ready)
    })
    .await;
    let ready_at = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.clone())
        .expect("a Ready time");
    let created = pod.metadata.creation_timestamp.clone().expect("created");
    eprintln!(
        "pod {} Ready {}s after it was created; helm install --wait took {:.1}s",
        pod.name_any(),
        ready_at.0.as_second() - created.0.as_second(),
        started.elapsed().as_secs_f64()
    );

    // The operator reconciles a theme and a room against the simulator.
    ensure_namespace(&client, TEAM_NS).await;
    let themes: Api<MeetingTheme> = Api::namespaced(client.clone(), TEAM_NS);
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), TEAM_NS);
    create(
        &themes,
        json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
            "metadata": {"name": "brand"},
            "spec": {"mainColor": "#0a66c2", "brandText": "Acme", "shortCompanyUrl": "acme-node"}
        }),
    )
    .await;
    create(&rooms, instant_room("standup", "Stand-up", Some("brand"))).await;
    let room = wait_ready(&rooms, "standup", room_conditions).await;
    let status = room.status.expect("a status");
    assert!(status.meeting_code.is_some(), "{status:?}");
    wait_ready(&themes, "brand", theme_conditions).await;
    assert_eq!(w.sim.counters().operation("createRoom"), 1);

    // /metrics through the chart's Service, from the node.
    let services: Api<Service> = Api::namespaced(client.clone(), RELEASE_NS);
    let metrics = services
        .get(&format!("{RELEASE}-metrics"))
        .await
        .expect("the metrics Service");
    let cluster_ip = metrics
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("a ClusterIP");
    let body = reqwest::get(format!("http://{cluster_ip}:8080/metrics"))
        .await
        .expect("the metrics Service answers")
        .text()
        .await
        .expect("a body");
    assert!(
        body.contains("meetings_operator_reconcile_outcomes_total"),
        "{body}"
    );
    assert!(body.contains("kind=\"MeetingRoom\""), "{body}");

    // `helm test` runs its hook pod (the cluster DNS name of the Service).
    let out = run_ok(w.cp.helm_cmd().args([
        "test",
        RELEASE,
        "--namespace",
        RELEASE_NS,
        "--timeout",
        "60s",
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("Phase:          Succeeded"), "{out}");
}

async fn the_running_pod_keeps_the_security_defaults(w: &'static World) {
    let client = w.client().await;
    let pod = operator_pods(&client)
        .await
        .into_iter()
        .find(is_ready)
        .expect("a Ready operator pod");
    let spec = pod.spec.clone().expect("a pod spec");
    assert_eq!(spec.automount_service_account_token, Some(false));
    let container_id = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.container_id.clone())
        .expect("a container id");
    let container_id = container_id.trim_start_matches("containerd://");
    let tasks = w
        .node
        .ctr(&["tasks", "ls"])
        .unwrap_or_else(|e| panic!("{e}"));
    let pid: u32 = tasks
        .lines()
        .find(|l| l.starts_with(container_id))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the container's task in {tasks}"));
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert_eq!(field("Uid"), "65532 65532 65532 65532", "non-root");
    assert_eq!(field("Gid"), "65532 65532 65532 65532", "non-root group");
    assert_eq!(field("NoNewPrivs"), "1", "no privilege escalation");
    assert_eq!(field("CapEff"), "0000000000000000", "no capabilities");
    assert_eq!(field("CapPrm"), "0000000000000000", "no capabilities");
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    let root = mountinfo
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .expect("the root mount");
    assert!(
        root.split_whitespace()
            .nth(5)
            .is_some_and(|o| o.split(',').any(|o| o == "ro")),
        "the root file system is read-only: {root}"
    );
    let token_mounts: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.contains("serviceaccount") || l.contains("token"))
        .collect();
    assert_eq!(token_mounts.len(), 1, "one token mount: {token_mounts:#?}");
    assert!(
        token_mounts[0].contains("/var/run/secrets/kubernetes.io/serviceaccount"),
        "{token_mounts:#?}"
    );
    let volume = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.projected.is_some())
        .expect("a projected volume");
    let sources = volume.projected.and_then(|p| p.sources).unwrap_or_default();
    assert!(
        sources.iter().any(|s| s.service_account_token.is_some()),
        "the token is a projected service-account token"
    );
    // The token in the container is a bound token, valid for the API server.
    let token = std::fs::read_to_string(format!(
        "/proc/{pid}/root/var/run/secrets/kubernetes.io/serviceaccount/token"
    ))
    .expect("the projected token");
    assert_eq!(token.split('.').count(), 3, "a JWT");
}

async fn helm_upgrade_rolls_the_pod_and_recreates_nothing_remotely(w: &'static World) {
    let client = w.client().await;
    let before = operator_pods(&client).await;
    assert_eq!(before.len(), 1);
    let creates_before = w.sim.counters().operation("createRoom");
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), TEAM_NS);
    let room_id = remote_id(&rooms, "standup").await;
    w.helm("upgrade", &["--set", "logLevel=debug"])
        .unwrap_or_else(|e| panic!("{e}"));
    let after = eventually(
        "the new pod Ready and the old one gone",
        Duration::from_secs(90),
        || async {
            let pods = operator_pods(&client).await;
            (pods.len() == 1
                && pods[0].metadata.uid != before[0].metadata.uid
                && is_ready(&pods[0]))
            .then(|| pods[0].clone())
        },
    )
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), RELEASE_NS);
    let deployment = deployments.get(RELEASE).await.expect("the Deployment");
    let env = deployment
        .spec
        .template
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.env)
        .unwrap_or_default();
    assert!(
        env.iter()
            .any(|e| e.name == "RUST_LOG" && e.value.as_deref() == Some("debug")),
        "{env:?}"
    );
    // The new pod reconciles (a resync) and creates nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let room = rooms.get("standup").await.expect("the room");
    assert_eq!(
        room.status
            .as_ref()
            .and_then(|s| s.room_id.as_deref().map(str::to_owned)),
        room_id
    );
    assert!(condition_is(room_conditions(&room), "Ready", "True"));
    assert_eq!(w.sim.counters().operation("createRoom"), creates_before);
    eprintln!("rolled to pod {}", after.name_any());
}

/// The Lease's holder, if any.
async fn leader(client: &kube::Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), RELEASE_NS);
    leases
        .get_opt(RELEASE)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

async fn two_replicas_elect_one_leader_and_hand_over_when_its_pod_is_deleted(w: &'static World) {
    let client = w.client().await;
    w.helm(
        "upgrade",
        &["--set", "logLevel=debug", "--set", "replicas=2"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let pods = ready_pods(&client, 2).await;
    let first = eventually(
        "a leader among the pods",
        Duration::from_secs(30),
        || async {
            leader(&client)
                .await
                .filter(|l| pods.iter().any(|p| &p.name_any() == l))
        },
    )
    .await;
    let creates_before = w.sim.counters().operation("createRoom");

    // A room made while the leader goes away is made exactly once.
    let podsapi: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NS);
    let deleted_at = Instant::now();
    podsapi
        .delete(&first, &DeleteParams::default())
        .await
        .expect("the leader's pod is deleted");
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), TEAM_NS);
    create(&rooms, instant_room("handover", "Hand-over", None)).await;
    let second = eventually("another pod to lead", Duration::from_secs(60), || async {
        leader(&client).await.filter(|l| l != &first)
    })
    .await;
    let handover = deleted_at.elapsed();
    eprintln!(
        "leadership moved from {first} to {second} in {:.1}s",
        handover.as_secs_f64()
    );
    // The chart's lease duration is the operator's default (15 s).
    assert!(handover < Duration::from_secs(20), "{handover:?}");
    wait_ready(&rooms, "handover", room_conditions).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        w.sim.counters().operation("createRoom"),
        creates_before + 1,
        "one create, no duplicate"
    );
}

/// POSTs a `session:started` callback for `room_id` through the callbacks
/// Service, on a new connection each time; the HTTP status, or why none.
async fn post_session_started(
    http: &reqwest::Client,
    service_ip: &str,
    token: &str,
    room_id: &str,
) -> Result<u16, String> {
    let body = json!({
        "event": "session:started", "session_id": format!("s-{}", NEXT_SESSION.fetch_add(1, Ordering::Relaxed)),
        "room_id": room_id, "started_at": "2030-01-01T00:00:00Z"
    });
    http.post(format!(
        "http://{service_ip}:8081/callbacks/{token}/sessions"
    ))
    .json(&body)
    .send()
    .await
    .map(|r| r.status().as_u16())
    .map_err(|e| format!("{e:?}"))
}

/// A new session id for every callback sent.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// The address the callbacks EndpointSlice points at.
async fn callbacks_endpoint(client: &kube::Client) -> Option<String> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), RELEASE_NS);
    let slice = slices
        .get_opt(&format!("{RELEASE}-callbacks-leader"))
        .await
        .ok()??;
    slice.endpoints?.first()?.addresses.first().cloned()
}

fn pod_ip(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.pod_ip.clone()
}

async fn callbacks_through_the_service_reach_the_leader(w: &'static World) {
    let client = w.client().await;
    w.helm(
        "upgrade",
        &[
            "--set",
            "logLevel=debug",
            "--set",
            "replicas=2",
            "--set",
            "callbacks.enabled=true",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let services: Api<Service> = Api::namespaced(client.clone(), RELEASE_NS);
    let service_ip = services
        .get(&format!("{RELEASE}-callbacks"))
        .await
        .expect("the callbacks Service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("a ClusterIP");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), RELEASE_NS);
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), TEAM_NS);
    let room_id = remote_id(&rooms, "standup").await.expect("a room id");

    // No idle connection is kept: each callback connects anew, so each is
    // routed by kube-proxy on its own.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");
    for round in ["the first leader", "the leader after a hand-over"] {
        let pods = ready_pods(&client, 2).await;
        let leader_pod = eventually(
            "a leader whose address the slice holds",
            Duration::from_secs(60),
            || async {
                let name = leader(&client).await?;
                let pod = pods.iter().find(|p| p.name_any() == name)?;
                (callbacks_endpoint(&client).await? == pod_ip(pod)?).then(|| pod.clone())
            },
        )
        .await;
        let token = secrets
            .get(&format!("{RELEASE}-callback-token"))
            .await
            .expect("the callback token Secret")
            .data
            .and_then(|d| d.get("token").cloned())
            .map(|t| String::from_utf8_lossy(&t.0).into_owned())
            .expect("a token");
        // kube-proxy programs the slice's endpoint within moments; from then
        // on every callback reaches the leader, none a follower (which does
        // not listen: a refused connection).
        eventually(
            "kube-proxy to route the Service to the leader",
            Duration::from_secs(30),
            || async {
                matches!(
                    post_session_started(&http, &service_ip, &token, &room_id).await,
                    Ok(200..=299)
                )
                .then_some(())
            },
        )
        .await;
        for _ in 0..20 {
            let status = post_session_started(&http, &service_ip, &token, &room_id).await;
            assert!(
                matches!(status, Ok(200..=299)),
                "a callback through the Service to {round} ({}): {status:?}",
                leader_pod.name_any()
            );
        }
        if round == "the first leader" {
            let podsapi: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NS);
            podsapi
                .delete(&leader_pod.name_any(), &DeleteParams::default())
                .await
                .expect("the leader's pod is deleted");
            eventually("another leader", Duration::from_secs(60), || async {
                leader(&client)
                    .await
                    .filter(|l| l != &leader_pod.name_any())
            })
            .await;
        }
    }
    let room = eventually(
        "the room to show the session",
        Duration::from_secs(30),
        || async {
            rooms.get("standup").await.ok().filter(|r| {
                r.status
                    .as_ref()
                    .and_then(|s| s.live.as_ref())
                    .is_some_and(|l| l.active_session.is_some())
            })
        },
    )
    .await;
    assert!(room.status.is_some());
}

async fn helm_uninstall_removes_the_charts_objects_and_keeps_the_resources(w: &'static World) {
    let client = w.client().await;
    let out = run_ok(w.cp.helm_cmd().args([
        "uninstall",
        RELEASE,
        "--namespace",
        RELEASE_NS,
        "--wait",
        "--timeout",
        "60s",
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("uninstalled"), "{out}");
    eventually(
        "the operator's pods to be gone, terminating ones too",
        Duration::from_secs(60),
        || async {
            let pods: Api<Pod> = Api::namespaced(client.clone(), RELEASE_NS);
            let selector = format!("app.kubernetes.io/instance={RELEASE}");
            let left = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .ok()?;
            left.items.is_empty().then_some(())
        },
    )
    .await;
    // Nothing labelled with the release is left in its namespace.
    let left = run_ok(w.cp.kubectl_cmd().args([
        "get",
        "all,secrets,configmaps,serviceaccounts,roles,rolebindings,leases,poddisruptionbudgets",
        "--namespace",
        RELEASE_NS,
        "--selector",
        &format!("app.kubernetes.io/instance={RELEASE}"),
        "--output",
        "name",
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.trim(), "", "objects the chart made are left");
    let cluster_left = run_ok(w.cp.kubectl_cmd().args([
        "get",
        "clusterroles,clusterrolebindings",
        "--selector",
        &format!("app.kubernetes.io/instance={RELEASE}"),
        "--output",
        "name",
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cluster_left.trim(),
        "",
        "cluster objects the chart made are left"
    );
    // The CRDs (crds.keep) and the resources stay, with their finalizers:
    // deleting them now would wait for an operator that is gone (README,
    // "Uninstall").
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), TEAM_NS);
    rooms.get("standup").await.expect("the MeetingRoom stays");
    let themes: Api<MeetingTheme> = Api::namespaced(client.clone(), TEAM_NS);
    let theme = themes.get("brand").await.expect("the MeetingTheme stays");
    assert!(
        theme
            .finalizers()
            .iter()
            .any(|f| f == "meetings.vonage.com/cleanup"),
        "its finalizer stays: {:?}",
        theme.finalizers()
    );
}
