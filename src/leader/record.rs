//! The pure part of the election: judging a Lease record and writing the next one.
//!
//! Expiry is judged on this process's monotonic clock, never on the holder's
//! `renewTime`: a record counts as renewed when a candidate first sees it
//! change, and expires `leaseDurationSeconds` after that. Clock skew between
//! machines therefore cannot shorten a lease.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use tokio::time::Instant;

/// Lease duration written when the lease is released, so that even a
/// candidate that ignores the empty holder waits at most this long.
pub(crate) const RELEASED_DURATION_SECONDS: i32 = 1;

/// Who holds a lease, as one candidate sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Nobody: never taken, or released.
    Free,
    /// This candidate.
    Ours,
    /// Another candidate, who still has `remaining` before it must have renewed.
    Held {
        /// The holder's identity.
        holder: String,
        /// Time left before the holder's claim lapses.
        remaining: Duration,
    },
    /// Another candidate that did not renew in time.
    Expired {
        /// The silent holder's identity.
        holder: String,
    },
}

/// The non-empty `holderIdentity` of a record.
pub(crate) fn holder(spec: Option<&LeaseSpec>) -> Option<&str> {
    spec.and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// Remembers when a record was last seen to change.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    last: Option<(LeaseSpec, Instant)>,
}

impl Observer {
    /// Notes `spec` as seen at `now`; returns when it was first seen in this form.
    pub(crate) fn observe(&mut self, spec: &LeaseSpec, now: Instant) -> Instant {
        match &self.last {
            Some((seen, at)) if seen == spec => *at,
            _ => {
                self.last = Some((spec.clone(), now));
                now
            }
        }
    }

    /// Judges the record `spec` for `identity` at `now`; `default_duration`
    /// applies when the record has no positive `leaseDurationSeconds`.
    pub(crate) fn claim(
        &mut self,
        spec: Option<&LeaseSpec>,
        identity: &str,
        default_duration: Duration,
        now: Instant,
    ) -> Claim {
        let (Some(spec), Some(holder)) = (spec, holder(spec)) else {
            return Claim::Free;
        };
        if holder == identity {
            return Claim::Ours;
        }
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(default_duration, Duration::from_secs);
        let expiry = self.observe(spec, now) + duration;
        match expiry.checked_duration_since(now) {
            Some(remaining) if !remaining.is_zero() => Claim::Held {
                holder: holder.to_owned(),
                remaining,
            },
            _ => Claim::Expired {
                holder: holder.to_owned(),
            },
        }
    }
}

/// The record after `identity` acquires or renews the lease described by `old`.
///
/// Fields this module does not manage (`preferredHolder`, `strategy`) are kept.
pub(crate) fn claimed(
    old: Option<&LeaseSpec>,
    identity: &str,
    duration_seconds: i32,
    now: jiff::Timestamp,
) -> LeaseSpec {
    let mut spec = old.cloned().unwrap_or_default();
    let changes_hands = holder(old) != Some(identity);
    if changes_hands {
        spec.acquire_time = Some(MicroTime(now));
        if old.is_some() {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
    }
    spec.lease_transitions.get_or_insert(0);
    spec.acquire_time.get_or_insert(MicroTime(now));
    spec.holder_identity = Some(identity.to_owned());
    spec.lease_duration_seconds = Some(duration_seconds);
    spec.renew_time = Some(MicroTime(now));
    spec
}

/// The record after its holder releases it: no holder, a one-second duration.
pub(crate) fn released(old: &LeaseSpec, now: jiff::Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(RELEASED_DURATION_SECONDS),
        renew_time: Some(MicroTime(now)),
        ..old.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Duration = Duration::from_secs(15);

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    fn held_by(holder: &str, duration: i32, renewed: i64) -> LeaseSpec {
        claimed(None, holder, duration, at(renewed))
    }

    #[test]
    fn missing_or_empty_holder_is_free() {
        let now = Instant::now();
        let mut o = Observer::default();
        assert_eq!(o.claim(None, "me", DEFAULT, now), Claim::Free);
        assert_eq!(
            o.claim(Some(&LeaseSpec::default()), "me", DEFAULT, now),
            Claim::Free
        );
        let empty = LeaseSpec {
            holder_identity: Some(String::new()),
            ..held_by("x", 15, 0)
        };
        assert_eq!(o.claim(Some(&empty), "me", DEFAULT, now), Claim::Free);
        let released = released(&held_by("other", 15, 0), at(1));
        assert_eq!(o.claim(Some(&released), "me", DEFAULT, now), Claim::Free);
    }

    #[test]
    fn own_record_is_ours_whatever_its_age() {
        let mut o = Observer::default();
        let spec = held_by("me", 15, -3600);
        assert_eq!(
            o.claim(Some(&spec), "me", DEFAULT, Instant::now()),
            Claim::Ours
        );
    }

    #[test]
    fn expiry_counts_from_when_the_record_was_first_seen() {
        let t0 = Instant::now();
        let mut o = Observer::default();
        // Renewed "an hour ago" by the holder's clock: that clock is not trusted.
        let spec = held_by("other", 10, -3600);
        assert_eq!(
            o.claim(Some(&spec), "me", DEFAULT, t0),
            Claim::Held {
                holder: "other".into(),
                remaining: Duration::from_secs(10)
            }
        );
        assert_eq!(
            o.claim(Some(&spec), "me", DEFAULT, t0 + Duration::from_secs(4)),
            Claim::Held {
                holder: "other".into(),
                remaining: Duration::from_secs(6)
            }
        );
        assert_eq!(
            o.claim(Some(&spec), "me", DEFAULT, t0 + Duration::from_secs(10)),
            Claim::Expired {
                holder: "other".into()
            }
        );
    }

    #[test]
    fn a_renewal_restarts_the_clock() {
        let t0 = Instant::now();
        let mut o = Observer::default();
        let first = held_by("other", 10, 0);
        o.claim(Some(&first), "me", DEFAULT, t0);
        let renewed = claimed(Some(&first), "other", 10, at(5));
        let t1 = t0 + Duration::from_secs(9);
        assert_eq!(
            o.claim(Some(&renewed), "me", DEFAULT, t1),
            Claim::Held {
                holder: "other".into(),
                remaining: Duration::from_secs(10)
            }
        );
        assert!(matches!(
            o.claim(Some(&renewed), "me", DEFAULT, t1 + Duration::from_secs(10)),
            Claim::Expired { .. }
        ));
    }

    #[test]
    fn missing_duration_uses_the_default() {
        let t0 = Instant::now();
        let mut o = Observer::default();
        let spec = LeaseSpec {
            lease_duration_seconds: None,
            ..held_by("other", 10, 0)
        };
        assert_eq!(
            o.claim(Some(&spec), "me", DEFAULT, t0),
            Claim::Held {
                holder: "other".into(),
                remaining: DEFAULT
            }
        );
    }

    #[test]
    fn first_acquisition_starts_the_count_at_zero() {
        let spec = claimed(None, "me", 15, at(0));
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.lease_transitions, Some(0));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(0))));
    }

    #[test]
    fn renewal_keeps_acquire_time_and_transitions() {
        let first = claimed(None, "me", 15, at(0));
        let renewed = claimed(Some(&first), "me", 15, at(5));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(5))));
        assert_eq!(renewed.lease_transitions, Some(0));
    }

    #[test]
    fn takeover_counts_a_transition_and_keeps_foreign_fields() {
        let mut theirs = held_by("other", 15, 0);
        theirs.lease_transitions = Some(4);
        theirs.strategy = Some("OldestEmulationVersion".into());
        let ours = claimed(Some(&theirs), "me", 7, at(30));
        assert_eq!(ours.holder_identity.as_deref(), Some("me"));
        assert_eq!(ours.lease_transitions, Some(5));
        assert_eq!(ours.lease_duration_seconds, Some(7));
        assert_eq!(ours.acquire_time, Some(MicroTime(at(30))));
        assert_eq!(ours.strategy.as_deref(), Some("OldestEmulationVersion"));
    }

    #[test]
    fn release_clears_the_holder_and_shortens_the_lease() {
        let mine = claimed(None, "me", 15, at(0));
        let gone = released(&mine, at(9));
        assert_eq!(gone.holder_identity, None);
        assert_eq!(gone.lease_duration_seconds, Some(RELEASED_DURATION_SECONDS));
        assert_eq!(gone.renew_time, Some(MicroTime(at(9))));
        assert_eq!(gone.lease_transitions, Some(0));
        // Whoever takes it next counts one transition.
        assert_eq!(
            claimed(Some(&gone), "next", 15, at(10)).lease_transitions,
            Some(1)
        );
    }
}
