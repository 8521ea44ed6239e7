//! A fault soak, bounded in time: rooms and themes are created, updated and
//! deleted while the simulator injects random 5xx, 429 bursts with
//! `Retry-After`, latency spikes, timeouts and "commit then drop" on
//! creates; two operator processes with leader election are SIGKILLed at
//! random moments and restarted (a replica that exits on its own, as a
//! leader that cannot renew its Lease does, is restarted too, as a
//! Deployment would); and kube-apiserver is killed and restarted mid-run,
//! cutting every watch and connection. When the faults
//! stop, everything must converge within a bounded time: every live object
//! Ready and matching its manifest, exactly one remote object per resource,
//! nothing leaked, every deleted object gone and handled per its deletion
//! policy, no finalizer stuck.
//!
//! `SOAK_ROOMS` (default 40), `SOAK_SECONDS` (default 40), `SOAK_SEED`,
//! `SOAK_CONVERGE_SECONDS` (default 120) and `SOAK_APISERVER_RESTARTS`
//! (default 1) size it;
//! `scripts/soak.sh` runs a long one.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
#[path = "support/operator_process.rs"]
mod operator_process;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;

use kube::api::{ListParams, Patch, PatchParams};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_simulator::{FaultKind, FaultSpec, Latency};
use operator_env::{OperatorEnv, has_condition};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    meetings_operator::meetings::format_timestamp(&at)
}

const LEVELS: [&str; 3] = ["none", "after_owner_only", "explicit_approval"];

/// What the test asked for, per object.
#[derive(Debug, Clone)]
struct RoomPlan {
    display_name: String,
    theme: Option<String>,
    level: &'static str,
    expire_on_delete: bool,
    deleted: bool,
}

#[derive(Debug, Default)]
struct Tally {
    created: u64,
    updated: u64,
    deleted: u64,
    kills: u64,
    leader_kills: u64,
    exits_restarted: u64,
    apiserver_restarts: u64,
    apiserver_down: Duration,
    rate_limit_bursts: u64,
    latency_spikes: u64,
}

#[derive(Debug, Default)]
struct Report {
    live_rooms: usize,
    live_themes: usize,
    duplicates: usize,
    leaks: usize,
    stuck_finalizers: usize,
    policy_violations: usize,
    problems: Vec<String>,
    policy_problems: Vec<String>,
}

fn room_manifest(name: &str, plan: &RoomPlan) -> serde_json::Value {
    let mut spec = json!({
        "displayName": plan.display_name, "type": "long_term", "expiresAt": in_days(60),
        "joinApprovalLevel": plan.level,
        "deletionPolicy": if plan.expire_on_delete { "Expire" } else { "Orphan" },
    });
    if let Some(theme) = &plan.theme {
        spec["themeRef"] = json!({ "name": theme });
    }
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": name}, "spec": spec,
    })
}

fn theme_manifest(env: &OperatorEnv, name: &str, brand: &str, policy: &str) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"themeName": format!("{}-{name}", env.ns), "mainColor": "#336699",
                 "brandText": brand, "shortCompanyUrl": format!("{}-{name}", env.ns),
                 "deletionPolicy": policy}
    })
}

const LEASE_NAME: &str = "soak-operator";

/// Two `meetings-operator run` processes with leader election, restarted
/// whenever they die, the way a Deployment keeps its replicas.
struct Replicas {
    kubeconfig: PathBuf,
    logs: PathBuf,
    ns: String,
    api_url: String,
    processes: Vec<(String, tokio::process::Child)>,
    started: u64,
}

impl Replicas {
    fn new(env: &OperatorEnv, kubeconfig: PathBuf, logs: PathBuf) -> Self {
        let mut replicas = Self {
            kubeconfig,
            logs,
            ns: env.ns.clone(),
            api_url: env.sim.base_url(),
            processes: Vec::new(),
            started: 0,
        };
        replicas.spawn();
        replicas.spawn();
        replicas
    }

    /// Starts one more replica; its output goes to `<logs>/operator-<n>.log`.
    fn spawn(&mut self) {
        let identity = format!("replica-{}", self.started);
        self.started += 1;
        let log = std::fs::File::create(self.logs.join(format!("operator-{identity}.log")))
            .expect("an operator log file");
        let log2 = log.try_clone().expect("an operator log file");
        let child = operator_process::replica_command(
            &self.kubeconfig,
            &self.ns,
            &self.api_url,
            operator_env::CREDENTIALS_SECRET,
            LEASE_NAME,
            &identity,
        )
        .args(["--resync-period=5s"])
        .args(["--rate-limit=200", "--rate-burst=50", "--api-timeout=2s"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .expect("the operator starts");
        self.processes.push((identity, child));
    }

    /// SIGKILLs the replica named `identity`, or a random one, and starts a
    /// replacement after `pause`. Returns whether the leader was killed.
    async fn kill(&mut self, leader: Option<String>, rng: &mut StdRng, pause: Duration) -> bool {
        let index = leader
            .as_ref()
            .and_then(|l| self.processes.iter().position(|(id, _)| id == l))
            .unwrap_or_else(|| rng.random_range(0..self.processes.len()));
        let (identity, mut child) = self.processes.remove(index);
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("the killed replica is reaped");
        tokio::time::sleep(pause).await;
        self.spawn();
        leader.as_deref() == Some(identity.as_str())
    }

    /// Restarts replicas that exited on their own; returns how many did.
    fn restart_exited(&mut self) -> u64 {
        let before = self.processes.len();
        self.processes
            .retain_mut(|(_, child)| matches!(child.try_wait(), Ok(None)));
        let exited = (before - self.processes.len()) as u64;
        for _ in 0..exited {
            self.spawn();
        }
        exited
    }

    async fn stop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.processes.clear();
    }
}

/// The replica holding the Lease, if any.
async fn leader(env: &OperatorEnv) -> Option<String> {
    let leases: kube::Api<Lease> = env.api();
    leases
        .get_opt(LEASE_NAME)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

/// Compares Kubernetes, the plans and the simulator; `Ok` when converged.
async fn check(
    env: &OperatorEnv,
    rooms: &BTreeMap<String, RoomPlan>,
    themes: &BTreeMap<String, (String, bool)>,
) -> Report {
    let mut report = Report::default();
    let k_rooms: BTreeMap<String, MeetingRoom> = env
        .api::<MeetingRoom>()
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.metadata.name.clone().unwrap_or_default(), r))
        .collect();
    let k_themes: BTreeMap<String, MeetingTheme> = env
        .api::<MeetingTheme>()
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.metadata.name.clone().unwrap_or_default(), t))
        .collect();
    let remote_rooms = env.sim.rooms(&env.app.application_id);
    let remote_themes = env.sim.themes(&env.app.application_id);
    let now = jiff::Timestamp::now();

    // Themes.
    let mut theme_ids = BTreeMap::new();
    for (name, (brand, deleted)) in themes {
        let theme_name = format!("{}-{name}", env.ns);
        let remote: Vec<_> = remote_themes
            .iter()
            .filter(|t| t.theme_name == theme_name)
            .collect();
        if remote.len() > 1 {
            report.duplicates += remote.len() - 1;
        }
        if *deleted {
            if k_themes.contains_key(name) {
                report.stuck_finalizers += 1;
                report.problems.push(format!("theme {name} not gone"));
            }
            if !remote.is_empty() {
                report.policy_violations += 1;
                report
                    .policy_problems
                    .push(format!("theme {name} (ForceDelete) still in the API"));
            }
            continue;
        }
        report.live_themes += 1;
        let Some(theme) = k_themes.get(name) else {
            report.problems.push(format!("theme {name} missing"));
            continue;
        };
        let status = theme.status.as_ref();
        let id = status.and_then(|s| s.theme_id.clone()).unwrap_or_default();
        if !has_condition(status.map(|s| &s.conditions[..]), "Ready", "True", "Ready")
            || status.and_then(|s| s.observed_generation) != theme.metadata.generation
        {
            report
                .problems
                .push(format!("theme {name} not Ready/current"));
        }
        match remote.iter().find(|t| t.id.to_string() == id) {
            Some(t) if t.brand_text == *brand => {}
            Some(t) => report
                .problems
                .push(format!("theme {name}: remote brand {:?}", t.brand_text)),
            None => report
                .problems
                .push(format!("theme {name}: no remote theme with id {id:?}")),
        }
        theme_ids.insert(name.clone(), id);
    }

    // Rooms.
    let mut by_name: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for remote in &remote_rooms {
        by_name
            .entry(remote.display_name.as_str())
            .or_default()
            .push(remote);
    }
    let ours = format!("soak-{}-", env.ns);
    let planned: BTreeSet<&str> = rooms.values().map(|p| p.display_name.as_str()).collect();
    for (display_name, remotes) in &by_name {
        if !display_name.starts_with(&ours) {
            continue;
        }
        if remotes.len() > 1 {
            report.duplicates += remotes.len() - 1;
            report.problems.push(format!(
                "{} remote rooms named {display_name}",
                remotes.len()
            ));
        }
        if !planned.contains(display_name) {
            report.leaks += remotes.len();
        }
    }
    for (name, plan) in rooms {
        let remotes = by_name
            .get(plan.display_name.as_str())
            .cloned()
            .unwrap_or_default();
        if plan.deleted {
            if k_rooms.contains_key(name) {
                report.stuck_finalizers += 1;
                report.problems.push(format!("room {name} not gone"));
            }
            // Orphan leaves the room; Expire makes it expire at the earliest.
            if plan.expire_on_delete {
                for r in &remotes {
                    if !r.expired && r.expires_at > now + jiff::SignedDuration::from_mins(20) {
                        report.policy_violations += 1;
                        report.policy_problems.push(format!(
                            "deleted room {name} (Expire) still expires at {}",
                            r.expires_at
                        ));
                    }
                }
            }
            continue;
        }
        report.live_rooms += 1;
        let Some(room) = k_rooms.get(name) else {
            report.problems.push(format!("room {name} missing"));
            continue;
        };
        let status = room.status.as_ref();
        if !has_condition(status.map(|s| &s.conditions[..]), "Ready", "True", "Ready")
            || status.and_then(|s| s.observed_generation) != room.metadata.generation
        {
            let reason = status
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                .map(|c| format!("{}: {}", c.reason, c.message))
                .unwrap_or_default();
            report
                .problems
                .push(format!("room {name} not Ready/current ({reason})"));
            continue;
        }
        let id = status
            .and_then(|s| s.room_id.as_deref())
            .unwrap_or_default()
            .to_owned();
        let Some(remote) = remotes.iter().find(|r| r.id.to_string() == id) else {
            report
                .problems
                .push(format!("room {name}: no remote room with id {id:?}"));
            continue;
        };
        if remotes.len() == 1 && remote.id.to_string() != id {
            report.leaks += 1;
        }
        let level = serde_json::to_value(remote.join_approval_level).unwrap_or_default();
        if level != json!(plan.level) {
            report.problems.push(format!(
                "room {name}: remote level {level}, wanted {}",
                plan.level
            ));
        }
        let want_theme = plan.theme.as_ref().and_then(|t| theme_ids.get(t)).cloned();
        let have_theme = remote.theme_id.map(|t| t.to_string());
        if want_theme != have_theme {
            report.problems.push(format!(
                "room {name}: remote theme {have_theme:?}, wanted {want_theme:?}"
            ));
        }
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_soak_converges_without_duplicates_leaks_or_stuck_finalizers() {
    let target_rooms = env_number("SOAK_ROOMS", 40) as usize;
    let soak = Duration::from_secs(env_number("SOAK_SECONDS", 40));
    let converge_limit = Duration::from_secs(env_number("SOAK_CONVERGE_SECONDS", 120));
    let seed = env_number("SOAK_SEED", 8);
    let apiserver_restarts = env_number("SOAK_APISERVER_RESTARTS", 1);
    let mut rng = StdRng::seed_from_u64(seed);
    let cp = support::control_plane().await;
    let env = OperatorEnv::new("chaos", |_| {}).await;
    let mut replicas = Replicas::new(&env, cp.kubeconfig_path().to_path_buf(), cp.logs_dir());
    let mut tally = Tally::default();
    // kube-apiserver restarts, spread over the soak's middle.
    let mut restarts_at: Vec<Duration> = (1..=apiserver_restarts)
        .map(|i| soak.mul_f64(i as f64 / (apiserver_restarts + 1) as f64 * 0.9))
        .rev()
        .collect();

    // Themes: two that stay (Delete), one deleted mid-soak (ForceDelete),
    // one created mid-soak.
    let mut themes: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (name, policy) in [("t0", "Delete"), ("t1", "Delete"), ("t2", "ForceDelete")] {
        env.create::<MeetingTheme>(theme_manifest(&env, name, "Brand 0", policy))
            .await
            .unwrap();
        themes.insert(name.into(), ("Brand 0".into(), false));
    }

    // Faults for the whole soak.
    env.sim.faults().set_error_rate(0.1);
    let standing = [
        FaultSpec::new("createRoom", FaultKind::CommitThenDrop).probability(0.15),
        FaultSpec::new("createTheme", FaultKind::CommitThenDrop).probability(0.3),
        FaultSpec::new("createRoom", FaultKind::CommitThenBadGateway).probability(0.05),
        FaultSpec::new("updateRoom", FaultKind::Timeout).probability(0.03),
        FaultSpec::new("getRooms", FaultKind::Timeout).probability(0.03),
        FaultSpec::new("updateRoom", FaultKind::CommitThenDrop).probability(0.05),
    ];
    for f in standing {
        env.sim.faults().add(f);
    }

    let mut rooms: BTreeMap<String, RoomPlan> = BTreeMap::new();
    let started = Instant::now();
    let create_every = soak.mul_f64(0.6) / target_rooms.max(1) as u32;
    let mut next_create = Instant::now();
    let mut next_kill = Instant::now() + Duration::from_secs(rng.random_range(3..8));
    let mut next_burst = Instant::now() + Duration::from_secs(2);
    let mut latency_until: Option<Instant> = None;
    let mut next_latency = Instant::now() + Duration::from_secs(4);
    let mut next_change = Instant::now() + Duration::from_secs(1);
    let mut theme_changed = false;
    while started.elapsed() < soak {
        let now = Instant::now();
        if rooms.len() < target_rooms && now >= next_create {
            let i = rooms.len();
            let name = format!("r{i}");
            let plan = RoomPlan {
                display_name: format!("soak-{}-{i}", env.ns),
                theme: match i % 4 {
                    0 => None,
                    1 => Some("t0".into()),
                    2 => Some("t1".into()),
                    // t2 is deleted mid-soak; later rooms use t3.
                    _ if theme_changed => Some("t3".into()),
                    _ => Some("t2".into()),
                },
                level: LEVELS[i % 3],
                expire_on_delete: i.is_multiple_of(2),
                deleted: false,
            };
            env.create::<MeetingRoom>(room_manifest(&name, &plan))
                .await
                .unwrap();
            rooms.insert(name, plan);
            tally.created += 1;
            next_create = now + create_every;
        }
        if now >= next_change && !rooms.is_empty() {
            let live: Vec<String> = rooms
                .iter()
                .filter(|(_, p)| !p.deleted)
                .map(|(n, _)| n.clone())
                .collect();
            let name = live[rng.random_range(0..live.len())].clone();
            if tally.deleted < (target_rooms as u64) / 4 && rng.random_bool(0.15) {
                env.delete::<MeetingRoom>(&name).await;
                rooms.get_mut(&name).unwrap().deleted = true;
                tally.deleted += 1;
            } else {
                let plan = rooms.get_mut(&name).unwrap();
                plan.level = LEVELS[rng.random_range(0..3)];
                let theme = ["t0", "t1"][rng.random_range(0..2)];
                plan.theme = Some(theme.into());
                env.patch_room_spec(
                    &name,
                    json!({"joinApprovalLevel": plan.level, "themeRef": {"name": theme}}),
                )
                .await;
                tally.updated += 1;
            }
            next_change = now + Duration::from_millis(rng.random_range(100..400));
        }
        if !theme_changed && started.elapsed() > soak / 2 {
            // Mid-soak: t2 goes (its rooms fall back), t3 comes, t0 changes.
            for (name, plan) in rooms.iter_mut() {
                if plan.theme.as_deref() == Some("t2") {
                    plan.theme = Some("t1".into());
                    if !plan.deleted {
                        env.patch_room_spec(name, json!({"themeRef": {"name": "t1"}}))
                            .await;
                        tally.updated += 1;
                    }
                }
            }
            env.delete::<MeetingTheme>("t2").await;
            themes.get_mut("t2").unwrap().1 = true;
            env.create::<MeetingTheme>(theme_manifest(&env, "t3", "Brand 3", "Delete"))
                .await
                .unwrap();
            themes.insert("t3".into(), ("Brand 3".into(), false));
            env.api::<MeetingTheme>()
                .patch(
                    "t0",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"brandText": "Brand 1"}})),
                )
                .await
                .unwrap();
            themes.get_mut("t0").unwrap().0 = "Brand 1".into();
            theme_changed = true;
        }
        if now >= next_burst {
            env.sim.faults().add(
                FaultSpec::new(
                    "*",
                    FaultKind::RateLimited {
                        retry_after_secs: 1,
                    },
                )
                .times(rng.random_range(5..25)),
            );
            tally.rate_limit_bursts += 1;
            next_burst = now + Duration::from_secs(rng.random_range(3..7));
        }
        if now >= next_latency {
            env.sim.faults().set_latency(Some(Latency {
                fixed_ms: 200,
                jitter_ms: 1500,
            }));
            latency_until = Some(now + Duration::from_secs(2));
            tally.latency_spikes += 1;
            next_latency = now + Duration::from_secs(rng.random_range(5..10));
        }
        if latency_until.is_some_and(|t| now >= t) {
            env.sim.faults().set_latency(None);
            latency_until = None;
        }
        if now >= next_kill {
            // Mostly the leader, so that kills land in the middle of work.
            let target = if rng.random_bool(0.7) {
                leader(&env).await
            } else {
                None
            };
            let pause = Duration::from_millis(rng.random_range(0..1500));
            if replicas.kill(target, &mut rng, pause).await {
                tally.leader_kills += 1;
            }
            tally.kills += 1;
            next_kill = Instant::now() + Duration::from_secs(rng.random_range(3..8));
        }
        tally.exits_restarted += replicas.restart_exited();
        if restarts_at
            .last()
            .is_some_and(|at| started.elapsed() >= *at)
        {
            restarts_at.pop();
            let down_for = Duration::from_millis(rng.random_range(500..3000));
            let down = tokio::task::spawn_blocking(move || cp.restart_apiserver(down_for))
                .await
                .expect("the restart task")
                .unwrap_or_else(|e| panic!("restarting kube-apiserver: {e}"));
            tally.apiserver_restarts += 1;
            tally.apiserver_down += down;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The soak room count is reached even when SOAK_SECONDS is short.
    while rooms.len() < target_rooms {
        let i = rooms.len();
        let plan = RoomPlan {
            display_name: format!("soak-{}-{i}", env.ns),
            theme: None,
            level: LEVELS[i % 3],
            expire_on_delete: i.is_multiple_of(2),
            deleted: false,
        };
        env.create::<MeetingRoom>(room_manifest(&format!("r{i}"), &plan))
            .await
            .unwrap();
        rooms.insert(format!("r{i}"), plan);
        tally.created += 1;
    }

    // Faults stop; replicas that exited are started again meanwhile.
    let faults_snapshot = env.sim.counters();
    env.sim.faults().clear();
    let stopped = Instant::now();
    let mut last = Report::default();
    let mut converged = None;
    while stopped.elapsed() < converge_limit {
        tally.exits_restarted += replicas.restart_exited();
        last = check(&env, &rooms, &themes).await;
        if last.problems.is_empty() && last.duplicates == 0 && last.leaks == 0 {
            converged = Some(stopped.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let events: kube::Api<k8s_openapi::api::events::v1::Event> = env.api();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for e in events
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        *reasons.entry(e.reason.unwrap_or_default()).or_default() +=
            e.deprecated_count.unwrap_or(1).max(1) as u64;
    }
    let status_5xx: u64 = faults_snapshot
        .by_status
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "soak: {} rooms and 4 themes over {soak:?} (seed {seed}): {} created, {} updates, {} room deletions, \
         1 theme deleted, 1 theme created mid-soak",
        target_rooms, tally.created, tally.updated, tally.deleted
    );
    eprintln!(
        "faults injected: {} API requests; 5xx answered {status_5xx}; 429 answered {}; \
         connections dropped or hung {}; {} 429 bursts; {} latency spikes; \
         {} operator SIGKILLs ({} of the leader); {} kube-apiserver restarts (down {:.1}s in all, \
         every watch cut)",
        faults_snapshot.total,
        faults_snapshot.by_status.get(&429).copied().unwrap_or(0),
        faults_snapshot.dropped_connections,
        tally.rate_limit_bursts,
        tally.latency_spikes,
        tally.kills,
        tally.leader_kills,
        tally.apiserver_restarts,
        tally.apiserver_down.as_secs_f64(),
    );
    eprintln!(
        "replicas that exited on their own and were restarted: {} (operator logs in {})",
        tally.exits_restarted,
        cp.logs_dir().display()
    );
    eprintln!(
        "recoveries (events): CreateRecovered {}, Recreated {}, DriftCorrected {}; all events: {reasons:?}",
        reasons.get("CreateRecovered").copied().unwrap_or(0),
        reasons.get("Recreated").copied().unwrap_or(0),
        reasons.get("DriftCorrected").copied().unwrap_or(0),
    );
    eprintln!(
        "after faults stopped: converged in {}; {} live rooms, {} live themes; duplicates {}, leaks {}, \
         stuck finalizers {}, deletion-policy violations {}",
        converged.map_or_else(
            || format!("NOT within {converge_limit:?}"),
            |d| format!("{:.1}s", d.as_secs_f64())
        ),
        last.live_rooms,
        last.live_themes,
        last.duplicates,
        last.leaks,
        last.stuck_finalizers,
        last.policy_violations
    );
    replicas.stop().await;
    assert!(
        converged.is_some(),
        "not converged within {converge_limit:?}:\n{}",
        last.problems.join("\n")
    );
    assert_eq!(last.duplicates, 0);
    assert_eq!(last.leaks, 0);
    assert_eq!(last.stuck_finalizers, 0);
    for problem in &last.policy_problems {
        eprintln!("deletion policy not applied: {problem}");
    }
    // A room deleted while its create is in doubt (committed, answer lost,
    // not yet recovered) is looked up by its finalizer and expired too.
    // SOAK_STRICT_DELETION=0 reports violations without failing.
    if std::env::var("SOAK_STRICT_DELETION").map_or(true, |v| v != "0") {
        assert_eq!(
            last.policy_violations,
            0,
            "{}",
            last.policy_problems.join("\n")
        );
    }
}
