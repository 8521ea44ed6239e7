//! Runs a test binary in namespaces of its own, so that a node's changes to
//! the machine (network devices, netfilter rules, mounts, processes) vanish
//! with it, and cleans up what namespaces cannot hold (cgroups, kernel
//! sysctls, directories on the host's file system).
//!
//! Three roles of the same executable, picked by [`ROLE_VAR`]:
//! * **outer** (no role, in the machine's namespaces): records the sysctls
//!   a kubelet sets, creates the node's cgroup root in every cgroup v1
//!   hierarchy and the directories that will be covered by tmpfs, runs
//!   `unshare --net --mount --pid --fork --mount-proc` on itself as **init**,
//!   then restores and removes all of that and checks that nothing is left;
//! * **init** (pid 1 of the new pid namespace): runs itself as **tests** and
//!   reaps every orphan until that child exits; when it exits, the kernel
//!   kills every process left in the namespace (containerd, its shims, the
//!   containers, kubelet);
//! * **tests**: covers the host directories a node writes to, and /tmp,
//!   with tmpfs,
//!   sets up the node's network (loopback, the node's own address, no route
//!   off the machine) and runs the tests.

// Process control (sessions, signals, locks, reaping) goes through libc.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Environment variable naming the role of this process.
pub const ROLE_VAR: &str = "MEETINGS_NODE_ROLE";
/// Environment variable naming the cgroup root of this run's node.
pub const CGROUP_VAR: &str = "MEETINGS_NODE_CGROUP";

/// Kernel settings (not namespaced) that kubelet changes at start-up.
const KUBELET_SYSCTLS: [&str; 3] = [
    "/proc/sys/vm/overcommit_memory",
    "/proc/sys/kernel/panic",
    "/proc/sys/kernel/panic_on_oops",
];

/// Host directories a node writes to whatever its configuration says; in
/// the namespace each is covered by a tmpfs.
pub const MASKED_DIRS: [&str; 6] = [
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/var/log/pods",
    "/var/log/containers",
    "/run/containerd",
    "/run/netns",
];

/// Prefix of every node cgroup root: `/<prefix><pid>` in each hierarchy.
pub const CGROUP_PREFIX: &str = "meetings-node-";

/// The role of this process.
pub enum Role {
    Outer,
    Init,
    Tests,
}

pub fn role() -> Role {
    match std::env::var(ROLE_VAR).as_deref() {
        Ok("init") => Role::Init,
        Ok("tests") => Role::Tests,
        _ => Role::Outer,
    }
}

/// The cgroup v1 hierarchies mounted under /sys/fs/cgroup (not the unified
/// one): kubelet creates its pod cgroups in each.
pub fn cgroup_v1_hierarchies() -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 2 && fields[2] == "cgroup").then(|| PathBuf::from(fields[1]))
        })
        .collect()
}

/// Node cgroup roots in any hierarchy whose run is over: its outer process
/// (the pid in the name) is gone, or it is this process.
pub fn ended_node_cgroups() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for hierarchy in cgroup_v1_hierarchies() {
        if let Ok(entries) = std::fs::read_dir(&hierarchy) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix(CGROUP_PREFIX) else {
                    continue;
                };
                let own = pid == std::process::id().to_string();
                if own || !Path::new("/proc").join(pid).exists() {
                    found.push(entry.path());
                }
            }
        }
    }
    found
}

/// Removes a cgroup tree, deepest first; retries while its last processes
/// are being reaped.
fn remove_cgroup_tree(root: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut dirs = Vec::new();
        collect_dirs(root, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        let mut last_error = None;
        for dir in &dirs {
            if let Err(e) = std::fs::remove_dir(dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                last_error = Some(format!("removing cgroup {}: {e}", dir.display()));
            }
        }
        match last_error {
            None => return Ok(()),
            Some(e) if Instant::now() > deadline => return Err(e),
            Some(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn collect_dirs(dir: &Path, into: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    into.push(dir.to_owned());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&entry.path(), into);
            }
        }
    }
}

/// Outer role: prepares, runs the tests isolated, cleans up, and checks
/// that the machine is as it was. Leftovers of an earlier run that was
/// killed are removed first and reported.
pub fn run_outer() -> ExitCode {
    // One node at a time on a machine: kubelet's sysctls are global.
    let lock_path = std::env::temp_dir().join("meetings-node.lock");
    let Ok(lock) = std::fs::File::create(&lock_path) else {
        eprintln!("node: cannot create {}", lock_path.display());
        return ExitCode::FAILURE;
    };
    // SAFETY: flock on a file descriptor this process owns.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        eprintln!("node: cannot lock {}", lock_path.display());
        return ExitCode::FAILURE;
    }
    let mut found_at_start = Vec::new();
    for stale in ended_node_cgroups() {
        found_at_start.push(format!("cgroup {}", stale.display()));
        if let Err(e) = remove_cgroup_tree(&stale) {
            eprintln!("node: {e}");
            return ExitCode::FAILURE;
        }
    }
    let sysctls: Vec<(&str, String)> = KUBELET_SYSCTLS
        .iter()
        .map(|path| (*path, std::fs::read_to_string(path).unwrap_or_default()))
        .collect();
    let cgroup = format!("{CGROUP_PREFIX}{}", std::process::id());
    for hierarchy in cgroup_v1_hierarchies() {
        if let Err(e) = std::fs::create_dir_all(hierarchy.join(&cgroup)) {
            eprintln!(
                "node: creating cgroup {cgroup} in {}: {e}",
                hierarchy.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let mut created_dirs = Vec::new();
    for dir in MASKED_DIRS {
        if !Path::new(dir).exists() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("node: creating {dir}: {e}");
                return ExitCode::FAILURE;
            }
            created_dirs.push(dir);
        }
    }

    let exe = std::env::current_exe().expect("the test executable's path");
    let status = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "--",
        ])
        .arg(&exe)
        .args(std::env::args_os().skip(1))
        .env(ROLE_VAR, "init")
        .env(CGROUP_VAR, format!("/{cgroup}"))
        .status();
    let isolated_ok = match status {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("node: the isolated tests ended with {status}");
            false
        }
        Err(e) => {
            eprintln!("node: running unshare (util-linux): {e}");
            false
        }
    };

    // Clean up, then prove it.
    let mut left = Vec::new();
    for (path, value) in &sysctls {
        let _ = std::fs::write(path, value);
        if std::fs::read_to_string(path).unwrap_or_default() != *value {
            left.push(format!("{path} is not restored to {}", value.trim()));
        }
    }
    for hierarchy in cgroup_v1_hierarchies() {
        if let Err(e) = remove_cgroup_tree(&hierarchy.join(&cgroup)) {
            left.push(e);
        }
    }
    for dir in created_dirs {
        if let Err(e) = std::fs::remove_dir(dir) {
            left.push(format!("{dir} (created for the run) is not removed: {e}"));
        }
    }
    left.extend(
        ended_node_cgroups()
            .iter()
            .map(|c| format!("cgroup {} is left", c.display())),
    );
    // The isolated run reports its own tests; a run that ended without
    // success counts as one failure here too, in case it could not report.
    let (mut passed, mut failed) = (0, 0);
    println!("\nrunning 3 tests");
    for (name, ok) in [
        (
            "the_run_found_nothing_an_earlier_run_left",
            found_at_start.is_empty(),
        ),
        ("the_isolated_tests_succeed", isolated_ok),
        ("the_node_leaves_nothing_behind", left.is_empty()),
    ] {
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    if !found_at_start.is_empty() {
        println!(
            "an earlier run left (now removed):\n  {}",
            found_at_start.join("\n  ")
        );
    }
    if !left.is_empty() {
        println!("left behind:\n  {}", left.join("\n  "));
    }
    let result = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 \
         filtered out"
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Init role: pid 1 of the test's pid namespace.
pub fn run_init() -> ExitCode {
    let exe = std::env::current_exe().expect("the test executable's path");
    let child = match Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(ROLE_VAR, "tests")
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("node: starting the tests: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tests_pid = child.id() as libc::pid_t;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid pointer to an int.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid == tests_pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                1
            };
            return ExitCode::from(code as u8);
        }
        if pid < 0 {
            return ExitCode::FAILURE;
        }
    }
}

/// Tests role, before any test: covers [`MASKED_DIRS`] and /tmp (where the
/// control plane and the node keep their files) with tmpfs. A checkout,
/// target directory or Kubernetes tools directory (`MEETINGS_KUBE_BIN`)
/// under /tmp stays visible at its path: it is moved aside before /tmp is
/// covered and moved back onto the tmpfs after.
pub fn mask_host_dirs() -> Result<(), String> {
    let mut kept: Vec<PathBuf> = vec![super::control_plane::repo_root()];
    for variable in ["CARGO_TARGET_DIR", "MEETINGS_KUBE_BIN"] {
        if let Some(dir) = std::env::var_os(variable) {
            kept.push(PathBuf::from(dir));
        }
    }
    kept.retain(|path| path.starts_with("/tmp"));
    // A directory inside another kept one comes with it.
    kept.sort();
    kept.dedup_by(|inner, outer| inner.starts_with(outer));
    let aside: Vec<(PathBuf, PathBuf)> = kept
        .into_iter()
        .enumerate()
        .map(|(i, path)| (PathBuf::from(format!("/run/meetings-kept-{i}")), path))
        .collect();
    for (staging, path) in &aside {
        std::fs::create_dir_all(staging)
            .map_err(|e| format!("creating {}: {e}", staging.display()))?;
        run(
            "mount",
            &[
                "--bind",
                &path.to_string_lossy(),
                &staging.to_string_lossy(),
            ],
        )?;
    }
    for dir in MASKED_DIRS.iter().chain(&["/tmp"]) {
        run("mount", &["-t", "tmpfs", "-o", "mode=0755", "tmpfs", dir])?;
    }
    for (staging, path) in &aside {
        std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        run(
            "mount",
            &[
                "--move",
                &staging.to_string_lossy(),
                &path.to_string_lossy(),
            ],
        )?;
    }
    Ok(())
}

/// Runs a command, failing with its output.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("running {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
