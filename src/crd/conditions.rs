//! Standard status conditions (`Ready`, `Synced`), the kstatus conditions
//! derived from them (`Reconciling`, `Stalled`), and how they are updated.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize, Serializer};

use crate::interned::SharedStr;
use crate::utc_text::{Precision, UtcText};

/// A status condition, encoded exactly as Kubernetes' `metav1.Condition`
/// (the same schema). Its strings are shared copies: the operator caches
/// every room, and their conditions take a few distinct values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Kind of condition (`Ready`, `Synced`, ...).
    #[serde(rename = "type")]
    pub type_: SharedStr,
    /// `True`, `False` or `Unknown`.
    pub status: SharedStr,
    /// Machine-readable reason of the last transition.
    pub reason: SharedStr,
    /// Human-readable details.
    pub message: SharedStr,
    /// When the status last changed.
    #[serde(serialize_with = "serialize_time")]
    pub last_transition_time: Time,
    /// Generation of the object the condition was set from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl schemars::JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        <k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as schemars::JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as schemars::JsonSchema>::json_schema(
            generator,
        )
    }
}

/// Writes `time` as `Time` does (`2026-01-02T03:04:05Z`) without reading a
/// format string: each status write carries up to four of them.
fn serialize_time<S: Serializer>(time: &Time, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&UtcText {
        at: time.0,
        precision: Precision::Seconds,
    })
}

/// Condition saying the remote object exists and matches the manifest.
pub const READY: &str = "Ready";
/// Condition saying the last reconcile reached the API and applied the spec.
pub const SYNCED: &str = "Synced";
/// kstatus condition: the operator is still working towards the spec
/// (creating, waiting for a dependency, retrying after a transient error).
pub const RECONCILING: &str = "Reconciling";
/// kstatus condition: the operator cannot make progress until something
/// changes (the spec, a credential, another object).
pub const STALLED: &str = "Stalled";

/// Builds a condition with the given state.
pub fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<SharedStr>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation,
        last_transition_time: now,
    }
}

/// Replaces or adds `new` in `conditions`, keeping `lastTransitionTime` when
/// the status did not change. Returns whether anything changed.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let unchanged = existing.status == new.status
                && existing.reason == new.reason
                && existing.message == new.message
                && existing.observed_generation == new.observed_generation;
            if unchanged {
                return false;
            }
            let transition = if existing.status == new.status {
                existing.last_transition_time.clone()
            } else {
                new.last_transition_time.clone()
            };
            *existing = Condition {
                last_transition_time: transition,
                ..new
            };
            true
        }
        None => {
            conditions.push(new);
            true
        }
    }
}

/// Sets `Reconciling` or `Stalled` from `Ready` and `Synced`, so that tools
/// computing kstatus (Flux, Argo CD, `kubectl wait`) read an object's health
/// right: the first failing one of `Synced` and `Ready` becomes `Stalled`
/// when `stalls` says its reason needs a change, else `Reconciling`, with its
/// reason and message; the other is removed, and both once nothing fails.
/// Conditions are then put in one order (`Ready`, `Synced`, `Reconciling`,
/// `Stalled`, others), so that the same conditions always compare equal.
/// Returns whether anything changed.
pub fn summarize(
    conditions: &mut Vec<Condition>,
    stalls: impl Fn(&str) -> bool,
    now: Time,
) -> bool {
    let failing = [SYNCED, READY]
        .into_iter()
        .filter_map(|type_| find(conditions, type_))
        .find(|c| c.status == "False")
        .cloned();
    let active = failing.map(|c| {
        let type_ = if stalls(&c.reason) {
            STALLED
        } else {
            RECONCILING
        };
        condition(
            type_,
            true,
            &c.reason,
            c.message,
            c.observed_generation,
            now,
        )
    });
    let before = conditions.len();
    conditions.retain(|c| {
        !(c.type_ == RECONCILING || c.type_ == STALLED)
            || active.as_ref().is_some_and(|a| a.type_ == c.type_)
    });
    let removed = conditions.len() != before;
    let set = active.is_some_and(|a| set_condition(conditions, a));
    let rank = |c: &Condition| {
        [READY, SYNCED, RECONCILING, STALLED]
            .iter()
            .position(|t| c.type_ == *t)
            .unwrap_or(4)
    };
    let sorted = conditions.is_sorted_by_key(rank);
    conditions.sort_by_key(rank);
    removed || set || !sorted
}

/// The state `conditions` describe, for metrics: `stalled` or `reconciling`
/// with the reason of that condition, else `ready` with `Ready`'s reason.
pub fn outcome(conditions: &[Condition]) -> (&'static str, &str) {
    for (type_, label) in [(STALLED, "stalled"), (RECONCILING, "reconciling")] {
        if let Some(c) = find(conditions, type_).filter(|c| c.status == "True") {
            return (label, &c.reason);
        }
    }
    (
        "ready",
        find(conditions, READY).map_or("Unknown", |c| c.reason.as_str()),
    )
}

/// The current time as a Kubernetes timestamp, in whole seconds: that is
/// how the API server stores it, so a status written with it reads back
/// equal.
pub fn now() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition `type_` is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stalls(reason: &str) -> bool {
        reason == "Rejected"
    }

    fn types(conditions: &[Condition]) -> Vec<(&str, &str, &str)> {
        conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
            .collect()
    }

    #[test]
    fn a_failure_that_needs_a_change_stalls() {
        let mut conditions = vec![
            condition(READY, true, "Ready", "ok", Some(2), at(1)),
            condition(SYNCED, false, "Rejected", "no", Some(2), at(1)),
        ];
        assert!(summarize(&mut conditions, stalls, at(5)));
        assert_eq!(
            types(&conditions),
            [
                ("Ready", "True", "Ready"),
                ("Synced", "False", "Rejected"),
                ("Stalled", "True", "Rejected")
            ]
        );
        assert_eq!(
            find(&conditions, STALLED).unwrap().observed_generation,
            Some(2)
        );
        assert!(!summarize(&mut conditions, stalls, at(6)), "unchanged");
    }

    #[test]
    fn the_outcome_names_the_state_and_its_reason() {
        let mut conditions = vec![condition(READY, false, "ApiError", "503", Some(1), at(1))];
        summarize(&mut conditions, stalls, at(2));
        assert_eq!(outcome(&conditions), ("reconciling", "ApiError"));
        set_condition(
            &mut conditions,
            condition(SYNCED, false, "Rejected", "no", Some(1), at(3)),
        );
        summarize(&mut conditions, stalls, at(3));
        assert_eq!(outcome(&conditions), ("stalled", "Rejected"));
        let ready = [condition(READY, true, "Ready", "ok", Some(1), at(1))];
        assert_eq!(outcome(&ready), ("ready", "Ready"));
    }

    #[test]
    fn other_failures_are_reconciling_and_success_clears_both() {
        let mut conditions = vec![
            condition(READY, false, "Creating", "creating", Some(1), at(1)),
            condition(STALLED, true, "Rejected", "old", Some(1), at(1)),
        ];
        assert!(summarize(&mut conditions, stalls, at(5)));
        assert_eq!(
            types(&conditions),
            [
                ("Ready", "False", "Creating"),
                ("Reconciling", "True", "Creating")
            ]
        );
        set_condition(
            &mut conditions,
            condition(READY, true, "Ready", "ok", Some(1), at(7)),
        );
        set_condition(
            &mut conditions,
            condition(SYNCED, true, "Ready", "ok", Some(1), at(7)),
        );
        assert!(summarize(&mut conditions, stalls, at(8)));
        assert_eq!(
            types(&conditions),
            [("Ready", "True", "Ready"), ("Synced", "True", "Ready")]
        );
    }

    #[test]
    fn decoded_conditions_share_their_strings_and_encode_as_kubernetes_does() {
        let text = r#"{"lastTransitionTime":"2026-01-02T03:04:05Z","message":"the room matches the spec","observedGeneration":3,"reason":"Ready","status":"True","type":"Synced"}"#;
        let first: Condition = serde_json::from_str(text).unwrap();
        let second: Condition = serde_json::from_str(text).unwrap();
        assert!(std::ptr::eq(
            first.message.as_str(),
            second.message.as_str()
        ));
        assert!(std::ptr::eq(first.type_.as_str(), second.type_.as_str()));
        let theirs: k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition =
            serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::to_value(&theirs).unwrap()
        );
        assert_eq!(serde_json::to_string(&first).unwrap().len(), text.len());
    }

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn keeps_transition_time_while_status_holds() {
        let mut conditions = Vec::new();
        assert!(set_condition(
            &mut conditions,
            condition(READY, false, "Creating", "creating", Some(1), at(10))
        ));
        assert!(set_condition(
            &mut conditions,
            condition(READY, false, "Waiting", "waiting", Some(1), at(20))
        ));
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert!(set_condition(
            &mut conditions,
            condition(READY, true, "Ready", "ok", Some(1), at(30))
        ));
        assert_eq!(conditions[0].last_transition_time, at(30));
        assert!(!set_condition(
            &mut conditions,
            condition(READY, true, "Ready", "ok", Some(1), at(40))
        ));
        assert!(is_true(&conditions, READY));
    }

    #[test]
    fn a_condition_time_is_written_as_kubernetes_time_writes_it() {
        let times = [
            "2026-01-02T03:04:05Z",
            "1999-12-31T23:59:59Z",
            "0987-06-05T04:03:02Z",
            "9999-12-30T21:59:59Z",
            "2026-12-05T10:11:12.345678Z",
        ]
        .map(|text| text.parse().unwrap());
        for at in times.into_iter().chain([jiff::Timestamp::MIN]) {
            let time = Time(at);
            let text = at.to_string();
            let mut ours = serde_json::Serializer::new(Vec::new());
            serialize_time(&time, &mut ours).unwrap();
            let theirs = serde_json::to_vec(&time).unwrap();
            assert_eq!(
                String::from_utf8(ours.into_inner()).unwrap(),
                String::from_utf8(theirs).unwrap(),
                "{text}"
            );
        }
    }
}
