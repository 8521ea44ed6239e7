//! Leader election against a real API server: candidates in-process sharing
//! one Lease, and two operator processes handing over work when the leader
//! is killed.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator_process.rs"]
mod operator_process;
mod support;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use meetings_operator::crd::MeetingRoom;
use meetings_operator::leader::{
    Elector, KubeLeases, LeaderState, Leadership, LeaseConfig, LeaseStore, StoreError,
};
use meetings_simulator::{FaultKind, FaultSpec, Simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{Instant, sleep, timeout};

use support::{control_plane, eventually};

const LEASE_NAME: &str = "meetings-operator";
const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const DEADLINE: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(500);
/// Allowance for API round trips on a busy machine.
const SLACK: Duration = Duration::from_secs(1);

fn config(ns: &str, identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: LEASE,
        renew_interval: RENEW,
        renew_deadline: DEADLINE,
        retry_period: RETRY,
        ..LeaseConfig::new(LEASE_NAME, ns, identity)
    }
}

fn candidate(client: &kube::Client, ns: &str, identity: &str) -> Elector<KubeLeases> {
    Elector::new(
        KubeLeases::new(client.clone(), ns, LEASE_NAME),
        config(ns, identity),
    )
    .expect("valid config")
}

async fn lease(client: &kube::Client, ns: &str) -> Lease {
    Api::<Lease>::namespaced(client.clone(), ns)
        .get(LEASE_NAME)
        .await
        .expect("the Lease exists")
}

fn holder(lease: &Lease) -> Option<String> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty())
}

fn spec_time(
    time: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>,
) -> jiff::Timestamp {
    time.expect("the time is set").0
}

async fn leads_within(elector: &Elector<KubeLeases>, within: Duration) -> Leadership<KubeLeases> {
    timeout(within, elector.acquire())
        .await
        .unwrap_or_else(|_| panic!("{} did not lead within {within:?}", elector.identity()))
}

/// Starts `elector`'s acquisition in a task; yields when it leads and the leadership.
fn acquire_in_background(
    elector: Elector<KubeLeases>,
) -> tokio::task::JoinHandle<(Instant, Leadership<KubeLeases>, Elector<KubeLeases>)> {
    tokio::spawn(async move {
        let leadership = elector.acquire().await;
        (Instant::now(), leadership, elector)
    })
}

#[tokio::test]
async fn only_one_candidate_leads_at_a_time() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-exclusive").await;
    let client = cp.client().await;
    let a = candidate(&client, &ns, "candidate-a");
    let b = candidate(&client, &ns, "candidate-b");

    let leadership = leads_within(&a, Duration::from_secs(10)).await;
    let first = lease(&client, &ns).await;
    assert_eq!(holder(&first).as_deref(), Some("candidate-a"));
    assert_eq!(
        first.spec.as_ref().and_then(|s| s.lease_duration_seconds),
        Some(3)
    );

    // B tries for four lease durations and never gets in, while A renews.
    assert!(
        timeout(LEASE * 4, b.acquire()).await.is_err(),
        "B led while A held the lease"
    );
    assert!(leadership.is_leading());
    assert_eq!(
        *b.subscribe().borrow(),
        LeaderState::Following {
            holder: Some("candidate-a".into())
        }
    );
    let later = lease(&client, &ns).await;
    assert_eq!(holder(&later).as_deref(), Some("candidate-a"));
    let renewed = spec_time(later.spec.as_ref().and_then(|s| s.renew_time.as_ref()))
        .duration_since(spec_time(
            first.spec.as_ref().and_then(|s| s.renew_time.as_ref()),
        ));
    assert!(
        renewed.as_secs() >= 8,
        "A did not keep renewing (renewTime moved by {renewed})"
    );
    assert_eq!(
        later.spec.as_ref().and_then(|s| s.lease_transitions),
        Some(0)
    );
}

#[tokio::test]
async fn a_follower_takes_over_within_the_lease_duration_when_the_leader_stops_renewing() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-crash").await;
    let client = cp.client().await;
    let a = candidate(&client, &ns, "candidate-a");
    let leadership = leads_within(&a, Duration::from_secs(10)).await;
    let follower = acquire_in_background(candidate(&client, &ns, "candidate-b"));

    // Let A renew a few times while B watches.
    sleep(Duration::from_millis(3_300)).await;
    let crashed = Instant::now();
    drop(leadership); // stops renewing; releases nothing
    sleep(Duration::from_millis(200)).await;
    let abandoned = lease(&client, &ns).await;
    assert_eq!(holder(&abandoned).as_deref(), Some("candidate-a"));
    let last_renewal = spec_time(abandoned.spec.as_ref().and_then(|s| s.renew_time.as_ref()));

    let (took_over, b_leads, _b) = timeout(LEASE * 3, follower)
        .await
        .expect("B takes over")
        .expect("the task ran");
    let takeover = took_over - crashed;
    eprintln!("takeover after the leader stopped renewing: {takeover:?} (lease {LEASE:?})");
    assert!(b_leads.is_leading());
    // Not before A's claim lapsed, and within a lease duration and one
    // retry period of the crash (plus API round trips).
    assert!(takeover >= LEASE - RENEW, "took over early: {takeover:?}");
    assert!(takeover <= LEASE + RETRY + SLACK, "took {takeover:?}");

    let taken = lease(&client, &ns).await;
    let spec = taken.spec.as_ref().expect("spec");
    assert_eq!(holder(&taken).as_deref(), Some("candidate-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    let waited = spec_time(spec.acquire_time.as_ref()).duration_since(last_renewal);
    assert!(
        waited.as_secs_f64() >= LEASE.as_secs_f64(),
        "B acquired {waited} after A's last renewal"
    );
}

#[tokio::test]
async fn a_graceful_release_hands_over_at_once() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-release").await;
    let client = cp.client().await;
    let a = candidate(&client, &ns, "candidate-a");
    let leadership = leads_within(&a, Duration::from_secs(10)).await;
    let follower = acquire_in_background(candidate(&client, &ns, "candidate-b"));
    // Off the follower's 500 ms polling phase.
    sleep(Duration::from_millis(1_750)).await;

    let released = Instant::now();
    leadership.release().await.expect("released");
    assert_eq!(*a.subscribe().borrow(), LeaderState::Released);
    let (took_over, b_leads, _b) = timeout(LEASE, follower)
        .await
        .expect("B takes over")
        .expect("the task ran");
    let handover = took_over - released;
    eprintln!("takeover after a release: {handover:?}");
    assert!(b_leads.is_leading());
    assert!(handover <= RETRY + SLACK, "took {handover:?}");
    let taken = lease(&client, &ns).await;
    assert_eq!(holder(&taken).as_deref(), Some("candidate-b"));
    assert_eq!(
        taken.spec.as_ref().and_then(|s| s.lease_transitions),
        Some(1)
    );
}

#[tokio::test]
async fn the_leader_steps_down_when_someone_else_writes_itself_as_holder() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-intruder").await;
    let client = cp.client().await;
    let a = candidate(&client, &ns, "candidate-a");
    let leadership = leads_within(&a, Duration::from_secs(10)).await;
    Api::<Lease>::namespaced(client.clone(), &ns)
        .patch(
            LEASE_NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "holderIdentity": "intruder" } })),
        )
        .await
        .expect("patched");
    timeout(RENEW + SLACK, leadership.lost())
        .await
        .expect("A notices at its next renewal");
    assert!(!leadership.is_leading());
    leadership.release().await.expect("nothing to release");
    assert_eq!(
        holder(&lease(&client, &ns).await).as_deref(),
        Some("intruder")
    );
}

#[tokio::test]
async fn lease_writes_are_checked_against_the_resource_version() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-version").await;
    let store = KubeLeases::new(cp.client().await, &ns, LEASE_NAME);
    assert!(store.get().await.expect("get").is_none());
    let created = store.create(Lease::default()).await.expect("create");
    assert!(matches!(
        store.create(Lease::default()).await,
        Err(StoreError::Conflict)
    ));
    let mut first = created.clone();
    first.spec.get_or_insert_default().holder_identity = Some("one".into());
    store
        .replace(first)
        .await
        .expect("replace at the current version");
    let mut stale = created;
    stale.spec.get_or_insert_default().holder_identity = Some("two".into());
    assert!(matches!(
        store.replace(stale).await,
        Err(StoreError::Conflict)
    ));
    let current = store.get().await.expect("get").expect("exists");
    assert_eq!(holder(&current).as_deref(), Some("one"));
}

// --- Two operator processes -------------------------------------------------

/// One `meetings-operator run` process, its JSON log lines collected.
struct OperatorProcess {
    identity: String,
    child: tokio::process::Child,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl OperatorProcess {
    fn spawn(kubeconfig: &std::path::Path, ns: &str, api_url: &str, identity: &str) -> Self {
        let mut child = operator_process::replica_command(
            kubeconfig,
            ns,
            api_url,
            CREDENTIALS,
            LEASE_NAME,
            identity,
        )
        .args(["--resync-period=30s", "--log-json"])
        .env(
            "RUST_LOG",
            "info,meetings_operator::controller::finish=debug",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the operator starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let sink = logs.clone();
        let name = identity.to_owned();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(value) => sink.lock().unwrap().push(value),
                    Err(_) => eprintln!("[{name}] {line}"),
                }
            }
        });
        Self {
            identity: identity.to_owned(),
            child,
            logs,
        }
    }

    fn logs(&self) -> Vec<Value> {
        self.logs.lock().unwrap().clone()
    }

    fn dump(&self) -> String {
        self.logs()
            .iter()
            .map(|l| format!("[{}] {l}", self.identity))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn wait_log(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| matches(l)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {what}:\n{}",
                self.identity,
                self.dump()
            );
            sleep(Duration::from_millis(50)).await;
        }
    }

    async fn http_base(&self) -> String {
        let line = self
            .wait_log("its metrics address", |l| {
                l["message"] == "serving /metrics, /healthz and /readyz"
            })
            .await;
        format!("http://{}", line["addr"].as_str().expect("addr"))
    }

    async fn wait_ready(&self, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = get(&format!("{base}/readyz")).await;
            if status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} is not ready ({body}):\n{}",
                self.identity,
                self.dump()
            );
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// Start and end times of every reconcile this process logged.
    fn reconciles(&self) -> Vec<(jiff::Timestamp, jiff::Timestamp, String)> {
        self.logs()
            .iter()
            .filter(|l| l["message"] == "reconciled")
            .map(|l| {
                let end: jiff::Timestamp = l["timestamp"].as_str().unwrap().parse().unwrap();
                let took = jiff::SignedDuration::from_millis(l["took_ms"].as_i64().unwrap());
                let object = format!("{}/{}", l["kind"], l["name"]);
                (end - took, end, object)
            })
            .collect()
    }
}

fn timestamp(line: &Value) -> jiff::Timestamp {
    line["timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a log line has a timestamp")
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the operator answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

const CREDENTIALS: &str = "meetings-credentials";

fn room(name: &str) -> MeetingRoom {
    serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name},
        "spec": {"displayName": format!("Room {name}"), "type": "instant"}
    }))
    .expect("a valid room")
}

fn is_ready(room: &MeetingRoom) -> bool {
    room.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

#[tokio::test]
async fn a_killed_leaders_pending_work_is_finished_by_the_other_process() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-processes").await;
    let client = cp.client().await;
    let sim = Simulator::builder()
        .with_behavior(support::world_behavior())
        .start()
        .await
        .expect("simulator starts");
    let app = sim.default_application().expect("default application");
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some(CREDENTIALS.into()),
                    ..Default::default()
                },
                data: Some(
                    [
                        ("applicationId", app.application_id.as_bytes()),
                        ("privateKey", app.private_key_pem.as_bytes()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), ByteString(v.to_vec())))
                    .collect(),
                ),
                ..Default::default()
            },
        )
        .await
        .expect("credentials Secret created");
    let rooms: Api<MeetingRoom> = Api::namespaced(client.clone(), &ns);
    let url = sim.base_url();

    // A starts first and leads; B follows, ready as a standby.
    let mut a = OperatorProcess::spawn(cp.kubeconfig_path(), &ns, &url, "operator-a");
    a.wait_log("leadership", |l| {
        l["message"] == "acquired the lease: leading"
    })
    .await;
    let mut b = OperatorProcess::spawn(cp.kubeconfig_path(), &ns, &url, "operator-b");
    b.wait_log("following A", |l| {
        l["message"] == "following" && l["holder"] == "operator-a"
    })
    .await;
    let (a_http, b_http) = (a.http_base().await, b.http_base().await);
    a.wait_ready(&a_http).await;
    assert_eq!(
        get(&format!("{b_http}/readyz")).await,
        (200, "standby\n".into())
    );
    assert!(
        get(&format!("{a_http}/metrics"))
            .await
            .1
            .contains("\nmeetings_operator_leader 1\n")
    );
    assert!(
        get(&format!("{b_http}/metrics"))
            .await
            .1
            .contains("\nmeetings_operator_leader 0\n")
    );
    assert_eq!(get(&format!("{b_http}/healthz")).await.0, 200);

    // A handles a first batch.
    let first: Vec<String> = (0..4).map(|i| format!("early-{i}")).collect();
    for name in &first {
        rooms
            .create(&PostParams::default(), &room(name))
            .await
            .expect("room created");
    }
    for name in &first {
        eventually(
            &format!("{name} to be Ready"),
            Duration::from_secs(60),
            || async { rooms.get(name).await.ok().filter(is_ready) },
        )
        .await;
    }
    let a_metrics = get(&format!("{a_http}/metrics")).await.1;
    assert!(
        a_metrics.contains(
            "meetings_operator_reconciles_total{kind=\"MeetingRoom\",result=\"success\"}"
        ),
        "{a_metrics}"
    );
    assert!(
        a_metrics.contains("operation=\"createRoom\",status=\"201\""),
        "{a_metrics}"
    );

    // A second batch; creating a room takes 1.5 s now, so A dies with its
    // creates in flight.
    let slow = sim.faults().add(FaultSpec::new(
        "createRoom",
        FaultKind::Latency {
            fixed_ms: 1_500,
            jitter_ms: 0,
        },
    ));
    let second: Vec<String> = (0..6).map(|i| format!("late-{i}")).collect();
    for name in &second {
        rooms
            .create(&PostParams::default(), &room(name))
            .await
            .expect("room created");
    }
    sleep(Duration::from_millis(800)).await;
    let killed_at = jiff::Timestamp::now();
    let killed = Instant::now();
    a.child.start_kill().expect("SIGKILL sent");
    a.child.wait().await.expect("A is gone");
    sim.faults().remove(slow);
    let at_kill = rooms.list(&Default::default()).await.expect("list").items;
    eprintln!(
        "at the kill: {} remote rooms, {} of 10 MeetingRooms Ready, {} with a create pending",
        sim.rooms(&app.application_id).len(),
        at_kill.iter().filter(|r| is_ready(r)).count(),
        at_kill
            .iter()
            .filter(|r| r
                .status
                .as_ref()
                .is_some_and(|s| s.pending_create.is_some()))
            .count()
    );

    let acquired = b
        .wait_log("leadership", |l| {
            l["message"] == "acquired the lease: leading"
        })
        .await;
    let acquired_at = timestamp(&acquired);
    let takeover = acquired_at.duration_since(killed_at);
    eprintln!(
        "operator-b took over {takeover:#} after operator-a was killed (lease 3s); \
         B leads {:?} after the kill",
        killed.elapsed()
    );
    assert!(
        takeover.as_secs_f64() <= (LEASE + RETRY + SLACK).as_secs_f64(),
        "took {takeover:#}"
    );

    for name in first.iter().chain(&second) {
        eventually(
            &format!("{name} to be Ready"),
            Duration::from_secs(60),
            || async { rooms.get(name).await.ok().filter(is_ready) },
        )
        .await;
    }
    b.wait_ready(&b_http).await;
    assert!(
        get(&format!("{b_http}/metrics"))
            .await
            .1
            .contains("\nmeetings_operator_leader 1\n")
    );

    // The gauge counts b's watch cache, which shows the last status write a
    // moment after the API server has it.
    let ready_gauge =
        "meetings_operator_objects{kind=\"MeetingRoom\",condition=\"Ready\",status=\"True\"} 10\n";
    let deadline = Instant::now() + Duration::from_secs(10);
    let b_metrics = loop {
        let b_metrics = get(&format!("{b_http}/metrics")).await.1;
        if b_metrics.contains(ready_gauge) || Instant::now() > deadline {
            break b_metrics;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(b_metrics.contains(ready_gauge), "{b_metrics}");

    // Exactly one remote room per MeetingRoom.
    let remote = sim.rooms(&app.application_id);
    let manifests = rooms.list(&Default::default()).await.expect("list").items;
    assert_eq!(manifests.len(), 10);
    let recorded: BTreeSet<String> = manifests
        .iter()
        .map(|r| {
            r.status
                .as_ref()
                .and_then(|s| s.room_id.as_deref().map(str::to_owned))
                .expect("a Ready room has an id")
        })
        .collect();
    let held: BTreeSet<String> = remote.iter().map(|r| r.id.to_string()).collect();
    let names: BTreeSet<&str> = remote.iter().map(|r| r.display_name.as_str()).collect();
    assert_eq!(
        remote.len(),
        10,
        "the simulator holds {} rooms: {names:?}",
        remote.len()
    );
    assert_eq!(recorded, held);

    // Writes came from one process at a time: A reconciled only before it
    // was killed, B only after it took over.
    let (a_reconciles, b_reconciles) = (a.reconciles(), b.reconciles());
    assert!(!a_reconciles.is_empty() && !b_reconciles.is_empty());
    for (_, end, object) in &a_reconciles {
        assert!(
            *end <= killed_at,
            "A reconciled {object} at {end} after being killed"
        );
    }
    for (start, _, object) in &b_reconciles {
        assert!(
            *start >= acquired_at,
            "B reconciled {object} from {start}, before it led at {acquired_at}"
        );
    }
    assert!(
        b_reconciles.iter().any(|(_, _, o)| o.contains("late-")),
        "B finished none of the pending rooms"
    );

    // SIGTERM: B finishes, releases the lease and exits cleanly.
    let b_pid = b.child.id().expect("B runs");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &b_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = timeout(Duration::from_secs(30), b.child.wait())
        .await
        .expect("B exits after SIGTERM")
        .expect("B's status");
    assert!(status.success(), "B exited with {status}:\n{}", b.dump());
    let released = lease(&client, &ns).await;
    assert_eq!(holder(&released), None, "B released the lease");
    assert_eq!(
        released.spec.as_ref().and_then(|s| s.lease_transitions),
        Some(1)
    );
}

#[tokio::test]
async fn a_deposed_leader_stops_at_once_and_exits_with_an_error() {
    let cp = control_plane().await;
    let ns = cp.new_namespace("lease-deposed").await;
    let client = cp.client().await;
    // No Meetings API is needed: there is nothing to reconcile.
    let mut a = OperatorProcess::spawn(
        cp.kubeconfig_path(),
        &ns,
        "http://127.0.0.1:9/v1/meetings",
        "operator-a",
    );
    a.wait_log("leadership", |l| {
        l["message"] == "acquired the lease: leading"
    })
    .await;
    Api::<Lease>::namespaced(client.clone(), &ns)
        .patch(
            LEASE_NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "holderIdentity": "intruder" } })),
        )
        .await
        .expect("patched");
    let deposed = Instant::now();
    let status = timeout(RENEW + SLACK * 2, a.child.wait())
        .await
        .expect("the deposed leader exits")
        .expect("its status");
    eprintln!(
        "the deposed leader exited {:?} after losing the lease",
        deposed.elapsed()
    );
    assert_eq!(status.code(), Some(1), "{status}");
    let lost = a
        .wait_log("the loss", |l| l["message"] == "lost leadership")
        .await;
    assert_eq!(lost["why"], "intruder holds the lease now");
    assert_eq!(
        holder(&lease(&client, &ns).await).as_deref(),
        Some("intruder")
    );
}
