//! Wires the two controllers together for a set of namespaces and runs them.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::backoff::ObjectBackoff;
use super::credentials::{CredentialStore, SecretKey};
use super::events::EventPublisher;
use super::snapshot::RoomSnapshots;
use super::status_cache::{LastObserved, StatusCache};
use super::{Context, HOST_URL_LABEL, Settings, room, theme};
use crate::crd::{MeetingRoom, MeetingTheme};
use crate::meetings::{ApiObserver, ClientConfig};

/// Everything `run` needs.
#[derive(Clone)]
pub struct RunOptions {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Only objects with these labels (a Kubernetes label selector).
    pub label_selector: Option<String>,
    /// Controller behaviour.
    pub settings: Settings,
    /// Meetings API client settings.
    pub client: ClientConfig,
    /// Credentials Secret for objects without `credentialsRef`.
    pub default_credentials: Option<SecretKey>,
    /// How long a credentials Secret is trusted before it is read again.
    pub credentials_recheck: Duration,
    /// Receives every Meetings API call.
    pub observer: Arc<dyn ApiObserver>,
}

/// Shared parts built once for all namespaces.
struct Shared {
    credentials: Arc<CredentialStore>,
    snapshots: Arc<RoomSnapshots>,
    backoff: Arc<ObjectBackoff>,
}

/// Runs the controllers until `shutdown` resolves, then lets in-flight
/// reconciles finish.
pub async fn run(
    kube: kube::Client,
    options: RunOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), crate::meetings::ApiError> {
    let shared = Shared {
        credentials: Arc::new(CredentialStore::new(
            kube.clone(),
            options.default_credentials.clone(),
            options.client.clone(),
            options.observer.clone(),
            options.credentials_recheck,
        )?),
        snapshots: Arc::new(RoomSnapshots::default()),
        backoff: Arc::new(ObjectBackoff::new(
            Duration::from_secs(1),
            Duration::from_secs(300),
        )),
    };
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    let shutdown = futures::future::FutureExt::shared(shutdown);
    let mut tasks = Vec::new();
    for scope in scopes {
        let (theme_task, room_task) =
            controllers(&kube, &options, &shared, scope, shutdown.clone());
        tasks.push(tokio::spawn(theme_task));
        tasks.push(tokio::spawn(room_task));
    }
    for task in tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, "controller task failed");
        }
    }
    Ok(())
}

fn api<K>(kube: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(kube.clone(), ns),
        None => Api::all(kube.clone()),
    }
}

fn controllers(
    kube: &kube::Client,
    options: &RunOptions,
    shared: &Shared,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) -> (
    impl std::future::Future<Output = ()> + Send + 'static,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let ns = namespace.as_deref();
    let mut watch = watcher::Config::default().any_semantic();
    if let Some(selector) = &options.label_selector {
        watch = watch.labels(selector);
    }
    let controller_config = ControllerConfig::default().concurrency(options.settings.concurrency);

    let theme_controller = Controller::new(api::<MeetingTheme>(kube, ns), watch.clone())
        .with_config(controller_config.clone());
    let room_controller =
        Controller::new(api::<MeetingRoom>(kube, ns), watch.clone()).with_config(controller_config);
    let themes = theme_controller.store();
    let rooms = room_controller.store();

    let context = Arc::new(Context {
        kube: kube.clone(),
        credentials: shared.credentials.clone(),
        snapshots: shared.snapshots.clone(),
        backoff: shared.backoff.clone(),
        events: EventPublisher::new(kube.clone(), &options.settings.controller_name),
        settings: options.settings.clone(),
        themes: themes.clone(),
        rooms: rooms.clone(),
        room_statuses: StatusCache::new(Duration::from_secs(60)),
        theme_statuses: StatusCache::new(Duration::from_secs(60)),
        observed: LastObserved::default(),
    });

    let rooms_for_mapper = rooms.clone();
    let room_task = room_controller
        .owns(
            api::<Secret>(kube, ns),
            watcher::Config::default().labels(HOST_URL_LABEL),
        )
        .watches(
            api::<MeetingTheme>(kube, ns),
            watch.clone(),
            move |theme: MeetingTheme| {
                let name = theme.name_any();
                let namespace = theme.namespace();
                rooms_for_mapper
                    .state()
                    .into_iter()
                    .filter(|room| room.namespace() == namespace)
                    .filter(|room| room.spec.theme_ref.as_ref().is_some_and(|r| r.name == name))
                    .map(|room| ObjectRef::from(room.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(room::reconcile, room::error_policy, context.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "room reconcile did not complete");
            }
        });

    let theme_task = theme_controller
        .watches(api::<MeetingRoom>(kube, ns), watch, |room: MeetingRoom| {
            let namespace = room.namespace().unwrap_or_default();
            room.spec
                .theme_ref
                .map(|r| ObjectRef::<MeetingTheme>::new(&r.name).within(&namespace))
        })
        .graceful_shutdown_on(shutdown)
        .run(theme::reconcile, theme::error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "theme reconcile did not complete");
            }
        });
    (theme_task, room_task)
}
