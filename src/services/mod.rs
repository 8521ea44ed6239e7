//! Services the controllers and the callback receiver share: Meetings API
//! clients per credentials Secret, shared listings of remote rooms, events,
//! per-object backoff, statuses written but not yet watched, the names of
//! watched Secrets, fixed-size digests of per-room keys, the Kubernetes
//! writes both kinds make, the resync cycle both kinds follow, and the rooms
//! that use each theme.

pub mod backoff;
pub mod credentials;
pub mod events;
pub mod key_digest;
pub mod kube_ops;
pub mod name_index;
pub mod resync_cycle;
pub mod snapshot;
pub mod status_cache;
pub mod theme_users;

pub use credentials::{CredentialStore, CredentialsProblem, SecretKey};
