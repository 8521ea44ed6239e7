//! Reconciles `MeetingTheme`s with themes in the Meetings API.
//!
//! Exactly-once creation: theme names are unique per application, so before
//! `POST /themes` a `pendingCreate` marker is written and, if the answer is
//! lost, the next reconcile finds the theme by its name instead of creating
//! another (a repeated create would also be refused with 409).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

pub use super::error_policy;
use super::events::reason;
use super::kube_ops::{add_finalizer, remove_finalizer, write_status};
use super::logos;
use super::snapshot::Freshness;
use super::{Ctx, Error, FINALIZER, annotations, now};
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{self, READY, SYNCED, condition, set_condition, summarize};
use crate::crd::theme::{ApplicationDefaultStatus, RemoteTheme};
use crate::crd::{MeetingTheme, MeetingThemeStatus, PendingCreate, ThemeDeletionPolicy};
use crate::meetings::{
    ApiError, CreateTheme, ErrorClass, MeetingsClient, Theme, ThemeUpdate, format_timestamp,
};

/// Condition reasons of themes.
pub mod reasons {
    /// Everything matches.
    pub const READY: &str = "Ready";
    /// The create call is in flight or being recovered.
    pub const CREATING: &str = "Creating";
    /// Credentials are missing or unusable.
    pub const CREDENTIALS: &str = "CredentialsInvalid";
    /// The API refused the request; retrying will not help.
    pub const REJECTED: &str = "Rejected";
    /// The API could not be reached or failed; retrying.
    pub const API_ERROR: &str = "ApiError";
    /// Deletion waits until nothing uses the theme.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// The credentials now name another application than the theme's.
    pub const APPLICATION_CHANGED: &str = "ApplicationChanged";
    /// The observed remote theme no longer exists.
    pub const REMOTE_NOT_FOUND: &str = "RemoteNotFound";
    /// The theme is observed, never written.
    pub const OBSERVE_ONLY: &str = "ObserveOnly";
    /// More than one theme asks to be the application default.
    pub const DEFAULT_CONFLICT: &str = "DefaultThemeConflict";

    /// Whether a failure with `reason` needs a change before the theme can
    /// progress (kstatus `Stalled`); other failures are `Reconciling`.
    pub fn stalls(reason: &str) -> bool {
        matches!(
            reason,
            REJECTED
                | CREDENTIALS
                | DELETION_BLOCKED
                | APPLICATION_CHANGED
                | REMOTE_NOT_FOUND
                | DEFAULT_CONFLICT
                | super::logos::reasons::INVALID_LOGO
                | crate::controller::annotations::PAUSED_REASON
        )
    }
}

/// Stable key of an object for backoff bookkeeping.
pub fn key(theme: &MeetingTheme) -> String {
    super::object_key(theme)
}

fn failed(
    theme: &MeetingTheme,
    mut status: MeetingThemeStatus,
    reason: &str,
    message: String,
) -> MeetingThemeStatus {
    let generation = theme.metadata.generation;
    if status.theme_id.is_none() || reason == reasons::DELETION_BLOCKED {
        set_condition(
            &mut status.conditions,
            condition(READY, false, reason, message.clone(), generation, now()),
        );
    }
    set_condition(
        &mut status.conditions,
        condition(SYNCED, false, reason, message, generation, now()),
    );
    status.observed_generation = generation;
    status
}

/// How often a Ready theme's status is written at most while only its
/// room list and room count change, once [`TALLY_BURST`] writes are spent.
/// Every room event wakes the theme, and while rooms are being created the
/// tallies change many times a second; writing each change cost several
/// status writes per room, each carrying the whole room list, and as many
/// reconciles that walk every room.
pub const TALLY_INTERVAL: Duration = Duration::from_secs(2);

/// Tally-only writes a theme may make at once: a team's few rooms show in
/// its count as they are made, by the time they are Ready.
pub const TALLY_BURST: u32 = 5;

/// Reconciles one theme.
pub async fn reconcile(theme: Arc<MeetingTheme>, ctx: Ctx) -> Result<Action, Error> {
    // Its rooms decide its status and whether it may be deleted; the room
    // cache wakes every theme once it is complete.
    if !ctx.rooms_synced.load(std::sync::atomic::Ordering::Acquire) {
        tracing::debug!("waiting for the room cache");
        return Ok(Action::await_change());
    }
    let namespace = theme.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<MeetingTheme> = Api::namespaced(ctx.kube.clone(), &namespace);
    let uid = theme.uid().unwrap_or_default();
    let current = ctx
        .theme_statuses
        .latest(&uid, theme.status.clone().unwrap_or_default());
    if annotations::paused(&theme.metadata) {
        return paused(&theme, &api, &ctx, current).await;
    }
    let request = annotations::new_request(
        &theme.metadata,
        current.last_handled_reconcile_at.as_deref(),
    )
    .map(str::to_owned);
    let (status, action) = if theme.metadata.deletion_timestamp.is_some() {
        match cleanup(&theme, &api, &ctx, current.clone()).await? {
            None => {
                ctx.theme_statuses.forget(&uid);
                ctx.observed.forget(&uid);
                ctx.theme_writes.forget(&uid);
                return Ok(Action::await_change());
            }
            Some(blocked) => blocked,
        }
    } else {
        if request.is_none() && rejected_at_this_generation(&theme, &current) {
            return Ok(Action::await_change());
        }
        if request.is_none()
            && let Some(left) = ctx.backoff.remaining(&key(&theme))
            && current.observed_generation == theme.metadata.generation
        {
            return Ok(Action::requeue(left));
        }
        // A Ready theme whose spec did not change is written within its
        // budget (TALLY_BURST, then one per TALLY_INTERVAL); what arrives
        // meanwhile is taken up by the next pass.
        if current.observed_generation == theme.metadata.generation
            && current.pending_create.is_none()
            && crate::crd::conditions::is_true(&current.conditions, READY)
        {
            let wait = ctx.theme_writes.wait(&uid);
            if !wait.is_zero() {
                return Ok(Action::requeue(wait));
            }
        }
        sync(&theme, &api, &ctx, &namespace, current.clone()).await?
    };
    let mut status = status;
    if request.is_some() {
        status.last_handled_reconcile_at = request;
    }
    summarize(&mut status.conditions, reasons::stalls, now());
    let (state, reason) = conditions::outcome(&status.conditions);
    ctx.metrics
        .reconcile_outcome(crate::telemetry::KIND_THEME, state, reason);
    if status != current {
        super::debug_status_change(&current, &status);
        write_status(&api, theme.as_ref(), &status).await?;
        ctx.theme_statuses.remember(&uid, status);
        ctx.theme_writes.spend(&uid);
    }
    Ok(action)
}

/// A paused theme: no API call at all, deletion included; the conditions say so.
async fn paused(
    theme: &MeetingTheme,
    api: &Api<MeetingTheme>,
    ctx: &Ctx,
    current: MeetingThemeStatus,
) -> Result<Action, Error> {
    let deleting = theme.metadata.deletion_timestamp.is_some();
    if deleting && !theme.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut status = current.clone();
    let generation = theme.metadata.generation;
    let exists = status.theme_id.is_some();
    annotations::mark_paused(&mut status.conditions, exists, deleting, generation, now());
    status.observed_generation = generation;
    summarize(&mut status.conditions, reasons::stalls, now());
    if status != current {
        write_status(api, theme, &status).await?;
        ctx.theme_statuses
            .remember(&theme.uid().unwrap_or_default(), status);
    }
    Ok(Action::await_change())
}

fn rejected_at_this_generation(theme: &MeetingTheme, status: &MeetingThemeStatus) -> bool {
    status.observed_generation == theme.metadata.generation
        && status.conditions.iter().any(|c| {
            c.type_ == SYNCED
                && c.status == "False"
                && matches!(
                    c.reason.as_str(),
                    reasons::REJECTED | reasons::APPLICATION_CHANGED
                )
        })
}

async fn api_failure(
    theme: &MeetingTheme,
    ctx: &Ctx,
    status: MeetingThemeStatus,
    error: ApiError,
    action: &str,
) -> (MeetingThemeStatus, Action) {
    let message = format!("{action}: {error}");
    match error.class() {
        ErrorClass::InvalidRequest | ErrorClass::QuotaExceeded | ErrorClass::Conflict => {
            ctx.events
                .warning(theme, reason::REJECTED, action, message.clone())
                .await;
            (
                failed(theme, status, reasons::REJECTED, message),
                Action::await_change(),
            )
        }
        ErrorClass::Unauthorized => {
            ctx.credentials.forget(
                &theme.namespace().unwrap_or_default(),
                theme.spec.credentials_ref.as_ref(),
            );
            (
                failed(
                    theme,
                    status,
                    reasons::CREDENTIALS,
                    format!("{message}; check the credentials Secret"),
                ),
                Action::requeue(ctx.backoff.next_delay(&key(theme))),
            )
        }
        _ => (
            failed(theme, status, reasons::API_ERROR, message),
            Action::requeue(ctx.backoff.next_delay(&key(theme))),
        ),
    }
}

async fn client_for(
    theme: &MeetingTheme,
    ctx: &Ctx,
    namespace: &str,
) -> Result<MeetingsClient, String> {
    ctx.credentials
        .client(namespace, theme.spec.credentials_ref.as_ref())
        .await
        .map_err(|e| e.to_string())
}

async fn sync(
    theme: &MeetingTheme,
    api: &Api<MeetingTheme>,
    ctx: &Ctx,
    namespace: &str,
    mut status: MeetingThemeStatus,
) -> Result<(MeetingThemeStatus, Action), Error> {
    let client = match client_for(theme, ctx, namespace).await {
        Ok(client) => client,
        Err(message) => {
            if status
                .conditions
                .iter()
                .all(|c| c.reason != reasons::CREDENTIALS)
            {
                ctx.events
                    .warning(
                        theme,
                        reason::CREDENTIALS,
                        "ResolveCredentials",
                        message.clone(),
                    )
                    .await;
            }
            return Ok((
                failed(theme, status, reasons::CREDENTIALS, message),
                Action::requeue(ctx.backoff.next_delay(&key(theme))),
            ));
        }
    };
    let app = client.application_id().to_owned();
    if let Some(owner) = status.application_id.as_deref()
        && status.theme_id.is_some()
        && owner != app
    {
        let message = format!(
            "the theme belongs to application {owner} but the credentials are for application {app}; restore the credentials or create a new MeetingTheme"
        );
        return Ok((
            failed(theme, status, reasons::APPLICATION_CHANGED, message),
            Action::await_change(),
        ));
    }
    let observe_only = theme.spec.management_policy == ManagementPolicy::ObserveOnly;
    if observe_only || theme.spec.deletion_policy == ThemeDeletionPolicy::Orphan {
        remove_finalizer(api, theme, FINALIZER).await?;
    } else {
        add_finalizer(api, theme, FINALIZER).await?;
    }
    let uid = theme.uid().unwrap_or_default();
    let generation = theme.metadata.generation;
    let remote = match status.theme_id.clone() {
        Some(theme_id)
            if status.observed_generation == generation
                && crate::crd::conditions::is_true(&status.conditions, SYNCED)
                && ctx.observed.is_recent(&uid, ctx.settings.resync) =>
        {
            // Nothing changed and the last observation is recent: no theme
            // read; the room count comes from the shared listing.
            if let Some(count) = count_remote_rooms(ctx, &client, &theme_id).await {
                status.room_count = Some(count);
            }
            // Theme logos: upload what changed (see `logos`).
            let logo_sync = logos::sync(theme, ctx, &client, &theme_id, &mut status, None).await;
            return Ok(logo_sync.apply(
                theme,
                ctx,
                ready(theme, ctx, status, None),
                Action::requeue(
                    ctx.settings
                        .resync_after(theme.metadata.annotations.as_ref()),
                ),
            ));
        }
        Some(theme_id) => match client.get_theme(&theme_id).await {
            Ok(remote) => remote,
            Err(ApiError::NotFound(_)) if observe_only => {
                let message = format!(
                    "observed theme {theme_id} no longer exists in the API; nothing is created in ObserveOnly mode"
                );
                return Ok((
                    failed(theme, status, reasons::REMOTE_NOT_FOUND, message),
                    Action::requeue(
                        ctx.settings
                            .resync_after(theme.metadata.annotations.as_ref()),
                    ),
                ));
            }
            Err(ApiError::NotFound(_)) => {
                ctx.events
                    .warning(
                        theme,
                        reason::RECREATED,
                        "Observe",
                        format!("theme {theme_id} no longer exists in the API; creating a new one"),
                    )
                    .await;
                status.theme_id = None;
                match create(theme, api, ctx, &client, &mut status).await? {
                    Ok(created) => created,
                    Err(failure) => return Ok(failure),
                }
            }
            Err(error) => return Ok(api_failure(theme, ctx, status, error, "Observe").await),
        },
        None => match theme.spec.adopt_id.as_deref() {
            Some(adopt_id) => match client.get_theme(adopt_id).await {
                Ok(found) => {
                    ctx.events
                        .normal(
                            theme,
                            reason::ADOPTED,
                            "Adopt",
                            format!("adopted existing theme {adopt_id}"),
                        )
                        .await;
                    status.theme_id = Some(found.theme_id.clone());
                    found
                }
                Err(ApiError::NotFound(_)) => {
                    let message = format!(
                        "spec.adoptId {adopt_id}: no such theme in application {app}; fix adoptId or remove it to create a theme"
                    );
                    return Ok((
                        failed(theme, status, reasons::REJECTED, message),
                        Action::await_change(),
                    ));
                }
                Err(error) => return Ok(api_failure(theme, ctx, status, error, "Adopt").await),
            },
            None => match create(theme, api, ctx, &client, &mut status).await? {
                Ok(created) => created,
                Err(failure) => return Ok(failure),
            },
        },
    };
    status.remote = Some(RemoteTheme {
        theme_name: remote.theme_name.clone(),
        main_color: remote.main_color.clone(),
        brand_text: remote.brand_text.clone(),
        short_company_url: remote.short_company_url.clone(),
    });
    let update = theme_diff(theme, &remote);
    let differences = changed_fields(&update);
    let remote = if update.is_empty() || observe_only {
        remote
    } else {
        match client.update_theme(&remote.theme_id, &update).await {
            Ok(updated) => {
                let spec_changed = status.observed_generation != generation;
                let fields = changed_fields(&update).join(", ");
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
                ctx.events.normal(theme, why, "Update", note).await;
                updated
            }
            Err(error) => return Ok(api_failure(theme, ctx, status, error, "Update").await),
        }
    };
    ctx.observed.mark(&uid);
    status.application_id = Some(app);
    let room_count = count_remote_rooms(ctx, &client, &remote.theme_id).await;
    if let Some(count) = room_count {
        status.room_count = Some(count);
    }
    if !observe_only
        && let Err(failure) = apply_application_default(theme, ctx, &client, &mut status).await
    {
        return Ok(failure);
    }
    ctx.backoff.reset(&key(theme));
    // Theme logos: upload what changed (see `logos`).
    let logo_sync = logos::sync(
        theme,
        ctx,
        &client,
        &remote.theme_id,
        &mut status,
        Some(&remote),
    )
    .await;
    let mut status = ready(theme, ctx, status, Some(&remote));
    if observe_only {
        let message = if differences.is_empty() {
            "observing; the remote theme matches the spec".to_owned()
        } else {
            format!(
                "observing only; the remote theme differs from the spec in {} (not changed in ObserveOnly mode)",
                differences.join(", ")
            )
        };
        set_condition(
            &mut status.conditions,
            condition(
                SYNCED,
                true,
                reasons::OBSERVE_ONLY,
                message,
                generation,
                now(),
            ),
        );
    }
    Ok(logo_sync.apply(
        theme,
        ctx,
        status,
        Action::requeue(
            ctx.settings
                .resync_after(theme.metadata.annotations.as_ref()),
        ),
    ))
}

/// Rooms in the API using the theme, from the shared listing (best effort).
async fn count_remote_rooms(ctx: &Ctx, client: &MeetingsClient, theme_id: &str) -> Option<u32> {
    let freshness = Freshness {
        max_age: ctx.settings.resync,
        not_before: None,
    };
    match ctx
        .snapshots
        .find(client, freshness, |r| {
            r.theme_id.as_deref() == Some(theme_id)
        })
        .await
    {
        Ok(rooms) => u32::try_from(rooms.len()).ok(),
        Err(error) => {
            tracing::debug!(%error, "could not count rooms of theme");
            None
        }
    }
}

fn theme_diff(theme: &MeetingTheme, remote: &Theme) -> ThemeUpdate {
    let spec = &theme.spec;
    let differs = |want: &str, have: &Option<String>| have.as_deref() != Some(want);
    let name = theme.desired_theme_name();
    ThemeUpdate {
        theme_name: differs(&name, &remote.theme_name).then_some(name),
        main_color: differs(&spec.main_color, &remote.main_color).then(|| spec.main_color.clone()),
        brand_text: differs(&spec.brand_text, &remote.brand_text).then(|| spec.brand_text.clone()),
        short_company_url: spec
            .short_company_url
            .as_ref()
            .filter(|want| differs(want, &remote.short_company_url))
            .cloned(),
    }
}

fn changed_fields(update: &ThemeUpdate) -> Vec<&'static str> {
    [
        (update.theme_name.is_some(), "themeName"),
        (update.main_color.is_some(), "mainColor"),
        (update.brand_text.is_some(), "brandText"),
        (update.short_company_url.is_some(), "shortCompanyUrl"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

type Failure = (MeetingThemeStatus, Action);

async fn create(
    theme: &MeetingTheme,
    api: &Api<MeetingTheme>,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &mut MeetingThemeStatus,
) -> Result<Result<Theme, Failure>, Error> {
    let app = client.application_id().to_owned();
    let name = theme.desired_theme_name();
    if let Some(pending) = status.pending_create.clone()
        && pending.application_id == app
    {
        match client.themes().await {
            Ok(themes) => {
                if let Some(found) = themes
                    .into_iter()
                    .find(|t| t.theme_name.as_deref() == Some(name.as_str()))
                {
                    ctx.events
                        .normal(
                            theme,
                            reason::RECOVERED,
                            "Create",
                            format!(
                                "found theme {} named {name} from an earlier create whose answer was lost; adopted it",
                                found.theme_id
                            ),
                        )
                        .await;
                    status.pending_create = None;
                    status.theme_id = Some(found.theme_id.clone());
                    return Ok(Ok(found));
                }
            }
            Err(error) => {
                return Ok(Err(api_failure(
                    theme,
                    ctx,
                    status.clone(),
                    error,
                    "RecoverCreate",
                )
                .await));
            }
        }
    }
    status.pending_create = Some(PendingCreate {
        started_at: format_timestamp(&Timestamp::now()),
        application_id: app.clone(),
    });
    status.application_id = Some(app);
    status.theme_name = Some(name.clone());
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            false,
            reasons::CREATING,
            "creating the theme in the Meetings API",
            theme.metadata.generation,
            now(),
        ),
    );
    summarize(&mut status.conditions, reasons::stalls, now());
    write_status(api, theme, &*status).await?;
    ctx.theme_statuses
        .remember(&theme.uid().unwrap_or_default(), status.clone());
    let request = CreateTheme {
        theme_name: Some(name),
        main_color: theme.spec.main_color.clone(),
        brand_text: theme.spec.brand_text.clone(),
        short_company_url: theme.spec.short_company_url.clone(),
    };
    match client.create_theme(&request).await {
        Ok(created) => {
            status.pending_create = None;
            status.theme_id = Some(created.theme_id.clone());
            ctx.events
                .normal(
                    theme,
                    reason::CREATED,
                    "Create",
                    format!("created theme {}", created.theme_id),
                )
                .await;
            Ok(Ok(created))
        }
        Err(error) => {
            if !error.may_have_committed() {
                status.pending_create = None;
            }
            Ok(Err(api_failure(
                theme,
                ctx,
                status.clone(),
                error,
                "Create",
            )
            .await))
        }
    }
}

/// Names of our `MeetingRoom`s in the theme's namespace that reference it.
fn local_users(theme: &MeetingTheme, ctx: &Ctx) -> Vec<String> {
    let namespace = theme.namespace();
    let name = theme.name_any();
    let mut users: Vec<String> = ctx
        .rooms
        .state()
        .iter()
        .filter(|room| room.namespace() == namespace)
        .filter(|room| room.spec.theme_ref.as_ref().is_some_and(|r| r.name == name))
        .map(|room| room.name_any())
        .collect();
    users.sort();
    users
}

fn ready(
    theme: &MeetingTheme,
    ctx: &Ctx,
    mut status: MeetingThemeStatus,
    remote: Option<&Theme>,
) -> MeetingThemeStatus {
    let generation = theme.metadata.generation;
    if let Some(remote) = remote {
        status.theme_id = Some(remote.theme_id.clone());
        status.theme_name = remote.theme_name.clone();
    }
    status.rooms = local_users(theme, ctx);
    status.pending_create = None;
    status.observed_generation = generation;
    let id = status.theme_id.clone().unwrap_or_default();
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            true,
            reasons::READY,
            format!("theme {id} is ready"),
            generation,
            now(),
        ),
    );
    // An observed theme's Synced condition (what differs) is set by the
    // full observation; repeated triggers keep it.
    if theme.spec.management_policy != ManagementPolicy::ObserveOnly {
        set_condition(
            &mut status.conditions,
            condition(
                SYNCED,
                true,
                reasons::READY,
                "the theme matches the spec",
                generation,
                now(),
            ),
        );
    }
    status
}

/// Deletion per policy. `None` when the finalizer is gone; otherwise the
/// blocked status and when to look again.
/// The id of the remote theme a create with a lost answer made, found by
/// name, if it made one.
async fn created_in_doubt(
    theme: &MeetingTheme,
    ctx: &Ctx,
    status: &MeetingThemeStatus,
) -> Result<Option<String>, Failure> {
    let namespace = theme.namespace().unwrap_or_default();
    let client = match client_for(theme, ctx, &namespace).await {
        Ok(client) => client,
        Err(message) => {
            return Err((
                failed(theme, status.clone(), reasons::CREDENTIALS, message),
                Action::requeue(ctx.backoff.next_delay(&key(theme))),
            ));
        }
    };
    let name = theme.desired_theme_name();
    match client.themes().await {
        Ok(themes) => Ok(themes
            .into_iter()
            .find(|t| t.theme_name.as_deref() == Some(name.as_str()))
            .map(|t| t.theme_id)),
        Err(error) => Err(api_failure(theme, ctx, status.clone(), error, "RecoverCreate").await),
    }
}

async fn cleanup(
    theme: &MeetingTheme,
    api: &Api<MeetingTheme>,
    ctx: &Ctx,
    status: MeetingThemeStatus,
) -> Result<Option<(MeetingThemeStatus, Action)>, Error> {
    if !theme.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(None);
    }
    let policy = theme.spec.deletion_policy;
    let theme_id = match status.theme_id.clone() {
        Some(id) => Some(id),
        // A create whose answer was lost may have made the theme: find it,
        // or deleting the MeetingTheme would leak it.
        None if status.pending_create.is_some() && policy != ThemeDeletionPolicy::Orphan => {
            match created_in_doubt(theme, ctx, &status).await {
                Ok(found) => found,
                Err(failure) => return Ok(Some(failure)),
            }
        }
        None => None,
    };
    let Some(theme_id) = theme_id else {
        remove_finalizer(api, theme, FINALIZER).await?;
        return Ok(None);
    };
    let was_default = status
        .application_default
        .as_ref()
        .is_some_and(|d| d.applied);
    if policy == ThemeDeletionPolicy::Orphan {
        let note = if was_default {
            format!("left theme {theme_id} in the API; it stays the application default")
        } else {
            format!("left theme {theme_id} in the API")
        };
        ctx.events
            .normal(theme, reason::ORPHANED, "Delete", note)
            .await;
        remove_finalizer(api, theme, FINALIZER).await?;
        return Ok(None);
    }
    if policy == ThemeDeletionPolicy::Delete {
        let users = local_users(theme, ctx);
        if !users.is_empty() {
            let message = format!(
                "deletion waits: MeetingRooms {} still use this theme; delete them or change their themeRef, or set deletionPolicy ForceDelete",
                users.join(", ")
            );
            return Ok(Some(blocked(theme, ctx, status, message).await));
        }
    }
    let namespace = theme.namespace().unwrap_or_default();
    let client = match client_for(theme, ctx, &namespace).await {
        Ok(client) => client,
        Err(message) => {
            let message = format!("cannot delete theme {theme_id}: {message}");
            return Ok(Some((
                failed(theme, status, reasons::CREDENTIALS, message),
                Action::requeue(ctx.backoff.next_delay(&key(theme))),
            )));
        }
    };
    let force = policy == ThemeDeletionPolicy::ForceDelete;
    match client.delete_theme(&theme_id, force).await {
        Ok(()) | Err(ApiError::NotFound(_)) => {
            let mut note = if force {
                format!(
                    "deleted theme {theme_id} with force; its rooms fall back to the default theme"
                )
            } else {
                format!("deleted theme {theme_id}")
            };
            if was_default {
                note.push_str("; it was the application default, so the application has no default theme until another MeetingTheme sets applicationDefault");
            }
            ctx.events
                .normal(theme, reason::DELETED, "Delete", note)
                .await;
            remove_finalizer(api, theme, FINALIZER).await?;
            Ok(None)
        }
        Err(ApiError::InvalidRequest(e)) => {
            let message = format!(
                "deletion waits: the API refused to delete theme {theme_id}: {e}; it is deleted once no room in the API uses it (rooms cannot be deleted, only expire), or set deletionPolicy ForceDelete"
            );
            Ok(Some(blocked(theme, ctx, status, message).await))
        }
        Err(error) => Ok(Some(api_failure(theme, ctx, status, error, "Delete").await)),
    }
}

async fn blocked(
    theme: &MeetingTheme,
    ctx: &Ctx,
    status: MeetingThemeStatus,
    message: String,
) -> (MeetingThemeStatus, Action) {
    let already = status
        .conditions
        .iter()
        .any(|c| c.reason == reasons::DELETION_BLOCKED && c.message == message);
    if !already {
        ctx.events
            .warning(theme, reason::DELETION_BLOCKED, "Delete", message.clone())
            .await;
    }
    let mut status = failed(theme, status, reasons::DELETION_BLOCKED, message);
    status.rooms = local_users(theme, ctx);
    // Room deletions trigger this theme through the watch; API users are polled.
    (status, Action::requeue(ctx.backoff.next_delay(&key(theme))))
}

/// Other themes of the same application asking to be its default.
fn default_contenders(theme: &MeetingTheme, ctx: &Ctx, application_id: &str) -> Vec<String> {
    let uid = theme.uid();
    let mut others: Vec<String> = ctx
        .themes
        .state()
        .iter()
        .filter(|other| other.uid() != uid && other.metadata.deletion_timestamp.is_none())
        .filter(|other| other.spec.application_default == Some(true))
        .filter(|other| {
            other
                .status
                .as_ref()
                .and_then(|s| s.application_id.as_deref())
                .is_none_or(|app| app == application_id)
        })
        .map(|other| {
            format!(
                "{}/{}",
                other.namespace().unwrap_or_default(),
                other.name_any()
            )
        })
        .collect();
    others.sort();
    others
}

/// Makes the theme the application default, or reports a conflict. The API
/// cannot read the setting back, so it is re-asserted on every resync.
async fn apply_application_default(
    theme: &MeetingTheme,
    ctx: &Ctx,
    client: &MeetingsClient,
    status: &mut MeetingThemeStatus,
) -> Result<(), (MeetingThemeStatus, Action)> {
    if theme.spec.application_default != Some(true) {
        if status
            .application_default
            .as_ref()
            .is_some_and(|d| d.applied)
        {
            // The API cannot unset a default; it stays until another theme is made default.
            status.application_default = Some(ApplicationDefaultStatus {
                applied: false,
                applied_at: None,
            });
        }
        return Ok(());
    }
    let Some(theme_id) = status.theme_id.clone() else {
        return Ok(());
    };
    let contenders = default_contenders(theme, ctx, client.application_id());
    if !contenders.is_empty() {
        let message = format!(
            "MeetingThemes {} also ask to be the default theme of application {}; keep applicationDefault on one of them",
            contenders.join(", "),
            client.application_id()
        );
        if status.conditions.iter().all(|c| c.message != message) {
            ctx.events
                .warning(theme, reason::REJECTED, "SetDefault", message.clone())
                .await;
        }
        return Err((
            failed(theme, status.clone(), reasons::DEFAULT_CONFLICT, message),
            Action::requeue(
                ctx.settings
                    .resync_after(theme.metadata.annotations.as_ref()),
            ),
        ));
    }
    match client.set_default_theme(&theme_id).await {
        Ok(_) => {
            let first = !status
                .application_default
                .as_ref()
                .is_some_and(|d| d.applied);
            if first {
                // Re-assertions keep the first time, so a resync writes no status.
                status.application_default = Some(ApplicationDefaultStatus {
                    applied: true,
                    applied_at: Some(format_timestamp(&Timestamp::now())),
                });
                ctx.events
                    .normal(
                        theme,
                        reason::DEFAULT_SET,
                        "SetDefault",
                        format!("theme {theme_id} is now the application default"),
                    )
                    .await;
            }
            Ok(())
        }
        Err(error) => Err(api_failure(theme, ctx, status.clone(), error, "SetDefault").await),
    }
}
