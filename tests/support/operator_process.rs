//! `meetings-operator run` as a process of its own, one replica of a
//! leader-elected installation, for tests that kill and restart it.

use std::path::Path;

/// The command for one replica: it watches `namespace` through `kubeconfig`,
/// calls the API at `api_url` with the credentials Secret
/// `namespace/credentials`, serves metrics on a free port, and takes part in
/// leader election on the Lease `lease` as `identity`, with short timings
/// (3 s lease, 1 s renew, 2 s deadline, 500 ms retry). Callers add their own
/// flags, environment and output; the process dies with its handle.
pub fn replica_command(
    kubeconfig: &Path,
    namespace: &str,
    api_url: &str,
    credentials: &str,
    lease: &str,
    identity: &str,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_meetings-operator"));
    command
        .arg("run")
        .args(["--namespace", namespace, "--api-url", api_url])
        .args([
            "--default-credentials",
            &format!("{namespace}/{credentials}"),
        ])
        .args(["--metrics-addr", "127.0.0.1:0", "--credentials-recheck=1s"])
        .args(["--lease-namespace", namespace, "--lease-name", lease])
        .args(["--lease-identity", identity])
        .args(["--lease-duration=3s", "--lease-renew-interval=1s"])
        .args(["--lease-renew-deadline=2s", "--lease-retry-period=500ms"])
        .env("KUBECONFIG", kubeconfig)
        .env_remove("POD_NAME")
        .env_remove("POD_NAMESPACE")
        .kill_on_drop(true);
    command
}
