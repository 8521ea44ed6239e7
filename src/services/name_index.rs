//! Which objects of a kind exist, by namespace and name, kept from their
//! watch events: all a reconcile needs to know about a host-URL Secret.
//!
//! A reflector store would hold each object's whole metadata (owner
//! references, uid, resource version, timestamps: about 900 bytes per
//! Secret); this keeps a 16-byte digest of its namespace and name.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use kube::Resource;
use kube::runtime::watcher::Event;

use super::key_digest::key_digest;
use super::relisted::{Change, Relisted};

/// Names of the watched objects of one kind; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct NameIndex {
    names: Arc<RwLock<Relisted<HashSet<u128>>>>,
}

fn key(namespace: &str, name: &str) -> u128 {
    key_digest(&[namespace, name])
}

fn key_of<K: Resource>(object: &K) -> u128 {
    let meta = object.meta();
    key(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl NameIndex {
    /// Whether the watch has shown `namespace/name` (and not its deletion).
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current()
            .contains(&key(namespace, name))
    }

    /// Objects known.
    pub fn len(&self) -> usize {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current()
            .len()
    }

    /// Whether no object is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies one watch event, the way a reflector store does: a relist
    /// replaces the whole set once it is complete.
    pub fn apply<K: Resource>(&self, event: &Event<K>) {
        let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
        match names.relist(event, |names, object| {
            names.insert(key_of(object));
        }) {
            Some(Change::Apply(names, object)) => names.insert(key_of(object)),
            Some(Change::Delete(names, object)) => names.remove(&key_of(object)),
            None => false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::ObjectMeta;

    fn secret(namespace: &str, name: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test]
    fn applies_and_deletes_are_tracked_per_namespace() {
        let index = NameIndex::default();
        index.apply(&Event::Apply(secret("a", "s")));
        assert!(index.contains("a", "s"));
        assert!(!index.contains("b", "s"));
        index.apply(&Event::Delete(secret("a", "s")));
        assert!(!index.contains("a", "s"));
    }

    #[test]
    fn a_relist_replaces_the_set_only_when_complete() {
        let index = NameIndex::default();
        index.apply(&Event::Apply(secret("a", "gone")));
        index.apply(&Event::Apply(secret("a", "kept")));
        index.apply(&Event::<Secret>::Init);
        index.apply(&Event::InitApply(secret("a", "kept")));
        assert!(index.contains("a", "gone"), "the old set answers meanwhile");
        index.apply(&Event::<Secret>::InitDone);
        assert!(
            !index.contains("a", "gone"),
            "deleted while the watch was down"
        );
        assert!(index.contains("a", "kept"));
        assert_eq!(index.len(), 1);
    }
}
