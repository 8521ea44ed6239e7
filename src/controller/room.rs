//! Reconciles `MeetingRoom`s with rooms in the Meetings API.
//!
//! Exactly-once creation: before `POST /rooms` the reconciler records a
//! `pendingCreate` marker in status. If the create's answer is lost (timeout,
//! dropped connection, 5xx, or the operator dies before the status write), the
//! next reconcile finds the marker and searches a fresh listing for a room
//! created after the marker, not claimed by another `MeetingRoom`, whose
//! create-only fields are what the service stores for the create request
//! (see [`super::lost_create`]), and adopts it instead of creating a second one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

pub use super::error_policy;
use super::events::reason;
use super::kube_ops::{
    add_finalizer, host_url_secret_exists, remove_finalizer, write_host_url_secret, write_status,
};
use super::lost_create::LostCreate;
use super::snapshot::Freshness;
use super::{Ctx, Error, FINALIZER, now};
use super::{annotations, room_sync};
use crate::callbacks;
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{self, READY, SYNCED, condition, set_condition, summarize};
use crate::crd::{
    MeetingRoom, MeetingRoomStatus, MeetingTheme, PendingCreate, RoomDeletionPolicy, RoomKind,
};
use crate::meetings::{
    ApiError, CreateRoom, ErrorClass, MeetingsClient, Room, RoomUpdate, format_timestamp,
};

/// Condition reasons of rooms.
pub mod reasons {
    /// Everything matches.
    pub const READY: &str = "Ready";
    /// The create call is in flight or being recovered.
    pub const CREATING: &str = "Creating";
    /// The referenced theme does not exist.
    pub const THEME_NOT_FOUND: &str = "ThemeNotFound";
    /// The referenced theme is not ready yet.
    pub const THEME_NOT_READY: &str = "ThemeNotReady";
    /// Credentials are missing or unusable.
    pub const CREDENTIALS: &str = "CredentialsInvalid";
    /// The API refused the request; retrying will not help.
    pub const REJECTED: &str = "Rejected";
    /// The spec holds a value the operator cannot send.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The room expired.
    pub const EXPIRED: &str = "Expired";
    /// The API could not be reached or failed; retrying.
    pub const API_ERROR: &str = "ApiError";
    /// An instant room cannot take the requested change.
    pub const NOT_UPDATABLE: &str = "NotUpdatable";
    /// The credentials now name another application than the room's.
    pub const APPLICATION_CHANGED: &str = "ApplicationChanged";
    /// The observed remote room no longer exists.
    pub const REMOTE_NOT_FOUND: &str = "RemoteNotFound";
    /// The room is observed, never written.
    pub const OBSERVE_ONLY: &str = "ObserveOnly";
    /// An adopted room differs in create-only fields.
    pub const UNFIXABLE: &str = "CreateOnlyDifferences";

    /// Whether a failure with `reason` needs a change before the room can
    /// progress (kstatus `Stalled`); other failures are `Reconciling`.
    pub fn stalls(reason: &str) -> bool {
        matches!(
            reason,
            REJECTED
                | INVALID_SPEC
                | CREDENTIALS
                | APPLICATION_CHANGED
                | NOT_UPDATABLE
                | REMOTE_NOT_FOUND
                | EXPIRED
                | crate::controller::annotations::PAUSED_REASON
        )
    }
}

/// Stable key of an object for backoff bookkeeping.
pub fn key(room: &MeetingRoom) -> String {
    super::object_key(room)
}

/// What one pass decided, before the status write.
struct Outcome {
    status: MeetingRoomStatus,
    requeue: Action,
}

/// Reconciles one room.
pub async fn reconcile(room: Arc<MeetingRoom>, ctx: Ctx) -> Result<Action, Error> {
    let namespace = room.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<MeetingRoom> = Api::namespaced(ctx.kube.clone(), &namespace);
    let uid = room.uid().unwrap_or_default();
    // `live` belongs to the callback receiver: never read or written here.
    let mut observed = room.status.clone().unwrap_or_default();
    observed.live = None;
    let current = ctx.room_statuses.latest(&uid, observed);
    if annotations::paused(&room.metadata) {
        return paused(&room, &api, &ctx, current).await;
    }
    if room.metadata.deletion_timestamp.is_some() {
        return cleanup(&room, &api, &ctx).await;
    }
    let request =
        annotations::new_request(&room.metadata, current.last_handled_reconcile_at.as_deref())
            .map(str::to_owned);
    if request.is_none() && rejected_at_this_generation(&room, &current) {
        return Ok(Action::await_change());
    }
    if request.is_none()
        && let Some(left) = ctx.backoff.remaining(&key(&room))
        && current.observed_generation == room.metadata.generation
    {
        return Ok(Action::requeue(left));
    }
    let mut outcome = sync(&room, &api, &ctx, &namespace, current.clone()).await?;
    if request.is_some() {
        outcome.status.last_handled_reconcile_at = request;
    }
    summarize(&mut outcome.status.conditions, reasons::stalls, now());
    let (state, reason) = conditions::outcome(&outcome.status.conditions);
    ctx.metrics
        .reconcile_outcome(crate::telemetry::KIND_ROOM, state, reason);
    if outcome.status != current {
        super::debug_status_change(&current, &outcome.status);
        write_status(&api, room.as_ref(), &outcome.status).await?;
        ctx.room_statuses.remember(&uid, outcome.status.clone());
    }
    if crate::crd::conditions::is_true(&outcome.status.conditions, SYNCED) {
        ctx.backoff.reset(&key(&room));
    }
    Ok(outcome.requeue)
}

/// A paused room: no API call at all, deletion included; the conditions say so.
async fn paused(
    room: &MeetingRoom,
    api: &Api<MeetingRoom>,
    ctx: &Ctx,
    current: MeetingRoomStatus,
) -> Result<Action, Error> {
    let deleting = room.metadata.deletion_timestamp.is_some();
    if deleting && !room.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut status = current.clone();
    let generation = room.metadata.generation;
    let exists = status.room_id.is_some();
    annotations::mark_paused(&mut status.conditions, exists, deleting, generation, now());
    status.observed_generation = generation;
    summarize(&mut status.conditions, reasons::stalls, now());
    if status != current {
        write_status(api, room, &status).await?;
        ctx.room_statuses
            .remember(&room.uid().unwrap_or_default(), status);
    }
    Ok(Action::await_change())
}

/// Rejections (400/403/409 answers, invalid spec) are not retried until the spec changes.
fn rejected_at_this_generation(room: &MeetingRoom, status: &MeetingRoomStatus) -> bool {
    status.observed_generation == room.metadata.generation
        && status.conditions.iter().any(|c| {
            c.type_ == SYNCED
                && c.status == "False"
                && matches!(
                    c.reason.as_str(),
                    reasons::REJECTED | reasons::INVALID_SPEC | reasons::APPLICATION_CHANGED
                )
        })
}

/// Sets both conditions to the same failure and returns the status.
fn failed(
    room: &MeetingRoom,
    mut status: MeetingRoomStatus,
    reason: &str,
    message: String,
) -> MeetingRoomStatus {
    let generation = room.metadata.generation;
    let ready_reason = if status.room_id.is_some() && reason != reasons::EXPIRED {
        // The room exists; it is usable even if the last change failed.
        None
    } else {
        Some(reason)
    };
    if let Some(r) = ready_reason {
        set_condition(
            &mut status.conditions,
            condition(READY, false, r, message.clone(), generation, now()),
        );
    }
    set_condition(
        &mut status.conditions,
        condition(SYNCED, false, reason, message, generation, now()),
    );
    status.observed_generation = generation;
    status
}

/// Turns an API error into a status and a requeue: answers are final until the
/// spec changes, everything else backs off per object.
async fn api_failure(
    room: &MeetingRoom,
    ctx: &Ctx,
    status: MeetingRoomStatus,
    error: ApiError,
    action: &str,
) -> Outcome {
    let class = error.class();
    let message = format!("{action}: {error}");
    match class {
        ErrorClass::InvalidRequest | ErrorClass::QuotaExceeded | ErrorClass::Conflict => {
            ctx.events
                .warning(room, reason::REJECTED, action, message.clone())
                .await;
            Outcome {
                status: failed(room, status, reasons::REJECTED, message),
                requeue: Action::await_change(),
            }
        }
        ErrorClass::Unauthorized => {
            ctx.credentials.forget(
                &room.namespace().unwrap_or_default(),
                room.spec.credentials_ref.as_deref(),
            );
            ctx.events
                .warning(room, reason::CREDENTIALS, action, message.clone())
                .await;
            Outcome {
                status: failed(
                    room,
                    status,
                    reasons::CREDENTIALS,
                    format!("{message}; check the credentials Secret"),
                ),
                requeue: Action::requeue(ctx.backoff.next_delay(&key(room))),
            }
        }
        _ => Outcome {
            status: failed(room, status, reasons::API_ERROR, message),
            requeue: Action::requeue(ctx.backoff.next_delay(&key(room))),
        },
    }
}

async fn sync(
    room: &MeetingRoom,
    api: &Api<MeetingRoom>,
    ctx: &Ctx,
    namespace: &str,
    mut status: MeetingRoomStatus,
) -> Result<Outcome, Error> {
    let client = match ctx
        .credentials
        .client(namespace, room.spec.credentials_ref.as_deref())
        .await
    {
        Ok(client) => client,
        Err(problem) => {
            let message = problem.to_string();
            if status
                .conditions
                .iter()
                .all(|c| c.reason != reasons::CREDENTIALS)
            {
                ctx.events
                    .warning(
                        room,
                        reason::CREDENTIALS,
                        "ResolveCredentials",
                        message.clone(),
                    )
                    .await;
            }
            return Ok(Outcome {
                status: failed(room, status, reasons::CREDENTIALS, message),
                requeue: Action::requeue(ctx.backoff.next_delay(&key(room))),
            });
        }
    };
    if let Some(app) = status.application_id.as_deref()
        && status.room_id.is_some()
        && app != client.application_id()
    {
        let message = format!(
            "the room belongs to application {app} but the credentials are for application {}; restore the credentials or create a new MeetingRoom",
            client.application_id()
        );
        return Ok(Outcome {
            status: failed(room, status, reasons::APPLICATION_CHANGED, message),
            requeue: Action::await_change(),
        });
    }

    let theme_id = match resolve_theme(room, ctx, namespace, client.application_id()) {
        Ok(theme_id) => theme_id,
        Err((reason, message)) => {
            return Ok(Outcome {
                status: failed(room, status, reason, message),
                // A theme change triggers this room through the watch.
                requeue: Action::await_change(),
            });
        }
    };

    let observe_only = room.spec.management_policy == ManagementPolicy::ObserveOnly;
    let remote = match (status.room_id.clone(), room.spec.adopt_id.clone()) {
        (None, Some(adopt_id)) => match adopt(room, ctx, &client, &mut status, &adopt_id).await {
            Ok(remote) => remote,
            Err(outcome) => return Ok(outcome),
        },
        (None, None) => {
            match create(room, api, ctx, &client, &mut status, theme_id.as_deref()).await? {
                Ok(remote) => remote,
                Err(outcome) => return Ok(outcome),
            }
        }
        (Some(room_id), _) => match observe(room, ctx, &client, &room_id).await {
            Ok(Some(remote)) => remote,
            Ok(None) if observe_only => {
                let message = format!(
                    "observed room {room_id} no longer exists in the API; nothing is created in ObserveOnly mode"
                );
                return Ok(Outcome {
                    status: failed(room, status, reasons::REMOTE_NOT_FOUND, message),
                    requeue: Action::requeue(
                        ctx.settings
                            .resync_after(room.metadata.annotations.as_ref()),
                    ),
                });
            }
            Ok(None) => {
                let expired = gone_after_expiry(room, &status);
                if expired && status.observed_generation == room.metadata.generation {
                    return Ok(expired_and_gone(room, status, &room_id));
                }
                let note = if expired {
                    format!(
                        "room {room_id} expired and no longer exists in the API; the spec changed since, so a new room is created"
                    )
                } else {
                    format!(
                        "room {room_id} no longer exists in the API before it expired; creating a new one"
                    )
                };
                ctx.events
                    .warning(room, reason::RECREATED, "Observe", note)
                    .await;
                let mut fresh = MeetingRoomStatus {
                    conditions: status.conditions.clone(),
                    ..Default::default()
                };
                match create(room, api, ctx, &client, &mut fresh, theme_id.as_deref()).await? {
                    Ok(remote) => {
                        status = fresh;
                        remote
                    }
                    Err(outcome) => return Ok(outcome),
                }
            }
            Err(error) => return Ok(api_failure(room, ctx, status, error, "Observe").await),
        },
    };

    status.unfixable_differences = create_only_differences(&room.spec, &remote);
    let remote = if observe_only {
        let callback_urls = callbacks::effective_urls(&room.spec, ctx.callback_urls.as_ref());
        if let Ok(update) = room_sync::mutable_diff(
            &room.spec,
            theme_id.as_deref(),
            status.applied_theme_id.as_deref(),
            callback_urls.as_ref(),
            &remote,
        ) {
            status.unfixable_differences.extend(
                room_sync::changed_fields(&update)
                    .into_iter()
                    .map(|f| format!("{f} (not changed in ObserveOnly mode)")),
            );
        }
        remote
    } else {
        match update_if_needed(room, ctx, &client, &status, theme_id.as_deref(), remote).await {
            Ok(remote) => remote,
            Err(outcome) => return Ok(outcome),
        }
    };

    if let Err(error) = ensure_host_url_secret(room, ctx, &client, &mut status, &remote).await {
        return Ok(match error {
            Error::Api(error) => api_failure(room, ctx, status, error, "WriteHostUrl").await,
            other => return Err(other),
        });
    }
    Ok(ready(room, ctx, status, &remote, theme_id))
}

/// Whether a room that vanished from the API had expired first: its last
/// observed expiry has passed, it was already reported `Expired`, or it
/// closes after use (its first session may have ended it at any time). The
/// service may purge expired rooms, so such a vanish is not a loss.
fn gone_after_expiry(room: &MeetingRoom, status: &MeetingRoomStatus) -> bool {
    let expiry_passed = status
        .expires_at
        .as_deref()
        .and_then(|at| at.parse::<Timestamp>().ok())
        .is_some_and(|at| at <= Timestamp::now());
    let reported_expired = status
        .conditions
        .iter()
        .any(|c| c.type_ == READY && c.reason == reasons::EXPIRED);
    expiry_passed || reported_expired || room.spec.expire_after_use == Some(true)
}

/// The terminal status of a room that expired and then vanished: nothing is
/// created until the spec changes.
fn expired_and_gone(room: &MeetingRoom, mut status: MeetingRoomStatus, room_id: &str) -> Outcome {
    let generation = room.metadata.generation;
    let code = status
        .meeting_code
        .clone()
        .unwrap_or_else(|| room_id.to_owned());
    let next_step = match room.spec.room_type {
        RoomKind::Instant => "delete and re-apply this MeetingRoom for a new room",
        RoomKind::LongTerm => {
            "change the spec (for example a later expiresAt) to create a new room, or delete this MeetingRoom"
        }
    };
    let message = format!(
        "room {code} expired{} and the Meetings API no longer has it; no new room is created: {next_step}",
        status
            .expires_at
            .as_deref()
            .map(|at| format!(" at {at}"))
            .unwrap_or_default()
    );
    status.is_available = Some(false);
    status.pending_create = None;
    status.observed_generation = generation;
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            false,
            reasons::EXPIRED,
            message.clone(),
            generation,
            now(),
        ),
    );
    set_condition(
        &mut status.conditions,
        condition(SYNCED, true, reasons::EXPIRED, message, generation, now()),
    );
    Outcome {
        status,
        requeue: Action::await_change(),
    }
}

fn resolve_theme(
    room: &MeetingRoom,
    ctx: &Ctx,
    namespace: &str,
    application_id: &str,
) -> Result<Option<String>, (&'static str, String)> {
    let Some(theme_ref) = room.spec.theme_ref.as_ref() else {
        return Ok(None);
    };
    let name = &theme_ref.name;
    let Some(theme) = ctx
        .themes
        .get(&ObjectRef::<MeetingTheme>::new(name).within(namespace))
    else {
        return Err((
            reasons::THEME_NOT_FOUND,
            format!(
                "MeetingTheme {name} does not exist in namespace {namespace}; create it or change spec.themeRef"
            ),
        ));
    };
    if theme.metadata.deletion_timestamp.is_some() {
        return Err((
            reasons::THEME_NOT_READY,
            format!("MeetingTheme {name} is being deleted; point spec.themeRef at another theme"),
        ));
    }
    let status = theme.status.clone().unwrap_or_default();
    let ready = crate::crd::conditions::is_true(&status.conditions, READY);
    match status.theme_id {
        Some(theme_id) if ready => {
            if let Some(app) = status.application_id.as_deref()
                && app != application_id
            {
                return Err((
                    reasons::THEME_NOT_READY,
                    format!(
                        "MeetingTheme {name} belongs to application {app}, but this room's credentials are for application {application_id}"
                    ),
                ));
            }
            Ok(Some(theme_id))
        }
        _ => Err((
            reasons::THEME_NOT_READY,
            format!("waiting for MeetingTheme {name} to become Ready"),
        )),
    }
}

/// Creates the remote room exactly once, or recovers a create whose answer was lost.
async fn create(
    room: &MeetingRoom,
    api: &Api<MeetingRoom>,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &mut MeetingRoomStatus,
    theme_id: Option<&str>,
) -> Result<Result<Room, Outcome>, Error> {
    let callback_urls = callbacks::effective_urls(&room.spec, ctx.callback_urls.as_ref());
    let request = match room_sync::create_request(&room.spec, theme_id, callback_urls.as_ref()) {
        Ok(request) => request,
        Err(error) => {
            return Ok(Err(Outcome {
                status: failed(
                    room,
                    status.clone(),
                    reasons::INVALID_SPEC,
                    error.to_string(),
                ),
                requeue: Action::await_change(),
            }));
        }
    };
    let app = client.application_id().to_owned();
    if let Some(pending) = status.pending_create.clone()
        && pending.application_id == app
    {
        match recover_lost_create(room, ctx, client, &pending, &request).await {
            Ok(Some(found)) => {
                ctx.events
                    .normal(
                        room,
                        reason::RECOVERED,
                        "Create",
                        format!(
                            "found room {} (code {}) from an earlier create whose answer was lost; adopted it instead of creating another",
                            found.id, found.meeting_code
                        ),
                    )
                    .await;
                status.pending_create = None;
                status.room_id = Some(found.id.clone());
                status.application_id = Some(app);
                return Ok(Ok(found));
            }
            Ok(None) => {}
            Err(error) => {
                return Ok(Err(api_failure(
                    room,
                    ctx,
                    status.clone(),
                    error,
                    "RecoverCreate",
                )
                .await));
            }
        }
    }
    if room.spec.deletion_policy == RoomDeletionPolicy::Expire
        && room.spec.management_policy == ManagementPolicy::Managed
    {
        add_finalizer(api, room, FINALIZER).await?;
    }
    status.pending_create = Some(PendingCreate {
        started_at: format_timestamp(&Timestamp::now()),
        application_id: app.clone(),
    });
    status.application_id = Some(app.clone());
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            false,
            reasons::CREATING,
            "creating the room in the Meetings API",
            room.metadata.generation,
            now(),
        ),
    );
    summarize(&mut status.conditions, reasons::stalls, now());
    write_status(api, room, &*status).await?;
    ctx.room_statuses
        .remember(&room.uid().unwrap_or_default(), status.clone());
    match client.create_room(&request).await {
        Ok(created) => {
            ctx.snapshots.record(&app, created.clone());
            status.pending_create = None;
            status.room_id = Some(created.id.clone());
            ctx.events
                .normal(
                    room,
                    reason::CREATED,
                    "Create",
                    format!(
                        "created room {} with meeting code {}",
                        created.id, created.meeting_code
                    ),
                )
                .await;
            Ok(Ok(created))
        }
        Err(error) => {
            if !error.may_have_committed() {
                status.pending_create = None;
            }
            Ok(Err(
                api_failure(room, ctx, status.clone(), error, "Create").await
            ))
        }
    }
}

/// Searches a listing taken now for the room a lost create of `request` may
/// have made (see [`LostCreate`]).
async fn recover_lost_create(
    room: &MeetingRoom,
    ctx: &Ctx,
    client: &MeetingsClient,
    pending: &PendingCreate,
    request: &CreateRoom,
) -> Result<Option<Room>, ApiError> {
    let started: Timestamp = pending.started_at.parse().unwrap_or(Timestamp::UNIX_EPOCH);
    let own_uid = room.uid();
    let claimed: std::collections::HashSet<String> = ctx
        .rooms
        .state()
        .iter()
        .filter(|other| other.uid() != own_uid)
        .filter_map(|other| other.status.as_ref()?.room_id.clone())
        .collect();
    let fresh = Freshness {
        max_age: Duration::ZERO,
        not_before: Some(Instant::now()),
    };
    let lost = LostCreate::new(request, started);
    let candidates: Vec<Room> = ctx
        .snapshots
        .find(client, fresh, |candidate| {
            !claimed.contains(&candidate.id) && lost.matches(candidate)
        })
        .await?
        .into_iter()
        .map(|found| (*found).clone())
        .collect();
    Ok(lost.best(&candidates).cloned())
}

/// The remote room from the shared listing, or one GET when the listing
/// cannot answer. `None` when the API no longer has it.
async fn observe(
    room: &MeetingRoom,
    ctx: &Ctx,
    client: &MeetingsClient,
    room_id: &str,
) -> Result<Option<Room>, ApiError> {
    let freshness = Freshness {
        max_age: ctx.settings.resync,
        not_before: None,
    };
    if let Some(listed) = ctx.snapshots.room(client, room_id, freshness).await? {
        return Ok(Some((*listed).clone()));
    }
    match client.get_room(room_id).await {
        Ok(fetched) => {
            ctx.snapshots
                .record(client.application_id(), fetched.clone());
            Ok(Some(fetched))
        }
        Err(ApiError::NotFound(_)) => {
            tracing::info!(room = %room.name_any(), room_id, "remote room vanished");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Sends the mutable fields that differ, if the room can be updated.
async fn update_if_needed(
    room: &MeetingRoom,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &MeetingRoomStatus,
    theme_id: Option<&str>,
    remote: Room,
) -> Result<Room, Outcome> {
    if remote.is_expired_at(Timestamp::now()) {
        return Ok(remote);
    }
    let callback_urls = callbacks::effective_urls(&room.spec, ctx.callback_urls.as_ref());
    let update: RoomUpdate = match room_sync::mutable_diff(
        &room.spec,
        theme_id,
        status.applied_theme_id.as_deref(),
        callback_urls.as_ref(),
        &remote,
    ) {
        Ok(update) => update,
        Err(error) => {
            return Err(Outcome {
                status: failed(
                    room,
                    status.clone(),
                    reasons::INVALID_SPEC,
                    error.to_string(),
                ),
                requeue: Action::await_change(),
            });
        }
    };
    if update.is_empty() {
        return Ok(remote);
    }
    let fields = room_sync::changed_fields(&update).join(", ");
    if room.spec.room_type == RoomKind::Instant {
        let message = format!(
            "instant rooms cannot be changed after creation ({fields} differ); use a long_term room or create a new MeetingRoom"
        );
        return Err(Outcome {
            status: failed(room, status.clone(), reasons::NOT_UPDATABLE, message),
            requeue: Action::await_change(),
        });
    }
    match client.update_room(&remote.id, &update).await {
        Ok(updated) => {
            ctx.snapshots
                .record(client.application_id(), updated.clone());
            let spec_changed = status.observed_generation != room.metadata.generation;
            let (why, note) = if spec_changed {
                (
                    reason::UPDATED,
                    format!("updated {fields} to match the spec"),
                )
            } else {
                (
                    reason::DRIFT_CORRECTED,
                    format!("{fields} had been changed outside Kubernetes; restored them"),
                )
            };
            ctx.events.normal(room, why, "Update", note).await;
            Ok(updated)
        }
        Err(error) => Err(api_failure(room, ctx, status.clone(), error, "Update").await),
    }
}

/// Keeps the host URL in a Secret owned by the room; never in status, events or logs.
async fn ensure_host_url_secret(
    room: &MeetingRoom,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &mut MeetingRoomStatus,
    remote: &Room,
) -> Result<(), Error> {
    let namespace = room.namespace().ok_or(Error::MissingField("namespace"))?;
    if let Some(name) = status.host_url_secret_name.as_deref() {
        // The watched Secrets answer without a read; one missing from them
        // may be too new to have been seen yet, so it is read before it is
        // written again.
        if ctx.host_url_secrets.contains(&namespace, name)
            || host_url_secret_exists(&ctx.kube, &namespace, name).await?
        {
            return Ok(());
        }
    }
    // A create's answer carries the host URL; the shared listing does not.
    let read;
    let remote = if remote.host_url().is_some() {
        remote
    } else {
        read = client.get_room(&remote.id).await?;
        &read
    };
    let Some(host_url) = remote.host_url() else {
        return Ok(());
    };
    let name = write_host_url_secret(&ctx.kube, room, host_url).await?;
    status.host_url_secret_name = Some(name);
    Ok(())
}

/// The status of a room that exists and matches.
fn ready(
    room: &MeetingRoom,
    ctx: &Ctx,
    mut status: MeetingRoomStatus,
    remote: &Room,
    theme_id: Option<String>,
) -> Outcome {
    let generation = room.metadata.generation;
    let expired = remote.is_expired_at(Timestamp::now());
    status.room_id = Some(remote.id.clone());
    status.meeting_code = Some(remote.meeting_code.clone()).filter(|c| !c.is_empty());
    status.guest_url = remote.guest_url().map(str::to_owned);
    status.expires_at = remote.expires_at.as_ref().map(format_timestamp);
    // Judged by time too: the live service kept `is_available: true` after expiry.
    status.is_available = Some(!expired);
    status.theme_id = remote.theme_id.clone().or(theme_id.clone());
    if room.spec.management_policy == ManagementPolicy::Managed && !expired {
        // The update pass made the room's theme what the spec resolves to.
        status.applied_theme_id = theme_id;
    }
    status.pending_create = None;
    status.observed_generation = generation;
    let (ready_reason, message) = if expired {
        (
            reasons::EXPIRED,
            format!(
                "room {} expired at {}; no new sessions can start",
                remote.meeting_code,
                status.expires_at.as_deref().unwrap_or("an unknown time")
            ),
        )
    } else {
        (
            reasons::READY,
            format!("room {} is ready", remote.meeting_code),
        )
    };
    set_condition(
        &mut status.conditions,
        condition(READY, !expired, ready_reason, message, generation, now()),
    );
    let (synced_reason, synced_message) = match (
        room.spec.management_policy,
        status.unfixable_differences.is_empty(),
    ) {
        (ManagementPolicy::Managed, true) => {
            (reasons::READY, "the room matches the spec".to_owned())
        }
        (ManagementPolicy::Managed, false) => (
            reasons::UNFIXABLE,
            format!(
                "adopted room differs in create-only fields that cannot be changed: {}",
                status.unfixable_differences.join("; ")
            ),
        ),
        (ManagementPolicy::ObserveOnly, true) => (
            reasons::OBSERVE_ONLY,
            "observing; the remote room matches the spec".to_owned(),
        ),
        (ManagementPolicy::ObserveOnly, false) => (
            reasons::OBSERVE_ONLY,
            format!(
                "observing only; the remote room differs: {}",
                status.unfixable_differences.join("; ")
            ),
        ),
    };
    set_condition(
        &mut status.conditions,
        condition(
            SYNCED,
            true,
            synced_reason,
            synced_message,
            generation,
            now(),
        ),
    );
    let requeue = if expired {
        // Observed again from the shared listing, so that an expiry the
        // service moves later (a room kept alive by a session) is seen.
        Action::requeue(
            ctx.settings
                .resync_after(room.metadata.annotations.as_ref()),
        )
    } else {
        let mut after = ctx
            .settings
            .resync_after(room.metadata.annotations.as_ref());
        if let Some(expiry) = remote.expires_at {
            let until = expiry.as_millisecond() - Timestamp::now().as_millisecond();
            if until > 0 {
                after = after.min(Duration::from_millis(until as u64 + 1000));
            }
        }
        Action::requeue(after)
    };
    Outcome { status, requeue }
}

/// Deletion: a long-term room with `Expire` is set to expire as soon as the API allows.
async fn cleanup(room: &MeetingRoom, api: &Api<MeetingRoom>, ctx: &Ctx) -> Result<Action, Error> {
    let uid = room.uid().unwrap_or_default();
    if !room.finalizers().iter().any(|f| f == FINALIZER) {
        ctx.room_statuses.forget(&uid);
        return Ok(Action::await_change());
    }
    let status = ctx
        .room_statuses
        .latest(&uid, room.status.clone().unwrap_or_default());
    let expire = room.spec.management_policy == ManagementPolicy::Managed
        && room.spec.deletion_policy == RoomDeletionPolicy::Expire
        && room.spec.room_type == RoomKind::LongTerm;
    if expire && (status.room_id.is_some() || status.pending_create.is_some()) {
        let namespace = room.namespace().unwrap_or_default();
        let client = ctx
            .credentials
            .client(&namespace, room.spec.credentials_ref.as_deref())
            .await
            .map_err(|e| Error::Finalizer(e.to_string()))?;
        // Deleted while a create was unconfirmed: the room may exist all the same.
        let room_id = match (status.room_id.clone(), status.pending_create.as_ref()) {
            (Some(room_id), _) => Some(room_id),
            (None, Some(pending)) => {
                let callback_urls =
                    callbacks::effective_urls(&room.spec, ctx.callback_urls.as_ref());
                match room_sync::create_request(
                    &room.spec,
                    status.theme_id.as_deref(),
                    callback_urls.as_ref(),
                ) {
                    Ok(request) => recover_lost_create(room, ctx, &client, pending, &request)
                        .await?
                        .map(|found| found.id),
                    // A spec the operator cannot send was never created.
                    Err(_) => None,
                }
            }
            (None, None) => None,
        };
        let Some(room_id) = room_id.as_deref() else {
            remove_finalizer(api, room, FINALIZER).await?;
            ctx.room_statuses.forget(&uid);
            return Ok(Action::await_change());
        };
        // The API refuses expiry ten minutes or less ahead.
        let earliest = Timestamp::now() + jiff::SignedDuration::from_secs(11 * 60);
        let update = RoomUpdate {
            expires_at: Some(earliest),
            ..Default::default()
        };
        match client.update_room(room_id, &update).await {
            Ok(_) => {
                ctx.events
                    .normal(
                        room,
                        reason::EXPIRED,
                        "Delete",
                        format!(
                            "room {room_id} set to expire at {}",
                            format_timestamp(&earliest)
                        ),
                    )
                    .await;
            }
            Err(ApiError::NotFound(_)) => {}
            Err(ApiError::InvalidRequest(e)) => {
                // Already expiring sooner, or no longer updatable: nothing left to do.
                tracing::info!(room_id, error = %e, "room could not be set to expire; leaving it");
            }
            Err(error) => return Err(error.into()),
        }
    }
    remove_finalizer(api, room, FINALIZER).await?;
    ctx.room_statuses.forget(&uid);
    Ok(Action::await_change())
}

/// Takes over an existing remote room named by `spec.adoptId` instead of creating one.
async fn adopt(
    room: &MeetingRoom,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &mut MeetingRoomStatus,
    adopt_id: &str,
) -> Result<Room, Outcome> {
    match client.get_room(adopt_id).await {
        Ok(found) => {
            ctx.snapshots.record(client.application_id(), found.clone());
            ctx.events
                .normal(
                    room,
                    reason::ADOPTED,
                    "Adopt",
                    format!(
                        "adopted existing room {adopt_id} (code {})",
                        found.meeting_code
                    ),
                )
                .await;
            status.room_id = Some(found.id.clone());
            status.application_id = Some(client.application_id().to_owned());
            Ok(found)
        }
        Err(ApiError::NotFound(_)) => {
            let message = format!(
                "spec.adoptId {adopt_id}: no such room in application {}; fix adoptId or remove it to create a room",
                client.application_id()
            );
            Err(Outcome {
                status: failed(room, status.clone(), reasons::REJECTED, message),
                requeue: Action::await_change(),
            })
        }
        Err(error) => Err(api_failure(room, ctx, status.clone(), error, "Adopt").await),
    }
}

/// Create-only fields where the remote room differs from the spec; they can
/// never be changed, only reported (adopted rooms).
fn create_only_differences(spec: &crate::crd::MeetingRoomSpec, remote: &Room) -> Vec<String> {
    let mut differences = Vec::new();
    if remote.display_name != spec.display_name {
        differences.push(format!(
            "displayName is {:?} in the API",
            remote.display_name
        ));
    }
    if remote.metadata.as_deref().unwrap_or("") != spec.metadata.as_deref().unwrap_or("") {
        differences.push("metadata differs in the API".to_owned());
    }
    let want_type = match spec.room_type {
        RoomKind::Instant => crate::meetings::RoomType::Instant,
        RoomKind::LongTerm => crate::meetings::RoomType::LongTerm,
    };
    if remote.room_type != want_type {
        differences.push(format!("type is {:?} in the API", remote.room_type));
    }
    if let Some(want) = spec.recording_options.as_ref() {
        let have = remote.recording_options.clone().unwrap_or_default();
        if want
            .auto_record
            .is_some_and(|v| have.auto_record != Some(v))
            || want
                .record_only_owner
                .is_some_and(|v| have.record_only_owner != Some(v))
        {
            differences.push("recordingOptions differ in the API".to_owned());
        }
    }
    differences
}
