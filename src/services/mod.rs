//! Services the controllers and the callback receiver share: Meetings API
//! clients per credentials Secret, shared listings of remote rooms, events,
//! per-object backoff, statuses written but not yet watched, the names of
//! watched Secrets, the rooms that use each theme, how a relist replaces
//! what a watch built, fixed-size digests of per-room keys, the Kubernetes
//! writes both kinds make, and the resync cycle both kinds follow.

pub mod backoff;
pub mod credentials;
pub mod events;
pub mod key_digest;
pub mod kube_ops;
pub mod name_index;
pub mod relisted;
pub mod resync_cycle;
pub mod snapshot;
pub mod status_cache;
pub mod theme_users;

pub use credentials::{CredentialStore, CredentialsProblem, SecretKey};
