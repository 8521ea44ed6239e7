//! Support shared by the integration test binaries: a real Kubernetes
//! control plane (etcd, kube-apiserver, kube-controller-manager) on
//! loopback, one per test binary, shared by its tests.
//!
//! ```ignore
//! mod support;
//!
//! #[tokio::test]
//! async fn something() {
//!     let cp = support::control_plane().await;
//!     let client = cp.client().await;
//!     let ns = cp.new_namespace("something").await;
//!     // ...
//! }
//! ```
//!
//! The tools come from `scripts/kube-tools.sh` (or `$MEETINGS_KUBE_BIN`);
//! without them the tests fail with a message that says how to build them.
#![allow(dead_code)]

mod certs;
pub mod control_plane;
pub mod isolation;
pub mod node;

#[allow(unused_imports)]
pub use control_plane::{ControlPlane, client_from_kubeconfig, repo_root, tools_dir};

use meetings_simulator::Behavior;
use tokio::sync::OnceCell;

/// Environment variable that picks the simulator world of the operator-level
/// suites: `spec` (the default) or `live`.
pub const WORLD_VAR: &str = "MEETINGS_SIM_WORLD";

/// The Meetings API world the operator-level suites run against: the
/// simulator answering as the spec says, or with every quirk the live
/// service had (`MEETINGS_SIM_WORLD=live`). `scripts/test.sh` runs them in both.
pub fn world_behavior() -> Behavior {
    match std::env::var(WORLD_VAR).as_deref() {
        Err(_) | Ok("") | Ok("spec") => Behavior::default(),
        Ok("live") => Behavior::live(),
        Ok(other) => panic!("{WORLD_VAR}={other:?}: expected `spec` or `live`"),
    }
}

/// A credentials Secret `name` for an application, under the keys the
/// operator reads by default (`applicationId`, `privateKey`).
pub fn credentials_secret(
    name: &str,
    application_id: &str,
    private_key_pem: &str,
) -> k8s_openapi::api::core::v1::Secret {
    use k8s_openapi::ByteString;
    k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        data: Some(
            [
                ("applicationId", application_id),
                ("privateKey", private_key_pem),
            ]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), ByteString(value.as_bytes().to_vec())))
            .collect(),
        ),
        ..Default::default()
    }
}

/// Where `scripts/image.sh` writes the image archives (`target/images`).
pub fn images_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("images")
}

static CONTROL_PLANE: OnceCell<Result<ControlPlane, String>> = OnceCell::const_new();

/// The control plane of this test binary, started on first use.
///
/// Every `#[tokio::test]` has its own runtime, so take clients from
/// [`ControlPlane::client`] in each test rather than sharing one.
pub async fn control_plane() -> &'static ControlPlane {
    let started = CONTROL_PLANE
        .get_or_init(|| async {
            tokio::task::spawn_blocking(ControlPlane::start)
                .await
                .unwrap_or_else(|e| Err(format!("starting the control plane: {e}")))
        })
        .await;
    match started {
        Ok(cp) => cp,
        Err(e) => panic!("{e}"),
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after
/// `timeout` saying what was awaited.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
