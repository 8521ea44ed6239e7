//! The end of every pass: a failure becomes conditions and its event, the
//! status is summarised and written when it changed, backoff and the requeue
//! are decided, and the outcome is counted. Backoff is decided here and in
//! the error policy, nowhere else.

use std::sync::Arc;
use std::time::Duration;

use kube::Resource;
use kube::runtime::controller::Action;

use super::context::Services;
use super::kind::{ManagedKind, SpecView};
use super::outcome::{Error, Failure, Halt, Next, UNREADY_WHEN_EXISTING};
use super::pass::Pass;
use crate::crd::conditions::{self, READY, SYNCED, condition, now, set_condition};
use crate::crd::managed::ManagedStatus;
use crate::crd::reasons::condition::stalls;
use crate::services::kube_ops::write_status;

/// How a pass ended, for the controller and the metrics.
#[derive(Debug)]
pub(super) enum Ended {
    /// It ran: the requeue, and the metrics reason when it failed.
    Ran(Action, Option<&'static str>),
    /// It waits for its listing page (see [`Halt::Parked`]): nothing was
    /// written, and the pass is not counted.
    Parked,
}

impl Ended {
    /// A pass that ran and did not fail.
    pub(super) fn done(action: Action) -> Self {
        Ended::Ran(action, None)
    }
}

/// Folds how the pass ended into `status`, writes it if it changed, and
/// returns the requeue with the metrics reason of a failure.
pub(super) async fn finish<K: ManagedKind>(
    this: &Pass<'_, K>,
    current: K::Status,
    mut status: K::Status,
    ended: Result<Next, Halt>,
    request: Option<String>,
) -> Result<Ended, Error> {
    let (next, failed) = match ended {
        Ok(next) => (next, None),
        Err(Halt::Parked) => return Ok(Ended::Parked),
        Err(Halt::Settled(next)) => (next, None),
        Err(Halt::Aborted(error)) => return Err(error),
        Err(Halt::Failed(failure)) => {
            let next = failure.category.next();
            let reason = failure.metric_reason();
            fail(this, &current, &mut status, failure).await;
            (next, Some(reason))
        }
    };
    if request.is_some() {
        status.set_last_handled_reconcile_at(request);
    }
    write_if_changed(this, &current, status.clone()).await?;
    let services = this.kind.services();
    let (state, reason) = conditions::outcome(status.conditions());
    services.metrics.reconcile_outcome(K::KIND, state, reason);
    let key = super::object_key(this.object);
    if next != Next::Backoff && conditions::is_true(status.conditions(), SYNCED) {
        services.backoff.reset(&key);
    }
    let own_resync = || {
        let annotations = this.object.meta().annotations.as_ref();
        services.settings.own_resync(annotations)
    };
    let action = match next {
        Next::Resync => own_resync().map_or_else(Action::await_change, Action::requeue),
        Next::After(delay) => match own_resync() {
            Some(resync) => Action::requeue(delay.min(resync)),
            // The cycle wakes every theme, and the room listing hands over
            // rooms whose delay ends before the one after next (see
            // `Settings::expiry_horizon`).
            None if delay <= services.settings.expiry_horizon() => Action::requeue(delay),
            None => Action::await_change(),
        },
        Next::AwaitChange => Action::await_change(),
        Next::Backoff => Action::requeue(services.backoff.next_delay(&key)),
    };
    Ok(Ended::Ran(action, failed))
}

/// Sets the failure's conditions and publishes its event. `Ready` turns
/// false only while nothing exists remotely or when the reason says the
/// object is unusable: an existing object stays usable when a change fails.
async fn fail<K: ManagedKind>(
    this: &Pass<'_, K>,
    current: &K::Status,
    status: &mut K::Status,
    failure: Failure,
) {
    let services = this.kind.services();
    if failure.refused_credentials() {
        let SpecView {
            credentials_ref, ..
        } = K::spec(this.object);
        let namespace = this.object.meta().namespace.as_deref().unwrap_or_default();
        services.credentials.forget(namespace, credentials_ref);
    }
    if let Some(warning) = failure.warning {
        let reported = conditions::find(current.conditions(), SYNCED).is_some_and(|c| {
            c.status == "False" && c.reason == failure.reason && c.message == failure.message
        });
        if !(warning.once && reported) {
            services
                .events
                .warning(
                    this.object,
                    warning.reason,
                    warning.action,
                    failure.message.clone(),
                )
                .await;
        }
    }
    let generation = this.object.meta().generation;
    if status.remote_id().is_none() || UNREADY_WHEN_EXISTING.contains(&failure.reason) {
        set_condition(
            status.conditions_mut(),
            condition(
                READY,
                false,
                failure.reason,
                failure.message.clone(),
                generation,
                now(),
            ),
        );
    }
    set_condition(
        status.conditions_mut(),
        condition(
            SYNCED,
            false,
            failure.reason,
            failure.message,
            generation,
            now(),
        ),
    );
    status.set_observed_generation(generation);
}

/// Sets `Reconciling`/`Stalled` from `Ready` and `Synced` (see
/// [`conditions::summarize`]).
pub(super) fn summarize<S: ManagedStatus>(status: &mut S) {
    conditions::summarize(status.conditions_mut(), stalls, now());
}

/// Summarises `status` and writes it when it differs from `current`.
pub(super) async fn write_if_changed<K: ManagedKind>(
    this: &Pass<'_, K>,
    current: &K::Status,
    mut status: K::Status,
) -> Result<(), Error> {
    summarize(&mut status);
    if status == *current {
        return Ok(());
    }
    debug_status_change(current, &status);
    write_status(&this.api, this.object, &status).await?;
    this.kind.statuses().remember(&this.uid, status);
    this.kind.wrote_status(&this.uid);
    Ok(())
}

/// Counts a finished pass: its result (`success`, or `error` with the
/// reason of a failure or of an aborted pass) and its duration. A parked
/// pass is only logged.
pub(super) fn record(
    services: &Services,
    kind: &'static str,
    result: &Result<Ended, Error>,
    took: Duration,
) {
    let error = match result {
        Ok(Ended::Parked) => {
            tracing::debug!("parked until its listing page is read");
            return;
        }
        Ok(Ended::Ran(_, failed)) => *failed,
        Err(error) => Some(error.metric_reason()),
    };
    services.metrics.reconcile_finished(kind, error, took);
    tracing::debug!(
        took_ms = took.as_millis() as u64,
        ok = error.is_none(),
        "reconciled"
    );
}

/// Requeues an aborted reconcile with per-object exponential backoff.
pub fn error_policy<K: ManagedKind>(object: Arc<K::Object>, error: &Error, kind: Arc<K>) -> Action {
    let key = super::object_key(object.as_ref());
    let delay = kind.services().backoff.next_delay(&key);
    tracing::warn!(
        object = %key,
        %error,
        retry_in_ms = delay.as_millis() as u64,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// Logs at debug level which top-level status fields a status write
/// changes (why was this written?); nothing is compared unless debug is on.
fn debug_status_change<S: serde::Serialize>(before: &S, after: &S) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let fields = changed_status_fields(before, after);
        tracing::debug!(?fields, "writing status");
    }
}

/// The top-level status fields that differ between two statuses.
fn changed_status_fields<S: serde::Serialize>(before: &S, after: &S) -> Vec<String> {
    let (Ok(serde_json::Value::Object(before)), Ok(serde_json::Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut fields: Vec<String> = after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect();
    fields.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_status_fields_names_changed_added_and_removed_fields() {
        let before = serde_json::json!({"roomId": "r", "meetingCode": "1", "guestUrl": "g"});
        let after = serde_json::json!({"roomId": "r", "meetingCode": "2", "themeId": "t"});
        let mut fields = changed_status_fields(&before, &after);
        fields.sort();
        assert_eq!(fields, ["guestUrl", "meetingCode", "themeId"]);
    }
}
