//! The composition root: builds the shared services, wires the two
//! controllers and the callback receiver for a set of namespaces, and runs
//! them.
//!
//! Every reconcile runs in a `reconcile` span with `kind`, `namespace` and
//! `name`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Resource};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::callbacks::{self, CallbackOptions, CallbackServer, ScopeHooks};
use crate::controller::room::{Rooms, resync, shows_status};
use crate::controller::theme::logos::{self, SourceKind};
use crate::controller::theme::{self, Themes};
use crate::controller::triggers::{self, RoomWakeups, ThemeWakeups, cached};
use crate::controller::{Services, Settings, error_policy, pipeline};
use crate::crd::watched::{WatchedMeta, WatchedRoom};
use crate::crd::{HOST_URL_LABEL, MeetingRoom, MeetingRoomStatus, MeetingTheme};
use crate::meetings::{ApiObserver, ClientConfig, Priority};
use crate::services::backoff::ObjectBackoff;
use crate::services::events::EventPublisher;
use crate::services::name_index::NameIndex;
use crate::services::resync_cycle::ResyncCycle;
use crate::services::snapshot::{Freshness, RoomSnapshots};
use crate::services::status_cache::{LastObserved, StatusCache, WriteBudget};
use crate::services::theme_users::ThemeUsers;
use crate::services::{CredentialStore, SecretKey};
use crate::telemetry::{KIND_ROOM, KIND_THEME, Metrics, Phase, Telemetry};

/// The first delay after an object's reconcile fails.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest delay between two attempts of a failing object: short enough
/// that every object is tried again within a minute of an API outage's end;
/// the client's rate limiter keeps the retries from crowding the API.
const BACKOFF_MAX: Duration = Duration::from_secs(60);

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
    /// Serve Meetings callbacks (live status in `status.live`); off when `None`.
    pub callbacks: Option<CallbackOptions>,
}

/// Why the operator could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The Meetings API clients could not be set up.
    #[error(transparent)]
    Api(#[from] crate::meetings::ApiError),
    /// The callback receiver could not start.
    #[error(transparent)]
    Callbacks(#[from] crate::callbacks::SetupError),
}

/// Shared parts built once for all namespaces.
struct Shared {
    credentials: Arc<CredentialStore>,
    snapshots: Arc<RoomSnapshots>,
    backoff: Arc<ObjectBackoff>,
    events: Arc<EventPublisher>,
}

/// How [`run_supervised`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// `shutdown` resolved and the in-flight reconciles finished.
    Shutdown,
    /// `abort` resolved: the controllers were stopped at once and in-flight
    /// reconciles dropped at their next await point.
    Aborted,
}

/// Runs the controllers until `shutdown` resolves, then lets in-flight
/// reconciles finish.
pub async fn run(
    kube: kube::Client,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    run_supervised(
        kube,
        options,
        &Telemetry::default(),
        shutdown,
        std::future::pending(),
    )
    .await
    .map(|_| ())
}

/// Like [`run`], recording metrics in `telemetry` and moving its health from
/// [`Phase::Syncing`] to [`Phase::Running`] once every cache has synced.
/// When `abort` resolves (leadership was lost), every controller stops at
/// once, without finishing in-flight reconciles.
pub async fn run_supervised(
    kube: kube::Client,
    options: RunOptions,
    telemetry: &Telemetry,
    shutdown: impl Future<Output = ()> + Send + 'static,
    abort: impl Future<Output = ()> + Send,
) -> Result<Stopped, RunError> {
    let shared = Shared {
        credentials: Arc::new(CredentialStore::new(
            kube.clone(),
            options.default_credentials.clone(),
            options.client.clone(),
            options.observer.clone(),
            options.credentials_recheck,
        )?),
        snapshots: Arc::new(RoomSnapshots::default()),
        backoff: Arc::new(ObjectBackoff::new(BACKOFF_BASE, BACKOFF_MAX)),
        events: Arc::new(EventPublisher::new(
            kube.clone(),
            &options.settings.controller_name,
        )),
    };
    // Bound before the controllers start, so that rooms get its URLs.
    let callback_server = match &options.callbacks {
        Some(callbacks) => Some(CallbackServer::bind(&kube, callbacks).await?),
        None => None,
    };
    let callback_urls = callback_server.as_ref().and_then(CallbackServer::room_urls);
    let mut callback_scopes = Vec::new();
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    // Every consumer is polled again on each of its wake-ups (a controller
    // on every watch event): a token's future checks one flag, where a
    // shared copy of `shutdown` polled the signals behind it.
    let stopping = CancellationToken::new();
    telemetry.health.set(Phase::Syncing);
    let mut tasks = JoinSet::new();
    let mut synced = Vec::new();
    for scope in scopes {
        let (hooks, reconcile) = ScopeHooks::new(callback_urls.clone());
        let controllers = controllers(
            &kube,
            &options,
            &shared,
            &telemetry.metrics,
            scope,
            &stopping,
            hooks,
        );
        callback_scopes.push(callbacks::Scope {
            rooms: controllers.rooms.clone(),
            written: controllers.room_statuses.clone(),
            reconcile,
        });
        telemetry
            .metrics
            .watch_stores(controllers.themes.clone(), controllers.rooms.clone());
        let (themes_synced, themes_rx) = oneshot::channel();
        let (rooms_synced, rooms_rx) = oneshot::channel();
        synced.extend([themes_rx, rooms_rx]);
        tasks.spawn(reporting_sync(
            controllers.theme_task,
            controllers.themes,
            themes_synced,
        ));
        tasks.spawn(reporting_sync(
            controllers.room_task,
            controllers.rooms,
            rooms_synced,
        ));
    }
    tasks.spawn(ready_when_synced(synced, telemetry.clone()));
    if options.default_credentials.is_some() {
        let warm = warm_listing(
            shared.credentials.clone(),
            shared.snapshots.clone(),
            options.settings.resync,
        );
        let stop = stopping.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = warm => {}
                () = stop.cancelled() => {}
            }
        });
    }
    if let Some(server) = callback_server {
        let receiver = Arc::new(callbacks::Receiver::new(
            kube.clone(),
            callback_scopes,
            shared.credentials.clone(),
            shared.snapshots.clone(),
            shared.events.clone(),
            telemetry.health.clone(),
        ));
        let serving = server.serve(
            receiver,
            telemetry.metrics.clone(),
            stopping.clone().cancelled_owned(),
        );
        tasks.spawn(async move {
            if let Err(error) = serving.await {
                tracing::error!(%error, "the callback server stopped");
            }
        });
    }
    let aborted = tokio::select! {
        () = join_all(&mut tasks) => false,
        () = abort => true,
        never = cancel_on(shutdown, &stopping) => match never {},
    };
    if !aborted {
        return Ok(Stopped::Shutdown);
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    tracing::warn!("controllers stopped without finishing in-flight reconciles");
    Ok(Stopped::Aborted)
}

/// Cancels `stopping` once `shutdown` resolves; never resolves itself.
async fn cancel_on(
    shutdown: impl Future<Output = ()>,
    stopping: &CancellationToken,
) -> std::convert::Infallible {
    shutdown.await;
    stopping.cancel();
    std::future::pending().await
}

async fn join_all(tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result {
            tracing::error!(%error, "controller task failed");
        }
    }
}

/// Runs `controller` and reports on `synced` when its cache `store` is ready.
///
/// The wait must share the controller's task: in kube-runtime 5.0 a
/// store's readiness keeps a single waker, so a waiter in another task
/// could take the wake-up from the controller (or lose its own). In one
/// task, either wake-up polls both.
async fn reporting_sync<K: Resource + Clone + 'static>(
    controller: impl Future<Output = ()>,
    store: Store<K>,
    synced: oneshot::Sender<()>,
) where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let report = async move {
        if store.wait_until_ready().await.is_ok() {
            let _ = synced.send(());
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = controller => {}
        () = report => {}
    }
}

/// Lists the default application's rooms while the caches load, so that
/// the first reconciles find the listing they observe through ready
/// instead of waiting for it. Gives up quietly: those reconciles list then.
async fn warm_listing(
    credentials: Arc<CredentialStore>,
    snapshots: Arc<RoomSnapshots>,
    max_age: Duration,
) {
    let client = match credentials.client("", None).await {
        Ok(client) => client,
        Err(problem) => {
            tracing::debug!(%problem, "no listing ahead of the caches");
            return;
        }
    };
    let freshness = Freshness {
        max_age,
        not_before: None,
    };
    if let Err(error) = snapshots
        .view(&client, freshness, Priority::Foreground)
        .await
    {
        tracing::debug!(%error, "no listing ahead of the caches");
    }
}

/// Marks the replica ready once every cache has synced.
async fn ready_when_synced(synced: Vec<oneshot::Receiver<()>>, telemetry: Telemetry) {
    for cache in synced {
        if cache.await.is_err() {
            return;
        }
    }
    if telemetry.health.advance(Phase::Syncing, Phase::Running) {
        tracing::info!("caches synced: ready");
    }
}

/// The span of one reconcile of `object`.
fn reconcile_span<K: Resource>(kind: &'static str, object: &K) -> tracing::Span {
    let meta = object.meta();
    tracing::info_span!(
        "reconcile",
        kind = %kind,
        namespace = %meta.namespace.as_deref().unwrap_or_default(),
        name = %meta.name.as_deref().unwrap_or_default(),
    )
}

/// The two controllers of one scope and their caches.
struct ScopeControllers<T, R> {
    theme_task: T,
    room_task: R,
    themes: Store<MeetingTheme>,
    rooms: Store<MeetingRoom>,
    /// Room statuses written and not yet shown by the room watch.
    room_statuses: Arc<StatusCache<MeetingRoomStatus>>,
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
    metrics: &Arc<Metrics>,
    namespace: Option<String>,
    stopping: &CancellationToken,
    callback_hooks: ScopeHooks,
) -> ScopeControllers<
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
> {
    let ns = namespace.as_deref();
    let mut watch = watcher::Config::default().any_semantic();
    if let Some(selector) = &options.label_selector {
        watch = watch.labels(selector);
    }
    let controller_config = ControllerConfig::default().concurrency(options.settings.concurrency);

    // The caches keep what the reconcilers read, not the managed fields or a
    // `kubectl apply` copy of the object (at 10,000 rooms, tens of MiB).
    // One watch and one cache per kind serve both controllers; each change
    // also wakes the objects of the other kind that it concerns.
    let (themes, theme_writer) = reflector::store::<MeetingTheme>();
    let (rooms, room_writer) = reflector::store::<MeetingRoom>();
    let rooms_synced = Arc::new(AtomicBool::new(false));
    let (theme_wakeups, woken_themes) = futures::channel::mpsc::unbounded();
    let (room_wakeups, woken_rooms) = futures::channel::mpsc::unbounded();
    let room_kind_wakeups = room_wakeups.clone();
    let wake_rooms = RoomWakeups {
        rooms: rooms.clone(),
        send: room_wakeups,
    };
    let theme_controller = Controller::for_stream(
        triggers::to_reconcile(cached(
            watcher(api::<MeetingTheme>(kube, ns), watch.clone()),
            theme_writer,
            move |previous, event| wake_rooms.theme_changed(previous, event),
        )),
        themes.clone(),
    )
    .with_config(controller_config.clone());
    let tally_writes = Arc::new(WriteBudget::new(theme::TALLY_BURST, theme::TALLY_INTERVAL));
    let wake_themes = ThemeWakeups {
        themes: themes.clone(),
        send: theme_wakeups,
        rooms_synced: rooms_synced.clone(),
        tally_writes: tally_writes.clone(),
        deferred: Arc::default(),
    };
    let room_statuses = Arc::new(StatusCache::new(Duration::from_secs(60)));
    let shown_statuses = room_statuses.clone();
    let theme_users = ThemeUsers::default();
    let indexed_users = theme_users.clone();
    let room_controller = Controller::for_stream(
        triggers::to_reconcile(cached(
            watcher(api::<WatchedRoom>(kube, ns), watch.clone()).map_ok(WatchedRoom::unwrap_event),
            room_writer,
            move |previous, event| {
                if let watcher::Event::Apply(room) = event {
                    let uid = room.metadata.uid.as_deref().unwrap_or_default();
                    shown_statuses.shown(uid, |written| shows_status(room, written));
                }
                indexed_users.apply(previous.as_deref(), event);
                wake_themes.room_changed(previous, event);
            },
        )),
        rooms.clone(),
    )
    .with_config(controller_config);

    // A deleted host-URL Secret triggers its room; the names are kept so
    // that a reconcile knows the Secret exists without reading it.
    let host_url_secrets = NameIndex::default();
    let index = host_url_secrets.clone();
    let host_url_secret_events = watcher(
        api::<WatchedMeta<Secret>>(kube, ns),
        watcher::Config::default().labels(HOST_URL_LABEL),
    )
    .inspect_ok(move |event| index.apply(event))
    .try_filter_map(|event| std::future::ready(Ok(triggers::deleted(event))));

    let services = Services {
        kube: kube.clone(),
        credentials: shared.credentials.clone(),
        snapshots: shared.snapshots.clone(),
        backoff: shared.backoff.clone(),
        events: shared.events.clone(),
        settings: options.settings.clone(),
        metrics: metrics.clone(),
        themes: themes.clone(),
        rooms: rooms.clone(),
        cycle: Arc::new(ResyncCycle::default()),
    };
    let cycle = services.cycle.clone();
    let theme_cycle_wakeups = triggers::every_theme_each_cycle(themes.clone(), cycle.beginnings());
    let room_kind = Arc::new(Rooms {
        services: services.clone(),
        statuses: room_statuses.clone(),
        callback_urls: callback_hooks.urls,
        host_url_secrets,
        seen: resync::Seen::default(),
        wakeups: room_kind_wakeups,
    });
    let theme_kind = Arc::new(Themes {
        services,
        statuses: StatusCache::new(Duration::from_secs(60)),
        rooms_synced,
        observed: LastObserved::default(),
        tally_writes,
        users: theme_users,
        logo_rejections: logos::Rejections::default(),
    });

    let resync_by_listing = resync::run(room_kind.clone());
    let room_controller = room_controller
        .owns_stream(host_url_secret_events)
        .reconcile_on(woken_rooms)
        .reconcile_on(callback_hooks.reconcile_requests)
        .graceful_shutdown_on(stopping.clone().cancelled_owned())
        .run(
            |room: Arc<MeetingRoom>, rooms| {
                let span = reconcile_span(KIND_ROOM, room.as_ref());
                pipeline::reconcile(room, rooms).instrument(span)
            },
            error_policy,
            room_kind,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "room reconcile did not complete");
            }
        });
    // The cycle and the listing run as long as the room controller; the
    // theme controller stops on the same shutdown.
    let settings = options.settings.clone();
    let room_task = async move {
        tokio::select! {
            () = room_controller => {}
            () = resync_by_listing => {}
            () = cycle.run(|| settings.cycle_period()) => {}
        }
    };

    // Logo sources: a changed ConfigMap or Secret reconciles the themes using it.
    let (logo_maps, logo_secrets) = (themes.clone(), themes.clone());
    let theme_task = theme_controller
        .reconcile_on(woken_themes)
        .reconcile_on(theme_cycle_wakeups)
        // Metadata only: a changed resourceVersion is all a trigger needs, and
        // the contents (host URLs, credentials, 1 MB images) stay unread here.
        .watches(
            api::<WatchedMeta<ConfigMap>>(kube, ns),
            watcher::Config::default().any_semantic(),
            move |map: WatchedMeta<ConfigMap>| {
                logos::themes_using(&logo_maps, SourceKind::ConfigMap, &map)
            },
        )
        .watches(
            api::<WatchedMeta<Secret>>(kube, ns),
            // Never the host-URL Secrets (one per room): no theme reads them.
            watcher::Config::default()
                .any_semantic()
                .labels(&format!("!{HOST_URL_LABEL}")),
            move |secret: WatchedMeta<Secret>| {
                logos::themes_using(&logo_secrets, SourceKind::Secret, &secret)
            },
        )
        .graceful_shutdown_on(stopping.clone().cancelled_owned())
        .run(
            |theme: Arc<MeetingTheme>, themes| {
                let span = reconcile_span(KIND_THEME, theme.as_ref());
                pipeline::reconcile(theme, themes).instrument(span)
            },
            error_policy,
            theme_kind,
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "theme reconcile did not complete");
            }
        });
    ScopeControllers {
        theme_task,
        room_task,
        themes,
        rooms,
        room_statuses,
    }
}
