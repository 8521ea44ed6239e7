//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several
//! operator replicas exactly one runs the controllers.
//!
//! * A candidate ([`Elector`]) reads the Lease and writes itself as holder
//!   when the Lease is free, released, or its holder has not renewed it for
//!   `leaseDurationSeconds`. Every write is a replace carrying the
//!   `resourceVersion` that was read, so of two candidates racing for an
//!   expired lease exactly one succeeds; the other gets a conflict and
//!   follows.
//! * The leader ([`Leadership`]) renews every `renew_interval`. When it could
//!   not renew for `renew_deadline` (shorter than the lease duration), or it
//!   finds another holder, it declares the leadership lost
//!   ([`Leadership::lost`]) before anyone else may take over; the operator
//!   then stops its controllers at once and exits with an error, so that
//!   Kubernetes restarts it as a follower.
//! * On graceful shutdown the leader releases the Lease (no holder, a
//!   one-second duration) and a follower takes over at its next look.
//! * Expiry is judged on each candidate's own monotonic clock from when it
//!   saw the record change, never from the holder's `renewTime`, so clock
//!   skew between nodes does not matter.

mod config;
mod elector;
mod record;
mod store;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE, DEFAULT_RENEW_INTERVAL,
    DEFAULT_RETRY_PERIOD, LeaseConfig, default_identity,
};
pub use elector::{Elector, LeaderState, Leadership};
pub use store::{FIELD_MANAGER, KubeLeases, LeaseStore, StoreError};
