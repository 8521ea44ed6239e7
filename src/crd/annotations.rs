//! Annotations that steer the operator per object: pausing it, and asking
//! for a reconcile now.

use crate::crd::conditions::Condition;
use kube::api::ObjectMeta;

use crate::crd::conditions::{READY, SYNCED, condition, set_condition};

/// `"true"` stops every Meetings API write for the object, deletion's included.
pub const PAUSED: &str = "meetings.vonage.com/paused";
/// Any new value reconciles the object at once, past backoff and past a
/// rejection that would otherwise wait for a spec change.
pub const RECONCILE_REQUESTED_AT: &str = "meetings.vonage.com/reconcile-requested-at";
/// Overrides the resync period of one object (e.g. `30s`, `10m`).
pub const RESYNC_PERIOD: &str = "meetings.vonage.com/resync-period";

fn value<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether the object is paused.
pub fn paused(meta: &ObjectMeta) -> bool {
    value(meta, PAUSED) == Some("true")
}

/// The reconcile request not handled yet: the annotation's value when it
/// differs from the one status last recorded.
pub fn new_request<'a>(meta: &'a ObjectMeta, handled: Option<&str>) -> Option<&'a str> {
    value(meta, RECONCILE_REQUESTED_AT).filter(|requested| Some(*requested) != handled)
}

/// Sets a paused object's conditions: `Synced`, and `Ready` while nothing
/// exists remotely yet, say that it is paused (and that deletion waits).
pub fn mark_paused(
    conditions: &mut Vec<Condition>,
    exists: bool,
    deleting: bool,
    generation: Option<i64>,
    now: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) {
    let message = paused_message(deleting);
    let paused = |type_| {
        condition(
            type_,
            false,
            crate::crd::reasons::condition::PAUSED,
            message.clone(),
            generation,
            now.clone(),
        )
    };
    set_condition(conditions, paused(SYNCED));
    if !exists {
        set_condition(conditions, paused(READY));
    }
}

/// What a paused object's conditions say.
fn paused_message(deleting: bool) -> String {
    if deleting {
        format!(
            "deletion waits: reconciliation is paused by the annotation {PAUSED}=true, so the remote object is not cleaned up and the finalizer stays; remove the annotation to let deletion finish"
        )
    } else {
        format!(
            "reconciliation is paused by the annotation {PAUSED}=true: nothing is written to the Meetings API; remove the annotation to resume"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            annotations: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn only_true_pauses() {
        assert!(paused(&meta(&[(PAUSED, "true")])));
        assert!(!paused(&meta(&[(PAUSED, "false")])));
        assert!(!paused(&ObjectMeta::default()));
    }

    #[test]
    fn a_request_is_new_until_status_records_it() {
        let m = meta(&[(RECONCILE_REQUESTED_AT, "2026-12-02T10:00:00Z")]);
        assert_eq!(new_request(&m, None), Some("2026-12-02T10:00:00Z"));
        assert_eq!(
            new_request(&m, Some("earlier")),
            Some("2026-12-02T10:00:00Z")
        );
        assert_eq!(new_request(&m, Some("2026-12-02T10:00:00Z")), None);
        assert_eq!(new_request(&ObjectMeta::default(), None), None);
    }
}
