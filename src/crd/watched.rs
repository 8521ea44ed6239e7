//! Objects as the watches decode them: without the managed fields.
//!
//! The API server sends every object with `metadata.managedFields`, one
//! entry per writer with a tree of the fields it owns. No reconciler reads
//! them, and decoding them into that tree was over a third of decoding a
//! room (each room arrives three times while it converges) and most of
//! decoding a host-URL Secret's metadata (one per room): here they are
//! skipped as the text is read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use kube::runtime::watcher;
use serde::{Deserialize, Deserializer};

use super::{MeetingRoom, MeetingRoomSpec, MeetingRoomStatus};

/// A `MeetingRoom` decoded without `metadata.managedFields`; the same
/// resource to the API server.
#[derive(Clone, Debug)]
pub struct WatchedRoom(pub MeetingRoom);

impl WatchedRoom {
    /// The room of each object of a watch event.
    pub fn unwrap_event(event: watcher::Event<WatchedRoom>) -> watcher::Event<MeetingRoom> {
        match event {
            watcher::Event::Apply(room) => watcher::Event::Apply(room.0),
            watcher::Event::Delete(room) => watcher::Event::Delete(room.0),
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitApply(room) => watcher::Event::InitApply(room.0),
            watcher::Event::InitDone => watcher::Event::InitDone,
        }
    }
}

impl Resource for WatchedRoom {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        MeetingRoom::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        MeetingRoom::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        MeetingRoom::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        MeetingRoom::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

impl<'de> Deserialize<'de> for WatchedRoom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: SlimMeta,
            spec: MeetingRoomSpec,
            #[serde(default)]
            status: Option<MeetingRoomStatus>,
        }

        let Wire {
            metadata,
            spec,
            status,
        } = Wire::deserialize(d)?;
        Ok(WatchedRoom(MeetingRoom {
            metadata: metadata.into(),
            spec,
            status,
        }))
    }
}

/// The metadata of a `K`, asked for and decoded without the rest of the
/// object (the API server's `PartialObjectMetadata`) and without
/// `metadata.managedFields`.
pub struct WatchedMeta<K> {
    /// The object's metadata, `managedFields` left out.
    pub metadata: ObjectMeta,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for WatchedMeta<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for WatchedMeta<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedMeta")
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<K: Resource> Resource for WatchedMeta<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn metadata_api() -> bool {
        true
    }

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<'de, K> Deserialize<'de> for WatchedMeta<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: SlimMeta,
        }

        let Wire { metadata } = Wire::deserialize(d)?;
        Ok(WatchedMeta {
            metadata: metadata.into(),
            kind: PhantomData,
        })
    }
}

/// `ObjectMeta` but `managedFields`, which is skipped unread.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SlimMeta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl From<SlimMeta> for ObjectMeta {
    fn from(meta: SlimMeta) -> Self {
        ObjectMeta {
            annotations: meta.annotations,
            creation_timestamp: meta.creation_timestamp,
            deletion_grace_period_seconds: meta.deletion_grace_period_seconds,
            deletion_timestamp: meta.deletion_timestamp,
            finalizers: meta.finalizers,
            generate_name: meta.generate_name,
            generation: meta.generation,
            labels: meta.labels,
            managed_fields: None,
            name: meta.name,
            namespace: meta.namespace,
            owner_references: meta.owner_references,
            resource_version: meta.resource_version,
            self_link: meta.self_link,
            uid: meta.uid,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_watched_room_is_the_room_without_its_managed_fields() {
        let text = json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {
                "name": "weekly", "namespace": "team", "uid": "u-1", "generation": 3,
                "resourceVersion": "42", "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"team": "a"}, "annotations": {"note": "n"},
                "finalizers": ["meetings.vonage.com/cleanup"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-o"}],
                "managedFields": [{
                    "manager": "kubectl", "operation": "Apply", "apiVersion": "meetings.vonage.com/v1alpha1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:displayName": {}}},
                }],
            },
            "spec": {"displayName": "Weekly", "type": "long_term", "expiresAt": "2027-01-01T00:00:00Z"},
            "status": {"roomId": "r-1", "meetingCode": "123", "observedGeneration": 3},
        })
        .to_string();
        let watched: WatchedRoom = serde_json::from_str(&text).unwrap();
        let mut room: MeetingRoom = serde_json::from_str(&text).unwrap();
        assert!(room.metadata.managed_fields.is_some());
        room.metadata.managed_fields = None;
        assert_eq!(
            serde_json::to_value(&watched.0).unwrap(),
            serde_json::to_value(&room).unwrap()
        );
        assert_eq!(
            WatchedRoom::url_path(&(), Some("team")),
            MeetingRoom::url_path(&(), Some("team"))
        );
    }

    #[test]
    fn watched_metadata_is_the_partial_metadata_without_its_managed_fields() {
        use k8s_openapi::api::core::v1::Secret;
        use kube::core::PartialObjectMeta;

        let text = json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {
                "name": "weekly-host-url", "namespace": "team", "uid": "u-2",
                "resourceVersion": "43", "labels": {"meetings.vonage.com/host-url": "true"},
                "ownerReferences": [{
                    "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
                    "name": "weekly", "uid": "u-1", "controller": true,
                }],
                "managedFields": [{
                    "manager": "meetings-operator", "operation": "Apply", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:hostUrl": {}}},
                }],
            },
        })
        .to_string();
        let watched: WatchedMeta<Secret> = serde_json::from_str(&text).unwrap();
        let mut partial: PartialObjectMeta<Secret> = serde_json::from_str(&text).unwrap();
        assert!(partial.metadata.managed_fields.is_some());
        partial.metadata.managed_fields = None;
        assert_eq!(watched.metadata, partial.metadata);
        assert!(WatchedMeta::<Secret>::metadata_api());
        assert_eq!(
            WatchedMeta::<Secret>::url_path(&(), Some("team")),
            Secret::url_path(&(), Some("team"))
        );
    }
}
