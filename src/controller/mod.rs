//! The controllers that make the Meetings API agree with `MeetingTheme` and
//! `MeetingRoom` manifests.
//!
//! Both kinds run through one [`pipeline`]: gates (paused, deleting,
//! rejected, backing off), credentials and client, application check,
//! locate (adopt, observe, recover a lost create, or create), converge (diff
//! and update), the kind's extras, report; [`outcome`] turns every pass into
//! conditions, events, the requeue, backoff and metrics. [`room`] and
//! [`theme`] implement [`kind::ManagedKind`].

pub mod context;
mod finish;
pub mod kind;
pub mod outcome;
mod pass;
pub mod pipeline;
pub mod room;
pub mod settings;
pub mod theme;
pub mod triggers;

#[cfg(test)]
mod tests;

pub use context::Services;
pub use finish::error_policy;
pub use outcome::Error;
pub use settings::{Settings, parse_duration};

/// Stable key of an object (`Kind/namespace/name`) for backoff bookkeeping.
pub fn object_key<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}
