//! `MeetingRoom` as the room watch decodes it: without the managed fields.
//!
//! The API server sends every object with `metadata.managedFields`, one
//! entry per writer with a tree of the fields it owns. No reconciler reads
//! them, and decoding them into that tree was over a third of decoding a
//! room (each room arrives three times while it converges): here they are
//! skipped as the text is read, and the rest decodes as `MeetingRoom`.

use std::borrow::Cow;
use std::collections::BTreeMap;

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
            metadata: Meta,
            spec: MeetingRoomSpec,
            #[serde(default)]
            status: Option<MeetingRoomStatus>,
        }

        /// `ObjectMeta` but `managedFields`, which is skipped unread.
        #[derive(Default, Deserialize)]
        #[serde(default, rename_all = "camelCase")]
        struct Meta {
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

        let Wire {
            metadata: meta,
            spec,
            status,
        } = Wire::deserialize(d)?;
        let metadata = ObjectMeta {
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
        };
        Ok(WatchedRoom(MeetingRoom {
            metadata,
            spec,
            status,
        }))
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
}
