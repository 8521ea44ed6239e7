//! Standard status conditions (`Ready`, `Synced`) and how they are updated.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition saying the remote object exists and matches the manifest.
pub const READY: &str = "Ready";
/// Condition saying the last reconcile reached the API and applied the spec.
pub const SYNCED: &str = "Synced";

/// Builds a condition with the given state.
pub fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
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
}
