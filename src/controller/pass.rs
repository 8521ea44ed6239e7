//! One pass of the pipeline over one object: what every phase and the
//! finish share.

use kube::Api;

use super::kind::ManagedKind;

/// The object a pass reconciles, its kind, its API and its uid.
pub(super) struct Pass<'a, K: ManagedKind> {
    /// The kind's controller state.
    pub kind: &'a K,
    /// The object as the watch last showed it.
    pub object: &'a K::Object,
    /// The object's namespaced API.
    pub api: Api<K::Object>,
    /// The object's uid, the key of its cached status.
    pub uid: String,
}
