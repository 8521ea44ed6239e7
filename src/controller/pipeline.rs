//! The reconcile pipeline every managed object goes through, written once
//! for both kinds.
//!
//! Exactly-once creation: before the create call the pipeline records a
//! `pendingCreate` marker in status. If the answer is lost (timeout, dropped
//! connection, 5xx, or the operator dies before the status write), the next
//! pass finds the marker and asks the kind to recover the create (a room by
//! what the service stores for the request, a theme by its unique name)
//! before creating again.

use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use super::finish::{self, Ended};
use super::kind::{Change, ManagedKind, Observed, Vanished};
use super::outcome::{AWAITS_SPEC_CHANGE, Error, Failure, Halt, Next};
use super::pass::Pass;
use crate::crd::annotations;
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{READY, SYNCED, condition, now, set_condition};
use crate::crd::managed::ManagedStatus;
use crate::crd::reasons::{condition as reason, event};
use crate::crd::{FINALIZER, PendingCreate};
use crate::meetings::{MeetingsClient, format_timestamp};
use crate::services::kube_ops::{WriteError, add_finalizer, remove_finalizer, write_status};

/// Reconciles one object of kind `K`.
pub async fn reconcile<K: ManagedKind>(
    object: Arc<K::Object>,
    kind: Arc<K>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_once(object.as_ref(), kind.as_ref()).await;
    finish::record(kind.services(), K::KIND, &result, started.elapsed());
    result.map(|ended| match ended {
        Ended::Ran(action, _) => action,
        // The listing page wakes it.
        Ended::Parked => Action::await_change(),
    })
}

async fn reconcile_once<K: ManagedKind>(object: &K::Object, kind: &K) -> Result<Ended, Error> {
    if !kind.may_work() {
        tracing::debug!("waiting for the caches");
        return Ok(Ended::done(Action::await_change()));
    }
    let namespace = object
        .namespace()
        .ok_or(WriteError::MissingField("namespace"))?;
    let this = Pass {
        kind,
        object,
        api: Api::namespaced(kind.services().kube.clone(), &namespace),
        uid: object.uid().unwrap_or_default(),
    };
    let current = kind
        .statuses()
        .latest(&this.uid, K::observed_status(object));
    if annotations::paused(object.meta()) {
        return paused(&this, current).await.map(Ended::done);
    }
    let request = annotations::new_request(object.meta(), current.last_handled_reconcile_at())
        .map(str::to_owned);
    if object.meta().deletion_timestamp.is_some() {
        return deleting(&this, current, request).await;
    }
    if request.is_none()
        && let Some(action) = gate(&this, &current)
    {
        return Ok(Ended::done(action));
    }
    let mut status = current.clone();
    let ended = run(&this, &mut status, &namespace).await;
    finish::finish(&this, current, status, ended, request).await
}

/// Passes that do nothing: a rejection at this generation, backoff still
/// running, or the kind's own hold.
fn gate<K: ManagedKind>(this: &Pass<'_, K>, current: &K::Status) -> Option<Action> {
    let same_generation = current.observed_generation() == this.object.meta().generation;
    let rejected = current.conditions().iter().any(|c| {
        c.type_ == SYNCED && c.status == "False" && AWAITS_SPEC_CHANGE.contains(&c.reason.as_str())
    });
    if same_generation && rejected {
        return Some(Action::await_change());
    }
    let key = super::object_key(this.object);
    if same_generation && let Some(left) = this.kind.services().backoff.remaining(&key) {
        return Some(Action::requeue(left));
    }
    this.kind.hold(this.object, current).map(Action::requeue)
}

/// A paused object: no API call at all, deletion included; the conditions say so.
async fn paused<K: ManagedKind>(this: &Pass<'_, K>, current: K::Status) -> Result<Action, Error> {
    let meta = this.object.meta();
    let deleting = meta.deletion_timestamp.is_some();
    if deleting && !this.object.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut status = current.clone();
    let exists = status.remote_id().is_some();
    annotations::mark_paused(
        status.conditions_mut(),
        exists,
        deleting,
        meta.generation,
        now(),
    );
    status.set_observed_generation(meta.generation);
    finish::write_if_changed(this, &current, status).await?;
    Ok(Action::await_change())
}

/// Deletion: the kind's cleanup, then the finalizer goes.
async fn deleting<K: ManagedKind>(
    this: &Pass<'_, K>,
    current: K::Status,
    request: Option<String>,
) -> Result<Ended, Error> {
    if !this.object.finalizers().iter().any(|f| f == FINALIZER) {
        forget(this);
        return Ok(Ended::done(Action::await_change()));
    }
    let mut status = current.clone();
    match this.kind.finalize(this.object, &mut status).await {
        Ok(()) => {
            remove_finalizer(&this.api, this.object, FINALIZER).await?;
            forget(this);
            Ok(Ended::done(Action::await_change()))
        }
        Err(halt) => finish::finish(this, current, status, Err(halt), request).await,
    }
}

fn forget<K: ManagedKind>(this: &Pass<'_, K>) {
    this.kind.statuses().forget(&this.uid);
    this.kind.forget(&this.uid);
}

/// The phases of a pass that is not a deletion.
async fn run<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    namespace: &str,
) -> Result<Next, Halt> {
    let spec = K::spec(this.object);
    let client = this
        .kind
        .services()
        .credentials
        .client(namespace, spec.credentials_ref)
        .await
        .map_err(|problem| Failure::credentials(&problem))?;
    check_application::<K>(status, &client)?;
    if spec.wants_finalizer {
        add_finalizer(&this.api, this.object, FINALIZER).await?;
    } else {
        remove_finalizer(&this.api, this.object, FINALIZER).await?;
    }
    let plan = this.kind.plan(this.object, &client)?;
    let remote = locate(this, status, &client, &plan).await?;
    status.set_application_id(Some(client.application_id().to_owned()));
    let (remote, drift) = converge(this, status, &client, &plan, remote).await?;
    let extras = this
        .kind
        .extras(this.object, &client, status, &remote)
        .await?;
    Ok(this
        .kind
        .report(this.object, status, plan, &remote, &drift, extras))
}

/// Refuses to touch a remote object with credentials of another application.
fn check_application<K: ManagedKind>(
    status: &K::Status,
    client: &MeetingsClient,
) -> Result<(), Failure> {
    match status.application_id() {
        Some(owner) if status.remote_id().is_some() && owner != client.application_id() => {
            Err(Failure::rejected(
                reason::APPLICATION_CHANGED,
                format!(
                    "the {} belongs to application {owner} but the credentials are for application {}; restore the credentials or create a new {}",
                    K::NOUN,
                    client.application_id(),
                    K::KIND
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Finds the remote object: observes the known one, adopts `spec.adoptId`,
/// recovers a lost create, or creates it.
async fn locate<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    client: &MeetingsClient,
    plan: &K::Plan,
) -> Result<K::Remote, Halt> {
    let spec = K::spec(this.object);
    let Some(id) = status.remote_id().map(str::to_owned) else {
        return match spec.adopt_id {
            Some(adopt_id) => adopt(this, status, client, adopt_id).await,
            None => create(this, status, client, plan).await,
        };
    };
    let observed = this.kind.observe(this.object, client, &id, status).await;
    match observed.map_err(|error| Failure::api(&error, "Observe"))? {
        Observed::Found(remote) => Ok(remote),
        Observed::Parked => Err(Halt::Parked),
        Observed::Gone if spec.management_policy == ManagementPolicy::ObserveOnly => {
            Err(Failure::new(
                super::outcome::Category::Observed,
                reason::REMOTE_NOT_FOUND,
                format!(
                    "observed {} {id} no longer exists in the API; nothing is created in ObserveOnly mode",
                    K::NOUN
                ),
            )
            .into())
        }
        Observed::Gone => match this.kind.vanished(this.object, status, &id) {
            Vanished::Settled(next) => Err(Halt::Settled(next)),
            Vanished::Recreate(note) => {
                let events = &this.kind.services().events;
                events
                    .warning(this.object, event::RECREATED, "Observe", note)
                    .await;
                K::forget_remote(status);
                create(this, status, client, plan).await
            }
        },
    }
}

/// Takes over the existing remote object `spec.adoptId` names.
async fn adopt<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    client: &MeetingsClient,
    adopt_id: &str,
) -> Result<K::Remote, Halt> {
    let found = this.kind.adopt(client, adopt_id).await;
    let Some(remote) = found.map_err(|error| Failure::api(&error, "Adopt"))? else {
        return Err(Failure::rejected(
            reason::REJECTED,
            format!(
                "spec.adoptId {adopt_id}: no such {} in application {}; fix adoptId or remove it to create a {}",
                K::NOUN,
                client.application_id(),
                K::NOUN
            ),
        )
        .into());
    };
    let note = format!("adopted existing {}", K::describe(&remote));
    this.kind
        .services()
        .events
        .normal(this.object, event::ADOPTED, "Adopt", note)
        .await;
    status.set_remote_id(Some(K::remote_id(&remote).to_owned()));
    status.set_application_id(Some(client.application_id().to_owned()));
    Ok(remote)
}

/// Creates the remote object exactly once: recovers a create whose answer
/// was lost, else records the marker, then creates.
async fn create<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    client: &MeetingsClient,
    plan: &K::Plan,
) -> Result<K::Remote, Halt> {
    let request = this.kind.create_request(this.object, plan)?;
    let app = client.application_id().to_owned();
    if let Some(pending) = status
        .pending_create()
        .filter(|p| p.application_id == app)
        .cloned()
    {
        let recovered = this
            .kind
            .recover(this.object, client, &pending, &request)
            .await;
        if let Some(found) = recovered.map_err(|error| Failure::api(&error, "RecoverCreate"))? {
            let note = format!(
                "found {} from an earlier create whose answer was lost; adopted it instead of creating another",
                K::describe(&found)
            );
            created(this, status, &app, &found, event::CREATE_RECOVERED, note).await;
            return Ok(found);
        }
    }
    mark_creating(this, status, &app).await?;
    match this.kind.create(client, &request).await {
        Ok(new) => {
            this.kind.remember_remote(client, &new);
            let note = format!("created {}", K::describe(&new));
            created(this, status, &app, &new, event::CREATED, note).await;
            Ok(new)
        }
        Err(error) => {
            if !error.may_have_committed() {
                status.set_pending_create(None);
            }
            Err(Failure::api(&error, "Create").into())
        }
    }
}

/// Records the create marker in status before the create call.
async fn mark_creating<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    app: &str,
) -> Result<(), Halt> {
    status.set_pending_create(Some(PendingCreate {
        started_at: format_timestamp(&Timestamp::now()),
        application_id: app.to_owned(),
    }));
    status.set_application_id(Some(app.to_owned()));
    K::mark_creating(this.object, status);
    let message = format!("creating the {} in the Meetings API", K::NOUN);
    let generation = this.object.meta().generation;
    set_condition(
        status.conditions_mut(),
        condition(READY, false, reason::CREATING, message, generation, now()),
    );
    finish::summarize(status);
    write_status(&this.api, this.object, &*status).await?;
    this.kind.statuses().remember(&this.uid, status.clone());
    this.kind.wrote_status(&this.uid);
    Ok(())
}

/// Records a created or recovered remote object and publishes the event.
async fn created<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &mut K::Status,
    app: &str,
    remote: &K::Remote,
    why: &'static str,
    note: String,
) {
    status.set_pending_create(None);
    status.set_remote_id(Some(K::remote_id(remote).to_owned()));
    status.set_application_id(Some(app.to_owned()));
    this.kind
        .services()
        .events
        .normal(this.object, why, "Create", note)
        .await;
}

/// Sends the fields that differ (managed objects) or names them (observed
/// ones); returns the remote object as it now is and the fields that drift.
async fn converge<K: ManagedKind>(
    this: &Pass<'_, K>,
    status: &K::Status,
    client: &MeetingsClient,
    plan: &K::Plan,
    remote: K::Remote,
) -> Result<(K::Remote, Vec<&'static str>), Halt> {
    let Some(Change { update, fields }) = this.kind.diff(this.object, status, plan, &remote)?
    else {
        return Ok((remote, Vec::new()));
    };
    if K::spec(this.object).management_policy == ManagementPolicy::ObserveOnly {
        return Ok((remote, fields));
    }
    K::may_update(this.object, &fields)?;
    let id = K::remote_id(&remote).to_owned();
    let updated = this.kind.update(client, &id, &update).await;
    let updated = updated.map_err(|error| Failure::api(&error, "Update"))?;
    this.kind.remember_remote(client, &updated);
    let fields = fields.join(", ");
    let (why, note) = if status.observed_generation() != this.object.meta().generation {
        (
            event::UPDATED,
            format!("updated {fields} to match the spec"),
        )
    } else {
        (
            event::DRIFT_CORRECTED,
            format!("{fields} had been changed outside Kubernetes; restored them"),
        )
    };
    this.kind
        .services()
        .events
        .normal(this.object, why, "Update", note)
        .await;
    Ok((updated, Vec::new()))
}
