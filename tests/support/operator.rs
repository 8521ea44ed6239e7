//! An operator under test: a namespace on the shared control plane, a Meetings
//! API simulator over real HTTP (in the world `MEETINGS_SIM_WORLD` picks, see
//! [`crate::support::world_behavior`]), a credentials Secret, and the operator
//! itself running in-process against both.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource};
use meetings_operator::app::{RunOptions, run_supervised};
use meetings_operator::controller::Settings;
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::{
    ClientConfig, Credentials, MeetingsClient, NoopObserver, RateLimit, RetryPolicy,
};
use meetings_operator::services::SecretKey;
use meetings_operator::telemetry::Telemetry;
use meetings_simulator::{AppCredentials, RunningSimulator, Simulator, SimulatorConfig};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Name of the credentials Secret every environment creates.
pub const CREDENTIALS_SECRET: &str = "meetings-credentials";

/// One operator with its own namespace, simulator and application.
pub struct OperatorEnv {
    /// Cluster-admin client.
    pub kube: kube::Client,
    /// The test's namespace.
    pub ns: String,
    /// The simulator.
    pub sim: RunningSimulator,
    /// The application the operator uses.
    pub app: AppCredentials,
    /// Options the operator runs with.
    pub options: RunOptions,
    /// The operator's metrics and health, kept across restarts.
    pub telemetry: Telemetry,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// Options for a test operator: fast resync, generous rate limit, quick retries.
pub fn test_options(ns: &str, base_url: String) -> RunOptions {
    RunOptions {
        namespaces: vec![ns.to_owned()],
        label_selector: None,
        settings: Settings {
            resync: Duration::from_secs(3),
            resync_jitter: 0.1,
            concurrency: 8,
            controller_name: "meetings-operator".into(),
        },
        client: ClientConfig {
            base_url,
            request_timeout: Duration::from_secs(2),
            rate_limit: RateLimit {
                per_second: 200.0,
                burst: 50,
            },
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(1),
            },
            ..ClientConfig::default()
        },
        default_credentials: Some(SecretKey {
            namespace: ns.to_owned(),
            name: CREDENTIALS_SECRET.to_owned(),
        }),
        credentials_recheck: Duration::from_secs(1),
        observer: Arc::new(NoopObserver),
        callbacks: None,
    }
}

impl OperatorEnv {
    /// A namespace, a simulator (adjusted by `configure_sim`) and the
    /// credentials Secret; the operator is not started yet.
    pub async fn new(prefix: &str, configure_sim: impl FnOnce(&mut SimulatorConfig)) -> Self {
        let cp = crate::support::control_plane().await;
        let kube = cp.client().await;
        let ns = cp.new_namespace(prefix).await;
        let mut config = SimulatorConfig {
            behavior: crate::support::world_behavior(),
            ..SimulatorConfig::default()
        };
        configure_sim(&mut config);
        let sim = Simulator::builder()
            .with_config(config)
            .start()
            .await
            .expect("simulator starts");
        let app = sim.default_application().expect("default application");
        let env = Self {
            options: test_options(&ns, sim.base_url()),
            telemetry: Telemetry::default(),
            kube,
            ns,
            sim,
            app,
            running: None,
        };
        env.write_credentials(&env.app.application_id, &env.app.private_key_pem)
            .await;
        env
    }

    /// The same environment with the operator started.
    pub async fn started(prefix: &str) -> Self {
        let mut env = Self::new(prefix, |_| {}).await;
        env.start_operator();
        env
    }

    /// (Re)writes the credentials Secret.
    pub async fn write_credentials(&self, application_id: &str, private_key_pem: &str) {
        let secret =
            crate::support::credentials_secret(CREDENTIALS_SECRET, application_id, private_key_pem);
        let api: Api<Secret> = Api::namespaced(self.kube.clone(), &self.ns);
        api.patch(
            CREDENTIALS_SECRET,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("credentials Secret written");
    }

    /// Starts the operator in-process.
    pub fn start_operator(&mut self) {
        assert!(self.running.is_none(), "operator already running");
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let (stop, stopped) = oneshot::channel::<()>();
        let kube = self.kube.clone();
        let options = self.options.clone();
        let telemetry = self.telemetry.clone();
        let handle = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            run_supervised(kube, options, &telemetry, shutdown, std::future::pending())
                .await
                .expect("operator runs");
        });
        self.running = Some((stop, handle));
    }

    /// Stops the operator gracefully and waits for it.
    pub async fn stop_operator(&mut self) {
        if let Some((stop, handle)) = self.running.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(20), handle).await;
        }
    }

    /// Ends the operator at once, wherever it is (as a crash would).
    pub async fn kill_operator(&mut self) {
        if let Some((_, handle)) = self.running.take() {
            handle.abort();
            let _ = handle.await;
        }
    }

    /// The value of one sample of the operator's metrics, e.g.
    /// `meetings_operator_reconciles_total{kind="MeetingRoom",result="success"}`;
    /// 0 when it has not been recorded.
    pub fn metric(&self, sample: &str) -> f64 {
        let text = self.telemetry.metrics.render().expect("metrics render");
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().expect("a number"))
    }

    /// A Meetings API client for the test's application.
    pub fn api_client(&self) -> MeetingsClient {
        let credentials = Credentials::new(
            &self.app.application_id,
            self.app.private_key_pem.as_bytes(),
        )
        .expect("credentials");
        MeetingsClient::new(
            ClientConfig {
                base_url: self.sim.base_url(),
                ..ClientConfig::default()
            },
            credentials,
        )
        .expect("client")
    }

    /// The typed API of `K` in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.kube.clone(), &self.ns)
    }

    /// Creates an object from JSON (`metadata.namespace` is filled in).
    pub async fn create<K>(&self, object: serde_json::Value) -> Result<K, kube::Error>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let object: K = serde_json::from_value(object).expect("object parses");
        self.api::<K>()
            .create(&PostParams::default(), &object)
            .await
    }

    /// Merge-patches a room's spec.
    pub async fn patch_room_spec(&self, name: &str, spec: serde_json::Value) -> MeetingRoom {
        self.api::<MeetingRoom>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "spec": spec })),
            )
            .await
            .expect("room patched")
    }

    /// Deletes an object by name.
    pub async fn delete<K>(&self, name: &str)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete accepted");
    }

    /// Waits until `check` accepts the named object.
    pub async fn wait_for<K, F>(&self, name: &str, what: &str, timeout: Duration, check: F) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
        F: Fn(&K) -> bool,
    {
        let api = self.api::<K>();
        let mut last = None;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(object)) = api.get_opt(name).await {
                if check(&object) {
                    return object;
                }
                last = Some(object);
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {name} to be {what}; last seen: {last:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the named object is gone.
    pub async fn wait_gone<K>(&self, name: &str, timeout: Duration)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api = self.api::<K>();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match api.get_opt(name).await {
                Ok(None) => return,
                Ok(Some(object)) if tokio::time::Instant::now() > deadline => {
                    panic!("{name} still exists after {timeout:?}: {object:#?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits for a room's condition `Ready` to have `status` and `reason`.
    pub async fn wait_room(&self, name: &str, status: &str, reason: &str) -> MeetingRoom {
        self.wait_for::<MeetingRoom, _>(
            name,
            &format!("Ready={status} ({reason})"),
            Duration::from_secs(60),
            |room| {
                has_condition(
                    room.status.as_ref().map(|s| &s.conditions[..]),
                    "Ready",
                    status,
                    reason,
                )
            },
        )
        .await
    }

    /// Waits for a theme's condition `type_` to have `status` and `reason`.
    pub async fn wait_theme(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
    ) -> MeetingTheme {
        self.wait_for::<MeetingTheme, _>(
            name,
            &format!("{type_}={status} ({reason})"),
            Duration::from_secs(60),
            |theme| {
                has_condition(
                    theme.status.as_ref().map(|s| &s.conditions[..]),
                    type_,
                    status,
                    reason,
                )
            },
        )
        .await
    }

    /// Events in the namespace about `name`, as `reason: note` lines.
    pub async fn events_for(&self, name: &str) -> Vec<String> {
        let api: Api<k8s_openapi::api::events::v1::Event> = self.api();
        api.list(&Default::default())
            .await
            .expect("events listed")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                format!(
                    "{}: {}",
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default()
                )
            })
            .collect()
    }
}

/// Whether the condition `type_` has `status` and `reason`.
pub fn has_condition(
    conditions: Option<&[meetings_operator::crd::conditions::Condition]>,
    type_: &str,
    status: &str,
    reason: &str,
) -> bool {
    conditions.is_some_and(|conditions| {
        conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status && c.reason == reason)
    })
}

/// The message of condition `type_`.
pub fn condition_message(
    conditions: Option<&[meetings_operator::crd::conditions::Condition]>,
    type_: &str,
) -> String {
    conditions
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.message.to_string())
        .unwrap_or_default()
}

impl Drop for OperatorEnv {
    fn drop(&mut self) {
        if let Some((_, handle)) = self.running.take() {
            handle.abort();
        }
    }
}
